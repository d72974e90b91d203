//! Status callbacks during a large dispatch (issue 16's speed goal): the same N-recipient
//! dispatch with all receipts, run twice in one process against a real `irisgate serve` on
//! the default SQLite store — once without webhooks (the baseline), once with a webhook to a
//! fast loopback receiver that checks every signature and counts every event id. Prints the
//! dispatch rate of both runs, their ratio, and how long after the dispatch's end the last
//! status event arrived.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_callbacks -- [-n 200000]
//! ```
//!
//! Each figure is printed as a line `RESULT {json}` for BENCHMARKS.md.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use clap::Parser;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde_json::{json, Value};
use sha2::Sha256;

const CAMPAIGN_NODE: &str = "postmaster@activecampaign.msging.net";
const SECRET: &str = "bench-secret";

#[derive(Parser)]
struct Cli {
    /// Recipients of each dispatch.
    #[arg(short, long, default_value_t = 200_000)]
    n: usize,
    /// Seconds to wait for the last event after the dispatch ended.
    #[arg(long, default_value_t = 600)]
    drain_s: u64,
}

fn gateway_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe.parent().and_then(Path::parent).expect("target dir").join("irisgate");
    assert!(bin.exists(), "{} is missing: run `cargo build --release` first", bin.display());
    bin
}

