//! REST face: `X-API-Key` authentication (401), plan gating (403 with the seed's exact body),
//! workspace isolation (404 for another workspace's ids), and the `{error, message}` body of
//! every failure.

mod support;

use serde_json::{json, Value};
use support::*;

const NIL: &str = "00000000-0000-4000-8000-000000000000";

/// The exact 403 body of the seed.
const PLAN_403: &str = r#"{"error":"Forbidden","message":"Campaigns feature is not available in your current plan. Please upgrade to access this feature."}"#;

fn text_body(name: &str, channel: &str) -> Value {
    json!({"name": name, "message_type": "TEXT", "channel_id": channel,
           "content": {"type": "text", "text": {"body": "Oi {{nome}}"}}})
}

// ---------------------------------------------------------------- 401

#[tokio::test]
async fn every_endpoint_without_x_api_key_is_401_with_the_error_body() {
    let gw = Gateway::start().await;
    let anonymous = Rest::with_key(&gw, None);
    for (method, route) in keyed_routes() {
        let path = route.replace("{id}", NIL);
        let message = anonymous.fails(method, &path, Some(json!({})), 401).await;
        assert!(message.contains("X-API-Key"), "{method} {path}: {message}");
    }
}

#[tokio::test]
async fn every_endpoint_with_an_unknown_x_api_key_is_401() {
    let gw = Gateway::start().await;
    for key in ["wk_nope_000", "", "WK_TEST_123", "c2VjcmV0"] {
        let stranger = Rest::with_key(&gw, Some(key));
        for (method, route) in keyed_routes() {
            let path = route.replace("{id}", NIL);
            stranger.fails(method, &path, Some(json!({})), 401).await;
        }
    }
}

#[tokio::test]
async fn the_lime_authorization_header_does_not_authenticate_the_rest_face() {
    let gw = Gateway::start().await;
    let reply = http_request(
        gw.addr,
        "GET",
        "/api/v1/campaigns",
        &[("authorization", &key_header(BOT, SECRET))],
        bytes::Bytes::new(),
    )
    .await;
    error_message(&reply, 401, "GET /api/v1/campaigns with Authorization: Key");
}

#[tokio::test]
async fn a_401_changes_nothing() {
    let gw = Gateway::start().await;
    let anonymous = Rest::with_key(&gw, None);
    anonymous.fails("POST", "/campaigns", Some(text_body("sneaky", "channel_123")), 401).await;
    anonymous.fails("POST", "/contacts", Some(json!({"name": "x", "phone": "+5531998761234"})), 401).await;
    let rest = Rest::new(&gw);
    assert_eq!(rest.ok_get("/campaigns").await["pagination"]["total"], 0);
    assert_eq!(rest.ok_get("/contacts").await["pagination"]["total"], 0);
}

// ---------------------------------------------------------------- 403 (plan gating)

