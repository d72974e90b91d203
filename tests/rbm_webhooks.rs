//! `POST /webhooks/rbm` against the real gateway on SQLite: the verification handshake,
//! `X-Goog-Signature` (missing or wrong → 401, nothing applied), receipts matched by the
//! messageId the channel sent (durable before the 200), duplicates counted once, unknown
//! ids and events not handled yet accepted, the 1 MiB limit, a `${VAR}` client token, and no
//! secret in the REST channel listing.

mod support;

use serde_json::{json, Value};
use support::fake_rbm::{self, sign, FakeRbm, CLIENT_TOKEN};
use support::{poll, Gateway, HttpReply, Rest, WAIT};

/// A gateway at a fake, with a started REST campaign to `phones` whose messages the fake
/// accepted: (gateway, fake, its key directory, campaign id).
async fn sent(phones: &[&str]) -> (Gateway, FakeRbm, tempfile::TempDir, String) {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "")).await;
    let id = campaign(&gw, phones).await;
    poll(WAIT, || async { fake.accepted() }, |a| a.len() >= phones.len()).await.expect("sent");
    Rest::new(&gw).stats_until(&id, "all SENT", |s| s["sent"].as_u64() == Some(phones.len() as u64)).await;
    (gw, fake, dir, id)
}

async fn campaign(gw: &Gateway, phones: &[&str]) -> String {
    let rest = Rest::new(gw);
    rest.tag("tag_hook").await;
    for (i, p) in phones.iter().enumerate() {
        rest.contact(json!({"name": format!("C{i}"), "phone": p, "tags": ["tag_hook"]})).await;
    }
    let id = rest
        .campaign(json!({"name": "hook", "message_type": "TEXT", "channel_id": "rcs_main",
            "content": {"type": "text", "text": {"body": "Oi"}}, "filters": {"tag_ids": ["tag_hook"]}}))
        .await;
    rest.start(&id).await;
    id
}

async fn verify(gw: &Gateway, body: Value) -> HttpReply {
    gw.post("/webhooks/rbm", &[("content-type", "application/json")], body.to_string()).await
}

fn event(kind: &str, message_id: &str, event_id: &str) -> String {
    json!({"senderPhoneNumber": "+5531998767001", "eventType": kind, "eventId": event_id,
        "messageId": message_id, "sendTime": "2026-05-04T12:00:00Z", "agentId": fake_rbm::AGENT_ID})
    .to_string()
}

#[tokio::test]
async fn verification_answers_the_secret_for_a_known_client_token_only() {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "")).await;
    let ok = verify(&gw, json!({"clientToken": CLIENT_TOKEN, "secret": "1234567890"})).await;
    assert_eq!(ok.status, 200);
    assert_eq!(&ok.body[..], b"1234567890", "the whole body is the secret");
    assert!(ok.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    for wrong in ["SJENCPGJESMGUFPY", "", &CLIENT_TOKEN[..CLIENT_TOKEN.len() - 1]] {
        let r = verify(&gw, json!({"clientToken": wrong, "secret": "1234567890"})).await;
        assert_eq!(r.status, 403, "token {wrong:?}");
        assert!(!String::from_utf8_lossy(&r.body).contains("1234567890"));
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_client_token_from_the_environment_verifies_and_signs() {
    let fake = FakeRbm::start("token-from-env-42").await;
    let dir = tempfile::tempdir().unwrap();
    let text = fake_rbm::config_text(&fake, dir.path(), "client_token = \"${RBM_CLIENT_TOKEN}\"", "");
    let lookup = |name: &str| (name == "RBM_CLIENT_TOKEN").then(|| "token-from-env-42".to_owned());
    let config = irisgate::Config::parse_with_env(&text, &lookup).unwrap();
    let gw = Gateway::start_with(config).await;
    let r = verify(&gw, json!({"clientToken": "token-from-env-42", "secret": "s3"})).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"s3"[..]));
    let r = verify(&gw, json!({"clientToken": "${RBM_CLIENT_TOKEN}", "secret": "s3"})).await;
    assert_eq!(r.status, 403, "the variable's name is not the token");
    let id = campaign(&gw, &["+5531998767101"]).await;
    let sent = poll(WAIT, || async { fake.accepted() }, |a| !a.is_empty()).await.expect("sent");
    Rest::new(&gw).stats_until(&id, "SENT", |s| s["sent"] == 1).await;
    let r = fake.post_event(gw.addr, "DELIVERED", &sent[0].message_id, &sent[0].phone).await;
    assert_eq!(r.status, 200);
    Rest::new(&gw).stats_until(&id, "DELIVERED", |s| s["delivered"] == 1).await;
    gw.stop().await;
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_events_are_401_and_change_nothing() {
    let (gw, fake, _dir, id) = sent(&["+5531998767001"]).await;
    let m = fake.accepted()[0].clone();
    let data = event("READ", &m.message_id, "e-1");
    let unsigned = fake.post_data(gw.addr, &data, None).await;
    assert_eq!(unsigned.status, 401);
    let wrong_key = fake.post_data(gw.addr, &data, Some("another-agents-token")).await;
    assert_eq!(wrong_key.status, 401);
    // The signature of other bytes than the event's.
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data.as_bytes());
    let envelope = json!({"message": {"data": b64, "messageId": "1", "publishTime": "2026-05-04T12:00:00Z"}});
    let over_body = sign(CLIENT_TOKEN, envelope.to_string().as_bytes());
    let headers = [("content-type", "application/json"), ("x-goog-signature", over_body.as_str())];
    let r = gw.post("/webhooks/rbm", &headers, envelope.to_string()).await;
    assert_eq!(r.status, 401, "the signature covers the decoded data, not the HTTP body");
    let garbage = [("content-type", "application/json"), ("x-goog-signature", "not base64!")];
    assert_eq!(gw.post("/webhooks/rbm", &garbage, envelope.to_string()).await.status, 401);
    let rest = Rest::new(&gw);
    let stats = rest.stats(&id).await;
    assert_eq!((stats["sent"].as_u64(), stats["read"].as_u64()), (Some(1), Some(0)), "{stats}");

    let signed = fake.post_data(gw.addr, &data, Some(CLIENT_TOKEN)).await;
    assert_eq!(signed.status, 200);
    // Durable before the 200: the very next read sees it.
    assert_eq!(rest.stats(&id).await["read"], 1);
    gw.stop().await;
}

