//! Status callbacks (campaign-features.md): a receiver on loopback, which checks every signature
//! and records what it got, is told each status of REST and LIME campaigns' recipients and of the
//! campaigns themselves; in order per recipient, at least once (exactly once here) through
//! receiver failures and a gateway restart; URLs the policy refuses are a 400 naming why; the
//! delivery log and replays; the secret is never shown.

mod support;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use support::*;

const HOOK_SECRET: &str = "whsec_test";
const ANA: &str = "+5531998761234";
const BIA: &str = "+5531998765678";
const CID: &str = "+5531998760003";
/// A simulated person who answers (its number ends in 0005): REPLIED.
const DUDA: &str = "+5531998760005";
const FULL_TYPE: &str = "application/vnd.iris.activecampaign.full-campaign+json";

/// What the receiver saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    id: String,
    kind: String,
    campaign: String,
    /// The recipient (recipient events) or "" (campaign events).
    recipient: String,
    status: String,
    answered: u16,
}

#[derive(Default)]
struct Receiver {
    seen: Mutex<Vec<Seen>>,
    /// Requests still to answer 500.
    fail_next: AtomicUsize,
    /// Answer 500 to everything while set.
    down: AtomicBool,
}

impl Receiver {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn delivered(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.answered == 200).collect()
    }
}

/// Checks the signature (HMAC of "<t>." + body, at most 5 minutes old) and the event id header
/// against the body; records the request; answers 500 while told to.
async fn hook(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("content-type"), "application/json");
    let signature = header("x-irisgate-signature");
    let (t, v1) = signature
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("malformed signature {signature:?}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&body);
    mac.verify_slice(&hex::decode(v1).expect("hex signature")).expect("the signature verifies");
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((-5..300).contains(&age), "signature time {t} is {age} s old");
    let v: Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(header("x-irisgate-event-id"), v["id"].as_str().unwrap());
    assert!(v["created_at"].as_str().is_some_and(|c| c.ends_with('Z')), "{v}");
    let fail = rx.down.load(Ordering::SeqCst)
        || rx.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let answered = if fail { 500 } else { 200 };
    rx.seen.lock().unwrap().push(Seen {
        id: v["id"].as_str().unwrap().to_owned(),
        kind: v["type"].as_str().unwrap().to_owned(),
        campaign: v["data"]["campaign_id"].as_str().unwrap().to_owned(),
        recipient: v["data"]["recipient"].as_str().unwrap_or_default().to_owned(),
        status: v["data"]["status"].as_str().unwrap().to_owned(),
        answered,
    });
    StatusCode::from_u16(answered).unwrap()
}

async fn receiver() -> (SocketAddr, Arc<Receiver>) {
    let rx = Arc::new(Receiver::default());
    let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, rx)
}

/// The development config with loopback receivers allowed and short retries.
fn config() -> irisgate::Config {
    let mut c = irisgate::Config::development();
    c.webhooks = irisgate::config::WebhookSettings {
        allow_http: true,
        allow_private: true,
        first_backoff_ms: 40,
        max_backoff_ms: 200,
        poll_ms: 20,
        ..Default::default()
    };
    c
}

async fn register(rest: &Rest, receiver: SocketAddr) -> String {
    let w = rest
        .created(
            "/webhooks",
            json!({"url": format!("http://{receiver}/hook"), "events": ["recipient.status", "campaign.status"],
                   "secret": HOOK_SECRET}),
        )
        .await;
    assert!(w.get("secret").is_none(), "{w}");
    w["id"].as_str().unwrap().to_owned()
}

/// `set /campaign/full` over `POST /commands`: a LIME campaign, dispatched at once.
async fn lime_campaign(gw: &Gateway, recipients: &[&str]) -> String {
    let c = json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
                   "uri": "/campaign/full", "type": FULL_TYPE, "resource": batch("lime", recipients)});
    let reply = gw.command(c).await.json();
    assert_eq!(reply["status"], "success", "{reply}");
    reply["resource"]["id"].as_str().unwrap().to_owned()
}

