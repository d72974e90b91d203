//! Graceful shutdown: cancelling the token stops accepting, lets HTTP requests in flight
//! finish, sends every session `finished` and a close 1001, and `run` returns.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long `run` may take to return once nothing is left to wait for.
const PROMPTLY: Duration = Duration::from_secs(3);

async fn stop_promptly(gw: Gateway) {
    let started = Instant::now();
    gw.stop().await;
    assert!(started.elapsed() < PROMPTLY, "run returned after {:?}", started.elapsed());
}

/// Checks the shutdown goodbye of a session: `finished`, then close 1001.
async fn expect_goodbye(ws: &mut Ws, to: &str) {
    let (frames, close) = ws.closed().await;
    assert_eq!(frames.len(), 1, "only finished before the close: {frames:?}");
    let finished = &frames[0];
    assert_eq!(finished["state"], "finished", "{finished}");
    assert_eq!(finished["id"], json!(ws.session_id), "{finished}");
    assert_eq!(finished["from"], "postmaster@msging.net/#irisgate1");
    assert_eq!(finished["to"], to);
    let (code, reason) = close.expect("a close frame after finished");
    assert_eq!(code, 1001, "{reason}");
    assert!(reason.contains("shutting down"), "{reason}");
    ws.until_eof().await;
}

/// A connection made now is refused, or accepted by the kernel and never answered.
async fn assert_not_served(addr: SocketAddr) {
    let Ok(mut tcp) = TcpStream::connect(addr).await else {
        return;
    };
    let _ = tcp.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let mut buf = [0u8; 256];
    match tokio::time::timeout(WAIT, tcp.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!("a new connection was served during shutdown: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(_) => panic!("a new connection was left hanging during shutdown"),
    }
}

async fn established_as(gw: &Gateway, instance: &str) -> Ws {
    let mut c = Ws::connect(gw).await;
    c.send(json!({"state": "new"})).await;
    let sid = c.recv().await["id"].as_str().unwrap().to_owned();
    c.send(json!({"id": sid, "state": "authenticating", "from": format!("mybot@msging.net/{instance}"),
        "scheme": "key", "authentication": {"key": ACCESS_KEY}}))
        .await;
    assert_eq!(c.recv().await["state"], "established");
    c.session_id = Some(sid);
    c
}

#[tokio::test]
async fn every_session_gets_finished_and_close_1001_and_run_returns() {
    let gw = Gateway::start().await;
    let mut sessions = Vec::new();
    for instance in ["a", "b", "c"] {
        let mut ws = established_as(&gw, instance).await;
        ws.assert_alive().await;
        sessions.push((ws, format!("mybot@msging.net/{instance}")));
    }
    gw.shutdown.cancel();
    for (ws, to) in &mut sessions {
        expect_goodbye(ws, to).await;
    }
    stop_promptly(gw).await;
}

#[tokio::test]
async fn without_sessions_run_returns_at_once() {
    let gw = Gateway::start().await;
    assert_eq!(http_request(gw.addr, "GET", "/health", &[], bytes::Bytes::new()).await.status, 200);
    stop_promptly(gw).await;
}

#[tokio::test]
async fn new_connections_are_refused_once_shutdown_began_and_after_run_returned() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    let addr = gw.addr;
    gw.shutdown.cancel();
    expect_goodbye(&mut ws, "mybot@msging.net/default").await;
    assert_not_served(addr).await;
    stop_promptly(gw).await;
    assert!(TcpStream::connect(addr).await.is_err(), "nothing listens once run returned");
}

#[tokio::test]
async fn http_request_in_flight_completes_during_shutdown() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    let body = json!({"id": "in-flight", "method": "get", "uri": "/ping"}).to_string();
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(
        format!(
            "POST /commands HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
            key_header(BOT, SECRET),
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // 100 Continue proves the handler runs and waits for the body: the request is in flight.
    let mut head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 100"), "{head}");

    gw.shutdown.cancel();
    expect_goodbye(&mut ws, "mybot@msging.net/default").await;
    assert_not_served(gw.addr).await;

    tcp.write_all(body.as_bytes()).await.unwrap();
    head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().unwrap())
        })
        .expect("content-length");
    let mut reply = vec![0u8; length];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut reply)).await.expect("body in time").unwrap();
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["id"], "in-flight");
    assert_eq!(reply["status"], "success", "{reply}");
    stop_promptly(gw).await;
}

