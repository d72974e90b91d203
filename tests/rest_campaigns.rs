//! REST face: `/api/v1/campaigns` — list, create (every validation rule), get, update, delete,
//! every status transition, scheduling, stats, messages (rendered content), preview and the
//! 1602 rule, over real sockets.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use support::*;

const ANA: &str = "+5531998761234";
const BIA: &str = "+5531998765678";
const CID: &str = "+5531998764321";

/// Ana, Bia and Cid: three plain contacts with phones.
async fn three_contacts(rest: &Rest) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, phone) in [("Ana", ANA), ("Bia", BIA), ("Cid", CID)] {
        ids.push(rest.contact(json!({"name": name, "phone": phone})).await);
    }
    ids
}

fn text(name: &str, body: &str) -> Value {
    json!({"name": name, "message_type": "TEXT", "channel_id": "channel_123",
           "content": {"type": "text", "text": {"body": body}}})
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn template(template_id: &str, mapping: Value) -> Value {
    json!({"name": format!("tpl {template_id}"), "message_type": "TEMPLATE", "channel_id": "channel_123",
           "template_id": template_id, "metadata": {"template_variable_mapping": mapping}})
}

fn time(v: &Value) -> DateTime<Utc> {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}")).with_timezone(&Utc)
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect()
}

async fn action(rest: &Rest, id: &str, what: &str) -> HttpReply {
    rest.call("POST", &format!("/campaigns/{id}/{what}"), None).await
}

/// A campaign of the three contacts in `status` (DRAFT campaigns send one per minute).
async fn in_status(rest: &Rest, status: &str) -> String {
    let slow = |name: &str| with(text(name, "Oi {{nome}}"), json!({"rate_limit_per_minute": 1}));
    match status {
        "DRAFT" => rest.campaign(slow("draft")).await,
        "SCHEDULED" => {
            let id = rest.campaign(with(slow("scheduled"), json!({"scheduled_at": iso_in(3_600_000)}))).await;
            assert_eq!(rest.start(&id).await["status"], "SCHEDULED");
            id
        }
        "RUNNING" | "PAUSED" => {
            let id = rest.campaign(slow("running")).await;
            assert_eq!(rest.start(&id).await["status"], "RUNNING");
            if status == "PAUSED" {
                assert_eq!(rest.expect("POST", &format!("/campaigns/{id}/pause"), None, 200).await["status"], "PAUSED");
            }
            id
        }
        "COMPLETED" => {
            let one = json!({"field_filters": [{"field": "name", "operator": "equals", "value": "Ana"}]});
            let id = rest.campaign(with(text("completed", "Oi"), json!({"filters": one}))).await;
            rest.start(&id).await;
            rest.until_status(&id, "COMPLETED").await;
            id
        }
        "CANCELLED" => {
            let id = rest.campaign(slow("cancelled")).await;
            assert_eq!(rest.expect("POST", &format!("/campaigns/{id}/cancel"), None, 200).await["status"], "CANCELLED");
            id
        }
        other => panic!("no recipe for {other}"),
    }
}

const STATUSES: [&str; 6] = ["DRAFT", "SCHEDULED", "RUNNING", "PAUSED", "COMPLETED", "CANCELLED"];

/// Applies `what` to a campaign in each status: `allowed` maps a status to the status
/// expected afterwards; every other status must answer 409 and stay as it was.
async fn transition_matrix(what: &str, allowed: &[(&str, &str)]) {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    for from in STATUSES {
        let id = in_status(&rest, from).await;
        let reply = action(&rest, &id, what).await;
        match allowed.iter().find(|(s, _)| *s == from) {
            Some((_, to)) => {
                assert_eq!(reply.status, 200, "{what} from {from}: {}", String::from_utf8_lossy(&reply.body));
                assert_eq!(reply.json()["status"], *to, "{what} from {from}");
                assert_eq!(rest.status(&id).await, *to, "{what} from {from}");
            }
            None => {
                let m = error_message(&reply, 409, &format!("{what} from {from}"));
                assert!(m.contains(from), "{what} from {from}: the message should say the status: {m}");
                assert_eq!(rest.status(&id).await, from, "a refused {what} changed the status");
            }
        }
    }
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_is_newest_first_and_paginated_with_the_pagination_object() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(rest.campaign(text(&format!("c{i}"), "Oi")).await);
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    let all = rest.ok_get("/campaigns").await;
    assert_eq!(ids(&all), newest_first);
    assert_eq!(all["pagination"], json!({"page": 1, "limit": 20, "total": 5, "total_pages": 1}));
    let p1 = rest.ok_get("/campaigns?limit=2").await;
    assert_eq!(ids(&p1), newest_first[0..2]);
    assert_eq!(p1["pagination"], json!({"page": 1, "limit": 2, "total": 5, "total_pages": 3}));
    let p3 = rest.ok_get("/campaigns?limit=2&page=3").await;
    assert_eq!(ids(&p3), newest_first[4..5]);
    assert_eq!(p3["pagination"], json!({"page": 3, "limit": 2, "total": 5, "total_pages": 3}));
    let beyond = rest.ok_get("/campaigns?limit=2&page=4").await;
    assert_eq!(ids(&beyond), Vec::<String>::new());
    assert_eq!(beyond["pagination"]["total"], 5);
}

#[tokio::test]
async fn list_limit_is_at_most_100() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    assert_eq!(rest.ok_get("/campaigns?limit=100").await["pagination"]["limit"], 100);
    let m = rest.fails("GET", "/campaigns?limit=101", None, 400).await;
    assert!(m.contains("limit"), "{m}");
    for bad in ["limit=0", "limit=abc", "page=0", "page=-1"] {
        rest.fails("GET", &format!("/campaigns?{bad}"), None, 400).await;
    }
}

