//! Schedules, receipt latencies, retries and the simulator's test numbers, on tokio's paused
//! clock (commands go through the routing table directly; no sockets, so time only moves
//! when the test or the gateway waits).

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

async fn report(d: &Direct, id: &str) -> Value {
    d.ok("get", &format!("/campaigns/{id}/reports"), None).await
}

fn status_of<'a>(report: &'a Value, identity: &str) -> &'a Value {
    report["statusAudience"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["recipientIdentity"] == identity)
        .unwrap_or_else(|| panic!("{identity} not in {report}"))
}

/// Lets the gateway's workers run until they wait on a timer.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

async fn advance(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    settle().await;
}

#[tokio::test(start_paused = true)]
async fn scheduled_campaign_starts_within_a_second_of_its_time() {
    let d = Direct::start().await;
    let at = chrono::Utc::now() + chrono::Duration::hours(2);
    let mut resource = batch("scheduled", &["+5531998761234"]);
    resource["campaign"]["scheduled"] = json!(at.to_rfc3339());
    let created = d.ok("set", "/campaign/full", Some((FULL, resource))).await;
    assert_eq!(created["status"], "scheduling");
    let id = created["id"].as_str().unwrap();
    advance(2 * 3600 * 1000 - 1500).await;
    assert_eq!(report(&d, id).await["status"], "scheduling", "not before its time");
    advance(2000).await;
    let r = report(&d, id).await;
    assert_eq!(r["status"], "executed", "{r}");
    let sent = chrono::DateTime::parse_from_rfc3339(r["sendDate"].as_str().unwrap()).unwrap();
    let late = (sent.timestamp_millis() - at.timestamp_millis()).abs();
    assert!(late < 1000, "started {late} ms away from its time");
}

