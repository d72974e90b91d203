//! A loopback fake of Meta's WhatsApp Cloud API (providers.md, providers-sources.md §3.1):
//! `POST /v21.0/{phone_number_id}/messages` with the Bearer check (401 / 190), template
//! validation against the templates it serves (132001 unknown, 132015 paused, 132016
//! disabled, 132000 components that do not match, with Meta's error bodies), a throughput
//! limit answering 130429 beyond it, scripted answers per recipient for every error row, the
//! probe `GET /v21.0/{phone_number_id}`, `GET /v21.0/{waba_id}/message_templates` with
//! paging, and signed status webhooks posted back to the gateway. Every accepted send is
//! recorded: the fake's log is the ledger tests count on.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::net::TcpListener;

use super::whatsapp_shape::{expected_shape, given_shape};

pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const WABA_ID: &str = "102290129340398";
pub const TOKEN: &str = "EAAG-test-token-1234567890";
pub const APP_SECRET: &str = "app-secret-abcdef";
pub const VERIFY_TOKEN: &str = "verify-token-xyz";

/// What the fake answers one send with, instead of taking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripted {
    /// A Graph API error with this code (HTTP 401 for 190, 400 otherwise).
    Code(i64),
    /// This HTTP status with a non-JSON body (a proxy's 502, say).
    Http(u16),
}

/// One accepted send.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub wamid: String,
    pub to: String,
    /// `biz_opaque_callback_data`: the gateway's message id.
    pub callback: String,
    pub body: Value,
    pub at: Instant,
}

/// A template as the fake serves it (Meta's `message_templates` item).
#[derive(Debug, Clone)]
pub struct Served {
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
    pub parameter_format: String,
    pub components: Value,
}

impl Served {
    pub fn new(name: &str, components: Value) -> Served {
        Served {
            name: name.into(),
            language: "pt_BR".into(),
            status: "APPROVED".into(),
            category: "MARKETING".into(),
            parameter_format: "POSITIONAL".into(),
            components,
        }
    }

    fn listed(&self) -> Value {
        json!({"name": self.name, "language": self.language, "status": self.status, "category": self.category,
               "parameter_format": self.parameter_format, "components": self.components,
               "id": format!("{}-{}", self.name, self.language)})
    }
}

