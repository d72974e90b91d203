//! `POST /api/v1/campaigns/{id}/clone` (campaign-features.md, "Clone") over real sockets on
//! SQLite: a DRAFT copy with the original's fields, the default `(cópia)` name, no schedule,
//! that starts and sends; a LIME campaign's explicit audience copied as PENDING recipients with
//! new message ids and the original's history untouched; 404 for unknown and foreign ids.

mod support;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use support::rest::*;
use support::*;

/// What a copy must share with its original: everything but identity, status, schedule, counts
/// and timestamps.
fn shared(view: &Value) -> Value {
    let mut v = view.clone();
    for k in ["id", "name", "status", "scheduled_at", "total_contacts", "created_at", "started_at", "completed_at"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

async fn clone(rest: &Rest, id: &str, body: Value) -> Value {
    rest.created(&format!("/campaigns/{id}/clone"), body).await
}

/// Message rows by phone.
async fn rows(rest: &Rest, id: &str) -> BTreeMap<String, Value> {
    rest.messages(id, None).await.into_iter().map(|r| (r["phone"].as_str().unwrap().to_owned(), r)).collect()
}

#[tokio::test]
async fn a_rest_campaign_is_cloned_as_an_equal_unscheduled_draft_that_starts_and_sends() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    rest.tag("vip").await;
    let (a, b) = ("+5531998764441", "+5531998764442");
    rest.contact(json!({"name": "Ana", "phone": a, "tags": ["vip"]})).await;
    rest.contact(json!({"name": "Bia", "phone": b, "tags": ["vip"]})).await;
    rest.contact(json!({"name": "Caio", "phone": "+5531998764443"})).await;
    let original = rest
        .campaign(json!({
            "name": "Black Friday", "description": "a descrição", "message_type": "TEXT", "channel_id": "channel_123",
            "content": {"type": "text", "text": {"body": "Olá {{nome}}!"}}, "filters": {"tag_ids": ["vip"]},
            "metadata": {"origem": "teste"}, "rate_limit_per_minute": 120, "scheduled_at": iso_in(3_600_000),
            "allow_open_conversation": true,
        }))
        .await;
    let scheduled = rest.start(&original).await;
    assert_eq!(scheduled["status"], "SCHEDULED", "{scheduled}");

    let copy = clone(&rest, &original, json!({})).await;
    assert_eq!(copy["name"], "Black Friday (cópia)");
    assert_eq!((copy["status"].as_str(), &copy["scheduled_at"]), (Some("DRAFT"), &Value::Null), "{copy}");
    assert_eq!((copy["total_contacts"].as_u64(), &copy["started_at"]), (Some(0), &Value::Null), "{copy}");
    assert_ne!(copy["id"], scheduled["id"]);
    assert_eq!(shared(&copy), shared(&scheduled), "the same content, channel, filters, metadata and rate");
    let id = copy["id"].as_str().unwrap().to_owned();
    assert_eq!(rest.ok_get(&format!("/campaigns/{id}")).await, copy, "stored as answered");

    // Not scheduled: it starts at once and sends to the filters' contacts.
    let started = rest.start(&id).await;
    assert_eq!((started["status"].as_str(), started["total_contacts"].as_u64()), (Some("RUNNING"), Some(2)));
    rest.stats_until(&id, "COMPLETED", |s| s["status"] == "COMPLETED" && s["pending"] == 0).await;
    let sent = rows(&rest, &id).await;
    assert_eq!(sent.keys().cloned().collect::<Vec<_>>(), [a, b]);
    assert_eq!(sent[a]["content"], "Olá Ana!");
    assert_eq!(rest.status(&original).await, "SCHEDULED", "the original is untouched");

    // A name of its own; an empty one is refused like at create.
    assert_eq!(clone(&rest, &original, json!({"name": "  Outra  "})).await["name"], "Outra");
    let m = rest.fails("POST", &format!("/campaigns/{original}/clone"), Some(json!({"name": " "})), 400).await;
    assert!(m.contains("name"), "{m}");

    // TEMPLATE with its variable mapping; a copy of a copy.
    let mapping = json!({"{{1}}": "nome"});
    let template = rest
        .campaign(json!({"name": "tpl", "message_type": "TEMPLATE", "channel_id": "channel_123",
                          "template_id": "template_123", "metadata": {"template_variable_mapping": mapping}}))
        .await;
    let first = clone(&rest, &template, Value::Null).await;
    let second = clone(&rest, first["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(second["name"], "tpl (cópia) (cópia)");
    assert_eq!(
        (second["template_id"].as_str(), &second["metadata"]["template_variable_mapping"]),
        (Some("template_123"), &mapping)
    );

    // Unknown, malformed and another workspace's ids are 404; a plan without campaigns is 403.
    rest.fails("POST", &format!("/campaigns/{}/clone", uuid::Uuid::new_v4()), None, 404).await;
    rest.fails("POST", "/campaigns/nope/clone", None, 404).await;
    Rest::with_key(&gw, Some(OTHER_KEY)).fails("POST", &format!("/campaigns/{original}/clone"), None, 404).await;
    Rest::with_key(&gw, Some(FREE_KEY)).fails("POST", &format!("/campaigns/{original}/clone"), None, 403).await;
    rest.expect("POST", &format!("/campaigns/{original}/cancel"), None, 200).await;
    gw.stop().await;
}

#[tokio::test]
async fn a_lime_campaign_is_cloned_with_its_recipients_pending_under_new_message_ids() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let people = ["+5531998765551", "+5531998765552", "+5531998760001"];
    let command = json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
                         "uri": "/campaign/full", "type": FULL, "resource": batch("lime original", &people)});
    let reply = gw.command(command).await.json();
    assert_eq!(reply["status"], "success", "{reply}");
    let original = reply["resource"]["id"].as_str().unwrap().to_owned();
    let done = |s: &Value| s["status"] == "COMPLETED" && s["pending"] == 0 && s["read"] == 2 && s["failed"] == 1;
    rest.stats_until(&original, "the original settled", done).await;
    let before = rows(&rest, &original).await;
    let before_view = rest.ok_get(&format!("/campaigns/{original}")).await;

    let copy = clone(&rest, &original, json!({})).await;
    assert_eq!((copy["name"].as_str(), copy["status"].as_str()), (Some("lime original (cópia)"), Some("DRAFT")));
    assert_eq!((copy["origin"].as_str(), copy["total_contacts"].as_u64()), (Some("lime"), Some(3)), "{copy}");
    assert_eq!(shared(&copy), shared(&before_view), "same template and channel");
    let cid = copy["id"].as_str().unwrap().to_owned();
    let copied = rows(&rest, &cid).await;
    assert_eq!(copied.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "the same recipients");
    for (phone, row) in &copied {
        assert_eq!((row["status"].as_str(), &row["error_code"]), (Some("PENDING"), &Value::Null), "{row}");
        assert_ne!(row["id"], before[phone]["id"], "a new message id");
    }
    let stats = rest.stats(&cid).await;
    assert_eq!((stats["pending"].as_u64(), stats["sent"].as_u64()), (Some(3), Some(0)), "{stats}");

    // LIME sees it as its own draft, with the template and parameters of the original.
    let lime = gw
        .command(json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "get",
                        "uri": format!("/campaigns/{cid}")}))
        .await
        .json();
    assert_eq!(lime["status"], "success", "{lime}");

    // It starts (REST face) and sends with the copied parameters; the original keeps its history.
    rest.start(&cid).await;
    rest.stats_until(&cid, "the copy settled", done).await;
    let after = rows(&rest, &cid).await;
    assert_eq!(after["+5531998765551"]["status"], "READ");
    assert_eq!(after["+5531998760001"]["error_code"], 1002);
    assert_eq!(rows(&rest, &original).await, before, "the original's rows are untouched");
    assert_eq!(rest.stats(&original).await["total_contacts"], 3);
    gw.stop().await;
}