/// Waits until the receiver has answered 200 to `n` distinct events.
async fn until_delivered(rx: &Receiver, n: usize) -> Vec<Seen> {
    let got =
        poll(WAIT * 2, || async { rx.delivered() }, |d| d.iter().map(|s| &s.id).collect::<HashSet<_>>().len() >= n)
            .await;
    got.unwrap_or_else(|| panic!("{n} events not delivered; seen {:#?}", rx.seen()))
}

/// Every pending/delivered/failed total of a webhook's log.
async fn log_totals(rest: &Rest, hook: &str) -> (u64, u64, u64) {
    let total = |s: &'static str| {
        let rest = rest.clone();
        let hook = hook.to_owned();
        async move {
            rest.ok_get(&format!("/webhooks/{hook}/deliveries?status={s}")).await["pagination"]["total"]
                .as_u64()
                .unwrap()
        }
    };
    (total("pending").await, total("delivered").await, total("failed").await)
}

/// Each recipient's statuses in the order delivered; and no request for a recipient's next
/// event came before its previous one was answered 200.
fn per_recipient(seen: &[Seen]) -> HashMap<(String, String), Vec<String>> {
    let mut order: HashMap<(String, String), Vec<String>> = HashMap::new();
    let mut waiting: HashMap<(String, String), String> = HashMap::new();
    for s in seen {
        let key = (s.campaign.clone(), s.recipient.clone());
        if let Some(prev) = waiting.get(&key) {
            assert_eq!(prev, &s.id, "{key:?}: {} sent before the previous event was delivered", s.status);
        }
        if s.answered == 200 {
            waiting.remove(&key);
            let statuses = order.entry(key).or_default();
            assert!(!statuses.contains(&s.status), "{} delivered twice", s.id);
            statuses.push(s.status.clone());
        } else {
            waiting.insert(key, s.id.clone());
        }
    }
    order
}

#[tokio::test]
async fn rest_and_lime_campaigns_tell_every_status_in_order_through_receiver_failures() {
    let (addr, rx) = receiver().await;
    // Ten refusals first: the first events are retried, later ones wait behind them.
    rx.fail_next.store(10, Ordering::SeqCst);
    let gw = Gateway::start_with(config()).await;
    let rest = Rest::new(&gw);
    let hook = register(&rest, addr).await;
    rest.contact(json!({"name": "Ana", "phone": ANA})).await;
    rest.contact(json!({"name": "Cid", "phone": CID})).await;
    let from_rest = rest.text_campaign("rest", "Oi", 300, Value::Null).await;
    rest.start(&from_rest).await;
    let from_lime = lime_campaign(&gw, &[ANA, BIA, DUDA]).await;
    rest.until_status(&from_rest, "COMPLETED").await;
    rest.until_status(&from_lime, "COMPLETED").await;
    // REST: Ana 3 + Cid 2 (its number ends in 3: received, no read) + RUNNING, COMPLETED;
    // LIME: Ana 3 + Bia 3 + Duda 4 (she answers) + RUNNING, COMPLETED.
    let delivered = until_delivered(&rx, 7 + 12).await;
    let order = per_recipient(&rx.seen());
    let statuses = |c: &str, r: &str| order.get(&(c.to_owned(), r.to_owned())).cloned().unwrap_or_default();
    let full = ["PROCESSED", "RECEIVED", "READ"];
    assert_eq!(statuses(&from_rest, ANA), full);
    assert_eq!(statuses(&from_rest, CID), ["PROCESSED", "RECEIVED"]);
    assert_eq!(statuses(&from_lime, ANA), full);
    assert_eq!(statuses(&from_lime, BIA), full);
    let duda = statuses(&from_lime, DUDA);
    assert_eq!(duda[0], "PROCESSED", "{duda:?}");
    assert!(duda.contains(&"REPLIED".to_owned()) && duda.contains(&"READ".to_owned()), "{duda:?}");
    assert_eq!(statuses(&from_rest, ""), ["RUNNING", "COMPLETED"]);
    assert_eq!(statuses(&from_lime, ""), ["RUNNING", "COMPLETED"]);
    assert!(delivered
        .iter()
        .all(|s| s.kind == if s.recipient.is_empty() { "campaign.status" } else { "recipient.status" }));
    assert!(rx.seen().iter().filter(|s| s.answered == 500).count() >= 10);
    // The log agrees: everything delivered, some after several attempts.
    assert_eq!(log_totals(&rest, &hook).await, (0, 19, 0));
    let log = rest.ok_get(&format!("/webhooks/{hook}/deliveries?limit=100")).await;
    let rows = log["data"].as_array().unwrap();
    assert!(rows.iter().any(|d| d["attempts"].as_u64() > Some(1)), "{log}");
    assert!(rows.iter().all(|d| d["last_status_code"] == 200 && d["status"] == "delivered"), "{log}");
    gw.stop().await;
}

