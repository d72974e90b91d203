//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document that describes what the gateway
//! really does — every operation called with the API key answers a documented status with a
//! body matching the documented schema, and every route the router serves is documented.

mod support;

use std::collections::BTreeSet;

use serde_json::{json, Value};
use support::*;

const NIL: &str = "00000000-0000-4000-8000-000000000000";

async fn document(gw: &Gateway) -> Value {
    let reply = Rest::new(gw).get("/openapi.json").await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

/// `(METHOD, path)` of every operation in the document.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if item.get(method).is_some() {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn documented_statuses(doc: &Value, method: &str, path: &str) -> BTreeSet<u16> {
    let op = &doc["paths"][path][method.to_lowercase()];
    op["responses"].as_object().unwrap().keys().map(|k| k.parse().unwrap_or_else(|_| panic!("status {k}"))).collect()
}

/// Follows `$ref`s within the document.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unsupported $ref {r}"));
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        _ => true,
    }
}

/// Checks `v` against `schema` (types, required properties, items, oneOf); returns the
/// problems found, each with its JSON path.
fn check(doc: &Value, schema: &Value, v: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(variants) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
        let ok = variants.iter().any(|s| {
            let mut p = Vec::new();
            check(doc, s, v, at, &mut p);
            p.is_empty()
        });
        if !ok {
            problems.push(format!("{at}: {v} matches none of {}", Value::Array(variants.clone())));
        }
        return;
    }
    match schema.get("type") {
        Some(Value::String(t)) if !type_matches(t, v) => {
            problems.push(format!("{at}: {v} is not {t}"));
            return;
        }
        Some(Value::Array(ts)) if !ts.iter().any(|t| type_matches(t.as_str().unwrap_or_default(), v)) => {
            problems.push(format!("{at}: {v} is none of {}", Value::Array(ts.clone())));
            return;
        }
        _ => {}
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            problems.push(format!("{at}: {v} is not one of {}", Value::Array(allowed.clone())));
        }
    }
    if let (Some(obj), Some(props)) = (v.as_object(), schema.get("properties").and_then(Value::as_object)) {
        for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let key = req.as_str().unwrap();
            if !obj.contains_key(key) {
                problems.push(format!("{at}: required property {key} is missing"));
            }
        }
        for (k, value) in obj {
            if let Some(s) = props.get(k) {
                check(doc, s, value, &format!("{at}.{k}"), problems);
            }
        }
    }
    if let (Some(items), Some(schema)) = (v.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(doc, schema, item, &format!("{at}[{i}]"), problems);
        }
    }
}

/// One request to try on an operation.
struct Probe {
    path: String,
    body: Option<Value>,
    csv: Option<String>,
    what: &'static str,
}

fn probe(path: String, body: Option<Value>, what: &'static str) -> Probe {
    Probe { path, body, csv: None, what }
}

fn text_campaign(name: &str, rate: u32) -> Value {
    json!({"name": name, "message_type": "TEXT", "channel_id": "channel_123", "rate_limit_per_minute": rate,
           "content": {"type": "text", "text": {"body": "Oi {{nome}}"}}})
}

/// A fresh campaign of the workspace in `status` (DRAFT, RUNNING or PAUSED).
async fn campaign_in(rest: &Rest, status: &str) -> String {
    let id = rest.campaign(text_campaign(status, 1)).await;
    if status != "DRAFT" {
        rest.start(&id).await;
    }
    if status == "PAUSED" {
        rest.expect("POST", &format!("/campaigns/{id}/pause"), None, 200).await;
    }
    id
}

