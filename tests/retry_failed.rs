//! `POST /api/v1/campaigns/{id}/retry` (campaign-features.md, "Retry failed recipients"): a
//! LIME campaign with mixed outcomes from the simulator's test numbers is retried over REST by
//! scope and reason codes; retried recipients get `…#2` ids, keep their first failure, are
//! counted once, and the simulator's ledger shows each send once per attempt.

mod support;

use std::collections::HashMap;

use serde_json::{json, Value};
use support::rest::*;
use support::*;

/// Accepted, then FAILED 131026 (transient) — every attempt.
const UNDELIVERABLE: [&str; 3] = ["+5531998760000", "+5531998750000", "+5531998740000"];
/// Refused with 1002 (not transient) — every attempt.
const UNREACHABLE: [&str; 2] = ["+5531998760001", "+5531998750001"];
/// Read.
const READ: [&str; 2] = ["+5531998761234", "+5531998765678"];
/// On the suppression list: 1008.
const OPTED_OUT: &str = "+5531998769999";
/// 1001.
const INVALID: &str = "not a phone";

fn config_with_ledger(dir: &std::path::Path) -> irisgate::Config {
    let mut config = irisgate::Config::development();
    for c in &mut config.tenants[0].channels {
        if c.id == "channel_123" {
            c.ledger = Some(dir.join("ledger.jsonl"));
        }
    }
    config
}

/// `set /campaign/full` over `POST /commands` with `recipients`: created and dispatched.
async fn lime_campaign(gw: &Gateway, recipients: &[&str]) -> String {
    let command = json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
                         "uri": "/campaign/full", "type": FULL, "resource": batch("retry me", recipients)});
    let reply = gw.command(command).await.json();
    assert_eq!(reply["status"], "success", "{reply}");
    reply["resource"]["id"].as_str().unwrap().to_owned()
}

/// Waits until the campaign is COMPLETED with nothing pending, `failed` failures counted and
/// both READ people read (the 131026 failures and the reads come as receipts after the
/// campaign completed).
async fn settled(rest: &Rest, id: &str, failed: u64) -> Value {
    rest.stats_until(id, &format!("COMPLETED with {failed} failed"), |s| {
        s["status"] == "COMPLETED" && s["pending"] == 0 && s["failed"] == failed && s["read"] == 2
    })
    .await
}

async fn retry(rest: &Rest, id: &str, body: Value) -> Value {
    rest.expect("POST", &format!("/campaigns/{id}/retry"), Some(body), 200).await
}

/// Message rows by phone (the invalid number by its given text).
async fn rows(rest: &Rest, id: &str) -> HashMap<String, Value> {
    rest.messages(id, None).await.into_iter().map(|r| (r["phone"].as_str().unwrap().to_owned(), r)).collect()
}

fn attempts(rows: &HashMap<String, Value>, phone: &str) -> u64 {
    rows[phone]["attempts"].as_u64().unwrap_or_else(|| panic!("{phone}: {}", rows[phone]))
}

