//! One engine, two faces: campaigns created over LIME (`POST /commands`) show on the REST
//! face with mapped statuses, stats and messages; REST campaigns and REST lifecycle calls show
//! over LIME; contacts are shared.

mod support;

use serde_json::{json, Value};
use support::*;

const ANA: &str = "+5531998761234";
const BIA: &str = "+5531998765678";
const CID: &str = "+5531998764321";
const CAMPAIGN_TYPE: &str = "application/vnd.iris.activecampaign.campaign+json";
const DYNAMIC: &str = "application/vnd.iris.activecampaign.campaign-dynamic+json";

/// A LIME command over `POST /commands` as `mybot` (`Authorization: Key bXlib3Q6c2VjcmV0`);
/// returns the response envelope.
async fn lime(gw: &Gateway, method: &str, uri: &str, typed: Option<(&str, Value)>) -> Value {
    assert_eq!(key_header(BOT, SECRET), "Key bXlib3Q6c2VjcmV0");
    let mut c = json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": method, "uri": uri});
    if let Some((t, r)) = typed {
        c["type"] = json!(t);
        c["resource"] = r;
    }
    let reply = gw.command(c).await;
    assert_eq!(reply.status, 200, "{method} {uri}: {}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

/// A LIME command that must succeed; its resource.
async fn lime_ok(gw: &Gateway, method: &str, uri: &str, typed: Option<(&str, Value)>) -> Value {
    let r = lime(gw, method, uri, typed).await;
    assert_eq!(r["status"], "success", "{method} {uri}: {r}");
    r["resource"].clone()
}

async fn lime_status(gw: &Gateway, id: &str) -> String {
    lime_ok(gw, "get", &format!("/campaigns/{id}"), None).await["status"].as_str().unwrap().to_owned()
}

/// Polls `get /campaigns/{id}` over LIME until its status is `status`.
async fn until_lime_status(gw: &Gateway, id: &str, status: &str) {
    let mut last = String::new();
    let reached = poll(
        WAIT,
        || lime_status(gw, id),
        |s| {
            last = s.clone();
            s == status
        },
    )
    .await;
    assert!(reached.is_some(), "LIME status {status} not reached; last {last}");
}

/// `set /campaign/full` of a Batch on `email_commerce_resposta`; the campaign id.
async fn lime_full(gw: &Gateway, name: &str, recipients: &[&str], scheduled: Option<String>) -> String {
    let mut resource = batch(name, recipients);
    if let Some(at) = scheduled {
        resource["campaign"]["scheduled"] = json!(at);
    }
    let c = lime_ok(gw, "set", "/campaign/full", Some((FULL, resource))).await;
    c["id"].as_str().unwrap().to_owned()
}

/// `set /campaign/v2` (status `new`) plus an audience of `recipients`; the campaign id.
async fn lime_v2(gw: &Gateway, recipients: &[(&str, &str)]) -> String {
    let c = lime_ok(
        gw,
        "set",
        "/campaign/v2",
        Some((
            DYNAMIC,
            json!({"campaign": {"name": "v2 campaign", "campaignType": "Batch"},
                   "message": {"messageTemplate": "email_commerce_resposta", "messageParams": ["1"]}}),
        )),
    )
    .await;
    assert_eq!(c["status"], "new");
    let id = c["id"].as_str().unwrap().to_owned();
    if !recipients.is_empty() {
        let items: Vec<Value> =
            recipients.iter().map(|(phone, p)| json!({"recipient": phone, "messageParams": {"1": p}})).collect();
        lime_ok(
            gw,
            "set",
            &format!("/audiences/v2/{id}"),
            Some((
                "application/vnd.lime.collection+json",
                json!({"itemType": "application/vnd.iris.activecampaign.audience+json", "items": items}),
            )),
        )
        .await;
    }
    id
}

/// A gateway whose WhatsApp channel sends one message per second (LIME campaigns are not
/// paced by themselves), so that `processing` lasts long enough to be seen.
async fn slow_channel_gateway() -> Gateway {
    let mut config = irisgate::Config::development();
    let channel = config.tenants[0].channels.iter_mut().find(|c| c.id == "channel_123").unwrap();
    channel.max_per_second = Some(1);
    Gateway::start_with(config).await
}

// ---------------------------------------------------------------- LIME → REST

#[tokio::test]
async fn a_lime_campaign_shows_in_the_rest_list_and_get_with_its_stats_and_messages() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let id = lime_full(&gw, "from lime", &[ANA, BIA], None).await;
    let listed = rest.ok_get("/campaigns").await;
    assert_eq!(listed["data"][0]["id"], id, "{listed}");
    assert_eq!(listed["pagination"]["total"], 1);
    let c = rest.ok_get(&format!("/campaigns/{id}")).await;
    assert_eq!(c["name"], "from lime");
    assert_eq!(c["channel_id"], "channel_123");
    assert_eq!(c["message_type"], "TEMPLATE");
    assert_eq!(c["template_id"], "template_123");
    assert_eq!(c["total_contacts"], 2);
    assert!(["RUNNING", "COMPLETED"].contains(&c["status"].as_str().unwrap()), "{c}");

    let s = rest.stats_until(&id, "both read", |s| s["status"] == "COMPLETED" && s["read"] == 2).await;
    assert_eq!((s["total_contacts"].as_u64(), s["pending"].as_u64()), (Some(2), Some(0)));
    assert_eq!((s["success_rate"].as_f64(), s["progress"].as_f64()), (Some(100.0), Some(100.0)));
    assert_eq!(lime_status(&gw, &id).await, "executed");
    let rows = rest.messages(&id, None).await;
    assert_eq!(rows.len(), 2);
    for (phone, row) in [ANA, BIA].iter().zip(&rows) {
        assert_eq!(row["phone"], *phone);
        assert_eq!(row["status"], "READ");
        assert_eq!(row["content"], format!("Olá param of {phone}, seu pedido saiu para entrega."));
    }
    assert_eq!(rest.ok_get("/campaigns?status=COMPLETED").await["pagination"]["total"], 1);
}

#[tokio::test]
async fn lime_processing_shows_as_running_then_executed_as_completed() {
    let gw = slow_channel_gateway().await;
    let rest = Rest::new(&gw);
    let id = lime_full(&gw, "slow", &[ANA, BIA, CID], None).await;
    assert_eq!(lime_status(&gw, &id).await, "processing");
    assert_eq!(rest.status(&id).await, "RUNNING");
    assert_eq!(rest.ok_get("/campaigns?status=RUNNING").await["data"][0]["id"], id);
    rest.until_status(&id, "COMPLETED").await;
    assert_eq!(lime_status(&gw, &id).await, "executed");
}

#[tokio::test]
async fn lime_new_shows_as_draft_and_scheduling_as_scheduled() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let new = lime_v2(&gw, &[]).await;
    assert_eq!(rest.status(&new).await, "DRAFT");
    let scheduled = lime_full(&gw, "later", &[ANA], Some(iso_in(3_600_000))).await;
    assert_eq!(lime_status(&gw, &scheduled).await, "scheduling");
    let c = rest.ok_get(&format!("/campaigns/{scheduled}")).await;
    assert_eq!(c["status"], "SCHEDULED");
    assert!(c["scheduled_at"].is_string(), "{c}");
    assert_eq!(rest.ok_get("/campaigns?status=DRAFT").await["data"][0]["id"], new);
    assert_eq!(rest.ok_get("/campaigns?status=SCHEDULED").await["data"][0]["id"], scheduled);
}

