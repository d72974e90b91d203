//! The soak's clients (`examples/soak.rs`): WebSocket sessions, `POST /commands` and REST
//! clients, the two campaign drivers and the bad-frame sessions; every answer is tallied as ok,
//! an expected failure (one that was asked for) or unexpected.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub(crate) const BOT: &str = "soakbot";
pub(crate) const API_KEY: &str = "wk_soak_key";
const CAMPAIGN_NODE: &str = "postmaster@activecampaign.msging.net";
const CRM_NODE: &str = "postmaster@crm.msging.net";
const SERVER_NODE: &str = "postmaster@msging.net";
const FULL_TYPE: &str = "application/vnd.iris.activecampaign.full-campaign+json";
const DYNAMIC_TYPE: &str = "application/vnd.iris.activecampaign.campaign-dynamic+json";
const CONTACT_TYPE: &str = "application/vnd.lime.contact+json";
/// An answer slower than this counts as unexpected.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);
/// Completed campaigns kept per driver; older ones are deleted, so the store stays bounded.
const KEEP_COMPLETED: usize = 5;
/// Unexpected answers quoted in the summary.
const QUOTED_ERRORS: usize = 30;

/// How many clients of each kind, and how hard they push.
pub(crate) struct Shape {
    pub(crate) ws_sessions: usize,
    pub(crate) http_clients: usize,
    pub(crate) rest_clients: usize,
    pub(crate) pause: Duration,
    pub(crate) recipients: usize,
    pub(crate) campaigns: bool,
}

#[derive(Default, Clone, Copy)]
pub(crate) struct Count {
    pub(crate) ok: u64,
    pub(crate) expected: u64,
    pub(crate) unexpected: u64,
}

#[derive(Default, Clone, Copy)]
pub(crate) struct CampaignCount {
    pub(crate) completed: u64,
    pub(crate) sent: u64,
    pub(crate) read: u64,
    pub(crate) failed: u64,
}

/// Every answer by kind, the first unexpected ones, and what the campaigns did.
#[derive(Default)]
pub(crate) struct Tally {
    kinds: Mutex<BTreeMap<String, Count>>,
    pub(crate) errors: Mutex<Vec<String>>,
    pub(crate) campaigns: Mutex<BTreeMap<&'static str, CampaignCount>>,
}

impl Tally {
    pub(crate) fn ok(&self, kind: &str) {
        self.kinds.lock().entry(kind.to_owned()).or_default().ok += 1;
    }

    pub(crate) fn expected(&self, kind: &str) {
        self.kinds.lock().entry(kind.to_owned()).or_default().expected += 1;
    }

    pub(crate) fn fail(&self, kind: &str, what: String) {
        self.kinds.lock().entry(kind.to_owned()).or_default().unexpected += 1;
        let mut errors = self.errors.lock();
        if errors.len() < QUOTED_ERRORS {
            errors.push(format!("{kind}: {what}"));
        }
    }

    /// Tallies `answer` as ok (`Ok(true)`), expected failure (`Ok(false)`) or unexpected.
    fn record(&self, kind: &str, answer: Result<bool, String>) {
        match answer {
            Ok(true) => self.ok(kind),
            Ok(false) => self.expected(kind),
            Err(e) => self.fail(kind, e),
        }
    }

    pub(crate) fn snapshot(&self) -> BTreeMap<String, Count> {
        self.kinds.lock().clone()
    }

    pub(crate) fn answers(&self) -> u64 {
        self.kinds.lock().values().map(|c| c.ok + c.expected + c.unexpected).sum()
    }

    pub(crate) fn unexpected(&self) -> u64 {
        self.kinds.lock().values().map(|c| c.unexpected).sum()
    }
}

/// What every client shares.
#[derive(Clone)]
pub(crate) struct Ctx {
    addr: SocketAddr,
    pub(crate) tally: Arc<Tally>,
    pause: Duration,
    recipients: usize,
    ws_sessions: usize,
    http_clients: usize,
    rest_clients: usize,
    campaigns: bool,
    /// The latest LIME campaign, for reports and summaries.
    latest: Arc<Mutex<Option<String>>>,
    serial: Arc<AtomicUsize>,
}

/// A LIME answer: success (`Ok(true)`) or failure (`Ok(false)`) with its reason code.
type Lime = Result<(bool, Value), String>;

