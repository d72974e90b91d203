//! Saved segments (campaign-features.md, "Saved segments") over real sockets on SQLite: CRUD
//! per workspace with `contact_count` computed on read, unique names, the campaign preview's
//! body, a campaign that names a segment taking its filters as they are when it starts, the
//! 409 for deleting a segment a DRAFT uses, and segments surviving a restart.

mod support;

use std::collections::BTreeSet;

use serde_json::{json, Value};
use support::rest::*;
use support::*;

async fn segment(rest: &Rest, name: &str, filters: Value) -> Value {
    rest.created("/segments", json!({"name": name, "filters": filters})).await
}

fn sid(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id: {v}")).to_owned()
}

/// The phones of a campaign's messages.
async fn phones(rest: &Rest, id: &str) -> BTreeSet<String> {
    rest.messages(id, None).await.iter().map(|m| m["phone"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn segments_are_kept_per_workspace_counted_on_read_and_named_uniquely() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    rest.custom_field("city", "TEXT").await;
    rest.contact(json!({"name": "Ana", "phone": "+5531998761111", "custom_fields": {"city": "SP"}})).await;
    rest.contact(json!({"name": "Bia", "phone": "+5531998761112", "custom_fields": {"city": "sp"}})).await;
    rest.contact(json!({"name": "Caio", "phone": "+5531998761113", "custom_fields": {"city": "Rio"}})).await;
    rest.contact(json!({"name": "Davi", "email": "d@x.com", "custom_fields": {"city": "SP"}})).await;
    let sp = json!({"custom_fields": {"city": "SP"}});

    let made = segment(&rest, "  Clientes SP ", sp.clone()).await;
    assert_eq!((made["name"].as_str(), made["contact_count"].as_u64()), (Some("Clientes SP"), Some(2)), "{made}");
    assert_eq!(made["filters"], sp);
    let id = sid(&made);
    let list = rest.ok_get("/segments").await;
    assert_eq!(list["pagination"]["total"], 1, "{list}");
    assert_eq!(
        (list["data"][0]["id"].as_str(), list["data"][0]["contact_count"].as_u64()),
        (Some(id.as_str()), Some(2))
    );

    // Counted when read: a new matching contact shows at once.
    rest.contact(json!({"name": "Eva", "phone": "+5531998761114", "custom_fields": {"city": "SP"}})).await;
    assert_eq!(rest.ok_get(&format!("/segments/{id}")).await["contact_count"], 3);
    assert_eq!(rest.ok_get("/segments").await["data"][0]["contact_count"], 3);

    // Names: unique in the workspace whatever the case, present, bounded.
    let m = rest.fails("POST", "/segments", Some(json!({"name": "clientes sp"})), 409).await;
    assert!(m.contains("clientes sp"), "{m}");
    let m = rest.fails("POST", "/segments", Some(json!({"name": "   ", "filters": {}})), 400).await;
    assert!(m.contains("name"), "{m}");
    let long = "x".repeat(201);
    let m = rest.fails("POST", "/segments", Some(json!({"name": long})), 400).await;
    assert!(m.contains("segments.max_name_chars"), "{m}");
    assert_eq!(rest.ok_get("/segments").await["pagination"]["total"], 1, "nothing refused was saved");

    // Bad filters are the campaign preview's 400s, word for word.
    for bad in [
        json!({"custom_fields": {"planet": "Mars"}}),
        json!({"field_filters": [{"field": "city", "operator": "contains", "is_custom_field": true}]}),
    ] {
        let ours = rest.fails("POST", "/segments", Some(json!({"name": "bad", "filters": bad})), 400).await;
        let theirs = rest.fails("POST", "/campaigns/preview", Some(json!({"filters": bad})), 400).await;
        assert_eq!(ours, theirs);
    }
    let m = rest.fails("POST", "/segments", Some(json!({"name": "bad", "filters": {"tag_ids": 3}})), 400).await;
    assert!(m.contains("filters"), "{m}");

    // Preview: the body of the campaign preview for the same filters (suppressions included).
    rest.created("/suppressions", json!({"phone": "+5531998761112"})).await;
    let ours =
        rest.expect("POST", &format!("/segments/{id}/preview"), Some(json!({"includeDetails": true})), 200).await;
    let theirs =
        rest.expect("POST", "/campaigns/preview", Some(json!({"filters": sp, "includeDetails": true})), 200).await;
    assert_eq!(ours, theirs);
    assert_eq!((ours["total"].as_u64(), ours["suppressed"].as_u64()), (Some(3), Some(1)), "{ours}");
    assert_eq!(ours["contacts"].as_array().map(Vec::len), Some(3));
    let bare = rest.expect("POST", &format!("/segments/{id}/preview"), None, 200).await;
    assert_eq!((bare["total"].as_u64(), bare.get("contacts")), (Some(3), None), "{bare}");
    let m = rest.fails("POST", &format!("/segments/{id}/preview"), Some(json!({"channel_id": "nope"})), 400).await;
    assert!(m.contains("nope"), "{m}");

    // Update: the fields given; a name another segment has is refused.
    let other = sid(&segment(&rest, "Rio", json!({"custom_fields": {"city": "Rio"}})).await);
    let m = rest.fails("PUT", &format!("/segments/{other}"), Some(json!({"name": "CLIENTES SP"})), 409).await;
    assert!(m.contains("CLIENTES SP"), "{m}");
    let renamed = rest.expect("PUT", &format!("/segments/{other}"), Some(json!({"name": "Cariocas"})), 200).await;
    assert_eq!((renamed["name"].as_str(), renamed["contact_count"].as_u64()), (Some("Cariocas"), Some(1)));
    let widened = rest
        .expect(
            "PUT",
            &format!("/segments/{other}"),
            Some(json!({"filters": {"field_filters": [
            {"field": "name", "operator": "is_not_empty"}]}})),
            200,
        )
        .await;
    assert_eq!((widened["name"].as_str(), widened["contact_count"].as_u64()), (Some("Cariocas"), Some(4)));
    let page = rest.ok_get("/segments?limit=1&page=2").await;
    assert_eq!(
        (page["data"][0]["id"].as_str(), page["pagination"]["total_pages"].as_u64()),
        (Some(other.as_str()), Some(2))
    );

    // Another workspace sees none of it.
    let stranger = Rest::with_key(&gw, Some(OTHER_KEY));
    assert_eq!(stranger.ok_get("/segments").await["pagination"]["total"], 0);
    for (method, path, body) in [
        ("GET", format!("/segments/{id}"), None),
        ("PUT", format!("/segments/{id}"), Some(json!({"name": "mine"}))),
        ("DELETE", format!("/segments/{id}"), None),
        ("POST", format!("/segments/{id}/preview"), None),
    ] {
        stranger.fails(method, &path, body, 404).await;
    }
    // The other workspace may use the same name: names are per workspace.
    stranger.created("/segments", json!({"name": "Clientes SP"})).await;
    assert_eq!(rest.ok_get(&format!("/segments/{id}")).await["name"], "Clientes SP");

    rest.expect("DELETE", &format!("/segments/{id}"), None, 204).await;
    rest.fails("GET", &format!("/segments/{id}"), None, 404).await;
    rest.fails("DELETE", &format!("/segments/{id}"), None, 404).await;
    rest.fails("GET", "/segments/not-an-id", None, 404).await;
    assert_eq!(rest.ok_get("/segments").await["pagination"]["total"], 1);
    gw.stop().await;
}

#[tokio::test]
async fn a_campaign_takes_its_segments_filters_as_they_are_when_it_starts() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.tag("vip").await;
    rest.tag("novo").await;
    let (a, b, c, d) = ("+5531998762221", "+5531998762222", "+5531998762223", "+5531998762224");
    rest.contact(json!({"name": "A", "phone": a, "tags": ["vip"]})).await;
    rest.contact(json!({"name": "B", "phone": b, "tags": ["vip"]})).await;
    rest.contact(json!({"name": "C", "phone": c, "tags": ["novo"]})).await;
    let seg = sid(&segment(&rest, "VIPs", json!({"tag_ids": ["vip"]})).await);

    let body = |extra: Value| {
        let mut b = json!({"name": "por segmento", "message_type": "TEXT", "channel_id": "channel_123",
                           "content": {"type": "text", "text": {"body": "Olá {{nome}}"}}});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let m = rest
        .fails("POST", "/campaigns", Some(body(json!({"segment_id": seg, "filters": {"tag_ids": ["vip"]}}))), 400)
        .await;
    assert!(m.contains("segment_id") && m.contains("filters"), "{m}");
    let unknown = uuid::Uuid::new_v4().to_string();
    let m = rest.fails("POST", "/campaigns", Some(body(json!({"segment_id": unknown}))), 400).await;
    assert!(m.contains(&unknown), "{m}");
    rest.fails("POST", "/campaigns", Some(body(json!({"segment_id": "garbage"}))), 400).await;

    let campaign = rest.campaign(body(json!({"segment_id": seg}))).await;
    let view = rest.ok_get(&format!("/campaigns/{campaign}")).await;
    assert_eq!((view["segment_id"].as_str(), &view["filters"]), (Some(seg.as_str()), &Value::Null), "{view}");

    // The segment changes after the campaign was created: the start takes it as it is then.
    rest.expect("PUT", &format!("/segments/{seg}"), Some(json!({"filters": {"tag_ids": ["novo"]}})), 200).await;
    rest.contact(json!({"name": "D", "phone": d, "tags": ["novo"]})).await;

    let m = rest.fails("DELETE", &format!("/segments/{seg}"), None, 409).await;
    assert!(m.contains(&campaign) && m.contains("por segmento"), "the DRAFT using it is named: {m}");

    let started = rest.start(&campaign).await;
    assert_eq!(started["total_contacts"], 2, "{started}");
    rest.stats_until(&campaign, "COMPLETED", |s| s["status"] == "COMPLETED" && s["pending"] == 0).await;
    assert_eq!(phones(&rest, &campaign).await, BTreeSet::from([c.to_owned(), d.to_owned()]));
    let sent = rest.messages(&campaign, None).await;
    assert!(sent.iter().any(|m| m["content"] == "Olá D"), "{sent:?}");

    // Frozen: a later change of the segment does not touch the started campaign, and the
    // segment may go now that no DRAFT uses it.
    rest.expect("PUT", &format!("/segments/{seg}"), Some(json!({"filters": {}})), 200).await;
    rest.expect("DELETE", &format!("/segments/{seg}"), None, 204).await;
    assert_eq!(rest.stats(&campaign).await["total_contacts"], 2);
    assert_eq!(rest.ok_get(&format!("/campaigns/{campaign}")).await["segment_id"], json!(seg));

    // Switching a DRAFT from a segment to filters (and back) through PUT.
    let seg2 = sid(&segment(&rest, "todos", json!({})).await);
    let draft = rest.campaign(body(json!({"segment_id": seg2}))).await;
    let changed =
        rest.expect("PUT", &format!("/campaigns/{draft}"), Some(json!({"filters": {"tag_ids": ["vip"]}})), 200).await;
    assert_eq!((&changed["segment_id"], &changed["filters"]["tag_ids"]), (&Value::Null, &json!(["vip"])), "{changed}");
    rest.expect("DELETE", &format!("/segments/{seg2}"), None, 204).await;
    gw.stop().await;
}

#[tokio::test]
async fn segments_survive_a_restart() {
    let (store, _dir) = sqlite_store().await;
    let gw = StoreGateway::start(irisgate::Config::development(), store.clone()).await;
    let rest = gw.rest(API_KEY);
    rest.tag("vip").await;
    rest.contact(json!({"name": "A", "phone": "+5531998763331", "tags": ["vip"]})).await;
    let made = segment(&rest, "Duráveis", json!({"tag_ids": ["vip"]})).await;
    gw.stop().await;

    let gw = StoreGateway::start(irisgate::Config::development(), store).await;
    let rest = gw.rest(API_KEY);
    let again = rest.ok_get(&format!("/segments/{}", sid(&made))).await;
    for field in ["id", "name", "filters", "contact_count", "created_at", "updated_at"] {
        assert_eq!(again[field], made[field], "{field}: {again} vs {made}");
    }
    rest.fails("POST", "/segments", Some(json!({"name": "duráveis"})), 409).await;
    assert_eq!(rest.ok_get("/segments").await["pagination"]["total"], 1);
    gw.stop().await;
}
