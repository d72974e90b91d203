//! Bots' messages to people (conversations.md, Outbound) through the real gateway on SQLite:
//! a WebSocket bot's text reaches the simulator's ledger once and its notifications arrive
//! in order; refused contents and the 24 h window fail with their codes; `POST /messages`
//! answers 202 and the notifications reach `notification_url`; the WhatsApp Cloud API fake
//! receives the exact wire JSON of text, media and reply buttons.

mod support;

use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{json, Value};
use support::fake_whatsapp::FakeWhatsApp;
use support::whatsapp_seed as seed;
use support::{Gateway, Rest, Ws, WAIT};

const PERSON: &str = "5531998761234";

fn to(phone: &str) -> String {
    format!("{phone}@wa.gw.msging.net")
}

/// The development config with a ledger on the WhatsApp simulator and, when given, a
/// `notification_url`.
fn config(dir: &std::path::Path, notification_url: Option<&str>) -> irisgate::Config {
    let mut c = irisgate::Config::development();
    c.tenants[0].channels[0].ledger = Some(dir.join("ledger.jsonl"));
    c.tenants[0].notification_url = notification_url.map(str::to_owned);
    c
}

/// Puts `phone` inside the 24 h window: a contact whose last message was just now.
async fn wrote_recently(gw: &Gateway, phone: &str) {
    let now = chrono::Utc::now().to_rfc3339();
    Rest::new(gw).contact(json!({"phone": format!("+{phone}"), "last_interaction_at": now})).await;
}

fn ledger_lines(dir: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("ledger.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The next notifications about `id` until `last` (skipping anything else).
async fn events(ws: &mut Ws, id: &str, last: &str) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let v = ws.recv().await;
        if v.get("event").is_some() && v["id"] == id {
            let done = v["event"] == last || v["event"] == "failed";
            got.push(v);
            if done {
                return got;
            }
        }
    }
}

fn names(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_websocket_bot_text_is_sent_once_and_its_notifications_arrive_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(config(dir.path(), None)).await;
    wrote_recently(&gw, PERSON).await;
    let mut ws = gw.session().await;
    ws.send(json!({"id": "m1", "to": to(PERSON), "type": "text/plain", "content": "Olá, Maria!"})).await;
    let got = events(&mut ws, "m1", "consumed").await;
    assert_eq!(names(&got), ["accepted", "dispatched", "received", "consumed"], "{got:?}");
    for n in &got {
        assert_eq!(n["from"], to(PERSON), "{n}");
        assert_eq!(n["metadata"]["#message.to"], to(PERSON), "{n}");
        assert_eq!(n["to"], "mybot@msging.net/default", "{n}");
    }
    let sent: Vec<Value> = ledger_lines(dir.path()).into_iter().filter(|l| l["recipient"] == to(PERSON)).collect();
    assert_eq!(sent.len(), 1, "{sent:?}");

    // A message without id is sent and tells nothing; the next one's notifications follow.
    ws.send(json!({"to": to(PERSON), "type": "text/plain", "content": "sem id"})).await;
    ws.send(json!({"id": "m2", "to": to(PERSON), "type": "text/plain", "content": "com id"})).await;
    let got = events(&mut ws, "m2", "dispatched").await;
    assert_eq!(names(&got), ["accepted", "dispatched"]);
    let sent = support::poll(WAIT, || async { ledger_lines(dir.path()) }, |l| l.len() == 3).await;
    assert!(sent.is_some(), "three messages in the ledger: {:?}", ledger_lines(dir.path()));
    gw.stop().await;
}

/// A burst pipelined on one session is stored in a few commits (the intake's group commit):
/// every message is told `accepted` once, in the order it was sent, before anything else
/// about it, and each is sent once.
#[tokio::test]
async fn a_pipelined_burst_is_accepted_in_order_and_sent_once() {
    const N: usize = 300;
    let people = ["5531998761001", "5531998761002", "5531998761003"];
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(config(dir.path(), None)).await;
    for p in people {
        wrote_recently(&gw, p).await;
    }
    let mut ws = gw.session().await;
    for i in 0..N {
        ws.send(json!({"id": format!("b{i}"), "to": to(people[i % 3]), "type": "text/plain", "content": "oi"})).await;
    }
    let (mut accepted, mut seen) = (Vec::new(), std::collections::HashMap::<String, Vec<String>>::new());
    let mut done = 0;
    while done < N {
        let v = ws.recv().await;
        let (Some(event), Some(id)) = (v["event"].as_str(), v["id"].as_str()) else { continue };
        if event == "accepted" {
            accepted.push(id.to_owned());
        }
        seen.entry(id.to_owned()).or_default().push(event.to_owned());
        if event == "consumed" || event == "failed" {
            done += 1;
        }
    }
    let sent_order: Vec<String> = (0..N).map(|i| format!("b{i}")).collect();
    assert_eq!(accepted, sent_order, "one `accepted` each, in the session's order");
    for (id, events) in &seen {
        assert_eq!(events, &["accepted", "dispatched", "received", "consumed"], "{id}");
    }
    assert_eq!(ledger_lines(dir.path()).len(), N, "each message sent once");
    gw.stop().await;
}

