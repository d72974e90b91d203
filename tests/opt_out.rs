//! Opt-out (conversations.md) through the real gateway on SQLite: a 0006 person's `SAIR`
//! reaches the bot marked `#optOut` and puts them on the suppression list; keywords ignore
//! case, accents and spaces, and `VOLTAR` takes them off; `opt_out_reply` is sent back; the
//! REST list adds and removes; a suppressed person gets nothing — a bot message fails 1008 and
//! campaign recipients on both faces end FAILED 1008; the REST preview counts them.

mod support;

use serde_json::{json, Value};
use support::bot::{ack, next_message};
use support::{batch, config_with_tenants, id, Gateway, Rest, Ws, FULL, WAIT};

const QUITS: &str = "5531998760006";

fn person(phone: &str) -> String {
    format!("{phone}@wa.gw.msging.net")
}

async fn inject(rest: &Rest, phone: &str, text: &str) -> Value {
    rest.expect("POST", "/simulator/channel_123/inbound", Some(json!({"from": format!("+{phone}"), "text": text})), 202)
        .await
}

async fn suppressed(rest: &Rest, phone: &str) -> Vec<Value> {
    let page = rest.ok_get(&format!("/suppressions?phone=%2B{phone}")).await;
    page["data"].as_array().unwrap().clone()
}

/// `set /campaign/full` to `phones` over the session; the campaign id.
async fn lime_campaign(ws: &mut Ws, name: &str, phones: &[&str]) -> String {
    let recipients: Vec<String> = phones.iter().map(|p| format!("+{p}")).collect();
    let refs: Vec<&str> = recipients.iter().map(String::as_str).collect();
    let r = ws
        .call(json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
                     "uri": "/campaign/full", "type": FULL, "resource": batch(name, &refs)}))
        .await;
    assert_eq!(r["status"], "success", "{r}");
    r["resource"]["id"].as_str().unwrap().to_owned()
}

/// The bot's notification about `id` that ends it (`failed`, or `dispatched` and beyond).
async fn outcome(ws: &mut Ws, id: &str) -> Value {
    loop {
        let v = ws.recv().await;
        if v["id"] == id && (v["event"] == "failed" || v["event"] == "dispatched") {
            return v;
        }
    }
}

/// Polls a campaign's REST messages until every one is FAILED or READ; the rows.
async fn settled(rest: &Rest, campaign: &str) -> Vec<Value> {
    let rows = support::poll(
        WAIT,
        || rest.messages(campaign, None),
        |rows| !rows.is_empty() && rows.iter().all(|r| r["status"] == "FAILED" || r["status"] == "READ"),
    )
    .await;
    rows.expect("the campaign's messages settled")
}

#[tokio::test]
async fn a_0006_persons_sair_suppresses_them_and_then_they_get_nothing_on_either_face() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    let mut ws = gw.session().await;
    let first = lime_campaign(&mut ws, "before", &[QUITS]).await;
    let m = next_message(&mut ws).await;
    assert_eq!((m["from"].clone(), m["content"].clone()), (json!(person(QUITS)), json!("SAIR")), "{m}");
    assert_eq!(m["metadata"]["#optOut"], "true", "{m}");
    assert_eq!(m["metadata"]["#activecampaign.campaignId"], first.as_str(), "{m}");
    ack(&mut ws, &m, "received").await;
    let list = suppressed(&rest, QUITS).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!((list[0]["reason"].as_str(), list[0]["channel_id"].as_str()), (Some("SAIR"), Some("channel_123")));
    // The bot's message: accepted, then failed 1008.
    ws.send(json!({"id": "to-quitter", "to": person(QUITS), "type": "text/plain", "content": "Volte!"})).await;
    let n = outcome(&mut ws, "to-quitter").await;
    assert_eq!((n["event"].as_str(), n["reason"]["code"].as_u64()), (Some("failed"), Some(1008)), "{n}");
    // A LIME campaign: the suppressed recipient is FAILED 1008, the other one is sent.
    let other = "5531998765001";
    let lime = lime_campaign(&mut ws, "after", &[QUITS, other]).await;
    let rows = settled(&rest, &lime).await;
    let row = |phone: &str| rows.iter().find(|r| r["phone"] == format!("+{phone}")).cloned().unwrap();
    assert_eq!((row(QUITS)["status"].as_str(), row(QUITS)["error_code"].as_u64()), (Some("FAILED"), Some(1008)));
    assert_eq!(row(other)["status"], "READ", "{rows:?}");
    // A REST campaign to the same contact, and the preview that says so.
    rest.tag("tag_q").await;
    let contacts = rest.ok_get("/contacts?limit=100").await;
    let quitter = contacts["data"].as_array().unwrap().iter().find(|c| c["phone"] == format!("+{QUITS}")).cloned();
    let quitter = quitter.expect("the person's contact");
    assert!(quitter["opted_out_at"].as_str().is_some(), "the contact shows it: {quitter}");
    let quitter = quitter["id"].as_str().unwrap().to_owned();
    rest.expect("PUT", &format!("/contacts/{quitter}"), Some(json!({"tags": ["tag_q"]})), 200).await;
    let preview =
        rest.expect("POST", "/campaigns/preview", Some(json!({"filters": {"tag_ids": ["tag_q"]}})), 200).await;
    assert_eq!((preview["total"].as_u64(), preview["suppressed"].as_u64()), (Some(1), Some(1)), "{preview}");
    let id = rest
        .campaign(json!({"name": "rest after", "message_type": "TEXT", "channel_id": "channel_123",
            "content": {"type": "text", "text": {"body": "Oi"}}, "filters": {"tag_ids": ["tag_q"]}}))
        .await;
    rest.start(&id).await;
    let rows = settled(&rest, &id).await;
    assert_eq!((rows[0]["status"].as_str(), rows[0]["error_code"].as_u64()), (Some("FAILED"), Some(1008)), "{rows:?}");
}

