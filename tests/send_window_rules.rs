//! Send windows over real sockets on the default SQLite store (campaign-features.md, "Send
//! windows and time zones"): a bad zone, time or day is a 400 naming it; `scheduled_at` is read
//! in the `timezone` given beside it; a tenant's `default_send_window` is the window of
//! campaigns created without one on both faces. (The waits themselves, across midnight and
//! weekends, and a restart during one are in tests/send_windows.rs on tokio's paused clock.)

mod support;

use chrono::{DateTime, TimeZone};
use chrono_tz::America::Sao_Paulo;
use serde_json::{json, Value};
use support::*;

fn text_campaign(window: Option<Value>) -> Value {
    let mut body = json!({"name": "janela", "message_type": "TEXT", "channel_id": "channel_123",
        "content": {"type": "text", "text": {"body": "Olá {{nome}}"}}});
    if let Some(w) = window {
        body["send_window"] = w;
    }
    body
}

fn window(start: &str, end: &str, days: Value, zone: &str) -> Value {
    json!({"start": start, "end": end, "days": days, "timezone": zone})
}

#[tokio::test]
async fn a_bad_zone_time_or_day_is_a_400_naming_it() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let days = json!(["MON"]);
    let cases = [
        (window("09:00", "20:00", days.clone(), "America/Atlantis"), "America/Atlantis"),
        (window("9h", "20:00", days.clone(), "America/Sao_Paulo"), "start"),
        (window("09:00", "24:30", days.clone(), "America/Sao_Paulo"), "end"),
        (window("09:00", "20:00", json!(["MON", "FUNDAY"]), "America/Sao_Paulo"), "FUNDAY"),
    ];
    for (w, named) in cases {
        let message = rest.fails("POST", "/campaigns", Some(text_campaign(Some(w.clone()))), 400).await;
        assert!(message.contains(named), "{w}: the message names {named}: {message}");
    }
    let mut body = text_campaign(None);
    body["scheduled_at"] = json!("2030-12-24T09:00:00");
    body["timezone"] = json!("Mars/Olympus");
    let message = rest.fails("POST", "/campaigns", Some(body), 400).await;
    assert!(message.contains("Mars/Olympus"), "{message}");
    assert_eq!(rest.ok_get("/campaigns").await["data"].as_array().unwrap().len(), 0, "nothing was created");
    gw.stop().await;
}

#[tokio::test]
async fn scheduled_at_is_read_in_the_timezone_beside_it_or_by_its_offset() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let local = Sao_Paulo.with_ymd_and_hms(2030, 12, 24, 9, 0, 0).single().unwrap();
    let utc = local.with_timezone(&chrono::Utc);
    let mut body = text_campaign(None);
    body["scheduled_at"] = json!("2030-12-24T09:00:00");
    body["timezone"] = json!("America/Sao_Paulo");
    let zoned = rest.created("/campaigns", body).await;
    let mut body = text_campaign(None);
    body["scheduled_at"] = json!("2030-12-24T09:00:00-03:00");
    let offset = rest.created("/campaigns", body).await;
    for c in [&zoned, &offset] {
        let at = DateTime::parse_from_rfc3339(c["scheduled_at"].as_str().unwrap()).unwrap();
        assert_eq!(at.with_timezone(&chrono::Utc), utc, "09:00 in Sao Paulo is 12:00 UTC: {c}");
    }
    let mut body = text_campaign(None);
    body["timezone"] = json!("America/Sao_Paulo");
    let message = rest.fails("POST", "/campaigns", Some(body), 400).await;
    assert!(message.contains("scheduled_at"), "a timezone alone names what it needs: {message}");
    gw.stop().await;
}

#[tokio::test]
async fn the_tenants_default_window_applies_on_both_faces_unless_a_campaign_has_its_own() {
    let mut config = irisgate::Config::development();
    let default = irisgate::window::WindowSpec {
        start: "08:00".into(),
        end: "18:00".into(),
        days: Some(vec!["MON".into(), "TUE".into(), "WED".into(), "THU".into(), "FRI".into()]),
        timezone: "America/Sao_Paulo".into(),
    };
    config.tenants[0].default_send_window = Some(default);
    let gw = Gateway::start_with(config).await;
    let rest = Rest::new(&gw);
    let expected = window("08:00", "18:00", json!(["MON", "TUE", "WED", "THU", "FRI"]), "America/Sao_Paulo");
    let plain = rest.created("/campaigns", text_campaign(None)).await;
    assert_eq!(plain["send_window"], expected, "REST without a window: {plain}");
    let own = window("10:00", "12:00", json!(["SAT"]), "America/Manaus");
    let custom = rest.created("/campaigns", text_campaign(Some(own.clone()))).await;
    assert_eq!(custom["send_window"], own, "its own window wins: {custom}");
    let reply = gw
        .command(json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
            "uri": "/campaign/full", "type": FULL, "resource": batch("Pela LIME", &["+5511988887777"])}))
        .await;
    assert_eq!(reply.json()["status"], "success", "{:?}", reply.body);
    let lime = reply.json()["resource"]["id"].as_str().unwrap().to_owned();
    let view = rest.ok_get(&format!("/campaigns/{lime}")).await;
    assert_eq!(view["send_window"], expected, "a LIME campaign gets the default: {view}");
    gw.stop().await;
}

#[test]
fn a_bad_default_window_in_the_file_is_refused_naming_its_key() {
    let text = format!(
        "{}\n",
        include_str!("../irisgate.example.toml").replacen(
            "[[tenants]]\n",
            "[[tenants]]\ndefault_send_window = { start = \"09:00\", end = \"20:00\", timezone = \"Europe/Atlantis\" }\n",
            1
        )
    );
    let e = irisgate::Config::parse(&text).expect_err("an unknown zone");
    let (key, why) = e;
    assert!(key.ends_with("default_send_window.timezone"), "{key}: {why}");
    assert!(why.contains("Europe/Atlantis"), "{key}: {why}");
}
