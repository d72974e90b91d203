//! The life of dispatch workers on tokio's paused clock: a stop, pause, resume or cancel
//! leaves exactly one worker (or none) per campaign, and a worker that wakes reads the
//! campaign's status again. Exactly-once is checked against the simulator's send ledger.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::pacing::*;
use support::*;

/// `n` REST contacts and a TEXT campaign to all of them at `rate` a minute.
async fn paced_campaign(config: irisgate::Config, n: usize, rate: u32) -> (Direct, String) {
    paced_campaign_to(config, (0..n).map(phone).collect(), rate).await
}

/// REST contacts with these phones, in order, and a TEXT campaign to all of them at `rate`
/// a minute.
async fn paced_campaign_to(config: irisgate::Config, phones: Vec<String>, rate: u32) -> (Direct, String) {
    let d = Direct::start_with(config).await;
    for (i, phone) in phones.iter().enumerate() {
        d.rest_ok("POST", "/api/v1/contacts", Some(json!({"name": format!("C{i}"), "phone": phone})), 201).await;
    }
    let body = json!({"name": "lifecycle", "message_type": "TEXT", "channel_id": "channel_123",
        "content": {"type": "text", "text": {"body": "Olá {{nome}}"}}, "rate_limit_per_minute": rate});
    let id = d.rest_ok("POST", "/api/v1/campaigns", Some(body), 201).await["id"].as_str().unwrap().to_owned();
    (d, id)
}

async fn act(d: &Direct, id: &str, action: &str) -> Value {
    d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/{action}"), None, 200).await
}

/// Issue 14, point 5. At one send a minute the worker sleeps ~60 s for each slot. A pause
/// during that sleep, then the lease claim (every 5 s) stopping the paused worker, then a
/// resume starting a new one: the old worker must not outlive its stop (when it woke it
/// used to remove the new worker from the running map, leaving it unreachable and letting
/// the claim start a third one), so that cancel stops everything.
#[tokio::test(start_paused = true)]
async fn pause_and_resume_during_a_long_pacer_sleep_leave_one_worker_that_cancel_stops() {
    let (config, dir) = ledger_config();
    let (d, id) = paced_campaign(config, 20, 1).await;
    act(&d, &id, "start").await;
    advance(1_000).await;
    assert_eq!(send_times(&d, &id).await.len(), 1, "the first send at once, the next one a minute later");
    act(&d, &id, "pause").await;
    advance(6_000).await;
    act(&d, &id, "resume").await;
    let resumed = d.state.engine.clock.now();
    advance(150_000).await;
    act(&d, &id, "cancel").await;
    let times = send_times(&d, &id).await;
    let in_ledger = ledger(&dir).len();
    advance(600_000).await;
    let later = send_times(&d, &id).await;
    assert_eq!(later.len(), times.len(), "sent after cancel: {later:?}");
    assert_eq!(ledger(&dir).len(), in_ledger, "the ledger grew after cancel");
    let since_resume: Vec<i64> = times.iter().copied().filter(|t| *t >= resumed).collect();
    assert!(busiest(&since_resume, 60_000) <= 1, "more than one a minute after resume: {since_resume:?}");
    assert!(d.state.engine.dispatcher.running().is_empty(), "a worker left: {:?}", d.state.engine.dispatcher.running());
}