#[tokio::test]
async fn keywords_ignore_case_accents_and_spaces_and_voltar_opts_back_in() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    let mut ws = gw.session().await;
    let phone = "5531998760501";
    inject(&rest, phone, "quero sair daqui").await;
    let m = next_message(&mut ws).await;
    assert!(m["metadata"].get("#optOut").is_none(), "not a keyword: {m}");
    ack(&mut ws, &m, "received").await;
    assert!(suppressed(&rest, phone).await.is_empty());
    inject(&rest, phone, "  Sáir \n").await;
    let m = next_message(&mut ws).await;
    assert_eq!(m["metadata"]["#optOut"], "true", "{m}");
    ack(&mut ws, &m, "received").await;
    assert_eq!(suppressed(&rest, phone).await.len(), 1);
    inject(&rest, phone, "voltar").await;
    let m = next_message(&mut ws).await;
    assert_eq!(m["metadata"]["#optIn"], "true", "{m}");
    ack(&mut ws, &m, "received").await;
    assert!(suppressed(&rest, phone).await.is_empty(), "opted back in");
}

#[tokio::test]
async fn opt_out_reply_is_sent_back_on_the_channel_the_opt_out_came_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_with_tenants();
    config.tenants[0].opt_out_reply = Some("Você não receberá mais mensagens.".into());
    config.tenants[0].channels[0].ledger = Some(dir.path().join("ledger.jsonl"));
    let gw = Gateway::start_with(config).await;
    let rest = Rest::new(&gw);
    let phone = "5531998760502";
    inject(&rest, phone, "STOP").await;
    let sent = support::poll(
        WAIT,
        || async { std::fs::read_to_string(dir.path().join("ledger.jsonl")).unwrap_or_default() },
        |text| text.lines().any(|l| l.contains(&person(phone))),
    )
    .await;
    assert!(sent.is_some(), "the opt-out reply reached the simulator");
    // Any other text is not answered.
    inject(&rest, "5531998760503", "oi").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(dir.path().join("ledger.jsonl")).unwrap_or_default();
    assert!(!text.contains(&person("5531998760503")), "{text}");
}

#[tokio::test]
async fn the_rest_suppression_list_adds_lists_and_removes() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    let added = rest.created("/suppressions", json!({"phone": "+55 31 99876-0601", "reason": "asked by phone"})).await;
    assert_eq!((added["phone"].as_str(), added["reason"].as_str()), (Some("+5531998760601"), Some("asked by phone")));
    assert!(added["opted_out_at"].as_str().is_some(), "{added}");
    let page = rest.ok_get("/suppressions").await;
    assert_eq!(page["pagination"]["total"], 1, "{page}");
    // Another workspace's list is its own.
    let other = Rest::with_key(&gw, Some(support::OTHER_KEY)).ok_get("/suppressions").await;
    assert_eq!(other["pagination"]["total"], 0, "{other}");
    // A person added over REST gets no bot message either: failed 1008.
    let mut ws = gw.session().await;
    ws.send(json!({"id": "to-listed", "to": person("5531998760601"), "type": "text/plain", "content": "Oi"})).await;
    let n = outcome(&mut ws, "to-listed").await;
    assert_eq!(n["reason"]["code"], 1008, "{n}");
    assert_eq!(rest.call("DELETE", "/suppressions/+5531998760601", None).await.status, 204);
    assert_eq!(rest.call("DELETE", "/suppressions/+5531998760601", None).await.status, 404);
    assert!(suppressed(&rest, "5531998760601").await.is_empty());
    let contact = rest.contact(json!({"phone": "+5531998760601"})).await;
    assert_eq!(rest.ok_get(&format!("/contacts/{contact}")).await["opted_out_at"], Value::Null, "off the list");
    rest.fails("POST", "/suppressions", Some(json!({"phone": "nope"})), 400).await;
}
