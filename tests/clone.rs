//! Cloning a campaign (campaign-features.md, "Clone") over real sockets on SQLite: a DRAFT copy
//! named "<name> (cópia)" (or the name given) with the same content, channel, filters, rate and
//! send window and no schedule, that starts and sends like the original; a LIME campaign's
//! explicit audience copied as PENDING recipients, the original untouched; 404 for an unknown
//! campaign or another workspace's; a blank name is a 400.

mod support;

use serde_json::{json, Value};
use support::rest::*;
use support::*;

const SAME: &[&str] = &[
    "message_type",
    "content",
    "channel_id",
    "filters",
    "rate_limit_per_minute",
    "send_window",
    "metadata",
    "description",
];

#[tokio::test]
async fn a_rest_campaign_is_copied_as_a_draft_that_starts_and_sends() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    let tag = rest.tag("vip").await["id"].as_str().unwrap().to_owned();
    for i in 0..4 {
        let mut c = json!({"name": format!("C{i}"), "phone": format!("+55119{:08}", 40_001_000 + i)});
        if i < 3 {
            c["tags"] = json!([tag]);
        }
        rest.contact(c).await;
    }
    let body = json!({"name": "Natal", "description": "ofertas", "message_type": "TEXT", "channel_id": "channel_123",
        "content": {"type": "text", "text": {"body": "Oi {{nome}}"}}, "rate_limit_per_minute": 120,
        "filters": {"tag_ids": [tag]}, "scheduled_at": "2030-12-24T09:00:00-03:00",
        "send_window": {"start": "08:00", "end": "22:00", "timezone": "America/Sao_Paulo"}});
    let original = rest.created("/campaigns", body).await;
    let id = original["id"].as_str().unwrap();
    let copy = rest.created(&format!("/campaigns/{id}/clone"), json!({})).await;
    assert_ne!(copy["id"], original["id"]);
    assert_eq!(copy["name"], "Natal (cópia)");
    assert_eq!(copy["status"], "DRAFT");
    assert_eq!(copy["scheduled_at"], Value::Null, "a copy is never scheduled: {copy}");
    for k in SAME {
        assert_eq!(copy[k], original[k], "{k} copied");
    }
    let named = rest.created(&format!("/campaigns/{id}/clone"), json!({"name": "  Ano novo "})).await;
    assert_eq!(named["name"], "Ano novo", "the name given, trimmed");
    let message = rest.fails("POST", &format!("/campaigns/{id}/clone"), Some(json!({"name": " "})), 400).await;
    assert!(message.contains("name"), "{message}");

    // The copy sends to what its filters select now; the original stays a scheduled-later DRAFT.
    let copy_id = copy["id"].as_str().unwrap();
    let started = rest.expect("POST", &format!("/campaigns/{copy_id}/start"), None, 200).await;
    assert_eq!(started["status"], "RUNNING", "{started}");
    let stats = rest.stats_until(copy_id, "all three read", |s| s["read"] == 3).await;
    assert_eq!(stats["total_contacts"], 3, "{stats}");
    assert_eq!(rest.status(id).await, "DRAFT", "the original is not touched");
    gw.stop().await;
}

#[tokio::test]
async fn a_lime_campaigns_audience_is_copied_pending_and_the_original_keeps_its_history() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    let people = ["+5511988881001", "+5511988881002", "+5511988881003"];
    let reply = gw
        .command(json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "set",
            "uri": "/campaign/full", "type": FULL, "resource": batch("Pela LIME", &people)}))
        .await;
    assert_eq!(reply.json()["status"], "success", "{:?}", reply.body);
    let original = reply.json()["resource"]["id"].as_str().unwrap().to_owned();
    rest.stats_until(&original, "all read", |s| s["read"] == 3).await;
    let copy = rest.created(&format!("/campaigns/{original}/clone"), json!({})).await;
    let copy_id = copy["id"].as_str().unwrap().to_owned();
    assert_eq!((copy["name"].clone(), copy["status"].clone()), (json!("Pela LIME (cópia)"), json!("DRAFT")));
    let msgs = rest.messages(&copy_id, None).await;
    let mut phones: Vec<&str> = msgs.iter().map(|m| m["phone"].as_str().unwrap()).collect();
    phones.sort();
    assert_eq!(phones, people, "the same recipients");
    assert!(
        msgs.iter().all(|m| m["status"] == "PENDING" && m["sent_at"].is_null()),
        "all PENDING, never sent: {msgs:?}"
    );
    let before: Vec<Value> = rest.messages(&original, None).await;
    let old_ids: Vec<&Value> = before.iter().map(|m| &m["id"]).collect();
    assert!(msgs.iter().all(|m| !old_ids.contains(&&m["id"])), "new message ids");
    assert!(before.iter().all(|m| m["status"] == "READ"), "the original's history is kept: {before:?}");

    // Sent when started, each once.
    rest.expect("POST", &format!("/campaigns/{copy_id}/start"), None, 200).await;
    rest.stats_until(&copy_id, "the copy read", |s| s["read"] == 3).await;
    gw.stop().await;
}

#[tokio::test]
async fn an_unknown_campaign_or_another_workspaces_is_not_found() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    let mine = rest.text_campaign("Minha", "Oi", 300, Value::Null).await;
    rest.fails("POST", "/campaigns/7d1f4c1e-1b51-4a58-9f1c-000000000000/clone", Some(json!({})), 404).await;
    let other = Rest::with_key(&gw, Some(OTHER_KEY));
    other.fails("POST", &format!("/campaigns/{mine}/clone"), Some(json!({})), 404).await;
    assert_eq!(rest.ok_get("/campaigns").await["data"].as_array().unwrap().len(), 1, "nothing was copied");
    gw.stop().await;
}
