//! Bad frames on an established WebSocket session, over real sockets (issue 14, points 2 and 3).
//!
//! - A frame that is no envelope, or an envelope whose id cannot be read, gets a session
//!   `failed` envelope whose reason (21) names the problem, then the close (1007, or 1003 for a
//!   binary frame) — the client always learns why. A command whose string id can be read gets
//!   a command failure with that id instead, and the session goes on.
//! - A frame over `limits.max_envelope_bytes` ends with a close frame 1009 that the client
//!   receives, however large the frame: the gateway reads and discards the rest before it lets
//!   go of the connection, so the peer never sees a TCP reset instead of the close.
//!
//! In every case a new connection is served afterwards.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Expects exactly a session `failed` envelope whose reason (21) mentions `mentions`, then a
/// close frame with `code`, then the end of the connection. Returns the reason's description.
async fn expect_failed_then_close(ws: &mut Ws, code: u16, mentions: &str, what: &str) -> String {
    let (frames, close) = ws.closed().await;
    assert_eq!(frames.len(), 1, "{what}: one envelope before the close: {frames:?}");
    let failed = &frames[0];
    assert_eq!(failed["state"], "failed", "{what}: {failed}");
    assert_eq!(failed["id"].as_str(), ws.session_id.as_deref(), "{what}: the session's id: {failed}");
    assert_eq!(failed["from"], "postmaster@msging.net/#irisgate1", "{what}: {failed}");
    assert_eq!(failed["reason"]["code"], 21, "{what}: {failed}");
    let description = failed["reason"]["description"].as_str().unwrap_or_default().to_owned();
    assert!(
        description.to_lowercase().contains(&mentions.to_lowercase()),
        "{what}: the reason should mention {mentions:?}: {description:?}"
    );
    let (got, _) = close.unwrap_or_else(|| panic!("{what}: a close frame after `failed`, not a dropped connection"));
    assert_eq!(got, code, "{what}");
    ws.until_eof().await;
    description
}