#[tokio::test]
async fn list_filters_by_status_and_channel_id() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    let draft = in_status(&rest, "DRAFT").await;
    let completed = in_status(&rest, "COMPLETED").await;
    let cancelled = in_status(&rest, "CANCELLED").await;
    let running = in_status(&rest, "RUNNING").await;
    let paused = in_status(&rest, "PAUSED").await;
    assert_eq!(ids(&rest.ok_get("/campaigns?status=RUNNING").await), vec![running]);
    assert_eq!(ids(&rest.ok_get("/campaigns?status=PAUSED").await), vec![paused]);
    let rcs = rest.campaign(with(text("rcs", "Oi"), json!({"channel_id": "rcs_123"}))).await;
    assert_eq!(ids(&rest.ok_get("/campaigns?status=DRAFT").await), vec![rcs.clone(), draft.clone()]);
    assert_eq!(ids(&rest.ok_get("/campaigns?status=COMPLETED").await), vec![completed.clone()]);
    assert_eq!(ids(&rest.ok_get("/campaigns?status=CANCELLED").await), vec![cancelled]);
    assert_eq!(ids(&rest.ok_get("/campaigns?channel_id=rcs_123").await), vec![rcs.clone()]);
    assert_eq!(rest.ok_get("/campaigns?channel_id=channel_123").await["pagination"]["total"], 5);
    assert_eq!(ids(&rest.ok_get("/campaigns?status=DRAFT&channel_id=channel_123").await), vec![draft]);
    assert_eq!(rest.ok_get("/campaigns?channel_id=nope").await["pagination"]["total"], 0);
    let m = rest.fails("GET", "/campaigns?status=FINISHED", None, 400).await;
    assert!(m.contains("status"), "{m}");
}

// ---------------------------------------------------------------- create

#[tokio::test]
async fn create_text_campaign_is_a_201_draft_with_defaults() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let body = with(
        text("Black Friday 2024", "Olá {{nome}}! Aproveite!"),
        json!({"description": "Promoção", "filters": {"has_open_conversation": false}}),
    );
    let c = rest.created("/campaigns", body).await;
    assert_eq!(c["name"], "Black Friday 2024");
    assert_eq!(c["description"], "Promoção");
    assert_eq!(c["message_type"], "TEXT");
    assert_eq!(c["content"], json!({"type": "text", "text": {"body": "Olá {{nome}}! Aproveite!"}}));
    assert_eq!(c["channel_id"], "channel_123");
    assert_eq!(c["filters"], json!({"has_open_conversation": false}));
    assert_eq!(c["rate_limit_per_minute"], 300, "default rate");
    assert_eq!(c["status"], "DRAFT");
    assert_eq!(c["scheduled_at"], Value::Null);
    assert_eq!(c["total_contacts"], 0);
    assert!(c["template_id"].is_null());
    time(&c["created_at"]);
    let id = c["id"].as_str().unwrap();
    assert_eq!(rest.ok_get(&format!("/campaigns/{id}")).await, c, "get shows what create answered");
}

#[tokio::test]
async fn create_template_campaign_with_a_complete_mapping() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.custom_field("valor_pagamento", "TEXT").await;
    rest.custom_field("data_vencimento", "DATE").await;
    let mapping = json!({"{{1}}": "nome", "{{2}}": "valor_pagamento", "{{3}}": "data_vencimento"});
    let c = rest
        .created(
            "/campaigns",
            with(template("template_payment", mapping.clone()), json!({"rate_limit_per_minute": 60})),
        )
        .await;
    assert_eq!(c["message_type"], "TEMPLATE");
    assert_eq!(c["template_id"], "template_payment");
    assert_eq!(c["metadata"]["template_variable_mapping"], mapping);
    assert_eq!(c["rate_limit_per_minute"], 60);
    assert_eq!(c["status"], "DRAFT");
    // Standard fields in either language, and a template without variables needs no mapping.
    rest.created("/campaigns", template("template_welcome", json!({"{{1}}": "telefone"}))).await;
    rest.created("/campaigns", template("template_welcome", json!({"{{1}}": "phone"}))).await;
    rest.created("/campaigns", template("template_welcome", json!({"{{1}}": "email"}))).await;
    let mut none = template("template_no_vars", json!({}));
    none.as_object_mut().unwrap().remove("metadata");
    rest.created("/campaigns", none).await;
}

#[tokio::test]
async fn create_requires_a_name() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    for name in [Value::Null, json!(""), json!("   ")] {
        let mut body = text("x", "Oi");
        if name.is_null() {
            body.as_object_mut().unwrap().remove("name");
        } else {
            body["name"] = name;
        }
        let m = rest.fails("POST", "/campaigns", Some(body), 400).await;
        assert!(m.contains("name"), "{m}");
    }
    assert_eq!(rest.ok_get("/campaigns").await["pagination"]["total"], 0);
}

#[tokio::test]
async fn create_requires_an_existing_channel() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let mut missing = text("x", "Oi");
    missing.as_object_mut().unwrap().remove("channel_id");
    let m = rest.fails("POST", "/campaigns", Some(missing), 400).await;
    assert!(m.contains("channel_id"), "{m}");
    let m =
        rest.fails("POST", "/campaigns", Some(with(text("x", "Oi"), json!({"channel_id": "channel_999"}))), 400).await;
    assert!(m.contains("channel_id") && m.contains("channel_999"), "{m}");
    rest.created("/campaigns", with(text("x", "Oi"), json!({"channel_id": "rcs_123"}))).await;
}

#[tokio::test]
async fn template_must_exist_be_approved_and_belong_to_the_channel() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let m = rest.fails("POST", "/campaigns", Some(template("template_ghost", json!({"{{1}}": "nome"}))), 400).await;
    assert!(m.contains("template_id") && m.contains("template_ghost"), "{m}");
    let m = rest.fails("POST", "/campaigns", Some(template("template_pending", json!({"{{1}}": "nome"}))), 400).await;
    assert!(m.contains("template_id") && m.contains("APPROVED"), "{m}");
    let other_channel = with(template("template_123", json!({"{{1}}": "nome"})), json!({"channel_id": "rcs_123"}));
    let m = rest.fails("POST", "/campaigns", Some(other_channel), 400).await;
    assert!(m.contains("template_id") && m.contains("channel"), "{m}");
    let mut no_id = template("template_123", json!({"{{1}}": "nome"}));
    no_id.as_object_mut().unwrap().remove("template_id");
    let m = rest.fails("POST", "/campaigns", Some(no_id), 400).await;
    assert!(m.contains("template_id"), "{m}");
    // A template of a channel created over REST is usable on that channel only.
    rest.created("/campaigns/channels", json!({"id": "wa_2", "name": "Second", "type": "whatsapp"})).await;
    rest.created(
        "/campaigns/templates",
        json!({"id": "tpl_2", "name": "tpl_2", "channel_id": "wa_2", "body": "Oi {{1}}"}),
    )
    .await;
    rest.created("/campaigns", with(template("tpl_2", json!({"{{1}}": "nome"})), json!({"channel_id": "wa_2"}))).await;
    rest.fails("POST", "/campaigns", Some(template("tpl_2", json!({"{{1}}": "nome"}))), 400).await;
}

