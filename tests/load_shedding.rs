//! Load shedding (issue 14, point 9) on a real gateway over real sockets: the listener's
//! in-flight cap (503), a tenant's in-flight cap (429 / LIME 85, other tenants unaffected),
//! a tenant's command rate over both faces (429 / LIME 85, recovering), and abandoned
//! `POST /commands` work that cannot pile up. A media link to a local server that accepts
//! and never answers makes `set /audiences/v2/{id}/file` slow for real, and tells the test
//! the moment the command is running.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;
use tokio::sync::mpsc;

/// A TCP server that accepts connections and never answers; one message per connection.
async fn stalling_server() -> (SocketAddr, mpsc::Receiver<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            let _ = tx.try_send(());
        }
    });
    (addr, rx)
}

/// The example configuration plus `otherbot`, media links to loopback allowed.
fn config(media_timeout_ms: u64) -> irisgate::Config {
    let mut config = config_with_tenants();
    config.campaigns.media_link_hosts = vec!["127.0.0.1".into()];
    (config.campaigns.media_link_allow_http, config.campaigns.media_link_allow_private) = (true, true);
    config.campaigns.media_link_timeout_ms = media_timeout_ms;
    config
}

async fn draft(gw: &Gateway) -> String {
    let r = gw
        .command(json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
            "uri": "/campaign/v2", "type": "application/vnd.iris.activecampaign.campaign-dynamic+json",
            "resource": {"campaign": {"name": "slow"}, "message": {"messageTemplate": "email_commerce_resposta"}}}))
        .await
        .json();
    r["resource"]["id"].as_str().unwrap_or_else(|| panic!("a draft: {r}")).to_owned()
}

fn slow_file(campaign: &str, server: SocketAddr) -> Value {
    json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
        "uri": format!("/audiences/v2/{campaign}/file"), "type": "application/vnd.lime.media-link+json",
        "resource": {"uri": format!("http://{server}/audience.csv"), "type": "text/csv"}})
}

fn ping() -> Value {
    json!({"id": id(), "method": "get", "uri": "/ping"})
}

/// Waits until the stalling server has a connection: the slow command is running.
async fn running(rx: &mut mpsc::Receiver<()>) {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("the slow command reaches the media server").unwrap();
}

/// A refusal: `status`, `Retry-After` of whole seconds (1 for these limits), and the JSON
/// problem body naming the setting.
fn assert_refused(reply: &HttpReply, status: u16, error: &str, setting: &str) -> u64 {
    assert_eq!(reply.status, status, "{:?}", String::from_utf8_lossy(&reply.body));
    let retry = reply.headers.get("retry-after").expect("a Retry-After header").to_str().unwrap();
    let seconds: u64 = retry.parse().unwrap_or_else(|_| panic!("Retry-After in seconds, not {retry:?}"));
    assert!((1..=2).contains(&seconds), "Retry-After {seconds}");
    let body = reply.json();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["message"].as_str().unwrap().contains(setting), "{body}");
    seconds
}

fn assert_85(reply: &Value, setting: &str) {
    assert_eq!(reply["status"], "failure", "{reply}");
    assert_eq!(reply["reason"]["code"], 85, "{reply}");
    assert!(reply["reason"]["description"].as_str().unwrap().contains(setting), "{reply}");
}