#[derive(Default)]
struct Inner {
    token: String,
    templates: Vec<Served>,
    accepted: Vec<Accepted>,
    /// Every answer given (code or HTTP status), in order, with the recipient.
    answers: Vec<(String, i64, Instant)>,
    scripted: HashMap<String, VecDeque<Scripted>>,
    /// Accepted sends of the last second, for the throughput limit.
    window: VecDeque<Instant>,
    per_second: Option<usize>,
    /// Recipients inside the 24 h window (free-form text is taken only for them).
    open_window: HashSet<String>,
    page_size: usize,
    probes: usize,
    template_pages: usize,
    seq: u64,
    /// How long an answer takes after the send was decided (and, when taken, recorded):
    /// a crash meanwhile loses an outcome the fake already has.
    latency: Duration,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeWhatsApp {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeWhatsApp {
    /// Starts on 127.0.0.1:0 serving `templates`, accepting [`TOKEN`], 80 sends a second.
    pub async fn start(templates: Vec<Served>) -> FakeWhatsApp {
        let inner = Arc::new(Mutex::new(Inner {
            token: TOKEN.into(),
            templates,
            per_second: Some(80),
            page_size: 100,
            ..Inner::default()
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = FakeWhatsApp { addr, inner };
        let app = Router::new()
            .route("/v21.0/{id}/messages", post(send))
            .route("/v21.0/{id}/message_templates", get(templates_page))
            .route("/v21.0/{id}", get(probe))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// `api_base` for the gateway's config.
    pub fn api_base(&self) -> String {
        format!("http://{}/v21.0", self.addr)
    }

    /// The `[[tenants.channels]]` table of a whatsapp_cloud channel `id` on this fake
    /// (`extra`: more TOML lines).
    pub fn channel_toml(&self, id: &str, extra: &str) -> String {
        format!(
            "[[tenants.channels]]\nid = \"{id}\"\ntype = \"whatsapp\"\nprovider = \"whatsapp_cloud\"\ndefault = true\n\
             phone_number_id = \"{PHONE_NUMBER_ID}\"\naccess_token = \"{TOKEN}\"\napp_secret = \"{APP_SECRET}\"\n\
             verify_token = \"{VERIFY_TOKEN}\"\napi_base = \"{}\"\n{extra}\n",
            self.api_base()
        )
    }

    pub fn set_token(&self, token: &str) {
        self.inner.lock().token = token.into();
    }
    pub fn set_per_second(&self, n: Option<usize>) {
        self.inner.lock().per_second = n;
    }
    pub fn set_latency(&self, latency: Duration) {
        self.inner.lock().latency = latency;
    }
    pub fn set_page_size(&self, n: usize) {
        self.inner.lock().page_size = n.max(1);
    }
    pub fn set_templates(&self, templates: Vec<Served>) {
        self.inner.lock().templates = templates;
    }
    pub fn open_window(&self, to: &str) {
        self.inner.lock().open_window.insert(to.into());
    }
    /// The next sends to `to` get these answers, in order; then it is taken as usual.
    pub fn script(&self, to: &str, answers: &[Scripted]) {
        self.inner.lock().scripted.entry(to.into()).or_default().extend(answers.iter().copied());
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.inner.lock().accepted.clone()
    }
    pub fn accepted_to(&self, to: &str) -> Vec<Accepted> {
        self.accepted().into_iter().filter(|a| a.to == to).collect()
    }
    /// Every answer given to sends for `to` (200, or the error code / HTTP status).
    pub fn answers_to(&self, to: &str) -> Vec<i64> {
        self.inner.lock().answers.iter().filter(|(t, _, _)| t == to).map(|(_, c, _)| *c).collect()
    }
    /// When each answer to `to` was given.
    pub fn answer_times_to(&self, to: &str) -> Vec<Instant> {
        self.inner.lock().answers.iter().filter(|(t, _, _)| t == to).map(|(_, _, at)| *at).collect()
    }
    pub fn answers(&self) -> Vec<(String, i64)> {
        self.inner.lock().answers.iter().map(|(t, c, _)| (t.clone(), *c)).collect()
    }
    pub fn probes(&self) -> usize {
        self.inner.lock().probes
    }
    pub fn template_pages(&self) -> usize {
        self.inner.lock().template_pages
    }

    /// Posts one signed status webhook to the gateway at `gateway` (secret `secret`): one
    /// status per item `(accepted send, status, with the callback data?)`. Returns the HTTP
    /// status of the gateway's answer.
    pub async fn post_statuses(&self, gateway: SocketAddr, items: &[(&Accepted, &str, bool)]) -> u16 {
        let statuses: Vec<Value> = items
            .iter()
            .map(|(a, status, with_callback)| {
                let mut s = json!({"id": a.wamid, "status": status, "timestamp": unix_now().to_string(),
                                   "recipient_id": a.to, "conversation": {"id": "c1"}, "pricing": {"billable": true}});
                if *with_callback {
                    s["biz_opaque_callback_data"] = json!(a.callback);
                }
                if *status == "failed" {
                    s["errors"] = json!([{"code": 131026, "title": "Message undeliverable",
                                          "message": "Message undeliverable", "error_data": {"details": "d"}}]);
                }
                s
            })
            .collect();
        let body = status_payload(PHONE_NUMBER_ID, statuses);
        post_signed(gateway, APP_SECRET, &body.to_string()).await.0
    }

    /// Delivered then read for every accepted send (one webhook each), as Meta reports them.
    pub async fn report_read(&self, gateway: SocketAddr) {
        for a in self.accepted() {
            assert_eq!(self.post_statuses(gateway, &[(&a, "sent", true), (&a, "delivered", true)]).await, 200);
            assert_eq!(self.post_statuses(gateway, &[(&a, "read", true)]).await, 200);
        }
    }
}

/// The webhook envelope of `statuses` for the number `phone_number_id`.
pub fn status_payload(phone_number_id: &str, statuses: Vec<Value>) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
                  "statuses": statuses}}]}]})
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `body` to `/webhooks/whatsapp` of `gateway`, signed with `secret`; (status, body).
pub async fn post_signed(gateway: SocketAddr, secret: &str, body: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("http://{gateway}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature(secret, body.as_bytes()))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Meta's title of each error code the fake answers with.
pub fn title(code: i64) -> &'static str {
    match code {
        190 => "Invalid OAuth access token - Cannot parse access token",
        4 => "Application request limit reached",
        80007 => "Rate limit issues",
        130429 => "Rate limit hit",
        130472 => "User's number is part of an experiment",
        131000 => "Something went wrong",
        131016 => "Service unavailable",
        131056 => "(Business Account, Consumer Account) pair rate limit hit",
        131047 => "Re-engagement message",
        131026 => "Message undeliverable",
        131049 => "This message was not delivered to maintain healthy ecosystem engagement",
        131051 => "Unsupported message type",
        131008 => "Required parameter is missing",
        131009 => "Parameter value is not valid",
        133010 => "Phone number not registered",
        368 => "Temporarily blocked for policies violations",
        100 => "Invalid parameter",
        131042 => "Business eligibility payment issue",
        132000 => "Number of parameters does not match the expected number of params",
        132001 => "Template name does not exist in the translation",
        132012 => "Parameter format does not match format in the created template",
        132015 => "Template is paused",
        132016 => "Template is disabled",
        _ => "Unknown error",
    }
}

/// Meta's error answer for `code`.
pub fn error_response(code: i64, details: &str) -> Response {
    let status = match code {
        190 => StatusCode::UNAUTHORIZED,
        368 => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = json!({"error": {"message": format!("(#{code}) {}", title(code)), "type": "OAuthException",
        "code": code, "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": "AbCdEfFake"}});
    (status, Json(body)).into_response()
}

fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {}", inner.token))
}

async fn probe(State(fake): State<FakeWhatsApp>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut inner = fake.inner.lock();
    inner.probes += 1;
    if !authorized(&inner, &headers) {
        return error_response(190, "token refused");
    }
    Json(json!({"id": id, "display_phone_number": "15550001111", "verified_name": "Irisgate Test"})).into_response()
}

async fn templates_page(
    State(fake): State<FakeWhatsApp>,
    Path(waba): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = fake.inner.lock();
    if !authorized(&inner, &headers) {
        return error_response(190, "token refused");
    }
    if waba != WABA_ID {
        return error_response(100, "unknown WABA");
    }
    let fields = q.get("fields").cloned().unwrap_or_default();
    for f in ["name", "language", "status", "category", "components", "parameter_format"] {
        if !fields.split(',').any(|x| x == f) {
            return error_response(100, &format!("fields lacks {f}"));
        }
    }
    inner.template_pages += 1;
    let from: usize = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let size = inner.page_size;
    let data: Vec<Value> = inner.templates.iter().skip(from).take(size).map(Served::listed).collect();
    let mut page =
        json!({"data": data, "paging": {"cursors": {"before": from.to_string(), "after": (from + size).to_string()}}});
    if from + size < inner.templates.len() {
        page["paging"]["next"] = json!(format!(
            "http://{}/v21.0/{waba}/message_templates?fields={fields}&limit=100&after={}",
            fake.addr,
            from + size
        ));
    }
    Json(page).into_response()
}

async fn send(
    State(fake): State<FakeWhatsApp>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (response, latency) = decide(&fake, &id, &headers, body);
    tokio::time::sleep(latency).await;
    response
}

fn decide(fake: &FakeWhatsApp, id: &str, headers: &HeaderMap, body: Value) -> (Response, Duration) {
    let mut inner = fake.inner.lock();
    let latency = inner.latency;
    let to = body["to"].as_str().unwrap_or_default().to_owned();
    let answer = answer(&mut inner, id, headers, &body, &to);
    let code = match &answer {
        Ok(_) => 200,
        Err((code, _)) => *code,
    };
    inner.answers.push((to.clone(), code, Instant::now()));
    let response = match answer {
        Ok(()) => {
            inner.seq += 1;
            let wamid = format!("wamid.HBgM{:012}FAKE", inner.seq);
            let callback = body["biz_opaque_callback_data"].as_str().unwrap_or_default().to_owned();
            inner.accepted.push(Accepted { wamid: wamid.clone(), to: to.clone(), callback, body, at: Instant::now() });
            Json(json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                        "messages": [{"id": wamid, "message_status": "accepted"}]}))
            .into_response()
        }
        Err((code, details)) if code < 1000 && (500..600).contains(&code) => {
            (StatusCode::from_u16(code as u16).unwrap(), details).into_response()
        }
        Err((code, details)) => error_response(code, &details),
    };
    (response, latency)
}

