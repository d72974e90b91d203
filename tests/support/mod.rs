//! Test support: a gateway on 127.0.0.1:0 (on SQLite in a temporary directory of its own unless
//! the test names another store) and real WebSocket / HTTP clients talking to it.
// Each test crate includes this module and uses a part of it: the rest is dead code there,
// and its `pub` items are unreachable from outside that one test crate by construction.
#![allow(dead_code, unreachable_pub)]

pub mod bot;
pub mod fake_whatsapp;
pub mod node;
pub mod pacing;
pub mod postgres;
pub mod rest;
pub mod whatsapp_seed;
pub mod whatsapp_shape;
#[allow(unused_imports)]
pub use rest::*;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use irisgate::Config;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// How long a test waits for something the gateway should send before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// The development tenant of `irisgate.example.toml`.
pub const BOT: &str = "mybot";
pub const ACCESS_KEY: &str = "c2VjcmV0";
pub const SECRET: &str = "secret";

/// A gateway running in this process on an ephemeral port.
pub struct Gateway {
    pub addr: SocketAddr,
    /// The metrics port (`GET /metrics`), on 127.0.0.1:0 unless the config turned it off.
    pub metrics_addr: Option<SocketAddr>,
    pub shutdown: CancellationToken,
    handle: JoinHandle<std::io::Result<()>>,
    /// The directory of its SQLite file when it runs on the default storage: one per gateway,
    /// removed when the gateway is dropped (after [`Gateway::stop`], once `run` has returned).
    data: Option<tempfile::TempDir>,
}

impl Gateway {
    /// The development configuration (`irisgate.example.toml`).
    pub async fn start() -> Gateway {
        Gateway::start_with(Config::development()).await
    }

    /// Runs `config` as production does (`irisgate::run`). A config still on the default
    /// storage (SQLite at `./irisgate-data/irisgate.db`) keeps SQLite, in a fresh temporary
    /// directory of this gateway's, so that tests never share a file; a config that names
    /// another store (memory, PostgreSQL, a path of its own) runs on it as it is.
    pub async fn start_with(mut config: Config) -> Gateway {
        let default = irisgate::config::StorageConfig::default();
        let data = (config.storage.kind == default.kind && config.storage.path == default.path).then(|| {
            let dir = tempfile::Builder::new().prefix("irisgate-test-").tempdir().unwrap();
            config.storage.path = dir.path().join("irisgate.db");
            dir
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        // Metrics on (as by default) but on a port of this gateway's own.
        let metrics = match config.metrics.listen {
            Some(_) => Some(TcpListener::bind("127.0.0.1:0").await.unwrap()),
            None => None,
        };
        let metrics_addr = metrics.as_ref().map(|m| m.local_addr().unwrap());
        let handle = tokio::spawn(irisgate::run_with(listener, metrics, config, shutdown.clone()));
        Gateway { addr, metrics_addr, shutdown, handle, data }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Cancels the shutdown token and waits for `run` to return.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT * 3, self.handle).await.expect("gateway stops").unwrap().unwrap();
        // `self.data` (the SQLite directory) is removed here, after `run` has let go of it.
    }

    /// An established session of the development bot.
    pub async fn session(&self) -> Ws {
        Ws::established(self, BOT, ACCESS_KEY).await
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> HttpReply {
        http_request(self.addr, "POST", path, headers, body.into()).await
    }

    /// `POST /commands` as the development bot.
    pub async fn command(&self, command: Value) -> HttpReply {
        let auth = key_header(BOT, SECRET);
        self.post("/commands", &[("authorization", &auth), ("content-type", "application/json")], command.to_string())
            .await
    }
}

/// `config` on the in-memory store, for tests about that store (nothing on disk, nothing
/// survives a restart). Everything else runs on the default SQLite store.
pub fn on_memory_store(mut config: Config) -> Config {
    config.storage.kind = irisgate::config::StorageKind::Memory;
    config
}

/// `Key base64(identifier:secret)`.
pub fn key_header(identifier: &str, secret: &str) -> String {
    format!("Key {}", base64::engine::general_purpose::STANDARD.encode(format!("{identifier}:{secret}")))
}

pub struct HttpReply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl HttpReply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> HttpReply {
    HttpConn::open(addr).await.request(method, path, headers, body).await.expect("an HTTP response")
}

/// One HTTP/1.1 connection that can carry several requests in turn (keep-alive).
pub struct HttpConn {
    addr: SocketAddr,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    /// Ends when the connection does.
    pub conn: JoinHandle<hyper::Result<()>>,
}

impl HttpConn {
    pub async fn open(addr: SocketAddr) -> HttpConn {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
        HttpConn { addr, sender, conn: tokio::spawn(conn) }
    }

    /// Sends one request and reads the whole response; `Err` if the connection failed.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> hyper::Result<HttpReply> {
        let mut request = hyper::Request::builder().method(method).uri(path).header("host", self.addr.to_string());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request.body(Full::new(body.into())).unwrap();
        tokio::time::timeout(WAIT, async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.into_body().collect().await?.to_bytes();
            Ok(HttpReply { status, headers, body })
        })
        .await
        .expect("HTTP response in time")
    }