/// The frames of point 2 whose id cannot be read, each with what its reason must mention.
fn unreadable_frames() -> Vec<(&'static str, String, &'static str)> {
    let nested = format!(
        r#"{{"id": "deep", "method": "set", "uri": "/presence", "resource": {}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    vec![
        ("malformed JSON", r#"{"id": "1", "method": "get", "uri": "/ping""#.into(), "JSON"),
        ("JSON array", r#"[{"id": "1", "method": "get", "uri": "/ping"}]"#.into(), "object"),
        ("JSON string", r#""ping""#.into(), "object"),
        ("JSON number", "42".into(), "object"),
        ("JSON null", "null".into(), "object"),
        ("empty text frame", String::new(), "JSON"),
        ("10,000 levels of nesting", nested, "recursion"),
        ("1e400", r#"{"id": "huge", "method": "set", "uri": "/presence", "resource": {"n": 1e400}}"#.into(), "number"),
        ("bare 1e400", "1e400".into(), "number"),
        ("numeric command id", r#"{"id": 5, "method": "get", "uri": "/ping"}"#.into(), "'id'"),
        ("object that is no envelope", r#"{"id": "1", "uri": "/ping"}"#.into(), "method"),
    ]
}

#[tokio::test]
async fn frames_without_a_readable_id_get_a_failed_session_naming_the_problem_then_the_close() {
    let gw = Gateway::start().await;
    for (what, text, mentions) in unreadable_frames() {
        let mut ws = gw.session().await;
        // A command answered first: the failure is about the bad frame, not the session.
        ws.assert_alive().await;
        ws.send_text(text).await;
        expect_failed_then_close(&mut ws, 1007, mentions, what).await;
        // The next connection works.
        assert_gateway_serves(&gw).await;
    }
}

#[tokio::test]
async fn binary_and_invalid_utf8_frames_get_a_failed_session_too() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    ws.send_raw(Message::Binary(json!({"id": "1", "method": "get", "uri": "/ping"}).to_string().into_bytes().into()))
        .await;
    expect_failed_then_close(&mut ws, 1003, "binary", "binary frame").await;

    let mut ws = gw.session().await;
    let mut bytes = br#"{"id": "1", "method": "get", "uri": "/p"#.to_vec();
    bytes.extend_from_slice(&[0xc3, 0x28, 0xff]);
    bytes.extend_from_slice(br#"ng"}"#);
    ws.send_raw(Message::Frame(Frame::message(bytes, OpCode::Data(Data::Text), true))).await;
    expect_failed_then_close(&mut ws, 1007, "UTF-8", "invalid UTF-8").await;
    assert_gateway_serves(&gw).await;
}

#[tokio::test]
async fn a_command_whose_string_id_can_be_read_gets_a_failure_with_it_and_the_session_goes_on() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    ws.send_text(r#"{"id": "typed", "method": "get", "uri": 5}"#).await;
    let r: Value = ws.recv().await;
    assert_eq!(r["id"], "typed", "{r}");
    assert_eq!(r["status"], "failure", "{r}");
    assert_eq!(r["reason"]["code"], 21, "{r}");
    assert!(r["reason"]["description"].as_str().unwrap().contains("'uri'"), "{r}");
    ws.assert_alive().await;
}

#[tokio::test]
async fn sessions_failed_for_bad_frames_give_their_connection_back() {
    let mut config = irisgate::Config::development();
    config.limits.max_connections = 1;
    let gw = Gateway::start_with(config).await;
    for (what, text, mentions) in unreadable_frames() {
        let mut ws = gw.session().await;
        ws.send_text(text).await;
        expect_failed_then_close(&mut ws, 1007, mentions, what).await;
    }
    assert_gateway_serves(&gw).await;
}

/// Sends one text frame of `size` bytes (a command padded with spaces, so that only its size
/// is wrong) and expects the gateway to read it all (our write completes: no reset), then the
/// close 1009 naming the limit, then a clean end of the connection.
async fn oversize_closes_with_1009(gw: &Gateway, size: usize, attempt: usize) {
    let mut ws = gw.session().await;
    let command = json!({"id": "big", "method": "set", "uri": "/presence", "resource": {}}).to_string();
    let text = format!("{command}{}", " ".repeat(size - command.len()));
    let what = format!("{size} bytes, attempt {attempt}");
    let sent =
        tokio::time::timeout(WAIT, ws.ws.send(Message::Text(text.into()))).await.expect("the write ends in time");
    let (frames, close) = ws.closed().await;
    assert!(sent.is_ok(), "{what}: the whole frame is read (and discarded), not reset: {sent:?}, then {close:?}");
    assert!(frames.is_empty(), "{what}: nothing but the close: {frames:?}");
    let (code, reason) = close.unwrap_or_else(|| panic!("{what}: a close frame 1009, not a reset connection"));
    assert_eq!(code, 1009, "{what}: {reason}");
    assert!(reason.contains("limits.max_envelope_bytes"), "{what}: {reason}");
    // Our close reply goes out; the gateway then ends the connection without a reset.
    match tokio::time::timeout(WAIT, ws.ws.next()).await.expect("the connection ends in time") {
        None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {}
        other => panic!("{what}: a clean end after the close, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_of_5_and_10_mib_over_the_limit_always_end_with_close_1009() {
    let gw = Gateway::start().await;
    assert_eq!(irisgate::Config::development().limits.max_envelope_bytes, 4 * 1024 * 1024);
    for attempt in 0..3 {
        for size in [5 << 20, 10 << 20] {
            oversize_closes_with_1009(&gw, size, attempt).await;
        }
    }
    assert_gateway_serves(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_keeps_sending_after_the_1009_is_let_go_within_the_write_timeout() {
    let mut config = irisgate::Config::development();
    config.limits.max_envelope_bytes = 1024;
    config.limits.max_connections = 1;
    config.limits.write_timeout_ms = 500;
    let gw = Gateway::start_with(config).await;
    let mut ws = gw.session().await;
    let command = json!({"id": "big", "method": "set", "uri": "/presence", "resource": {}}).to_string();
    ws.send_text(format!("{command}{}", " ".repeat(4096))).await;
    // Never stop writing: the gateway discards what comes after the limit for as long as it
    // would wait on a write of its own, then drops the connection.
    let started = std::time::Instant::now();
    let frame = "x".repeat(16 * 1024);
    while ws.ws.send(Message::Text(frame.as_str().into())).await.is_ok() {
        assert!(started.elapsed() < Duration::from_secs(5), "the gateway still reads after 5 s");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "dropped before the write timeout: {:?}",
        started.elapsed()
    );
    // The connection permit came back (max_connections = 1).
    assert_gateway_serves(&gw).await;
}
