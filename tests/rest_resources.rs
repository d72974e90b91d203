//! REST face: workspace resources — tags, channels, templates, custom fields (list and
//! create, duplicates 409, validation 400) — and contacts (CRUD and CSV import).

mod support;

use serde_json::{json, Value};
use support::*;

const ANA: &str = "+5531998761234";
const BIA: &str = "+5531998765678";

fn list(v: &Value) -> Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).clone()
}

fn field_of(items: &[Value], key: &str) -> Vec<String> {
    items.iter().map(|i| i[key].as_str().unwrap_or_default().to_owned()).collect()
}

async fn import(rest: &Rest, csv: &str) -> Value {
    let reply = rest.raw("POST", "/contacts/import", "text/csv", csv.to_owned()).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

/// The contact with `phone` (from the list).
async fn by_phone(rest: &Rest, phone: &str) -> Value {
    let all = rest.ok_get("/contacts?limit=100").await;
    all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == phone)
        .cloned()
        .unwrap_or_else(|| panic!("no {phone}"))
}

// ---------------------------------------------------------------- tags

#[tokio::test]
async fn tags_are_listed_and_created() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    assert_eq!(rest.ok_get("/campaigns/tags").await, json!([]));
    let vip = rest.created("/campaigns/tags", json!({"id": "tag_vip", "name": "VIP", "color": "#ff0000"})).await;
    assert_eq!(vip, json!({"id": "tag_vip", "name": "VIP", "color": "#ff0000"}));
    let generated = rest.created("/campaigns/tags", json!({"name": "Clientes"})).await;
    let gid = generated["id"].as_str().unwrap();
    assert!(!gid.is_empty() && gid != "tag_vip", "{generated}");
    let tags = list(&rest.ok_get("/campaigns/tags").await);
    assert_eq!(field_of(&tags, "id"), vec!["tag_vip", gid]);
    assert_eq!(field_of(&tags, "name"), vec!["VIP", "Clientes"]);
    // Usable on contacts and in filters right away.
    rest.contact(json!({"name": "Ana", "phone": ANA, "tags": [gid]})).await;
    assert_eq!(rest.preview_total(json!({"tag_ids": [gid]})).await, 1);
}

#[tokio::test]
async fn a_duplicate_tag_id_or_name_is_409() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.created("/campaigns/tags", json!({"id": "tag_vip", "name": "VIP"})).await;
    rest.fails("POST", "/campaigns/tags", Some(json!({"id": "tag_vip", "name": "Other"})), 409).await;
    rest.fails("POST", "/campaigns/tags", Some(json!({"id": "tag_other", "name": "vip"})), 409).await;
    rest.fails("POST", "/campaigns/tags", Some(json!({"name": "VIP"})), 409).await;
    assert_eq!(list(&rest.ok_get("/campaigns/tags").await).len(), 1);
}

#[tokio::test]
async fn tag_validation_is_400_naming_the_field() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"id": "tag vip", "name": "VIP"}), "id"),
        (json!({"name": "VIP", "priority": 1}), "priority"),
    ] {
        let m = rest.fails("POST", "/campaigns/tags", Some(body.clone()), 400).await;
        assert!(m.contains(field), "{body}: {m}");
    }
    assert_eq!(rest.ok_get("/campaigns/tags").await, json!([]));
}

// ---------------------------------------------------------------- channels

#[tokio::test]
async fn channels_list_shows_the_workspace_channels() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let channels = list(&rest.ok_get("/campaigns/channels").await);
    assert_eq!(field_of(&channels, "id"), vec!["channel_123", "rcs_123"]);
    assert_eq!(field_of(&channels, "type"), vec!["whatsapp", "google_rcs"]);
    assert!(channels.iter().all(|c| c["default"] == true && c["name"].is_string()), "{channels:?}");
}

