//! Send windows and time zones (campaign-features.md): a RUNNING campaign sends only inside
//! its window, waits outside it (stats: `waiting_for_window`, `next_window_at`) and resumes at
//! the next opening with everyone sent once; windows across midnight and weekends in
//! America/Sao_Paulo on tokio's paused clock (in-process, memory store); pause and cancel
//! during a window wait. The 400s, `scheduled_at` with a `timezone`, the tenant's
//! `default_send_window` and a restart during a wait are in tests/send_window_rules.rs (SQLite).

mod support;

use chrono::{DateTime, Datelike, NaiveDateTime, TimeZone, Weekday};
use chrono_tz::America::Sao_Paulo;
use serde_json::{json, Value};
use support::pacing::*;
use support::*;

/// The next instant (ms), at least a minute after `now`, at which Sao Paulo's clocks read
/// `time` on a `day`.
fn next_local(now: i64, day: Weekday, time: &str) -> i64 {
    let mut date = DateTime::from_timestamp_millis(now + 60_000).unwrap().with_timezone(&Sao_Paulo).date_naive();
    loop {
        if date.weekday() == day {
            let local = NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S").unwrap();
            let at = Sao_Paulo.from_local_datetime(&local).single().unwrap().timestamp_millis();
            if at > now + 60_000 {
                return at;
            }
        }
        date = date.succ_opt().unwrap();
    }
}

/// `at` as Sao Paulo writes it (`2026-12-07T09:00:00-03:00`).
fn sao_paulo(at: i64) -> String {
    DateTime::from_timestamp_millis(at).unwrap().with_timezone(&Sao_Paulo).to_rfc3339()
}

async fn with_contacts(config: irisgate::Config, n: usize) -> Direct {
    let d = Direct::start_with(config).await;
    for i in 0..n {
        d.rest_ok("POST", "/api/v1/contacts", Some(json!({"name": format!("C{i}"), "phone": phone(i)})), 201).await;
    }
    d
}

/// A TEXT campaign for every contact at `rate` a minute, sending in `window`.
async fn windowed(d: &Direct, rate: u32, window: Value) -> String {
    let body = json!({"name": "janela", "message_type": "TEXT", "channel_id": "channel_123",
        "content": {"type": "text", "text": {"body": "Olá {{nome}}"}}, "rate_limit_per_minute": rate,
        "send_window": window});
    d.rest_ok("POST", "/api/v1/campaigns", Some(body), 201).await["id"].as_str().unwrap().to_owned()
}

/// Advances the paused clock to `at` (ms on the engine's clock).
async fn advance_to(d: &Direct, at: i64) {
    let now = d.state.engine.clock.now();
    assert!(at >= now, "{at} is behind the clock");
    advance((at - now) as u64).await;
}

async fn stats(d: &Direct, id: &str) -> Value {
    d.rest_ok("GET", &format!("/api/v1/campaigns/{id}/stats"), None, 200).await
}

/// Every contact of `n` in the ledger exactly once.
fn everyone_once(dir: &tempfile::TempDir, n: usize) {
    let sends = ledger(dir);
    let mut recipients: Vec<String> = sends.iter().map(|s| s["recipient"].as_str().unwrap().to_owned()).collect();
    assert_eq!(recipients.len(), n, "{n} sends in the ledger");
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), n, "nobody twice, nobody skipped");
}

#[tokio::test(start_paused = true)]
async fn friday_evening_sends_until_20h_waits_the_weekend_and_finishes_on_monday_morning() {
    let (config, dir) = ledger_config();
    let d = with_contacts(config, 40).await;
    let window = json!({"start": "09:00", "end": "20:00", "days": ["MON", "TUE", "WED", "THU", "FRI"],
        "timezone": "America/Sao_Paulo"});
    let id = windowed(&d, 60, window).await;
    let friday = next_local(d.state.engine.clock.now(), Weekday::Fri, "19:59:30");
    let closes = friday + 30_000;
    let monday = friday + 30_000 + (2 * 24 + 13) * 3_600_000;
    advance_to(&d, friday).await;
    d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/start"), None, 200).await;
    let s = stats(&d, &id).await;
    assert_eq!((s["status"].clone(), s["waiting_for_window"].clone()), (json!("RUNNING"), json!(false)), "{s}");
    assert_eq!(s["next_window_at"], Value::Null, "open now: {s}");
    advance_to(&d, closes + 10_000).await;
    let before = send_times(&d, &id).await;
    assert_eq!(before.len(), 30, "one a second from 19:59:30 to 19:59:59");
    assert!(before.iter().all(|t| *t < closes), "nothing at or after 20:00");
    let s = stats(&d, &id).await;
    assert_eq!(s["status"], "RUNNING", "{s}");
    assert_eq!(s["waiting_for_window"], true, "{s}");
    assert_eq!(s["next_window_at"], sao_paulo(monday), "Monday 09:00 -03:00: {s}");
    assert!(s["next_window_at"].as_str().unwrap().ends_with("T09:00:00-03:00"), "{s}");
    // Saturday noon, Sunday, Monday a minute before nine: still nothing.
    advance_to(&d, closes + 16 * 3_600_000).await;
    assert_eq!(send_times(&d, &id).await.len(), 30, "nothing on Saturday");
    let view = d.rest_ok("GET", &format!("/api/v1/campaigns/{id}"), None, 200).await;
    assert_eq!(
        (view["waiting_for_window"].clone(), view["next_window_at"].clone()),
        (json!(true), json!(sao_paulo(monday)))
    );
    advance_to(&d, monday - 60_000).await;
    assert_eq!(send_times(&d, &id).await.len(), 30, "nothing before Monday 09:00");
    advance_to(&d, monday + 15_000).await;
    let times = send_times(&d, &id).await;
    assert_eq!(times.len(), 40, "the rest on Monday");
    assert!(times[30..].iter().all(|t| *t >= monday), "the rest from 09:00 on");
    assert!(busiest(&times[30..], 1_000) <= 1, "no burst at the opening");
    let s = stats(&d, &id).await;
    assert_eq!((s["status"].clone(), s["waiting_for_window"].clone()), (json!("COMPLETED"), json!(false)), "{s}");
    everyone_once(&dir, 40);
}