/// Retries `POST /commands` `get /ping` until it succeeds; returns when it did.
async fn until_answered(gw: &Gateway) -> Instant {
    let deadline = Instant::now() + WAIT;
    loop {
        let r = gw.command(ping()).await;
        if r.status == 200 {
            assert_eq!(r.json()["status"], "success");
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "still refused: {}", r.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn over_the_listener_cap_http_commands_and_rest_get_503_with_retry_after() {
    let mut config = config(1_500);
    config.limits.max_http_inflight = 1;
    let gw = Gateway::start_with(config).await;
    let campaign = draft(&gw).await;
    let (server, mut connected) = stalling_server().await;
    let slow = tokio::spawn({
        let (addr, command) = (gw.addr, slow_file(&campaign, server));
        async move {
            let auth = key_header(BOT, SECRET);
            let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
            http_request(addr, "POST", "/commands", &headers, command.to_string().into()).await
        }
    });
    running(&mut connected).await;
    assert_refused(&gw.command(ping()).await, 503, "Service Unavailable", "max_http_inflight");
    // Every tenant shares the listener: another workspace's REST request is refused too.
    let other = Rest::with_key(&gw, Some(OTHER_KEY));
    assert_refused(&other.get("/campaigns").await, 503, "Service Unavailable", "max_http_inflight");
    assert_refused(&Rest::new(&gw).get("/contacts").await, 503, "Service Unavailable", "max_http_inflight");
    // A liveness probe and a WebSocket session are not HTTP work under the cap.
    let health = http_request(gw.addr, "GET", "/health", &[], Default::default()).await;
    assert_eq!(health.status, 200);
    let mut ws = gw.session().await;
    assert_eq!(ws.call(ping()).await["status"], "success");
    // The slow command ends (its fetch times out: 61) and frees the slot.
    let answered = slow.await.unwrap();
    assert_eq!(answered.status, 200);
    assert_eq!(answered.json()["reason"]["code"], 61, "{:?}", answered.json());
    assert_eq!(other.get("/campaigns").await.status, 200);
    until_answered(&gw).await;
}

#[tokio::test]
async fn over_a_tenant_cap_that_tenant_gets_429_and_85_and_another_tenant_is_served() {
    let mut config = config(1_500);
    config.limits.max_tenant_inflight = 1;
    let gw = Gateway::start_with(config).await;
    let campaign = draft(&gw).await;
    let (server, mut connected) = stalling_server().await;
    // The slot is taken by a WebSocket command; the refusals come on every face.
    let mut ws = gw.session().await;
    let slow = slow_file(&campaign, server);
    ws.send(slow.clone()).await;
    running(&mut connected).await;
    assert_refused(&gw.command(ping()).await, 429, "Too Many Requests", "max_tenant_inflight");
    assert_refused(&Rest::new(&gw).get("/campaigns").await, 429, "Too Many Requests", "max_tenant_inflight");
    let mut second = gw.session().await;
    assert_85(&second.call(ping()).await, "max_tenant_inflight");
    // Another tenant has slots of its own, on both faces.
    let other = Rest::with_key(&gw, Some(OTHER_KEY));
    assert_eq!(other.get("/campaigns").await.status, 200);
    let auth = key_header("otherbot", "other");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let reply = gw.post("/commands", &headers, ping().to_string()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "success", "{:?}", reply.json());
    // The slow command ends (61) and the tenant is served again.
    let first = loop {
        let v = ws.recv().await;
        if v["id"] == slow["id"] {
            break v;
        }
    };
    assert_eq!(first["reason"]["code"], 61, "{first}");
    assert_eq!(second.call(ping()).await["status"], "success");
    assert_eq!(Rest::new(&gw).get("/campaigns").await.status, 200);
}

#[tokio::test]
async fn over_the_command_rate_both_faces_are_refused_until_the_bucket_refills() {
    let mut config = config(1_000);
    // Two a second: a token comes back every 500 ms, time enough for the three refusals
    // below on a busy machine.
    config.tenants[0].max_commands_per_second = 2;
    let gw = Gateway::start_with(config).await;
    let mut ws = gw.session().await;
    // A second's worth at once…
    for _ in 0..2 {
        assert_eq!(ws.call(ping()).await["status"], "success");
    }
    // …then every face of the tenant is over its rate: the tokens are the tenant's.
    assert_85(&ws.call(ping()).await, "max_commands_per_second");
    let wait = assert_refused(&gw.command(ping()).await, 429, "Too Many Requests", "max_commands_per_second");
    assert_refused(&Rest::new(&gw).get("/campaigns").await, 429, "Too Many Requests", "max_commands_per_second");
    // Another tenant has a rate of its own.
    assert_eq!(Rest::with_key(&gw, Some(OTHER_KEY)).get("/campaigns").await.status, 200);
    // After the Retry-After the bucket is full again: a second's worth, on either face.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(ws.call(ping()).await["status"], "success");
    assert_eq!(Rest::new(&gw).get("/campaigns").await.status, 200);
}

#[tokio::test]
async fn a_command_answered_504_keeps_its_slots_until_it_ends_so_abandoned_work_cannot_pile_up() {
    let media_timeout = Duration::from_millis(1_500);
    let mut config = config(media_timeout.as_millis() as u64);
    config.limits.command_timeout_ms = 200;
    config.limits.max_http_inflight = 1;
    config.limits.max_tenant_inflight = 1;
    let gw = Gateway::start_with(config).await;
    let campaign = draft(&gw).await;
    let (server, mut connected) = stalling_server().await;
    let started = Instant::now();
    let timed_out = gw.command(slow_file(&campaign, server)).await;
    assert_eq!(timed_out.status, 504, "{:?}", timed_out.body);
    assert!(timed_out.json()["message"].as_str().unwrap().contains("command_timeout_ms"));
    running(&mut connected).await;
    // The abandoned command still runs and still holds the listener's one slot: a second
    // slow command cannot start beside it, nor any other HTTP request…
    let again = gw.command(slow_file(&campaign, server)).await;
    assert_refused(&again, 503, "Service Unavailable", "max_http_inflight");
    assert!(connected.try_recv().is_err(), "the refused command did not start a fetch");
    assert_refused(&Rest::new(&gw).get("/contacts").await, 503, "Service Unavailable", "max_http_inflight");
    // …and the tenant's one slot: its WebSocket commands are refused too.
    let mut ws = gw.session().await;
    assert_85(&ws.call(ping()).await, "max_tenant_inflight");
    // Once its fetch times out the command ends and both slots free.
    let freed = until_answered(&gw).await;
    let after = freed - started;
    assert!(after >= media_timeout - Duration::from_millis(100), "freed after {after:?}, before the command ended");
    assert!(after < media_timeout + Duration::from_secs(3), "freed only after {after:?}");
    assert_eq!(ws.call(ping()).await["status"], "success");
}

#[test]
fn the_limits_are_named_settings_with_bounds() {
    let example = include_str!("../irisgate.example.toml");
    let minimal = "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\n";
    let c = irisgate::Config::parse(minimal).unwrap();
    assert_eq!(c.tenants[0].max_commands_per_second, 200, "BLiP's figure when absent");
    let refused = |text: String, key: &str, part: &str| {
        let (k, message) = irisgate::Config::parse(&text).unwrap_err();
        assert_eq!(k, key, "{message}");
        assert!(message.contains(part), "{key}: {message}");
    };
    for (name, over) in [("max_http_inflight", 1_000_001), ("max_tenant_inflight", 1_000_001)] {
        refused(format!("[limits]\n{name} = 0\n"), &format!("limits.{name}"), "greater than 0");
        refused(format!("[limits]\n{name} = {over}\n"), &format!("limits.{name}"), "at most");
    }
    for (name, over) in [("receipt_batch", 65_537), ("schedule_queue", 10_000_001)] {
        refused(format!("[campaigns]\n{name} = 0\n"), &format!("campaigns.{name}"), "greater than 0");
        refused(format!("[campaigns]\n{name} = {over}\n"), &format!("campaigns.{name}"), "at most");
    }
    for n in [0, 1_000_001] {
        refused(format!("{minimal}max_commands_per_second = {n}\n"), "tenants[0].max_commands_per_second", "between 1");
    }
    assert!(example.contains("max_http_inflight") && example.contains("max_tenant_inflight"));
}