#[tokio::test]
async fn a_created_channel_is_listed_and_a_new_default_takes_over_its_type() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let c = rest
        .created(
            "/campaigns/channels",
            json!({"id": "wa_2", "name": "Segundo número", "type": "whatsapp", "default": true}),
        )
        .await;
    assert_eq!(
        (c["id"].as_str(), c["type"].as_str(), c["default"].as_bool()),
        (Some("wa_2"), Some("whatsapp"), Some(true))
    );
    let rcs = rest.created("/campaigns/channels", json!({"name": "RCS 2", "type": "google_rcs"})).await;
    assert_eq!(rcs["default"], false);
    let channels = list(&rest.ok_get("/campaigns/channels").await);
    let default_of = |id: &str| channels.iter().find(|c| c["id"] == id).unwrap()["default"].clone();
    assert_eq!(default_of("wa_2"), true);
    assert_eq!(default_of("channel_123"), false, "one default per type");
    assert_eq!(default_of("rcs_123"), true);
    assert_eq!(channels.len(), 4);
    // A campaign can use it.
    rest.created(
        "/campaigns",
        json!({"name": "x", "channel_id": "wa_2", "content": {"type": "text", "text": {"body": "Oi"}}}),
    )
    .await;
}

#[tokio::test]
async fn a_duplicate_channel_id_is_409_and_bad_channels_are_400() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.fails("POST", "/campaigns/channels", Some(json!({"id": "channel_123", "name": "x", "type": "whatsapp"})), 409)
        .await;
    for (body, field) in [
        (json!({"name": "x", "type": "telegram"}), "type"),
        (json!({"name": "x"}), "type"),
        (json!({"type": "whatsapp"}), "name"),
        (json!({"name": " ", "type": "whatsapp"}), "name"),
        (json!({"name": "x", "type": "whatsapp", "provider": "twilio"}), "provider"),
        (json!({"name": "x", "type": "whatsapp", "max_per_second": 0}), "max_per_second"),
        (json!({"name": "x", "type": "whatsapp", "id": "a/b"}), "id"),
        (json!({"name": "x", "type": "whatsapp", "token": "s3cr3t"}), "token"),
    ] {
        let m = rest.fails("POST", "/campaigns/channels", Some(body.clone()), 400).await;
        assert!(m.contains(field), "{body}: {m}");
    }
    assert_eq!(list(&rest.ok_get("/campaigns/channels").await).len(), 2);
}

// ---------------------------------------------------------------- templates

#[tokio::test]
async fn templates_are_listed_with_their_variables_and_filtered_by_channel_id() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let all = list(&rest.ok_get("/campaigns/templates").await);
    assert_eq!(all.len(), 9, "{all:?}");
    let get = |id: &str| all.iter().find(|t| t["id"] == id).unwrap_or_else(|| panic!("no {id}")).clone();
    assert_eq!(get("template_123")["name"], "email_commerce_resposta");
    assert_eq!(get("template_123")["variables"], 1);
    assert_eq!(get("template_payment")["variables"], 3);
    assert_eq!(get("template_no_vars")["variables"], 0);
    assert_eq!(get("template_image")["variables"], 2, "header and body variables");
    assert_eq!(get("template_carousel")["variables"], 4);
    assert_eq!(get("template_pending")["status"], "PENDING");
    assert_eq!(get("template_payment")["status"], "APPROVED");
    assert_eq!(list(&rest.ok_get("/campaigns/templates?channel_id=channel_123").await).len(), 9);
    assert_eq!(rest.ok_get("/campaigns/templates?channel_id=rcs_123").await, json!([]));
    assert_eq!(rest.ok_get("/campaigns/templates?channel_id=nope").await, json!([]));
}

