//! Send windows and time zones (campaign-features.md): a RUNNING campaign sends only inside
//! its window, waits outside it (stats: `waiting_for_window`, `next_window_at`) and resumes at
//! the next opening with everyone sent once; windows across midnight and weekends in
//! America/Sao_Paulo on tokio's paused clock (in-process, memory store); 400s naming a bad
//! zone, time or day; `scheduled_at` read in a `timezone`; the tenant's
//! `default_send_window` on both faces; a restart in the middle of a window wait on SQLite.

mod support;

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDateTime, TimeZone, Weekday};
use chrono_tz::America::Sao_Paulo;
use serde_json::{json, Value};
use support::pacing::*;
use support::rest::*;
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

/// A window that opens two hours from now in Sao Paulo and lasts an hour, every day: closed
/// now; its start as `HH:MM`.
fn closed_window() -> (Value, String) {
    let local = chrono::Utc::now().with_timezone(&Sao_Paulo);
    let start = (local + chrono::Duration::hours(2)).format("%H:%M").to_string();
    let end = (local + chrono::Duration::hours(3)).format("%H:%M").to_string();
    (json!({"start": start, "end": end, "timezone": "America/Sao_Paulo"}), start)
}

fn text_body(window: Option<Value>) -> Value {
    let mut b = json!({"name": "janela", "message_type": "TEXT", "channel_id": "channel_123",
        "content": {"type": "text", "text": {"body": "Olá {{nome}}"}}});
    if let Some(w) = window {
        b["send_window"] = w;
    }
    b
}

#[tokio::test]
async fn an_invalid_zone_time_or_day_is_refused_naming_it() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let good = json!({"start": "09:00", "end": "20:00", "days": ["MON"], "timezone": "America/Sao_Paulo"});
    for (field, value, named) in [
        ("timezone", json!("America/Sao_Paolo"), "send_window.timezone \"America/Sao_Paolo\""),
        ("timezone", json!("GMT-3 Brasília"), "send_window.timezone"),
        ("start", json!("9h"), "send_window.start \"9h\""),
        ("end", json!("25:00"), "send_window.end \"25:00\""),
        ("days", json!(["MON", "SEG"]), "\"SEG\" is not a day"),
        ("days", json!([]), "send_window.days"),
    ] {
        let mut window = good.clone();
        window[field] = value;
        let message = rest.fails("POST", "/campaigns", Some(text_body(Some(window))), 400).await;
        assert!(message.contains(named), "{field}: {message}");
    }
    let id = rest.campaign(text_body(Some(good.clone()))).await;
    let mut bad = good.clone();
    bad["timezone"] = json!("Mars/Olympus");
    let message = rest.fails("PUT", &format!("/campaigns/{id}"), Some(json!({"send_window": bad})), 400).await;
    assert!(message.contains("send_window.timezone \"Mars/Olympus\""), "{message}");
    let shown = rest.ok_get(&format!("/campaigns/{id}")).await;
    assert_eq!(shown["send_window"], good, "kept after the refused update");
    let message = rest
        .fails(
            "POST",
            "/campaigns",
            Some(json!({"scheduled_at": "2030-01-01T09:00:00", "timezone": "Terra/Nowhere", "name": "x"})),
            400,
        )
        .await;
    assert!(message.contains("timezone \"Terra/Nowhere\""), "{message}");
    // `null` removes a window.
    let cleared = rest.expect("PUT", &format!("/campaigns/{id}"), Some(json!({"send_window": null})), 200).await;
    assert_eq!(cleared["send_window"], Value::Null);
    gw.stop().await;
}

#[tokio::test]
async fn scheduled_at_takes_an_offset_or_a_local_time_with_its_timezone() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let year = chrono::Utc::now().year() + 1;
    let mut body = text_body(None);
    body["scheduled_at"] = json!(format!("{year}-12-24T09:00:00"));
    body["timezone"] = json!("America/Sao_Paulo");
    let c = rest.created("/campaigns", body).await;
    assert_eq!(c["scheduled_at"], format!("{year}-12-24T12:00:00.000Z"), "09:00 in Sao Paulo is 12:00 UTC");
    let mut body = text_body(None);
    body["scheduled_at"] = json!(format!("{year}-12-24T09:00:00-03:00"));
    assert_eq!(rest.created("/campaigns", body).await["scheduled_at"], format!("{year}-12-24T12:00:00.000Z"));
    // New York in July is -04:00 (daylight saving time).
    let mut body = text_body(None);
    body["scheduled_at"] = json!(format!("{year}-07-04T09:00"));
    body["timezone"] = json!("America/New_York");
    assert_eq!(rest.created("/campaigns", body).await["scheduled_at"], format!("{year}-07-04T13:00:00.000Z"));
    let mut body = text_body(None);
    body["scheduled_at"] = json!(format!("{year}-12-24T09:00:00-03:00"));
    body["timezone"] = json!("America/Sao_Paulo");
    let message = rest.fails("POST", "/campaigns", Some(body), 400).await;
    assert!(message.contains("scheduled_at"), "an offset and a timezone: {message}");
    // On start too.
    rest.contact(json!({"name": "Ana", "phone": "+5531998761234"})).await;
    let id = rest.campaign(text_body(None)).await;
    let started = rest
        .expect(
            "POST",
            &format!("/campaigns/{id}/start"),
            Some(json!({"scheduled_at": format!("{year}-03-10T08:30:00"), "timezone": "America/Sao_Paulo"})),
            200,
        )
        .await;
    assert_eq!(
        (started["status"].clone(), started["scheduled_at"].clone()),
        (json!("SCHEDULED"), json!(format!("{year}-03-10T11:30:00.000Z")))
    );
    gw.stop().await;
}

