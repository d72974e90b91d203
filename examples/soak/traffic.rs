//! The soak's clients (`examples/soak.rs`): WebSocket sessions, `POST /commands` and REST
//! clients and the bad-frame sessions, what they share, and starting them all with the two
//! campaign drivers (`campaigns.rs`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::tally::Tally;
use crate::wire::{lime_check, next_json, rest_check, session, status_is, ws_call, Http, Ws, ANSWER_WITHIN, BOT};

pub(crate) const CAMPAIGN_NODE: &str = "postmaster@activecampaign.msging.net";
const CRM_NODE: &str = "postmaster@crm.msging.net";
pub(crate) const SERVER_NODE: &str = "postmaster@msging.net";
const DYNAMIC_TYPE: &str = "application/vnd.iris.activecampaign.campaign-dynamic+json";
const CONTACT_TYPE: &str = "application/vnd.lime.contact+json";

/// How many clients of each kind, and how hard they push.
pub(crate) struct Shape {
    pub(crate) ws_sessions: usize,
    pub(crate) http_clients: usize,
    pub(crate) rest_clients: usize,
    pub(crate) pause: Duration,
    pub(crate) recipients: usize,
    pub(crate) campaigns: bool,
}

/// What every client shares.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) addr: SocketAddr,
    pub(crate) tally: Arc<Tally>,
    pub(crate) pause: Duration,
    pub(crate) recipients: usize,
    pub(crate) ws_sessions: usize,
    pub(crate) http_clients: usize,
    pub(crate) rest_clients: usize,
    pub(crate) campaigns: bool,
    /// The latest LIME campaign, for reports and summaries.
    pub(crate) latest: Arc<Mutex<Option<String>>>,
    pub(crate) serial: Arc<AtomicUsize>,
}

/// Phone `i` of pool `pool` (one area code each): distinct Brazilian mobiles, never a
/// simulator test number (last four digits 0000–0004).
pub(crate) fn phone(pool: usize, i: usize) -> String {
    const AREAS: [u32; 8] = [11, 21, 31, 41, 51, 61, 71, 81];
    format!("55{}9{:04}{:04}", AREAS[pool % AREAS.len()], i / 9000, 1000 + i % 9000)
}

pub(crate) fn command(method: &str, to: &str, uri: &str, body: Option<(&str, Value)>) -> Value {
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

    pub(crate) fn http(&self) -> Http {
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

    pub(crate) fn next(&self) -> usize {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn latest(&self) -> Option<String> {
        self.latest.lock().clone()
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
        tasks.push(tokio::spawn(crate::campaigns::lime_campaigns(ctx.clone(), deadline)));
        tasks.push(tokio::spawn(crate::campaigns::rest_campaigns(ctx.clone(), deadline)));
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