#[tokio::test]
async fn template_variable_mapping_must_cover_exactly_the_templates_variables() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.custom_field("valor_pagamento", "TEXT").await;
    rest.custom_field("data_vencimento", "TEXT").await;
    let cases = [
        (json!({"{{1}}": "nome", "{{2}}": "valor_pagamento"}), "{{3}}"),
        (json!({}), "{{1}}"),
        (json!({"{{1}}": "nome", "{{2}}": "valor_pagamento", "{{3}}": "data_vencimento", "{{4}}": "email"}), "{{4}}"),
        (json!({"{{1}}": "nome", "{{2}}": "valor_pagamento", "{{3}}": "vencimento"}), "vencimento"),
        (json!({"{{1}}": "nome", "{{2}}": "valor_pagamento", "{{0}}": "email"}), "{{0}}"),
    ];
    for (mapping, named) in cases {
        let m = rest.fails("POST", "/campaigns", Some(template("template_payment", mapping.clone())), 400).await;
        assert!(m.contains("template_variable_mapping") && m.contains(named), "{mapping}: {m}");
    }
    let m = rest.fails("POST", "/campaigns", Some(template("template_no_vars", json!({"{{1}}": "nome"}))), 400).await;
    assert!(m.contains("{{1}}"), "{m}");
    let mut no_metadata = template("template_payment", json!({}));
    no_metadata.as_object_mut().unwrap().remove("metadata");
    let m = rest.fails("POST", "/campaigns", Some(no_metadata), 400).await;
    assert!(m.contains("template_variable_mapping"), "{m}");
    let m = rest.fails("POST", "/campaigns", Some(template("template_welcome", json!({"{{1}}": 7}))), 400).await;
    assert!(m.contains("template_variable_mapping"), "{m}");
    assert_eq!(rest.ok_get("/campaigns").await["pagination"]["total"], 0);
}

#[tokio::test]
async fn unknown_variable_in_a_text_body_is_400_naming_it() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let m = rest.fails("POST", "/campaigns", Some(text("x", "Olá {{nome}} de {{cidade}}")), 400).await;
    assert!(m.contains("cidade"), "{m}");
    let m = rest.fails("POST", "/campaigns", Some(text("x", "Pedido {{1}}")), 400).await;
    assert!(m.contains("{{1}}"), "{m}");
    rest.custom_field("cidade", "TEXT").await;
    rest.created("/campaigns", text("x", "Olá {{nome}} de {{cidade}}")).await;
    rest.created("/campaigns", text("x", "{{nome}} {{name}} {{email}} {{telefone}} {{phone}}")).await;
}

#[tokio::test]
async fn text_and_template_fields_do_not_mix() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let mut no_content = text("x", "Oi");
    no_content.as_object_mut().unwrap().remove("content");
    let m = rest.fails("POST", "/campaigns", Some(no_content), 400).await;
    assert!(m.contains("content"), "{m}");
    let m = rest.fails("POST", "/campaigns", Some(text("x", "   ")), 400).await;
    assert!(m.contains("body"), "{m}");
    let image = with(text("x", "Oi"), json!({"content": {"type": "image", "text": {"body": "Oi"}}}));
    let m = rest.fails("POST", "/campaigns", Some(image), 400).await;
    assert!(m.contains("content.type"), "{m}");
    let m = rest
        .fails("POST", "/campaigns", Some(with(text("x", "Oi"), json!({"template_id": "template_123"}))), 400)
        .await;
    assert!(m.contains("template_id"), "{m}");
    let both =
        with(template("template_welcome", json!({"{{1}}": "nome"})), json!({"content": text("", "Oi")["content"]}));
    let m = rest.fails("POST", "/campaigns", Some(both), 400).await;
    assert!(m.contains("content"), "{m}");
}

#[tokio::test]
async fn rate_limit_per_minute_is_1_to_300() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    for bad in [json!(0), json!(301), json!(-1), json!(1.5), json!("60")] {
        let m = rest
            .fails("POST", "/campaigns", Some(with(text("x", "Oi"), json!({"rate_limit_per_minute": bad}))), 400)
            .await;
        assert!(m.contains("rate_limit_per_minute"), "{bad}: {m}");
    }
    for good in [1, 300] {
        let c = rest.created("/campaigns", with(text("x", "Oi"), json!({"rate_limit_per_minute": good}))).await;
        assert_eq!(c["rate_limit_per_minute"], good);
    }
}

#[tokio::test]
async fn scheduled_at_must_be_a_future_iso_8601_time() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    for bad in ["2024-12-25T08:00:00Z", "amanhã", "25/12/2099 08:00", ""] {
        let m = rest.fails("POST", "/campaigns", Some(with(text("x", "Oi"), json!({"scheduled_at": bad}))), 400).await;
        assert!(m.contains("scheduled_at"), "{bad}: {m}");
    }
    let c = rest.created("/campaigns", with(text("x", "Oi"), json!({"scheduled_at": "2099-12-25T08:00:00Z"}))).await;
    assert_eq!(time(&c["scheduled_at"]), time(&json!("2099-12-25T08:00:00Z")));
    assert_eq!(c["status"], "DRAFT", "scheduled_at alone does not start it");
    let c =
        rest.created("/campaigns", with(text("x", "Oi"), json!({"scheduled_at": "2099-12-25T08:00:00-03:00"}))).await;
    assert_eq!(time(&c["scheduled_at"]), time(&json!("2099-12-25T11:00:00Z")));
}

#[tokio::test]
async fn unknown_body_fields_are_400_naming_them() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let cases = [
        (with(text("x", "Oi"), json!({"priority": "high"})), "priority"),
        (with(text("x", "Oi"), json!({"content": {"type": "text", "text": {"body": "Oi", "footer": "x"}}})), "footer"),
        (with(text("x", "Oi"), json!({"filters": {"tag_ids": [], "segment": "x"}})), "segment"),
        (
            with(
                text("x", "Oi"),
                json!({"filters": {"field_filters": [{"field": "name", "operator": "equals", "value": "x", "negate": true}]}}),
            ),
            "negate",
        ),
    ];
    for (body, field) in cases {
        let m = rest.fails("POST", "/campaigns", Some(body), 400).await;
        assert!(m.contains(field), "{field}: {m}");
    }
}