#[tokio::test]
async fn the_tenant_default_window_applies_to_lime_and_rest_campaigns_created_without_one() {
    let (mut config, dir) = ledger_config();
    let (window, start) = closed_window();
    config.tenants[0].default_send_window = Some(serde_json::from_value(window.clone()).unwrap());
    let gw = Gateway::start_with(config).await;
    let rest = Rest::new(&gw);
    // LIME `set /campaign/full` over POST /commands: created and dispatched, but it waits.
    let command = json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
        "uri": "/campaign/full", "type": FULL, "resource": batch("lime", &["+5531998761234", "+5531998765678"])});
    let reply = gw.command(command).await.json();
    assert_eq!(reply["status"], "success", "{reply}");
    let lime = reply["resource"]["id"].as_str().unwrap().to_owned();
    let s = rest.stats_until(&lime, "waiting for the window", |s| s["waiting_for_window"] == true).await;
    assert_eq!(s["status"], "RUNNING", "{s}");
    assert!(s["next_window_at"].as_str().unwrap().contains(&format!("T{start}:00-03:00")), "{s}");
    let shown = rest.ok_get(&format!("/campaigns/{lime}")).await;
    assert_eq!(shown["send_window"]["timezone"], "America/Sao_Paulo", "{shown}");
    assert_eq!(shown["send_window"]["start"], start.as_str());
    // REST: the default when absent, none when null, its own when given.
    let defaulted = rest.created("/campaigns", text_body(None)).await;
    assert_eq!(defaulted["send_window"]["start"], start.as_str(), "{defaulted}");
    let none = rest.created("/campaigns", text_body(Some(Value::Null))).await;
    assert_eq!(none["send_window"], Value::Null);
    let own = json!({"start": "08:00", "end": "12:00", "days": ["SAT"], "timezone": "Europe/Lisbon"});
    assert_eq!(rest.created("/campaigns", text_body(Some(own.clone()))).await["send_window"], own);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(ledger(&dir).is_empty(), "nothing sent outside the window");
    gw.stop().await;
}

#[test]
fn a_bad_default_send_window_stops_start_up_naming_the_key() {
    let toml = |zone: &str| {
        format!(
            "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\n\
             default_send_window = {{start = \"09:00\", end = \"20:00\", days = [\"MON\"], timezone = \"{zone}\"}}\n"
        )
    };
    assert!(irisgate::Config::parse(&toml("America/Sao_Paulo")).is_ok());
    let (key, message) = irisgate::Config::parse(&toml("Brasil/Recife")).unwrap_err();
    assert_eq!(key, "tenants[0].default_send_window.timezone", "{message}");
    assert!(message.contains("\"Brasil/Recife\""), "{message}");
}

#[tokio::test]
async fn a_restart_during_a_window_wait_loses_nobody_and_sends_nobody_twice() {
    let (store, _db) = sqlite_store().await;
    let (config, dir) = ledger_config();
    // Friday 19:59:57 in Sao Paulo, three seconds before the window closes.
    let friday = Sao_Paulo.with_ymd_and_hms(2027, 1, 8, 19, 59, 57).unwrap();
    assert_eq!(friday.weekday(), Weekday::Fri);
    let first =
        StoreGateway::start_at(config.clone(), store.clone(), irisgate::clock::Clock::at(friday.timestamp_millis()))
            .await;
    let rest = first.rest(API_KEY);
    for i in 0..6 {
        rest.contact(json!({"name": format!("C{i}"), "phone": phone(i)})).await;
    }
    let mut body =
        text_body(Some(json!({"start": "09:00", "end": "20:00", "days": ["MON", "TUE", "WED", "THU", "FRI"],
        "timezone": "America/Sao_Paulo"})));
    body["rate_limit_per_minute"] = json!(60);
    let id = rest.campaign(body).await;
    rest.start(&id).await;
    let s = rest.stats_until(&id, "the window closing", |s| s["waiting_for_window"] == true).await;
    assert_eq!(s["next_window_at"], "2027-01-11T09:00:00-03:00", "{s}");
    let sent_friday = ledger(&dir).len();
    assert!((1..6).contains(&sent_friday), "some sent before 20:00: {sent_friday}");
    assert_eq!(
        s["sent"].as_u64().unwrap() as usize
            + s["delivered"].as_u64().unwrap() as usize
            + s["read"].as_u64().unwrap() as usize,
        sent_friday,
        "{s}"
    );
    first.stop().await;
    // Started again on Monday at 09:00: the rest, once.
    let monday = Sao_Paulo.with_ymd_and_hms(2027, 1, 11, 9, 0, 0).unwrap().timestamp_millis();
    let second = StoreGateway::start_at(config, store, irisgate::clock::Clock::at(monday)).await;
    let rest = second.rest(API_KEY);
    let s = rest.stats_until(&id, "completion after the restart", |s| s["status"] == "COMPLETED").await;
    assert_eq!((s["pending"].clone(), s["failed"].clone()), (json!(0), json!(0)), "{s}");
    everyone_once(&dir, 6);
    second.stop().await;
}
