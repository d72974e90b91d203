//! Soak test (issue 14, point 11): a bounded mixed workload against a real release
//! `irisgate serve` on the default SQLite store for N minutes, counting every answer and sampling
//! the gateway's RSS, open fds, threads and live tokio tasks; exits 1 when a goal is missed.
//!
//! ```text
//! cargo build --release --bins --examples && target/release/examples/soak [--minutes 10]
//! ```
//!
//! At once: WebSocket sessions sending LIME commands (`get /ping`, summaries, reports, contacts,
//! `set /campaign/v2` → `get` → `delete`), `POST /commands` clients, REST clients (contacts
//! created / read / updated / deleted, lists, stats), one LIME and one REST campaign dispatching
//! at all times (a new one as soon as one completes; simulator receipts on), and malformed input
//! now and then (bad URIs, bad JSON, bad credentials, bad frames), which must get failures and
//! never an error of the gateway. Goals: 0 unexpected answers, 0 gateway ERROR log lines; after
//! the warm-up RSS within 10 % of its warm-up value, and fds, threads and tasks not growing (the
//! median of the last third of the samples no higher than the highest of the first third).
//! Tasks: `GET /health` logs the runtime's live task count at debug level (`irisgate::app`),
//! read from the gateway's stderr.

#[path = "soak/campaigns.rs"]
mod campaigns;
#[path = "soak/tally.rs"]
mod tally;
#[path = "soak/traffic.rs"]
mod traffic;
#[path = "soak/wire.rs"]
mod wire;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use parking_lot::Mutex;

use tally::Tally;
use traffic::Ctx;

#[derive(Parser, Clone)]
struct Cli {
    /// How long the mixed workload runs.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// The first minutes, whose samples set the baseline instead of being judged.
    #[arg(long, default_value_t = 2.0)]
    warmup_minutes: f64,
    /// Seconds between samples of the gateway process.
    #[arg(long, default_value_t = 10)]
    sample_secs: u64,
    /// WebSocket sessions sending LIME commands.
    #[arg(long, default_value_t = 4)]
    ws_sessions: usize,
    /// `POST /commands` clients.
    #[arg(long, default_value_t = 2)]
    http_clients: usize,
    /// REST clients.
    #[arg(long, default_value_t = 2)]
    rest_clients: usize,
    /// Pause of each client between two requests (keeps the load bounded on a shared machine).
    #[arg(long, default_value_t = 5)]
    pause_ms: u64,
    /// Recipients of each campaign.
    #[arg(long, default_value_t = 400)]
    recipients: usize,
    /// `max_per_second` of each of the two simulator channels.
    #[arg(long, default_value_t = 50)]
    sends_per_second: u32,
    /// No campaigns (to tell growth that comes with sends from growth that comes with commands).
    #[arg(long)]
    no_campaigns: bool,
}

/// `GET /health` reads per sample; the task count sampled is the lowest of them.
const TASK_READS: usize = 5;

/// The gateway binary next to this example (`target/release/irisgate`).
fn gateway_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe.parent().and_then(Path::parent).expect("target dir").join("irisgate");
    assert!(bin.exists(), "{} is missing: run `cargo build --release` first", bin.display());
    bin
}

