//! REST face: audience filters, checked with `POST /api/v1/campaigns/preview` against a
//! workspace seeded over `/api/v1/contacts` and `/api/v1/contacts/import`. Every expected
//! total is counted by hand from the table in [`seeded`].

mod support;

use serde_json::{json, Value};
use support::*;

/// Seeds the workspace:
///
/// | #  | name         | email           | phone           | tags               | city           | age  | preferred_language | last_interaction_at  | open  |
/// |----|--------------|-----------------|-----------------|--------------------|----------------|------|--------------------|----------------------|-------|
/// | C1 | João Silva   | joao@acme.com   | +5531990000011  | vip                | São Paulo      | 25   | pt                 | 2024-01-01T00:00:00Z | false |
/// | C2 | Maria Souza  | maria@globo.com | +5531990000012  | clientes           | Rio de Janeiro | 17   | —                  | 2024-06-15T12:00:00Z | true  |
/// | C3 | Ana São      | ANA@ACME.COM    | +5521990000013  | vip, clientes      | são josé       | 30   | en                 | 2024-12-31T23:59:59Z | false |
/// | C4 | Pedro        | —               | +5511990000014  | —                  | Belo Horizonte | —    | "" (empty)         | 2025-01-01T00:00:00Z | false |
/// | C5 | Lúcia Teste  | lucia@teste.com | +5531990000015  | pendentes          | —              | "25" | —                  | —                    | true  |
/// | C6 | Carlos Silva | carlos@acme.com | — (no phone)    | vip                | São Paulo      | 25   | —                  | 2024-03-01T00:00:00Z | false |
/// | C7 | Bruna Lima   | bruna@x.com     | +5531990000017  | vip, pendentes     | Curitiba       | 40   | —                  | —                    | false |
/// | C8 | Zé           | — (empty cell)  | +5541990000018  | —                  | SÃO PAULO      | —    | —                  | —                    | false |
///
/// C7 and C8 come from the CSV import. C6 has no phone and is never in an audience.
async fn seeded() -> (Gateway, Rest) {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    rest.custom_field("city", "TEXT").await;
    rest.custom_field("age", "NUMBER").await;
    rest.custom_field("preferred_language", "TEXT").await;
    for tag in ["tag_vip", "tag_clientes", "tag_pendentes"] {
        rest.tag(tag).await;
    }
    let contacts = [
        json!({"name": "João Silva", "email": "joao@acme.com", "phone": "+5531990000011", "tags": ["tag_vip"],
               "custom_fields": {"city": "São Paulo", "age": 25, "preferred_language": "pt"},
               "last_interaction_at": "2024-01-01T00:00:00Z", "has_open_conversation": false}),
        json!({"name": "Maria Souza", "email": "maria@globo.com", "phone": "+5531990000012", "tags": ["tag_clientes"],
               "custom_fields": {"city": "Rio de Janeiro", "age": 17},
               "last_interaction_at": "2024-06-15T12:00:00Z", "has_open_conversation": true}),
        json!({"name": "Ana São", "email": "ANA@ACME.COM", "phone": "+5521990000013",
               "tags": ["tag_vip", "tag_clientes"],
               "custom_fields": {"city": "são josé", "age": 30, "preferred_language": "en"},
               "last_interaction_at": "2024-12-31T23:59:59Z"}),
        json!({"name": "Pedro", "phone": "+5511990000014",
               "custom_fields": {"city": "Belo Horizonte", "preferred_language": ""},
               "last_interaction_at": "2025-01-01T00:00:00Z"}),
        json!({"name": "Lúcia Teste", "email": "lucia@teste.com", "phone": "+5531990000015", "tags": ["tag_pendentes"],
               "custom_fields": {"age": "25"}, "has_open_conversation": true}),
        json!({"name": "Carlos Silva", "email": "carlos@acme.com", "tags": ["tag_vip"],
               "custom_fields": {"city": "São Paulo", "age": 25}, "last_interaction_at": "2024-03-01T00:00:00Z"}),
    ];
    for c in contacts {
        rest.contact(c).await;
    }
    let csv = "name,email,phone,tags,city,age\n\
               Bruna Lima,bruna@x.com,+5531990000017,tag_vip|tag_pendentes,Curitiba,40\n\
               Zé,,+5541990000018,,SÃO PAULO,\n";
    let reply = rest.raw("POST", "/contacts/import", "text/csv", csv).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let r = reply.json();
    assert_eq!((r["created"].as_u64(), r["invalid"].as_array().map(Vec::len)), (Some(2), Some(0)), "{r}");
    (gw, rest)
}