// ---------------------------------------------------------------- get, update, delete

#[tokio::test]
async fn update_changes_the_given_fields_of_a_draft_and_validates_like_create() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let id = rest.campaign(with(text("before", "Oi {{nome}}"), json!({"description": "d1"}))).await;
    let path = format!("/campaigns/{id}");
    let u = rest
        .expect(
            "PUT",
            &path,
            Some(json!({"name": "after", "rate_limit_per_minute": 10,
                        "content": {"type": "text", "text": {"body": "Tchau {{email}}"}}})),
            200,
        )
        .await;
    assert_eq!(u["name"], "after");
    assert_eq!(u["description"], "d1", "fields not given are kept");
    assert_eq!(u["rate_limit_per_minute"], 10);
    assert_eq!(u["content"]["text"]["body"], "Tchau {{email}}");
    assert_eq!(u["status"], "DRAFT");
    assert_eq!(rest.ok_get(&path).await, u);
    for (body, field) in [
        (json!({"content": {"type": "text", "text": {"body": "{{desconhecida}}"}}}), "desconhecida"),
        (json!({"channel_id": "nope"}), "channel_id"),
        (json!({"rate_limit_per_minute": 500}), "rate_limit_per_minute"),
        (json!({"scheduled_at": "2001-01-01T00:00:00Z"}), "scheduled_at"),
        (json!({"name": ""}), "name"),
        (json!({"unknown": 1}), "unknown"),
    ] {
        let m = rest.fails("PUT", &path, Some(body.clone()), 400).await;
        assert!(m.contains(field), "{body}: {m}");
    }
    assert_eq!(rest.ok_get(&path).await, u, "refused updates change nothing");
}

#[tokio::test]
async fn update_can_switch_a_draft_between_text_and_template() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let id = rest.campaign(text("switch", "Oi {{nome}}")).await;
    let path = format!("/campaigns/{id}");
    let u = rest
        .expect(
            "PUT",
            &path,
            Some(json!({"message_type": "TEMPLATE", "template_id": "template_welcome",
                        "metadata": {"template_variable_mapping": {"{{1}}": "nome"}}})),
            200,
        )
        .await;
    assert_eq!((u["message_type"].as_str(), u["template_id"].as_str()), (Some("TEMPLATE"), Some("template_welcome")));
    let u = rest
        .expect(
            "PUT",
            &path,
            Some(json!({"message_type": "TEXT", "content": {"type": "text", "text": {"body": "Oi de novo"}}})),
            200,
        )
        .await;
    assert_eq!(u["message_type"], "TEXT");
}

#[tokio::test]
async fn update_of_a_campaign_that_is_not_draft_is_409() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    for status in ["SCHEDULED", "RUNNING", "PAUSED", "COMPLETED", "CANCELLED"] {
        let id = in_status(&rest, status).await;
        let m = rest.fails("PUT", &format!("/campaigns/{id}"), Some(json!({"name": "changed"})), 409).await;
        assert!(m.contains("DRAFT"), "{status}: {m}");
        assert_ne!(rest.ok_get(&format!("/campaigns/{id}")).await["name"], "changed");
    }
}

#[tokio::test]
async fn delete_of_draft_or_completed_is_204_and_they_are_gone() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    for status in ["DRAFT", "COMPLETED"] {
        let id = in_status(&rest, status).await;
        let reply = rest.delete(&format!("/campaigns/{id}")).await;
        assert_eq!(reply.status, 204, "{status}: {}", String::from_utf8_lossy(&reply.body));
        assert!(reply.body.is_empty());
        rest.fails("GET", &format!("/campaigns/{id}"), None, 404).await;
        rest.fails("GET", &format!("/campaigns/{id}/stats"), None, 404).await;
        rest.fails("DELETE", &format!("/campaigns/{id}"), None, 404).await;
    }
    assert_eq!(rest.ok_get("/campaigns").await["pagination"]["total"], 0);
}

#[tokio::test]
async fn delete_of_scheduled_running_paused_or_cancelled_is_409() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    for status in ["SCHEDULED", "RUNNING", "PAUSED", "CANCELLED"] {
        let id = in_status(&rest, status).await;
        rest.fails("DELETE", &format!("/campaigns/{id}"), None, 409).await;
        assert_eq!(rest.status(&id).await, status);
    }
}

// ---------------------------------------------------------------- transitions

#[tokio::test]
async fn start_is_legal_from_draft_only() {
    transition_matrix("start", &[("DRAFT", "RUNNING")]).await;
}

#[tokio::test]
async fn pause_is_legal_from_running_only() {
    transition_matrix("pause", &[("RUNNING", "PAUSED")]).await;
}

#[tokio::test]
async fn resume_is_legal_from_paused_only() {
    transition_matrix("resume", &[("PAUSED", "RUNNING")]).await;
}

#[tokio::test]
async fn cancel_is_legal_from_every_status_but_completed_and_cancelled() {
    transition_matrix(
        "cancel",
        &[("DRAFT", "CANCELLED"), ("SCHEDULED", "CANCELLED"), ("RUNNING", "CANCELLED"), ("PAUSED", "CANCELLED")],
    )
    .await;
}

#[tokio::test]
async fn start_with_a_future_scheduled_at_is_scheduled_then_runs_at_that_time() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    let at = iso_in(1500);
    let id = rest.campaign(with(text("later", "Oi {{nome}}"), json!({"scheduled_at": at}))).await;
    let started = rest.start(&id).await;
    assert_eq!(started["status"], "SCHEDULED");
    assert_eq!(started["total_contacts"], 3, "the audience is fixed at start");
    let s = rest.stats(&id).await;
    assert_eq!((s["status"].as_str(), s["pending"].as_u64()), (Some("SCHEDULED"), Some(3)));
    assert!(s["started_at"].is_null(), "{s}");
    let done = rest.until_status(&id, "COMPLETED").await;
    let late = time(&done["started_at"]) - time(&json!(at));
    assert!(late >= chrono::Duration::zero(), "started before its time: {done}");
    assert!(late <= chrono::Duration::milliseconds(1000), "started {late} after its time");
    assert_eq!(done["pending"], 0);
}

