//! Bots' messages to people (issue 12, outbound): messages a second sent with their
//! notifications, on SQLite, through the simulator with immediate receipts. One WebSocket
//! session sends N text messages to 1,000 people (all inside the 24 h window) and reads
//! notifications until every message is `consumed`; the baseline, in the same run and
//! session, is N `get /ping` commands (the transport alone).
//!
//! ```text
//! cargo run --release --example bench_outbound -- [N]
//! ```

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const PEOPLE: usize = 1_000;
/// The people's numbers end in 1000–1999: none of the simulator's test endings (0001–0008
/// fail, stop at sent or delivered, or reply), so every message ends `consumed`.
const FIRST: usize = 70_001_000;

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

async fn send(ws: &mut Ws, v: Value) {
    ws.feed(Message::Text(v.to_string().into())).await.unwrap();
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let mut config = irisgate::Config::development();
    config.storage.path = dir.path().join("irisgate.db");
    config.tenants[0].channels[0].delivered_after_ms = 0;
    config.tenants[0].channels[0].read_after_ms = 0;
    config.outbound.queue_max = n.max(1);
    config.limits.outbound_queue = 4 * n + 1024;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(irisgate::run(listener, config, shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Everybody wrote just now (REST contacts), so free-form text is allowed.
    let client = reqwest::Client::new();
    let now = chrono::Utc::now().to_rfc3339();
    for i in 0..PEOPLE {
        let r = client
            .post(format!("http://{addr}/api/v1/contacts"))
            .header("x-api-key", "wk_test_123")
            .json(&json!({"phone": format!("+55319{:08}", FIRST + i), "last_interaction_at": now}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }

    let mut request = format!("ws://{addr}").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "lime".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    send(&mut ws, json!({"state": "new"})).await;
    ws.flush().await.unwrap();
    let sid = recv(&mut ws).await["id"].as_str().unwrap().to_owned();
    send(
        &mut ws,
        json!({"id": sid, "state": "authenticating", "from": "mybot@msging.net/default",
                         "scheme": "key", "authentication": {"key": "c2VjcmV0"}}),
    )
    .await;
    ws.flush().await.unwrap();
    assert_eq!(recv(&mut ws).await["state"], "established");

    // Baseline: N pings, pipelined.
    let started = Instant::now();
    for i in 0..n {
        send(&mut ws, json!({"id": format!("p{i}"), "method": "get", "uri": "/ping"})).await;
    }
    ws.flush().await.unwrap();
    let mut answered = 0;
    while answered < n {
        if recv(&mut ws).await.get("status").is_some() {
            answered += 1;
        }
    }
    let ping_rate = n as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    for i in 0..n {
        let to = format!("55319{:08}@wa.gw.msging.net", FIRST + i % PEOPLE);
        send(&mut ws, json!({"id": format!("m{i}"), "to": to, "type": "text/plain", "content": "Olá!"})).await;
    }
    ws.flush().await.unwrap();
    let accepted_in = started.elapsed();
    let (mut consumed, mut failed, mut notifications) = (0, 0, 0);
    while consumed + failed < n {
        let v = recv(&mut ws).await;
        if let Some(event) = v.get("event").and_then(Value::as_str) {
            notifications += 1;
            match event {
                "consumed" => consumed += 1,
                "failed" => failed += 1,
                _ => {}
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = n as f64 / elapsed;
    let result = json!({"messages": n, "people": PEOPLE, "store": "sqlite", "seconds": elapsed,
        "messages_per_s": rate.round(), "notifications": notifications, "failed": failed,
        "written_in_s": accepted_in.as_secs_f64(), "ping_per_s": ping_rate.round(),
        "vs_ping": (rate / ping_rate * 1000.0).round() / 1000.0});
    println!("RESULT {result}");
    shutdown.cancel();
    let _ = server.await;
}