/// One `field_filters` item.
fn ff(field: &str, operator: &str, value: Value, custom: bool) -> Value {
    let mut f = json!({"field": field, "operator": operator, "is_custom_field": custom});
    if !value.is_null() {
        f["value"] = value;
    }
    f
}

fn fields(items: &[Value]) -> Value {
    json!({"field_filters": items})
}

/// Checks each `(filters, expected total)`.
async fn expect_totals(rest: &Rest, cases: &[(Value, u64)]) {
    for (filters, expected) in cases {
        assert_eq!(rest.preview_total(filters.clone()).await, *expected, "filters {filters}");
    }
}

/// The names `includeDetails` lists for `filters`, sorted.
async fn names(rest: &Rest, filters: Value) -> Vec<String> {
    let v =
        rest.expect("POST", "/campaigns/preview", Some(json!({"filters": filters, "includeDetails": true})), 200).await;
    let mut n: Vec<String> =
        v["contacts"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect();
    n.sort();
    n
}

#[tokio::test]
async fn no_filters_match_every_contact_with_a_phone() {
    let (_gw, rest) = seeded().await;
    assert_eq!(rest.ok_get("/contacts").await["pagination"]["total"], 8);
    expect_totals(&rest, &[(json!({}), 7), (json!({"field_filters": []}), 7)]).await;
    let all = names(&rest, json!({})).await;
    assert!(!all.contains(&"Carlos Silva".to_owned()), "{all:?}");
}

#[tokio::test]
async fn tag_ids_match_contacts_having_any_of_the_tags() {
    let (_gw, rest) = seeded().await;
    expect_totals(
        &rest,
        &[
            (json!({"tag_ids": ["tag_vip"]}), 3),
            (json!({"tag_ids": ["tag_clientes"]}), 2),
            (json!({"tag_ids": ["tag_vip", "tag_pendentes"]}), 4),
            (json!({"tag_ids": ["tag_vip", "tag_clientes", "tag_pendentes"]}), 5),
            (json!({"tag_ids": ["tag_ghost"]}), 0),
        ],
    )
    .await;
    assert_eq!(names(&rest, json!({"tag_ids": ["tag_vip"]})).await, ["Ana São", "Bruna Lima", "João Silva"]);
}

#[tokio::test]
async fn last_interaction_bounds_are_inclusive() {
    let (_gw, rest) = seeded().await;
    let li = |v: Value| json!({"last_interaction": v});
    expect_totals(
        &rest,
        &[
            (li(json!({"from": "2024-01-01T00:00:00Z", "to": "2024-12-31T23:59:59Z"})), 3),
            (li(json!({"from": "2024-01-01T00:00:00.001Z"})), 3),
            (li(json!({"to": "2024-12-31T23:59:58.999Z"})), 2),
            (li(json!({"to": "2024-01-01T00:00:00Z"})), 1),
            (li(json!({"from": "2024-06-15T12:00:00Z"})), 3),
            (li(json!({"from": "2024-06-15T09:00:00-03:00"})), 3),
            (li(json!({"from": "2025-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"})), 1),
            (li(json!({"from": "2026-01-01T00:00:00Z"})), 0),
        ],
    )
    .await;
    assert_eq!(
        names(&rest, li(json!({"from": "2024-01-01T00:00:00Z", "to": "2024-12-31T23:59:59Z"}))).await,
        ["Ana São", "João Silva", "Maria Souza"],
        "C6 has no phone; C5, C7, C8 never interacted"
    );
}

#[tokio::test]
async fn has_open_conversation_matches_exactly() {
    let (_gw, rest) = seeded().await;
    expect_totals(&rest, &[(json!({"has_open_conversation": true}), 2), (json!({"has_open_conversation": false}), 5)])
        .await;
    assert_eq!(names(&rest, json!({"has_open_conversation": true})).await, ["Lúcia Teste", "Maria Souza"]);
}

#[tokio::test]
async fn legacy_custom_fields_are_exact_case_insensitive_and_numbers_by_value() {
    let (_gw, rest) = seeded().await;
    let cf = |v: Value| json!({"custom_fields": v});
    expect_totals(
        &rest,
        &[
            (cf(json!({"city": "são paulo"})), 2),
            (cf(json!({"city": "SÃO PAULO"})), 2),
            (cf(json!({"city": "São"})), 0),
            (cf(json!({"age": 25})), 2),
            (cf(json!({"age": "25"})), 2),
            (cf(json!({"age": 25.0})), 2),
            (cf(json!({"age": 40})), 1),
            (cf(json!({"city": "são paulo", "age": 25})), 1),
        ],
    )
    .await;
}

#[tokio::test]
async fn operator_equals_is_case_insensitive_for_strings() {
    let (_gw, rest) = seeded().await;
    expect_totals(
        &rest,
        &[
            (fields(&[ff("city", "equals", json!("SÃO PAULO"), true)]), 2),
            (fields(&[ff("city", "equals", json!("são paulo"), true)]), 2),
            (fields(&[ff("city", "equals", json!("São"), true)]), 0),
            (fields(&[ff("email", "equals", json!("ana@acme.com"), false)]), 1),
            (fields(&[ff("name", "equals", json!("PEDRO"), false)]), 1),
            (fields(&[ff("preferred_language", "equals", json!("PT"), true)]), 1),
        ],
    )
    .await;
}

#[tokio::test]
async fn operator_not_equals_includes_contacts_without_the_field() {
    let (_gw, rest) = seeded().await;
    expect_totals(
        &rest,
        &[
            (fields(&[ff("city", "not_equals", json!("são paulo"), true)]), 5),
            (fields(&[ff("preferred_language", "not_equals", json!("pt"), true)]), 6),
            (fields(&[ff("name", "not_equals", json!("pedro"), false)]), 6),
        ],
    )
    .await;
}

#[tokio::test]
async fn operator_contains_is_case_insensitive() {
    let (_gw, rest) = seeded().await;
    expect_totals(
        &rest,
        &[
            (fields(&[ff("city", "contains", json!("são"), true)]), 3),
            (fields(&[ff("city", "contains", json!("SÃO"), true)]), 3),
            (fields(&[ff("name", "contains", json!("A"), false)]), 5),
            (fields(&[ff("phone", "contains", json!("5521"), false)]), 1),
            (fields(&[ff("email", "contains", json!("ACME"), false)]), 2),
        ],
    )
    .await;
    assert_eq!(
        names(&rest, fields(&[ff("city", "contains", json!("são"), true)])).await,
        ["Ana São", "João Silva", "Zé"]
    );
}

#[tokio::test]
async fn operator_not_contains_includes_contacts_without_the_field() {
    let (_gw, rest) = seeded().await;
    expect_totals(
        &rest,
        &[
            (fields(&[ff("city", "not_contains", json!("SÃO"), true)]), 4),
            (fields(&[ff("name", "not_contains", json!("teste"), false)]), 6),
        ],
    )
    .await;
    assert_eq!(
        names(&rest, fields(&[ff("city", "not_contains", json!("SÃO"), true)])).await,
        ["Bruna Lima", "Lúcia Teste", "Maria Souza", "Pedro"]
    );
}

#[tokio::test]
async fn operator_starts_with_is_case_insensitive() {
    let (_gw, rest) = seeded().await;
    expect_totals(
        &rest,
        &[
            (fields(&[ff("name", "starts_with", json!("joão"), false)]), 1),
            (fields(&[ff("name", "starts_with", json!("JOÃO"), false)]), 1),
            (fields(&[ff("city", "starts_with", json!("rio"), true)]), 1),
            (fields(&[ff("phone", "starts_with", json!("+5531"), false)]), 4),
        ],
    )
    .await;
}

#[tokio::test]
async fn operator_ends_with_is_case_insensitive() {
    let (_gw, rest) = seeded().await;
    expect_totals(
        &rest,
        &[
            (fields(&[ff("name", "ends_with", json!("SILVA"), false)]), 1),
            (fields(&[ff("city", "ends_with", json!("JOSÉ"), true)]), 1),
            (fields(&[ff("email", "ends_with", json!("@ACME.com"), false)]), 2),
            (fields(&[ff("phone", "ends_with", json!("13"), false)]), 1),
        ],
    )
    .await;
}

#[tokio::test]
async fn operator_is_empty_matches_empty_and_missing_fields() {
    let (_gw, rest) = seeded().await;
    expect_totals(
        &rest,
        &[
            (fields(&[ff("city", "is_empty", Value::Null, true)]), 1),
            (fields(&[ff("email", "is_empty", Value::Null, false)]), 2),
            (fields(&[ff("age", "is_empty", Value::Null, true)]), 2),
            (fields(&[ff("preferred_language", "is_empty", Value::Null, true)]), 5),
        ],
    )
    .await;
    assert_eq!(names(&rest, fields(&[ff("email", "is_empty", Value::Null, false)])).await, ["Pedro", "Zé"]);
}

#[tokio::test]
async fn operator_is_not_empty_matches_filled_fields() {
    let (_gw, rest) = seeded().await;
    expect_totals(
        &rest,
        &[
            (fields(&[ff("city", "is_not_empty", Value::Null, true)]), 6),
            (fields(&[ff("email", "is_not_empty", Value::Null, false)]), 5),
            (fields(&[ff("age", "is_not_empty", Value::Null, true)]), 5),
            (fields(&[ff("preferred_language", "is_not_empty", Value::Null, true)]), 2),
            (fields(&[ff("phone", "is_not_empty", Value::Null, false)]), 7),
        ],
    )
    .await;
}

#[tokio::test]
async fn numbers_compare_by_value() {
    let (_gw, rest) = seeded().await;
    expect_totals(
        &rest,
        &[
            (fields(&[ff("age", "equals", json!(25), true)]), 2),
            (fields(&[ff("age", "equals", json!("25"), true)]), 2),
            (fields(&[ff("age", "equals", json!(25.0), true)]), 2),
            (fields(&[ff("age", "equals", json!(40), true)]), 1),
            (fields(&[ff("age", "not_equals", json!(17), true)]), 6),
            (fields(&[ff("age", "not_equals", json!("17.0"), true)]), 6),
        ],
    )
    .await;
    assert_eq!(
        names(&rest, fields(&[ff("age", "equals", json!(25), true)])).await,
        ["João Silva", "Lúcia Teste"],
        "Lúcia's age was given as \"25\""
    );
}

#[tokio::test]
async fn every_filter_kind_is_anded() {
    let (_gw, rest) = seeded().await;
    let sao = ff("city", "contains", json!("são"), true);
    expect_totals(
        &rest,
        &[
            (json!({"tag_ids": ["tag_vip"], "has_open_conversation": false, "field_filters": [sao.clone()]}), 2),
            (
                json!({"tag_ids": ["tag_vip"], "has_open_conversation": false, "field_filters": [sao.clone()],
                       "last_interaction": {"to": "2024-06-30T00:00:00Z"}}),
                1,
            ),
            (fields(&[sao.clone(), ff("age", "equals", json!(25), true)]), 1),
            (
                fields(&[ff("email", "ends_with", json!("@acme.com"), false), ff("name", "not_contains", json!("ana"), false)]),
                1,
            ),
            (json!({"tag_ids": ["tag_pendentes"], "has_open_conversation": true}), 1),
            (json!({"custom_fields": {"city": "são paulo"}, "field_filters": [ff("name", "starts_with", json!("z"), false)]}), 1),
            (json!({"tag_ids": ["tag_clientes"], "has_open_conversation": true, "custom_fields": {"age": 30}}), 0),
        ],
    )
    .await;
    assert_eq!(
        names(&rest, json!({"tag_ids": ["tag_vip"], "has_open_conversation": false, "field_filters": [sao]})).await,
        ["Ana São", "João Silva"]
    );
}

#[tokio::test]
async fn a_started_campaign_reaches_exactly_the_previewed_contacts() {
    let (_gw, rest) = seeded().await;
    let filters = json!({"tag_ids": ["tag_vip", "tag_clientes"], "has_open_conversation": false,
                         "field_filters": [ff("city", "contains", json!("são"), true)]});
    let preview =
        rest.expect("POST", "/campaigns/preview", Some(json!({"filters": filters, "includeDetails": true})), 200).await;
    assert_eq!(preview["total"], 2);
    let mut expected: Vec<String> =
        preview["contacts"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    let id = rest.text_campaign("filtered", "Oi {{nome}}", 300, filters).await;
    assert_eq!(rest.start(&id).await["total_contacts"], 2);
    let mut reached: Vec<String> =
        rest.messages(&id, None).await.iter().map(|r| r["contact_id"].as_str().unwrap().to_owned()).collect();
    expected.sort();
    reached.sort();
    assert_eq!(reached, expected);
}

#[tokio::test]
async fn invalid_filters_are_400_naming_the_field_on_preview_create_and_update() {
    let (_gw, rest) = seeded().await;
    let draft = rest.text_campaign("draft", "Oi", 300, Value::Null).await;
    let cases = [
        (fields(&[ff("city", "contains", Value::Null, true)]), "filters.field_filters[0].value"),
        (fields(&[json!({"field": "city", "operator": "equals", "value": null, "is_custom_field": true})]), "value"),
        (
            fields(&[ff("name", "equals", json!("x"), false), ff("city", "starts_with", Value::Null, true)]),
            "field_filters[1].value",
        ),
        (fields(&[ff("city", "greater_than", json!(3), true)]), "greater_than"),
        (fields(&[json!({"field": "city", "value": "x", "is_custom_field": true})]), "operator"),
        (fields(&[ff("planet", "equals", json!("Mars"), true)]), "planet"),
        (fields(&[ff("city", "equals", json!("x"), false)]), "city"),
        (fields(&[ff("city", "equals", json!({"a": 1}), true)]), "value"),
        (json!({"custom_fields": {"planet": "Mars"}}), "planet"),
        (json!({"last_interaction": {"from": "ontem"}}), "last_interaction.from"),
        (json!({"last_interaction": {"to": "2024-13-45"}}), "last_interaction.to"),
        (json!({"tag_ids": "tag_vip"}), "tag_ids"),
        (json!({"has_open_conversation": "yes"}), "has_open_conversation"),
    ];
    for (filters, named) in cases {
        let m = rest.fails("POST", "/campaigns/preview", Some(json!({"filters": filters})), 400).await;
        assert!(m.contains(named), "preview {filters}: {m}");
        let body = json!({"name": "x", "channel_id": "channel_123", "filters": filters,
                          "content": {"type": "text", "text": {"body": "Oi"}}});
        let m = rest.fails("POST", "/campaigns", Some(body), 400).await;
        assert!(m.contains(named), "create {filters}: {m}");
        let m = rest.fails("PUT", &format!("/campaigns/{draft}"), Some(json!({"filters": filters})), 400).await;
        assert!(m.contains(named), "update {filters}: {m}");
    }
    assert_eq!(rest.ok_get("/campaigns").await["pagination"]["total"], 1);
}

#[tokio::test]
async fn text_operators_see_numbers_as_written() {
    let (_gw, rest) = seeded().await;
    expect_totals(
        &rest,
        &[
            (fields(&[ff("age", "ends_with", json!("25"), true)]), 2),
            (fields(&[ff("age", "ends_with", json!("40"), true)]), 1),
            (fields(&[ff("age", "contains", json!("."), true)]), 0),
        ],
    )
    .await;
}
