//! `[[tenants]] message_url` (conversations.md step 6) against a loopback HTTP server: with no
//! session of the bot, an inbound message is POSTed as its LIME envelope with the tenant's
//! `Authorization: Key …`; refusals are retried (same id, arrival order kept) until a 2xx
//! takes it off the inbox, after which a session that connects does not get it again.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use parking_lot::Mutex;
use serde_json::{json, Value};
use support::bot::message_within;
use support::{config_with_tenants, poll, Gateway, Rest, WAIT};

#[derive(Default)]
struct Seen {
    /// (Authorization, body) of every POST, in order.
    posts: Vec<(Option<String>, Value)>,
    /// Answer this many with 503 before answering 200.
    refuse: usize,
}

type Shared = Arc<Mutex<Seen>>;

async fn receive(State(seen): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    let mut s = seen.lock();
    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned());
    s.posts.push((auth, serde_json::from_str(&body).unwrap()));
    if s.refuse > 0 {
        s.refuse -= 1;
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// A loopback server recording POSTs to `/inbound`: its URL and what it saw.
async fn bot_server(refuse: usize) -> (String, Shared) {
    let seen: Shared = Arc::new(Mutex::new(Seen { refuse, ..Seen::default() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/inbound", axum::routing::post(receive)).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/inbound"), seen)
}

fn config(url: &str) -> irisgate::Config {
    let mut c = config_with_tenants();
    c.tenants[0].message_url = Some(url.to_owned());
    c.conversations.message_url_retry_max_ms = 300;
    c
}

async fn inject(rest: &Rest, phone: &str, text: &str) -> Value {
    rest.expect("POST", "/simulator/channel_123/inbound", Some(json!({"from": format!("+{phone}"), "text": text})), 202)
        .await
}

async fn posts_until(seen: &Shared, n: usize) -> Vec<(Option<String>, Value)> {
    poll(WAIT, || async { seen.lock().posts.clone() }, |p| p.len() >= n).await.expect("the POSTs in time")
}

#[tokio::test]
async fn with_no_session_a_message_is_posted_with_the_tenants_key_and_then_off_the_inbox() {
    let (url, seen) = bot_server(0).await;
    let gw = Gateway::start_with(config(&url)).await;
    let rest = Rest::new(&gw);
    let sent = inject(&rest, "5531998760701", "pelo webhook").await;
    let posts = posts_until(&seen, 1).await;
    let (auth, body) = &posts[0];
    let key = base64::engine::general_purpose::STANDARD.encode("mybot:secret");
    assert_eq!(auth.as_deref(), Some(format!("Key {key}").as_str()));
    assert_eq!((&body["id"], &body["content"]), (&sent["id"], &json!("pelo webhook")), "{body}");
    assert_eq!(body["from"], "5531998760701@wa.gw.msging.net", "{body}");
    // Taken off by the 200: a session that connects now gets nothing.
    let mut ws = gw.session().await;
    assert_eq!(message_within(&mut ws, Duration::from_millis(500)).await, None);
    assert_eq!(seen.lock().posts.len(), 1, "posted once");
}

#[tokio::test]
async fn refused_posts_are_retried_in_arrival_order_until_a_2xx() {
    let (url, seen) = bot_server(3).await;
    let gw = Gateway::start_with(config(&url)).await;
    let rest = Rest::new(&gw);
    let first = inject(&rest, "5531998760702", "um").await;
    let second = inject(&rest, "5531998760702", "dois").await;
    // Three refusals of "um", then "um" and "dois" accepted, in that order.
    let posts = posts_until(&seen, 5).await;
    let ids: Vec<&Value> = posts.iter().map(|(_, b)| &b["id"]).collect();
    assert_eq!(ids, [&first["id"], &first["id"], &first["id"], &first["id"], &second["id"]], "{posts:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(seen.lock().posts.len(), 5, "nothing posted again after the 200s");
}