/// A valid request (created resources as needed) and a failing one for each documented
/// operation; panics for an operation this test does not know, so new ones get covered.
async fn probes(rest: &Rest, method: &str, path: &str) -> Vec<Probe> {
    let unique = id();
    let short = &unique[..8];
    let p = |s: &str| format!("/api/v1{s}");
    match (method, path.strip_prefix("/api/v1").unwrap_or(path)) {
        ("GET", "/campaigns") => vec![
            probe(p("/campaigns?status=DRAFT&limit=5"), None, "valid"),
            probe(p("/campaigns?limit=500"), None, "bad query"),
        ],
        ("POST", "/campaigns") => vec![
            probe(p("/campaigns"), Some(text_campaign("doc", 300)), "valid"),
            probe(p("/campaigns"), Some(json!({"name": ""})), "invalid"),
        ],
        ("POST", "/campaigns/preview") => vec![
            probe(p("/campaigns/preview"), Some(json!({"filters": {}, "includeDetails": true})), "valid"),
            probe(p("/campaigns/preview"), Some(json!({"filters": {"custom_fields": {"ghost": 1}}})), "invalid"),
        ],
        ("GET", "/campaigns/tags" | "/campaigns/channels" | "/campaigns/custom-fields") => {
            vec![probe(p(path.strip_prefix("/api/v1").unwrap()), None, "valid")]
        }
        ("GET", "/campaigns/templates") => vec![probe(p("/campaigns/templates?channel_id=channel_123"), None, "valid")],
        ("POST", "/campaigns/tags") => vec![
            probe(p("/campaigns/tags"), Some(json!({"name": format!("tag {short}")})), "valid"),
            probe(p("/campaigns/tags"), Some(json!({})), "invalid"),
        ],
        ("POST", "/campaigns/channels") => vec![
            probe(p("/campaigns/channels"), Some(json!({"name": "doc", "type": "whatsapp"})), "valid"),
            probe(
                p("/campaigns/channels"),
                Some(json!({"id": "channel_123", "name": "x", "type": "whatsapp"})),
                "duplicate",
            ),
        ],
        ("POST", "/campaigns/templates") => vec![
            probe(
                p("/campaigns/templates"),
                Some(json!({"name": format!("t_{short}"), "channel_id": "channel_123", "body": "Oi {{1}}"})),
                "valid",
            ),
            probe(p("/campaigns/templates"), Some(json!({"name": "t", "channel_id": "nope", "body": "x"})), "invalid"),
        ],
        ("POST", "/campaigns/custom-fields") => vec![
            probe(
                p("/campaigns/custom-fields"),
                Some(json!({"key": format!("k_{short}"), "name": "K", "type": "TEXT"})),
                "valid",
            ),
            probe(
                p("/campaigns/custom-fields"),
                Some(json!({"key": "nome", "name": "Nome", "type": "TEXT"})),
                "invalid",
            ),
        ],
        ("GET", "/campaigns/{id}/messages.csv") => {
            let id = campaign_in(rest, "RUNNING").await;
            vec![
                probe(p(&format!("/campaigns/{id}/messages.csv?status=pending")), None, "valid"),
                probe(p(&format!("/campaigns/{id}/messages.csv?status=LOST")), None, "bad query"),
                probe(p(&format!("/campaigns/{NIL}/messages.csv")), None, "unknown id"),
            ]
        }
        ("GET", "/campaigns/{id}" | "/campaigns/{id}/stats" | "/campaigns/{id}/messages") => {
            let id = campaign_in(rest, "RUNNING").await;
            let route = path.strip_prefix("/api/v1").unwrap();
            vec![
                probe(p(&route.replace("{id}", &id)), None, "valid"),
                probe(p(&route.replace("{id}", NIL)), None, "unknown id"),
            ]
        }
        ("PUT", "/campaigns/{id}") => {
            let draft = campaign_in(rest, "DRAFT").await;
            let running = campaign_in(rest, "RUNNING").await;
            vec![
                probe(p(&format!("/campaigns/{draft}")), Some(json!({"name": "renamed"})), "valid"),
                probe(p(&format!("/campaigns/{draft}")), Some(json!({"rate_limit_per_minute": 0})), "invalid"),
                probe(p(&format!("/campaigns/{running}")), Some(json!({"name": "x"})), "not a draft"),
            ]
        }
        ("DELETE", "/campaigns/{id}") => vec![
            probe(p(&format!("/campaigns/{}", campaign_in(rest, "DRAFT").await)), None, "valid"),
            probe(p(&format!("/campaigns/{}", campaign_in(rest, "RUNNING").await)), None, "running"),
            probe(p(&format!("/campaigns/{NIL}")), None, "unknown id"),
        ],
        ("POST", "/campaigns/{id}/start") => vec![
            probe(p(&format!("/campaigns/{}/start", campaign_in(rest, "DRAFT").await)), None, "valid"),
            probe(
                p(&format!("/campaigns/{}/start", campaign_in(rest, "DRAFT").await)),
                Some(json!({"scheduled_at": "2099-01-01T00:00:00Z"})),
                "valid scheduled",
            ),
            probe(p(&format!("/campaigns/{}/start", campaign_in(rest, "RUNNING").await)), None, "not a draft"),
        ],
        ("POST", "/campaigns/{id}/pause") => vec![
            probe(p(&format!("/campaigns/{}/pause", campaign_in(rest, "RUNNING").await)), None, "valid"),
            probe(p(&format!("/campaigns/{}/pause", campaign_in(rest, "DRAFT").await)), None, "not running"),
        ],
        ("POST", "/campaigns/{id}/resume") => vec![
            probe(p(&format!("/campaigns/{}/resume", campaign_in(rest, "PAUSED").await)), None, "valid"),
            probe(p(&format!("/campaigns/{}/resume", campaign_in(rest, "RUNNING").await)), None, "not paused"),
        ],
        ("POST", "/campaigns/{id}/cancel") => vec![
            probe(p(&format!("/campaigns/{}/cancel", campaign_in(rest, "RUNNING").await)), None, "valid"),
            probe(p(&format!("/campaigns/{NIL}/cancel")), None, "unknown id"),
        ],
        ("GET", "/contacts") => {
            vec![probe(p("/contacts?page=1&limit=10"), None, "valid"), probe(p("/contacts?limit=0"), None, "bad query")]
        }
        ("POST", "/contacts") => vec![
            probe(p("/contacts"), Some(json!({"name": "Doc", "email": format!("{short}@example.com")})), "valid"),
            probe(p("/contacts"), Some(json!({"phone": "abc"})), "invalid"),
            probe(p("/contacts"), Some(json!({"phone": "+5531998761234"})), "phone taken"),
        ],
        ("POST", "/contacts/import") => vec![
            Probe {
                path: p("/contacts/import"),
                body: None,
                csv: Some("name,phone\nImportado,+5531998700011\n".into()),
                what: "valid",
            },
            Probe { path: p("/contacts/import"), body: None, csv: Some("name\nx\n".into()), what: "no phone column" },
        ],
        ("GET" | "PUT" | "DELETE", "/contacts/{id}") => {
            let id = rest.contact(json!({"name": "Doc"})).await;
            let body = (method == "PUT").then(|| json!({"name": "Doc 2"}));
            let mut v = vec![
                probe(p(&format!("/contacts/{id}")), body.clone(), "valid"),
                probe(p(&format!("/contacts/{NIL}")), body, "unknown id"),
            ];
            if method == "PUT" {
                v.push(probe(p(&format!("/contacts/{id}")), Some(json!({"email": "nope"})), "invalid"));
            }
            v
        }
        ("POST", "/campaigns/channels/{id}/templates/sync") => vec![
            probe(p("/campaigns/channels/channel_123/templates/sync"), None, "a channel without template sync"),
            probe(p("/campaigns/channels/nope/templates/sync"), None, "unknown channel"),
        ],
        // Its 200 is a stream without end (tests/campaign_events.rs reads it); here the 404.
        ("GET", "/campaigns/{id}/events") => vec![probe(p(&format!("/campaigns/{NIL}/events")), None, "unknown id")],
        ("POST", "/simulator/{channel_id}/inbound") => vec![
            probe(p("/simulator/channel_123/inbound"), Some(json!({"from": "+5531998760101", "text": "oi"})), "valid"),
            probe(p("/simulator/channel_123/inbound"), Some(json!({"from": "abc", "text": "oi"})), "bad phone"),
            probe(
                p("/simulator/nope/inbound"),
                Some(json!({"from": "+5531998760101", "text": "oi"})),
                "unknown channel",
            ),
        ],
        ("GET", "/suppressions") => vec![
            probe(p("/suppressions?phone=%2B5531998760901"), None, "valid"),
            probe(p("/suppressions?limit=0"), None, "bad query"),
        ],
        ("POST", "/suppressions") => vec![
            probe(p("/suppressions"), Some(json!({"phone": "+5531998760902", "reason": "asked"})), "valid"),
            probe(p("/suppressions"), Some(json!({"phone": "abc"})), "invalid"),
        ],
        ("DELETE", "/suppressions/{phone}") => {
            rest.created("/suppressions", json!({"phone": "+5531998760903"})).await;
            vec![
                probe(p("/suppressions/+5531998760903"), None, "valid"),
                probe(p("/suppressions/+5531998760904"), None, "not on the list"),
                probe(p("/suppressions/abc"), None, "invalid"),
            ]
        }
        // A public address of a documentation range: accepted, never resolved, never answers.
        ("GET", "/webhooks") => vec![probe(p("/webhooks"), None, "valid")],
        ("POST", "/webhooks") => {
            let body = |url: &str| json!({"url": url, "events": ["campaign.status"], "secret": "k"});
            vec![
                probe(p("/webhooks"), Some(body("https://203.0.113.9/h")), "valid"),
                probe(p("/webhooks"), Some(body("https://127.0.0.1/h")), "a loopback address"),
            ]
        }
        ("GET" | "DELETE", "/webhooks/{id}") => {
            let w = rest
                .created(
                    "/webhooks",
                    json!({"url": "https://203.0.113.9/h", "events": ["campaign.status"], "secret": "k"}),
                )
                .await;
            let id = w["id"].as_str().unwrap().to_owned();
            vec![
                probe(p(&format!("/webhooks/{id}")), None, "valid"),
                probe(p(&format!("/webhooks/{NIL}")), None, "unknown id"),
            ]
        }
        ("GET", "/webhooks/{id}/deliveries") => {
            let w = rest
                .created(
                    "/webhooks",
                    json!({"url": "https://203.0.113.9/h", "events": ["campaign.status"], "secret": "k"}),
                )
                .await;
            let id = w["id"].as_str().unwrap().to_owned();
            vec![
                probe(p(&format!("/webhooks/{id}/deliveries?status=pending")), None, "valid"),
                probe(p(&format!("/webhooks/{id}/deliveries?status=lost")), None, "bad query"),
                probe(p(&format!("/webhooks/{NIL}/deliveries")), None, "unknown id"),
            ]
        }
        ("POST", "/webhooks/{id}/deliveries/{event_id}/replay") => {
            let w = rest
                .created(
                    "/webhooks",
                    json!({"url": "https://203.0.113.9/h", "events": ["campaign.status"], "secret": "k"}),
                )
                .await;
            let id = w["id"].as_str().unwrap().to_owned();
            campaign_in(rest, "RUNNING").await;
            let log = rest.ok_get(&format!("/webhooks/{id}/deliveries")).await;
            let event = log["data"][0]["event_id"].as_str().expect("the campaign's RUNNING event").to_owned();
            vec![
                probe(p(&format!("/webhooks/{id}/deliveries/{event}/replay")), None, "valid"),
                probe(p(&format!("/webhooks/{id}/deliveries/{NIL}/replay")), None, "unknown event"),
            ]
        }
        ("POST", "/campaigns/{id}/retry") => vec![
            probe(
                p(&format!("/campaigns/{}/retry", campaign_in(rest, "PAUSED").await)),
                Some(json!({"scope": "failed"})),
                "valid",
            ),
            probe(
                p(&format!("/campaigns/{}/retry", campaign_in(rest, "DRAFT").await)),
                Some(json!({"scope": "transient"})),
                "draft",
            ),
            probe(p(&format!("/campaigns/{NIL}/retry")), Some(json!({"scope": "sometimes"})), "bad scope"),
            probe(p(&format!("/campaigns/{NIL}/retry")), Some(json!({"scope": "failed"})), "unknown id"),
        ],
        ("POST", "/segments") => vec![
            probe(p("/segments"), Some(json!({"name": format!("segment {short}"), "filters": {}})), "valid"),
            probe(p("/segments"), Some(json!({"name": "  "})), "empty name"),
            probe(
                p("/segments"),
                Some(json!({"name": "bad filter", "filters": {"custom_fields": {"planet": "Mars"}}})),
                "unknown custom field",
            ),
        ],
        ("GET", "/segments") => {
            vec![probe(p("/segments"), None, "valid"), probe(p("/segments?limit=101"), None, "limit")]
        }
        ("GET" | "PUT" | "DELETE", "/segments/{id}") | ("POST", "/segments/{id}/preview") => {
            let made = rest.created("/segments", json!({"name": format!("probe {unique}")})).await;
            let id = made["id"].as_str().unwrap().to_owned();
            let tail = if path.ends_with("/preview") { "/preview" } else { "" };
            let body = match method {
                "PUT" => Some(json!({"name": format!("renamed {unique}")})),
                "POST" => Some(json!({"includeDetails": true})),
                _ => None,
            };
            let mut out = vec![
                probe(p(&format!("/segments/{id}{tail}")), body.clone(), "valid"),
                probe(p(&format!("/segments/{NIL}{tail}")), body, "unknown id"),
            ];
            if method == "PUT" {
                out.push(probe(p(&format!("/segments/{id}")), Some(json!({"name": ""})), "empty name"));
            }
            out
        }
        ("POST", "/campaigns/{id}/clone") => vec![
            probe(p(&format!("/campaigns/{}/clone", campaign_in(rest, "RUNNING").await)), Some(json!({})), "valid"),
            probe(
                p(&format!("/campaigns/{}/clone", campaign_in(rest, "DRAFT").await)),
                Some(json!({"name": " "})),
                "empty name",
            ),
            probe(p(&format!("/campaigns/{NIL}/clone")), None, "unknown id"),
        ],
        (m, other) => panic!("the document has {m} {other}, which this test does not know how to call"),
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_declares_the_x_api_key_scheme() {
    let gw = Gateway::start().await;
    let doc = document(&gw).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "openapi = {}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string(), "{}", doc["info"]);
    let schemes = doc["components"]["securitySchemes"].as_object().expect("securitySchemes");
    let (name, scheme) = schemes.iter().find(|(_, s)| s["type"] == "apiKey").expect("an apiKey scheme");
    assert_eq!((scheme["in"].as_str(), scheme["name"].as_str()), (Some("header"), Some("X-API-Key")), "{scheme}");
    for (method, path) in operations(&doc) {
        let security = &doc["paths"][&path][method.to_lowercase()]["security"];
        let uses = security.as_array().is_some_and(|s| s.iter().any(|r| r.get(name).is_some()));
        assert!(uses, "{method} {path} does not declare the {name} security: {security}");
    }
}

#[tokio::test]
async fn every_documented_operation_answers_a_documented_status_and_schema() {
    let gw = Gateway::start().await;
    let doc = document(&gw).await;
    let rest = Rest::new(&gw);
    // Contacts for audiences; +5531998761234 also makes "phone taken" fail.
    rest.contact(json!({"name": "Ana", "phone": "+5531998761234"})).await;
    rest.contact(json!({"name": "Bia", "phone": "+5531998765678"})).await;
    // The checker itself sees a wrong body.
    let mut sanity = Vec::new();
    check(&doc, &json!({"$ref": "#/components/schemas/CampaignView"}), &json!({"id": 1}), "$", &mut sanity);
    assert!(sanity.iter().any(|p| p.contains("$.id")) && sanity.iter().any(|p| p.contains("name")), "{sanity:?}");
    let ops = operations(&doc);
    assert!(ops.len() >= 26, "only {} operations documented", ops.len());
    let mut problems = Vec::new();
    for (method, path) in &ops {
        let statuses = documented_statuses(&doc, method, path);
        for pr in probes(&rest, method, path).await {
            let mut headers = vec![("x-api-key", API_KEY)];
            let body = match (&pr.body, &pr.csv) {
                (_, Some(csv)) => {
                    headers.push(("content-type", "text/csv"));
                    bytes::Bytes::from(csv.clone())
                }
                (Some(b), None) => {
                    headers.push(("content-type", "application/json"));
                    bytes::Bytes::from(b.to_string())
                }
                (None, None) => bytes::Bytes::new(),
            };
            let reply = http_request(gw.addr, method, &pr.path, &headers, body).await;
            let label =
                format!("{method} {path} ({}): {} {}", pr.what, reply.status, String::from_utf8_lossy(&reply.body));
            if pr.what.starts_with("valid") {
                assert!((200..300).contains(&reply.status), "a valid call failed: {label}");
            } else {
                assert!(reply.status >= 400, "an invalid call succeeded: {label}");
            }
            if !statuses.contains(&reply.status) {
                problems.push(format!("undocumented status: {label} (documented {statuses:?})"));
                continue;
            }
            let response = &doc["paths"][path][method.to_lowercase()]["responses"][reply.status.to_string()];
            if let Some(schema) = response.pointer("/content/application~1json/schema") {
                let mut found = Vec::new();
                check(&doc, schema, &reply.json(), "$", &mut found);
                problems.extend(found.into_iter().map(|p| format!("{method} {path} ({}): {p}", pr.what)));
            } else if reply.status == 204 {
                assert!(reply.body.is_empty(), "{label}");
            }
        }
    }
    assert!(problems.is_empty(), "the document does not describe what the gateway does:\n{}", problems.join("\n"));
}

#[tokio::test]
async fn every_route_the_router_serves_is_documented() {
    // `support::ROUTES` is the router's: check it against src/rest/mod.rs so it cannot drift.
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/rest/mod.rs")).unwrap();
    let mut served = BTreeSet::new();
    for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
        let path = line[".route(\"".len()..].split('"').next().unwrap();
        for (needle, method) in [("get(", "GET"), ("post(", "POST"), ("put(", "PUT"), ("delete(", "DELETE")] {
            if line.contains(&format!("({needle}"))
                || line.contains(&format!(", {needle}"))
                || line.contains(&format!(".{needle}"))
            {
                served.insert((method.to_owned(), path.to_owned()));
            }
        }
    }
    let listed: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(served, listed, "ROUTES differs from src/rest/mod.rs");

    let gw = Gateway::start().await;
    let doc = document(&gw).await;
    let documented: BTreeSet<(String, String)> = operations(&doc).into_iter().collect();
    // The document does not describe itself (see the report): every other route must be in it.
    let missing: Vec<_> = ROUTES
        .iter()
        .filter(|(_, p)| *p != "/openapi.json")
        .filter(|(m, p)| !documented.contains(&(m.to_string(), format!("/api/v1{p}"))))
        .collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    let unserved: Vec<_> = documented
        .iter()
        .filter(|(m, p)| !listed.contains(&(m.clone(), p.strip_prefix("/api/v1").unwrap_or(p).to_owned())))
        .collect();
    assert!(unserved.is_empty(), "documented but not served: {unserved:?}");
}

#[tokio::test]
async fn every_operation_documents_the_401_it_answers_without_a_key() {
    let gw = Gateway::start().await;
    let doc = document(&gw).await;
    let anonymous = Rest::with_key(&gw, None);
    let mut undocumented = Vec::new();
    for (method, path) in operations(&doc) {
        let route = path.strip_prefix("/api/v1").unwrap().replace("{id}", NIL);
        let reply = anonymous.call(&method, &route, Some(&json!({}))).await;
        assert_eq!(reply.status, 401, "{method} {path}");
        if !documented_statuses(&doc, &method, &path).contains(&401) {
            undocumented.push(format!("{method} {path}"));
        }
    }
    assert!(undocumented.is_empty(), "401 not documented on: {undocumented:?}");
}

#[tokio::test]
async fn documented_errors_describe_the_error_body() {
    let gw = Gateway::start().await;
    let doc = document(&gw).await;
    let mut bare = Vec::new();
    for (method, path) in operations(&doc) {
        let responses = doc["paths"][&path][method.to_lowercase()]["responses"].as_object().unwrap().clone();
        for (status, response) in responses.iter().filter(|(s, _)| s.starts_with('4')) {
            let schema = response.pointer("/content/application~1json/schema").map(|s| resolve(&doc, s));
            let describes = schema
                .is_some_and(|s| s["properties"].get("error").is_some() && s["properties"].get("message").is_some());
            if !describes {
                bare.push(format!("{method} {path} {status}"));
            }
        }
    }
    assert!(bare.is_empty(), "error responses without the {{error, message}} schema: {bare:?}");
}

#[tokio::test]
async fn start_accepts_the_null_body_the_document_allows() {
    let gw = Gateway::start().await;
    let doc = document(&gw).await;
    let schema = doc
        .pointer("/paths/~1api~1v1~1campaigns~1{id}~1start/post/requestBody/content/application~1json/schema")
        .unwrap();
    let mut p = Vec::new();
    check(&doc, schema, &Value::Null, "$", &mut p);
    assert!(p.is_empty(), "null is not allowed after all: {p:?}");
    let rest = Rest::new(&gw);
    rest.contact(json!({"name": "Ana", "phone": "+5531998761234"})).await;
    let id = rest.campaign(text_campaign("null body", 300)).await;
    let reply = rest.raw("POST", &format!("/campaigns/{id}/start"), "application/json", "null").await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
}
