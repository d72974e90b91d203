//! Campaign-engine benchmarks against a real `irisgate serve` process on loopback: audience
//! ingest, memory per recipient, dispatch with receipts, report pages, restart after a crash,
//! and the REST face's preview / start / stats on a million contacts.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_campaigns -- <scenario> [--store S] [-n N]
//! ```
//!
//! Scenarios: `full` (`set /campaign/full`, 100,000 audiences × 2 params: reply latency, peak
//! RSS), `ingest` (`/audiences/v2/{id}/file`, N CSV lines in 100,000-line chunks: rows/s and
//! bytes per recipient), `dispatch` (N recipients at latency 0, no ceiling: sends/s and
//! receipts/s, then 100-row report pages), `restart` (kill -9 at half sent, start again:
//! time to serving and to the next send), `rest` (N contacts, three combined filters: preview,
//! start, then `GET /stats` from 64 clients). `--store memory|sqlite|postgres` (PostgreSQL:
//! `DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`, a fresh schema per run).
//! Every figure is printed as a line `RESULT {json}` for BENCHMARKS.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

const CAMPAIGN_NODE: &str = "postmaster@activecampaign.msging.net";
const API_KEY: &str = "wk_bench";

#[derive(Parser)]
struct Cli {
    #[arg(value_enum)]
    scenario: Scenario,
    #[arg(long, value_enum, default_value = "memory")]
    store: StoreKind,
    /// Recipients (or contacts); defaults per scenario.
    #[arg(short, long)]
    n: Option<usize>,
    /// CSV lines per `/audiences/v2/{id}/file` command.
    #[arg(long, default_value_t = 100_000)]
    chunk: usize,
    /// Concurrent clients for `rest`'s stats load.
    #[arg(short, long, default_value_t = 64)]
    clients: usize,
    /// Seconds of stats load.
    #[arg(short, long, default_value_t = 5)]
    duration: u64,
    /// `restart`: stop once sending has resumed instead of waiting for the whole campaign.
    #[arg(long)]
    no_finish: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Scenario {
    Full,
    Ingest,
    Dispatch,
    Restart,
    Rest,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum StoreKind {
    Memory,
    Sqlite,
    Postgres,
}

impl StoreKind {
    fn name(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

fn result(scenario: &str, store: StoreKind, mut fields: Value) {
    fields["scenario"] = scenario.into();
    fields["store"] = store.name().into();
    println!("RESULT {fields}");
}

/// The gateway binary next to this example (`target/release/irisgate`).
fn gateway_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe.parent().and_then(Path::parent).expect("target dir").join("irisgate");
    assert!(bin.exists(), "{} is missing: run `cargo build --release` first", bin.display());
    bin
}

/// A configuration with one workspace, a simulator channel answering at once and no ceiling.
async fn write_config(dir: &Path, store: StoreKind, max_per_second: Option<u32>) -> PathBuf {
    let storage = match store {
        StoreKind::Memory => "kind = \"memory\"".to_owned(),
        StoreKind::Sqlite => format!("kind = \"sqlite\"\npath = {:?}", dir.join("irisgate.db")),
        // A stable node id: a restarted node takes its own leases back at once instead of
        // waiting for them to expire (README, "Storage").
        StoreKind::Postgres => {
            format!("kind = \"postgres\"\nurl = {:?}\nnode_id = \"bench-node\"", postgres_schema().await)
        }
    };
    // `BENCH_DISPATCH_BATCH` tries another `campaigns.dispatch_batch`.
    let batch = std::env::var("BENCH_DISPATCH_BATCH").map(|b| format!("dispatch_batch = {b}")).unwrap_or_default();
    let ceiling = max_per_second.map(|n| format!("max_per_second = {n}")).unwrap_or_default();
    let text = format!(
        r#"
listen = "127.0.0.1:0"
default_country_code = "55"

[limits]
max_envelope_bytes = 67108864
command_timeout_ms = 600000

[campaigns]
max_recipients_per_campaign = 2000000
{batch}

[storage]
{storage}

[[tenants]]
identifier = "benchbot"
access_key = "c2VjcmV0"
api_keys = ["{API_KEY}"]
features = ["campaigns"]
max_commands_per_second = 1000000

[[tenants.channels]]
id = "wa"
type = "whatsapp"
default = true
delivered_after_ms = 0
read_after_ms = 0
{ceiling}

[[tenants.templates]]
id = "two_params"
channel = "wa"
name = "two_params"
status = "APPROVED"
body = "Olá {{{{1}}}}, seu código é {{{{2}}}}."
"#
    );
    let path = dir.join("irisgate.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Schemas this run created, dropped when it ends (a million-recipient run leaves ~1 GB).
static SCHEMAS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Drops the schemas of [`SCHEMAS`]; the gateways using them are gone by then.
async fn drop_schemas() {
    let schemas = std::mem::take(&mut *SCHEMAS.lock().unwrap());
    if schemas.is_empty() {
        return;
    }
    let base = database_url();
    let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL reachable");
    for schema in schemas {
        if let Err(e) = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin).await {
            eprintln!("could not drop schema {schema}: {e}");
        }
    }
}

/// A fresh schema on the PostgreSQL test database; its URL.
async fn postgres_schema() -> String {
    let base = database_url();
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL reachable");
    let schema = format!("ig_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.expect("create schema");
    SCHEMAS.lock().unwrap().push(schema.clone());
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// `irisgate serve` as a child process.
struct Server {
    child: Child,
    addr: SocketAddr,
    config: PathBuf,
}

impl Server {
    /// Starts the gateway and waits until it answers `get /ping`; returns it and that wait.
    async fn start(config: &Path) -> (Server, Duration) {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let started = Instant::now();
        let child = Command::new(gateway_binary())
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", &addr.to_string()])
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn irisgate");
        let server = Server { child, addr, config: config.to_owned() };
        let lime = server.lime();
        loop {
            if let Ok(r) = lime.try_call(json!({"to": "postmaster@msging.net", "method": "get", "uri": "/ping"})).await
            {
                if r["status"] == "success" {
                    break;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(300), "gateway did not start");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (server, started.elapsed())
    }

    fn lime(&self) -> Lime {
        Lime::new(self.addr)
    }

    fn rest(&self) -> Rest {
        Rest { http: client(), base: format!("http://{}/api/v1", self.addr) }
    }

    /// (VmRSS, VmHWM) in bytes.
    fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        (kb("VmRSS:"), kb("VmHWM:"))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("http client")
}

/// `POST /commands` as the bench workspace.
#[derive(Clone)]
struct Lime {
    http: reqwest::Client,
    url: String,
    auth: String,
}

impl Lime {
    fn new(addr: SocketAddr) -> Lime {
        let auth = format!("Key {}", base64::engine::general_purpose::STANDARD.encode("benchbot:secret"));
        Lime { http: client(), url: format!("http://{addr}/commands"), auth }
    }

    async fn try_call(&self, mut command: Value) -> Result<Value, reqwest::Error> {
        command["id"] = uuid::Uuid::new_v4().to_string().into();
        let body = serde_json::to_vec(&command).expect("serialise");
        let reply = self
            .http
            .post(&self.url)
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let bytes = reply.bytes().await?;
        Ok(serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)})))
    }

    /// A campaign-extension command that must succeed; its resource.
    async fn ok(&self, method: &str, uri: &str, body: Option<(&str, Value)>) -> Value {
        let mut command = json!({"to": CAMPAIGN_NODE, "method": method, "uri": uri});
        if let Some((t, r)) = body {
            command["type"] = t.into();
            command["resource"] = r;
        }
        let reply = self.try_call(command).await.expect("gateway reachable");
        assert_eq!(reply["status"], "success", "{method} {uri}: {reply}");
        reply["resource"].clone()
    }

    async fn new_campaign(&self, name: &str) -> String {
        let c = self
            .ok(
                "set",
                "/campaign/v2",
                Some((
                    "application/vnd.iris.activecampaign.campaign-dynamic+json",
                    json!({"campaign": {"name": name, "campaignType": "Batch", "flowId": "f", "stateId": "s"},
                           "message": {"messageTemplate": "two_params", "messageParams": ["1", "2"]}}),
                )),
            )
            .await;
        c["id"].as_str().expect("campaign id").to_owned()
    }

    async fn add_csv(&self, id: &str, csv: String) -> Value {
        self.ok("set", &format!("/audiences/v2/{id}/file"), Some(("text/csv", Value::String(csv)))).await
    }

    async fn dispatch(&self, id: &str) {
        self.ok("set", "/dispatch/v2", Some(("application/vnd.iris.activecampaign.campaign+json", json!({"id": id}))))
            .await;
    }

    /// `audienceCounts` of the campaign's summary.
    async fn counts(&self, id: &str) -> Value {
        self.ok("get", &format!("/campaigns/{id}/reports?$take=1"), None).await["audienceCounts"].clone()
    }
}

/// Recipient `i` as a distinct Brazilian mobile whose last four digits are never a simulator
/// test number (0000–0004).
fn phone(i: usize) -> String {
    format!("55319{:04}{:04}", i / 9000, 1000 + i % 9000)
}

/// Parameter text of recipient `i`: name and code, 16 bytes together.
fn params(i: usize) -> (String, String) {
    (format!("Nome {:05}", i % 100_000), format!("C{:05}", i % 100_000))
}

const PARAM_TEXT_BYTES: u64 = 16;

fn csv_chunk(range: std::ops::Range<usize>) -> String {
    let mut s = String::with_capacity(range.len() * 34 + 8);
    s.push_str("phone,1,2\n");
    for i in range {
        let (a, b) = params(i);
        s.push_str(&format!("{},{a},{b}\n", phone(i)));
    }
    s
}

/// Fills campaign `id` with `n` recipients in `chunk`-line CSV commands; rows/s.
async fn ingest(lime: &Lime, id: &str, n: usize, chunk: usize) -> (f64, Vec<f64>) {
    let mut total = Duration::ZERO;
    let mut per_chunk = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + chunk).min(n);
        let csv = csv_chunk(start..end);
        let t = Instant::now();
        let r = lime.add_csv(id, csv).await;
        let took = t.elapsed();
        assert_eq!(r["added"].as_u64(), Some((end - start) as u64), "every line added: {r}");
        total += took;
        per_chunk.push(took.as_secs_f64() * 1000.0);
        start = end;
    }
    (n as f64 / total.as_secs_f64(), per_chunk)
}

fn sent(counts: &Value) -> u64 {
    let n = |k: &str| counts[k].as_u64().unwrap_or(0);
    n("processed") + n("received") + n("read")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    match cli.scenario {
        Scenario::Full => full(&cli, dir.path()).await,
        Scenario::Ingest => ingest_scenario(&cli, dir.path()).await,
        Scenario::Dispatch => dispatch_scenario(&cli, dir.path()).await,
        Scenario::Restart => restart_scenario(&cli, dir.path()).await,
        Scenario::Rest => rest_scenario(&cli, dir.path()).await,
    }
    drop_schemas().await;
}

/// `set /campaign/full` with N audiences of two params, three times.
async fn full(cli: &Cli, dir: &Path) {
    let n = cli.n.unwrap_or(100_000);
    let config = write_config(dir, cli.store, None).await;
    let (server, _) = Server::start(&config).await;
    let lime = server.lime();
    let (rss_before, _) = server.memory();
    let audiences: Vec<Value> = (0..n)
        .map(|i| {
            let (a, b) = params(i);
            json!({"recipient": phone(i), "messageParams": {"1": a, "2": b}})
        })
        .collect();
    let mut latencies = Vec::new();
    for round in 0..3 {
        let resource = json!({
            "campaign": {"name": format!("full {round}"), "campaignType": "Batch", "flowId": "f", "stateId": "s"},
            "audiences": audiences,
            "message": {"messageTemplate": "two_params", "messageParams": ["1", "2"]}
        });
        let body_bytes = serde_json::to_vec(&resource).unwrap().len();
        let t = Instant::now();
        lime.ok("set", "/campaign/full", Some(("application/vnd.iris.activecampaign.full-campaign+json", resource)))
            .await;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let (rss, hwm) = server.memory();
        eprintln!("round {round}: {ms:.0} ms, body {body_bytes} B, RSS {:.1} MiB, peak {:.1} MiB", mib(rss), mib(hwm));
        latencies.push(ms);
    }
    let (rss, hwm) = server.memory();
    latencies.sort_by(f64::total_cmp);
    result(
        "full",
        cli.store,
        json!({"audiences": n, "latency_ms": latencies, "median_ms": latencies[1],
               "rss_before_mib": mib(rss_before), "rss_after_mib": mib(rss), "peak_rss_mib": mib(hwm)}),
    );
}

/// N CSV lines in chunks into one campaign: rows/s, and memory per recipient.
async fn ingest_scenario(cli: &Cli, dir: &Path) {
    let n = cli.n.unwrap_or(1_000_000);
    let config = write_config(dir, cli.store, None).await;
    let (server, _) = Server::start(&config).await;
    let lime = server.lime();
    // A small campaign first, so that start-up allocations are not counted per recipient.
    let warm = lime.new_campaign("warm-up").await;
    ingest(&lime, &warm, 1000, 1000).await;
    let (rss_before, _) = server.memory();
    let id = lime.new_campaign("ingest").await;
    let (rate, per_chunk) = ingest(&lime, &id, n, cli.chunk).await;
    let (rss, hwm) = server.memory();
    let total = lime.counts(&id).await["total"].as_u64().unwrap_or(0);
    assert_eq!(total, n as u64, "every line stored");
    let per_recipient = rss.saturating_sub(rss_before) as f64 / n as f64;
    result(
        "ingest",
        cli.store,
        json!({"rows": n, "chunk": cli.chunk, "rows_per_s": rate.round(), "chunk_ms": per_chunk,
               "rss_before_mib": mib(rss_before), "rss_after_mib": mib(rss), "peak_rss_mib": mib(hwm),
               "rss_bytes_per_recipient": per_recipient.round(),
               "beyond_param_text": (per_recipient - PARAM_TEXT_BYTES as f64).round()}),
    );
}

/// Waits until `done(counts)`; polls the summary every 20 ms. Returns when and the counts.
async fn until(lime: &Lime, id: &str, within: Duration, done: impl Fn(&Value) -> bool) -> (Duration, Value) {
    let t = Instant::now();
    loop {
        let c = lime.counts(id).await;
        if done(&c) {
            return (t.elapsed(), c);
        }
        assert!(t.elapsed() < within, "not reached in {within:?}: {c}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Dispatch N recipients at latency 0 with no ceiling; then report pages.
async fn dispatch_scenario(cli: &Cli, dir: &Path) {
    let n = cli.n.unwrap_or(1_000_000);
    let config = write_config(dir, cli.store, None).await;
    let (server, _) = Server::start(&config).await;
    let lime = server.lime();
    let id = lime.new_campaign("dispatch").await;
    ingest(&lime, &id, n, cli.chunk).await;
    let total = n as u64;
    let t = Instant::now();
    lime.dispatch(&id).await;
    let reply = t.elapsed();
    until(&lime, &id, Duration::from_secs(1800), |c| sent(c) == total).await;
    let all_sent = t.elapsed();
    let (_, counts) = until(&lime, &id, Duration::from_secs(1800), |c| c["read"].as_u64() == Some(total)).await;
    let all_read = t.elapsed();
    let (_, hwm) = server.memory();
    eprintln!("dispatch reply {reply:?}; all sent after {all_sent:?}; all read after {all_read:?}: {counts}");
    result(
        "dispatch",
        cli.store,
        json!({"recipients": n, "dispatch_reply_ms": reply.as_secs_f64() * 1000.0,
               "all_sent_s": all_sent.as_secs_f64(), "sends_per_s": (total as f64 / all_sent.as_secs_f64()).round(),
               "all_read_s": all_read.as_secs_f64(),
               "recipients_with_3_receipts_per_s": (total as f64 / all_read.as_secs_f64()).round(),
               "peak_rss_mib": mib(hwm)}),
    );
    report_pages(cli, &lime, &id, n).await;
}

/// `get /campaigns/{id}/reports` 100-row pages at random offsets, one at a time.
async fn report_pages(cli: &Cli, lime: &Lime, id: &str, n: usize) {
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..1100 {
        let skip = rng.usize(..n.saturating_sub(100).max(1));
        let t = Instant::now();
        let r = lime.ok("get", &format!("/campaigns/{id}/reports?$skip={skip}&$take=100"), None).await;
        let us = t.elapsed().as_micros() as u64;
        assert_eq!(r["statusAudience"].as_array().map(Vec::len), Some(100), "a full page");
        if i >= 100 {
            hist.record(us).unwrap();
        }
    }
    result(
        "report_page",
        cli.store,
        json!({"recipients": n, "pages": hist.len(), "p50_ms": hist.value_at_quantile(0.5) as f64 / 1000.0,
               "p99_ms": hist.value_at_quantile(0.99) as f64 / 1000.0, "max_ms": hist.max() as f64 / 1000.0}),
    );
}

/// A campaign of N recipients killed (-9) at half sent and started again.
async fn restart_scenario(cli: &Cli, dir: &Path) {
    let n = cli.n.unwrap_or(1_000_000);
    // No ceiling: on PostgreSQL a channel ceiling is reserved in the database per send.
    let config = write_config(dir, cli.store, None).await;
    let (mut server, cold_start) = Server::start(&config).await;
    let lime = server.lime();
    let id = lime.new_campaign("restart").await;
    ingest(&lime, &id, n, cli.chunk).await;
    lime.dispatch(&id).await;
    let half = n as u64 / 2;
    let (_, before) = until(&lime, &id, Duration::from_secs(1800), |c| sent(c) >= half).await;
    server.kill();
    let killed_at = sent(&before);
    let config_path = server.config.clone();
    drop(server);
    let (server, ready) = Server::start(&config_path).await;
    let lime = server.lime();
    if cli.store == StoreKind::Memory {
        result(
            "restart",
            cli.store,
            json!({"recipients": n, "sent_when_killed": killed_at, "cold_start_s": cold_start.as_secs_f64(),
                   "ready_s": ready.as_secs_f64(), "note": "the memory store keeps nothing across a restart"}),
        );
        return;
    }
    let counts = lime.counts(&id).await;
    let at_restart = sent(&counts);
    let (resumed, _) = until(&lime, &id, Duration::from_secs(600), |c| sent(c) > at_restart).await;
    let (finished, end) = if cli.no_finish {
        (Duration::ZERO, lime.counts(&id).await)
    } else {
        until(&lime, &id, Duration::from_secs(1800), |c| sent(c) == n as u64).await
    };
    result(
        "restart",
        cli.store,
        json!({"recipients": n, "sent_when_killed": killed_at, "sent_seen_after_restart": at_restart,
               "cold_start_s": cold_start.as_secs_f64(), "ready_s": ready.as_secs_f64(),
               "first_new_send_after_ready_s": resumed.as_secs_f64(), "finished_after_ready_s": finished.as_secs_f64(),
               "final_counts": end}),
    );
}

/// REST calls with the bench workspace's API key.
#[derive(Clone)]
struct Rest {
    http: reqwest::Client,
    base: String,
}

impl Rest {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<(&str, Vec<u8>)>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).header("x-api-key", API_KEY);
        if let Some((content_type, bytes)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let reply = req.send().await.expect("gateway reachable");
        let status = reply.status().as_u16();
        let bytes = reply.bytes().await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn expect(&self, method: reqwest::Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let body = body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap()));
        let (got, v) = self.call(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path}: {v}");
        v
    }
}

/// Contact `i`: a third are VIP, cities cycle through eight, emails through two domains.
fn contact_line(i: usize) -> String {
    const CITIES: [&str; 8] =
        ["São Paulo", "Rio de Janeiro", "São José", "Belo Horizonte", "Curitiba", "Recife", "São Luís", "Natal"];
    let tags = match i % 3 {
        0 => "tag_vip",
        1 => "tag_clientes",
        _ => "tag_vip|tag_clientes",
    };
    let domain = if i.is_multiple_of(2) { "acme.com" } else { "globo.com" };
    format!("Pessoa {i},p{i}@{domain},+{},{tags},{},{}\n", phone(i), CITIES[i % 8], 18 + i % 60)
}

/// N contacts; preview and start with three combined filters; stats under many clients.
async fn rest_scenario(cli: &Cli, dir: &Path) {
    use reqwest::Method;
    let n = cli.n.unwrap_or(1_000_000);
    let config = write_config(dir, cli.store, None).await;
    let (server, _) = Server::start(&config).await;
    let rest = server.rest();
    for (key, kind) in [("city", "TEXT"), ("age", "NUMBER")] {
        rest.expect(
            Method::POST,
            "/campaigns/custom-fields",
            Some(json!({"key": key, "name": key, "type": kind})),
            201,
        )
        .await;
    }
    for tag in ["tag_vip", "tag_clientes"] {
        rest.expect(Method::POST, "/campaigns/tags", Some(json!({"id": tag, "name": tag})), 201).await;
    }
    let t = Instant::now();
    let mut start = 0;
    while start < n {
        let end = (start + cli.chunk).min(n);
        let mut csv = String::from("name,email,phone,tags,city,age\n");
        (start..end).for_each(|i| csv.push_str(&contact_line(i)));
        let (status, r) = rest.call(Method::POST, "/contacts/import", Some(("text/csv", csv.into_bytes()))).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["created"].as_u64(), Some((end - start) as u64), "{r}");
        start = end;
    }
    let import_rate = n as f64 / t.elapsed().as_secs_f64();
    let filters = json!({
        "tag_ids": ["tag_vip"],
        "field_filters": [
            {"field": "city", "operator": "contains", "value": "são", "is_custom_field": true},
            {"field": "email", "operator": "ends_with", "value": "@acme.com", "is_custom_field": false}
        ]
    });
    let mut previews = Vec::new();
    let mut total = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let v = rest.expect(Method::POST, "/campaigns/preview", Some(json!({"filters": filters})), 200).await;
        previews.push(t.elapsed().as_secs_f64() * 1000.0);
        total = v["total"].as_u64().expect("total");
    }
    let expected = (0..n)
        .filter(|i| {
            let line = contact_line(*i);
            i % 3 != 1 && line.contains("@acme.com") && (i % 8 == 0 || i % 8 == 2 || i % 8 == 6)
        })
        .count() as u64;
    assert_eq!(total, expected, "preview total matches the generated contacts");
    let campaign = rest
        .expect(
            Method::POST,
            "/campaigns",
            Some(json!({"name": "rest bench", "message_type": "TEXT", "channel_id": "wa",
                        "content": {"type": "text", "text": {"body": "Oi {{name}}"}}, "rate_limit_per_minute": 1,
                        "filters": filters})),
            201,
        )
        .await;
    let id = campaign["id"].as_str().expect("id").to_owned();
    let t = Instant::now();
    rest.expect(Method::POST, &format!("/campaigns/{id}/start"), None, 200).await;
    let start_ms = t.elapsed().as_secs_f64() * 1000.0;
    let stats = rest.expect(Method::GET, &format!("/campaigns/{id}/stats"), None, 200).await;
    eprintln!("import {import_rate:.0}/s, preview {previews:?} ms, start {start_ms:.0} ms, stats {stats}");
    let (rate, p50, p99) = stats_load(&rest, &id, cli.clients, Duration::from_secs(cli.duration)).await;
    result(
        "rest",
        cli.store,
        json!({"contacts": n, "import_rows_per_s": import_rate.round(), "matched": total,
               "preview_ms": previews, "start_ms": start_ms, "stats_clients": cli.clients,
               "stats_req_per_s": rate.round(), "stats_p50_ms": p50, "stats_p99_ms": p99}),
    );
}

/// `clients` loops of `GET /campaigns/{id}/stats` for `duration` (after 1 s of warm-up).
async fn stats_load(rest: &Rest, id: &str, clients: usize, duration: Duration) -> (f64, f64, f64) {
    let warmup = Duration::from_secs(1);
    let start = Instant::now();
    let path = format!("/campaigns/{id}/stats");
    let hist = Arc::new(parking_lot::Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let rest = Rest { http: client(), base: rest.base.clone() };
        let (path, hist) = (path.clone(), hist.clone());
        tasks.push(tokio::spawn(async move {
            let mut local = Histogram::<u64>::new(3).unwrap();
            while start.elapsed() < warmup + duration {
                let t = Instant::now();
                let (status, _) = rest.call(reqwest::Method::GET, &path, None).await;
                assert_eq!(status, 200);
                if start.elapsed() > warmup && start.elapsed() < warmup + duration {
                    local.record(t.elapsed().as_micros() as u64).unwrap();
                }
            }
            hist.lock().add(&local).unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let h = hist.lock();
    (
        h.len() as f64 / duration.as_secs_f64(),
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
    )
}