    /// `POST /commands` as the development bot on this connection.
    pub async fn command(&mut self, command: Value) -> hyper::Result<HttpReply> {
        let auth = key_header(BOT, SECRET);
        self.request(
            "POST",
            "/commands",
            &[("authorization", &auth), ("content-type", "application/json")],
            command.to_string(),
        )
        .await
    }
}

/// A WebSocket upgrade request on `/` as a plain HTTP exchange, to see refusals (426, 503).
pub async fn upgrade_attempt(addr: SocketAddr) -> HttpReply {
    http_request(
        addr,
        "GET",
        "/",
        &[
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-protocol", "lime"),
        ],
        Bytes::new(),
    )
    .await
}

/// Checks a W3C `traceparent` of version 00 and returns its (trace id, parent id).
pub fn parse_traceparent(tp: &str) -> (String, String) {
    let parts: Vec<&str> = tp.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    assert!(
        parts.len() == 4 && parts[0] == "00" && hex(parts[1], 32) && hex(parts[2], 16) && hex(parts[3], 2),
        "not a version-00 traceparent: {tp:?}"
    );
    assert!(parts[1].bytes().any(|b| b != b'0'), "all-zero trace id: {tp}");
    assert!(parts[2].bytes().any(|b| b != b'0'), "all-zero parent id: {tp}");
    (parts[1].to_owned(), parts[2].to_owned())
}

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw LIME-over-WebSocket client.
pub struct Ws {
    pub ws: Stream,
    pub session_id: Option<String>,
    pub protocol: Option<String>,
}

impl Ws {
    /// Opens the socket offering the `lime` subprotocol; no LIME handshake yet.
    pub async fn connect(gw: &Gateway) -> Ws {
        Ws::connect_url(&gw.ws_url()).await
    }

    /// Opens a socket to `url` (a gateway not started by this process) offering `lime`.
    pub async fn connect_url(url: &str) -> Ws {
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", "lime".parse().unwrap());
        let (ws, response) = tokio_tungstenite::connect_async(request).await.expect("websocket upgrade");
        let protocol = response.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap().to_owned());
        Ws { ws, session_id: None, protocol }
    }

    /// Connects and runs the key-scheme handshake to `established`.
    pub async fn established(gw: &Gateway, identifier: &str, key: &str) -> Ws {
        Ws::established_at(&gw.ws_url(), identifier, key).await
    }

    /// [`Ws::established`] on the gateway at `url`.
    pub async fn established_at(url: &str, identifier: &str, key: &str) -> Ws {
        let mut c = Ws::connect_url(url).await;
        c.send(json!({"state": "new"})).await;
        let auth = c.recv().await;
        assert_eq!(auth["state"], "authenticating", "{auth}");
        let sid = auth["id"].as_str().unwrap().to_owned();
        c.send(json!({
            "id": sid, "state": "authenticating", "from": format!("{identifier}@msging.net/default"),
            "scheme": "key", "authentication": {"key": key, "scheme": "key"}
        }))
        .await;
        let established = c.recv().await;
        assert_eq!(established["state"], "established", "{established}");
        c.session_id = Some(sid);
        c
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws.send(Message::Text(text.into().into())).await.unwrap();
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.ws.send(m).await.unwrap();
    }

    /// The next text frame as JSON; panics on close or after [`WAIT`].
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame from the gateway in time")
                .expect("socket open")
                .expect("no socket error");
            match msg {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                Message::Close(c) => panic!("socket closed: {c:?}"),
                _ => continue,
            }
        }
    }

    /// Sends a command and returns the response with the same id, skipping anything else.
    pub async fn call(&mut self, command: Value) -> Value {
        let id = command["id"].clone();
        self.send(command).await;
        loop {
            let v = self.recv().await;
            if v["id"] == id && v.get("status").is_some() {
                return v;
            }
        }
    }

    /// Waits for the close frame; returns its code and reason (`None` if the TCP connection
    /// ended without one). Text frames before it are returned too.
    pub async fn closed(&mut self) -> (Vec<Value>, Option<(u16, String)>) {
        let mut frames = Vec::new();
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("close in time") {
                Some(Ok(Message::Text(t))) => frames.push(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Close(c))) => {
                    return (frames, c.map(|c| (u16::from(c.code), c.reason.to_string())));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return (frames, None),
            }
        }
    }
}