#[tokio::test]
async fn lime_failed_shows_as_failed_with_its_reason_and_no_transition_applies() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let mut resource = batch("broken", &[ANA]);
    resource["message"]["messageTemplate"] = json!("nao_existe");
    let id = lime_ok(&gw, "set", "/campaign/full", Some((FULL, resource))).await["id"].as_str().unwrap().to_owned();
    until_lime_status(&gw, &id, "failed").await;
    let c = rest.ok_get(&format!("/campaigns/{id}")).await;
    assert_eq!(c["status"], "FAILED");
    assert!(c["failed_reason"].as_str().is_some_and(|r| r.contains("nao_existe")), "{c}");
    let row = &rest.messages(&id, None).await[0];
    assert_eq!((row["status"].as_str(), row["error_code"].as_u64()), (Some("FAILED"), Some(1003)), "{row}");
    for what in ["start", "pause", "resume"] {
        rest.fails("POST", &format!("/campaigns/{id}/{what}"), None, 409).await;
    }
    rest.fails("DELETE", &format!("/campaigns/{id}"), None, 409).await;
    rest.fails("PUT", &format!("/campaigns/{id}"), Some(json!({"name": "x"})), 409).await;
    assert_eq!(rest.ok_get("/campaigns?status=FAILED").await["pagination"]["total"], 1);
}