#[tokio::test(start_paused = true)]
async fn deleted_scheduled_campaign_never_sends() {
    let d = Direct::start().await;
    let mut resource = batch("to delete", &["+5531998761234"]);
    resource["campaign"]["scheduled"] = json!((chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339());
    let id = d.ok("set", "/campaign/full", Some((FULL, resource))).await["id"].as_str().unwrap().to_owned();
    d.ok("delete", &format!("/campaigns/{id}"), None).await;
    advance(10 * 60 * 1000).await;
    let r = d
        .call(json!({"to": "postmaster@activecampaign.msging.net", "method": "get", "uri": format!("/campaigns/{id}")}))
        .await;
    assert_eq!(r["reason"]["code"], 67, "{r}");
    let contact = d.call(json!({"to": "postmaster@crm.msging.net", "method": "get", "uri": "/contacts/5531998761234@wa.gw.msging.net"})).await;
    assert_eq!(contact["reason"]["code"], 67, "nothing was sent, so no contact: {contact}");
}

#[tokio::test(start_paused = true)]
async fn receipts_follow_the_configured_latencies() {
    let d = Direct::start().await; // channel_123: delivered after 50 ms, read after 200 ms
    let id = d.ok("set", "/campaign/full", Some((FULL, batch("latency", &["+5531998761234"])))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let who = "5531998761234@wa.gw.msging.net";
    settle().await;
    assert_eq!(status_of(&report(&d, &id).await, who)["status"], "PROCESSED");
    advance(49).await;
    assert_eq!(status_of(&report(&d, &id).await, who)["status"], "PROCESSED");
    advance(2).await;
    assert_eq!(status_of(&report(&d, &id).await, who)["status"], "RECEIVED");
    advance(140).await;
    assert_eq!(status_of(&report(&d, &id).await, who)["status"], "RECEIVED");
    advance(20).await;
    let r = report(&d, &id).await;
    let s = status_of(&r, who);
    assert_eq!(s["status"], "READ");
    let t = |k: &str| chrono::DateTime::parse_from_rfc3339(s[k].as_str().unwrap()).unwrap().timestamp_millis();
    assert_eq!(t("received") - t("processed"), 50, "{s}");
    assert_eq!(t("read") - t("processed"), 200, "{s}");
}

#[tokio::test(start_paused = true)]
async fn every_simulator_test_number_ends_in_its_documented_state() {
    let d = Direct::start().await;
    let numbers =
        ["+5531999990000", "+5531999990001", "+5531999990002", "+5531999990003", "+5531999990004", "+5531999995555"];
    let id = d.ok("set", "/campaign/full", Some((FULL, batch("test numbers", &numbers)))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Long enough for retries (200 + 400 ms) and every receipt.
    advance(60_000).await;
    let r = report(&d, &id).await;
    let s = |n: &str| status_of(&r, &format!("{}@wa.gw.msging.net", &n[1..])).clone();
    let undeliverable = s("+5531999990000");
    assert_eq!(
        (undeliverable["status"].clone(), undeliverable["reasonCode"].clone()),
        (json!("FAILED"), json!(131026))
    );
    assert_eq!(undeliverable["reasonDescription"], "Message undeliverable");
    let unreachable = s("+5531999990001");
    assert_eq!((unreachable["status"].clone(), unreachable["reasonCode"].clone()), (json!("FAILED"), json!(1002)));
    assert!(unreachable.get("processed").is_none(), "never handed over: {unreachable}");
    assert_eq!(s("+5531999990002")["status"], "PROCESSED");
    assert_eq!(s("+5531999990003")["status"], "RECEIVED");
    assert_eq!(s("+5531999990004")["status"], "READ", "retried after two transient errors");
    assert_eq!(s("+5531999995555")["status"], "READ");
    assert_eq!(
        r["audienceCounts"],
        json!({"total": 6, "pending": 0, "processed": 1, "received": 1, "read": 2, "failed": 2, "replied": 0})
    );
    assert_eq!(r["status"], "executed");
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_with_backoff_before_the_send_counts() {
    let d = Direct::start().await;
    let id = d.ok("set", "/campaign/full", Some((FULL, batch("retry", &["+5531999990004"])))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let who = "5531999990004@wa.gw.msging.net";
    settle().await;
    assert_eq!(status_of(&report(&d, &id).await, who)["status"], "PENDING", "first attempt failed");
    // Waits of 200 then 400 ms, each jittered between half and all of it: the third attempt
    // comes between 300 and 600 ms after the first.
    advance(299).await;
    assert_eq!(status_of(&report(&d, &id).await, who)["status"], "PENDING", "no third attempt before 300 ms");
    advance(302).await;
    let status = status_of(&report(&d, &id).await, who)["status"].clone();
    assert!(
        ["PROCESSED", "RECEIVED", "READ"].contains(&status.as_str().unwrap_or("")),
        "the third attempt went through by 600 ms: {status}"
    );
}

#[tokio::test(start_paused = true)]
async fn template_that_is_not_approved_fails_every_recipient_with_1003_and_the_campaign() {
    let d = Direct::start().await;
    let mut resource = batch("pending template", &["+5531998761234", "+5531998765678"]);
    resource["message"]["messageTemplate"] = json!("aguardando_aprovacao");
    let id = d.ok("set", "/campaign/full", Some((FULL, resource))).await["id"].as_str().unwrap().to_owned();
    advance(1000).await;
    let r = report(&d, &id).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["audienceCounts"]["failed"], 2);
    assert!(r["statusAudience"].as_array().unwrap().iter().all(|s| s["reasonCode"] == 1003));
    let c = d.ok("get", &format!("/campaigns/{id}"), None).await;
    assert!(c["failedReason"].as_str().unwrap().contains("aguardando_aprovacao"), "{c}");
}

#[tokio::test(start_paused = true)]
async fn unknown_template_fails_at_send_with_1003() {
    let d = Direct::start().await;
    let mut resource = batch("unknown template", &["+5531998761234"]);
    resource["message"]["messageTemplate"] = json!("nao_existe");
    let id = d.ok("set", "/campaign/full", Some((FULL, resource))).await["id"].as_str().unwrap().to_owned();
    advance(1000).await;
    let r = report(&d, &id).await;
    assert_eq!(r["status"], "failed");
    assert_eq!(r["statusAudience"][0]["reasonCode"], 1003);
}

#[tokio::test(start_paused = true)]
async fn recipient_missing_a_placeholder_of_the_content_fails_with_1004_and_others_are_sent() {
    let d = Direct::start().await;
    let created = d
        .ok(
            "set",
            "/campaign/v2",
            Some((
                "application/vnd.iris.activecampaign.campaign-dynamic+json",
                json!({"campaign": {"name": "rcs", "campaignType": "Batch", "channelType": "GoogleRcs"},
                       "message": {"messageContent": "Olá {{nome}}!", "channelType": "GoogleRcs"}}),
            )),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    d.ok(
        "set",
        &format!("/audiences/v2/{id}"),
        Some((
            "application/vnd.lime.collection+json",
            json!({"itemType": "application/vnd.iris.activecampaign.audience+json", "items": [
                {"recipient": "+5531998761234", "messageParams": {"nome": "Ana"}},
                {"recipient": "+5531998765678", "messageParams": {"outro": "x"}}]}),
        )),
    )
    .await;
    d.ok("set", "/dispatch/v2", Some(("application/vnd.iris.activecampaign.campaign+json", json!({"id": id})))).await;
    advance(1000).await;
    let r = report(&d, &id).await;
    let with = status_of(&r, "5531998761234@googlercs.gw.msging.net");
    assert_eq!(with["status"], "READ", "{r}");
    let without = status_of(&r, "5531998765678@googlercs.gw.msging.net");
    assert_eq!((without["status"].clone(), without["reasonCode"].clone()), (json!("FAILED"), json!(1004)));
    assert_eq!(without["reasonDescription"], "Missing message parameter");
    assert_eq!(r["status"], "executed");
}