#[tokio::test]
async fn a_created_template_counts_header_and_body_variables_and_is_usable() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let t = rest
        .created(
            "/campaigns/templates",
            json!({"id": "tpl_pedido", "name": "pedido_pronto", "language": "pt_BR", "channel_id": "channel_123",
                   "category": "UTILITY", "header": {"type": "text", "text": "Oi {{1}}"},
                   "body": "Seu pedido {{2}} chega em {{3}}.", "buttons": [{"type": "URL", "text": "Ver"}]}),
        )
        .await;
    assert_eq!(t["id"], "tpl_pedido");
    assert_eq!(t["variables"], 3);
    assert_eq!(t["status"], "APPROVED", "default status");
    assert_eq!(t["channel_id"], "channel_123");
    let image = rest
        .created(
            "/campaigns/templates",
            json!({"name": "promo", "channel_id": "rcs_123", "header": {"type": "image"}, "body": "Oi {{1}}"}),
        )
        .await;
    assert_eq!(image["variables"], 1);
    assert_eq!(field_of(&list(&rest.ok_get("/campaigns/templates?channel_id=rcs_123").await), "name"), vec!["promo"]);
    assert_eq!(list(&rest.ok_get("/campaigns/templates").await).len(), 11);
    // The mapping must cover its three variables.
    let campaign = |mapping: Value| {
        json!({"name": "c", "message_type": "TEMPLATE", "channel_id": "channel_123", "template_id": "tpl_pedido",
               "metadata": {"template_variable_mapping": mapping}})
    };
    rest.fails("POST", "/campaigns", Some(campaign(json!({"{{1}}": "nome", "{{2}}": "email"}))), 400).await;
    rest.created("/campaigns", campaign(json!({"{{1}}": "nome", "{{2}}": "email", "{{3}}": "telefone"}))).await;
    // A template created PENDING cannot be used.
    rest.created(
        "/campaigns/templates",
        json!({"id": "tpl_wait", "name": "espera", "channel_id": "channel_123", "status": "PENDING", "body": "Oi"}),
    )
    .await;
    let m = rest
        .fails(
            "POST",
            "/campaigns",
            Some(json!({"name": "c", "message_type": "TEMPLATE", "channel_id": "channel_123", "template_id": "tpl_wait"})),
            400,
        )
        .await;
    assert!(m.contains("APPROVED"), "{m}");
}

#[tokio::test]
async fn a_duplicate_template_id_or_name_on_the_channel_is_409() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let body =
        |id: &str, name: &str, channel: &str| json!({"id": id, "name": name, "channel_id": channel, "body": "Oi"});
    rest.fails("POST", "/campaigns/templates", Some(body("template_123", "novo", "channel_123")), 409).await;
    rest.fails("POST", "/campaigns/templates", Some(body("tpl_x", "email_commerce_resposta", "channel_123")), 409)
        .await;
    rest.created("/campaigns/templates", body("tpl_x", "email_commerce_resposta", "rcs_123")).await;
}

#[tokio::test]
async fn template_validation_is_400_naming_the_field() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let ok = json!({"name": "t", "channel_id": "channel_123", "body": "Oi {{1}}"});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let mut no_body = ok.clone();
    no_body.as_object_mut().unwrap().remove("body");
    for (body, field) in [
        (with("channel_id", json!("nope")), "channel_id"),
        (with("name", json!(" ")), "name"),
        (with("body", json!("  ")), "body"),
        (no_body, "body"),
        (with("status", json!("LIVE")), "status"),
        (with("header", json!({"type": "gif"})), "header.type"),
        (with("header", json!({"type": "text"})), "header.text"),
        (with("footer", json!("x")), "footer"),
    ] {
        let m = rest.fails("POST", "/campaigns/templates", Some(body.clone()), 400).await;
        assert!(m.contains(field), "{body}: {m}");
    }
    assert_eq!(list(&rest.ok_get("/campaigns/templates").await).len(), 9);
}

// ---------------------------------------------------------------- custom fields

