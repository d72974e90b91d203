//! Bad input on an established WebSocket session. Each case gets a failure envelope naming the
//! problem (and the session goes on), or a session `failed` naming it and a close frame with
//! the documented code (only the close, for frames over the size limit); either way the
//! gateway survives and a new connection is served.

mod support;

use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

/// Waits for the close frame, checks its code and that its reason mentions `mentions`
/// (case-insensitive), and that no envelope came before it.
async fn expect_close(ws: &mut Ws, code: u16, mentions: &str) -> String {
    let (frames, close) = ws.closed().await;
    assert!(frames.is_empty(), "nothing but the close: {frames:?}");
    let (got, reason) =
        close.unwrap_or_else(|| panic!("a close frame with {code} ({mentions}), not a dropped connection"));
    assert_eq!(got, code, "close reason: {reason:?}");
    assert!(
        reason.to_lowercase().contains(&mentions.to_lowercase()),
        "the close reason should mention {mentions:?}: {reason:?}"
    );
    ws.until_eof().await;
    reason
}

/// A text frame with these exact bytes, UTF-8 or not.
fn raw_text(bytes: &[u8], fin: bool) -> Message {
    Message::Frame(Frame::message(bytes.to_vec(), OpCode::Data(Data::Text), fin))
}

fn continuation(bytes: &[u8], fin: bool) -> Message {
    Message::Frame(Frame::message(bytes.to_vec(), OpCode::Data(Data::Continue), fin))
}

/// Like [`expect_close`], after a session `failed` envelope (21) that mentions `mentions` too.
async fn expect_failed_then_close(ws: &mut Ws, code: u16, mentions: &str) -> String {
    let (frames, close) = ws.closed().await;
    assert_eq!(frames.len(), 1, "a failed envelope, then the close: {frames:?}");
    assert_eq!((&frames[0]["state"], &frames[0]["reason"]["code"]), (&json!("failed"), &json!(21)), "{frames:?}");
    let description = frames[0]["reason"]["description"].as_str().unwrap_or_default();
    assert!(description.to_lowercase().contains(&mentions.to_lowercase()), "{description:?} mentions {mentions:?}");
    let (got, reason) = close.unwrap_or_else(|| panic!("a close frame with {code} after failed"));
    assert_eq!(got, code, "close reason: {reason:?}");
    assert!(reason.to_lowercase().contains(&mentions.to_lowercase()), "{reason:?} mentions {mentions:?}");
    ws.until_eof().await;
    reason
}

/// Sends `text` on a fresh session and expects a `failed` envelope, then the close `code`,
/// both mentioning `mentions`; then checks that the gateway still serves a new connection.
async fn text_closes(text: &str, code: u16, mentions: &str) {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    ws.send_text(text).await;
    expect_failed_then_close(&mut ws, code, mentions).await;
    assert_gateway_serves(&gw).await;
}

