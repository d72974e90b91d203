//! A loopback fake of Google's RBM servers (axum on 127.0.0.1:0): the OAuth token endpoint
//! verifying the RS256 JWT bearer grant against the test key's public key, the
//! `agentMessages` send with its Bearer, messageId and body checks, a capability check (the
//! channel's probe), every error answer of providers.md on demand, a record of every accepted
//! message, and signed webhook events posted back to the gateway.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha512;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{http_request, HttpReply};

mod setup;
// Used by the RBM tests only; the other test crates that include `support` do not.
#[allow(unused_imports)]
pub use setup::{config, config_text, CLIENT_TOKEN};

pub const AGENT_ID: &str = "irisgate-test-agent";
pub const CLIENT_EMAIL: &str = "rbm-agent@irisgate-test.iam.gserviceaccount.com";
const SCOPE: &str = "https://www.googleapis.com/auth/rcsbusinessmessaging";
const KEY_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rbm-test-service-account.json");
const PUBLIC_KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rbm-test-key.pub.pem");

/// An answer the fake can be told to give instead of a normal one.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Google's error model with this HTTP status and canonical status.
    Error(u16, &'static str, &'static str),
    /// No answer for longer than the gateway's request timeout (nothing accepted).
    Stall,
}

impl Reply {
    pub const NOT_FOUND: Reply = Reply::Error(404, "NOT_FOUND", "Requested entity was not found.");
    pub const THROTTLED: Reply = Reply::Error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for agent messages.");
    pub const UNAVAILABLE: Reply = Reply::Error(503, "UNAVAILABLE", "The service is currently unavailable.");
    pub const UNAUTHENTICATED: Reply =
        Reply::Error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    pub const FORBIDDEN: Reply = Reply::Error(403, "PERMISSION_DENIED", "The caller does not have permission");
    pub const BAD_NUMBER: Reply = Reply::Error(400, "INVALID_ARGUMENT", "Please check the phone number format.");
}

/// A message the fake accepted (answered 200 for).
#[derive(Debug, Clone)]
pub struct Accepted {
    /// `+E.164` from the path.
    pub phone: String,
    pub message_id: String,
    pub body: Value,
    /// When the fake took it.
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    /// Valid access tokens and when each expires.
    tokens: HashMap<String, Instant>,
    token_requests: usize,
    /// Seconds of `expires_in` for the tokens issued from now on.
    expires_in: u64,
    /// The token endpoint refuses the grant (a revoked key).
    refuse_tokens: bool,
    accepted: Vec<Accepted>,
    ids: HashSet<String>,
    /// Every agentMessages request (including refused ones), by messageId.
    requests: Vec<String>,
    /// 409 answers given (a messageId already accepted).
    conflicts: usize,
    /// Answers for the next sends to a number, in order.
    scripted: HashMap<String, VecDeque<Reply>>,
    /// An answer for every send and capability check while set.
    always: Option<Reply>,
    probes: usize,
    /// Accepted sends beyond this many are recorded, but their answer waits for `release`.
    hold_after: Option<usize>,
}

/// The running fake.
pub struct FakeRbm {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    release: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    client_token: String,
}

#[derive(Clone)]
struct App {
    inner: Arc<Mutex<Inner>>,
    key: Arc<jsonwebtoken::DecodingKey>,
    token_uri: String,
    released: watch::Receiver<bool>,
}