#[tokio::test]
async fn custom_fields_are_listed_and_created_with_defaults() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    assert_eq!(rest.ok_get("/campaigns/custom-fields").await, json!([]));
    let city = rest
        .created(
            "/campaigns/custom-fields",
            json!({"id": "field_123", "key": "city", "name": "Cidade", "type": "TEXT", "description": "Cidade do contato"}),
        )
        .await;
    assert_eq!(
        city,
        json!({"id": "field_123", "name": "Cidade", "key": "city", "type": "TEXT", "is_required": false,
               "is_visible": true, "description": "Cidade do contato"})
    );
    for (key, t) in [("age", "NUMBER"), ("birthday", "DATE"), ("opt_in", "BOOLEAN")] {
        let f = rest
            .created("/campaigns/custom-fields", json!({"key": key, "name": key, "type": t, "is_visible": false}))
            .await;
        assert_eq!((f["type"].as_str(), f["is_visible"].as_bool()), (Some(t), Some(false)), "{f}");
    }
    let fields = list(&rest.ok_get("/campaigns/custom-fields").await);
    assert_eq!(field_of(&fields, "key"), vec!["city", "age", "birthday", "opt_in"]);
}

#[tokio::test]
async fn a_duplicate_custom_field_key_is_409() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.custom_field("city", "TEXT").await;
    rest.fails(
        "POST",
        "/campaigns/custom-fields",
        Some(json!({"key": "city", "name": "Outra", "type": "NUMBER"})),
        409,
    )
    .await;
    assert_eq!(list(&rest.ok_get("/campaigns/custom-fields").await).len(), 1);
}

#[tokio::test]
async fn custom_field_validation_is_400_naming_the_field() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let cases = [
        (json!({"key": "nome", "name": "Nome", "type": "TEXT"}), "nome"),
        (json!({"key": "email", "name": "E-mail", "type": "TEXT"}), "email"),
        (json!({"key": "telefone", "name": "Tel", "type": "TEXT"}), "telefone"),
        (json!({"key": "phone", "name": "Tel", "type": "TEXT"}), "phone"),
        (json!({"key": "my key", "name": "x", "type": "TEXT"}), "key"),
        (json!({"key": "cidade-natal", "name": "x", "type": "TEXT"}), "key"),
        (json!({"key": "", "name": "x", "type": "TEXT"}), "key"),
        (json!({"name": "x", "type": "TEXT"}), "key"),
        (json!({"key": "k", "name": "x", "type": "COLOR"}), "type"),
        (json!({"key": "k", "name": "x"}), "type"),
        (json!({"key": "k", "type": "TEXT"}), "name"),
        (json!({"key": "k", "name": "  ", "type": "TEXT"}), "name"),
        (json!({"key": "k", "name": "x", "type": "TEXT", "is_required": "yes"}), "is_required"),
        (json!({"key": "k", "name": "x", "type": "TEXT", "options": []}), "options"),
    ];
    for (body, field) in cases {
        let m = rest.fails("POST", "/campaigns/custom-fields", Some(body.clone()), 400).await;
        assert!(m.contains(field), "{body}: {m}");
    }
    assert_eq!(rest.ok_get("/campaigns/custom-fields").await, json!([]));
}

// ---------------------------------------------------------------- contacts