#[tokio::test]
async fn start_with_scheduled_at_in_the_body_schedules_a_draft() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    let id = rest.campaign(text("later", "Oi")).await;
    let at = "2099-01-01T12:00:00Z";
    let c = rest.expect("POST", &format!("/campaigns/{id}/start"), Some(json!({"scheduled_at": at})), 200).await;
    assert_eq!(c["status"], "SCHEDULED");
    assert_eq!(time(&c["scheduled_at"]), time(&json!(at)));
    let other = rest.campaign(text("past", "Oi")).await;
    let m = rest
        .fails("POST", &format!("/campaigns/{other}/start"), Some(json!({"scheduled_at": "2001-01-01T00:00:00Z"})), 400)
        .await;
    assert!(m.contains("scheduled_at"), "{m}");
    assert_eq!(rest.status(&other).await, "DRAFT");
}

#[tokio::test]
async fn a_cancelled_schedule_never_runs() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    let at = iso_in(600);
    let id = rest.campaign(with(text("never", "Oi"), json!({"scheduled_at": at}))).await;
    rest.start(&id).await;
    rest.expect("POST", &format!("/campaigns/{id}/cancel"), None, 200).await;
    // Watch until well past the scheduled time: nothing may be sent.
    let deadline = time(&json!(at)) + chrono::Duration::milliseconds(1200);
    let past = poll(
        WAIT,
        || rest.stats(&id),
        |s| {
            assert_eq!((s["status"].as_str(), s["pending"].as_u64()), (Some("CANCELLED"), Some(3)), "{s}");
            Utc::now() > deadline
        },
    )
    .await;
    assert!(past.is_some());
}

#[tokio::test]
async fn start_fixes_the_audience_and_needs_at_least_one_contact() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let nobody = json!({"field_filters": [{"field": "name", "operator": "equals", "value": "Zoe"}]});
    let empty = rest.campaign(with(text("nobody", "Oi"), json!({"filters": nobody}))).await;
    let m = rest.fails("POST", &format!("/campaigns/{empty}/start"), None, 400).await;
    assert!(m.to_lowercase().contains("contact"), "{m}");
    assert_eq!(rest.status(&empty).await, "DRAFT");

    rest.contact(json!({"name": "Ana", "phone": ANA})).await;
    let id = rest.campaign(with(text("fixed", "Oi"), json!({"rate_limit_per_minute": 1}))).await;
    rest.contact(json!({"name": "Bia", "phone": BIA})).await; // after create, before start: included
    assert_eq!(rest.start(&id).await["total_contacts"], 2);
    rest.contact(json!({"name": "Cid", "phone": CID})).await; // after start: not included
    rest.contact(json!({"name": "Sem telefone"})).await;
    assert_eq!(rest.stats(&id).await["total_contacts"], 2);
    assert_eq!(rest.messages(&id, None).await.len(), 2);
}

#[tokio::test]
async fn pause_stops_sending_and_resume_continues_with_nobody_twice_or_skipped() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let mut contacts = three_contacts(&rest).await;
    contacts.push(rest.contact(json!({"name": "Dan", "phone": "+5531998765511"})).await);
    contacts.push(rest.contact(json!({"name": "Eva", "phone": "+5531998765522"})).await);
    let id = rest.campaign(with(text("pausable", "Oi {{nome}}"), json!({"rate_limit_per_minute": 120}))).await;
    rest.start(&id).await;
    rest.stats_until(&id, "first send", |s| s["pending"].as_u64() < Some(5)).await;
    assert_eq!(rest.expect("POST", &format!("/campaigns/{id}/pause"), None, 200).await["status"], "PAUSED");
    let at_pause = rest.stats(&id).await["pending"].as_u64().unwrap();
    // Over two send intervals (2 × 500 ms) at most the send in progress completes.
    let until = tokio::time::Instant::now() + Duration::from_millis(1000);
    let mut lowest = at_pause;
    poll(
        WAIT,
        || rest.stats(&id),
        |s| {
            assert_eq!(s["status"], "PAUSED", "{s}");
            lowest = lowest.min(s["pending"].as_u64().unwrap());
            tokio::time::Instant::now() >= until
        },
    )
    .await;
    assert!(lowest + 1 >= at_pause, "sent {} messages while paused", at_pause - lowest);
    assert!(lowest > 0, "everything was sent before the pause took effect");
    assert_eq!(rest.expect("POST", &format!("/campaigns/{id}/resume"), None, 200).await["status"], "RUNNING");
    let done = rest.until_status(&id, "COMPLETED").await;
    assert_eq!((done["total_contacts"].as_u64(), done["pending"].as_u64()), (Some(5), Some(0)), "{done}");
    let rows = rest.messages(&id, None).await;
    assert_eq!(rows.len(), 5);
    let reached: HashSet<String> = rows.iter().map(|r| r["contact_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(reached, contacts.into_iter().collect::<HashSet<_>>(), "every contact exactly once");
    for r in &rows {
        assert!(r["status"] != "PENDING" && r["sent_at"].is_string(), "{r}");
    }
}

#[tokio::test]
async fn cancel_keeps_unsent_recipients_pending_and_never_sends_them() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    rest.contact(json!({"name": "Dan", "phone": "+5531998765511"})).await;
    let id = rest.campaign(with(text("cancel me", "Oi"), json!({"rate_limit_per_minute": 120}))).await;
    rest.start(&id).await;
    rest.stats_until(&id, "first send", |s| s["pending"].as_u64() < Some(4)).await;
    let c = rest.expect("POST", &format!("/campaigns/{id}/cancel"), None, 200).await;
    assert_eq!(c["status"], "CANCELLED");
    let at_cancel = rest.stats(&id).await["pending"].as_u64().unwrap();
    let until = tokio::time::Instant::now() + Duration::from_millis(1200);
    let mut lowest = at_cancel;
    poll(
        WAIT,
        || rest.stats(&id),
        |s| {
            assert_eq!(s["status"], "CANCELLED", "{s}");
            lowest = lowest.min(s["pending"].as_u64().unwrap());
            tokio::time::Instant::now() >= until
        },
    )
    .await;
    assert!(lowest + 1 >= at_cancel, "kept sending after cancel");
    assert!(lowest >= 1, "everything was sent before the cancel took effect");
    let pending = rest.messages(&id, Some("PENDING")).await;
    assert_eq!(pending.len() as u64, lowest);
    for r in &pending {
        assert!(r["sent_at"].is_null() && r["error_code"].is_null(), "{r}");
    }
    let s = rest.stats(&id).await;
    assert!(s["estimated_completion_at"].is_null(), "a cancelled campaign completes never: {s}");
}