fn ledger(dir: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("ledger.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test]
async fn a_lime_campaign_is_retried_by_scope_and_reason_each_attempt_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(config_with_ledger(dir.path())).await;
    let rest = Rest::new(&gw);
    rest.created("/suppressions", json!({"phone": OPTED_OUT})).await;
    let mut audience: Vec<&str> = Vec::new();
    audience.extend(UNDELIVERABLE);
    audience.extend(UNREACHABLE);
    audience.extend(READ);
    audience.extend([OPTED_OUT, INVALID]);
    let id = lime_campaign(&gw, &audience).await;
    let first = settled(&rest, &id, 7).await;
    assert_eq!((first["total_contacts"].as_u64(), first["read"].as_u64()), (Some(9), Some(2)), "{first}");
    let before = rows(&rest, &id).await;
    let first_id = before[UNDELIVERABLE[0]]["id"].as_str().unwrap().to_owned();

    // `transient`: the three 131026 failures, not 1002, 1001 or 1008.
    let c = retry(&rest, &id, json!({"scope": "transient"})).await;
    assert_eq!(c["status"], "RUNNING", "a COMPLETED campaign runs again: {c}");
    let after = rows(&rest, &id).await;
    for phone in UNDELIVERABLE {
        assert_eq!(attempts(&after, phone), 2, "{}", after[phone]);
        assert_eq!(after[phone]["previous_reason_code"], 131026, "{}", after[phone]);
    }
    assert_eq!(after[UNDELIVERABLE[0]]["id"], format!("{first_id}#2"));
    for &phone in UNREACHABLE.iter().chain(&READ).chain(&[OPTED_OUT, INVALID]) {
        assert_eq!(attempts(&after, phone), 1, "{phone} is not retried: {}", after[phone]);
        assert_eq!(after[phone]["previous_reason_code"], Value::Null);
    }
    // Counted once: the total stays 9, the retried ones fail again (0000 always does).
    let second = settled(&rest, &id, 7).await;
    assert_eq!(second["total_contacts"], 9, "{second}");
    let after = rows(&rest, &id).await;
    assert_eq!(after[UNDELIVERABLE[1]]["error_code"], 131026, "{}", after[UNDELIVERABLE[1]]);
    assert_eq!(after[UNDELIVERABLE[1]]["status"], "FAILED");

    // `failed` narrowed to codes: 1001 and 1008 are never retried, even when named.
    retry(&rest, &id, json!({"scope": "failed", "reason_codes": [1002, 1001, 1008]})).await;
    let after = rows(&rest, &id).await;
    let retried: Vec<&str> = audience.iter().copied().filter(|p| attempts(&after, p) > 1).collect();
    assert_eq!(retried.len(), 5, "the three retried before and the two 1002: {retried:?}");
    for phone in UNREACHABLE {
        assert_eq!((attempts(&after, phone), after[phone]["previous_reason_code"].as_u64()), (2, Some(1002)));
    }
    for phone in UNDELIVERABLE {
        assert_eq!(attempts(&after, phone), 2, "131026 is not among the codes named");
    }
    settled(&rest, &id, 7).await;

    // `transient` narrowed to a code outside the list takes nobody and changes nothing.
    let c = retry(&rest, &id, json!({"scope": "transient", "reason_codes": [1002]})).await;
    assert_eq!(c["status"], "COMPLETED", "{c}");

    // `failed`: everything failed but 1001 and 1008; the first failure is kept.
    retry(&rest, &id, json!({"scope": "failed"})).await;
    let after = rows(&rest, &id).await;
    for phone in UNDELIVERABLE {
        assert_eq!((attempts(&after, phone), after[phone]["previous_reason_code"].as_u64()), (3, Some(131026)));
    }
    for phone in UNREACHABLE {
        assert_eq!(attempts(&after, phone), 3);
    }
    assert_eq!((attempts(&after, OPTED_OUT), attempts(&after, INVALID)), (1, 1));
    assert_eq!(after[OPTED_OUT]["error_code"], 1008);
    assert_eq!(after[INVALID]["error_code"], 1001);
    for phone in READ {
        assert_eq!((attempts(&after, phone), after[phone]["status"].as_str()), (1, Some("READ")));
    }
    let last = settled(&rest, &id, 7).await;
    assert_eq!((last["total_contacts"].as_u64(), last["read"].as_u64()), (Some(9), Some(2)), "{last}");

    // The ledger: every message id once; the READ people once, each 131026 person once per
    // attempt (`…`, `…#2`, `…#3`); refused, opted-out and invalid ones never accepted.
    let lines = ledger(dir.path());
    let mut ids: Vec<&str> = lines.iter().map(|l| l["message_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    let unique = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), unique, "a message id sent twice: {lines:?}");
    let mut per_person: HashMap<String, Vec<String>> = HashMap::new();
    for l in &lines {
        let digits = l["recipient"].as_str().unwrap().split('@').next().unwrap().to_owned();
        per_person.entry(format!("+{digits}")).or_default().push(l["message_id"].as_str().unwrap().to_owned());
    }
    for phone in READ {
        assert_eq!(per_person[phone].len(), 1, "{phone}: {:?}", per_person[phone]);
    }
    let mut sends = per_person[UNDELIVERABLE[0]].clone();
    sends.sort();
    assert_eq!(sends, vec![first_id.clone(), format!("{first_id}#2"), format!("{first_id}#3")]);
    for phone in UNDELIVERABLE {
        assert_eq!(per_person[phone].len(), 3, "{phone}: {:?}", per_person[phone]);
    }
    assert_eq!(per_person.len(), 5, "only the READ and 131026 people were accepted: {per_person:?}");
    gw.stop().await;
}

#[tokio::test]
async fn a_retry_is_refused_before_a_campaign_ran_and_after_a_cancel() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let body = json!({"scope": "failed"});
    rest.contact(json!({"name": "Ana", "phone": "+5531998761234"})).await;
    let draft = rest.text_campaign("draft", "Oi", 1, Value::Null).await;
    let scheduled = rest.text_campaign("scheduled", "Oi", 1, Value::Null).await;
    rest.expect(
        "POST",
        &format!("/campaigns/{scheduled}/start"),
        Some(json!({"scheduled_at": iso_in(3_600_000)})),
        200,
    )
    .await;
    let completed = lime_campaign(&gw, &["+5531998760001", "+5531998761234"]).await;
    rest.until_status(&completed, "COMPLETED").await;
    let slow = rest.text_campaign("slow", "Oi", 1, Value::Null).await;
    rest.start(&slow).await;
    rest.expect("POST", &format!("/campaigns/{slow}/cancel"), None, 200).await;
    for (id, status) in [(&draft, "DRAFT"), (&scheduled, "SCHEDULED"), (&slow, "CANCELLED")] {
        let message = rest.fails("POST", &format!("/campaigns/{id}/retry"), Some(body.clone()), 409).await;
        assert!(message.contains(status), "{message}");
    }
    assert_eq!(rest.status(&draft).await, "DRAFT");
    let unknown = rest.fails("POST", &format!("/campaigns/{}/retry", id()), Some(body.clone()), 404).await;
    assert!(unknown.contains("not found"), "{unknown}");
    let bad = rest.fails("POST", &format!("/campaigns/{completed}/retry"), Some(json!({"scope": "all"})), 400).await;
    assert!(bad.contains("scope"), "{bad}");
    let missing = rest.fails("POST", &format!("/campaigns/{completed}/retry"), Some(json!({})), 400).await;
    assert!(missing.contains("scope"), "{missing}");
    gw.stop().await;
}

#[tokio::test]
async fn a_running_campaign_keeps_running_and_a_paused_one_stays_paused() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    // One send a minute: the first recipient (refused, 1002) fails at once, the second waits.
    let id = rest
        .created(
            "/campaigns",
            json!({"name": "slow", "message_type": "TEXT", "channel_id": "channel_123",
               "content": {"type": "text", "text": {"body": "Oi"}}, "rate_limit_per_minute": 1}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    rest.contact(json!({"name": "Refused", "phone": "+5531998760001"})).await;
    rest.contact(json!({"name": "Later", "phone": "+5531998761234"})).await;
    rest.start(&id).await;
    rest.stats_until(&id, "the first failure", |s| s["failed"] == 1).await;
    let c = retry(&rest, &id, json!({"scope": "failed"})).await;
    assert_eq!(c["status"], "RUNNING", "a RUNNING campaign keeps running: {c}");
    rest.expect("POST", &format!("/campaigns/{id}/pause"), None, 200).await;
    let c = retry(&rest, &id, json!({"scope": "failed"})).await;
    assert_eq!(c["status"], "PAUSED", "{c}");
    let refused = rest.messages(&id, None).await.into_iter().find(|r| r["phone"] == "+5531998760001").unwrap();
    assert!(refused["attempts"].as_u64().unwrap() >= 2, "{refused}");
    assert_eq!(refused["previous_reason_code"], 1002, "{refused}");
    gw.stop().await;
}