#[tokio::test]
async fn a_contact_is_created_read_updated_and_deleted() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.tag("tag_vip").await;
    rest.tag("tag_clientes").await;
    rest.custom_field("city", "TEXT").await;
    rest.custom_field("age", "NUMBER").await;
    rest.custom_field("opt_in", "BOOLEAN").await;
    rest.custom_field("birthday", "DATE").await;
    let created = rest
        .created(
            "/contacts",
            json!({"name": "Ana", "email": "ana@example.com", "phone": ANA, "tags": ["tag_vip"],
                   "custom_fields": {"city": "São Paulo", "age": 31, "opt_in": true, "birthday": "1990-05-01T00:00:00Z"},
                   "last_interaction_at": "2024-06-01T10:00:00Z", "has_open_conversation": true}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "Ana");
    assert_eq!(created["email"], "ana@example.com");
    assert_eq!(created["phone"], ANA);
    assert_eq!(created["tags"], json!(["tag_vip"]));
    assert_eq!(created["custom_fields"]["city"], "São Paulo");
    assert_eq!(created["custom_fields"]["age"], 31);
    assert_eq!(created["custom_fields"]["opt_in"], true);
    assert_eq!(created["has_open_conversation"], true);
    assert!(created["last_interaction_at"].as_str().unwrap().starts_with("2024-06-01T10:00:00"), "{created}");
    let path = format!("/contacts/{id}");
    assert_eq!(rest.ok_get(&path).await, created);

    let updated = rest
        .expect(
            "PUT",
            &path,
            Some(json!({"name": "Ana Maria", "tags": ["tag_vip", "tag_clientes"], "custom_fields": {"city": "Rio"},
                        "has_open_conversation": false})),
            200,
        )
        .await;
    assert_eq!(updated["name"], "Ana Maria");
    assert_eq!(updated["tags"], json!(["tag_vip", "tag_clientes"]));
    assert_eq!(updated["custom_fields"]["city"], "Rio");
    assert_eq!(updated["has_open_conversation"], false);
    assert_eq!((updated["email"].clone(), updated["phone"].clone()), (json!("ana@example.com"), json!(ANA)), "kept");
    assert_eq!(rest.ok_get(&path).await, updated);
    assert_eq!(rest.preview_total(json!({"tag_ids": ["tag_clientes"]})).await, 1);

    let reply = rest.delete(&path).await;
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    rest.fails("GET", &path, None, 404).await;
    rest.fails("PUT", &path, Some(json!({"name": "x"})), 404).await;
    rest.fails("DELETE", &path, None, 404).await;
    assert_eq!(rest.preview_total(json!({})).await, 0);
    // The phone is free again.
    rest.contact(json!({"name": "Nova Ana", "phone": ANA})).await;
}

#[tokio::test]
async fn contacts_are_listed_in_creation_order_with_pagination() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(rest.contact(json!({"name": format!("C{i}"), "phone": format!("+55319987612{i}5")})).await);
    }
    let p = rest.ok_get("/contacts?limit=2&page=2").await;
    assert_eq!(p["pagination"], json!({"page": 2, "limit": 2, "total": 5, "total_pages": 3}));
    assert_eq!(field_of(&list(&p["data"]), "id"), ids[2..4]);
    let all = rest.ok_get("/contacts").await;
    assert_eq!(field_of(&list(&all["data"]), "id"), ids);
    assert_eq!(all["pagination"]["limit"], 20);
    rest.fails("GET", "/contacts?limit=101", None, 400).await;
    rest.fails("GET", "/contacts?page=0", None, 400).await;
}

#[tokio::test]
async fn contact_validation_is_400_naming_the_field() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.tag("tag_vip").await;
    rest.custom_field("city", "TEXT").await;
    rest.custom_field("age", "NUMBER").await;
    rest.custom_field("opt_in", "BOOLEAN").await;
    rest.custom_field("birthday", "DATE").await;
    let cases = [
        (json!({"name": "x", "phone": "abc"}), "phone"),
        (json!({"name": "x", "phone": "+55"}), "phone"),
        (json!({"name": "x", "email": "ana.example.com"}), "email"),
        (json!({"name": "x", "tags": ["tag_ghost"]}), "tag_ghost"),
        (json!({"name": "x", "tags": "tag_vip"}), "tags"),
        (json!({"name": "x", "custom_fields": {"planet": "Mars"}}), "planet"),
        (json!({"name": "x", "custom_fields": {"age": "old"}}), "age"),
        (json!({"name": "x", "custom_fields": {"age": true}}), "age"),
        (json!({"name": "x", "custom_fields": {"opt_in": "maybe"}}), "opt_in"),
        (json!({"name": "x", "custom_fields": {"birthday": "someday"}}), "birthday"),
        (json!({"name": "x", "custom_fields": {"city": {"name": "Rio"}}}), "city"),
        (json!({"name": "x", "last_interaction_at": "ontem"}), "last_interaction_at"),
        (json!({"name": "x", "has_open_conversation": "yes"}), "has_open_conversation"),
        (json!({"name": "x", "nickname": "y"}), "nickname"),
    ];
    let existing = rest.contact(json!({"name": "Ana", "phone": ANA})).await;
    for (body, field) in cases {
        let m = rest.fails("POST", "/contacts", Some(body.clone()), 400).await;
        assert!(m.contains(field), "create {body}: {m}");
        let m = rest.fails("PUT", &format!("/contacts/{existing}"), Some(body.clone()), 400).await;
        assert!(m.contains(field), "update {body}: {m}");
    }
    assert_eq!(rest.ok_get("/contacts").await["pagination"]["total"], 1);
    assert_eq!(rest.ok_get(&format!("/contacts/{existing}")).await["name"], "Ana", "refused updates change nothing");
}