/// Reads one response head (up to the blank line), byte by byte so nothing after it is taken.
async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut byte)).await.expect("a response in time").unwrap();
        assert!(n == 1, "connection closed after {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn idle_keep_alive_connection_does_not_delay_shutdown() {
    let gw = Gateway::start().await;
    let mut conn = HttpConn::open(gw.addr).await;
    let reply = conn.command(json!({"id": "k", "method": "get", "uri": "/ping"})).await.unwrap();
    assert_eq!(reply.status, 200);
    stop_promptly(gw).await;
    tokio::time::timeout(WAIT, &mut conn.conn)
        .await
        .expect("the idle connection is closed by the gateway")
        .unwrap()
        .ok();
}

#[tokio::test]
async fn session_still_in_its_handshake_is_closed_at_shutdown() {
    let gw = Gateway::start().await;
    let mut ws = Ws::connect(&gw).await;
    ws.send(json!({"state": "new"})).await;
    assert_eq!(ws.recv().await["state"], "authenticating");
    let started = Instant::now();
    gw.shutdown.cancel();
    let (_, close) = ws.closed().await;
    assert!(started.elapsed() < PROMPTLY, "closed only after {:?} (handshake timeout is 10 s)", started.elapsed());
    let (code, reason) = close.expect("a close frame");
    assert_eq!(code, 1001, "{reason}");
    ws.until_eof().await;
    stop_promptly(gw).await;
}

/// The development configuration on a SQLite file of the test's, with receipts due long
/// after the sends and a short drain time.
fn slow_receipts_config(dir: &tempfile::TempDir) -> irisgate::Config {
    let mut config = irisgate::Config::development();
    config.storage.path = dir.path().join("irisgate.db");
    config.limits.shutdown_drain_ms = 2_000;
    for channel in &mut config.tenants[0].channels {
        (channel.delivered_after_ms, channel.read_after_ms) = (30_000, 60_000);
    }
    config
}

/// Issue 14, point 6: the simulator's timer ended at shutdown, dropping the receipts it
/// held, so that its recipients stayed PROCESSED for good.
#[tokio::test]
async fn receipts_held_by_the_simulator_are_recorded_at_shutdown_within_the_drain_time() {
    use support::client::*;
    let dir = tempfile::tempdir().unwrap();
    let config = slow_receipts_config(&dir);
    let gw = Gateway::start_with(config.clone()).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    let id = id_of(&c.full(full_batch("slow", &["+5531998761234", "+5531998765678"])).await);
    let sent = c.wait_report(&id, "both sent", |r| r["audienceCounts"]["pending"] == 0).await;
    assert_eq!(sent["audienceCounts"]["read"], 0, "nothing is due yet: {sent}");
    let started = Instant::now();
    gw.stop().await;
    // Three drain phases of 2 s at most; far less than the 60 s the read receipts are due in.
    assert!(started.elapsed() < Duration::from_secs(6), "stopped after {:?}", started.elapsed());
    let gw = Gateway::start_with(config).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    let report = c.report(&id).await;
    assert_eq!(report["audienceCounts"]["read"], 2, "read receipts held at shutdown were recorded: {report}");
    gw.stop().await;
}

/// Issue 14, point 6: the scheduler, the lease claimer and the channels' timers were plain
/// spawned tasks nobody waited for.
#[tokio::test]
async fn every_background_task_has_finished_after_the_drain() {
    let config = irisgate::Config::development();
    let storage = irisgate::config::StorageConfig { kind: irisgate::config::StorageKind::Memory, ..Default::default() };
    let store = irisgate::store::open(&storage).await.unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let engine =
        irisgate::engine::Engine::start(&config, store.clone(), irisgate::clock::Clock::new(), shutdown.clone())
            .await
            .unwrap();
    // A channel with receipt latencies runs a timer.
    let def = store.channels("mybot").await.unwrap().into_iter().find(|c| c.delivered_after_ms > 0).unwrap();
    engine.channels.get("mybot", &def);
    assert_eq!(
        engine.background_tasks(),
        10,
        "scheduler, claimer, the channel's timer, the bot-message intake and sender, the notification \
         poster, the inbound messages' group commit, the inbox delivery loop, the simulated people's \
         recorder and the status-callback deliverer"
    );
    shutdown.cancel();
    let started = Instant::now();
    assert!(engine.drain(Duration::from_secs(2)).await, "drained in time");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(engine.background_tasks(), 0, "no background task left running");
}
