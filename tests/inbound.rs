//! People's messages to the bot (conversations.md, Inbound) through the real gateway on SQLite
//! over raw LIME: a 0005 person's reply to a campaign reaches the bot with the campaign's flow
//! metadata; `POST /simulator/{channel}/inbound` injects from anyone (a repeat is one message);
//! an unacknowledged message comes again after `redeliver_ms` or on another session when its
//! session closes, an acknowledged one never; per-person order; messages wait for a bot that
//! is offline; a tenant never sees another's; the contact's last message date opens the 24 h
//! window of the bot's free-form messages.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bot::{ack, message_within, next_message};
use support::{batch, config_with_tenants, id, Gateway, Rest, Ws, FULL, OTHER_KEY, WAIT};

const ANSWERS: &str = "5531998760005";

fn person(phone: &str) -> String {
    format!("{phone}@wa.gw.msging.net")
}

/// Injects `text` from `phone` into the development workspace's WhatsApp simulator.
async fn inject(rest: &Rest, phone: &str, text: &str, message_id: Option<&str>) -> Value {
    let mut body = json!({"from": format!("+{phone}"), "text": text});
    if let Some(mid) = message_id {
        body["message_id"] = json!(mid);
    }
    rest.expect("POST", "/simulator/channel_123/inbound", Some(body), 202).await
}

fn config_redelivering_after(ms: u64) -> irisgate::Config {
    let mut c = config_with_tenants();
    c.conversations.redeliver_ms = ms;
    c
}

#[tokio::test]
async fn a_0005_persons_reply_to_a_campaign_reaches_the_bot_with_the_flow_metadata() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let mut ws = gw.session().await;
    let create = ws
        .call(json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
                     "uri": "/campaign/full", "type": FULL, "resource": batch("replies", &[&format!("+{ANSWERS}")])}))
        .await;
    assert_eq!(create["status"], "success", "{create}");
    let campaign = create["resource"]["id"].as_str().unwrap().to_owned();
    let m = next_message(&mut ws).await;
    assert_eq!(m["from"], person(ANSWERS), "{m}");
    assert_eq!(m["to"], "mybot@msging.net", "{m}");
    assert_eq!((m["type"].as_str(), m["content"].as_str()), (Some("text/plain"), Some("Quero saber mais")), "{m}");
    let meta = &m["metadata"];
    assert_eq!(meta["#activecampaign.campaignId"], campaign.as_str(), "{m}");
    assert_eq!(meta["#activecampaign.flowId"], "flow-1", "{m}");
    assert_eq!(meta["#activecampaign.stateId"], "state-1", "{m}");
    assert_eq!(meta["#channel"], "channel_123", "{m}");
    assert!(meta["#provider.messageId"].as_str().is_some_and(|s| !s.is_empty()), "{m}");
    let received_at = meta["#receivedAt"].as_str().expect("#receivedAt");
    assert!(chrono::DateTime::parse_from_rfc3339(received_at).is_ok(), "{received_at}");
    ack(&mut ws, &m, "received").await;
    // The contact's last message date is the reply's.
    let rest = Rest::new(&gw);
    let contacts = rest.ok_get("/contacts?limit=100").await;
    let c = contacts["data"].as_array().unwrap().iter().find(|c| c["phone"] == format!("+{ANSWERS}")).cloned();
    let c = c.unwrap_or_else(|| panic!("no contact for the person: {contacts}"));
    assert!(c["last_interaction_at"].as_str().is_some(), "{c}");
    // The reply is counted once on both faces, even when the person writes again.
    let again = inject(&rest, ANSWERS, "mais uma coisa", None).await;
    let m2 = next_message(&mut ws).await;
    assert_eq!((&m2["id"], &m2["metadata"]["#activecampaign.flowId"]), (&again["id"], &json!("flow-1")), "{m2}");
    ack(&mut ws, &m2, "received").await;
    let stats = rest.ok_get(&format!("/campaigns/{campaign}/stats")).await;
    assert_eq!(stats["replied"], 1, "{stats}");
    let report = ws
        .call(json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "get",
                     "uri": format!("/campaigns/{campaign}/reports")}))
        .await;
    assert_eq!(report["resource"]["audienceCounts"]["replied"], 1, "{report}");
}