/// One workspace on SQLite, a simulator channel answering at once; a webhook when `hook` is set.
fn write_config(dir: &Path, hook: Option<SocketAddr>) -> PathBuf {
    let webhook = hook
        .map(|addr| {
            format!(
                "[[tenants.webhooks]]\nurl = \"http://{addr}/hook\"\nevents = [\"recipient.status\", \"campaign.status\"]\nsecret = \"{SECRET}\"\n"
            )
        })
        .unwrap_or_default();
    let text = format!(
        r#"
listen = "127.0.0.1:0"
default_country_code = "55"

[limits]
max_envelope_bytes = 67108864
command_timeout_ms = 600000

[campaigns]
max_recipients_per_campaign = 2000000

[webhooks]
allow_http = true
allow_private = true

[storage]
kind = "sqlite"
path = {db:?}

[[tenants]]
identifier = "benchbot"
access_key = "c2VjcmV0"
api_keys = ["wk_bench"]
features = ["campaigns"]
max_commands_per_second = 1000000

[[tenants.channels]]
id = "wa"
type = "whatsapp"
default = true
delivered_after_ms = 0
read_after_ms = 0

[[tenants.templates]]
id = "two_params"
channel = "wa"
name = "two_params"
status = "APPROVED"
body = "Olá {{{{1}}}}, seu código é {{{{2}}}}."

{webhook}"#,
        db = dir.join("irisgate.db"),
    );
    let path = dir.join("irisgate.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

struct Server(Child, SocketAddr);

impl Server {
    async fn start(config: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let child = Command::new(gateway_binary())
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", &addr.to_string()])
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn irisgate");
        let server = Server(child, addr);
        let lime = Lime::new(addr);
        let started = Instant::now();
        while lime
            .call(json!({"to": "postmaster@msging.net", "method": "get", "uri": "/ping"}))
            .await
            .ok()
            .is_none_or(|r| r["status"] != "success")
        {
            assert!(started.elapsed() < Duration::from_secs(300), "gateway did not start");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `POST /commands` as the bench workspace.
struct Lime {
    http: reqwest::Client,
    url: String,
    auth: String,
}

impl Lime {
    fn new(addr: SocketAddr) -> Lime {
        let auth = format!("Key {}", base64::engine::general_purpose::STANDARD.encode("benchbot:secret"));
        Lime { http: reqwest::Client::new(), url: format!("http://{addr}/commands"), auth }
    }

    async fn call(&self, mut command: Value) -> Result<Value, reqwest::Error> {
        command["id"] = uuid::Uuid::new_v4().to_string().into();
        let reply = self.http.post(&self.url).header("authorization", &self.auth).json(&command).send().await?;
        reply.json().await
    }

    async fn ok(&self, method: &str, uri: &str, body: Option<(&str, Value)>) -> Value {
        let mut command = json!({"to": CAMPAIGN_NODE, "method": method, "uri": uri});
        if let Some((t, r)) = body {
            command["type"] = t.into();
            command["resource"] = r;
        }
        let reply = self.call(command).await.expect("gateway reachable");
        assert_eq!(reply["status"], "success", "{method} {uri}: {reply}");
        reply["resource"].clone()
    }

    async fn read(&self, id: &str) -> u64 {
        let r = self.ok("get", &format!("/campaigns/{id}/reports?$take=1"), None).await;
        r["audienceCounts"]["read"].as_u64().unwrap_or(0)
    }
}

/// Builds an N-recipient campaign, dispatches it and waits until everyone is READ: the
/// seconds from the dispatch command to the last READ.
async fn dispatch(addr: SocketAddr, n: usize) -> f64 {
    let lime = Lime::new(addr);
    let c = lime
        .ok(
            "set",
            "/campaign/v2",
            Some((
                "application/vnd.iris.activecampaign.campaign-dynamic+json",
                json!({"campaign": {"name": "cb", "campaignType": "Batch", "flowId": "f", "stateId": "s"},
                       "message": {"messageTemplate": "two_params", "messageParams": ["1", "2"]}}),
            )),
        )
        .await;
    let id = c["id"].as_str().expect("campaign id").to_owned();
    for start in (0..n).step_by(100_000) {
        let mut csv = String::from("phone,1,2\n");
        for i in start..(start + 100_000).min(n) {
            // Last four digits 1000–9999: never one of the simulator's test numbers.
            csv.push_str(&format!("55319{:04}{:04},a{i},b\n", i / 9000, 1000 + i % 9000));
        }
        lime.ok("set", &format!("/audiences/v2/{id}/file"), Some(("text/csv", Value::String(csv)))).await;
    }
    let t = Instant::now();
    lime.ok("set", "/dispatch/v2", Some(("application/vnd.iris.activecampaign.campaign+json", json!({"id": id}))))
        .await;
    while lime.read(&id).await < n as u64 {
        assert!(t.elapsed() < Duration::from_secs(1800), "dispatch did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.elapsed().as_secs_f64()
}

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    duplicates: u64,
    bad_signatures: u64,
    read_events: u64,
    last: Option<Instant>,
}

async fn hook(State(seen): State<Arc<Mutex<Seen>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers.get("x-irisgate-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    let part = |k: &str| header.split(',').find_map(|p| p.strip_prefix(k)).unwrap_or("");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(part("t=").as_bytes());
    mac.update(b".");
    mac.update(&body);
    let valid = hex::decode(part("v1=")).is_ok_and(|sig| mac.verify_slice(&sig).is_ok());
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut seen = seen.lock();
    if !valid {
        seen.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    if !seen.ids.insert(id) {
        seen.duplicates += 1;
    } else if event["type"] == "recipient.status" && event["data"]["status"] == "READ" {
        seen.read_events += 1;
    }
    seen.last = Some(Instant::now());
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let n = cli.n;

    let base_dir = tempfile::tempdir().expect("tempdir");
    let baseline = {
        let server = Server::start(&write_config(base_dir.path(), None)).await;
        dispatch(server.1, n).await
    };
    eprintln!("without webhooks: {n} recipients READ after {baseline:.1} s");

    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
    let receiver = listener.local_addr().expect("receiver address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });

    let hook_dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&write_config(hook_dir.path(), Some(receiver))).await;
    let t = Instant::now();
    let with_hooks = dispatch(server.1, n).await;
    let dispatch_end = Instant::now();
    eprintln!("with webhooks: {n} recipients READ after {with_hooks:.1} s");
    let drain_until = dispatch_end + Duration::from_secs(cli.drain_s);
    // Done when every READ has arrived and nothing more came for 2 s (the campaign's own
    // status events and any stragglers).
    loop {
        let (reads, last) = {
            let s = seen.lock();
            (s.read_events, s.last)
        };
        if reads >= n as u64 && last.is_some_and(|l| l.elapsed() > Duration::from_secs(2)) {
            break;
        }
        if Instant::now() > drain_until {
            eprintln!("gave up waiting: {reads} of {n} READ events after {} s", cli.drain_s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = seen.lock();
    let last = s.last.unwrap_or(dispatch_end);
    let lag = last.saturating_duration_since(dispatch_end).as_secs_f64();
    let events = s.ids.len();
    let line = json!({
        "recipients": n,
        "dispatch_s_without_webhooks": baseline,
        "dispatch_s_with_webhooks": with_hooks,
        "dispatch_rate_ratio": baseline / with_hooks,
        "events": events,
        "read_events": s.read_events,
        "duplicates": s.duplicates,
        "bad_signatures": s.bad_signatures,
        "last_event_after_dispatch_end_s": lag,
        "events_per_s": events as f64 / last.duration_since(t).as_secs_f64(),
    });
    println!("RESULT {line}");
}
