//! Idempotent creation (campaign-features.md): REST `Idempotency-Key` replays the first
//! response (same status and body, `Idempotent-Replayed: true`), refuses the key with another
//! body (422) or over 255 characters (400), is per workspace and survives a restart; a LIME
//! `set` repeated with its id over `POST /commands` or WebSocket creates one campaign.

mod support;

use bytes::Bytes;
use serde_json::{json, Value};
use support::rest::*;
use support::*;

/// `method path` with `Idempotency-Key: key` as the workspace of `api_key`.
async fn keyed(
    addr: std::net::SocketAddr,
    api_key: &str,
    key: &str,
    method: &str,
    path: &str,
    body: &Value,
) -> HttpReply {
    let headers = [("content-type", "application/json"), ("x-api-key", api_key), ("idempotency-key", key)];
    http_request(addr, method, &format!("/api/v1{path}"), &headers, Bytes::from(body.to_string())).await
}

fn replayed(reply: &HttpReply) -> bool {
    reply.headers.get("idempotent-replayed").is_some_and(|v| v == "true")
}

fn draft(name: &str) -> Value {
    draft_on(name, "channel_123")
}

fn draft_on(name: &str, channel: &str) -> Value {
    json!({"name": name, "message_type": "TEXT", "channel_id": channel,
           "content": {"type": "text", "text": {"body": "Oi"}}})
}

async fn campaign_total(rest: &Rest) -> u64 {
    rest.ok_get("/campaigns").await["pagination"]["total"].as_u64().unwrap()
}

#[tokio::test]
async fn a_repeated_key_replays_the_first_response_and_another_body_is_refused() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    let first = keyed(gw.addr, API_KEY, "create-1", "POST", "/campaigns", &draft("Black Friday")).await;
    assert_eq!(first.status, 201, "{}", String::from_utf8_lossy(&first.body));
    assert!(!replayed(&first));
    let again = keyed(gw.addr, API_KEY, "create-1", "POST", "/campaigns", &draft("Black Friday")).await;
    assert_eq!((again.status, again.body.clone()), (201, first.body.clone()), "the same status and body");
    assert!(replayed(&again), "{:?}", again.headers);
    assert_eq!(again.headers.get("content-type").unwrap(), "application/json");
    assert_eq!(campaign_total(&rest).await, 1, "created once");

    // The same key with another body: 422, nothing created.
    let other = keyed(gw.addr, API_KEY, "create-1", "POST", "/campaigns", &draft("Natal")).await;
    let message = error_message(&other, 422, "key reused");
    assert!(message.contains("Idempotency-Key"), "{message}");
    assert_eq!(campaign_total(&rest).await, 1);

    // Per workspace: another workspace's same key (with a body of its own, on its channel) is
    // a request of its own, not a 422.
    let theirs =
        keyed(gw.addr, OTHER_KEY, "create-1", "POST", "/campaigns", &draft_on("Black Friday", "other_wa")).await;
    assert_eq!(theirs.status, 201, "{}", String::from_utf8_lossy(&theirs.body));
    assert!(!replayed(&theirs));
    assert_ne!(theirs.json()["id"], first.json()["id"]);
    assert_eq!(campaign_total(&rest).await, 1, "the development workspace still has one");

    // Without the header nothing changes: two requests, two campaigns.
    rest.created("/campaigns", draft("Black Friday")).await;
    assert_eq!(campaign_total(&rest).await, 2);
    gw.stop().await;
}

#[tokio::test]
async fn a_key_is_at_most_255_characters() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let long = "k".repeat(256);
    let reply = keyed(gw.addr, API_KEY, &long, "POST", "/campaigns", &draft("x")).await;
    let message = error_message(&reply, 400, "key too long");
    assert!(message.contains("Idempotency-Key") && message.contains("255"), "{message}");
    assert_eq!(campaign_total(&rest).await, 0);
    let longest = "k".repeat(255);
    assert_eq!(keyed(gw.addr, API_KEY, &longest, "POST", "/campaigns", &draft("x")).await.status, 201);
    gw.stop().await;
}

