//! REST face helpers: an `X-API-Key` client over real sockets, the error-body check, polling
//! with a deadline, and a gateway on a store the test keeps (to restart it with another plan).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use irisgate::Config;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{http_request, Gateway, HttpReply, WAIT};

/// The REST API key of the development workspace `mybot`.
pub const API_KEY: &str = "wk_test_123";

/// Every route of the REST router (`router()` in `src/rest/mod.rs`, below `/api/v1`) with its
/// method, `{id}` to fill in. `openapi.rs` checks this list against the router's source, so it
/// cannot drift.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/campaigns"),
    ("POST", "/campaigns"),
    ("POST", "/campaigns/preview"),
    ("GET", "/campaigns/tags"),
    ("POST", "/campaigns/tags"),
    ("GET", "/campaigns/channels"),
    ("POST", "/campaigns/channels"),
    ("POST", "/campaigns/channels/{id}/templates/sync"),
    ("GET", "/campaigns/templates"),
    ("POST", "/campaigns/templates"),
    ("GET", "/campaigns/custom-fields"),
    ("POST", "/campaigns/custom-fields"),
    ("GET", "/campaigns/{id}"),
    ("PUT", "/campaigns/{id}"),
    ("DELETE", "/campaigns/{id}"),
    ("POST", "/campaigns/{id}/start"),
    ("POST", "/campaigns/{id}/pause"),
    ("POST", "/campaigns/{id}/resume"),
    ("POST", "/campaigns/{id}/cancel"),
    ("GET", "/campaigns/{id}/stats"),
    ("GET", "/campaigns/{id}/messages"),
    ("GET", "/campaigns/{id}/events"),
    ("GET", "/campaigns/{id}/messages.csv"),
    ("GET", "/contacts"),
    ("POST", "/contacts"),
    ("POST", "/contacts/import"),
    ("GET", "/contacts/{id}"),
    ("PUT", "/contacts/{id}"),
    ("DELETE", "/contacts/{id}"),
    ("POST", "/simulator/{channel_id}/inbound"),
    ("GET", "/suppressions"),
    ("POST", "/suppressions"),
    ("DELETE", "/suppressions/{phone}"),
    ("GET", "/webhooks"),
    ("POST", "/webhooks"),
    ("GET", "/webhooks/{id}"),
    ("DELETE", "/webhooks/{id}"),
    ("GET", "/webhooks/{id}/deliveries"),
    ("POST", "/webhooks/{id}/deliveries/{event_id}/replay"),
    ("GET", "/openapi.json"),
    ("POST", "/campaigns/{id}/retry"),
    ("GET", "/segments"),
    ("POST", "/segments"),
    ("GET", "/segments/{id}"),
    ("PUT", "/segments/{id}"),
    ("DELETE", "/segments/{id}"),
    ("POST", "/segments/{id}/preview"),
    ("POST", "/campaigns/{id}/clone"),
];

/// The routes of [`ROUTES`] served without an API key.
pub const OPEN_ROUTES: &[&str] = &["/openapi.json"];

/// Every route of [`ROUTES`] that needs an API key.
pub fn keyed_routes() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    ROUTES.iter().filter(|(_, path)| !OPEN_ROUTES.contains(path))
}

/// A tenant whose plan lacks `campaigns` (api key `wk_free_456`), and one that has it
/// (`wk_other_789`), each with its own channel.
pub const FREE_KEY: &str = "wk_free_456";
pub const OTHER_KEY: &str = "wk_other_789";

fn extra_tenants(free_features: &str) -> String {
    format!(
        r#"
[[tenants]]
identifier = "freebot"
access_key = "ZnJlZQ=="
api_keys = ["{FREE_KEY}"]
features = {free_features}

[[tenants.channels]]
id = "free_wa"
type = "whatsapp"
default = true
name = "Free WhatsApp"
delivered_after_ms = 0
read_after_ms = 0

[[tenants.templates]]
id = "free_template"
channel = "free_wa"
name = "free_template"
status = "APPROVED"
body = "Oi {{{{1}}}}"

[[tenants]]
identifier = "otherbot"
access_key = "b3RoZXI="
api_keys = ["{OTHER_KEY}"]

[[tenants.channels]]
id = "other_wa"
type = "whatsapp"
default = true
"#
    )
}

/// The example configuration plus `freebot` (no campaigns feature) and `otherbot`.
pub fn config_with_tenants() -> Config {
    config_with_free_features("[]")
}