// ---------------------------------------------------------------- stats and messages

/// Six contacts whose simulator outcomes are READ ×2, SENT (0002), DELIVERED (0003),
/// FAILED 131026 (0000) and FAILED 1002 (0001); returns the completed campaign.
async fn outcomes_campaign(rest: &Rest) -> String {
    for (name, phone) in [
        ("Ana", ANA),
        ("Bia", BIA),
        ("Sent", "+5531999990002"),
        ("Delivered", "+5531999990003"),
        ("Undeliverable", "+5531999990000"),
        ("Unreachable", "+5531999990001"),
    ] {
        rest.contact(json!({"name": name, "phone": phone})).await;
    }
    let id = rest.campaign(text("outcomes", "Oi {{nome}}")).await;
    rest.start(&id).await;
    rest.stats_until(&id, "final outcomes", |s| {
        s["status"] == "COMPLETED" && s["read"] == 2 && s["delivered"] == 1 && s["failed"] == 2
    })
    .await;
    id
}

#[tokio::test]
async fn stats_count_each_outcome_with_a_two_decimal_success_rate() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let id = outcomes_campaign(&rest).await;
    let s = rest.stats(&id).await;
    for (k, v) in [("total_contacts", 6), ("pending", 0), ("sent", 1), ("delivered", 1), ("read", 2), ("failed", 2)] {
        assert_eq!(s[k], v, "{k}: {s}");
    }
    assert_eq!(s["success_rate"].as_f64(), Some(66.67), "4 of 6 processed succeeded: {s}");
    assert_eq!(s["progress"].as_f64(), Some(100.0), "{s}");
    let (started, completed) = (time(&s["started_at"]), time(&s["completed_at"]));
    assert!(started <= completed, "{s}");
    assert!(s["estimated_completion_at"].is_null(), "{s}");
}

#[tokio::test]
async fn stats_while_running_show_progress_and_an_estimated_completion() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    let draft = rest.campaign(with(text("slow", "Oi"), json!({"rate_limit_per_minute": 1}))).await;
    let s = rest.stats(&draft).await;
    assert_eq!(
        (s["total_contacts"].as_u64(), s["success_rate"].as_f64(), s["progress"].as_f64()),
        (Some(0), Some(0.0), Some(0.0)),
        "{s}"
    );
    assert!(s["started_at"].is_null() && s["completed_at"].is_null() && s["estimated_completion_at"].is_null());
    rest.start(&draft).await;
    let s = rest.stats_until(&draft, "first send", |s| s["pending"] == 2).await;
    assert_eq!(s["status"], "RUNNING");
    assert_eq!(s["progress"].as_f64(), Some(33.33), "1 of 3 processed: {s}");
    time(&s["started_at"]);
    assert!(s["completed_at"].is_null(), "{s}");
    // Two sends left at one a minute.
    let eta = time(&s["estimated_completion_at"]) - Utc::now();
    assert!(eta > chrono::Duration::seconds(50) && eta < chrono::Duration::seconds(130), "eta {eta}: {s}");
}

#[tokio::test]
async fn messages_filter_by_every_status_with_error_details() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let id = outcomes_campaign(&rest).await;
    let all = rest.messages(&id, None).await;
    assert_eq!(all.len(), 6);
    for r in &all {
        for k in [
            "id",
            "contact_id",
            "phone",
            "status",
            "content",
            "error_code",
            "error_message",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
        ] {
            assert!(r.get(k).is_some(), "message row without {k}: {r}");
        }
    }
    let phones =
        |rows: &[Value]| -> HashSet<String> { rows.iter().map(|r| r["phone"].as_str().unwrap().to_owned()).collect() };
    let read = rest.messages(&id, Some("READ")).await;
    assert_eq!(phones(&read), [ANA, BIA].map(str::to_owned).into_iter().collect());
    for r in &read {
        assert!(r["sent_at"].is_string() && r["delivered_at"].is_string() && r["read_at"].is_string(), "{r}");
        assert!(r["failed_at"].is_null() && r["error_code"].is_null(), "{r}");
    }
    let sent = rest.messages(&id, Some("SENT")).await;
    assert_eq!(phones(&sent), ["+5531999990002".to_owned()].into_iter().collect());
    assert!(sent[0]["delivered_at"].is_null());
    let delivered = rest.messages(&id, Some("DELIVERED")).await;
    assert_eq!(phones(&delivered), ["+5531999990003".to_owned()].into_iter().collect());
    assert!(delivered[0]["delivered_at"].is_string() && delivered[0]["read_at"].is_null());
    let failed = rest.messages(&id, Some("FAILED")).await;
    let mut codes: Vec<u64> = failed.iter().map(|r| r["error_code"].as_u64().unwrap()).collect();
    codes.sort();
    assert_eq!(codes, vec![1002, 131026]);
    for r in &failed {
        assert!(r["error_message"].as_str().is_some_and(|m| !m.is_empty()) && r["failed_at"].is_string(), "{r}");
    }
    assert_eq!(rest.messages(&id, Some("PENDING")).await.len(), 0);
    let page = rest.ok_get(&format!("/campaigns/{id}/messages?status=FAILED")).await;
    assert_eq!(page["pagination"]["total"], 2);

    // PENDING: a campaign sending one a minute.
    let slow = rest.campaign(with(text("slow", "Oi"), json!({"rate_limit_per_minute": 1}))).await;
    rest.start(&slow).await;
    rest.stats_until(&slow, "first send", |s| s["pending"] == 5).await;
    let pending = rest.ok_get(&format!("/campaigns/{slow}/messages?status=PENDING")).await;
    assert_eq!(pending["pagination"]["total"], 5, "{pending}");
    assert!(pending["data"].as_array().unwrap().iter().all(|r| r["status"] == "PENDING" && r["sent_at"].is_null()));
    let m = rest.fails("GET", &format!("/campaigns/{id}/messages?status=DELIVERING"), None, 400).await;
    assert!(m.contains("status"), "{m}");
}