impl Ws {
    /// Reads (and drops) everything until the TCP connection ends: after a close frame this
    /// sends our close reply and returns once the gateway has let go of the connection.
    pub async fn until_eof(&mut self) {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("the connection ends in time") {
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return,
            }
        }
    }

    /// Sends `get /ping` and checks the success, proving the session is still served.
    pub async fn assert_alive(&mut self) {
        let ping = self.call(json!({"id": id(), "method": "get", "uri": "/ping"})).await;
        assert_eq!(ping["status"], "success", "{ping}");
    }
}

/// A fresh session still gets `get /ping` answered: the gateway survived what came before.
pub async fn assert_gateway_serves(gw: &Gateway) {
    let mut ws = gw.session().await;
    ws.assert_alive().await;
    let reply = gw.command(json!({"id": id(), "method": "get", "uri": "/ping"})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "success", "{}", reply.json());
}

pub fn close_code(code: u16) -> CloseCode {
    CloseCode::from(code)
}

/// A unique command id.
pub fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The gateway's state without sockets: commands go straight through the routing table.
/// For tests on tokio's paused clock, where real sockets would let time jump ahead.
///
/// On the memory store, on purpose (these tests are about time, not storage): they step time
/// by hand and let the workers run with `yield_now` until they wait on a timer, which holds
/// only for a store that answers on the runtime itself. SQLite answers from threads of its
/// own, so on a paused clock tokio sees an idle runtime and jumps time ahead while a query is
/// out: tried, every test of `timing.rs` and `rate_limits.rs` fails at start-up with "pool
/// timed out while waiting for an open connection".
pub struct Direct {
    pub state: irisgate::AppState,
    pub caller: std::sync::Arc<irisgate::caller::Caller>,
    pub shutdown: CancellationToken,
}

impl Direct {
    pub async fn start() -> Direct {
        Direct::start_with(Config::development()).await
    }

    pub async fn start_with(config: Config) -> Direct {
        let shutdown = CancellationToken::new();
        let store: std::sync::Arc<dyn irisgate::store::Store> =
            std::sync::Arc::new(irisgate::store::MemoryStore::new());
        let engine = irisgate::engine::Engine::start(&config, store, irisgate::clock::Clock::new(), shutdown.clone())
            .await
            .unwrap();
        let state = irisgate::AppState::new(config, engine, shutdown.clone());
        let tenant = state.tenants.by_identifier(BOT).unwrap().clone();
        let caller = std::sync::Arc::new(irisgate::caller::Caller::new(tenant, Some("default")));
        Direct { state, caller, shutdown }
    }

    /// Sends one command (an `id` is added when missing) and returns the response.
    pub async fn call(&self, mut command: Value) -> Value {
        if command.get("id").is_none() {
            command["id"] = json!(id());
        }
        let command: lime_protocol::Command = match lime_protocol::Envelope::parse(&command.to_string()).unwrap() {
            lime_protocol::Envelope::Command(c) => c,
            other => panic!("not a command: {other:?}"),
        };
        let response = irisgate::router::route(&self.state, &self.caller, &command).await.expect("an answer");
        serde_json::to_value(&response).unwrap()
    }

    /// A campaign-node command that must succeed; returns its resource.
    pub async fn ok(&self, method: &str, uri: &str, type_and_resource: Option<(&str, Value)>) -> Value {
        let mut c = json!({"to": "postmaster@activecampaign.msging.net", "method": method, "uri": uri});
        if let Some((t, r)) = type_and_resource {
            c["type"] = json!(t);
            c["resource"] = r;
        }
        let response = self.call(c).await;
        assert_eq!(response["status"], "success", "{method} {uri}: {response}");
        response["resource"].clone()
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// `set /campaign/full` resource for a Batch of `recipients` on the development template
/// `email_commerce_resposta` (one parameter).
pub fn batch(name: &str, recipients: &[&str]) -> Value {
    let audiences: Vec<Value> =
        recipients.iter().map(|r| json!({"recipient": r, "messageParams": {"1": format!("param of {r}")}})).collect();
    json!({
        "campaign": {"name": name, "campaignType": "Batch", "flowId": "flow-1", "stateId": "state-1"},
        "audiences": audiences,
        "message": {"messageTemplate": "email_commerce_resposta", "messageParams": ["1"]}
    })
}

pub const FULL: &str = "application/vnd.iris.activecampaign.full-campaign+json";

impl Direct {
    /// One REST request through the HTTP application in-process (no socket), as the
    /// development workspace (`X-API-Key: wk_test_123`). Returns status and JSON body.
    pub async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        use tower::ServiceExt;
        let app = irisgate::app::router(self.state.clone());
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("x-api-key", "wk_test_123")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        (status, json)
    }

    /// REST request that must answer `expected`.
    pub async fn rest_ok(&self, method: &str, path: &str, body: Option<Value>, expected: u16) -> Value {
        let (status, json) = self.rest(method, path, body).await;
        assert_eq!(status, expected, "{method} {path}: {json}");
        json
    }
}

pub mod client;
pub mod fake_rbm;