#[tokio::test]
async fn a_required_custom_field_is_needed_at_create() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.created("/campaigns/custom-fields", json!({"key": "cpf", "name": "CPF", "type": "TEXT", "is_required": true}))
        .await;
    let m = rest.fails("POST", "/contacts", Some(json!({"name": "Ana", "phone": ANA})), 400).await;
    assert!(m.contains("cpf"), "{m}");
    rest.contact(json!({"name": "Ana", "phone": ANA, "custom_fields": {"cpf": "123"}})).await;
}

#[tokio::test]
async fn a_phone_belongs_to_one_contact_of_the_workspace() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let ana = rest.contact(json!({"name": "Ana", "phone": ANA})).await;
    let bia = rest.contact(json!({"name": "Bia", "phone": BIA})).await;
    rest.fails("POST", "/contacts", Some(json!({"name": "Outra Ana", "phone": ANA})), 409).await;
    rest.fails("PUT", &format!("/contacts/{bia}"), Some(json!({"phone": ANA})), 409).await;
    assert_eq!(rest.ok_get(&format!("/contacts/{bia}")).await["phone"], BIA);
    // Keeping one's own phone is fine.
    rest.expect("PUT", &format!("/contacts/{ana}"), Some(json!({"phone": ANA, "name": "Ana"})), 200).await;
}

// ---------------------------------------------------------------- import

#[tokio::test]
async fn import_creates_updates_and_reports_invalid_lines() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.tag("tag_vip").await;
    rest.tag("tag_clientes").await;
    rest.custom_field("city", "TEXT").await;
    rest.custom_field("age", "NUMBER").await;
    let ana = rest.contact(json!({"name": "Ana", "phone": ANA})).await;
    let csv = "name,email,phone,tags,city,age\n\
               Ana Maria,ana@example.com,+5531998761234,tag_vip,Belo Horizonte,30\n\
               Bia,bia@example.com,+5531998765678,tag_vip|tag_clientes,,\n\
               Cid,,abc,,,\n\
               Dan,dan@example.com,+5531998764321,tag_ghost,,\n\
               Eva,eva@example.com,+5531998765599,,Rio,not-a-number\n\
               Fia,,+5531998765588,,,\n";
    let r = import(&rest, csv).await;
    assert_eq!((r["created"].as_u64(), r["updated"].as_u64()), (Some(2), Some(1)), "{r}");
    let invalid = list(&r["invalid"]);
    let lines: Vec<u64> = invalid.iter().map(|i| i["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![4, 5, 6], "{r}");
    for (item, named) in invalid.iter().zip(["phone", "tag_ghost", "age"]) {
        assert!(item["message"].as_str().unwrap().contains(named), "{item}");
    }
    let updated = rest.ok_get(&format!("/contacts/{ana}")).await;
    assert_eq!(updated["name"], "Ana Maria");
    assert_eq!(updated["email"], "ana@example.com");
    assert_eq!(updated["tags"], json!(["tag_vip"]));
    assert_eq!(updated["custom_fields"]["city"], "Belo Horizonte");
    assert_eq!(updated["custom_fields"]["age"].as_f64(), Some(30.0));
    let bia = by_phone(&rest, BIA).await;
    assert_eq!((bia["name"].as_str(), bia["tags"].clone()), (Some("Bia"), json!(["tag_vip", "tag_clientes"])));
    assert!(bia["custom_fields"].get("city").is_none(), "an empty cell sets nothing: {bia}");
    assert_eq!(rest.ok_get("/contacts").await["pagination"]["total"], 3);
    assert_eq!(rest.preview_total(json!({"tag_ids": ["tag_clientes"]})).await, 1);
}

#[tokio::test]
async fn import_keeps_whole_numbers_whole() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.custom_field("age", "NUMBER").await;
    import(&rest, &format!("name,phone,age\nAna,{ANA},30\n")).await;
    let ana = by_phone(&rest, ANA).await;
    assert_eq!(ana["custom_fields"]["age"].to_string(), "30", "{ana}");
}