#[tokio::test]
async fn a_reply_after_reply_window_ms_is_neither_attributed_nor_counted() {
    let mut config = config_with_tenants();
    config.conversations.reply_window_ms = 1;
    let gw = Gateway::start_with(config).await;
    let mut ws = gw.session().await;
    let create = ws
        .call(json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
                     "uri": "/campaign/full", "type": FULL, "resource": batch("late", &[&format!("+{ANSWERS}")])}))
        .await;
    let campaign = create["resource"]["id"].as_str().unwrap().to_owned();
    let m = next_message(&mut ws).await;
    assert_eq!(m["content"], "Quero saber mais", "{m}");
    assert!(m["metadata"].get("#activecampaign.flowId").is_none(), "outside the window: {m}");
    let stats = Rest::new(&gw).ok_get(&format!("/campaigns/{campaign}/stats")).await;
    assert_eq!(stats["replied"], 0, "{stats}");
}

#[tokio::test]
async fn an_injected_message_is_delivered_once_and_a_repeat_of_its_id_is_one_message() {
    let gw = Gateway::start_with(config_redelivering_after(300)).await;
    let rest = Rest::new(&gw);
    let mut ws = gw.session().await;
    let first = inject(&rest, "5531998760101", "oi", Some("wamid.1")).await;
    assert_eq!(first["new"], true, "{first}");
    let again = inject(&rest, "5531998760101", "oi", Some("wamid.1")).await;
    assert_eq!((again["new"].as_bool(), &again["id"]), (Some(false), &first["id"]), "{again}");
    let m = next_message(&mut ws).await;
    assert_eq!((m["id"].clone(), m["content"].clone()), (first["id"].clone(), json!("oi")), "{m}");
    assert!(m["metadata"].get("#activecampaign.campaignId").is_none(), "not attributed: {m}");
    ack(&mut ws, &m, "consumed").await;
    // Acknowledged: neither the repeat nor a redelivery comes.
    assert_eq!(message_within(&mut ws, Duration::from_millis(900)).await, None);
    // A channel that is not a simulator of this workspace is not found.
    let body = json!({"from": "+5531998760101", "text": "oi"});
    rest.fails("POST", "/simulator/nope/inbound", Some(body.clone()), 404).await;
    Rest::with_key(&gw, Some(OTHER_KEY)).fails("POST", "/simulator/channel_123/inbound", Some(body), 404).await;
}

#[tokio::test]
async fn an_unacknowledged_message_comes_again_after_redeliver_ms_with_the_same_id() {
    let gw = Gateway::start_with(config_redelivering_after(300)).await;
    let rest = Rest::new(&gw);
    let mut ws = gw.session().await;
    let sent = inject(&rest, "5531998760102", "alô", None).await;
    let first = next_message(&mut ws).await;
    let again = message_within(&mut ws, WAIT).await.expect("a redelivery");
    assert_eq!((&first["id"], &again["id"]), (&sent["id"], &sent["id"]), "{first} / {again}");
    ack(&mut ws, &again, "received").await;
    assert_eq!(message_within(&mut ws, Duration::from_millis(900)).await, None, "acknowledged");
}

#[tokio::test]
async fn a_message_left_unacknowledged_by_a_closed_session_goes_to_another_one() {
    // Redelivery by time is out of the way: only the close hands it on.
    let gw = Gateway::start_with(config_redelivering_after(600_000)).await;
    let rest = Rest::new(&gw);
    let mut a = gw.session().await;
    let sent = inject(&rest, "5531998760103", "primeira", None).await;
    let got = next_message(&mut a).await;
    assert_eq!(got["id"], sent["id"]);
    let mut b = gw.session().await;
    assert_eq!(message_within(&mut b, Duration::from_millis(500)).await, None, "held by the first session");
    drop(a);
    let handed = next_message(&mut b).await;
    assert_eq!(handed["id"], sent["id"], "{handed}");
}

