//! Closed-loop load driver for the LIME faces: C connections × K commands in flight.
//!
//! `cargo run --release --example load -- ws   --url ws://127.0.0.1:8080/ -c 64 -k 16 -d 5`
//! `cargo run --release --example load -- http --url http://127.0.0.1:8080/commands -c 64 -d 5`
//!
//! WebSocket: opens a LIME session per connection (`new` → `authenticating` → `established`,
//! key scheme; `--no-handshake` skips it and the `lime` subprotocol for a bare echo server), then keeps K commands in
//! flight, each reply correlated by id (frames with another id — pings, notifications — are
//! ignored). HTTP: one keep-alive connection per C, one request in flight on each, with the
//! `Authorization: Key base64(identifier:secret)` header. `--command ping` sends
//! `get /ping` to `postmaster@msging.net`; `--command unknown` a get of an unknown URI (the
//! gateway answers failure 62). Only replies that arrive inside the window (after
//! `--warmup`) count. Prints commands/s, latency percentiles and errors, then one line
//! `RESULT {json}` for scripts. `--server-pid` adds the server's CPU time per command.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use futures_util::{FutureExt, SinkExt, StreamExt};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[derive(Parser, Clone)]
#[command(about = "Closed-loop LIME load driver (WebSocket or HTTP keep-alive)")]
struct Args {
    /// Transport.
    mode: Mode,
    /// ws://host:port/ or http://host:port/commands.
    #[arg(long, default_value = "ws://127.0.0.1:8080/")]
    url: String,
    /// Connections.
    #[arg(short = 'c', default_value_t = 64)]
    conns: usize,
    /// Commands in flight per connection (WebSocket; HTTP always has one).
    #[arg(short = 'k', default_value_t = 16)]
    inflight: usize,
    /// Measurement window, seconds.
    #[arg(short = 'd', default_value_t = 5.0)]
    duration: f64,
    /// Load applied before the window, seconds (not counted).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Which command to send.
    #[arg(long, value_enum, default_value_t = CommandKind::Ping)]
    command: CommandKind,
    /// Status the replies must have; default: success for ping, failure for unknown.
    #[arg(long)]
    expect: Option<String>,
    /// WebSocket: no `lime` subprotocol and no session handshake (bare echo servers).
    #[arg(long)]
    no_handshake: bool,
    /// Credentials, identifier:secret.
    #[arg(long, default_value = "mybot:secret")]
    credentials: String,
    /// Runtime worker threads (default: CPUs available; 1 = current-thread runtime).
    #[arg(long)]
    threads: Option<usize>,
    /// Sample this server process's CPU time over the window (Linux /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Free-form label copied into the RESULT line.
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Mode {
    Ws,
    Http,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum CommandKind {
    Ping,
    Unknown,
}

impl CommandKind {
    fn uri(self) -> &'static str {
        match self {
            CommandKind::Ping => "/ping",
            CommandKind::Unknown => "/no-such-thing",
        }
    }
}

/// What every connection task needs.
#[derive(Clone)]
struct Plan {
    args: Args,
    /// The command text around its id: `{prefix}{id}{suffix}`.
    prefix: String,
    suffix: String,
    expect: String,
    start: Instant,
    end: Instant,
    drain_until: Instant,
}

impl Plan {
    /// A fresh command: its id (as a number, for the in-flight map) and its text.
    fn command(&self) -> (u128, String) {
        let id = uuid::Uuid::new_v4();
        let text = format!("{}{}{}", self.prefix, id.hyphenated(), self.suffix);
        (id.as_u128(), text)
    }

    fn in_window(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }
}

/// The fields of a reply we look at.
#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    state: Option<Cow<'a, str>>,
}

struct Stats {
    /// Replies correlated inside the window.
    completed: u64,
    /// Replies with another status than expected (inside or outside the window).
    wrong_status: u64,
    /// Commands unanswered when the drain ended.
    missing: u64,
    /// Connections that failed (connect, handshake, I/O, HTTP status).
    failed: u64,
    first_error: Option<String>,
    hist: Histogram<u64>,
}