/// Issue 14, point 5. A campaign paused where this node's dispatcher is not told (another
/// node took the pause; the claim that would stop this worker is an hour away): the worker
/// that wakes for its next slot reads the status and sends nothing more; a resume later
/// finishes it, everyone exactly once.
#[tokio::test(start_paused = true)]
async fn a_worker_woken_for_its_slot_reads_the_status_again() {
    let (mut config, dir) = ledger_config();
    config.storage.lease_ms = 3 * 3_600_000;
    let (d, id) = paced_campaign(config, 5, 2).await;
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    act(&d, &id, "start").await;
    advance(1_000).await;
    assert_eq!(send_times(&d, &id).await.len(), 1);
    d.state
        .engine
        .store
        .update_campaign(BOT, uuid, &mut |c| {
            c.status = irisgate::campaign::CampaignStatus::Paused;
            Ok(())
        })
        .await
        .unwrap();
    advance(300_000).await;
    assert_eq!(send_times(&d, &id).await.len(), 1, "sent while paused in the store");
    assert!(d.state.engine.dispatcher.running().is_empty(), "the worker that saw the pause stopped");
    act(&d, &id, "resume").await;
    advance(300_000).await;
    let stats = d.rest_ok("GET", &format!("/api/v1/campaigns/{id}/stats"), None, 200).await;
    assert_eq!(stats["status"], "COMPLETED", "{stats}");
    let mut recipients: Vec<String> =
        ledger(&dir).iter().map(|s| s["recipient"].as_str().unwrap().to_owned()).collect();
    assert_eq!(recipients.len(), 5, "each recipient once in the ledger");
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 5, "nobody twice, nobody skipped");
}

/// Issue 14, point 5. A worker stopped in the middle of a send (here retrying a transient
/// provider error) finishes that send before it returns; a start meanwhile waits for it,
/// and the old worker's return leaves the new one in the running map, where cancel reaches
/// it.
#[tokio::test(start_paused = true)]
async fn a_worker_stopped_mid_send_leaves_its_successor_reachable() {
    let (config, dir) = ledger_config();
    // Test number 0004: a transient provider error twice (retried after 200 and 400 ms).
    let phones = std::iter::once("+5531980010004".to_owned()).chain((1..10).map(phone)).collect();
    let (d, id) = paced_campaign_to(config, phones, 60).await;
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    act(&d, &id, "start").await;
    advance(100).await;
    assert!(send_times(&d, &id).await.is_empty(), "the first send is still being retried");
    let dispatcher = &d.state.engine.dispatcher;
    dispatcher.stop(uuid);
    dispatcher.start(BOT, uuid);
    advance(2_000).await;
    assert!(dispatcher.is_running(uuid), "the new worker left the running map");
    assert!(!send_times(&d, &id).await.is_empty(), "the new worker sends");
    act(&d, &id, "cancel").await;
    let sent = send_times(&d, &id).await.len();
    advance(60_000).await;
    assert_eq!(send_times(&d, &id).await.len(), sent, "sent after cancel");
    assert!(dispatcher.running().is_empty(), "a worker left: {:?}", dispatcher.running());
    let mut recipients: Vec<String> =
        ledger(&dir).iter().map(|s| s["recipient"].as_str().unwrap().to_owned()).collect();
    assert_eq!(recipients.len(), sent, "each recipient sent is once in the ledger");
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), sent, "nobody twice");
}

/// Issue 14, point 6. At shutdown a drain waits for the workers: a send in progress (here
/// retrying a transient provider error) is finished and its outcome recorded, nothing is
/// left SENDING, and the drain returns as soon as that is done.
#[tokio::test(start_paused = true)]
async fn a_drain_at_shutdown_waits_for_the_send_in_progress_to_be_recorded() {
    let phones = std::iter::once("+5531980010004".to_owned()).chain((1..5).map(phone)).collect();
    let (d, id) = paced_campaign_to(irisgate::Config::development(), phones, 60).await;
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    act(&d, &id, "start").await;
    advance(100).await;
    assert!(send_times(&d, &id).await.is_empty(), "the first send is still being retried");
    d.shutdown.cancel();
    let started = tokio::time::Instant::now();
    assert!(d.state.engine.dispatcher.drain(Duration::from_secs(5)).await, "the workers returned in time");
    assert!(started.elapsed() <= Duration::from_millis(600), "{:?}", started.elapsed());
    let page = irisgate::store::Page { skip: 0, take: u64::MAX };
    let (_, recipients) = d.state.engine.store.recipients(BOT, uuid, None, page).await.unwrap();
    let statuses: Vec<_> = recipients.iter().map(|r| r.status).collect();
    use irisgate::campaign::RecipientStatus::{Pending, Processed};
    assert_eq!(statuses, vec![Processed, Pending, Pending, Pending, Pending], "the send in progress is recorded");
}