#[tokio::test]
async fn a_restart_in_the_middle_of_retries_loses_nothing() {
    let (addr, rx) = receiver().await;
    rx.down.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let mut first = config();
    first.storage.path = dir.path().join("irisgate.db");
    let second = first.clone();
    let gw = Gateway::start_with(first).await;
    let rest = Rest::new(&gw);
    let hook = register(&rest, addr).await;
    let campaign = lime_campaign(&gw, &[ANA, BIA, CID]).await;
    rest.until_status(&campaign, "COMPLETED").await;
    // 3 + 3 + 2 recipient events and 2 campaign events, all refused so far.
    let pending = poll(WAIT, || log_totals(&rest, &hook), |t| t.0 == 10).await;
    assert!(pending.is_some(), "10 pending expected: {:?}", log_totals(&rest, &hook).await);
    poll(WAIT, || async { rx.seen().len() }, |n| *n >= 5).await.expect("retries under way");
    gw.stop().await;

    rx.down.store(false, Ordering::SeqCst);
    let gw = Gateway::start_with(second).await;
    let rest = Rest::new(&gw);
    until_delivered(&rx, 10).await;
    let order = per_recipient(&rx.seen());
    assert_eq!(order[&(campaign.clone(), ANA.to_owned())], ["PROCESSED", "RECEIVED", "READ"]);
    assert_eq!(order[&(campaign.clone(), CID.to_owned())], ["PROCESSED", "RECEIVED"]);
    assert_eq!(order[&(campaign.clone(), String::new())], ["RUNNING", "COMPLETED"]);
    let done = poll(WAIT, || log_totals(&rest, &hook), |t| *t == (0, 10, 0)).await;
    assert!(done.is_some(), "{:?}", log_totals(&rest, &hook).await);
    gw.stop().await;
}

#[tokio::test]
async fn an_event_past_its_retry_window_is_marked_failed_and_a_replay_sends_it_again() {
    let (addr, rx) = receiver().await;
    rx.down.store(true, Ordering::SeqCst);
    let mut c = config();
    c.webhooks.retry_for_ms = 300;
    let gw = Gateway::start_with(c).await;
    let rest = Rest::new(&gw);
    let hook = register(&rest, addr).await;
    let campaign = lime_campaign(&gw, &[ANA]).await;
    rest.until_status(&campaign, "COMPLETED").await;
    let failed = poll(WAIT, || log_totals(&rest, &hook), |t| t == &(0, 0, 5)).await;
    assert!(failed.is_some(), "5 failed expected: {:?}", log_totals(&rest, &hook).await);
    let log = rest.ok_get(&format!("/webhooks/{hook}/deliveries?status=failed&limit=100")).await;
    let row = log["data"].as_array().unwrap().iter().find(|d| d["event_status"] == "READ").unwrap().clone();
    assert_eq!(row["last_status_code"], 500, "{row}");
    assert_eq!(row["type"], "recipient.status");
    assert_eq!(row["recipient"], ANA);
    let event = row["event_id"].as_str().unwrap();

    rx.down.store(false, Ordering::SeqCst);
    let replayed = rest.expect("POST", &format!("/webhooks/{hook}/deliveries/{event}/replay"), None, 202).await;
    assert_eq!(replayed["event_id"], event);
    let got = until_delivered(&rx, 1).await;
    assert_eq!(got[0].id, event, "the same event id, sent again");
    assert_eq!(got[0].status, "READ");
    let done = poll(WAIT, || log_totals(&rest, &hook), |t| t == &(0, 1, 4)).await;
    assert!(done.is_some(), "{:?}", log_totals(&rest, &hook).await);
    let unknown = format!("/webhooks/{hook}/deliveries/00000000-0000-0000-0000-000000000000/replay");
    rest.fails("POST", &unknown, None, 404).await;
    gw.stop().await;
}