impl Stats {
    fn new() -> Self {
        Stats {
            completed: 0,
            wrong_status: 0,
            missing: 0,
            failed: 0,
            first_error: None,
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
        }
    }

    fn error(&mut self, what: impl std::fmt::Display) {
        if self.first_error.is_none() {
            self.first_error = Some(what.to_string());
        }
    }

    fn fail(&mut self, what: impl std::fmt::Display) {
        self.failed += 1;
        self.error(what);
    }

    /// One correlated reply, sent at `sent`, arrived `now`.
    fn reply(&mut self, plan: &Plan, sent: Instant, now: Instant, status: Option<&str>) {
        if plan.expect != "any" && status != Some(plan.expect.as_str()) {
            self.wrong_status += 1;
            self.error(format!("reply status {status:?}, expected {}", plan.expect));
        }
        if plan.in_window(now) {
            self.completed += 1;
            let us = (now - sent).as_micros().max(1) as u64;
            self.hist.saturating_record(us);
        }
    }

    fn merge(&mut self, o: Stats) {
        self.completed += o.completed;
        self.wrong_status += o.wrong_status;
        self.missing += o.missing;
        self.failed += o.failed;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.hist.add(&o.hist).expect("histogram merge");
    }

    fn errors(&self) -> u64 {
        self.wrong_status + self.missing + self.failed
    }
}

fn main() {
    let args = Args::parse();
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    };
    let code = runtime.expect("tokio runtime").block_on(run(args));
    std::process::exit(code);
}

async fn run(args: Args) -> i32 {
    let (prefix, suffix) = (
        r#"{"id":""#.to_owned(),
        format!(r#"","to":"postmaster@msging.net","method":"get","uri":"{}"}}"#, args.command.uri()),
    );
    let expect = args.expect.clone().unwrap_or_else(|| {
        match args.command {
            CommandKind::Ping => "success",
            CommandKind::Unknown => "failure",
        }
        .to_owned()
    });

    // Connect (and open the sessions) first, then start the clock.
    let mut connecting = Vec::with_capacity(args.conns);
    for n in 0..args.conns {
        let args = args.clone();
        connecting.push(tokio::spawn(async move {
            match args.mode {
                Mode::Ws => ws_connect(&args, n).await.map(|ws| Conn::Ws(Box::new(ws))),
                Mode::Http => http_connect(&args).await.map(Conn::Http),
            }
        }));
    }
    let mut conns = Vec::with_capacity(args.conns);
    let mut total = Stats::new();
    for c in connecting {
        match c.await.expect("connect task") {
            Ok(conn) => conns.push(conn),
            Err(e) => total.fail(format!("connect: {e}")),
        }
    }
    if conns.is_empty() {
        eprintln!("load: no connection: {}", total.first_error.unwrap_or_default());
        return 2;
    }

    let start = Instant::now() + Duration::from_secs_f64(args.warmup);
    let end = start + Duration::from_secs_f64(args.duration);
    let plan =
        Plan { args: args.clone(), prefix, suffix, expect, start, end, drain_until: end + Duration::from_secs(2) };
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|conn| {
            let plan = plan.clone();
            tokio::spawn(async move {
                match conn {
                    Conn::Ws(ws) => ws_run(*ws, &plan).await,
                    Conn::Http(sender) => http_run(sender, &plan).await,
                }
            })
        })
        .collect();

    tokio::time::sleep_until(start).await;
    let server0 = args.server_pid.and_then(cpu_seconds);
    tokio::time::sleep_until(end).await;
    let server1 = args.server_pid.and_then(cpu_seconds);
    for t in tasks {
        match t.await {
            Ok(s) => total.merge(s),
            Err(e) => total.fail(format!("task: {e}")),
        }
    }
    report(&args, &plan, &total, server0.zip(server1).map(|(a, b)| b - a));
    if total.completed == 0 {
        1
    } else {
        0
    }
}