#[tokio::test]
async fn unsupported_contents_outside_the_window_and_unknown_people_fail_with_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(config(dir.path(), None)).await;
    wrote_recently(&gw, PERSON).await;
    let mut ws = gw.session().await;
    ws.send(json!({"id": "loc", "to": to(PERSON), "type": "application/vnd.lime.location+json",
                   "content": {"latitude": 1.0, "longitude": 2.0}}))
        .await;
    let got = events(&mut ws, "loc", "failed").await;
    assert_eq!(names(&got), ["failed"]);
    assert_eq!(got[0]["reason"]["code"], 64);
    assert!(
        got[0]["reason"]["description"].as_str().unwrap().contains("application/vnd.lime.location+json"),
        "{got:?}"
    );

    // Nobody ever wrote from this number: outside WhatsApp's 24 h window.
    let stranger = "5531998760042";
    ws.send(json!({"id": "late", "to": to(stranger), "type": "text/plain", "content": "oi"})).await;
    let got = events(&mut ws, "late", "failed").await;
    assert_eq!(names(&got), ["accepted", "failed"]);
    assert_eq!(got[1]["reason"]["code"], 131047, "{got:?}");
    // …but a template is taken outside it.
    let template = json!({"type": "template", "template": {"name": "email_commerce_resposta",
        "language": {"code": "pt_BR"}, "components": [{"type": "body", "parameters": [{"type": "text", "text": "x"}]}]}});
    ws.send(json!({"id": "tpl", "to": to(stranger), "type": "application/json", "content": template})).await;
    assert_eq!(names(&events(&mut ws, "tpl", "dispatched").await), ["accepted", "dispatched"]);

    ws.send(json!({"id": "who", "to": "someone@msging.net", "type": "text/plain", "content": "oi"})).await;
    let got = events(&mut ws, "who", "failed").await;
    assert_eq!(got[0]["reason"]["code"], 42, "{got:?}");
    assert_eq!(ledger_lines(dir.path()).len(), 1, "only the template left");
    gw.stop().await;
}