#[tokio::test]
async fn a_lime_v2_campaign_can_be_started_over_rest() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let id = lime_v2(&gw, &[(ANA, "Ana"), (BIA, "Bia")]).await;
    let started = rest.start(&id).await;
    assert_eq!(started["status"], "RUNNING");
    assert_eq!(started["total_contacts"], 2);
    rest.until_status(&id, "COMPLETED").await;
    until_lime_status(&gw, &id, "executed").await;
    let contents: Vec<Value> = rest.messages(&id, None).await.iter().map(|r| r["content"].clone()).collect();
    assert_eq!(
        contents,
        vec![json!("Olá Ana, seu pedido saiu para entrega."), json!("Olá Bia, seu pedido saiu para entrega.")]
    );
    // Its LIME audience is what was sent, not the workspace's contacts.
    let report = lime_ok(&gw, "get", &format!("/campaigns/{id}/reports"), None).await;
    assert_eq!(report["audienceCounts"]["total"], 2, "{report}");
    // Without an audience there is nothing to start.
    let empty = lime_v2(&gw, &[]).await;
    rest.fails("POST", &format!("/campaigns/{empty}/start"), None, 400).await;
    assert_eq!(lime_status(&gw, &empty).await, "new");
}

#[tokio::test]
async fn a_lime_draft_can_be_renamed_over_rest_and_still_sends_its_audience() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let id = lime_v2(&gw, &[(ANA, "Ana")]).await;
    let u = rest.expect("PUT", &format!("/campaigns/{id}"), Some(json!({"name": "renamed"})), 200).await;
    assert_eq!((u["name"].as_str(), u["message_type"].as_str()), (Some("renamed"), Some("TEMPLATE")));
    assert_eq!(lime_ok(&gw, "get", &format!("/campaigns/{id}"), None).await["name"], "renamed");
    rest.start(&id).await;
    rest.until_status(&id, "COMPLETED").await;
    assert_eq!(rest.messages(&id, None).await[0]["content"], "Olá Ana, seu pedido saiu para entrega.");
}

// ---------------------------------------------------------------- REST → LIME

#[tokio::test]
async fn a_rest_campaign_shows_over_lime_with_lime_statuses_and_reports() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.contact(json!({"name": "Ana", "phone": ANA})).await;
    rest.contact(json!({"name": "Bia", "phone": BIA})).await;
    let id = rest.text_campaign("from rest", "Oi {{nome}}", 300, Value::Null).await;
    let c = lime_ok(&gw, "get", &format!("/campaigns/{id}"), None).await;
    assert_eq!((c["name"].as_str(), c["status"].as_str()), (Some("from rest"), Some("new")), "{c}");
    let listed = lime_ok(&gw, "get", "/campaigns", None).await;
    assert_eq!(listed["items"][0]["id"], id, "{listed}");
    rest.start(&id).await;
    until_lime_status(&gw, &id, "executed").await;
    rest.stats_until(&id, "both read", |s| s["read"] == 2).await;
    let report = lime_ok(&gw, "get", &format!("/campaigns/{id}/reports"), None).await;
    assert_eq!(report["status"], "executed");
    assert_eq!(report["audienceCounts"]["total"], 2);
    assert_eq!(report["audienceCounts"]["read"], 2);
    let items = report["statusAudience"].as_array().unwrap();
    let identities: Vec<&str> = items.iter().map(|i| i["recipientIdentity"].as_str().unwrap()).collect();
    assert_eq!(identities, vec!["5531998761234@wa.gw.msging.net", "5531998765678@wa.gw.msging.net"]);
    assert!(items.iter().all(|i| i["status"] == "READ"), "{report}");
    let summary = lime_ok(&gw, "get", &format!("/campaigns/{id}/summaries"), None).await;
    assert_eq!(summary["items"][0]["status"], "executed");
}

#[tokio::test]
async fn rest_scheduled_paused_and_cancelled_show_over_lime() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.contact(json!({"name": "Ana", "phone": ANA})).await;
    rest.contact(json!({"name": "Bia", "phone": BIA})).await;
    let scheduled = rest
        .campaign(json!({"name": "s", "channel_id": "channel_123", "scheduled_at": iso_in(3_600_000),
                         "content": {"type": "text", "text": {"body": "Oi"}}}))
        .await;
    rest.start(&scheduled).await;
    assert_eq!(lime_status(&gw, &scheduled).await, "scheduling");
    let running = rest.text_campaign("r", "Oi", 1, Value::Null).await;
    rest.start(&running).await;
    assert_eq!(lime_status(&gw, &running).await, "processing");
    rest.expect("POST", &format!("/campaigns/{running}/pause"), None, 200).await;
    assert_eq!(lime_status(&gw, &running).await, "processing", "LIME has no paused status");
    rest.expect("POST", &format!("/campaigns/{running}/cancel"), None, 200).await;
    assert_eq!(lime_status(&gw, &running).await, "canceled");
    rest.expect("POST", &format!("/campaigns/{scheduled}/cancel"), None, 200).await;
    assert_eq!(lime_status(&gw, &scheduled).await, "canceled");
}

