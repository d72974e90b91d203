//! The metrics port and `/ready` (operations.md): counts read back over HTTP from the metrics
//! port equal what the test drove, labels are bounded (route patterns, never ids or phones),
//! `[metrics] listen = ""` records nothing, and `/ready` follows the store.

mod support;

use std::net::SocketAddr;

use bytes::Bytes;
use serde_json::{json, Value};
use support::*;

const PHONES: [&str; 5] = ["+5531998761001", "+5531998761002", "+5531998761003", "+5531998761004", "+5531998761005"];

async fn scrape(addr: SocketAddr) -> String {
    let reply = http_request(addr, "GET", "/metrics", &[], Bytes::new()).await;
    assert_eq!(reply.status, 200);
    let content_type = reply.headers.get("content-type").unwrap().to_str().unwrap();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    String::from_utf8(reply.body.to_vec()).unwrap()
}

/// The sum of the samples of `name` whose labels include every pair of `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

fn ping(id: &str) -> Value {
    json!({"id": id, "method": "get", "uri": "/ping"})
}

fn full_campaign(name: &str) -> Value {
    let audiences: Vec<Value> =
        PHONES.iter().map(|p| json!({"recipient": p, "messageParams": {"nome": "Ana"}})).collect();
    json!({"id": uuid::Uuid::new_v4().to_string(), "to": "postmaster@activecampaign.msging.net", "method": "set",
        "uri": "/campaign/full", "type": "application/vnd.iris.activecampaign.full-campaign+json",
        "resource": {"campaign": {"name": name, "campaignType": "Batch", "channelType": "GoogleRcs"},
                     "audiences": audiences,
                     "message": {"messageContent": "Olá {{nome}}", "channelType": "GoogleRcs"}}})
}

#[tokio::test]
async fn counters_equal_what_was_driven_over_ws_http_and_a_campaign() {
    let gw = Gateway::start().await;
    let metrics = gw.metrics_addr.expect("metrics on by default");
    let mut ws = gw.session().await;
    for i in 0..7 {
        assert_eq!(ws.call(ping(&format!("w{i}"))).await["status"], "success");
    }
    for i in 0..3 {
        assert_eq!(gw.command(ping(&format!("h{i}"))).await.status, 200);
    }
    let unknown = gw.command(json!({"id": "u", "method": "get", "uri": "/nowhere"})).await.json();
    assert_eq!(unknown["reason"]["code"], 62, "{unknown}");
    let created = gw.command(full_campaign("metered")).await.json();
    assert_eq!(created["status"], "success", "{created}");
    let id = created["resource"]["id"].as_str().unwrap().to_owned();
    let rest = Rest::new(&gw);
    rest.stats_until(&id, "all read", |s| s["read"] == PHONES.len()).await;

    let text = scrape(metrics).await;
    let commands = "irisgate_commands_total";
    let ok = ("status", "success");
    assert_eq!(value(&text, commands, &[("transport", "ws"), ("route", "/ping"), ok]), 7.0, "{text}");
    assert_eq!(value(&text, commands, &[("transport", "http"), ("route", "/ping"), ok]), 3.0, "{text}");
    assert_eq!(
        value(&text, commands, &[("transport", "http"), ("route", "/campaign/full"), ("node", "campaigns")]),
        1.0
    );
    assert_eq!(value(&text, commands, &[("route", "unknown"), ("status", "failure"), ("reason", "62")]), 1.0, "{text}");
    assert_eq!(
        value(&text, "irisgate_command_duration_seconds_count", &[("transport", "ws"), ("route", "/ping")]),
        7.0
    );
    let n = PHONES.len() as f64;
    assert_eq!(value(&text, "irisgate_sends_total", &[("outcome", "accepted")]), n, "{text}");
    assert_eq!(value(&text, "irisgate_sends_total", &[("outcome", "failed")]), 0.0, "{text}");
    assert_eq!(value(&text, "irisgate_receipts_total", &[("status", "received")]), n, "{text}");
    assert_eq!(value(&text, "irisgate_receipts_total", &[("status", "read")]), n, "{text}");
    assert_eq!(value(&text, "irisgate_sessions", &[]), 1.0, "{text}");
    assert_eq!(value(&text, "irisgate_sessions_opened_total", &[]), 1.0, "{text}");
    // 3 pings + the unknown uri + the campaign over POST /commands, by route pattern.
    assert_eq!(value(&text, "irisgate_http_requests_total", &[("face", "commands"), ("route", "/commands")]), 5.0);
    let stats_route = [("face", "rest"), ("route", "/api/v1/campaigns/{id}/stats"), ("status", "200")];
    assert!(value(&text, "irisgate_http_requests_total", &stats_route) >= 1.0, "{text}");
    assert_eq!(value(&text, "irisgate_campaigns", &[("status", "COMPLETED")]), 1.0, "{text}");
    assert_eq!(value(&text, "irisgate_campaigns", &[("status", "RUNNING")]), 0.0, "{text}");
    assert!(value(&text, "process_resident_memory_bytes", &[]) > 0.0, "{text}");
    // Bounded labels: no campaign id, no phone number, no raw path.
    assert!(!text.contains(&id), "a campaign id in a label");
    assert!(PHONES.iter().all(|p| !text.contains(&p[1..])), "a phone number in a label");
    drop(ws);
    gw.stop().await;
}

