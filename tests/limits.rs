//! Configured limits over real sockets: connections, in-flight commands, slow readers.
//!
//! Not covered, because the current handlers all answer at their first poll and src has no
//! test hooks: failure 85 for `limits.max_inflight_per_session` (only commands still running
//! count), close 1008 for `limits.outbound_queue` (only replies of such commands are queued),
//! and HTTP 504 for `limits.command_timeout_ms`.

mod support;

use std::time::Instant;

use futures_util::SinkExt;
use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn config(edit: impl FnOnce(&mut irisgate::config::Limits)) -> irisgate::Config {
    let mut config = irisgate::Config::development();
    edit(&mut config.limits);
    config
}

/// Closes the socket from our side and waits until the gateway has let go of it.
async fn close(mut ws: Ws) {
    ws.ws.close(None).await.unwrap();
    ws.until_eof().await;
}

#[tokio::test]
async fn upgrade_over_max_connections_gets_503_json_naming_the_limit() {
    let gw = Gateway::start_with(config(|l| l.max_connections = 2)).await;
    let _a = Ws::connect(&gw).await;
    let _b = gw.session().await;
    let refused = upgrade_attempt(gw.addr).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.headers.get("retry-after").map(|v| v.to_str().unwrap()), Some("1"), "a Retry-After");
    let body = refused.json();
    assert_eq!(body["error"], "Service Unavailable", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("limits.max_connections"), "{message}");
    assert!(message.contains('2'), "{message}");

    // What a WebSocket client library sees: the upgrade fails with that status.
    let mut request = gw.ws_url().into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "lime".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("expected HTTP 503, got {:?}", other.map(|(_, r)| r)),
    }
}

#[tokio::test]
async fn after_a_connection_closes_a_new_one_is_accepted() {
    let gw = Gateway::start_with(config(|l| l.max_connections = 2)).await;
    let a = Ws::connect(&gw).await;
    let mut b = gw.session().await;
    assert_eq!(upgrade_attempt(gw.addr).await.status, 503);
    close(a).await;
    let mut c = gw.session().await;
    c.assert_alive().await;
    b.assert_alive().await;
    assert_eq!(upgrade_attempt(gw.addr).await.status, 503);
}

#[tokio::test]
async fn http_commands_are_served_while_websocket_connections_are_at_the_limit() {
    let gw = Gateway::start_with(config(|l| l.max_connections = 1)).await;
    let _a = gw.session().await;
    assert_eq!(upgrade_attempt(gw.addr).await.status, 503);
    let reply = gw.command(json!({"id": id(), "method": "get", "uri": "/ping"})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "success");
    let health = http_request(gw.addr, "GET", "/health", &[], bytes::Bytes::new()).await;
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn finished_and_failed_sessions_give_their_connection_back() {
    let gw = Gateway::start_with(config(|l| l.max_connections = 1)).await;
    for _ in 0..3 {
        let mut ws = gw.session().await;
        let sid = ws.session_id.clone().unwrap();
        ws.send(json!({"id": sid, "state": "finishing"})).await;
        let (frames, _) = ws.closed().await;
        assert_eq!(frames[0]["state"], "finished");
        ws.until_eof().await;
    }
    for _ in 0..3 {
        let mut ws = Ws::connect(&gw).await;
        ws.send(json!({"state": "new"})).await;
        let sid = ws.recv().await["id"].clone();
        ws.send(json!({"id": sid, "state": "authenticating", "from": "mybot@msging.net/default",
            "scheme": "key", "authentication": {"key": "d3Jvbmc="}}))
            .await;
        let (frames, _) = ws.closed().await;
        assert_eq!(frames[0]["state"], "failed");
        ws.until_eof().await;
    }
    gw.session().await.assert_alive().await;
}

#[tokio::test]
async fn stalled_handshakes_give_their_connection_back() {
    let gw = Gateway::start_with(config(|l| {
        l.max_connections = 1;
        l.handshake_timeout_ms = 200;
    }))
    .await;
    let mut stalled = Ws::connect(&gw).await;
    assert_eq!(upgrade_attempt(gw.addr).await.status, 503);
    let (frames, _) = stalled.closed().await;
    assert_eq!(frames[0]["state"], "failed");
    stalled.until_eof().await;
    gw.session().await.assert_alive().await;
}

#[tokio::test]
async fn vanished_clients_give_their_connection_back() {
    let gw = Gateway::start_with(config(|l| l.max_connections = 1)).await;
    let ws = gw.session().await;
    // Drop the TCP connection without a close frame.
    drop(ws);
    // Nothing tells the client when the gateway noticed: retry the upgrade until it is
    // accepted (each try is a real request), within the usual wait.
    let started = Instant::now();
    loop {
        let attempt = upgrade_attempt(gw.addr).await;
        if attempt.status == 101 {
            break;
        }
        assert_eq!(attempt.status, 503);
        assert!(started.elapsed() < WAIT, "the connection of a vanished client was never given back");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn commands_answered_at_once_do_not_count_against_max_inflight() {
    let gw = Gateway::start_with(config(|l| l.max_inflight_per_session = 1)).await;
    let mut ws = gw.session().await;
    let n = 300;
    for i in 0..n {
        ws.ws
            .feed(Message::Text(json!({"id": format!("b{i}"), "method": "get", "uri": "/ping"}).to_string().into()))
            .await
            .unwrap();
    }
    ws.ws.flush().await.unwrap();
    for i in 0..n {
        let r = ws.recv().await;
        assert_eq!(r["id"], format!("b{i}"), "answers in order: {r}");
        assert_eq!(r["status"], "success", "{r}");
    }
}

#[tokio::test]
async fn client_that_stops_reading_is_dropped_after_the_write_timeout() {
    let gw = Gateway::start_with(config(|l| {
        l.max_connections = 1;
        l.write_timeout_ms = 200;
        l.outbound_queue = 4;
    }))
    .await;
    let mut ws = gw.session().await;
    // Send pings and never read the answers: once the socket buffers are full the gateway
    // cannot write, gives up after write_timeout_ms and drops the connection, which makes
    // our writes fail.
    let ping = json!({"id": "flood", "method": "get", "uri": "/ping"}).to_string();
    let started = Instant::now();
    let sent = tokio::time::timeout(WAIT, async {
        let mut sent = 0u64;
        loop {
            if ws.ws.send(Message::Text(ping.clone().into())).await.is_err() {
                return sent;
            }
            sent += 1;
        }
    })
    .await
    .expect("the gateway drops a client that does not read");
    assert!(sent > 0);
    assert!(started.elapsed() < WAIT, "dropped after {:?}", started.elapsed());
    // The connection was given back (max_connections = 1) and the gateway still serves.
    assert_gateway_serves(&gw).await;
}