#[tokio::test]
async fn a_rest_cancel_of_a_lime_new_campaign_makes_lime_show_canceled() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let id = lime_v2(&gw, &[(ANA, "Ana")]).await;
    let c = rest.expect("POST", &format!("/campaigns/{id}/cancel"), None, 200).await;
    assert_eq!(c["status"], "CANCELLED");
    assert_eq!(lime_status(&gw, &id).await, "canceled");
    // It can no longer be dispatched over LIME either, and nothing was sent.
    let r = lime(&gw, "set", "/dispatch/v2", Some((CAMPAIGN_TYPE, json!({"id": id})))).await;
    assert_eq!(r["status"], "failure", "{r}");
    let report = lime_ok(&gw, "get", &format!("/campaigns/{id}/reports"), None).await;
    assert_eq!(report["audienceCounts"]["pending"], 1, "{report}");
}

#[tokio::test]
async fn a_rest_pause_and_resume_of_a_lime_campaign_continue_it() {
    let gw = slow_channel_gateway().await;
    let rest = Rest::new(&gw);
    let id = lime_full(&gw, "slow", &[ANA, BIA, CID], None).await;
    rest.stats_until(&id, "first send", |s| s["pending"].as_u64() < Some(3)).await;
    assert_eq!(rest.expect("POST", &format!("/campaigns/{id}/pause"), None, 200).await["status"], "PAUSED");
    assert_eq!(rest.expect("POST", &format!("/campaigns/{id}/resume"), None, 200).await["status"], "RUNNING");
    rest.until_status(&id, "COMPLETED").await;
    until_lime_status(&gw, &id, "executed").await;
    let report = lime_ok(&gw, "get", &format!("/campaigns/{id}/reports"), None).await;
    assert_eq!(
        (report["audienceCounts"]["total"].as_u64(), report["audienceCounts"]["pending"].as_u64()),
        (Some(3), Some(0))
    );
}

#[tokio::test]
async fn a_rest_delete_of_a_completed_lime_campaign_removes_it_from_lime() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let id = lime_full(&gw, "done", &[ANA], None).await;
    rest.until_status(&id, "COMPLETED").await;
    assert_eq!(rest.delete(&format!("/campaigns/{id}")).await.status, 204);
    let r = lime(&gw, "get", &format!("/campaigns/{id}"), None).await;
    assert_eq!((r["status"].as_str(), r["reason"]["code"].as_u64()), (Some("failure"), Some(67)), "{r}");
}

// ---------------------------------------------------------------- contacts

#[tokio::test]
async fn a_rest_contacts_open_conversation_makes_a_lime_send_fail_with_1602() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.contact(json!({"name": "Ana", "phone": ANA, "has_open_conversation": true})).await;
    let id = lime_full(&gw, "respect", &[ANA, BIA], None).await;
    until_lime_status(&gw, &id, "executed").await;
    let report = lime_ok(&gw, "get", &format!("/campaigns/{id}/reports"), None).await;
    let ana = report["statusAudience"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["recipientIdentity"] == "5531998761234@wa.gw.msging.net")
        .cloned()
        .unwrap();
    assert_eq!((ana["status"].as_str(), ana["reasonCode"].as_u64()), (Some("FAILED"), Some(1602)), "{report}");
    let row = rest.messages(&id, Some("FAILED")).await;
    assert_eq!((row.len(), row[0]["error_code"].as_u64()), (1, Some(1602)));
}

#[tokio::test]
async fn a_lime_send_leaves_a_contact_the_rest_face_sees() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let id = lime_full(&gw, "new contacts", &[BIA], None).await;
    until_lime_status(&gw, &id, "executed").await;
    let contacts = rest.ok_get("/contacts").await;
    assert_eq!(contacts["pagination"]["total"], 1, "{contacts}");
    assert_eq!(contacts["data"][0]["phone"], BIA);
    assert_eq!(rest.preview_total(json!({})).await, 1);
}

#[tokio::test]
async fn a_rest_contact_is_visible_over_the_lime_crm_node() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.custom_field("city", "TEXT").await;
    rest.contact(json!({"name": "Ana", "email": "ana@example.com", "phone": ANA, "custom_fields": {"city": "BH"}}))
        .await;
    let reply = gw
        .command(json!({"id": id(), "to": "postmaster@crm.msging.net", "method": "get",
                        "uri": "/contacts/5531998761234@wa.gw.msging.net"}))
        .await;
    let r = reply.json();
    assert_eq!(r["status"], "success", "{r}");
    let c = &r["resource"];
    assert_eq!((c["name"].as_str(), c["email"].as_str()), (Some("Ana"), Some("ana@example.com")), "{r}");
    assert_eq!(c["extras"]["city"], "BH", "{r}");
}
