//! `/webhooks/whatsapp` of the real gateway: Meta's subscription handshake, signed status
//! webhooks (signature on the raw body, 401 and nothing applied otherwise, 413 beyond 1 MiB),
//! statuses applied monotonically and counted once, matched by our id or the wamid, unknown
//! ids ignored; each durable before the 200.

mod support;

use serde_json::{json, Value};
use support::client::*;
use support::fake_whatsapp::{self as fake, FakeWhatsApp};
use support::whatsapp_seed as seed;
use support::{http_request, Gateway};

const A: &str = "5531998761111";
const B: &str = "5531998762222";
const C: &str = "5531998763333";

fn identity(phone: &str) -> String {
    format!("{phone}@wa.gw.msging.net")
}

async fn get(gw: &Gateway, path: &str) -> support::HttpReply {
    http_request(gw.addr, "GET", path, &[], bytes::Bytes::new()).await
}

#[tokio::test]
async fn the_subscription_handshake_answers_the_challenge_only_for_a_known_verify_token() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    let gw = Gateway::start_with(seed::config(&fake, "", "")).await;
    let ok = get(
        &gw,
        &format!(
            "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={}&hub.challenge=1158201444",
            fake::VERIFY_TOKEN
        ),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(&ok.body[..], b"1158201444");
    assert!(ok.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    for path in [
        "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=&hub.challenge=1",
        "/webhooks/whatsapp?hub.mode=unsubscribe&hub.verify_token=verify-token-xyz&hub.challenge=1",
        "/webhooks/whatsapp?hub.challenge=1",
    ] {
        let r = get(&gw, path).await;
        assert_eq!(r.status, 403, "{path}");
        assert!(!String::from_utf8_lossy(&r.body).contains("verify-token-xyz"));
    }
    gw.stop().await;
}

/// Sends a Batch to A, B and C and waits until the fake has taken all three.
async fn sent_campaign(gw: &Gateway, fake: &FakeWhatsApp, c: &mut Client) -> String {
    let audiences: Vec<Value> = [A, B, C].iter().map(|p| json!({"recipient": format!("+{p}")})).collect();
    let r = c
        .full(json!({"campaign": {"name": "wh", "campaignType": "Batch"}, "audiences": audiences,
                     "message": {"messageTemplate": "aviso_sem_variavel"}}))
        .await;
    let id = id_of(&r);
    c.wait_report(&id, "processed", |r| r["audienceCounts"]["processed"] == 3).await;
    assert_eq!(fake.accepted().len(), 3);
    let _ = gw;
    id
}

#[tokio::test]
async fn only_a_correctly_signed_body_of_at_most_1_mib_is_applied() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    let gw = Gateway::start_with(seed::config(&fake, "", "")).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    let id = sent_campaign(&gw, &fake, &mut c).await;
    let a = fake.accepted_to(A).remove(0);
    let status = |s: &str| json!({"id": a.wamid, "status": s, "timestamp": "1733140800", "recipient_id": A, "biz_opaque_callback_data": a.callback});
    let body = fake::status_payload(fake::PHONE_NUMBER_ID, vec![status("read")]).to_string();
    let post = |headers: Vec<(&'static str, String)>, body: String| {
        let addr = gw.addr;
        async move {
            let mut h: Vec<(&str, &str)> = vec![("content-type", "application/json")];
            h.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
            http_request(addr, "POST", "/webhooks/whatsapp", &h, body.into()).await.status
        }
    };
    assert_eq!(post(vec![], body.clone()).await, 401, "no signature");
    assert_eq!(
        post(vec![("x-hub-signature-256", fake::signature("not-the-secret", body.as_bytes()))], body.clone()).await,
        401
    );
    let other = fake::status_payload(fake::PHONE_NUMBER_ID, vec![status("delivered")]).to_string();
    assert_eq!(
        post(vec![("x-hub-signature-256", fake::signature(fake::APP_SECRET, other.as_bytes()))], body.clone()).await,
        401,
        "signature of another body"
    );
    assert_eq!(post(vec![("x-hub-signature-256", "sha256=zz".into())], body.clone()).await, 401, "not hex");
    let big = format!("{}{}", body, " ".repeat(1024 * 1024));
    assert_eq!(post(vec![("x-hub-signature-256", fake::signature(fake::APP_SECRET, big.as_bytes()))], big).await, 413);
    // A body signed by our secret about a number it does not speak for is not applied.
    let foreign = fake::status_payload("999999999", vec![status("read")]).to_string();
    assert_eq!(
        post(vec![("x-hub-signature-256", fake::signature(fake::APP_SECRET, foreign.as_bytes()))], foreign).await,
        200
    );
    let report = c.report(&id).await;
    assert_eq!(entry(&report, &identity(A))["status"], "PROCESSED", "nothing applied: {report}");
    assert_eq!(
        post(vec![("x-hub-signature-256", fake::signature(fake::APP_SECRET, body.as_bytes()))], body).await,
        200
    );
    // Durable before the 200: the very next read sees it.
    let report = c.report(&id).await;
    assert_eq!(entry(&report, &identity(A))["status"], "READ", "{report}");
    gw.stop().await;
}

#[tokio::test]
async fn statuses_apply_monotonically_once_by_our_id_or_the_wamid_and_unknown_ids_are_ignored() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    let gw = Gateway::start_with(seed::config(&fake, "", "")).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    let id = sent_campaign(&gw, &fake, &mut c).await;
    let (a, b, cc) = (fake.accepted_to(A).remove(0), fake.accepted_to(B).remove(0), fake.accepted_to(C).remove(0));
    // Out of order and twice: read before delivered, everything repeated.
    assert_eq!(fake.post_statuses(gw.addr, &[(&a, "read", true), (&a, "read", true)]).await, 200);
    assert_eq!(
        fake.post_statuses(gw.addr, &[(&a, "delivered", true), (&a, "sent", true), (&a, "failed", true)]).await,
        200
    );
    // Matched by the wamid alone (no callback data echoed).
    assert_eq!(fake.post_statuses(gw.addr, &[(&b, "delivered", false)]).await, 200);
    assert_eq!(fake.post_statuses(gw.addr, &[(&b, "delivered", false)]).await, 200);
    assert_eq!(fake.post_statuses(gw.addr, &[(&cc, "failed", true)]).await, 200);
    // Unknown ids are answered 200 (or Meta retries for days) and change nothing.
    let mut unknown = cc.clone();
    unknown.wamid = "wamid.NEVER-SENT".into();
    unknown.callback = "not-ours".into();
    assert_eq!(fake.post_statuses(gw.addr, &[(&unknown, "read", true)]).await, 200);
    let report = c.report(&id).await;
    assert_eq!(entry(&report, &identity(A))["status"], "READ", "{report}");
    assert_eq!(entry(&report, &identity(B))["status"], "RECEIVED", "{report}");
    let failed = entry(&report, &identity(C));
    assert_eq!((failed["status"].as_str(), failed["reasonCode"].as_u64()), (Some("FAILED"), Some(131026)), "{failed}");
    assert_eq!(failed["reasonDescription"], "Message undeliverable");
    let counts = &report["audienceCounts"];
    assert_eq!(
        (counts["read"].as_u64(), counts["received"].as_u64(), counts["failed"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "each counted once: {counts}"
    );
    gw.stop().await;
}
