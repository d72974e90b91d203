//! A failing store (here: SQLite with its tables gone underneath the gateway) is answered with
//! a retryable failure and a correlation id on every face — never with the driver's text,
//! which names tables, files and hosts.

mod support;

use serde_json::{json, Value};
use support::*;

/// Words of SQLite / sqlx error texts that must not reach a client.
const LEAKS: &[&str] = &["no such table", "sqlite", "sqlx", "database", "campaigns\"", ".db"];

fn assert_no_leak(told: &str) {
    for leak in LEAKS {
        assert!(!told.to_lowercase().contains(leak), "{leak:?} leaked in {told:?}");
    }
    assert!(told.contains("correlation id "), "{told}");
}

#[tokio::test]
async fn a_storage_failure_reaches_clients_as_a_retryable_error_without_its_detail() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("irisgate.db");
    let mut config = config_with_tenants();
    config.storage.kind = irisgate::config::StorageKind::Sqlite;
    config.storage.path = file.clone();
    let gw = Gateway::start_with(config).await;
    let rest = Rest::new(&gw);
    assert_eq!(rest.get("/campaigns").await.status, 200);

    let url = format!("sqlite://{}", file.display());
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("DROP TABLE recipients").execute(&db).await.unwrap();
    sqlx::query("DROP TABLE campaigns").execute(&db).await.unwrap();
    db.close().await;

    let reply = rest.get("/campaigns").await;
    assert_eq!(reply.status, 503, "{}", String::from_utf8_lossy(&reply.body));
    let body: Value = reply.json();
    assert_no_leak(body["message"].as_str().unwrap());

    let reply = gw
        .command(
            json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "get", "uri": "/campaigns"}),
        )
        .await;
    let envelope = reply.json();
    assert_eq!(envelope["status"], "failure", "{envelope}");
    assert_eq!(envelope["reason"]["code"], 61, "{envelope}");
    assert_no_leak(envelope["reason"]["description"].as_str().unwrap());

    let mut ws = gw.session().await;
    let envelope = ws
        .call(json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "get", "uri": "/campaigns"}))
        .await;
    assert_eq!(envelope["status"], "failure", "{envelope}");
    assert_no_leak(envelope["reason"]["description"].as_str().unwrap());
    gw.stop().await;
}