impl FakeRbm {
    /// Starts the fake; events it posts are signed with `client_token`.
    pub async fn start(client_token: &str) -> FakeRbm {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner { expires_in: 3600, ..Inner::default() }));
        let pem = std::fs::read(PUBLIC_KEY).unwrap();
        let (release, released) = watch::channel(false);
        let app = App {
            inner: inner.clone(),
            key: Arc::new(jsonwebtoken::DecodingKey::from_rsa_pem(&pem).unwrap()),
            token_uri: format!("http://{addr}/token"),
            released,
        };
        let router = Router::new()
            .route("/token", post(token))
            .route("/v1/phones/{phone}/agentMessages", post(agent_message))
            .route("/v1/phones/{phone}/capabilities", get(capabilities))
            .with_state(app);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeRbm { addr, inner, release, server, client_token: client_token.to_owned() }
    }

    /// `http://127.0.0.1:port`, the channel's `api_base`.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes the test service-account key into `dir` with its `token_uri` at this fake.
    pub fn key_file(&self, dir: &Path) -> PathBuf {
        let mut key: Value = serde_json::from_slice(&std::fs::read(KEY_FILE).unwrap()).unwrap();
        key["token_uri"] = json!(format!("http://{}/token", self.addr));
        let path = dir.join("rbm-key.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&key).unwrap()).unwrap();
        path
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.inner.lock().accepted.clone()
    }

    pub fn token_requests(&self) -> usize {
        self.inner.lock().token_requests
    }

    /// agentMessages requests received, accepted or not.
    pub fn send_requests(&self) -> usize {
        self.inner.lock().requests.len()
    }

    pub fn conflicts(&self) -> usize {
        self.inner.lock().conflicts
    }

    pub fn probes(&self) -> usize {
        self.inner.lock().probes
    }

    pub fn set_expires_in(&self, seconds: u64) {
        self.inner.lock().expires_in = seconds;
    }

    /// Every token issued so far stops working (a revocation): the next send gets 401.
    pub fn revoke_tokens(&self) {
        self.inner.lock().tokens.clear();
    }

    pub fn refuse_tokens(&self, refuse: bool) {
        self.inner.lock().refuse_tokens = refuse;
    }

    /// The next sends to `phone` get `replies`, one each, then the normal answer.
    pub fn script(&self, phone: &str, replies: &[Reply]) {
        self.inner.lock().scripted.entry(phone.to_owned()).or_default().extend(replies.iter().cloned());
    }

    /// Every send and probe gets `reply` until `None`.
    pub fn always(&self, reply: Option<Reply>) {
        self.inner.lock().always = reply;
    }

    /// Answers of sends accepted after the first `n` are held until [`FakeRbm::release`].
    pub fn hold_after(&self, n: usize) {
        self.inner.lock().hold_after = Some(n);
    }

    pub fn release(&self) {
        self.inner.lock().hold_after = None;
        let _ = self.release.send(true);
    }

    /// Posts an event about `message_id` (as the gateway sent it) to the gateway's webhook,
    /// signed with the client token; `event_id` repeats an event when given.
    pub async fn post_event(&self, gateway: SocketAddr, event_type: &str, message_id: &str, phone: &str) -> HttpReply {
        let data = json!({"senderPhoneNumber": phone, "eventType": event_type,
            "eventId": uuid::Uuid::new_v4().to_string(), "messageId": message_id,
            "sendTime": "2026-05-04T12:00:00.123456Z", "agentId": AGENT_ID});
        self.post_data(gateway, &data.to_string(), Some(&self.client_token)).await
    }

    /// Posts `data` in the push envelope, signed with `key` (unsigned when `None`).
    pub async fn post_data(&self, gateway: SocketAddr, data: &str, key: Option<&str>) -> HttpReply {
        let b64 = base64::engine::general_purpose::STANDARD;
        let envelope = json!({"message": {"data": b64.encode(data), "messageId": "1234567890",
            "publishTime": "2026-05-04T12:00:00.200Z", "attributes": {}},
            "subscription": "projects/rbm-irisgate-test-agent/subscriptions/rbm-agent-subscription"});
        let signature = key.map(|k| sign(k, data.as_bytes()));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(s) = &signature {
            headers.push(("x-goog-signature", s.as_str()));
        }
        http_request(gateway, "POST", "/webhooks/rbm", &headers, envelope.to_string().into()).await
    }

    /// DELIVERED then READ for every accepted message.
    pub async fn deliver_and_read_all(&self, gateway: SocketAddr) {
        for m in self.accepted() {
            for kind in ["DELIVERED", "READ"] {
                let r = self.post_event(gateway, kind, &m.message_id, &m.phone).await;
                assert_eq!(r.status, 200, "{kind} for {}: {:?}", m.message_id, r.body);
            }
        }
    }
}

impl Drop for FakeRbm {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `X-Goog-Signature` of `data`: base64 HMAC-SHA512 keyed by the client token.
pub fn sign(key: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(data);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn google_error(reply: &Reply) -> Response {
    match reply {
        Reply::Error(code, status, message) => (
            StatusCode::from_u16(*code).unwrap(),
            Json(json!({"error": {"code": code, "message": message, "status": status}})),
        )
            .into_response(),
        Reply::Stall => unreachable!("stalls are not answered"),
    }
}

#[derive(Deserialize)]
struct Grant {
    grant_type: String,
    assertion: String,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    scope: String,
    iat: u64,
    exp: u64,
}

/// The OAuth token endpoint: verifies the RS256 assertion and issues a token.
async fn token(State(app): State<App>, Form(grant): Form<Grant>) -> Response {
    let refuse = |why: &str| {
        (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant", "error_description": why}))).into_response()
    };
    if grant.grant_type != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return refuse("unsupported grant_type");
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&app.token_uri]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let claims = match jsonwebtoken::decode::<Claims>(&grant.assertion, &app.key, &validation) {
        Ok(data) => data.claims,
        Err(e) => return refuse(&format!("Invalid JWT Signature or claims: {e}")),
    };
    if claims.iss != CLIENT_EMAIL || claims.scope != SCOPE || claims.exp != claims.iat + 3600 {
        return refuse("Invalid JWT claims (iss, scope or lifetime)");
    }
    let mut inner = app.inner.lock();
    inner.token_requests += 1;
    if inner.refuse_tokens {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "Invalid grant: account not found"})),
        )
            .into_response();
    }
    let token = format!("ya29.fake-{}", uuid::Uuid::new_v4().simple());
    let expires_in = inner.expires_in;
    inner.tokens.insert(token.clone(), Instant::now() + Duration::from_secs(expires_in));
    Json(json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})).into_response()
}

