//! The HTTP face: `POST /commands|/messages|/notifications`, `/health`, and the JSON errors
//! of every refusal (401, 400, 413, 404, 405, 426).

mod support;

use std::net::SocketAddr;

use base64::Engine as _;
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn auth() -> String {
    key_header(BOT, SECRET)
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn ping() -> String {
    json!({"id": id(), "method": "get", "uri": "/ping"}).to_string()
}

/// Checks the JSON error body of lime.md (`{"error", "message"}`) and returns the message.
fn json_error(reply: &HttpReply, status: u16) -> String {
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, status, "{body}");
    assert!(reply.headers["content-type"].to_str().unwrap().starts_with("application/json"), "{:?}", reply.headers);
    let v = reply.json();
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    v["message"].as_str().unwrap_or_else(|| panic!("no message: {body}")).to_owned()
}

async fn post_commands(gw: &Gateway, authorization: Option<&str>, body: impl Into<bytes::Bytes>) -> HttpReply {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = authorization {
        headers.push(("authorization", a));
    }
    gw.post("/commands", &headers, body).await
}

// ---------------------------------------------------------------- 401

async fn expect_401(gw: &Gateway, authorization: Option<&str>) -> String {
    let reply = post_commands(gw, authorization, ping()).await;
    let message = json_error(&reply, 401);
    let challenge = reply
        .headers
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("401 without WWW-Authenticate for {authorization:?}"))
        .to_str()
        .unwrap();
    assert!(challenge.starts_with("Key"), "{challenge}");
    message
}

#[tokio::test]
async fn missing_authorization_is_401_saying_what_is_expected() {
    let gw = Gateway::start().await;
    let message = expect_401(&gw, None).await;
    assert!(message.contains("Key"), "{message}");
}

#[tokio::test]
async fn authorization_with_another_scheme_is_401() {
    let gw = Gateway::start().await;
    for header in
        ["Bearer abc".to_owned(), format!("Basic {}", b64("mybot:secret")), b64("mybot:secret"), "Key".to_owned()]
    {
        expect_401(&gw, Some(&header)).await;
    }
}

#[tokio::test]
async fn key_token_that_is_not_base64_is_401() {
    let gw = Gateway::start().await;
    expect_401(&gw, Some("Key !!!not-base64!!!")).await;
}

#[tokio::test]
async fn key_token_without_identifier_and_secret_is_401() {
    let gw = Gateway::start().await;
    expect_401(&gw, Some(&format!("Key {}", b64("mybot")))).await;
}

#[tokio::test]
async fn wrong_access_key_is_401() {
    let gw = Gateway::start().await;
    expect_401(&gw, Some(&key_header(BOT, "not-the-secret"))).await;
    expect_401(&gw, Some(&key_header(BOT, ""))).await;
}

#[tokio::test]
async fn unknown_identifier_is_401() {
    let gw = Gateway::start().await;
    expect_401(&gw, Some(&key_header("nobody", SECRET))).await;
}

#[tokio::test]
async fn authentication_is_checked_before_the_body() {
    let gw = Gateway::start().await;
    let reply = post_commands(&gw, None, "{not json").await;
    json_error(&reply, 401);
}

#[tokio::test]
async fn key_scheme_and_identifier_are_case_insensitive() {
    let gw = Gateway::start().await;
    for header in [format!("key {}", b64("mybot:secret")), format!("KEY {}", b64("MyBot:secret"))] {
        let reply = post_commands(&gw, Some(&header), ping()).await;
        assert_eq!(reply.status, 200, "{header}");
        assert_eq!(reply.json()["status"], "success");
    }
}

// ---------------------------------------------------------------- 400

async fn expect_400(gw: &Gateway, body: impl Into<bytes::Bytes>, mentions: &str) {
    let body = body.into();
    let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
    let reply = post_commands(gw, Some(&auth()), body).await;
    let message = json_error(&reply, 400);
    assert!(
        message.to_lowercase().contains(&mentions.to_lowercase()),
        "400 for {shown:?} should mention {mentions:?}: {message:?}"
    );
}