#[tokio::test(start_paused = true)]
async fn a_window_across_midnight_belongs_to_the_day_it_opened() {
    let (config, dir) = ledger_config();
    let d = with_contacts(config, 40).await;
    // Monday 22:00 to Tuesday 06:00 only.
    let window = json!({"start": "22:00", "end": "06:00", "days": ["MON"], "timezone": "America/Sao_Paulo"});
    let id = windowed(&d, 60, window).await;
    let tuesday = next_local(d.state.engine.clock.now(), Weekday::Tue, "05:59:30");
    advance_to(&d, tuesday).await;
    d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/start"), None, 200).await;
    advance_to(&d, tuesday + 40_000).await;
    assert_eq!(send_times(&d, &id).await.len(), 30, "Monday's window until Tuesday 06:00");
    let next_monday = tuesday + 30_000 + (6 * 24 + 16) * 3_600_000;
    let s = stats(&d, &id).await;
    assert_eq!(s["waiting_for_window"], true, "{s}");
    assert_eq!(s["next_window_at"], sao_paulo(next_monday), "next Monday 22:00: {s}");
    // Tuesday night opens nothing; Monday 21:59 neither.
    advance_to(&d, tuesday + 30_000 + 16 * 3_600_000 + 60_000).await;
    assert_eq!(send_times(&d, &id).await.len(), 30, "Tuesday 22:00 is no opening");
    advance_to(&d, next_monday - 60_000).await;
    assert_eq!(send_times(&d, &id).await.len(), 30);
    advance_to(&d, next_monday + 15_000).await;
    let times = send_times(&d, &id).await;
    assert_eq!(times.len(), 40);
    assert!(times[30..].iter().all(|t| *t >= next_monday));
    assert_eq!(stats(&d, &id).await["status"], "COMPLETED");
    everyone_once(&dir, 40);
}

#[tokio::test(start_paused = true)]
async fn pause_and_cancel_end_a_window_wait() {
    let (config, dir) = ledger_config();
    let d = with_contacts(config, 5).await;
    let window = json!({"start": "09:00", "end": "20:00", "days": ["MON", "TUE", "WED", "THU", "FRI"],
        "timezone": "America/Sao_Paulo"});
    let id = windowed(&d, 300, window).await;
    let saturday = next_local(d.state.engine.clock.now(), Weekday::Sat, "10:00:00");
    advance_to(&d, saturday).await;
    d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/start"), None, 200).await;
    advance(5_000).await;
    assert_eq!(stats(&d, &id).await["waiting_for_window"], true);
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    assert!(d.state.engine.dispatcher.is_running(uuid), "a worker waits for the window");
    d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/pause"), None, 200).await;
    let s = stats(&d, &id).await;
    assert_eq!((s["status"].clone(), s["waiting_for_window"].clone()), (json!("PAUSED"), json!(false)), "{s}");
    d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/resume"), None, 200).await;
    advance(5_000).await;
    assert_eq!(stats(&d, &id).await["waiting_for_window"], true, "waiting again after resume");
    d.rest_ok("POST", &format!("/api/v1/campaigns/{id}/cancel"), None, 200).await;
    advance(1_000).await;
    assert!(!d.state.engine.dispatcher.is_running(uuid), "the wait ended with the cancel");
    advance(3 * 24 * 3_600_000).await;
    assert!(ledger(&dir).is_empty(), "a cancelled campaign never sends, not even when the window opens");
    let s = stats(&d, &id).await;
    assert_eq!(
        (s["status"].clone(), s["pending"].clone(), s["next_window_at"].clone()),
        (json!("CANCELLED"), json!(5), Value::Null)
    );
}