/// Each notification POSTed: its Authorization header and its body.
type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A loopback `notification_url`: records each body and its Authorization header.
async fn notification_server() -> (String, Seen) {
    use axum::routing::post;
    let seen: Seen = Arc::default();
    let app = axum::Router::new().route(
        "/notify",
        post({
            let seen = seen.clone();
            move |headers: axum::http::HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned());
                    seen.lock().push((auth, serde_json::from_str(&body).unwrap()));
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn post_messages_answers_202_and_the_notifications_reach_notification_url() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = notification_server().await;
    let gw = Gateway::start_with(config(dir.path(), Some(&url))).await;
    wrote_recently(&gw, PERSON).await;
    let auth = support::key_header(support::BOT, support::SECRET);
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let body = json!({"id": "h1", "to": to(PERSON), "type": "text/plain", "content": "pelo HTTP"});
    let r = gw.post("/messages", &headers, body.to_string()).await;
    assert_eq!(r.status, 202);
    let all =
        support::poll(WAIT, || async { seen.lock().clone() }, |s| s.len() >= 4).await.expect("four notifications");
    let events: Vec<&str> = all.iter().map(|(_, n)| n["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["accepted", "dispatched", "received", "consumed"]);
    assert!(all.iter().all(|(a, n)| a.as_deref() == Some(auth.as_str()) && n["id"] == "h1" && n["from"] == to(PERSON)));

    // Refused before anything is stored: the HTTP status says why.
    let bad = json!({"id": "h2", "to": to(PERSON), "type": "application/x-unknown", "content": {}});
    let r = gw.post("/messages", &headers, bad.to_string()).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("application/x-unknown"));
    let r = gw.post("/messages", &[("content-type", "application/json")], body.to_string()).await;
    assert_eq!(r.status, 401);
    assert_eq!(ledger_lines(dir.path()).len(), 1);
    gw.stop().await;
}

#[tokio::test]
async fn the_cloud_api_receives_the_exact_wire_json_of_text_media_and_reply_buttons() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    let gw = Gateway::start_with(seed::config(&fake, "", "")).await;
    fake.open_window(PERSON);
    let mut ws = gw.session().await;
    let sends = [
        ("t", json!({"type": "text/plain", "content": "Olá"})),
        (
            "i",
            json!({"type": "application/vnd.lime.media-link+json",
                     "content": {"type": "image/jpeg", "uri": "https://cdn.test/a.jpg", "text": "Veja"}}),
        ),
        (
            "d",
            json!({"type": "application/vnd.lime.media-link+json",
                     "content": {"type": "application/pdf", "uri": "https://cdn.test/b.pdf", "title": "boleto.pdf"}}),
        ),
        (
            "s",
            json!({"type": "application/vnd.lime.select+json",
                     "content": {"text": "Quer continuar?", "options": [{"text": "Sim", "value": "yes"}, {"text": "Não", "order": 2}]}}),
        ),
    ];
    for (id, m) in &sends {
        let mut m = m.clone();
        m["id"] = json!(id);
        m["to"] = json!(to(PERSON));
        ws.send(m).await;
        let got = events(&mut ws, id, "dispatched").await;
        assert_eq!(names(&got), ["accepted", "dispatched"], "{id}: {got:?}");
    }
    let bodies: Vec<Value> = fake.accepted_to(PERSON).into_iter().map(|a| a.body).collect();
    assert_eq!(bodies.len(), 4, "{bodies:?}");
    let common = |b: &Value| {
        assert_eq!(b["messaging_product"], "whatsapp");
        assert_eq!(b["to"], PERSON);
        assert!(b["biz_opaque_callback_data"].as_str().unwrap().starts_with("ob."), "{b}");
    };
    bodies.iter().for_each(common);
    assert_eq!((&bodies[0]["type"], &bodies[0]["text"]), (&json!("text"), &json!({"body": "Olá"})));
    assert_eq!(bodies[1]["image"], json!({"link": "https://cdn.test/a.jpg", "caption": "Veja"}));
    assert_eq!(bodies[2]["document"], json!({"link": "https://cdn.test/b.pdf", "filename": "boleto.pdf"}));
    assert_eq!(
        bodies[3]["interactive"],
        json!({"type": "button", "body": {"text": "Quer continuar?"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "yes", "title": "Sim"}},
            {"type": "reply", "reply": {"id": "2", "title": "Não"}}]}})
    );
    // The fake's signed statuses route to the notifications of these messages.
    fake.report_read(gw.addr).await;
    let got = events(&mut ws, "t", "consumed").await;
    assert_eq!(names(&got), ["received", "consumed"], "{got:?}");
    gw.stop().await;
}

#[tokio::test]
async fn rbm_receives_text_with_suggested_replies_and_files_and_refuses_templates() {
    use support::fake_rbm::{self, FakeRbm, CLIENT_TOKEN};
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "")).await;
    let mut ws = gw.session().await;
    let rcs = format!("{PERSON}@googlercs.gw.msging.net");
    let select = json!({"text": "Quer continuar?", "options": [{"text": "Sim", "value": "yes"}, {"text": "Não"}]});
    let sends = [
        ("s", json!({"type": "application/vnd.lime.select+json", "content": select})),
        (
            "f",
            json!({"type": "application/vnd.lime.media-link+json",
                     "content": {"type": "image/png", "uri": "https://cdn.test/c.png"}}),
        ),
    ];
    for (id, m) in &sends {
        let mut m = m.clone();
        m["id"] = json!(id);
        m["to"] = json!(rcs);
        ws.send(m).await;
        assert_eq!(names(&events(&mut ws, id, "dispatched").await), ["accepted", "dispatched"], "{id}");
    }
    let bodies: Vec<Value> = fake.accepted().into_iter().map(|a| a.body).collect();
    assert_eq!(
        bodies[0],
        json!({"contentMessage": {"text": "Quer continuar?", "suggestions": [
            {"reply": {"text": "Sim", "postbackData": "yes"}}, {"reply": {"text": "Não", "postbackData": "Não"}}]}})
    );
    assert_eq!(bodies[1], json!({"contentMessage": {"contentInfo": {"fileUrl": "https://cdn.test/c.png"}}}));
    let template = json!({"type": "template", "template": {"name": "x", "language": {"code": "pt_BR"}}});
    ws.send(json!({"id": "t", "to": rcs, "type": "application/json", "content": template})).await;
    let got = events(&mut ws, "t", "failed").await;
    assert_eq!(got.last().unwrap()["reason"]["code"], 64, "{got:?}");
    assert_eq!(fake.accepted().len(), 2);
    // Google's DELIVERED / READ events reach the bot as received / consumed.
    fake.deliver_and_read_all(gw.addr).await;
    assert_eq!(names(&events(&mut ws, "s", "consumed").await), ["received", "consumed"]);
    gw.stop().await;
}