/// Campaigns of `freebot` made while its plan had the feature, then the gateway restarted on
/// the same store with the feature removed: `(gateway, draft, completed, running)`. Three
/// contacts at one send per minute keep `running` RUNNING through the test. On SQLite (the
/// default store), whose directory goes with the returned gateway.
async fn downgraded_workspace() -> ((StoreGateway, tempfile::TempDir), String, String, String) {
    let (store, dir) = sqlite_store().await;
    let paid = StoreGateway::start(config_with_free_features(r#"["campaigns"]"#), store.clone()).await;
    let rest = paid.rest(FREE_KEY);
    rest.contact(json!({"name": "Ana", "phone": "+5531998761234"})).await;
    rest.contact(json!({"name": "Bia", "phone": "+5531998765678"})).await;
    rest.contact(json!({"name": "Cid", "phone": "+5531998764321"})).await;
    let draft = rest.campaign(text_body("draft", "free_wa")).await;
    let completed = rest.campaign(text_body("completed", "free_wa")).await;
    rest.start(&completed).await;
    rest.until_status(&completed, "COMPLETED").await;
    let mut slow = text_body("running", "free_wa");
    slow["rate_limit_per_minute"] = json!(1);
    let running = rest.campaign(slow).await;
    rest.start(&running).await;
    rest.stats_until(&running, "first send", |s| s["pending"] == 2).await;
    paid.stop().await;
    let free = StoreGateway::start(config_with_tenants(), store).await;
    ((free, dir), draft, completed, running)
}

#[tokio::test]
async fn without_the_campaigns_feature_every_campaign_write_is_the_exact_403() {
    let ((gw, _data), draft, completed, running) = downgraded_workspace().await;
    let rest = gw.rest(FREE_KEY);
    let writes: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", "/campaigns".into(), Some(text_body("new one", "free_wa"))),
        ("PUT", format!("/campaigns/{draft}"), Some(json!({"name": "renamed"}))),
        ("DELETE", format!("/campaigns/{draft}"), None),
        ("DELETE", format!("/campaigns/{completed}"), None),
        ("POST", format!("/campaigns/{draft}/start"), None),
        ("POST", format!("/campaigns/{running}/pause"), None),
        ("POST", format!("/campaigns/{running}/resume"), None),
        ("POST", format!("/campaigns/{running}/cancel"), None),
        ("POST", format!("/campaigns/{draft}/cancel"), None),
        ("POST", format!("/campaigns/{completed}/clone"), None),
        ("POST", "/segments".into(), Some(json!({"name": "free"}))),
    ];
    for (method, path, body) in writes {
        let reply = rest.call(method, &path, body.as_ref()).await;
        assert_eq!(reply.status, 403, "{method} {path}: {}", String::from_utf8_lossy(&reply.body));
        assert_eq!(String::from_utf8_lossy(&reply.body), PLAN_403, "{method} {path}");
        assert!(reply.headers["content-type"].to_str().unwrap().starts_with("application/json"));
    }
    // Nothing changed.
    assert_eq!(rest.status(&draft).await, "DRAFT");
    assert_eq!(rest.ok_get(&format!("/campaigns/{draft}")).await["name"], "draft");
    assert_eq!(rest.status(&completed).await, "COMPLETED");
    assert_eq!(rest.status(&running).await, "RUNNING");
    assert_eq!(rest.ok_get("/campaigns").await["pagination"]["total"], 3);
    assert_eq!(rest.ok_get("/segments").await["pagination"]["total"], 0);
    gw.stop().await;
}

#[tokio::test]
async fn without_the_campaigns_feature_reads_still_work() {
    let ((gw, _data), draft, completed, running) = downgraded_workspace().await;
    let rest = gw.rest(FREE_KEY);
    let list = rest.ok_get("/campaigns").await;
    assert_eq!(list["pagination"]["total"], 3, "{list}");
    assert_eq!(rest.ok_get("/campaigns?status=COMPLETED").await["data"][0]["id"], json!(completed));
    for id in [&draft, &completed, &running] {
        assert_eq!(rest.ok_get(&format!("/campaigns/{id}")).await["id"], json!(id));
        rest.stats(id).await;
        rest.ok_get(&format!("/campaigns/{id}/messages")).await;
    }
    let stats = rest.stats(&completed).await;
    assert_eq!((stats["total_contacts"].clone(), stats["pending"].clone()), (json!(3), json!(0)), "{stats}");
    assert_eq!(rest.messages(&completed, None).await.len(), 3);
    assert_eq!(rest.ok_get("/campaigns/channels").await[0]["id"], "free_wa");
    assert_eq!(rest.ok_get("/campaigns/templates?channel_id=free_wa").await[0]["id"], "free_template");
    rest.ok_get("/campaigns/tags").await;
    rest.ok_get("/campaigns/custom-fields").await;
    assert_eq!(rest.preview_total(json!({})).await, 3);
    assert_eq!(rest.ok_get("/contacts").await["pagination"]["total"], 3);
    gw.stop().await;
}

#[tokio::test]
async fn without_the_campaigns_feature_contacts_and_resources_can_still_be_managed() {
    // Plan gating covers endpoints that create, change or run a campaign only.
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::with_key(&gw, Some(FREE_KEY));
    let id = rest.contact(json!({"name": "Ana", "phone": "+5531998761234"})).await;
    rest.expect("PUT", &format!("/contacts/{id}"), Some(json!({"name": "Ana Maria"})), 200).await;
    rest.tag("tag_free").await;
    rest.custom_field("city", "TEXT").await;
    rest.expect("DELETE", &format!("/contacts/{id}"), None, 204).await;
}

#[tokio::test]
async fn the_same_workspace_with_the_feature_is_not_refused() {
    let gw = Gateway::start_with(config_with_free_features(r#"["campaigns"]"#)).await;
    let rest = Rest::with_key(&gw, Some(FREE_KEY));
    rest.campaign(text_body("allowed", "free_wa")).await;
}

// ---------------------------------------------------------------- 404 (isolation)

#[tokio::test]
async fn another_workspaces_campaign_ids_are_404_on_every_campaign_endpoint() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let mine = Rest::new(&gw);
    mine.contact(json!({"name": "Ana", "phone": "+5531998761234"})).await;
    let draft = mine.campaign(text_body("mine", "channel_123")).await;
    let done = mine.campaign(text_body("mine too", "channel_123")).await;
    mine.start(&done).await;
    mine.until_status(&done, "COMPLETED").await;

    let other = Rest::with_key(&gw, Some(OTHER_KEY));
    for id in [&draft, &done] {
        for (method, route) in keyed_routes().filter(|(_, r)| r.starts_with("/campaigns/{id}")) {
            let path = route.replace("{id}", id);
            let body = body_for(method, route, json!({"name": "stolen"}));
            let message = other.fails(method, &path, body, 404).await;
            assert!(message.contains(id.as_str()), "{method} {path}: {message}");
        }
    }
    assert_eq!(other.ok_get("/campaigns").await["pagination"]["total"], 0);
    // Untouched for its owner.
    let c = mine.ok_get(&format!("/campaigns/{draft}")).await;
    assert_eq!((c["status"].as_str(), c["name"].as_str()), (Some("DRAFT"), Some("mine")));
    assert_eq!(mine.status(&done).await, "COMPLETED");
}

#[tokio::test]
async fn another_workspaces_contact_ids_are_404() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let mine = Rest::new(&gw);
    let id = mine.contact(json!({"name": "Ana", "phone": "+5531998761234"})).await;
    let other = Rest::with_key(&gw, Some(OTHER_KEY));
    other.fails("GET", &format!("/contacts/{id}"), None, 404).await;
    other.fails("PUT", &format!("/contacts/{id}"), Some(json!({"name": "stolen"})), 404).await;
    other.fails("DELETE", &format!("/contacts/{id}"), None, 404).await;
    assert_eq!(other.ok_get("/contacts").await["pagination"]["total"], 0);
    assert_eq!(other.preview_total(json!({})).await, 0);
    assert_eq!(mine.ok_get(&format!("/contacts/{id}")).await["name"], "Ana");
    // The same phone is free in another workspace.
    other.contact(json!({"name": "Outra Ana", "phone": "+5531998761234"})).await;
}

#[tokio::test]
async fn another_workspaces_channels_and_templates_cannot_be_used() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let other = Rest::with_key(&gw, Some(OTHER_KEY));
    let channels: Vec<Value> = other.ok_get("/campaigns/channels").await.as_array().unwrap().clone();
    assert_eq!(channels.iter().map(|c| c["id"].clone()).collect::<Vec<_>>(), vec![json!("other_wa")]);
    assert_eq!(other.ok_get("/campaigns/templates").await, json!([]));
    let m = other.fails("POST", "/campaigns", Some(text_body("x", "channel_123")), 400).await;
    assert!(m.contains("channel_id"), "{m}");
    let m = other
        .fails(
            "POST",
            "/campaigns",
            Some(json!({"name": "x", "message_type": "TEMPLATE", "channel_id": "other_wa",
                        "template_id": "template_123",
                        "metadata": {"template_variable_mapping": {"{{1}}": "nome"}}})),
            400,
        )
        .await;
    assert!(m.contains("template_id"), "{m}");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404_with_the_error_body() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    for id in [NIL, "not-a-uuid", "123"] {
        for (method, route) in keyed_routes().filter(|(_, r)| r.contains("{id}")) {
            let path = route.replace("{id}", id);
            let body = body_for(method, route, json!({"name": "x"}));
            rest.fails(method, &path, body, 404).await;
        }
    }
}

