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