#[tokio::test]
async fn metrics_listen_empty_turns_the_port_off() {
    let mut config = irisgate::Config::parse("[metrics]\nlisten = \"\"\n").unwrap();
    config.tenants = irisgate::Config::development().tenants;
    assert_eq!(config.metrics.listen, None);
    let gw = Gateway::start_with(config).await;
    assert!(gw.metrics_addr.is_none());
    assert_eq!(gw.command(ping("p")).await.status, 200);
    gw.stop().await;
}

#[tokio::test]
async fn ready_is_200_on_sqlite_and_health_stays_as_it_was() {
    let gw = Gateway::start().await;
    let ready = http_request(gw.addr, "GET", "/ready", &[], Bytes::new()).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json(), json!({"status": "ok", "checks": {"store": "ok"}}));
    let health = http_request(gw.addr, "GET", "/health", &[], Bytes::new()).await;
    assert_eq!(health.json(), json!({"status": "ok"}));
    gw.stop().await;
}

/// A TCP forwarder to PostgreSQL that the test can cut: the gateway's store becomes
/// unreachable (open connections reset, new ones refused).
struct Proxy {
    addr: SocketAddr,
    tasks: tokio::task::JoinSet<()>,
}

impl Proxy {
    async fn to(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(async move {
            // Aborting this task drops the listener and `pipes`, which aborts every connection.
            let mut pipes = tokio::task::JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                let upstream = upstream.clone();
                pipes.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Proxy { addr, tasks }
    }

    /// Closes the listener and every forwarded connection.
    async fn cut(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

#[tokio::test]
async fn ready_is_503_naming_the_store_when_postgres_is_gone() {
    let Some(url) = support::postgres::fresh_schema("ig_test_ready").await else { return };
    // postgres://user@HOST:PORT/db?…: the same URL through the proxy.
    let at = url.find('@').unwrap() + 1;
    let end = at + url[at..].find('/').unwrap();
    let proxy = Proxy::to(url[at..end].to_owned()).await;
    let mut config = irisgate::Config::development();
    config.storage.kind = irisgate::config::StorageKind::Postgres;
    config.storage.url = Some(format!("{}{}{}", &url[..at], proxy.addr, &url[end..]));
    let gw = Gateway::start_with(config).await;
    let ready = poll(WAIT, || http_request(gw.addr, "GET", "/ready", &[], Bytes::new()), |r| r.status == 200).await;
    assert!(ready.is_some(), "ready on a live PostgreSQL");
    proxy.cut().await;
    let started = std::time::Instant::now();
    let ready = http_request(gw.addr, "GET", "/ready", &[], Bytes::new()).await;
    assert_eq!(ready.status, 503, "{:?}", ready.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "answered within the store's 1 s and some");
    let body = ready.json();
    assert_eq!(body["status"], "unavailable", "{body}");
    let store = body["checks"]["store"].as_str().unwrap();
    assert!(store.starts_with("error") || store.starts_with("timeout"), "{body}");
    assert!(!store.contains("5432") && !store.contains("postgres"), "no connection details: {body}");
    gw.shutdown.cancel();
}

#[tokio::test]
async fn webhook_calls_are_counted_by_provider_and_result() {
    let gw = Gateway::start().await;
    assert_eq!(gw.post("/webhooks/rbm", &[], "{not json").await.status, 400);
    let signed = [("x-goog-signature", "AAAA")];
    let unsigned = gw.post("/webhooks/rbm", &signed, r#"{"message":{"data":"e30="}}"#).await;
    assert_eq!(unsigned.status, 401);
    assert_eq!(gw.post("/webhooks/whatsapp", &[], "{}").await.status, 401);
    let text = scrape(gw.metrics_addr.unwrap()).await;
    let webhooks = "irisgate_webhooks_total";
    assert_eq!(value(&text, webhooks, &[("provider", "rbm"), ("result", "malformed")]), 1.0, "{text}");
    assert_eq!(value(&text, webhooks, &[("provider", "rbm"), ("result", "bad_signature")]), 1.0, "{text}");
    assert_eq!(value(&text, webhooks, &[("provider", "whatsapp"), ("result", "bad_signature")]), 1.0, "{text}");
    assert_eq!(value(&text, webhooks, &[("result", "ok")]), 0.0, "{text}");
    gw.stop().await;
}