#[tokio::test]
async fn malformed_json_is_400() {
    let gw = Gateway::start().await;
    expect_400(&gw, r#"{"id": "1", "method": "get", "uri": "/ping""#, "JSON").await;
    expect_400(&gw, "", "JSON").await;
    expect_400(&gw, "{'id': 1}", "JSON").await;
}

#[tokio::test]
async fn json_that_is_not_an_object_is_400() {
    let gw = Gateway::start().await;
    for body in ["[]", r#"[{"id":"1","method":"get","uri":"/ping"}]"#, "42", "\"get\"", "null", "true"] {
        expect_400(&gw, body, "object").await;
    }
}

#[tokio::test]
async fn object_that_is_no_envelope_is_400() {
    let gw = Gateway::start().await;
    expect_400(&gw, r#"{"id": "1", "uri": "/ping"}"#, "method").await;
}

#[tokio::test]
async fn session_message_and_notification_envelopes_are_400_naming_the_kind() {
    let gw = Gateway::start().await;
    expect_400(&gw, r#"{"state": "new"}"#, "session").await;
    expect_400(
        &gw,
        r#"{"id": "m1", "to": "5511999990000@wa.gw.msging.net", "type": "text/plain", "content": "hi"}"#,
        "message",
    )
    .await;
    expect_400(&gw, r#"{"id": "m1", "event": "received"}"#, "notification").await;
}

#[tokio::test]
async fn command_response_is_400() {
    let gw = Gateway::start().await;
    expect_400(
        &gw,
        r#"{"id": "1", "method": "get", "status": "success", "type": "application/vnd.lime.ping+json", "resource": {}}"#,
        "response",
    )
    .await;
}

#[tokio::test]
async fn wrongly_typed_field_is_400_naming_the_field() {
    let gw = Gateway::start().await;
    expect_400(&gw, r#"{"id": "1", "method": "get", "uri": 5}"#, "uri").await;
    expect_400(&gw, r#"{"id": 7, "method": "get", "uri": "/ping"}"#, "id").await;
    expect_400(&gw, r#"{"id": "1", "method": "get", "uri": "/ping", "metadata": []}"#, "metadata").await;
    expect_400(&gw, r#"{"id": "1", "method": null, "uri": "/ping"}"#, "method").await;
}

#[tokio::test]
async fn invalid_utf8_body_is_400() {
    let gw = Gateway::start().await;
    let mut body = br#"{"id": "1", "method": "get", "uri": "/p"#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(br#"ng"}"#);
    expect_400(&gw, body, "unicode").await;
}

#[tokio::test]
async fn deep_nesting_and_huge_numbers_are_400_naming_the_problem() {
    let gw = Gateway::start().await;
    let deep = format!(
        r#"{{"id": "1", "method": "set", "uri": "/presence", "resource": {}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    expect_400(&gw, deep, "recursion").await;
    expect_400(&gw, r#"{"id": "1", "method": "set", "uri": "/presence", "resource": {"n": 1e999}}"#, "number").await;
    assert_gateway_serves(&gw).await;
}

// ---------------------------------------------------------------- 413

fn small_limit() -> irisgate::Config {
    let mut config = irisgate::Config::development();
    config.limits.max_envelope_bytes = 1024;
    config
}

fn padded_ping(size: usize) -> String {
    let empty = json!({"id": "big", "method": "set", "uri": "/presence", "resource": {"pad": ""}}).to_string();
    let body = json!({"id": "big", "method": "set", "uri": "/presence",
        "resource": {"pad": "x".repeat(size - empty.len())}})
    .to_string();
    assert_eq!(body.len(), size);
    body
}

#[tokio::test]
async fn body_over_max_envelope_bytes_is_413_naming_the_limit() {
    let gw = Gateway::start_with(small_limit()).await;
    let reply = post_commands(&gw, Some(&auth()), padded_ping(1025)).await;
    let message = json_error(&reply, 413);
    assert!(message.contains("limits.max_envelope_bytes"), "{message}");
    assert!(message.contains("1024"), "{message}");
    for path in ["/messages", "/notifications"] {
        let reply = gw.post(path, &[("authorization", &auth())], padded_ping(4000)).await;
        json_error(&reply, 413);
    }
}

#[tokio::test]
async fn body_of_exactly_max_envelope_bytes_is_served() {
    let gw = Gateway::start_with(small_limit()).await;
    let reply = post_commands(&gw, Some(&auth()), padded_ping(1024)).await;
    assert_eq!(reply.status, 200, "{:?}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["status"], "success");
}

/// Writes raw bytes on a new connection and reads one response: (status, headers, body).
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    read_response(&mut tcp).await
}

/// Reads one HTTP/1.1 response with a Content-Length body.
async fn read_response(tcp: &mut TcpStream) -> (u16, String, String) {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk)).await.expect("response in time").unwrap();
        assert!(n > 0, "connection closed before a response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk)).await.expect("body in time").unwrap();
        assert!(n > 0, "connection closed in the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    (status, head, body)
}

#[tokio::test]
async fn chunked_body_over_max_envelope_bytes_is_413() {
    let gw = Gateway::start_with(small_limit()).await;
    let mut request = format!(
        "POST /commands HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        auth()
    )
    .into_bytes();
    let body = padded_ping(3000);
    for part in body.as_bytes().chunks(500) {
        request.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        request.extend_from_slice(part);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let (status, _, body) = raw_exchange(gw.addr, &request).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("limits.max_envelope_bytes"), "{body}");
}

#[tokio::test]
async fn chunked_body_under_the_limit_is_served() {
    let gw = Gateway::start().await;
    let body = ping();
    let request = format!(
        "POST /commands HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        auth(),
        body.len()
    );
    let (status, _, reply) = raw_exchange(gw.addr, request.as_bytes()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(serde_json::from_str::<Value>(&reply).unwrap()["status"], "success");
}

#[tokio::test]
async fn malformed_or_truncated_body_is_400_not_413() {
    let gw = Gateway::start().await;
    let bad_chunk = format!(
        "POST /commands HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        auth()
    );
    let (status, _, body) = raw_exchange(gw.addr, bad_chunk.as_bytes()).await;
    assert_eq!(status, 400, "bad chunk size: {body}");

    let truncated = format!(
        "POST /commands HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-length: 100\r\n\r\n{{\"id\"",
        auth()
    );
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(truncated.as_bytes()).await.unwrap();
    tcp.shutdown().await.unwrap();
    let (status, _, body) = read_response(&mut tcp).await;
    assert_eq!(status, 400, "body shorter than content-length: {body}");
}

// ---------------------------------------------------------------- /commands specifics

#[tokio::test]
async fn command_without_id_is_answered_with_a_new_id() {
    let gw = Gateway::start().await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let reply = gw.command(json!({"method": "get", "uri": "/ping"})).await;
        assert_eq!(reply.status, 200);
        let r = reply.json();
        assert_eq!(r["status"], "success", "{r}");
        let id = r["id"].as_str().unwrap_or_else(|| panic!("no id: {r}"));
        assert!(!id.is_empty());
        ids.push(id.to_owned());
    }
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn content_type_is_not_required() {
    let gw = Gateway::start().await;
    let reply = gw.post("/commands", &[("authorization", &auth())], ping()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "success");
}

// ---------------------------------------------------------------- /messages, /notifications

const MESSAGE: &str = r#"{"id": "m1", "to": "5511999990000@wa.gw.msging.net", "type": "text/plain", "content": "Olá"}"#;
const NOTIFICATION: &str = r#"{"id": "m1", "from": "5511999990000@wa.gw.msging.net", "event": "received"}"#;

#[tokio::test]
async fn messages_and_notifications_are_accepted_with_202_and_no_body() {
    let gw = Gateway::start().await;
    for (path, body) in [("/messages", MESSAGE), ("/notifications", NOTIFICATION)] {
        let reply = gw.post(path, &[("authorization", &auth()), ("content-type", "application/json")], body).await;
        assert_eq!(reply.status, 202, "{path}: {:?}", reply.body);
        assert!(reply.body.is_empty(), "{path}: {:?}", reply.body);
    }
}

#[tokio::test]
async fn messages_and_notifications_of_the_wrong_kind_are_400() {
    let gw = Gateway::start().await;
    for (path, body, mentions) in [
        ("/messages", NOTIFICATION, "notification"),
        ("/messages", r#"{"id": "1", "method": "get", "uri": "/ping"}"#, "command"),
        ("/notifications", MESSAGE, "message"),
        ("/notifications", r#"{"state": "new"}"#, "session"),
        ("/messages", "[1]", "object"),
        ("/notifications", "{", "JSON"),
    ] {
        let reply = gw.post(path, &[("authorization", &auth())], body).await;
        let message = json_error(&reply, 400);
        assert!(message.contains(mentions), "{path} {body}: {message}");
    }
}

#[tokio::test]
async fn messages_and_notifications_need_authorization() {
    let gw = Gateway::start().await;
    for (path, body) in [("/messages", MESSAGE), ("/notifications", NOTIFICATION)] {
        let reply = gw.post(path, &[], body).await;
        json_error(&reply, 401);
        assert!(reply.headers.contains_key("www-authenticate"));
        let reply = gw.post(path, &[("authorization", &key_header(BOT, "wrong"))], body).await;
        json_error(&reply, 401);
    }
}

// ---------------------------------------------------------------- other paths

#[tokio::test]
async fn health_is_200_without_credentials() {
    let gw = Gateway::start().await;
    let reply = http_request(gw.addr, "GET", "/health", &[], bytes::Bytes::new()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn unknown_path_is_404_json_naming_it() {
    let gw = Gateway::start().await;
    for (method, path) in [("GET", "/nope"), ("POST", "/command"), ("GET", "/commands/x")] {
        let reply = http_request(gw.addr, method, path, &[], bytes::Bytes::new()).await;
        let message = json_error(&reply, 404);
        assert!(message.contains(path), "{message}");
    }
}

#[tokio::test]
async fn wrong_method_is_405_json() {
    let gw = Gateway::start().await;
    for (method, path) in
        [("GET", "/commands"), ("PUT", "/messages"), ("DELETE", "/notifications"), ("POST", "/health"), ("POST", "/")]
    {
        let reply = http_request(gw.addr, method, path, &[], bytes::Bytes::new()).await;
        let message = json_error(&reply, 405);
        assert!(message.contains(method), "{message}");
    }
}

#[tokio::test]
async fn wrong_method_405_lists_the_allowed_methods() {
    let gw = Gateway::start().await;
    for (method, path, allowed) in [("GET", "/commands", "POST"), ("POST", "/health", "GET")] {
        let reply = http_request(gw.addr, method, path, &[], bytes::Bytes::new()).await;
        assert_eq!(reply.status, 405);
        let allow = reply
            .headers
            .get("allow")
            .unwrap_or_else(|| panic!("no Allow header on {method} {path}: {:?}", reply.headers));
        assert!(allow.to_str().unwrap().contains(allowed), "{allow:?}");
    }
}

#[tokio::test]
async fn get_root_without_upgrade_is_426_pointing_to_post_commands() {
    let gw = Gateway::start().await;
    let reply = http_request(gw.addr, "GET", "/", &[], bytes::Bytes::new()).await;
    let message = json_error(&reply, 426);
    assert!(message.contains("POST /commands"), "{message}");
}

// ---------------------------------------------------------------- keep-alive

#[tokio::test]
async fn several_requests_share_one_keep_alive_connection() {
    let gw = Gateway::start().await;
    let mut conn = HttpConn::open(gw.addr).await;
    for i in 0..5 {
        let reply = conn
            .command(json!({"id": format!("k{i}"), "method": "get", "uri": "/ping"}))
            .await
            .unwrap_or_else(|e| panic!("request {i} on the same connection: {e}"));
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["id"], format!("k{i}"));
    }
    let health = conn.request("GET", "/health", &[], "").await.unwrap();
    assert_eq!(health.status, 200);
    let failure = conn.command(json!({"id": "f", "method": "get", "uri": "/nothing"})).await.unwrap();
    assert_eq!(failure.status, 200);
    assert_eq!(failure.json()["reason"]["code"], 62);
    let bad = conn.request("POST", "/commands", &[("authorization", &auth())], "[1, 2]").await.unwrap();
    assert_eq!(bad.status, 400);
    let accepted = conn.request("POST", "/messages", &[("authorization", &auth())], MESSAGE).await.unwrap();
    assert_eq!(accepted.status, 202);
    let last = conn
        .command(json!({"id": "last", "method": "get", "uri": "/ping"}))
        .await
        .expect("the connection is still usable");
    assert_eq!(last.json()["status"], "success");
    assert!(!conn.conn.is_finished(), "the connection stays open");
}

#[tokio::test]
async fn refused_request_does_not_break_a_keep_alive_connection() {
    let gw = Gateway::start().await;
    let mut conn = HttpConn::open(gw.addr).await;
    let refused = conn.request("POST", "/commands", &[("authorization", "Bearer x")], ping()).await.unwrap();
    assert_eq!(refused.status, 401);
    let closes = refused.headers.get("connection").is_some_and(|v| v.to_str().unwrap().eq_ignore_ascii_case("close"));
    if !closes {
        let next = conn
            .command(json!({"id": "after-401", "method": "get", "uri": "/ping"}))
            .await
            .expect("a connection kept open after a 401 must serve the next request");
        assert_eq!(next.json()["status"], "success");
    }
}