#[tokio::test]
async fn refused_urls_are_a_400_naming_why_and_the_secret_is_never_shown() {
    // The development config: https only, no private addresses.
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let body = |url: &str| json!({"url": url, "events": ["recipient.status"], "secret": HOOK_SECRET});
    let m = rest.fails("POST", "/webhooks", Some(body("http://127.0.0.1:9/hook")), 400).await;
    assert!(m.contains("webhooks.allow_http"), "{m}");
    for (url, kind) in [
        ("https://127.0.0.1:9/hook", "loopback"),
        ("https://localhost:9/hook", "loopback"),
        ("https://10.0.0.7/hook", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::1]/hook", "loopback"),
    ] {
        let m = rest.fails("POST", "/webhooks", Some(body(url)), 400).await;
        assert!(m.contains(kind) && m.contains("webhooks.allow_private"), "{url}: {m}");
    }
    let m = rest
        .fails(
            "POST",
            "/webhooks",
            Some(json!({"url": "https://203.0.113.9/h", "events": ["sent"], "secret": "s"})),
            400,
        )
        .await;
    assert!(m.contains("unknown event"), "{m}");
    let m = rest
        .fails(
            "POST",
            "/webhooks",
            Some(json!({"url": "https://203.0.113.9/h", "events": ["campaign.status"], "secret": ""})),
            400,
        )
        .await;
    assert!(m.contains("secret"), "{m}");

    // A public address (a documentation range: nothing answers, nothing is resolved).
    let w = rest.created("/webhooks", body("https://203.0.113.9/hook")).await;
    let id = w["id"].as_str().unwrap().to_owned();
    assert_eq!(w["url"], "https://203.0.113.9/hook");
    assert_eq!(w["events"], json!(["recipient.status"]));
    assert!(w["created_at"].is_string() && w.get("secret").is_none(), "{w}");
    let one = rest.ok_get(&format!("/webhooks/{id}")).await;
    let all = rest.ok_get("/webhooks").await;
    for shown in [one.to_string(), all.to_string()] {
        assert!(!shown.contains(HOOK_SECRET) && !shown.contains("secret"), "{shown}");
    }
    assert_eq!(all.as_array().unwrap().len(), 1);
    rest.expect("DELETE", &format!("/webhooks/{id}"), None, 204).await;
    rest.fails("GET", &format!("/webhooks/{id}"), None, 404).await;
    rest.fails("GET", &format!("/webhooks/{id}/deliveries"), None, 404).await;
    gw.stop().await;
}

#[tokio::test]
async fn webhooks_of_the_file_are_listed_and_told_on_the_memory_store_too() {
    let (addr, rx) = receiver().await;
    let mut c = on_memory_store(config());
    c.tenants[0].webhooks.push(irisgate::config::TenantWebhookConfig {
        url: format!("http://{addr}/hook"),
        events: vec!["campaign.status".into()],
        secret: irisgate::secret::Secret::new(HOOK_SECRET),
    });
    let gw = Gateway::start_with(c).await;
    let rest = Rest::new(&gw);
    let listed = rest.ok_get("/webhooks").await;
    assert_eq!(listed[0]["events"], json!(["campaign.status"]), "{listed}");
    let campaign = lime_campaign(&gw, &[ANA]).await;
    rest.until_status(&campaign, "COMPLETED").await;
    until_delivered(&rx, 2).await;
    let order = per_recipient(&rx.seen());
    assert_eq!(order[&(campaign.clone(), String::new())], ["RUNNING", "COMPLETED"]);
    assert!(rx.seen().iter().all(|s| s.kind == "campaign.status"), "only what it subscribed to");
    gw.stop().await;
}
