//! `GET /api/v1/campaigns/{id}/events` over a real socket: `progress` events carrying the stats
//! object arrive while a paced campaign runs (no faster than one per 500 ms), `status` on pause,
//! a keep-alive comment when nothing changes, 404 for an unknown campaign, 401 without a key,
//! and 503 with `Retry-After` over `limits.max_event_streams`.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::rest::{Rest, API_KEY};
use support::{Gateway, WAIT};

/// One SSE stream read chunk by chunk.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

/// One parsed SSE block: its `event` name ("" for a comment) and its data, with arrival time.
#[derive(Debug)]
struct Block {
    event: String,
    data: String,
    at: Instant,
}

impl Events {
    async fn open(gw: &Gateway, id: &str) -> Events {
        let response = reqwest::Client::new()
            .get(format!("http://{}/api/v1/campaigns/{id}/events", gw.addr))
            .header("x-api-key", API_KEY)
            .send()
            .await
            .expect("events request");
        assert_eq!(response.status(), 200);
        let ct = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        Events { response, buffer: String::new() }
    }

    /// The next block (event or comment), or None at the end of the stream or after `within`.
    async fn next(&mut self, within: Duration) -> Option<Block> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                let mut block = Block { event: String::new(), data: String::new(), at: Instant::now() };
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        block.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        block.data.push_str(v.trim_start());
                    }
                }
                return Some(block);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?.expect("stream read")?;
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }

    /// The next block named `event`, skipping others; panics after `within`.
    async fn until(&mut self, event: &str, within: Duration, seen: &mut Vec<Block>) -> Block {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let b = self.next(left).await.unwrap_or_else(|| panic!("no `{event}` event in time; saw {seen:?}"));
            if b.event == event {
                return b;
            }
            seen.push(b);
        }
    }
}

async fn seeded(rest: &Rest, n: usize) {
    for i in 0..n {
        rest.contact(json!({"name": format!("C{i}"), "phone": format!("+55119{:08}", 10_000_000 + i)})).await;
    }
}

#[tokio::test]
async fn progress_arrives_while_a_paced_campaign_runs_and_status_on_pause() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    seeded(&rest, 30).await;
    // 300 a minute: one send every 200 ms, so 30 recipients take about 6 s.
    let id = rest.text_campaign("live", "Oi {{nome}}", 300, Value::Null).await;
    let mut events = Events::open(&gw, &id).await;
    let mut seen = Vec::new();
    let first = events.until("progress", WAIT, &mut seen).await;
    let stats: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(stats, rest.stats(&id).await, "the first event is the stats object of GET /stats");
    assert_eq!(stats["status"], "DRAFT");

    rest.start(&id).await;
    let status = events.until("status", WAIT, &mut seen).await;
    assert_eq!(serde_json::from_str::<Value>(&status.data).unwrap(), json!({"campaign_id": id, "status": "RUNNING"}));
    // Progress moves while it runs, one event at most every 500 ms.
    let mut progress = Vec::new();
    while progress.len() < 4 {
        let b = events.until("progress", WAIT, &mut seen).await;
        let s: Value = serde_json::from_str(&b.data).unwrap();
        assert_eq!(s["campaign_id"], id.as_str());
        progress.push((b.at, s));
    }
    let sent = |s: &Value| s["total_contacts"].as_u64().unwrap() - s["pending"].as_u64().unwrap();
    assert!(sent(&progress[3].1) > sent(&progress[0].1), "progress did not move: {progress:?}");
    for pair in progress.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        // 500 ms between polls, less a little for the network stack's jitter.
        assert!(gap >= Duration::from_millis(400), "two progress events {gap:?} apart");
    }
    assert!(sent(&progress[3].1) < 30, "the campaign should still be running: {:?}", progress[3].1);

    rest.expect("POST", &format!("/campaigns/{id}/pause"), None, 200).await;
    let paused = events.until("status", WAIT, &mut seen).await;
    assert_eq!(serde_json::from_str::<Value>(&paused.data).unwrap()["status"], "PAUSED");
    let after = events.until("progress", WAIT, &mut seen).await;
    assert_eq!(serde_json::from_str::<Value>(&after.data).unwrap()["status"], "PAUSED");
    gw.stop().await;
}

#[tokio::test]
async fn nothing_but_keep_alives_when_nothing_changes() {
    let mut config = irisgate::Config::development();
    config.limits.event_keepalive_ms = 200;
    let gw = Gateway::start_with(config).await;
    let rest = Rest::new(&gw);
    seeded(&rest, 2).await;
    let id = rest.text_campaign("quiet", "Oi", 300, Value::Null).await;
    let mut events = Events::open(&gw, &id).await;
    let first = events.next(WAIT).await.expect("first block");
    assert_eq!(first.event, "progress", "{first:?}");
    // A DRAFT does not change: for 1.5 s only comments (keep-alives) come.
    let until = Instant::now() + Duration::from_millis(1500);
    let mut comments = 0;
    while let Some(b) = events.next(until.saturating_duration_since(Instant::now())).await {
        assert_eq!(b.event, "", "an event while nothing changed: {b:?}");
        assert!(b.data.is_empty(), "{b:?}");
        comments += 1;
    }
    assert!(comments >= 3, "keep-alive comments every 200 ms expected, got {comments}");
    gw.stop().await;
}

#[tokio::test]
async fn the_stream_limit_fails_fast_and_a_closed_stream_frees_its_place() {
    let mut config = irisgate::Config::development();
    config.limits.max_event_streams = 3;
    config.limits.event_keepalive_ms = 100;
    let gw = Gateway::start_with(config).await;
    let rest = Rest::new(&gw);
    seeded(&rest, 1).await;
    let id = rest.text_campaign("watched", "Oi", 300, Value::Null).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut e = Events::open(&gw, &id).await;
        assert_eq!(e.next(WAIT).await.expect("first").event, "progress");
        open.push(e);
    }
    let refused = rest.call("GET", &format!("/campaigns/{id}/events"), None).await;
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(refused.headers["retry-after"], "1");
    assert!(refused.json()["message"].as_str().unwrap().contains("limits.max_event_streams"), "{:?}", refused.body);
    // A stream that closes frees its place (the gateway notices at its next keep-alive).
    open.pop();
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/campaigns/{id}/events", gw.addr);
    let deadline = Instant::now() + WAIT;
    let reopened = loop {
        let r = client.get(&url).header("x-api-key", API_KEY).send().await.unwrap();
        if r.status() == 200 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(reopened.status(), 200, "the closed stream's place was not freed");
    drop(open);
    gw.stop().await;
}

#[tokio::test]
async fn unknown_campaign_is_404_and_no_key_is_401() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let r = rest.call("GET", "/campaigns/00000000-0000-0000-0000-000000000000/events", None).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let anon = Rest::with_key(&gw, None);
    let r = anon.call("GET", "/campaigns/00000000-0000-0000-0000-000000000000/events", None).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    gw.stop().await;
}