fn lime_check(answer: Lime, want_success: bool, failure_codes: &[i64]) -> Result<bool, String> {
    let (success, envelope) = answer?;
    if success == want_success {
        if !success {
            let code = envelope["reason"]["code"].as_i64().unwrap_or(0);
            if !failure_codes.contains(&code) {
                return Err(format!("failure {code} instead of {failure_codes:?}: {envelope}"));
            }
        }
        Ok(success)
    } else {
        Err(format!("wanted {}: {envelope}", if want_success { "success" } else { "a failure" }))
    }
}

fn envelope_outcome(v: Value) -> Lime {
    match v["status"].as_str() {
        Some("success") => Ok((true, v)),
        Some("failure") => Ok((false, v)),
        _ => Err(format!("neither success nor failure: {v}")),
    }
}

/// Phone `i` of pool `pool` (one area code each): distinct Brazilian mobiles, never a
/// simulator test number (last four digits 0000–0004).
fn phone(pool: usize, i: usize) -> String {
    const AREAS: [u32; 8] = [11, 21, 31, 41, 51, 61, 71, 81];
    format!("55{}9{:04}{:04}", AREAS[pool % AREAS.len()], i / 9000, 1000 + i % 9000)
}

fn command(method: &str, to: &str, uri: &str, body: Option<(&str, Value)>) -> Value {
    let mut c = json!({"id": uuid::Uuid::new_v4().to_string(), "to": to, "method": method, "uri": uri});
    if let Some((t, r)) = body {
        c["type"] = t.into();
        c["resource"] = r;
    }
    c
}

impl Ctx {
    pub(crate) fn new(addr: SocketAddr, shape: &Shape) -> Ctx {
        Ctx {
            addr,
            tally: Arc::default(),
            pause: shape.pause,
            recipients: shape.recipients,
            ws_sessions: shape.ws_sessions,
            http_clients: shape.http_clients,
            rest_clients: shape.rest_clients,
            campaigns: shape.campaigns,
            latest: Arc::default(),
            serial: Arc::default(),
        }
    }

    fn http(&self) -> Http {
        let auth = format!("Key {}", base64::engine::general_purpose::STANDARD.encode(format!("{BOT}:secret")));
        Http { client: reqwest::Client::new(), base: format!("http://{}", self.addr), auth }
    }