#[tokio::test]
async fn a_start_contacts_and_a_webhook_repeated_with_their_key_run_once() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let contact = json!({"name": "Ana", "phone": "+5531998761234"});
    let made = keyed(gw.addr, API_KEY, "contact-ana", "POST", "/contacts", &contact).await;
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.body));
    let again = keyed(gw.addr, API_KEY, "contact-ana", "POST", "/contacts", &contact).await;
    assert_eq!((again.status, replayed(&again)), (201, true), "not the 409 of a phone taken");
    assert_eq!(again.body, made.body);
    let csv = "name,phone\nBia,+5531998765678\n";
    let import = |key: &'static str| {
        let headers = [("content-type", "text/csv"), ("x-api-key", API_KEY), ("idempotency-key", key)];
        let addr = gw.addr;
        async move { http_request(addr, "POST", "/api/v1/contacts/import", &headers, Bytes::from(csv)).await }
    };
    let imported = import("import-1").await;
    assert_eq!(imported.status, 200, "{}", String::from_utf8_lossy(&imported.body));
    let reimported = import("import-1").await;
    assert_eq!((reimported.body.clone(), replayed(&reimported)), (imported.body.clone(), true));
    assert_eq!(rest.ok_get("/contacts").await["pagination"]["total"], 2);

    let id = rest.campaign(draft("start me")).await;
    let path = format!("/campaigns/{id}/start");
    let started = keyed(gw.addr, API_KEY, "start-1", "POST", &path, &json!({})).await;
    assert_eq!(started.status, 200, "{}", String::from_utf8_lossy(&started.body));
    let restarted = keyed(gw.addr, API_KEY, "start-1", "POST", &path, &json!({})).await;
    assert_eq!((restarted.status, replayed(&restarted)), (200, true), "not the 409 of a second start");
    assert_eq!(restarted.body, started.body);
    // Without the key the second start is refused, as always.
    rest.fails("POST", &path, Some(json!({})), 409).await;

    let hook = json!({"url": "https://203.0.113.9/h", "events": ["campaign.status"], "secret": "k"});
    let made = keyed(gw.addr, API_KEY, "hook-1", "POST", "/webhooks", &hook).await;
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.body));
    let again = keyed(gw.addr, API_KEY, "hook-1", "POST", "/webhooks", &hook).await;
    assert_eq!((again.status, replayed(&again), again.body.clone()), (201, true, made.body.clone()));
    let hooks = rest.ok_get("/webhooks").await;
    let count = hooks.as_array().or_else(|| hooks["data"].as_array()).map(Vec::len);
    assert_eq!(count, Some(1), "one webhook, not two: {hooks}");
    gw.stop().await;
}

#[tokio::test]
async fn keys_survive_a_restart() {
    let (store, _dir) = sqlite_store().await;
    let gw = StoreGateway::start(irisgate::Config::development(), store.clone()).await;
    let first = keyed(gw.addr, API_KEY, "durable", "POST", "/campaigns", &draft("durable")).await;
    assert_eq!(first.status, 201);
    gw.stop().await;
    let gw = StoreGateway::start(irisgate::Config::development(), store).await;
    let again = keyed(gw.addr, API_KEY, "durable", "POST", "/campaigns", &draft("durable")).await;
    assert_eq!((again.status, again.body.clone(), replayed(&again)), (201, first.body.clone(), true));
    assert_eq!(campaign_total(&gw.rest(API_KEY)).await, 1);
    gw.stop().await;
}

fn full_campaign(id: &str) -> Value {
    json!({"id": id, "to": "postmaster@activecampaign.msging.net", "method": "set", "uri": "/campaign/full",
           "type": FULL, "resource": batch("once", &["+5531998761234"])})
}

#[tokio::test]
async fn a_lime_set_repeated_with_its_id_creates_one_campaign_on_either_transport() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let command = full_campaign(&id());
    let first = gw.command(command.clone()).await.json();
    assert_eq!(first["status"], "success", "{first}");
    // The client timed out and sends it again over POST /commands, then over WebSocket.
    let again = gw.command(command.clone()).await.json();
    assert_eq!((again["status"].as_str(), &again["resource"]), (Some("success"), &first["resource"]), "{again}");
    let mut ws = gw.session().await;
    let over_ws = ws.call(command).await;
    assert_eq!(over_ws["resource"]["id"], first["resource"]["id"], "{over_ws}");
    assert_eq!(campaign_total(&rest).await, 1, "one campaign");
    // Another id is another campaign.
    let other = gw.command(full_campaign(&id())).await.json();
    assert_ne!(other["resource"]["id"], first["resource"]["id"]);
    assert_eq!(campaign_total(&rest).await, 2);
    gw.stop().await;
}