/// [`config_with_tenants`] with `freebot`'s `features` as given (TOML array text).
pub fn config_with_free_features(features: &str) -> Config {
    let text = format!("{}\n{}", include_str!("../../irisgate.example.toml"), extra_tenants(features));
    Config::parse(&text).unwrap_or_else(|e| panic!("test config: {e:?}"))
}

/// A REST client with one API key (or none).
#[derive(Clone)]
pub struct Rest {
    pub addr: SocketAddr,
    pub key: Option<String>,
}

impl Rest {
    /// The development workspace's key.
    pub fn new(gw: &Gateway) -> Rest {
        Rest { addr: gw.addr, key: Some(API_KEY.into()) }
    }

    pub fn with_key(gw: &Gateway, key: Option<&str>) -> Rest {
        Rest { addr: gw.addr, key: key.map(str::to_owned) }
    }

    /// One request; a JSON body when given.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> HttpReply {
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        self.raw(method, path, "application/json", body).await
    }

    pub async fn raw(&self, method: &str, path: &str, content_type: &str, body: impl Into<Bytes>) -> HttpReply {
        let mut headers = vec![("content-type", content_type)];
        if let Some(k) = &self.key {
            headers.push(("x-api-key", k.as_str()));
        }
        http_request(self.addr, method, &format!("/api/v1{path}"), &headers, body.into()).await
    }

    pub async fn get(&self, path: &str) -> HttpReply {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> HttpReply {
        self.call("POST", path, Some(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> HttpReply {
        self.call("PUT", path, Some(&body)).await
    }

    pub async fn delete(&self, path: &str) -> HttpReply {
        self.call("DELETE", path, None).await
    }

    /// A request that must answer `status`; returns its JSON body (`null` when empty).
    pub async fn expect(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let reply = self.call(method, path, body.as_ref()).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", String::from_utf8_lossy(&reply.body));
        if reply.body.is_empty() {
            Value::Null
        } else {
            reply.json()
        }
    }

    pub async fn ok_get(&self, path: &str) -> Value {
        self.expect("GET", path, None, 200).await
    }

    pub async fn created(&self, path: &str, body: Value) -> Value {
        self.expect("POST", path, Some(body), 201).await
    }

    /// A request that must fail with `status`; checks the error body and returns its message.
    pub async fn fails(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> String {
        let reply = self.call(method, path, body.as_ref()).await;
        error_message(&reply, status, &format!("{method} {path}"))
    }

    // ------------------------------------------------------------ workspace set-up

    pub async fn custom_field(&self, key: &str, field_type: &str) -> Value {
        self.created("/campaigns/custom-fields", json!({"key": key, "name": key, "type": field_type})).await
    }

    pub async fn tag(&self, id: &str) -> Value {
        self.created("/campaigns/tags", json!({"id": id, "name": id})).await
    }

    /// Creates a contact and returns its id.
    pub async fn contact(&self, body: Value) -> String {
        let c = self.created("/contacts", body).await;
        c["id"].as_str().expect("contact id").to_owned()
    }

    /// Creates a DRAFT campaign and returns its id.
    pub async fn campaign(&self, body: Value) -> String {
        let c = self.created("/campaigns", body).await;
        assert_eq!(c["status"], "DRAFT", "{c}");
        c["id"].as_str().expect("campaign id").to_owned()
    }

    /// A TEXT campaign on `channel_123` with `body`, `rate` sends per minute and `filters`.
    pub async fn text_campaign(&self, name: &str, body: &str, rate: u32, filters: Value) -> String {
        let mut b = json!({
            "name": name, "message_type": "TEXT", "channel_id": "channel_123",
            "content": {"type": "text", "text": {"body": body}}, "rate_limit_per_minute": rate,
        });
        if !filters.is_null() {
            b["filters"] = filters;
        }
        self.campaign(b).await
    }

    pub async fn start(&self, id: &str) -> Value {
        self.expect("POST", &format!("/campaigns/{id}/start"), None, 200).await
    }

    pub async fn stats(&self, id: &str) -> Value {
        self.ok_get(&format!("/campaigns/{id}/stats")).await
    }

    pub async fn status(&self, id: &str) -> String {
        self.ok_get(&format!("/campaigns/{id}")).await["status"].as_str().unwrap().to_owned()
    }

    /// Polls the stats until `done` holds for them; returns them.
    pub async fn stats_until(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let found = poll(
            WAIT,
            || self.stats(id),
            |s| {
                last = s.clone();
                done(s)
            },
        )
        .await;
        found.unwrap_or_else(|| panic!("{what} not reached in time; last stats: {last}"))
    }

    /// Waits until the campaign has status `status`; returns its stats.
    pub async fn until_status(&self, id: &str, status: &str) -> Value {
        self.stats_until(id, &format!("status {status}"), |s| s["status"] == status).await
    }

    /// Every message row of a campaign (all pages, 100 at a time).
    pub async fn messages(&self, id: &str, status: Option<&str>) -> Vec<Value> {
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let q = match status {
                Some(s) => format!("/campaigns/{id}/messages?status={s}&limit=100&page={page}"),
                None => format!("/campaigns/{id}/messages?limit=100&page={page}"),
            };
            let v = self.ok_get(&q).await;
            let data = v["data"].as_array().unwrap().clone();
            let last = data.len() < 100;
            out.extend(data);
            if last {
                return out;
            }
            page += 1;
        }
    }

    /// `POST /campaigns/preview` with `filters`; the total.
    pub async fn preview_total(&self, filters: Value) -> u64 {
        let v = self.expect("POST", "/campaigns/preview", Some(json!({"filters": filters})), 200).await;
        v["total"].as_u64().unwrap_or_else(|| panic!("no total: {v}"))
    }
}

/// Checks `{"error": <reason phrase>, "message": <non-empty>}` (and nothing else) with a JSON
/// content type; returns the message.
pub fn error_message(reply: &HttpReply, status: u16, what: &str) -> String {
    let text = String::from_utf8_lossy(&reply.body).into_owned();
    assert_eq!(reply.status, status, "{what}: {text}");
    let ct = reply.headers.get("content-type").map(|v| v.to_str().unwrap_or_default()).unwrap_or_default();
    assert!(ct.starts_with("application/json"), "{what}: content-type {ct:?} for {text}");
    let v = reply.json();
    let obj = v.as_object().unwrap_or_else(|| panic!("{what}: error body is not an object: {text}"));
    let reason = hyper::StatusCode::from_u16(status).unwrap().canonical_reason().unwrap();
    assert_eq!(obj.get("error"), Some(&json!(reason)), "{what}: {text}");
    let message = obj.get("message").and_then(Value::as_str).unwrap_or_default();
    assert!(!message.is_empty(), "{what}: empty message: {text}");
    assert_eq!(obj.len(), 2, "{what}: only error and message expected: {text}");
    message.to_owned()
}

/// Calls `probe` every 20 ms until `done` holds for its value or `within` passes.
pub async fn poll<T, F, Fut>(within: Duration, mut probe: F, mut done: impl FnMut(&T) -> bool) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let v = probe().await;
        if done(&v) {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An ISO-8601 UTC time `ms` milliseconds from now.
pub fn iso_in(ms: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::milliseconds(ms)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The default store, SQLite, in a temporary directory: for [`StoreGateway`]s that share it
/// across a restart. Keep the directory as long as the store.
pub async fn sqlite_store() -> (Arc<dyn irisgate::store::Store>, tempfile::TempDir) {
    let dir = tempfile::Builder::new().prefix("irisgate-test-").tempdir().unwrap();
    let config = irisgate::config::StorageConfig { path: dir.path().join("irisgate.db"), ..Default::default() };
    (irisgate::store::open(&config).await.unwrap(), dir)
}

/// A gateway serving `config` on a store the caller keeps: stopping it and starting another on
/// the same store is a restart (e.g. after a plan change).
pub struct StoreGateway {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl StoreGateway {
    pub async fn start(config: Config, store: Arc<dyn irisgate::store::Store>) -> StoreGateway {
        StoreGateway::start_at(config, store, irisgate::clock::Clock::new()).await
    }

    /// [`StoreGateway::start`] on `clock` (e.g. [`irisgate::clock::Clock::at`] another time).
    pub async fn start_at(
        config: Config,
        store: Arc<dyn irisgate::store::Store>,
        clock: irisgate::clock::Clock,
    ) -> StoreGateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let engine = irisgate::engine::Engine::start(&config, store, clock, shutdown.clone()).await.unwrap();
        let state = irisgate::AppState::new(config, engine, shutdown.clone());
        let app = irisgate::app::router(state);
        let stop = shutdown.clone();
        let handle = tokio::spawn(async move {
            axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await.unwrap();
        });
        StoreGateway { addr, shutdown, handle }
    }

    pub fn rest(&self, key: &str) -> Rest {
        Rest { addr: self.addr, key: Some(key.to_owned()) }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.handle).await.expect("gateway stops").unwrap();
    }
}
