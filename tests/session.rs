//! The WebSocket session handshake of lime.md, step by step, and its failure cases.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn upgrade_echoes_the_lime_subprotocol() {
    let gw = Gateway::start().await;
    let c = Ws::connect(&gw).await;
    assert_eq!(c.protocol.as_deref(), Some("lime"));
}

#[tokio::test]
async fn new_session_goes_straight_to_authenticating_with_plain_and_key() {
    let gw = Gateway::start().await;
    let mut c = Ws::connect(&gw).await;
    c.send(json!({"state": "new"})).await;
    let reply = c.recv().await;
    assert_eq!(reply["state"], "authenticating");
    assert_eq!(reply["from"], "postmaster@msging.net/#irisgate1");
    assert_eq!(reply["schemeOptions"], json!(["plain", "key"]));
    assert!(reply["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(reply.get("encryptionOptions").is_none(), "no negotiation on WebSocket: {reply}");
}

#[tokio::test]
async fn new_with_an_id_like_the_python_sdk_is_accepted() {
    let gw = Gateway::start().await;
    let mut c = Ws::connect(&gw).await;
    c.send(json!({"id": "client-chosen", "state": "new"})).await;
    assert_eq!(c.recv().await["state"], "authenticating");
}

#[tokio::test]
async fn key_scheme_establishes_with_to_set_to_the_client_node() {
    let gw = Gateway::start().await;
    let mut c = Ws::connect(&gw).await;
    c.send(json!({"state": "new"})).await;
    let sid = c.recv().await["id"].as_str().unwrap().to_owned();
    c.send(json!({"id": sid, "state": "authenticating", "from": "mybot@msging.net/default",
        "scheme": "key", "authentication": {"key": ACCESS_KEY, "scheme": "key"}}))
        .await;
    let est = c.recv().await;
    assert_eq!(
        est,
        json!({"id": sid, "from": "postmaster@msging.net/#irisgate1",
        "to": "mybot@msging.net/default", "state": "established"})
    );
}

#[tokio::test]
async fn plain_scheme_with_base64_password_establishes() {
    let gw = Gateway::start().await;
    let mut c = Ws::connect(&gw).await;
    c.send(json!({"state": "new"})).await;
    let sid = c.recv().await["id"].as_str().unwrap().to_owned();
    c.send(json!({"id": sid, "state": "authenticating", "from": "mybot@msging.net/web",
        "scheme": "plain", "authentication": {"password": ACCESS_KEY}}))
        .await;
    let est = c.recv().await;
    assert_eq!(est["state"], "established");
    assert_eq!(est["to"], "mybot@msging.net/web");
}

async fn expect_failed(c: &mut Ws, code: i64) -> String {
    let (frames, close) = c.closed().await;
    let failed = frames.last().unwrap_or_else(|| panic!("a failed session envelope, got close {close:?}"));
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["reason"]["code"], code, "{failed}");
    assert!(close.is_some(), "the socket is closed with a close frame");
    failed["reason"]["description"].as_str().unwrap().to_owned()
}

async fn authenticate(gw: &Gateway, from: &str, scheme: &str, auth: serde_json::Value) -> Ws {
    let mut c = Ws::connect(gw).await;
    c.send(json!({"state": "new"})).await;
    let sid = c.recv().await["id"].as_str().unwrap().to_owned();
    c.send(json!({"id": sid, "state": "authenticating", "from": from, "scheme": scheme, "authentication": auth})).await;
    c
}

#[tokio::test]
async fn wrong_key_fails_with_13_and_closes() {
    let gw = Gateway::start().await;
    let mut c = authenticate(&gw, "mybot@msging.net/default", "key", json!({"key": "d3Jvbmc="})).await;
    expect_failed(&mut c, 13).await;
}

#[tokio::test]
async fn unknown_identifier_fails_with_13() {
    let gw = Gateway::start().await;
    let mut c = authenticate(&gw, "nobody@msging.net/default", "key", json!({"key": ACCESS_KEY})).await;
    expect_failed(&mut c, 13).await;
}

#[tokio::test]
async fn identity_of_another_domain_fails_with_13() {
    let gw = Gateway::start().await;
    let mut c = authenticate(&gw, "mybot@example.com/default", "key", json!({"key": ACCESS_KEY})).await;
    let description = expect_failed(&mut c, 13).await;
    assert!(description.contains("msging.net"), "{description}");
}

#[tokio::test]
async fn unsupported_scheme_fails_with_13_naming_it() {
    let gw = Gateway::start().await;
    let mut c = authenticate(&gw, "mybot@msging.net/default", "guest", json!({})).await;
    let description = expect_failed(&mut c, 13).await;
    assert!(description.contains("guest"), "{description}");
}

#[tokio::test]
async fn authenticating_with_another_session_id_fails_with_11() {
    let gw = Gateway::start().await;
    let mut c = Ws::connect(&gw).await;
    c.send(json!({"state": "new"})).await;
    c.recv().await;
    c.send(json!({"id": "not-the-session", "state": "authenticating", "from": "mybot@msging.net/default",
        "scheme": "key", "authentication": {"key": ACCESS_KEY}}))
        .await;
    expect_failed(&mut c, 11).await;
}

#[tokio::test]
async fn a_command_before_established_fails_with_11() {
    let gw = Gateway::start().await;
    let mut c = Ws::connect(&gw).await;
    c.send(json!({"id": "1", "method": "get", "uri": "/ping"})).await;
    expect_failed(&mut c, 11).await;
}

#[tokio::test]
async fn a_command_instead_of_authenticating_fails_with_11() {
    let gw = Gateway::start().await;
    let mut c = Ws::connect(&gw).await;
    c.send(json!({"state": "new"})).await;
    c.recv().await;
    c.send(json!({"id": "1", "method": "get", "uri": "/ping"})).await;
    expect_failed(&mut c, 11).await;
}

#[tokio::test]
async fn handshake_that_stalls_fails_after_the_configured_timeout() {
    let mut config = irisgate::Config::development();
    config.limits.handshake_timeout_ms = 300;
    let gw = Gateway::start_with(config).await;
    let mut c = Ws::connect(&gw).await;
    c.send(json!({"state": "new"})).await;
    c.recv().await;
    let started = std::time::Instant::now();
    let description = expect_failed(&mut c, 11).await;
    assert!(description.contains("300 ms"), "{description}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn finishing_is_answered_finished_and_the_socket_closes() {
    let gw = Gateway::start().await;
    let mut c = gw.session().await;
    let sid = c.session_id.clone().unwrap();
    c.send(json!({"id": sid, "state": "finishing"})).await;
    let (frames, close) = c.closed().await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["state"], "finished");
    assert_eq!(frames[0]["id"], sid);
    assert_eq!(close.map(|c| c.0), Some(1000));
}

#[tokio::test]
async fn finishing_waits_for_commands_already_sent() {
    let gw = Gateway::start().await;
    let mut c = gw.session().await;
    let sid = c.session_id.clone().unwrap();
    c.send(json!({"id": "p1", "method": "get", "uri": "/ping"})).await;
    c.send(json!({"id": sid, "state": "finishing"})).await;
    let (frames, _) = c.closed().await;
    let ids: Vec<_> = frames.iter().map(|f| f["id"].clone()).collect();
    assert_eq!(ids, vec![json!("p1"), json!(sid)], "{frames:?}");
}

#[tokio::test]
async fn presence_and_receipt_are_answered_right_after_established() {
    let gw = Gateway::start().await;
    let mut c = gw.session().await;
    let presence = c
        .call(json!({"id": "pr", "method": "set", "uri": "/presence",
            "type": "application/vnd.lime.presence+json", "resource": {"status": "available", "routingRule": "identity"}}))
        .await;
    assert_eq!(presence["status"], "success", "{presence}");
    assert_eq!(presence["method"], "set");
    let receipt = c
        .call(json!({"id": "rc", "method": "set", "uri": "/receipt",
            "type": "application/vnd.lime.receipt+json", "resource": {"events": ["failed", "accepted", "dispatched", "received", "consumed"]}}))
        .await;
    assert_eq!(receipt["status"], "success", "{receipt}");
}

#[tokio::test]
async fn idle_session_is_pinged_and_the_answer_keeps_it_open() {
    let mut config = irisgate::Config::development();
    config.limits.idle_ping_ms = 200;
    config.limits.ping_timeout_ms = 5_000;
    let gw = Gateway::start_with(config).await;
    let mut c = gw.session().await;
    let ping = c.recv().await;
    assert_eq!(ping["method"], "get");
    assert_eq!(ping["uri"], "/ping");
    assert_eq!(ping["to"], "mybot@msging.net/default");
    c.send(json!({"id": ping["id"], "method": "get", "status": "success",
        "type": "application/vnd.lime.ping+json", "resource": {}}))
        .await;
    // Still served after answering: a second ping comes after another idle period.
    let again = c.recv().await;
    assert_eq!(again["uri"], "/ping");
    assert_ne!(again["id"], ping["id"]);
    let pong = c.call(json!({"id": "x", "method": "get", "uri": "/ping"})).await;
    assert_eq!(pong["status"], "success");
}

#[tokio::test]
async fn session_that_stops_answering_pings_is_closed() {
    let mut config = irisgate::Config::development();
    config.limits.idle_ping_ms = 100;
    config.limits.ping_timeout_ms = 200;
    let gw = Gateway::start_with(config).await;
    let mut c = gw.session().await;
    let (frames, close) = c.closed().await;
    assert_eq!(frames.len(), 1, "exactly one ping before the close: {frames:?}");
    assert_eq!(frames[0]["uri"], "/ping");
    let (code, reason) = close.expect("close frame");
    assert_eq!(code, 1001);
    assert!(reason.contains("ping"), "{reason}");
}

#[tokio::test]
async fn websocket_level_pings_are_answered() {
    let gw = Gateway::start().await;
    let mut c = gw.session().await;
    c.send_raw(Message::Ping(vec![1, 2, 3].into())).await;
    loop {
        match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut c.ws)).await.unwrap() {
            Some(Ok(Message::Pong(p))) => {
                assert_eq!(&p[..], &[1, 2, 3]);
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    }
}
