//! `GET /api/v1/campaigns/{id}/messages.csv`: the rows of the JSON messages list, filter for
//! filter, as RFC 4180 CSV with a header, a download name and cells a spreadsheet will not run.

mod support;

use serde_json::{json, Value};
use support::client::{Client, Transport};
use support::*;

const HEADER: [&str; 10] = [
    "phone",
    "identity",
    "status",
    "reason_code",
    "reason_description",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "replied",
];

/// The CSV of `path` (a 200 with the CSV headers), parsed: its header and its records.
async fn csv(rest: &Rest, path: &str) -> (Vec<String>, Vec<Vec<String>>, HttpReply) {
    let reply = rest.get(path).await;
    assert_eq!(reply.status, 200, "{path}: {}", String::from_utf8_lossy(&reply.body));
    let header = |name: &str| reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("content-type"), "text/csv; charset=utf-8", "{path}");
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(&reply.body[..]);
    let head = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (head, rows, reply)
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn every_filter_exports_the_rows_of_the_json_list() {
    let gw = Gateway::start().await;
    let rest = Rest::new(&gw);
    let mut lime = Client::connect(&gw, Transport::Http).await;
    // READ, FAILED 131026, FAILED 1002, SENT only, DELIVERED only, READ, and a number that
    // is not one (FAILED 1001), given as a spreadsheet formula.
    let numbers = [
        "+5531998761005",
        "+5531998760000",
        "+5531998760001",
        "+5531998760002",
        "+5531998760003",
        "5531998761015",
        "=1+2",
    ];
    let c = lime.full(batch("export", &numbers)).await;
    let id = c["id"].as_str().unwrap().to_owned();
    rest.stats_until(&id, "every final state", |s| {
        s["read"] == 2 && s["delivered"] == 1 && s["sent"] == 1 && s["failed"] == 3
    })
    .await;

    let (head, all, reply) = csv(&rest, &format!("/campaigns/{id}/messages.csv")).await;
    assert_eq!(head, HEADER);
    let disposition = reply.headers.get("content-disposition").unwrap().to_str().unwrap();
    assert_eq!(disposition, format!("attachment; filename=\"campaign-{id}-messages.csv\""));
    assert_eq!(all.len(), numbers.len());
    assert!(String::from_utf8_lossy(&reply.body).contains("\r\n"), "RFC 4180 line ends");

    for status in [None, Some("PENDING"), Some("SENT"), Some("DELIVERED"), Some("READ"), Some("FAILED"), Some("failed")]
    {
        let path = match status {
            Some(s) => format!("/campaigns/{id}/messages.csv?status={s}"),
            None => format!("/campaigns/{id}/messages.csv"),
        };
        let (_, rows, _) = csv(&rest, &path).await;
        let listed = rest.messages(&id, status).await;
        assert_eq!(rows.len(), listed.len(), "{path}");
        for (row, m) in rows.iter().zip(&listed) {
            let phone = text(&m["phone"]);
            let expected_phone = if phone.starts_with('=') { format!("'{phone}") } else { phone.clone() };
            assert_eq!(row[0], expected_phone, "{path}: {m}");
            assert_eq!(row[2], text(&m["status"]), "{path}: {m}");
            assert_eq!(row[3], text(&m["error_code"]), "{path}: {m}");
            assert_eq!(row[4], text(&m["error_message"]), "{path}: {m}");
            for (i, field) in ["sent_at", "delivered_at", "read_at", "failed_at"].iter().enumerate() {
                assert_eq!(row[5 + i], text(&m[*field]), "{path}: {field} of {m}");
            }
            assert_eq!(row[9], "", "replies are not attributed yet: {m}");
        }
    }

    let row = |phone: &str| all.iter().find(|r| r[0] == phone).unwrap_or_else(|| panic!("{phone} in {all:?}")).clone();
    let read = row("+5531998761005");
    assert_eq!((read[1].as_str(), read[2].as_str()), ("5531998761005@wa.gw.msging.net", "READ"));
    assert!(!read[5].is_empty() && !read[6].is_empty() && !read[7].is_empty() && read[8].is_empty(), "{read:?}");
    let undeliverable = row("+5531998760000");
    assert_eq!((undeliverable[2].as_str(), undeliverable[3].as_str()), ("FAILED", "131026"), "{undeliverable:?}");
    assert!(!undeliverable[4].is_empty() && !undeliverable[8].is_empty(), "{undeliverable:?}");
    let invalid = row("'=1+2");
    assert_eq!(
        (invalid[1].as_str(), invalid[3].as_str(), invalid[4].as_str()),
        ("'=1+2", "1001", "Invalid phone number")
    );

    let (_, failed, reply) = csv(&rest, &format!("/campaigns/{id}/messages.csv?status=FAILED")).await;
    assert_eq!(failed.len(), 3);
    let disposition = reply.headers.get("content-disposition").unwrap().to_str().unwrap();
    assert_eq!(disposition, format!("attachment; filename=\"campaign-{id}-messages-failed.csv\""));
    gw.stop().await;
}

#[tokio::test]
async fn a_draft_exports_its_header_and_pending_rows_and_bad_requests_are_clear() {
    let gw = Gateway::start_with(config_with_tenants()).await;
    let rest = Rest::new(&gw);
    rest.contact(json!({"name": "Ana, \"a\" Silva", "phone": "+5531998761234"})).await;
    let id = rest.text_campaign("draft", "Oi {{nome}}", 300, Value::Null).await;
    let (head, rows, _) = csv(&rest, &format!("/campaigns/{id}/messages.csv")).await;
    assert_eq!(head, HEADER);
    assert!(rows.is_empty(), "a DRAFT REST campaign has no frozen audience yet: {rows:?}");

    let message = rest.fails("GET", &format!("/campaigns/{id}/messages.csv?status=LOST"), None, 400).await;
    assert!(message.contains("status") && message.contains("LOST"), "{message}");
    let nil = "00000000-0000-4000-8000-000000000000";
    rest.fails("GET", &format!("/campaigns/{nil}/messages.csv"), None, 404).await;
    rest.fails("GET", "/campaigns/not-a-uuid/messages.csv", None, 404).await;
    let other = Rest::with_key(&gw, Some(OTHER_KEY));
    other.fails("GET", &format!("/campaigns/{id}/messages.csv"), None, 404).await;
    Rest::with_key(&gw, None).fails("GET", &format!("/campaigns/{id}/messages.csv"), None, 401).await;
    gw.stop().await;
}