fn report(args: &Args, plan: &Plan, s: &Stats, server_cpu: Option<f64>) {
    let rate = s.completed as f64 / args.duration;
    let q = |q: f64| if s.hist.is_empty() { 0 } else { s.hist.value_at_quantile(q) };
    let server_us = server_cpu.filter(|_| s.completed > 0).map(|cpu| cpu * 1e6 / s.completed as f64);
    let mode = match args.mode {
        Mode::Ws => "ws",
        Mode::Http => "http",
    };
    let k = if args.mode == Mode::Ws { args.inflight } else { 1 };
    println!(
        "{mode} {} C={} K={k} {:.1}s: {:.0} commands/s ({} replies)",
        args.command.uri(),
        args.conns,
        args.duration,
        rate,
        s.completed
    );
    println!("latency µs: p50 {} p90 {} p99 {} p999 {} max {}", q(0.5), q(0.9), q(0.99), q(0.999), s.hist.max());
    if let Some(us) = server_us {
        println!("server CPU: {us:.2} µs per command");
    }
    println!(
        "errors: {} (wrong status {}, unanswered {}, failed connections {}){}",
        s.errors(),
        s.wrong_status,
        s.missing,
        s.failed,
        s.first_error.as_deref().map(|e| format!("; first: {e}")).unwrap_or_default()
    );
    let result = serde_json::json!({
        "label": args.label,
        "mode": mode,
        "command": args.command.uri(),
        "expect": plan.expect,
        "conns": args.conns,
        "inflight": k,
        "duration_s": args.duration,
        "completed": s.completed,
        "rate": rate.round(),
        "p50_us": q(0.5),
        "p90_us": q(0.9),
        "p99_us": q(0.99),
        "p999_us": q(0.999),
        "max_us": s.hist.max(),
        "errors": s.errors(),
        "server_cpu_us_per_cmd": server_us,
    });
    println!("RESULT {result}");
}

/// utime + stime of a process, seconds (USER_HZ = 100).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    Some((fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?) / 100.0)
}