#[tokio::test]
async fn messages_are_paginated() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    rest.contact(json!({"name": "Dan", "phone": "+5531998765511"})).await;
    rest.contact(json!({"name": "Eva", "phone": "+5531998765522"})).await;
    let id = rest.campaign(with(text("pages", "Oi {{nome}}"), json!({"rate_limit_per_minute": 1}))).await;
    rest.start(&id).await;
    let mut seen = HashSet::new();
    for (page, len) in [(1, 2), (2, 2), (3, 1), (4, 0)] {
        let p = rest.ok_get(&format!("/campaigns/{id}/messages?limit=2&page={page}")).await;
        assert_eq!(p["pagination"], json!({"page": page, "limit": 2, "total": 5, "total_pages": 3}));
        let data = p["data"].as_array().unwrap();
        assert_eq!(data.len(), len, "page {page}: {p}");
        for r in data {
            assert!(seen.insert(r["id"].as_str().unwrap().to_owned()), "row on two pages: {r}");
        }
    }
    assert_eq!(rest.ok_get(&format!("/campaigns/{id}/messages")).await["pagination"]["limit"], 20);
    rest.fails("GET", &format!("/campaigns/{id}/messages?limit=101"), None, 400).await;
}

#[tokio::test]
async fn messages_render_text_variables_per_contact() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.custom_field("cidade", "TEXT").await;
    rest.custom_field("idade", "NUMBER").await;
    let ana = rest
        .contact(json!({"name": "Ana", "email": "ana@example.com", "phone": ANA,
                        "custom_fields": {"cidade": "Belo Horizonte", "idade": 30}}))
        .await;
    let bia = rest.contact(json!({"name": "Bia", "phone": BIA})).await;
    let body = "Olá {{nome}} / {{name}}: {{email}} {{telefone}} {{phone}} {{cidade}} {{idade}}.";
    let id = rest.campaign(text("vars", body)).await;
    rest.start(&id).await;
    rest.until_status(&id, "COMPLETED").await;
    let rows = rest.messages(&id, None).await;
    let content = |contact: &str| {
        let row = rows.iter().find(|r| r["contact_id"] == contact).unwrap_or_else(|| panic!("no row for {contact}"));
        row["content"].as_str().unwrap().to_owned()
    };
    assert_eq!(content(&ana), format!("Olá Ana / Ana: ana@example.com {ANA} {ANA} Belo Horizonte 30."));
    // Known fields without a value render as empty; the message is still sent.
    assert_eq!(content(&bia), format!("Olá Bia / Bia:  {BIA} {BIA}  ."));
    assert!(rows.iter().all(|r| r["status"] != "FAILED"), "{rows:?}");
}

#[tokio::test]
async fn messages_render_template_variables_through_the_mapping() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.custom_field("valor_pagamento", "TEXT").await;
    rest.custom_field("data_vencimento", "TEXT").await;
    let ana = rest
        .contact(json!({"name": "Ana", "phone": ANA,
                        "custom_fields": {"valor_pagamento": "150,00", "data_vencimento": "10/12"}}))
        .await;
    let bia = rest.contact(json!({"name": "Bia", "phone": BIA, "custom_fields": {"valor_pagamento": "99,90"}})).await;
    let mapping = json!({"{{1}}": "nome", "{{2}}": "valor_pagamento", "{{3}}": "data_vencimento"});
    let id = rest.campaign(template("template_payment", mapping)).await;
    rest.start(&id).await;
    rest.until_status(&id, "COMPLETED").await;
    let rows = rest.messages(&id, None).await;
    let content = |contact: &str| rows.iter().find(|r| r["contact_id"] == contact).unwrap()["content"].clone();
    assert_eq!(content(&ana), "Olá Ana, seu pagamento de R$ 150,00 vence em 10/12.");
    assert_eq!(content(&bia), "Olá Bia, seu pagamento de R$ 99,90 vence em .");
    assert!(rows.iter().all(|r| r["status"] != "FAILED"), "an empty known field is no missing parameter: {rows:?}");

    let welcome = rest.campaign(template("template_welcome", json!({"{{1}}": "telefone"}))).await;
    rest.start(&welcome).await;
    rest.until_status(&welcome, "COMPLETED").await;
    let rows = rest.messages(&welcome, None).await;
    let ana_row = rows.iter().find(|r| r["contact_id"] == ana).unwrap();
    assert_eq!(ana_row["content"], format!("Bem-vindo, {ANA}!"));
}

#[tokio::test]
async fn a_contact_with_an_open_conversation_fails_with_1602_unless_allowed() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let open = rest.contact(json!({"name": "Ana", "phone": ANA, "has_open_conversation": true})).await;
    let closed = rest.contact(json!({"name": "Bia", "phone": BIA, "has_open_conversation": false})).await;
    let id = rest.campaign(text("respecting", "Oi {{nome}}")).await;
    rest.start(&id).await;
    rest.stats_until(&id, "done", |s| s["status"] == "COMPLETED" && s["read"] == 1).await;
    let rows = rest.messages(&id, None).await;
    let row = |c: &str| rows.iter().find(|r| r["contact_id"] == c).unwrap().clone();
    let failed = row(&open);
    assert_eq!((failed["status"].as_str(), failed["error_code"].as_u64()), (Some("FAILED"), Some(1602)), "{failed}");
    assert!(failed["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{failed}");
    assert!(failed["sent_at"].is_null(), "{failed}");
    assert_eq!(row(&closed)["status"], "READ");
    let s = rest.stats(&id).await;
    assert_eq!((s["failed"].as_u64(), s["success_rate"].as_f64()), (Some(1), Some(50.0)), "{s}");

    let allowed = rest.campaign(with(text("allowed", "Oi {{nome}}"), json!({"allow_open_conversation": true}))).await;
    rest.start(&allowed).await;
    rest.stats_until(&allowed, "both read", |s| s["read"] == 2).await;
    assert!(rest.messages(&allowed, None).await.iter().all(|r| r["error_code"].is_null()));
}

#[tokio::test]
async fn sending_a_campaign_does_not_change_the_contacts_custom_fields() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.custom_field("cidade", "TEXT").await;
    rest.custom_field("idade", "NUMBER").await;
    let ana = rest
        .contact(json!({"name": "Ana", "email": "ana@example.com", "phone": ANA,
                        "custom_fields": {"cidade": "Belo Horizonte", "idade": 30}}))
        .await;
    let bia = rest.contact(json!({"name": "Bia", "phone": BIA})).await;
    let before_ana = rest.ok_get(&format!("/contacts/{ana}")).await["custom_fields"].clone();
    let id = rest.campaign(text("vars", "Oi {{nome}} {{email}} {{telefone}} {{cidade}} {{idade}}")).await;
    rest.start(&id).await;
    rest.until_status(&id, "COMPLETED").await;
    let tpl = rest.campaign(template("template_welcome", json!({"{{1}}": "nome"}))).await;
    rest.start(&tpl).await;
    rest.until_status(&tpl, "COMPLETED").await;
    assert_eq!(rest.ok_get(&format!("/contacts/{ana}")).await["custom_fields"], before_ana);
    assert_eq!(rest.ok_get(&format!("/contacts/{bia}")).await["custom_fields"], json!({}));
}