#[tokio::test]
async fn sessions_take_turns_and_one_persons_messages_keep_their_order() {
    let gw = Gateway::start_with(config_redelivering_after(600_000)).await;
    let rest = Rest::new(&gw);
    let mut a = gw.session().await;
    let mut b = gw.session().await;
    // Two people: one message each session (round robin).
    inject(&rest, "5531998760201", "de Ana", None).await;
    inject(&rest, "5531998760202", "de Bia", None).await;
    let (ma, mb) = (next_message(&mut a).await, next_message(&mut b).await);
    let mut from = [ma["from"].as_str().unwrap().to_owned(), mb["from"].as_str().unwrap().to_owned()];
    from.sort();
    assert_eq!(from, [person("5531998760201"), person("5531998760202")]);
    ack(&mut a, &ma, "received").await;
    ack(&mut b, &mb, "received").await;
    // One person's second message waits for the first one's acknowledgement.
    inject(&rest, "5531998760203", "um", None).await;
    inject(&rest, "5531998760203", "dois", None).await;
    let (mut first, mut holder, mut other) = match tokio::select! {
        m = next_message(&mut a) => (m, true),
        m = next_message(&mut b) => (m, false),
    } {
        (m, true) => (m, a, b),
        (m, false) => (m, b, a),
    };
    assert_eq!(first["content"], "um", "{first}");
    assert_eq!(message_within(&mut other, Duration::from_millis(500)).await, None, "\"dois\" waits for \"um\"");
    ack(&mut holder, &first, "consumed").await;
    first = tokio::select! {
        m = next_message(&mut holder) => m,
        m = next_message(&mut other) => m,
    };
    assert_eq!(first["content"], "dois", "{first}");
}

#[tokio::test]
async fn messages_wait_for_an_offline_bot_and_never_reach_another_tenant() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    let mut other = Ws::established(&gw, "otherbot", "b3RoZXI=").await;
    let sent = inject(&rest, "5531998760301", "alguém aí?", None).await;
    assert_eq!(message_within(&mut other, Duration::from_millis(500)).await, None, "another tenant's message");
    let mut ws = gw.session().await;
    let m = next_message(&mut ws).await;
    assert_eq!((m["id"].clone(), m["content"].clone()), (sent["id"].clone(), json!("alguém aí?")), "{m}");
    assert_eq!(message_within(&mut other, Duration::from_millis(300)).await, None);
}

#[tokio::test]
async fn an_inbound_message_opens_the_24_hour_window_of_the_bots_free_form_messages() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    let mut ws = gw.session().await;
    let phone = "5531998760401";
    // Never wrote: WhatsApp refuses the free-form text (131047).
    ws.send(json!({"id": "before", "to": person(phone), "type": "text/plain", "content": "Olá"})).await;
    let failed = loop {
        let v = ws.recv().await;
        if v["id"] == "before" && v["event"] == "failed" {
            break v;
        }
    };
    assert_eq!(failed["reason"]["code"], 131047, "{failed}");
    let m = {
        inject(&rest, phone, "oi", None).await;
        next_message(&mut ws).await
    };
    ack(&mut ws, &m, "received").await;
    ws.send(json!({"id": "after", "to": person(phone), "type": "text/plain", "content": "Olá"})).await;
    let event = loop {
        let v = ws.recv().await;
        if v["id"] == "after" && (v["event"] == "dispatched" || v["event"] == "failed") {
            break v;
        }
    };
    assert_eq!(event["event"], "dispatched", "{event}");
}

#[tokio::test]
async fn a_burst_of_concurrent_messages_reaches_the_bot_once_each_in_per_person_order() {
    let gw = Gateway::start_with(config_redelivering_after(600_000)).await;
    let rest = Rest::new(&gw);
    let mut ws = gw.session().await;
    // 20 people write 10 messages each, all at once: each person's next message is sent when
    // the previous one was answered 202, so their order is the order they were written.
    let (people, each) = (20u64, 10u64);
    let mut sources = Vec::new();
    for p in 0..people {
        let rest = rest.clone();
        sources.push(tokio::spawn(async move {
            for i in 0..each {
                inject(&rest, &format!("55319987604{p:02}"), &format!("{p}:{i}"), None).await;
            }
        }));
    }
    let mut seen: std::collections::HashMap<String, Vec<u64>> = Default::default();
    for _ in 0..people * each {
        let m = next_message(&mut ws).await;
        let text = m["content"].as_str().expect("a text").to_owned();
        let (who, i) = text.split_once(':').expect("p:i");
        seen.entry(who.to_owned()).or_default().push(i.parse().unwrap());
        ack(&mut ws, &m, "consumed").await;
    }
    for s in sources {
        s.await.unwrap();
    }
    assert_eq!(message_within(&mut ws, Duration::from_millis(500)).await, None, "nothing twice");
    assert_eq!(seen.len() as u64, people);
    for (who, got) in seen {
        assert_eq!(got, (0..each).collect::<Vec<_>>(), "person {who}: once each, in the order written");
    }
}
