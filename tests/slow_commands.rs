//! Limits that only a slow command can reach: the HTTP command timeout (504) and the
//! in-flight limit of a WebSocket session (85). A media link to a local server that never
//! answers makes `set /audiences/v2/{id}/file` slow for real.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use support::*;

/// A TCP server that accepts connections and never answers.
async fn stalling_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

fn config() -> irisgate::Config {
    let mut config = irisgate::Config::development();
    config.campaigns.media_link_hosts = vec!["127.0.0.1".into()];
    config.campaigns.media_link_timeout_ms = 5_000;
    (config.campaigns.media_link_allow_http, config.campaigns.media_link_allow_private) = (true, true);
    config
}

async fn draft(gw: &Gateway) -> String {
    let r = gw
        .command(
            json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set", "uri": "/campaign/v2",
            "type": "application/vnd.iris.activecampaign.campaign-dynamic+json",
            "resource": {"campaign": {"name": "slow"}, "message": {"messageTemplate": "email_commerce_resposta"}}}),
        )
        .await
        .json();
    r["resource"]["id"].as_str().unwrap().to_owned()
}

fn slow_file(campaign: &str, server: SocketAddr) -> serde_json::Value {
    json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
        "uri": format!("/audiences/v2/{campaign}/file"), "type": "application/vnd.lime.media-link+json",
        "resource": {"uri": format!("http://{server}/audience.csv"), "type": "text/csv"}})
}

#[tokio::test]
async fn http_command_not_answered_in_time_is_504_and_the_gateway_goes_on() {
    let mut config = config();
    config.limits.command_timeout_ms = 300;
    let gw = Gateway::start_with(config).await;
    let campaign = draft(&gw).await;
    let server = stalling_server().await;
    let started = std::time::Instant::now();
    let reply = gw.command(slow_file(&campaign, server)).await;
    assert_eq!(reply.status, 504, "{:?}", reply.body);
    let body = reply.json();
    assert_eq!(body["error"], "Gateway Timeout");
    assert!(body["message"].as_str().unwrap().contains("command_timeout_ms"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let ping = gw.command(json!({"id": "p", "method": "get", "uri": "/ping"})).await.json();
    assert_eq!(ping["status"], "success");
}

#[tokio::test]
async fn commands_over_the_in_flight_limit_fail_with_85_and_the_session_goes_on() {
    let mut config = config();
    config.limits.max_inflight_per_session = 1;
    config.campaigns.media_link_timeout_ms = 1_000;
    let gw = Gateway::start_with(config).await;
    let campaign = draft(&gw).await;
    let server = stalling_server().await;
    let mut ws = gw.session().await;
    let slow = slow_file(&campaign, server);
    ws.send(slow.clone()).await;
    let second = ws.call(json!({"id": "over", "method": "get", "uri": "/ping"})).await;
    assert_eq!(second["status"], "failure", "{second}");
    assert_eq!(second["reason"]["code"], 85);
    assert!(second["reason"]["description"].as_str().unwrap().contains("max_inflight_per_session"), "{second}");
    // The slow one ends (its fetch times out: 61, retryable) and frees the slot.
    let first = loop {
        let v = ws.recv().await;
        if v["id"] == slow["id"] {
            break v;
        }
    };
    assert_eq!(first["status"], "failure", "{first}");
    assert_eq!(first["reason"]["code"], 61, "{first}");
    let after = ws.call(json!({"id": "after", "method": "get", "uri": "/ping"})).await;
    assert_eq!(after["status"], "success", "{after}");
}