// ---------------------------------------------------------------- preview

#[tokio::test]
async fn preview_counts_contacts_with_a_phone_and_lists_the_first_50_with_include_details() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let mut csv = String::from("name,email,phone\n");
    for i in 0..55 {
        csv.push_str(&format!("Contato {i:02},c{i}@example.com,+55319987{i:05}\n"));
    }
    let imported = rest.raw("POST", "/contacts/import", "text/csv", csv).await;
    assert_eq!(imported.status, 200, "{}", String::from_utf8_lossy(&imported.body));
    assert_eq!(imported.json()["created"], 55);
    rest.contact(json!({"name": "Sem telefone", "email": "x@example.com"})).await;

    let v =
        rest.expect("POST", "/campaigns/preview", Some(json!({"filters": {}, "channel_id": "channel_123"})), 200).await;
    assert_eq!(v["total"], 55, "{v}");
    assert!(v.get("contacts").is_none_or(Value::is_null), "no details unless asked: {v}");
    let v = rest
        .expect(
            "POST",
            "/campaigns/preview",
            Some(json!({"filters": {}, "channel_id": "channel_123", "includeDetails": true})),
            200,
        )
        .await;
    assert_eq!(v["total"], 55);
    let contacts = v["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 50, "first 50 only");
    assert_eq!(contacts[0]["name"], "Contato 00");
    assert_eq!(contacts[49]["name"], "Contato 49");
    assert!(contacts.iter().all(|c| c["phone"].is_string() && c["id"].is_string()));
    let v = rest.expect("POST", "/campaigns/preview", Some(json!({"includeDetails": true})), 200).await;
    assert_eq!(v["total"], 55, "no filters at all = every contact with a phone");
    let small = json!({"filters": {"field_filters": [{"field": "name", "operator": "ends_with", "value": "07"}]}, "includeDetails": true});
    let v = rest.expect("POST", "/campaigns/preview", Some(small), 200).await;
    assert_eq!((v["total"].as_u64(), v["contacts"].as_array().map(Vec::len)), (Some(1), Some(1)), "{v}");
    let m =
        rest.fails("POST", "/campaigns/preview", Some(json!({"filters": {}, "channel_id": "channel_999"})), 400).await;
    assert!(m.contains("channel_id"), "{m}");
}

// ---------------------------------------------------------------- numbers from CSV

#[tokio::test]
async fn an_imported_number_field_renders_as_written() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.custom_field("idade", "NUMBER").await;
    let csv = format!("name,phone,idade\nAna,{ANA},30\n");
    let r = rest.raw("POST", "/contacts/import", "text/csv", csv).await;
    assert_eq!(r.json()["created"], 1);
    let id = rest.campaign(text("idade", "Você tem {{idade}} anos")).await;
    rest.start(&id).await;
    rest.until_status(&id, "COMPLETED").await;
    assert_eq!(rest.messages(&id, None).await[0]["content"], "Você tem 30 anos");
}

#[tokio::test]
async fn concurrent_starts_start_once_and_reach_everyone_once() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    let id = rest.campaign(with(text("race", "Oi"), json!({"rate_limit_per_minute": 1}))).await;
    let path = format!("/campaigns/{id}/start");
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let (rest, path) = (rest.clone(), path.clone());
            tokio::spawn(async move { rest.call("POST", &path, None).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for c in calls {
        statuses.push(c.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 409, 409, 409, 409, 409]);
    let s = rest.stats(&id).await;
    assert_eq!(s["total_contacts"], 3, "{s}");
    assert_eq!(rest.messages(&id, None).await.len(), 3);
}

#[tokio::test]
async fn a_refused_start_changes_nothing() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let nobody = json!({"tag_ids": ["tag_nobody"]});
    let id = rest.campaign(with(text("nobody", "Oi"), json!({"filters": nobody}))).await;
    let before = rest.ok_get(&format!("/campaigns/{id}")).await;
    rest.fails("POST", &format!("/campaigns/{id}/start"), Some(json!({"scheduled_at": "2099-01-01T00:00:00Z"})), 400)
        .await;
    assert_eq!(rest.ok_get(&format!("/campaigns/{id}")).await, before);
}

#[tokio::test]
async fn every_previewed_contact_is_in_the_audience_whatever_its_field_values() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.contact(json!({"name": "Ana\u{1f}Maria", "phone": ANA})).await;
    rest.contact(json!({"name": "Bia\u{1e}", "phone": BIA})).await;
    rest.contact(json!({"name": "Cid", "phone": CID})).await;
    assert_eq!(rest.preview_total(json!({})).await, 3);
    let id = rest.campaign(text("all", "Oi {{nome}}")).await;
    assert_eq!(rest.start(&id).await["total_contacts"], 3, "the audience is every matching contact with a phone");
}

#[tokio::test]
async fn sends_are_spread_evenly_at_the_rate_limit() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    three_contacts(&rest).await;
    rest.contact(json!({"name": "Dan", "phone": "+5531998765511"})).await;
    let id = rest.campaign(with(text("paced", "Oi"), json!({"rate_limit_per_minute": 300}))).await;
    rest.start(&id).await;
    rest.until_status(&id, "COMPLETED").await;
    let mut sent: Vec<DateTime<Utc>> = rest.messages(&id, None).await.iter().map(|r| time(&r["sent_at"])).collect();
    sent.sort();
    // 300 a minute = one every 200 ms, not a burst.
    let span = (sent[3] - sent[0]).num_milliseconds();
    assert!(span >= 550, "4 sends within {span} ms at 300/min: {sent:?}");
    for w in sent.windows(2) {
        assert!(
            (w[1] - w[0]).num_milliseconds() >= 100,
            "two sends {} ms apart: {sent:?}",
            (w[1] - w[0]).num_milliseconds()
        );
    }
}