#[tokio::test]
async fn receipts_apply_once_in_order_and_unknown_ids_are_ignored() {
    let (gw, fake, _dir, id) = sent(&["+5531998767001", "+5531998767002"]).await;
    let rest = Rest::new(&gw);
    let sent = fake.accepted();
    let (a, b) = (&sent[0], &sent[1]);
    for _ in 0..3 {
        assert_eq!(
            fake.post_data(gw.addr, &event("DELIVERED", &a.message_id, "same"), Some(CLIENT_TOKEN)).await.status,
            200
        );
    }
    let stats = rest.stats(&id).await;
    assert_eq!((stats["delivered"].as_u64(), stats["sent"].as_u64()), (Some(1), Some(1)), "counted once: {stats}");
    // Google may echo the id in upper case: still the same message.
    let upper = a.message_id.to_uppercase();
    assert_eq!(fake.post_event(gw.addr, "READ", &upper, &a.phone).await.status, 200);
    assert_eq!(fake.post_event(gw.addr, "READ", &a.message_id, &a.phone).await.status, 200);
    assert_eq!(fake.post_event(gw.addr, "DELIVERED", &a.message_id, &a.phone).await.status, 200);
    // Typing, a user's reply and an unknown id: accepted, nothing changes.
    assert_eq!(fake.post_event(gw.addr, "IS_TYPING", &b.message_id, &b.phone).await.status, 200);
    let reply = json!({"senderPhoneNumber": b.phone, "messageId": "MxGZ8hS1Q8", "sendTime": "2026-05-04T12:00:01Z",
        "agentId": fake_rbm::AGENT_ID, "text": "Sim"});
    assert_eq!(fake.post_data(gw.addr, &reply.to_string(), Some(CLIENT_TOKEN)).await.status, 200);
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(fake.post_event(gw.addr, "READ", &unknown, &b.phone).await.status, 200);

    let stats = rest.stats(&id).await;
    assert_eq!(
        (stats["read"].as_u64(), stats["delivered"].as_u64(), stats["sent"].as_u64()),
        (Some(1), Some(0), Some(1)),
        "a READ once, its later DELIVERED ignored, the other message untouched: {stats}"
    );
    let rows = rest.messages(&id, None).await;
    let status_of = |phone: &str| rows.iter().find(|r| r["phone"] == phone).map(|r| r["status"].clone());
    assert_eq!(status_of(&a.phone), Some(json!("READ")), "{rows:?}");
    assert_eq!(status_of(&b.phone), Some(json!("SENT")), "{rows:?}");
    gw.stop().await;
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413_and_bad_ones_400() {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "")).await;
    let big = json!({"clientToken": CLIENT_TOKEN, "secret": "x".repeat(1024 * 1024)});
    assert_eq!(verify(&gw, big).await.status, 413);
    let just_under = json!({"clientToken": CLIENT_TOKEN, "secret": "y".repeat(1024 * 1024 - 100)});
    assert_eq!(verify(&gw, just_under).await.status, 200);
    assert_eq!(gw.post("/webhooks/rbm", &[], "{not json").await.status, 400);
    assert_eq!(verify(&gw, json!({"something": "else"})).await.status, 400);
    let headers = [("x-goog-signature", "AAAA")];
    assert_eq!(gw.post("/webhooks/rbm", &headers, r#"{"message":{"data":"%%%"}}"#).await.status, 400);
    gw.stop().await;
}

#[tokio::test]
async fn no_secret_in_the_rest_channel_listing() {
    let (gw, fake, dir, _id) = sent(&["+5531998767001"]).await;
    let listing = Rest::new(&gw).get("/campaigns/channels").await;
    assert_eq!(listing.status, 200);
    let text = String::from_utf8_lossy(&listing.body).into_owned();
    assert!(text.contains("rcs_main"), "{text}");
    let key: Value = serde_json::from_slice(&std::fs::read(dir.path().join("rbm-key.json")).unwrap()).unwrap();
    let private_line = key["private_key"].as_str().unwrap().lines().nth(1).unwrap().to_owned();
    for secret in [CLIENT_TOKEN, private_line.as_str(), "ya29.", "rbm-key.json"] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
    drop(fake);
    gw.stop().await;
}