    pub(crate) async fn wait_ready(&self) {
        let http = self.http();
        let started = Instant::now();
        while http.lime(command("get", SERVER_NODE, "/ping", None)).await.map(|(ok, _)| ok) != Ok(true) {
            assert!(started.elapsed() < Duration::from_secs(60), "gateway did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Tags and the REST campaigns' contacts.
    pub(crate) async fn setup(&self) {
        let http = self.http();
        for tag in ["soak", "churn"] {
            let (s, v) = http.rest("POST", "/campaigns/tags", Some(json!({"id": tag, "name": tag}))).await;
            assert_eq!(s, 201, "tag {tag}: {v}");
        }
        for i in 0..self.recipients {
            let body = json!({"name": format!("Pessoa {i}"), "phone": format!("+{}", phone(1, i)), "tags": ["soak"]});
            let (s, v) = http.rest("POST", "/contacts", Some(body)).await;
            assert_eq!(s, 201, "contact {i}: {v}");
        }
    }

    fn next(&self) -> usize {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }

    fn latest(&self) -> Option<String> {
        self.latest.lock().clone()
    }
}

/// `POST /commands` and REST over one keep-alive client.
struct Http {
    client: reqwest::Client,
    base: String,
    auth: String,
}

impl Http {
    async fn lime(&self, c: Value) -> Lime {
        let (status, body) = self.post_commands(c.to_string(), &self.auth).await?;
        if status != 200 {
            return Err(format!("HTTP {status}: {body}"));
        }
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("reply is not JSON ({e}): {body}"))?;
        envelope_outcome(v)
    }

    async fn post_commands(&self, body: String, auth: &str) -> Result<(u16, String), String> {
        let request = self
            .client
            .post(format!("{}/commands", self.base))
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body(body);
        send(request).await
    }

    async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        match self.try_rest(method, path, body).await {
            Ok(r) => r,
            Err(e) => (0, Value::String(e)),
        }
    }

    async fn try_rest(&self, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value), String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request =
            self.client.request(method, format!("{}/api/v1{path}", self.base)).header("x-api-key", API_KEY);
        if let Some(b) = body {
            request = request.header("content-type", "application/json").body(b.to_string());
        }
        let (status, text) = send(request).await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<(u16, String), String> {
    let reply = tokio::time::timeout(ANSWER_WITHIN, request.send())
        .await
        .map_err(|_| "no answer in time".to_owned())?
        .map_err(|e| format!("transport error: {e}"))?;
    let status = reply.status().as_u16();
    let text = reply.text().await.map_err(|e| format!("body: {e}"))?;
    Ok((status, text))
}

/// A REST answer must have `status`; 2xx is ok, anything else an expected failure.
fn rest_check((status, body): (u16, Value), want: u16) -> Result<bool, String> {
    if status == want {
        Ok((200..300).contains(&status))
    } else {
        Err(format!("HTTP {status} instead of {want}: {body}"))
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A LIME session through the key-scheme handshake.
async fn session(addr: SocketAddr) -> Result<Ws, String> {
    let mut request = format!("ws://{addr}/").into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert("sec-websocket-protocol", "lime".parse().expect("header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| format!("connect: {e}"))?;
    ws.send(Message::text(r#"{"state":"new"}"#)).await.map_err(|e| e.to_string())?;
    let auth = next_json(&mut ws).await?;
    let sid = auth["id"].as_str().ok_or(format!("no session id: {auth}"))?.to_owned();
    let key = base64::engine::general_purpose::STANDARD.encode("secret");
    let reply = json!({"id": sid, "state": "authenticating", "from": format!("{BOT}@msging.net/default"),
                       "scheme": "key", "authentication": {"key": key, "scheme": "key"}});
    ws.send(Message::text(reply.to_string())).await.map_err(|e| e.to_string())?;
    let established = next_json(&mut ws).await?;
    if established["state"] != "established" {
        return Err(format!("not established: {established}"));
    }
    Ok(ws)
}

/// The next text frame as JSON, within [`ANSWER_WITHIN`].
async fn next_json(ws: &mut Ws) -> Result<Value, String> {
    loop {
        let frame = tokio::time::timeout(ANSWER_WITHIN, ws.next()).await.map_err(|_| "no frame in time".to_owned())?;
        match frame {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).map_err(|e| format!("{e}: {t}")),
            Some(Ok(Message::Close(c))) => return Err(format!("closed: {c:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("socket error: {e}")),
            None => return Err("socket ended".into()),
        }
    }
}

/// Sends `text` and returns the answer whose id is `id`.
async fn ws_call(ws: &mut Ws, id: &str, text: String) -> Lime {
    ws.send(Message::text(text)).await.map_err(|e| format!("send: {e}"))?;
    loop {
        let v = next_json(ws).await?;
        if v["id"] == id {
            return envelope_outcome(v);
        }
    }
}

pub(crate) fn spawn_all(ctx: &Ctx, deadline: Instant) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for n in 0..ctx.ws_sessions {
        tasks.push(tokio::spawn(ws_client(ctx.clone(), n, deadline)));
    }
    for _ in 0..ctx.http_clients {
        tasks.push(tokio::spawn(http_client(ctx.clone(), deadline)));
    }
    for n in 0..ctx.rest_clients {
        tasks.push(tokio::spawn(rest_client(ctx.clone(), n, deadline)));
    }
    tasks.push(tokio::spawn(bad_sessions(ctx.clone(), deadline)));
    if ctx.campaigns {
        tasks.push(tokio::spawn(lime_campaigns(ctx.clone(), deadline)));
        tasks.push(tokio::spawn(rest_campaigns(ctx.clone(), deadline)));
    }
    tasks
}

/// The LIME commands of one session, round after round; every 25th a malformed one.
async fn ws_client(ctx: Ctx, n: usize, deadline: Instant) {
    let mut ws = match session(ctx.addr).await {
        Ok(ws) => ws,
        Err(e) => return ctx.tally.fail("ws session", e),
    };
    let mut round = 0usize;
    while Instant::now() < deadline {
        round += 1;
        let who = |round: usize| format!("{}@wa.gw.msging.net", phone(3 + n % 2, n * 1000 + round % 500));
        let latest = ctx.latest();
        let (kind, c, want, codes): (&str, Value, bool, &[i64]) = match round % 25 {
            0 => match round / 25 % 3 {
                0 => ("ws malformed: unknown uri", command("get", SERVER_NODE, "/no-such-thing", None), false, &[62]),
                1 => ("ws malformed: multibyte uri", command("get", SERVER_NODE, "/aaaaaé", None), false, &[62, 27]),
                _ => {
                    let mut c = command("get", CAMPAIGN_NODE, "", None);
                    c.as_object_mut().expect("object").remove("uri");
                    ("ws malformed: no uri", c, false, &[21])
                }
            },
            1..=6 => ("ws get /ping", command("get", SERVER_NODE, "/ping", None), true, &[]),
            7..=9 => ("ws summaries", command("get", CAMPAIGN_NODE, "/campaigns/summaries?$take=10", None), true, &[]),
            10..=12 => match &latest {
                Some(id) => (
                    "ws reports",
                    command("get", CAMPAIGN_NODE, &format!("/campaigns/{id}/reports?$take=20"), None),
                    true,
                    &[],
                ),
                None => ("ws get /ping", command("get", SERVER_NODE, "/ping", None), true, &[]),
            },
            13..=15 => {
                let r = json!({"identity": who(round), "name": format!("Soak {round}"), "extras": {"round": round.to_string()}});
                ("ws set contact", command("set", CRM_NODE, "/contacts", Some((CONTACT_TYPE, r))), true, &[])
            }
            // The contacts set three rounds before.
            16..=17 => {
                ("ws get contact", command("get", CRM_NODE, &format!("/contacts/{}", who(round - 3)), None), true, &[])
            }
            18..=19 => ("ws get campaigns", command("get", CAMPAIGN_NODE, "/campaigns?$take=10", None), true, &[]),
            _ => {
                draft_cycle(&ctx, &mut ws, round).await;
                tokio::time::sleep(ctx.pause).await;
                continue;
            }
        };
        let id = c["id"].as_str().unwrap_or_default().to_owned();
        let answer = ws_call(&mut ws, &id, c.to_string()).await;
        let broken = answer.is_err();
        ctx.tally.record(kind, lime_check(answer, want, codes));
        if broken {
            return;
        }
        tokio::time::sleep(ctx.pause).await;
    }
    let _ = ws.close(None).await;
}

/// `set /campaign/v2` (a draft), `get /campaigns/{id}`, `delete /campaigns/{id}`.
async fn draft_cycle(ctx: &Ctx, ws: &mut Ws, round: usize) {
    let r = json!({"campaign": {"name": format!("draft {round}"), "campaignType": "Batch", "flowId": "f", "stateId": "s"},
                   "message": {"messageTemplate": "two_params", "messageParams": ["1", "2"]}});
    let c = command("set", CAMPAIGN_NODE, "/campaign/v2", Some((DYNAMIC_TYPE, r)));
    let answer = ws_call(ws, c["id"].as_str().unwrap_or_default(), c.to_string()).await;
    let id = match &answer {
        Ok((true, v)) => v["resource"]["id"].as_str().map(str::to_owned),
        _ => None,
    };
    ctx.tally.record("ws set campaign", lime_check(answer, true, &[]));
    let Some(id) = id else { return };
    for (kind, method) in [("ws get campaign", "get"), ("ws delete campaign", "delete")] {
        let c = command(method, CAMPAIGN_NODE, &format!("/campaigns/{id}"), None);
        let answer = ws_call(ws, c["id"].as_str().unwrap_or_default(), c.to_string()).await;
        ctx.tally.record(kind, lime_check(answer, true, &[]));
    }
}

/// `POST /commands`: pings, summaries, contacts; malformed JSON, bad credentials, unknown URIs.
async fn http_client(ctx: Ctx, deadline: Instant) {
    let http = ctx.http();
    let mut round = 0usize;
    while Instant::now() < deadline {
        round += 1;
        match round % 20 {
            0 => {
                let answer = http.post_commands("{\"id\": \"x\", \"method\":".into(), &http.auth).await;
                ctx.tally.record("http malformed json", status_is(answer, 400));
            }
            1 => {
                let bad = format!("Key {}", base64::engine::general_purpose::STANDARD.encode(format!("{BOT}:wrong")));
                let c = command("get", SERVER_NODE, "/ping", None).to_string();
                ctx.tally.record("http bad credentials", status_is(http.post_commands(c, &bad).await, 401));
            }
            2 => {
                let c = command("get", CAMPAIGN_NODE, "/campaigns/not-a-uuid", None);
                ctx.tally.record("http malformed: unknown campaign", lime_check(http.lime(c).await, false, &[67]));
            }
            3..=10 => {
                let c = command("get", SERVER_NODE, "/ping", None);
                ctx.tally.record("http get /ping", lime_check(http.lime(c).await, true, &[]));
            }
            11..=14 => {
                let c = command("get", CAMPAIGN_NODE, "/campaigns/summaries?$take=10", None);
                ctx.tally.record("http summaries", lime_check(http.lime(c).await, true, &[]));
            }
            15..=16 => match ctx.latest() {
                Some(id) => {
                    let c = command("get", CAMPAIGN_NODE, &format!("/campaigns/{id}/reports?$take=20"), None);
                    ctx.tally.record("http reports", lime_check(http.lime(c).await, true, &[]));
                }
                None => continue,
            },
            _ => {
                let c = command("get", CRM_NODE, "/contacts?$take=20", None);
                ctx.tally.record("http get contacts", lime_check(http.lime(c).await, true, &[]));
            }
        }
        tokio::time::sleep(ctx.pause).await;
    }
}

fn status_is(answer: Result<(u16, String), String>, want: u16) -> Result<bool, String> {
    let (status, body) = answer?;
    if status == want {
        Ok(false)
    } else {
        Err(format!("HTTP {status} instead of {want}: {body}"))
    }
}

/// REST: a contact created, read, updated and deleted per round, lists and stats, and
/// malformed bodies now and then.
async fn rest_client(ctx: Ctx, n: usize, deadline: Instant) {
    let http = ctx.http();
    let mut round = 0usize;
    while Instant::now() < deadline {
        round += 1;
        let i = ctx.next();
        let body =
            json!({"name": format!("Churn {i}"), "phone": format!("+{}", phone(5 + n, i % 50_000)), "tags": ["churn"]});
        let created = http.rest("POST", "/contacts", Some(body)).await;
        let id = created.1["id"].as_str().map(str::to_owned);
        ctx.tally.record("rest create contact", rest_check(created, 201));
        if let Some(id) = id {
            let path = format!("/contacts/{id}");
            ctx.tally.record("rest get contact", rest_check(http.rest("GET", &path, None).await, 200));
            let update = json!({"name": format!("Churn {i} b"), "tags": ["churn"]});
            ctx.tally.record("rest update contact", rest_check(http.rest("PUT", &path, Some(update)).await, 200));
            ctx.tally.record("rest delete contact", rest_check(http.rest("DELETE", &path, None).await, 204));
        }
        let list = if round.is_multiple_of(2) { "/contacts?limit=20" } else { "/campaigns?limit=20" };
        ctx.tally.record("rest lists", rest_check(http.rest("GET", list, None).await, 200));
        ctx.tally.record("rest channels", rest_check(http.rest("GET", "/campaigns/channels", None).await, 200));
        if round.is_multiple_of(10) {
            let bad = json!({"name": 5, "phone": "not a phone"});
            ctx.tally.record(
                "rest malformed: bad contact",
                rest_check(http.rest("POST", "/contacts", Some(bad)).await, 400),
            );
            let missing = format!("/campaigns/{}/stats", uuid::Uuid::new_v4());
            ctx.tally
                .record("rest malformed: unknown campaign", rest_check(http.rest("GET", &missing, None).await, 404));
        }
        tokio::time::sleep(ctx.pause).await;
    }
}

/// A new session now and then that sends a frame that is not JSON: a `failed` session envelope
/// and the close are the answer asked for.
async fn bad_sessions(ctx: Ctx, deadline: Instant) {
    while Instant::now() < deadline {
        let answer = async {
            let mut ws = session(ctx.addr).await?;
            ws.send(Message::text("{\"id\": \"x\", \"method\":")).await.map_err(|e| e.to_string())?;
            let v = next_json(&mut ws).await?;
            if v["state"] != "failed" {
                return Err(format!("not a failed session: {v}"));
            }
            while let Ok(Some(Ok(_))) = tokio::time::timeout(ANSWER_WITHIN, ws.next()).await {}
            Ok(false)
        }
        .await;
        ctx.tally.record("ws malformed: bad frame", answer);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A LIME `set /campaign/full` campaign at all times: a new one when the last is executed.
async fn lime_campaigns(ctx: Ctx, deadline: Instant) {
    let http = ctx.http();
    let mut done: Vec<String> = Vec::new();
    let mut round = 0;
    while Instant::now() < deadline {
        round += 1;
        let audiences: Vec<Value> = (0..ctx.recipients)
            .map(|i| json!({"recipient": phone(2, i), "messageParams": {"1": format!("Nome {i}"), "2": format!("C{round}")}}))
            .collect();
        let r = json!({"campaign": {"name": format!("soak lime {round}"), "campaignType": "Batch", "flowId": "f", "stateId": "s"},
                       "audiences": audiences, "message": {"messageTemplate": "two_params", "messageParams": ["1", "2"]}});
        let answer = http.lime(command("set", CAMPAIGN_NODE, "/campaign/full", Some((FULL_TYPE, r)))).await;
        let id = match &answer {
            Ok((true, v)) => v["resource"]["id"].as_str().map(str::to_owned),
            _ => None,
        };
        ctx.tally.record("lime campaign start", lime_check(answer, true, &[]));
        let Some(id) = id else { return };
        *ctx.latest.lock() = Some(id.clone());
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let c = command("get", CAMPAIGN_NODE, &format!("/campaigns/{id}/reports?$take=1"), None);
            let answer = http.lime(c).await;
            let v = match &answer {
                Ok((true, v)) => v["resource"].clone(),
                _ => Value::Null,
            };
            ctx.tally.record("lime campaign poll", lime_check(answer, true, &[]));
            let counts = &v["audienceCounts"];
            let n = |k: &str| counts[k].as_u64().unwrap_or(0);
            let all_read = n("read") + n("failed") == ctx.recipients as u64;
            if v["status"] == "executed" && all_read {
                let mut cs = ctx.tally.campaigns.lock();
                let c = cs.entry("LIME set /campaign/full").or_default();
                c.completed += 1;
                c.sent += n("processed") + n("received") + n("read");
                c.read += n("read");
                c.failed += n("failed");
                break;
            }
            if Instant::now() > deadline + Duration::from_secs(60) || v.is_null() {
                break;
            }
        }
        done.push(id);
        retire(&ctx, &http, &mut done, "lime campaign delete").await;
    }
}

/// A REST campaign to the `soak` contacts at all times: created, started, polled until
/// COMPLETED with every recipient read. Paced at the REST maximum of 300 a minute, so the
/// pacer's waits are part of the soak (the LIME campaigns run at the channel's ceiling).
async fn rest_campaigns(ctx: Ctx, deadline: Instant) {
    let http = ctx.http();
    let mut done: Vec<String> = Vec::new();
    let mut round = 0;
    while Instant::now() < deadline {
        round += 1;
        let body = json!({"name": format!("soak rest {round}"), "message_type": "TEXT", "channel_id": "wa_rest",
                          "content": {"type": "text", "text": {"body": "Oi {{name}}"}},
                          "rate_limit_per_minute": 300, "filters": {"tag_ids": ["soak"]}});
        let created = http.rest("POST", "/campaigns", Some(body)).await;
        let id = created.1["id"].as_str().map(str::to_owned);
        ctx.tally.record("rest campaign create", rest_check(created, 201));
        let Some(id) = id else { return };
        ctx.tally.record(
            "rest campaign start",
            rest_check(http.rest("POST", &format!("/campaigns/{id}/start"), None).await, 200),
        );
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let stats = http.rest("GET", &format!("/campaigns/{id}/stats"), None).await;
            let s = stats.1.clone();
            ctx.tally.record("rest campaign stats", rest_check(stats, 200));
            let n = |k: &str| s[k].as_u64().unwrap_or(0);
            if s["status"] == "COMPLETED" && n("read") + n("failed") == ctx.recipients as u64 {
                let mut cs = ctx.tally.campaigns.lock();
                let c = cs.entry("REST POST /campaigns").or_default();
                c.completed += 1;
                c.sent += n("sent") + n("delivered") + n("read");
                c.read += n("read");
                c.failed += n("failed");
                break;
            }
            if Instant::now() > deadline + Duration::from_secs(60) || !s.is_object() {
                break;
            }
        }
        done.push(id);
        retire(&ctx, &http, &mut done, "rest campaign delete").await;
    }
}

/// Deletes the oldest completed campaigns beyond [`KEEP_COMPLETED`] (REST `DELETE`).
async fn retire(ctx: &Ctx, http: &Http, done: &mut Vec<String>, kind: &str) {
    while done.len() > KEEP_COMPLETED {
        let id = done.remove(0);
        ctx.tally.record(kind, rest_check(http.rest("DELETE", &format!("/campaigns/{id}"), None).await, 204));
    }
}