/// Checks a failure 21 answering a bad command and returns its description.
fn validation_failure(r: &Value) -> String {
    assert_eq!(r["status"], "failure", "{r}");
    assert_eq!(r["reason"]["code"], 21, "{r}");
    assert_eq!(r["from"], "postmaster@msging.net/#irisgate1", "{r}");
    assert_eq!(r["to"], "mybot@msging.net/default", "{r}");
    assert!(r["method"].is_string(), "every response carries a method: {r}");
    assert!(r.get("type").is_none() && r.get("resource").is_none(), "{r}");
    r["reason"]["description"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn malformed_json_closes_with_1007_naming_json() {
    text_closes(r#"{"id": "1", "method": "get", "uri": "/ping""#, 1007, "JSON").await;
}

#[tokio::test]
async fn empty_text_frame_closes_with_1007() {
    text_closes("", 1007, "JSON").await;
}

#[tokio::test]
async fn json_array_closes_with_1007_naming_the_object_rule() {
    text_closes(r#"[{"id": "1", "method": "get", "uri": "/ping"}]"#, 1007, "object").await;
}

#[tokio::test]
async fn json_scalars_close_with_1007_naming_the_object_rule() {
    for scalar in ["42", "\"ping\"", "null", "true"] {
        text_closes(scalar, 1007, "object").await;
    }
}

#[tokio::test]
async fn object_that_is_no_envelope_closes_with_1007_naming_the_keys() {
    text_closes(r#"{"id": "1", "uri": "/ping"}"#, 1007, "method").await;
}

#[tokio::test]
async fn binary_frame_closes_with_1003() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    ws.send_raw(Message::Binary(json!({"id": "1", "method": "get", "uri": "/ping"}).to_string().into_bytes().into()))
        .await;
    expect_failed_then_close(&mut ws, 1003, "binary").await;
    assert_gateway_serves(&gw).await;
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    let mut bytes = br#"{"id": "1", "method": "get", "uri": "/p"#.to_vec();
    bytes.extend_from_slice(&[0xc3, 0x28, 0xff]);
    bytes.extend_from_slice(br#"ng"}"#);
    ws.send_raw(raw_text(&bytes, true)).await;
    expect_failed_then_close(&mut ws, 1007, "UTF-8").await;
    assert_gateway_serves(&gw).await;
}

#[tokio::test]
async fn invalid_utf8_split_across_fragments_closes_with_1007() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    // A 3-byte sequence cut after its first byte, then continued with an invalid byte.
    ws.send_raw(raw_text(b"{\"id\": \"1\", \"x\": \"\xe2", false)).await;
    ws.send_raw(continuation(b"\x28\xa1\", \"method\": \"get\"}", true)).await;
    expect_failed_then_close(&mut ws, 1007, "UTF-8").await;
    assert_gateway_serves(&gw).await;
}

fn small_limit() -> irisgate::Config {
    let mut config = irisgate::Config::development();
    config.limits.max_envelope_bytes = 1024;
    config
}

fn padded_presence(size: usize) -> String {
    let empty = json!({"id": "big", "method": "set", "uri": "/presence", "resource": {"pad": ""}}).to_string();
    let text = json!({"id": "big", "method": "set", "uri": "/presence",
        "resource": {"pad": "x".repeat(size - empty.len())}})
    .to_string();
    assert_eq!(text.len(), size);
    text
}

#[tokio::test]
async fn envelope_over_max_envelope_bytes_closes_with_1009_naming_the_limit() {
    let gw = Gateway::start_with(small_limit()).await;
    let mut ws = gw.session().await;
    ws.send_text(padded_presence(2000)).await;
    let reason = expect_close(&mut ws, 1009, "limits.max_envelope_bytes").await;
    assert!(reason.contains("1024"), "{reason}");
    assert_gateway_serves(&gw).await;
}

#[tokio::test]
async fn fragmented_envelope_over_max_envelope_bytes_closes_with_1009() {
    let gw = Gateway::start_with(small_limit()).await;
    let mut ws = gw.session().await;
    let text = padded_presence(1800);
    let (a, rest) = text.as_bytes().split_at(600);
    let (b, c) = rest.split_at(600);
    ws.send_raw(raw_text(a, false)).await;
    ws.send_raw(continuation(b, false)).await;
    ws.send_raw(continuation(c, true)).await;
    expect_close(&mut ws, 1009, "limits.max_envelope_bytes").await;
    assert_gateway_serves(&gw).await;
}

#[tokio::test]
async fn envelope_of_exactly_max_envelope_bytes_is_served() {
    let gw = Gateway::start_with(small_limit()).await;
    let mut ws = gw.session().await;
    ws.send_text(padded_presence(1024)).await;
    let r = ws.recv().await;
    assert_eq!(r["id"], "big");
    assert_eq!(r["status"], "success", "{r}");
    // Fragments are reassembled: three frames of a message under the limit are one envelope.
    let text = padded_presence(900);
    let (a, rest) = text.as_bytes().split_at(300);
    let (b, c) = rest.split_at(300);
    ws.send_raw(raw_text(a, false)).await;
    ws.send_raw(continuation(b, false)).await;
    ws.send_raw(continuation(c, true)).await;
    assert_eq!(ws.recv().await["status"], "success");
}

#[tokio::test]
async fn command_without_id_fails_with_21_and_the_session_goes_on() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    ws.send(json!({"method": "get", "uri": "/ping"})).await;
    let r = ws.recv().await;
    assert!(r.get("id").is_none(), "no id to echo: {r}");
    assert_eq!(r["method"], "get");
    let description = validation_failure(&r);
    assert!(description.contains("id"), "{description}");
    ws.assert_alive().await;
    assert_gateway_serves(&gw).await;
}

#[tokio::test]
async fn command_without_uri_fails_with_21_naming_it() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    let r = ws.call(json!({"id": "no-uri", "method": "get"})).await;
    let description = validation_failure(&r);
    assert!(description.contains("uri"), "{description}");
    ws.assert_alive().await;
}

#[tokio::test]
async fn wrongly_typed_fields_fail_with_21_naming_the_field_and_the_session_goes_on() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    for (i, (field, value)) in [
        ("uri", json!(5)),
        ("to", json!(5)),
        ("from", json!(["mybot@msging.net"])),
        ("type", json!({})),
        ("metadata", json!("x")),
        ("method", json!(5)),
        ("method", Value::Null),
        ("status", json!(true)),
        ("reason", json!("bad")),
    ]
    .into_iter()
    .enumerate()
    {
        let mut command = json!({"id": format!("typed-{i}"), "method": "get", "uri": "/ping"});
        command[field] = value;
        ws.send(command.clone()).await;
        let r = ws.recv().await;
        assert_eq!(r["id"], format!("typed-{i}"), "{command} → {r}");
        let description = validation_failure(&r);
        assert!(description.contains(&format!("'{field}'")), "{command} → {description}");
    }
    ws.assert_alive().await;
    assert_gateway_serves(&gw).await;
}

#[tokio::test]
async fn duplicate_keys_fail_with_21_naming_the_key() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    ws.send_text(r#"{"id": "dup", "method": "get", "uri": "/ping", "uri": "/presence"}"#).await;
    let r = ws.recv().await;
    assert_eq!(r["id"], "dup", "{r}");
    let description = validation_failure(&r);
    assert!(description.contains("duplicate") && description.contains("uri"), "{description}");
    ws.assert_alive().await;
}

#[tokio::test]
async fn wrongly_typed_id_closes_with_1007_naming_the_field() {
    text_closes(r#"{"id": 5, "method": "get", "uri": "/ping"}"#, 1007, "'id'").await;
}

#[tokio::test]
async fn deep_nesting_closes_with_1007_naming_the_problem() {
    let deep = format!(
        r#"{{"id": "deep", "method": "set", "uri": "/presence", "resource": {}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    text_closes(&deep, 1007, "recursion").await;
    let objects = format!(
        r#"{{"id": "deep", "method": "set", "uri": "/presence", "resource": {}1{}}}"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    text_closes(&objects, 1007, "recursion").await;
}

#[tokio::test]
async fn huge_number_closes_with_1007_naming_the_number() {
    text_closes(r#"{"id": "huge", "method": "set", "uri": "/presence", "resource": {"n": 1e999}}"#, 1007, "number")
        .await;
    text_closes(
        &format!(r#"{{"id": "huge", "method": "set", "uri": "/presence", "resource": {{"n": 1{}}}}}"#, "0".repeat(400)),
        1007,
        "number",
    )
    .await;
}

#[tokio::test]
async fn large_but_finite_numbers_are_just_data() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    let r = ws
        .call(json!({"id": "big-num", "method": "set", "uri": "/presence",
            "resource": {"n": 1e308, "m": -1e-320, "i": u64::MAX}}))
        .await;
    assert_eq!(r["status"], "success", "{r}");
}

#[tokio::test]
async fn session_envelope_other_than_finishing_fails_the_established_session_with_11() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    ws.send(json!({"state": "new"})).await;
    let (frames, close) = ws.closed().await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["state"], "failed");
    assert_eq!(frames[0]["reason"]["code"], 11);
    assert!(close.is_some());
    ws.until_eof().await;
    assert_gateway_serves(&gw).await;
}

#[tokio::test]
async fn notifications_and_id_less_messages_on_a_session_are_answered_by_nothing() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    // Fire-and-forget (conversations.md): a message without an id gets no notifications, and a
    // notification from the bot is never answered.
    ws.send(json!({"to": "5511999990000@wa.gw.msging.net", "type": "text/plain", "content": "oi"})).await;
    ws.send(json!({"id": "m1", "event": "received"})).await;
    ws.send(json!({"id": "after", "method": "get", "uri": "/ping"})).await;
    assert_eq!(ws.recv().await["id"], "after", "nothing answers them");
}

#[tokio::test]
async fn sessions_closed_for_bad_input_give_their_connection_back() {
    let mut config = irisgate::Config::development();
    config.limits.max_connections = 1;
    let gw = Gateway::start_with(config).await;
    for bad in ["{", "[]", r#"{"id": 1, "method": "get"}"#] {
        let mut ws = gw.session().await;
        ws.send_text(bad).await;
        expect_failed_then_close(&mut ws, 1007, "").await;
    }
    let mut ws = gw.session().await;
    ws.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    expect_failed_then_close(&mut ws, 1003, "").await;
    assert_gateway_serves(&gw).await;
}
