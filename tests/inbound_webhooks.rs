//! People's messages carried by the real providers' webhooks (providers.md, conversations.md)
//! against the real gateway on SQLite: a signed WhatsApp `messages[]` item and a signed RBM
//! user message reach the bot's session as LIME messages (button replies with their payload),
//! a webhook delivered twice is one message, a wrong signature delivers nothing, and a body
//! signed with one tenant's app secret cannot inject into another tenant's number; RBM's
//! UNSUBSCRIBE / SUBSCRIBE move the person on and off the suppression list.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bot::{ack, message_within, next_message};
use support::fake_rbm::{self, FakeRbm, CLIENT_TOKEN};
use support::fake_whatsapp::{self as fake, post_signed, FakeWhatsApp};
use support::whatsapp_seed as seed;
use support::{Gateway, Ws};

const MARIA: &str = "5531998761234";

/// A WhatsApp webhook body with `messages` for the number `phone_number_id`.
fn messages_payload(phone_number_id: &str, messages: Vec<Value>) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": fake::WABA_ID, "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
                  "contacts": [{"profile": {"name": "Maria"}, "wa_id": MARIA}],
                  "messages": messages}}]}]})
    .to_string()
}

fn text_item(wamid: &str, text: &str) -> Value {
    json!({"from": MARIA, "id": wamid, "timestamp": "1733140800", "type": "text", "text": {"body": text}})
}

/// The seed gateway plus `otherbot`, whose own WhatsApp Cloud number is `999` (secret
/// `other-secret`) on the same fake.
fn two_tenants(fake: &FakeWhatsApp) -> irisgate::Config {
    let other = format!(
        "[[tenants]]\nidentifier = \"otherbot\"\naccess_key = \"b3RoZXI=\"\napi_keys = [\"wk_other_789\"]\n\n\
         [[tenants.channels]]\nid = \"other_wa\"\ntype = \"whatsapp\"\nprovider = \"whatsapp_cloud\"\ndefault = true\n\
         phone_number_id = \"999\"\naccess_token = \"t\"\napp_secret = \"other-secret\"\nverify_token = \"v\"\n\
         api_base = \"{}\"\n",
        fake.api_base()
    );
    seed::config(fake, "", &other)
}

#[tokio::test]
async fn a_signed_whatsapp_message_reaches_the_bot_once_and_a_wrong_signature_nothing() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    let gw = Gateway::start_with(two_tenants(&fake)).await;
    let mut ws = gw.session().await;
    let body = messages_payload(fake::PHONE_NUMBER_ID, vec![text_item("wamid.HBgM1", "Quero saber mais")]);
    assert_eq!(post_signed(gw.addr, "not-the-secret", &body).await.0, 401);
    assert_eq!(message_within(&mut ws, Duration::from_millis(400)).await, None, "unsigned: nothing delivered");
    assert_eq!(post_signed(gw.addr, fake::APP_SECRET, &body).await.0, 200);
    // Meta delivers it again: the same message.
    assert_eq!(post_signed(gw.addr, fake::APP_SECRET, &body).await.0, 200);
    let m = next_message(&mut ws).await;
    assert_eq!(m["from"], format!("{MARIA}@wa.gw.msging.net"), "{m}");
    assert_eq!((m["type"].as_str(), m["content"].as_str()), (Some("text/plain"), Some("Quero saber mais")), "{m}");
    assert_eq!(m["metadata"]["#provider.messageId"], "wamid.HBgM1", "{m}");
    assert_eq!(m["metadata"]["#channel"], "wa", "{m}");
    ack(&mut ws, &m, "received").await;
    assert_eq!(message_within(&mut ws, Duration::from_millis(600)).await, None, "the repeat is one message");
    // A quick-reply tap carries its payload.
    let tap = json!({"from": MARIA, "id": "wamid.tap", "timestamp": "1733140900", "type": "interactive",
                     "interactive": {"type": "button_reply", "button_reply": {"id": "opt-yes", "title": "Sim"}}});
    assert_eq!(
        post_signed(gw.addr, fake::APP_SECRET, &messages_payload(fake::PHONE_NUMBER_ID, vec![tap])).await.0,
        200
    );
    let m = next_message(&mut ws).await;
    assert_eq!(
        (m["content"].as_str(), m["metadata"]["#reply.payload"].as_str()),
        (Some("Sim"), Some("opt-yes")),
        "{m}"
    );
}