/// Whether the request carries a live token.
fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    bearer.and_then(|t| inner.tokens.get(t)).is_some_and(|until| Instant::now() < *until)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendQuery {
    message_id: Option<String>,
    agent_id: Option<String>,
}

async fn agent_message(
    State(app): State<App>,
    UrlPath(phone): UrlPath<String>,
    Query(q): Query<SendQuery>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let held = {
        let mut inner = app.inner.lock();
        inner.requests.push(q.message_id.clone().unwrap_or_default());
        if !authorized(&inner, &headers) {
            return google_error(&Reply::UNAUTHENTICATED);
        }
        let bad = |m: &'static str| google_error(&Reply::Error(400, "INVALID_ARGUMENT", m));
        if q.agent_id.as_deref() != Some(AGENT_ID) {
            return google_error(&Reply::Error(403, "PERMISSION_DENIED", "error looking up the RBM agent"));
        }
        let Some(id) = q.message_id.filter(|id| uuid::Uuid::try_parse(id).is_ok()) else {
            return bad("messageId must be a UUID");
        };
        if !phone.starts_with('+') || phone.len() < 9 || !phone[1..].bytes().all(|b| b.is_ascii_digit()) {
            return bad("Please check the phone number format.");
        }
        let Ok(body) = serde_json::from_str::<Value>(&body) else { return bad("Invalid JSON payload") };
        let content = &body["contentMessage"];
        if !content["text"].is_string() && !content["contentInfo"]["fileUrl"].is_string() {
            return bad("contentMessage needs text, richCard, contentInfo or uploadedRbmFile");
        }
        // Suggested replies (Google's reference): at most 11, each a reply of 1-25 characters
        // with its postbackData.
        if let Some(suggestions) = content.get("suggestions") {
            let ok = suggestions.as_array().is_some_and(|list| {
                list.len() <= 11
                    && list.iter().all(|s| {
                        s["reply"]["text"].as_str().is_some_and(|t| (1..=25).contains(&t.chars().count()))
                            && s["reply"]["postbackData"].is_string()
                    })
            });
            if !ok {
                return bad("Invalid suggestions");
            }
        }
        let reply = inner.always.clone().or_else(|| inner.scripted.get_mut(&phone).and_then(VecDeque::pop_front));
        match reply {
            Some(Reply::Stall) => None,
            Some(r) => return google_error(&r),
            None if inner.ids.contains(&id) => {
                inner.conflicts += 1;
                return google_error(&Reply::Error(409, "ALREADY_EXISTS", "Requested entity already exists"));
            }
            None => {
                inner.ids.insert(id.clone());
                inner.accepted.push(Accepted {
                    phone: phone.clone(),
                    message_id: id.clone(),
                    body: body.clone(),
                    at: Instant::now(),
                });
                let held = inner.hold_after.is_some_and(|n| inner.accepted.len() > n);
                Some((id, body, held))
            }
        }
    };
    let Some((id, body, held)) = held else {
        // A stall: longer than the gateway waits, then nothing.
        tokio::time::sleep(Duration::from_secs(15)).await;
        return StatusCode::GATEWAY_TIMEOUT.into_response();
    };
    if held {
        let mut released = app.released.clone();
        let _ = released.wait_for(|r| *r).await;
    }
    let name = format!("phones/{phone}/agentMessages/{id}");
    Json(json!({"name": name, "sendTime": "2026-05-04T12:00:00.100Z", "contentMessage": body["contentMessage"]}))
        .into_response()
}

async fn capabilities(State(app): State<App>, UrlPath(phone): UrlPath<String>, headers: HeaderMap) -> Response {
    let mut inner = app.inner.lock();
    inner.probes += 1;
    if !authorized(&inner, &headers) {
        return google_error(&Reply::UNAUTHENTICATED);
    }
    if let Some(r @ Reply::Error(..)) = &inner.always {
        return google_error(r);
    }
    let _ = phone;
    Json(json!({"features": ["RICHCARD_STANDALONE", "RICHCARD_CAROUSEL", "ACTION_DIAL"]})).into_response()
}