fn write_config(dir: &Path, cli: &Cli) -> PathBuf {
    let db = dir.join("irisgate.db");
    let rate = cli.sends_per_second;
    let text = format!(
        r#"
listen = "127.0.0.1:0"
default_country_code = "55"

[storage]
kind = "sqlite"
path = {db:?}

[[tenants]]
identifier = "{bot}"
access_key = "c2VjcmV0"
api_keys = ["{key}"]
features = ["campaigns"]
# The soak measures the gateway, not the per-tenant rate (default 200/s, tests/load_shedding.rs).
max_commands_per_second = 1000000

[[tenants.channels]]
id = "wa"
type = "whatsapp"
default = true
delivered_after_ms = 50
read_after_ms = 200
max_per_second = {rate}

[[tenants.channels]]
id = "wa_rest"
type = "whatsapp"
delivered_after_ms = 80
read_after_ms = 300
max_per_second = {rate}

[[tenants.templates]]
id = "two_params"
channel = "wa"
name = "two_params"
status = "APPROVED"
body = "Olá {{{{1}}}}, seu código é {{{{2}}}}."
"#,
        bot = wire::BOT,
        key = wire::API_KEY,
    );
    let path = dir.join("irisgate.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// The gateway child process and what its stderr said.
struct Gateway {
    child: Child,
    addr: SocketAddr,
    /// The live task count of the latest `GET /health` (debug log line), and how many such
    /// lines have been read.
    tasks: Arc<AtomicU64>,
    task_lines: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    warnings: Arc<AtomicU64>,
}

impl Gateway {
    fn start(config: &Path) -> Gateway {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut child = Command::new(gateway_binary())
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", &addr.to_string()])
            .env("RUST_LOG", "warn,irisgate::app=debug")
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn irisgate");
        let (tasks, task_lines, errors, warnings): (Arc<AtomicU64>, Arc<AtomicU64>, Arc<AtomicU64>, Arc<AtomicU64>) =
            Default::default();
        let stderr = child.stderr.take().expect("piped stderr");
        let (t, l, e, w) = (tasks.clone(), task_lines.clone(), errors.clone(), Arc::clone(&warnings));
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(n) = line.split("tasks=").nth(1).and_then(|s| s.split_whitespace().next()) {
                    if let Ok(n) = n.parse() {
                        t.store(n, Ordering::Relaxed);
                        l.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
                if line.contains(" ERROR ") {
                    e.fetch_add(1, Ordering::Relaxed);
                } else if line.contains(" WARN ") {
                    w.fetch_add(1, Ordering::Relaxed);
                }
                eprintln!("[gateway] {line}");
            }
        });
        Gateway { child, addr, tasks, task_lines, errors, warnings }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// RSS (bytes), open fds, threads and live tasks now.
    async fn sample(&self, http: &reqwest::Client, at: Duration) -> Sample {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count() as u64).unwrap_or(0);
        // The lowest of a few reads: a task leaked stays in every read, a request in flight
        // (a client's, or this probe's own) in only some.
        let mut healthy = true;
        let mut tasks = u64::MAX;
        for _ in 0..TASK_READS {
            let seen = self.task_lines.load(Ordering::Relaxed);
            let health = http.get(format!("http://{}/health", self.addr)).send().await;
            healthy &= health.map(|r| r.status().is_success()).unwrap_or(false);
            // The log line is written before the reply; give the reader thread a moment.
            for _ in 0..50 {
                if self.task_lines.load(Ordering::Relaxed) != seen {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tasks = tasks.min(self.tasks.load(Ordering::Relaxed));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (rss_kib, anon_kib) = (field("VmRSS:"), field("RssAnon:"));
        Sample { at, rss_kib, anon_kib, fds, threads: field("Threads:"), tasks, healthy }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    /// The heap part of the RSS; the rest is mostly the binary's pages, faulted in as code runs.
    anon_kib: u64,
    fds: u64,
    threads: u64,
    tasks: u64,
    healthy: bool,
}

/// One goal's line of the summary.
struct Goal {
    what: String,
    met: bool,
}

fn goal(goals: &mut Vec<Goal>, met: bool, what: String) {
    goals.push(Goal { what, met });
}

/// The highest value of `f` over the first third of `samples`, and the median over the last:
/// a leak lifts the whole last third above the first, while one request in flight at a sample
/// (a task, a socket) does not move a median.
fn thirds(samples: &[Sample], f: impl Fn(&Sample) -> u64) -> (u64, u64) {
    let third = (samples.len() / 3).max(1);
    let first = samples[..third].iter().map(&f).max().unwrap_or(0);
    let mut last: Vec<u64> = samples[samples.len() - third..].iter().map(&f).collect();
    last.sort_unstable();
    (first, last[last.len() / 2])
}

fn judge(samples: &[Sample], warmup: Duration, tally: &Tally, gw: &Gateway, alive: bool) -> Vec<Goal> {
    let mut goals = Vec::new();
    let unexpected = tally.unexpected();
    goal(&mut goals, unexpected == 0, format!("unexpected answers: {unexpected} (goal 0)"));
    let errors = gw.errors.load(Ordering::Relaxed);
    goal(&mut goals, errors == 0, format!("gateway ERROR log lines: {errors} (goal 0)"));
    goal(&mut goals, alive, format!("gateway still running at the end: {alive}"));
    let unhealthy = samples.iter().filter(|s| !s.healthy).count();
    goal(&mut goals, unhealthy == 0, format!("samples whose GET /health failed: {unhealthy} (goal 0)"));
    let judged: Vec<Sample> = samples.iter().filter(|s| s.at >= warmup).copied().collect();
    if judged.len() < 3 {
        goal(&mut goals, false, format!("only {} samples after the warm-up: too short to judge", judged.len()));
        return goals;
    }
    let base = judged[0].rss_kib as f64;
    let (lo, hi) = judged.iter().fold((u64::MAX, 0), |(lo, hi), s| (lo.min(s.rss_kib), hi.max(s.rss_kib)));
    let end = judged[judged.len() - 1].rss_kib as f64;
    let (dl, dh) = ((lo as f64 / base - 1.0) * 100.0, (hi as f64 / base - 1.0) * 100.0);
    goal(
        &mut goals,
        dl >= -10.0 && dh <= 10.0,
        format!(
            "RSS after warm-up {:.1} MiB, range {:.1}–{:.1} MiB ({dl:+.1} % / {dh:+.1} %), end {:.1} MiB ({:+.1} %); \
             of it anon {:.1} → {:.1} MiB (goal within ±10 %)",
            base / 1024.0,
            lo as f64 / 1024.0,
            hi as f64 / 1024.0,
            end / 1024.0,
            (end / base - 1.0) * 100.0,
            judged[0].anon_kib as f64 / 1024.0,
            judged[judged.len() - 1].anon_kib as f64 / 1024.0,
        ),
    );
    for (name, f) in [
        ("open fds", (|s: &Sample| s.fds) as fn(&Sample) -> u64),
        ("threads", |s: &Sample| s.threads),
        ("live tasks", |s: &Sample| s.tasks),
    ] {
        let (first, last) = thirds(&judged, f);
        goal(
            &mut goals,
            last <= first,
            format!(
                "{name}: highest {first} in the first third after warm-up, median {last} in the last (goal: no growth)"
            ),
        );
    }
    goals
}

fn print_summary(cli: &Cli, elapsed: Duration, tally: &Tally, samples: &[Sample], goals: &[Goal], gw: &Gateway) {
    let secs = elapsed.as_secs_f64();
    println!(
        "\n## Soak: {:.1} min, {} WS sessions, {} HTTP clients, {} REST clients, pause {} ms",
        secs / 60.0,
        cli.ws_sessions,
        cli.http_clients,
        cli.rest_clients,
        cli.pause_ms
    );
    println!("\n| kind | answers | per s | ok | expected failures | unexpected |\n|---|---:|---:|---:|---:|---:|");
    let kinds: BTreeMap<String, tally::Count> = tally.snapshot();
    let mut total = tally::Count::default();
    for (kind, c) in &kinds {
        let n = c.ok + c.expected + c.unexpected;
        println!("| {kind} | {n} | {:.1} | {} | {} | {} |", n as f64 / secs, c.ok, c.expected, c.unexpected);
        total.ok += c.ok;
        total.expected += c.expected;
        total.unexpected += c.unexpected;
    }
    let n = total.ok + total.expected + total.unexpected;
    println!("| **all** | {n} | {:.1} | {} | {} | {} |", n as f64 / secs, total.ok, total.expected, total.unexpected);
    let campaigns = tally.campaigns.lock().clone();
    println!("\n| campaigns | completed | recipients sent | read | failed |\n|---|---:|---:|---:|---:|");
    for (kind, c) in &campaigns {
        println!("| {kind} | {} | {} | {} | {} |", c.completed, c.sent, c.read, c.failed);
    }
    println!("\n| t (s) | RSS (MiB) | anon (MiB) | fds | threads | tasks |\n|---:|---:|---:|---:|---:|---:|");
    for s in samples {
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "| {} | {:.1} | {:.1} | {} | {} | {} |",
            s.at.as_secs(),
            mib(s.rss_kib),
            mib(s.anon_kib),
            s.fds,
            s.threads,
            s.tasks
        );
    }
    println!("\ngateway WARN log lines: {}", gw.warnings.load(Ordering::Relaxed));
    let errors = tally.errors.lock();
    if !errors.is_empty() {
        println!("\nfirst unexpected answers:");
        for e in errors.iter() {
            println!("- {e}");
        }
    }
    println!("\n| goal | |\n|---|---|");
    for g in goals {
        println!("| {} | {} |", g.what, if g.met { "met" } else { "**missed**" });
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = tempfile::Builder::new().prefix("irisgate-soak-").tempdir().expect("temp dir");
    let config = write_config(dir.path(), &cli);
    let mut gw = Gateway::start(&config);
    let ctx = Ctx::new(gw.addr, &cli_view(&cli));
    ctx.wait_ready().await;
    ctx.setup().await;
    let run = Duration::from_secs_f64(cli.minutes * 60.0);
    let warmup = Duration::from_secs_f64(cli.warmup_minutes * 60.0);
    let started = Instant::now();
    let deadline = started + run;
    let workers = traffic::spawn_all(&ctx, deadline);
    let samples = Arc::new(Mutex::new(Vec::new()));
    let probe = reqwest::Client::new();
    let mut next = started;
    while Instant::now() < deadline {
        let s = gw.sample(&probe, started.elapsed()).await;
        eprintln!(
            "t={:>4}s rss={:.1}MiB anon={:.1}MiB fds={} threads={} tasks={} answers={} unexpected={}",
            s.at.as_secs(),
            s.rss_kib as f64 / 1024.0,
            s.anon_kib as f64 / 1024.0,
            s.fds,
            s.threads,
            s.tasks,
            ctx.tally.answers(),
            ctx.tally.unexpected()
        );
        samples.lock().push(s);
        next += Duration::from_secs(cli.sample_secs);
        tokio::time::sleep_until(next.max(Instant::now()).into()).await;
    }
    let final_sample = gw.sample(&probe, started.elapsed()).await;
    samples.lock().push(final_sample);
    for w in workers {
        if let Err(e) = w.await {
            ctx.tally.fail("worker", format!("a soak worker panicked: {e}"));
        }
    }
    let elapsed = started.elapsed().min(run);
    let alive = gw.alive();
    let samples = samples.lock().clone();
    let goals = judge(&samples, warmup, &ctx.tally, &gw, alive);
    print_summary(&cli, elapsed, &ctx.tally, &samples, &goals, &gw);
    if goals.iter().all(|g| g.met) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn cli_view(cli: &Cli) -> traffic::Shape {
    traffic::Shape {
        ws_sessions: cli.ws_sessions,
        http_clients: cli.http_clients,
        rest_clients: cli.rest_clients,
        pause: Duration::from_millis(cli.pause_ms),
        recipients: cli.recipients,
        campaigns: !cli.no_campaigns,
    }
}