// ---------------------------------------------------------------- error bodies

#[tokio::test]
async fn unknown_paths_and_methods_answer_json_errors() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.fails("GET", "/nothing-here", None, 404).await;
    rest.fails("PATCH", "/campaigns", Some(json!({})), 405).await;
    rest.fails("DELETE", "/campaigns/tags", None, 405).await;
    rest.fails("GET", "/campaigns/preview", None, 405).await;
}

#[tokio::test]
async fn every_400_names_the_field_at_fault() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.contact(json!({"name": "Ana", "phone": "+5531998761234"})).await;
    let draft = rest.text_campaign("d", "Oi", 300, Value::Null).await;
    let text = |extra: Value| {
        let mut b = text_body("x", "channel_123");
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("POST", "/campaigns".into(), Some(json!({"channel_id": "channel_123"})), "name"),
        ("POST", "/campaigns".into(), Some(text(json!({"channel_id": "nope"}))), "channel_id"),
        ("POST", "/campaigns".into(), Some(text(json!({"rate_limit_per_minute": 301}))), "rate_limit_per_minute"),
        ("POST", "/campaigns".into(), Some(text(json!({"rate_limit_per_minute": "fast"}))), "rate_limit_per_minute"),
        ("POST", "/campaigns".into(), Some(text(json!({"scheduled_at": "2001-01-01T00:00:00Z"}))), "scheduled_at"),
        ("POST", "/campaigns".into(), Some(text(json!({"scheduled_at": "tomorrow"}))), "scheduled_at"),
        ("POST", "/campaigns".into(), Some(text(json!({"colour": "blue"}))), "colour"),
        ("POST", "/campaigns".into(), Some(text(json!({"message_type": "VIDEO"}))), "message_type"),
        ("PUT", format!("/campaigns/{draft}"), Some(json!({"name": "  "})), "name"),
        ("PUT", format!("/campaigns/{draft}"), Some(json!({"rate_limit_per_minute": 0})), "rate_limit_per_minute"),
        ("POST", format!("/campaigns/{draft}/start"), Some(json!({"scheduled_at": "yesterday"})), "scheduled_at"),
        ("GET", "/campaigns?limit=101".into(), None, "limit"),
        ("GET", "/campaigns?page=0".into(), None, "page"),
        ("GET", "/campaigns?status=DONE".into(), None, "status"),
        ("GET", format!("/campaigns/{draft}/messages?status=LOST"), None, "status"),
        ("GET", "/contacts?limit=1000".into(), None, "limit"),
        ("POST", "/contacts".into(), Some(json!({"name": "x", "phone": "abc"})), "phone"),
        ("POST", "/contacts".into(), Some(json!({"name": "x", "email": "not-an-email"})), "email"),
        ("POST", "/contacts".into(), Some(json!({"name": "x", "tags": ["tag_ghost"]})), "tags"),
        ("POST", "/contacts".into(), Some(json!({"name": "x", "custom_fields": {"planet": "Mars"}})), "planet"),
        ("POST", "/contacts".into(), Some(json!({"name": "x", "last_interaction_at": "ontem"})), "last_interaction_at"),
        ("POST", "/campaigns/tags".into(), Some(json!({"color": "red"})), "name"),
        ("POST", "/campaigns/custom-fields".into(), Some(json!({"key": "k", "name": "K", "type": "COLOR"})), "type"),
        ("POST", "/campaigns/channels".into(), Some(json!({"name": "c", "type": "telegram"})), "type"),
        (
            "POST",
            "/campaigns/templates".into(),
            Some(json!({"name": "t", "channel_id": "nope", "body": "x"})),
            "channel_id",
        ),
        ("POST", "/campaigns/preview".into(), Some(json!({"filters": {"tags": ["x"]}})), "tags"),
    ];
    for (method, path, body, field) in cases {
        let message = rest.fails(method, &path, body.clone(), 400).await;
        assert!(message.contains(field), "{method} {path} {body:?}: message does not name {field}: {message}");
    }
    // Malformed JSON.
    let reply = rest.raw("POST", "/campaigns", "application/json", "{\"name\": ").await;
    error_message(&reply, 400, "truncated JSON");
}

#[tokio::test]
async fn an_oversized_body_is_413_with_the_error_body() {
    let mut config = irisgate::Config::development();
    config.limits.max_envelope_bytes = 2048;
    let gw = Gateway::start_with(config).await;
    let rest = Rest::new(&gw);
    let big = "x".repeat(4096);
    let message = rest.fails("POST", "/campaigns", Some(json!({"name": big})), 413).await;
    assert!(message.contains("2048"), "{message}");
    let csv = format!("name,phone\n{big},+5531998761234\n");
    let reply = rest.raw("POST", "/contacts/import", "text/csv", csv).await;
    error_message(&reply, 413, "import over the limit");
    // The gateway keeps serving.
    rest.ok_get("/campaigns").await;
}

/// A valid body for the routes that need one, so that only the id decides the answer.
fn body_for(method: &str, route: &str, put: Value) -> Option<Value> {
    match (method, route) {
        ("PUT", _) => Some(put),
        ("POST", "/campaigns/{id}/retry") => Some(json!({"scope": "failed"})),
        _ => None,
    }
}
