//! Rate limits, pause / resume / cancel on tokio's paused clock, through the REST face
//! in-process. Exactly-once is checked against the simulator's send ledger.

mod support;

use serde_json::json;
use support::pacing::*;
use support::*;

async fn with_contacts(config: irisgate::Config, n: usize) -> Direct {
    let d = Direct::start_with(config).await;
    for i in 0..n {
        d.rest_ok("POST", "/api/v1/contacts", Some(json!({"name": format!("C{i}"), "phone": phone(i)})), 201).await;
    }
    d
}

async fn campaign(d: &Direct, rate: u32) -> String {
    let body = json!({"name": format!("rate {rate}"), "message_type": "TEXT", "channel_id": "channel_123",
        "content": {"type": "text", "text": {"body": "Olá {{nome}}"}}, "rate_limit_per_minute": rate});
    d.rest_ok("POST", "/api/v1/campaigns", Some(body), 201).await["id"].as_str().unwrap().to_owned()
}

#[tokio::test(start_paused = true)]
async fn sixty_per_minute_sends_600_in_ten_minutes_and_never_more_than_60_in_a_minute() {
    let d = with_contacts(irisgate::Config::development(), 700).await;
    let id = campaign(&d, 60).await;
    d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/start"), None, 200).await;
    let started = d.state.engine.clock.now();
    advance(600_000).await;
    let times = send_times(&d, &id).await;
    let in_ten_minutes = times.iter().filter(|t| **t < started + 600_000).count();
    assert!((599..=601).contains(&in_ten_minutes), "{in_ten_minutes} sends in 10 minutes");
    assert!(busiest(&times, 60_000) <= 60, "a 60 s window held {} sends", busiest(&times, 60_000));
    // Evenly spread: one a second, not a burst at the top of each minute.
    assert!(busiest(&times, 1_000) <= 1, "{} sends in one second", busiest(&times, 1_000));
}

#[tokio::test(start_paused = true)]
async fn channel_ceiling_caps_five_campaigns_together() {
    let mut config = irisgate::Config::development();
    config.tenants[0].channels[0].max_per_second = Some(10);
    let d = with_contacts(config, 200).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let id = campaign(&d, 300).await;
        d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/start"), None, 200).await;
        ids.push(id);
    }
    let started = d.state.engine.clock.now();
    advance(60_000).await;
    let mut all = Vec::new();
    for id in &ids {
        let times = send_times(&d, id).await;
        assert!(busiest(&times, 60_000) <= 300, "one campaign over its own limit");
        assert!(times.len() >= 100, "every campaign progresses: {}", times.len());
        all.extend(times);
    }
    all.sort();
    let in_minute = all.iter().filter(|t| **t < started + 60_000).count();
    assert!((595..=601).contains(&in_minute), "{in_minute} sends in a minute under a 10/s ceiling");
    assert!(busiest(&all, 1_000) <= 10, "{} sends in one second", busiest(&all, 1_000));
}

#[tokio::test(start_paused = true)]
async fn pause_stops_within_one_interval_and_resume_sends_everyone_exactly_once() {
    let (config, dir) = ledger_config();
    let d = with_contacts(config, 30).await;
    let id = campaign(&d, 60).await;
    d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/start"), None, 200).await;
    advance(10_500).await;
    let before = send_times(&d, &id).await.len();
    assert_eq!(before, 11, "one a second from t=0");
    let paused = d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/pause"), None, 200).await;
    assert_eq!(paused["status"], "PAUSED");
    advance(60_000).await;
    assert!(send_times(&d, &id).await.len() <= before + 1, "at most the send already in its interval");
    let during_pause = send_times(&d, &id).await.len();
    advance(60_000).await;
    assert_eq!(send_times(&d, &id).await.len(), during_pause, "nothing is sent while paused");
    d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/resume"), None, 200).await;
    advance(60_000).await;
    let stats = d.rest_ok("GET", &format!("/api/v1/campaigns/{id}/stats"), None, 200).await;
    assert_eq!(stats["status"], "COMPLETED", "{stats}");
    assert_eq!(stats["pending"], 0);
    assert!(busiest(&send_times(&d, &id).await, 1_000) <= 1, "no burst after resume");
    let sends = ledger(&dir);
    assert_eq!(sends.len(), 30, "each recipient once in the ledger");
    let mut recipients: Vec<&str> = sends.iter().map(|s| s["recipient"].as_str().unwrap()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 30, "nobody twice, nobody skipped");
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_for_good_and_leaves_the_rest_pending() {
    let (config, dir) = ledger_config();
    let d = with_contacts(config, 30).await;
    let id = campaign(&d, 60).await;
    d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/start"), None, 200).await;
    advance(5_500).await;
    let cancelled = d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/cancel"), None, 200).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    let sent = send_times(&d, &id).await.len();
    assert!((6..=7).contains(&sent), "{sent}");
    advance(120_000).await;
    assert_eq!(send_times(&d, &id).await.len(), sent, "nothing after cancel");
    let stats = d.rest_ok("GET", &format!("/api/v1/campaigns/{id}/stats"), None, 200).await;
    assert_eq!(stats["pending"].as_u64().unwrap() as usize, 30 - sent);
    assert_eq!(ledger(&dir).len(), sent);
    let (status, body) = d.rest("POST", &format!("/api/v1/campaigns/{id}/resume"), None).await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test(start_paused = true)]
async fn lime_campaigns_go_through_the_channel_ceiling_too() {
    let mut config = irisgate::Config::development();
    config.tenants[0].channels[0].max_per_second = Some(5);
    let d = Direct::start_with(config).await;
    let numbers: Vec<String> = (0..40).map(phone).collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let id = d.ok("set", "/campaign/full", Some((FULL, batch("lime under ceiling", &refs)))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    advance(4_000).await;
    let times = send_times(&d, &id).await;
    assert!((20..=21).contains(&times.len()), "5/s for 4 s: {}", times.len());
    assert!(busiest(&times, 1_000) <= 5);
}