enum Conn {
    Ws(Box<Ws>),
    Http(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Error = Box<dyn std::error::Error + Send + Sync>;

async fn ws_connect(args: &Args, n: usize) -> Result<Ws, Error> {
    let mut request = args.url.as_str().into_client_request()?;
    if !args.no_handshake {
        request.headers_mut().insert("Sec-WebSocket-Protocol", "lime".parse()?);
    }
    // tungstenite zero-fills its read buffer (128 KiB by default) on reads; replies are small.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    if args.no_handshake {
        return Ok(ws);
    }
    ws.send(Message::text(r#"{"state":"new"}"#)).await?;
    let text = ws_next_text(&mut ws).await?;
    let reply: Reply = serde_json::from_str(&text)?;
    if reply.state.as_deref() != Some("authenticating") {
        return Err(format!("expected authenticating, got {text}").into());
    }
    let session_id = reply.id.ok_or("authenticating without an id")?.into_owned();
    let (identifier, secret) = args.credentials.split_once(':').ok_or("--credentials is identifier:secret")?;
    let key = base64::engine::general_purpose::STANDARD.encode(secret);
    let auth = serde_json::json!({
        "id": session_id,
        "from": format!("{identifier}@msging.net/load-{n}"),
        "state": "authenticating",
        "scheme": "key",
        "authentication": {"key": key},
    });
    ws.send(Message::text(auth.to_string())).await?;
    let text = ws_next_text(&mut ws).await?;
    let reply: Reply = serde_json::from_str(&text)?;
    if reply.state.as_deref() != Some("established") {
        return Err(format!("expected established, got {text}").into());
    }
    Ok(ws)
}

async fn ws_next_text(ws: &mut Ws) -> Result<String, Error> {
    loop {
        match ws.next().await.ok_or("connection closed")?? {
            Message::Text(t) => return Ok(t.as_str().to_owned()),
            Message::Close(c) => return Err(format!("closed: {c:?}").into()),
            _ => continue,
        }
    }
}

/// Keeps K commands in flight until the window ends, then waits for the outstanding ones.
async fn ws_run(mut ws: Ws, plan: &Plan) -> Stats {
    let mut stats = Stats::new();
    let mut inflight: HashMap<u128, Instant> = HashMap::with_capacity(plan.args.inflight * 2);
    if let Err(e) = ws_send_batch(&mut ws, plan, &mut inflight, plan.args.inflight).await {
        stats.fail(e);
        return stats;
    }
    loop {
        let deadline = if Instant::now() < plan.end { plan.end } else { plan.drain_until };
        if inflight.is_empty() && Instant::now() >= plan.end {
            break;
        }
        let first = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                stats.fail("connection closed by the server");
                break;
            }
            // The window ended: stop sending; after the drain, give up on what is left.
            Err(_) if deadline == plan.end => continue,
            Err(_) => break,
        };
        // This frame and every one already readable, then one batch of new commands.
        let mut answered = 0;
        let mut next = Some(first);
        while let Some(frame) = next.take() {
            let text = match frame {
                Ok(Message::Text(t)) => t,
                Ok(Message::Close(c)) => {
                    stats.fail(format!("closed by the server: {c:?}"));
                    return finish(stats, inflight);
                }
                Ok(_) => {
                    next = ws.next().now_or_never().flatten();
                    continue;
                }
                Err(e) => {
                    stats.fail(e);
                    return finish(stats, inflight);
                }
            };
            let now = Instant::now();
            if let Ok(reply) = serde_json::from_str::<Reply>(&text) {
                let id = reply.id.as_deref().and_then(|id| uuid::Uuid::try_parse(id).ok());
                if let Some(sent) = id.and_then(|id| inflight.remove(&id.as_u128())) {
                    stats.reply(plan, sent, now, reply.status.as_deref());
                    answered += 1;
                }
            }
            next = ws.next().now_or_never().flatten();
        }
        let more = if Instant::now() < plan.end { answered } else { 0 };
        if let Err(e) = ws_send_batch(&mut ws, plan, &mut inflight, more).await {
            stats.fail(e);
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_millis(200), ws.close(None)).await;
    finish(stats, inflight)
}

async fn ws_send_batch(
    ws: &mut Ws,
    plan: &Plan,
    inflight: &mut HashMap<u128, Instant>,
    n: usize,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    if n == 0 {
        return Ok(());
    }
    for _ in 0..n {
        let (id, text) = plan.command();
        inflight.insert(id, Instant::now());
        ws.feed(Message::text(text)).await?;
    }
    ws.flush().await
}

fn finish(mut stats: Stats, inflight: HashMap<u128, Instant>) -> Stats {
    if !inflight.is_empty() {
        stats.missing += inflight.len() as u64;
        stats.error(format!("{} commands unanswered", inflight.len()));
    }
    stats
}

async fn http_connect(args: &Args) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, Error> {
    let uri: hyper::Uri = args.url.parse()?;
    let addr = format!("{}:{}", uri.host().ok_or("url without host")?, uri.port_u16().unwrap_or(80));
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One request at a time on one keep-alive connection, until the window ends.
async fn http_run(mut sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>, plan: &Plan) -> Stats {
    let mut stats = Stats::new();
    let uri: hyper::Uri = plan.args.url.parse().expect("url parsed at connect");
    let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let auth = format!("Key {}", base64::engine::general_purpose::STANDARD.encode(&plan.args.credentials));
    while Instant::now() < plan.end {
        let (_, text) = plan.command();
        let request = hyper::Request::post(uri.clone())
            .header(hyper::header::HOST, host.as_str())
            .header(hyper::header::AUTHORIZATION, auth.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(text)))
            .expect("request");
        let sent = Instant::now();
        let outcome = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, Error>((status, body))
        };
        match tokio::time::timeout_at(plan.drain_until, outcome).await {
            Ok(Ok((status, body))) if status.is_success() => {
                let now = Instant::now();
                let reply = serde_json::from_slice::<Reply>(&body).ok();
                stats.reply(plan, sent, now, reply.as_ref().and_then(|r| r.status.as_deref()));
            }
            Ok(Ok((status, body))) => {
                stats.fail(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
                break;
            }
            Ok(Err(e)) => {
                stats.fail(e);
                break;
            }
            Err(_) => {
                stats.missing += 1;
                stats.error("request unanswered at the end of the drain");
                break;
            }
        }
    }
    stats
}
