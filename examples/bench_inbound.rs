//! People's messages to a bot (issue 12, inbound): messages a second delivered to a connected
//! bot on SQLite, and the latency from inject to the bot at a steady 1,000/s. Messages enter
//! through `POST /api/v1/simulator/{channel}/inbound` from C concurrent HTTP clients (the same
//! pipeline as a provider's webhook); one WebSocket bot session receives them and acknowledges
//! each with `consumed`. Baseline in the same run: the same clients on `GET /ready`.
//!
//! ```text
//! cargo run --release --example bench_inbound -- [N] [C]
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The senders' numbers end in 1000–1999: none of the simulator's test endings.
const FIRST: u64 = 5_531_970_001_000;
const PEOPLE: u64 = 1_000;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn recv(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

async fn bot(addr: std::net::SocketAddr) -> Ws {
    let mut request = format!("ws://{addr}").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "lime".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.send(Message::Text(json!({"state": "new"}).to_string().into())).await.unwrap();
    let sid = recv(&mut ws).await["id"].as_str().unwrap().to_owned();
    let auth = json!({"id": sid, "state": "authenticating", "from": "mybot@msging.net/default",
                      "scheme": "key", "authentication": {"key": "c2VjcmV0"}});
    ws.send(Message::Text(auth.to_string().into())).await.unwrap();
    assert_eq!(recv(&mut ws).await["state"], "established");
    ws
}

/// Injects messages `range` from `clients` concurrent clients, at most `rate` a second in all
/// (0: as fast as they go); records when each was sent, by its text.
async fn inject(
    addr: std::net::SocketAddr,
    range: std::ops::Range<u64>,
    clients: u64,
    rate: u64,
    sent: Arc<Mutex<HashMap<String, Instant>>>,
) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, sent, range) = (client.clone(), sent.clone(), range.clone());
        tasks.push(tokio::spawn(async move {
            for i in range.filter(|i| i % clients == c) {
                if rate > 0 {
                    let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let text = format!("m{i}");
                sent.lock().insert(text.clone(), Instant::now());
                let r = client
                    .post(format!("http://{addr}/api/v1/simulator/channel_123/inbound"))
                    .header("x-api-key", "wk_test_123")
                    .json(&json!({"from": format!("+{}", FIRST + i % PEOPLE), "text": text}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 202, "{:?}", r.text().await);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Reads `n` messages on the bot session, acknowledging each; the latencies in µs.
async fn receive(ws: &mut Ws, n: usize, sent: &Mutex<HashMap<String, Instant>>) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(n);
    while latencies.len() < n {
        let v = recv(ws).await;
        let Some(text) = v.get("content").and_then(Value::as_str) else { continue };
        if let Some(at) = sent.lock().remove(text) {
            latencies.push(at.elapsed().as_micros() as u64);
        }
        let ack = json!({"id": v["id"], "to": v["from"], "event": "consumed"});
        ws.send(Message::Text(ack.to_string().into())).await.unwrap();
    }
    latencies
}

fn p99(mut v: Vec<u64>) -> f64 {
    v.sort_unstable();
    v[(v.len() * 99 / 100).min(v.len() - 1)] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let clients: u64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(32);
    let dir = tempfile::tempdir().unwrap();
    let mut config = irisgate::Config::development();
    config.storage.path = dir.path().join("irisgate.db");
    config.conversations.inbox_max = (2 * n).max(config.conversations.inbox_max);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(irisgate::run(listener, config, shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ws = bot(addr).await;

    // Baseline: the same clients on `GET /ready` (HTTP and the listener alone).
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..n / clients {
                client.get(format!("http://{addr}/ready")).send().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ready_rate = (n / clients * clients) as f64 / started.elapsed().as_secs_f64();

    // Throughput: as fast as the clients go, until the bot has every message.
    let sent = Arc::new(Mutex::new(HashMap::new()));
    let started = Instant::now();
    let injector = tokio::spawn(inject(addr, 0..n, clients, 0, sent.clone()));
    let latencies = receive(&mut ws, n as usize, &sent).await;
    injector.await.unwrap();
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let p99_full = p99(latencies);

    // Latency at a steady 1,000/s for 5 s.
    let steady = 5_000;
    let injector = tokio::spawn(inject(addr, n..n + steady, 8, 1_000, sent.clone()));
    let latencies = receive(&mut ws, steady as usize, &sent).await;
    injector.await.unwrap();
    let p99_steady = p99(latencies);

    let result = json!({"messages": n, "clients": clients, "store": "sqlite",
        "delivered_per_s": rate.round(), "p99_ms_at_full_speed": p99_full,
        "p99_ms_at_1000_per_s": p99_steady, "ready_per_s": ready_rate.round(),
        "vs_ready": (rate / ready_rate * 1000.0).round() / 1000.0});
    println!("RESULT {result}");
    shutdown.cancel();
    let _ = server.await;
}