/// Ok to take the send, or the code (or 5xx HTTP status) to refuse it with and the details.
fn answer(inner: &mut Inner, id: &str, headers: &HeaderMap, body: &Value, to: &str) -> Result<(), (i64, String)> {
    if !authorized(inner, headers) {
        return Err((190, "Invalid OAuth access token".into()));
    }
    if id != PHONE_NUMBER_ID || body["messaging_product"] != "whatsapp" || to.is_empty() {
        return Err((100, "Invalid parameter".into()));
    }
    if let Some(next) = inner.scripted.get_mut(to).and_then(VecDeque::pop_front) {
        return Err(match next {
            Scripted::Code(code) => (code, format!("scripted {code}")),
            Scripted::Http(status) => (i64::from(status), "<html>Bad gateway</html>".into()),
        });
    }
    let now = Instant::now();
    while inner.window.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1)) {
        inner.window.pop_front();
    }
    if inner.per_second.is_some_and(|limit| inner.window.len() >= limit) {
        return Err((130429, "Message failed to send because there were too many messages sent".into()));
    }
    match body["type"].as_str() {
        Some("template") => check_template(inner, &body["template"])?,
        Some(kind) if free_form_ok(kind, body) => {
            if !inner.open_window.contains(to) {
                return Err((131047, "Message failed to send because more than 24 hours have passed".into()));
            }
        }
        _ => return Err((131051, "Unsupported message type".into())),
    }
    inner.window.push_back(now);
    Ok(())
}