#[tokio::test]
async fn import_accepts_semicolons_a_bom_and_quoted_cells() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.custom_field("city", "TEXT").await;
    let csv = "\u{feff}name;phone;city\r\n\"Silva, Ana\";+5531998761234;\"São Paulo; SP\"\r\n";
    let r = import(&rest, csv).await;
    assert_eq!((r["created"].as_u64(), r["invalid"].as_array().map(Vec::len)), (Some(1), Some(0)), "{r}");
    let ana = by_phone(&rest, ANA).await;
    assert_eq!(ana["name"], "Silva, Ana");
    assert_eq!(ana["custom_fields"]["city"], "São Paulo; SP");
}

#[tokio::test]
async fn import_repeating_a_phone_updates_the_same_contact() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let r = import(&rest, &format!("name,phone\nAna,{ANA}\nAna Maria,{ANA}\n")).await;
    assert_eq!((r["created"].as_u64(), r["updated"].as_u64()), (Some(1), Some(1)), "{r}");
    assert_eq!(rest.ok_get("/contacts").await["pagination"]["total"], 1);
    assert_eq!(by_phone(&rest, ANA).await["name"], "Ana Maria");
}

#[tokio::test]
async fn an_import_header_needs_a_phone_column_and_known_columns() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let cases = [
        ("name,email\nAna,ana@example.com\n", "phone"),
        (&*format!("name,phone,planet\nAna,{ANA},Mars\n"), "planet"),
        ("", "header"),
    ];
    for (csv, named) in cases {
        let reply = rest.raw("POST", "/contacts/import", "text/csv", csv.to_owned()).await;
        let m = error_message(&reply, 400, &format!("import {csv:?}"));
        assert!(m.to_lowercase().contains(named), "{csv:?}: {m}");
    }
    let reply = rest.raw("POST", "/contacts/import", "text/csv", vec![0xffu8, 0xfe, 0x00, b'\n']).await;
    error_message(&reply, 400, "import of bytes that are not UTF-8");
    assert_eq!(rest.ok_get("/contacts").await["pagination"]["total"], 0);
}

#[tokio::test]
async fn an_import_with_empty_cells_keeps_what_the_contact_has() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.tag("tag_vip").await;
    rest.custom_field("city", "TEXT").await;
    let id = rest
        .contact(json!({"name": "Ana", "email": "ana@example.com", "phone": ANA, "tags": ["tag_vip"],
                        "custom_fields": {"city": "BH"}}))
        .await;
    let r = import(&rest, &format!("name,email,phone,tags,city\n,,{ANA},,\n")).await;
    assert_eq!(r["updated"], 1, "{r}");
    let ana = rest.ok_get(&format!("/contacts/{id}")).await;
    assert_eq!(ana["custom_fields"]["city"], "BH", "{ana}");
    assert_eq!((ana["name"].as_str(), ana["email"].as_str()), (Some("Ana"), Some("ana@example.com")), "{ana}");
    assert_eq!(ana["tags"], json!(["tag_vip"]), "{ana}");
}