#[tokio::test]
async fn a_body_signed_by_one_tenant_cannot_inject_into_anothers_number() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    let gw = Gateway::start_with(two_tenants(&fake)).await;
    let mut mine = gw.session().await;
    let mut other = Ws::established(&gw, "otherbot", "b3RoZXI=").await;
    // mybot's secret, otherbot's number: not applied.
    let forged = messages_payload("999", vec![text_item("wamid.forged", "SAIR")]);
    assert_eq!(post_signed(gw.addr, fake::APP_SECRET, &forged).await.0, 200);
    // otherbot's own secret: delivered to otherbot only.
    let genuine = messages_payload("999", vec![text_item("wamid.genuine", "olá")]);
    assert_eq!(post_signed(gw.addr, "other-secret", &genuine).await.0, 200);
    let m = next_message(&mut other).await;
    assert_eq!((m["content"].as_str(), m["to"].as_str()), (Some("olá"), Some("otherbot@msging.net")), "{m}");
    ack(&mut other, &m, "received").await;
    assert_eq!(message_within(&mut other, Duration::from_millis(400)).await, None, "the forged one never arrives");
    assert_eq!(message_within(&mut mine, Duration::from_millis(200)).await, None, "nor at mybot");
}

#[tokio::test]
async fn a_signed_rbm_user_message_reaches_the_bot_and_a_wrong_signature_nothing() {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "")).await;
    let mut ws = gw.session().await;
    let data = json!({"senderPhoneNumber": format!("+{MARIA}"), "messageId": "msg-rbm-1",
                      "sendTime": "2026-05-04T12:00:00Z", "agentId": fake_rbm::AGENT_ID, "text": "Oi, RCS"})
    .to_string();
    assert_eq!(fake.post_data(gw.addr, &data, Some("wrong-token")).await.status, 401);
    assert_eq!(message_within(&mut ws, Duration::from_millis(400)).await, None);
    assert_eq!(fake.post_data(gw.addr, &data, Some(CLIENT_TOKEN)).await.status, 200);
    assert_eq!(fake.post_data(gw.addr, &data, Some(CLIENT_TOKEN)).await.status, 200);
    let m = next_message(&mut ws).await;
    assert_eq!(m["from"], format!("{MARIA}@googlercs.gw.msging.net"), "{m}");
    assert_eq!((m["content"].as_str(), m["metadata"]["#channel"].as_str()), (Some("Oi, RCS"), Some("rcs_main")), "{m}");
    assert_eq!(m["metadata"]["#provider.messageId"], "msg-rbm-1", "{m}");
    ack(&mut ws, &m, "received").await;
    assert_eq!(message_within(&mut ws, Duration::from_millis(600)).await, None, "the repeat is one message");
    let tap = json!({"senderPhoneNumber": format!("+{MARIA}"), "messageId": "msg-rbm-2", "agentId": fake_rbm::AGENT_ID,
                     "suggestionResponse": {"postbackData": "want-more", "text": "Quero"}})
    .to_string();
    assert_eq!(fake.post_data(gw.addr, &tap, Some(CLIENT_TOKEN)).await.status, 200);
    let m = next_message(&mut ws).await;
    assert_eq!(
        (m["content"].as_str(), m["metadata"]["#reply.payload"].as_str()),
        (Some("Quero"), Some("want-more")),
        "{m}"
    );
}

#[tokio::test]
async fn rbm_unsubscribe_and_subscribe_move_the_person_on_and_off_the_suppression_list() {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "")).await;
    let rest = support::Rest::new(&gw);
    let listed = || async { rest.ok_get(&format!("/suppressions?phone=%2B{MARIA}")).await["data"].clone() };
    let phone = format!("+{MARIA}");
    assert_eq!(fake.post_event(gw.addr, "UNSUBSCRIBE", "evt-1", &phone).await.status, 200);
    let data = listed().await;
    assert_eq!(
        (data[0]["reason"].as_str(), data[0]["channel_id"].as_str()),
        (Some("UNSUBSCRIBE"), Some("rcs_main")),
        "{data}"
    );
    assert_eq!(fake.post_event(gw.addr, "SUBSCRIBE", "evt-2", &phone).await.status, 200);
    assert_eq!(listed().await, json!([]));
}