/// Whether a free-form message has the shape Meta's reference gives its type: text with a
/// body; media by `link` (a caption only on image, video, document); reply buttons (1 to 3,
/// each `{"type":"reply","reply":{"id","title" <= 20 chars}}`) under a body text.
fn free_form_ok(kind: &str, body: &Value) -> bool {
    let object = body[kind].as_object();
    let only = |allowed: &[&str]| object.is_some_and(|o| o.keys().all(|k| allowed.contains(&k.as_str())));
    match kind {
        "text" => body["text"]["body"].is_string() && only(&["body", "preview_url"]),
        "image" | "video" => body[kind]["link"].is_string() && only(&["link", "caption"]),
        "document" => body[kind]["link"].is_string() && only(&["link", "caption", "filename"]),
        "audio" => body[kind]["link"].is_string() && only(&["link"]),
        "interactive" => {
            let i = &body["interactive"];
            let buttons = i["action"]["buttons"].as_array().map_or(&[][..], Vec::as_slice);
            i["type"] == "button"
                && i["body"]["text"].is_string()
                && (1..=3).contains(&buttons.len())
                && buttons.iter().all(|b| {
                    b["type"] == "reply"
                        && b["reply"]["id"].is_string()
                        && b["reply"]["title"].as_str().is_some_and(|t| !t.is_empty() && t.chars().count() <= 20)
                })
        }
        _ => false,
    }
}

fn check_template(inner: &Inner, t: &Value) -> Result<(), (i64, String)> {
    let name = t["name"].as_str().unwrap_or_default();
    let language = t["language"]["code"].as_str().unwrap_or_default();
    let Some(served) = inner.templates.iter().find(|s| s.name == name && s.language == language) else {
        return Err((132001, format!("template name ({name}) does not exist in {language}")));
    };
    match served.status.as_str() {
        "PAUSED" => return Err((132015, "Template is paused due to low quality".into())),
        "DISABLED" => return Err((132016, "Template is disabled".into())),
        "APPROVED" => {}
        other => return Err((132001, format!("template is {other}"))),
    }
    let named = served.parameter_format == "NAMED";
    let expected = expected_shape(served.components.as_array().map_or(&[][..], Vec::as_slice), named, "");
    let given = given_shape(t["components"].as_array().map_or(&[][..], Vec::as_slice), "")?;
    if expected != given {
        return Err((132000, format!("expected {expected:?}, got {given:?}")));
    }
    Ok(())
}
