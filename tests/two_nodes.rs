//! Two `irisgate serve` processes on one PostgreSQL: any node answers, one node dispatches a
//! running campaign at a time, and when it is killed the other finishes it — nobody twice,
//! nobody skipped, and the channel's ceiling holds over both. Skipped (with a message) when
//! PostgreSQL is unreachable, except under `CI=true`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod support;
use support::node::{ledger, to_campaigns, Node};

const RECIPIENTS: usize = 3_000;
const CEILING: usize = 1_000;

/// A schema of its own on the test database; `None` when PostgreSQL is unreachable.
async fn schema_url() -> Option<(String, sqlx::AnyPool)> {
    let url = support::postgres::fresh_schema("ig_nodes").await?;
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    Some((url, pool))
}

/// Node `node`'s configuration in `dir`: PostgreSQL at `url` with short leases, and the
/// channel's ceiling at [`CEILING`] sends per second.
fn config(dir: &Path, url: &str, node: &str) -> PathBuf {
    let tail = format!("\n[storage]\nkind = \"postgres\"\nurl = \"{url}\"\nlease_ms = 1500\nnode_id = \"{node}\"\n");
    support::node::config(dir, node, &format!("max_per_second = {CEILING}\n"), &tail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_dispatching_node_lets_the_other_finish_with_no_duplicates() {
    let Some((url, db)) = schema_url().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(&config(dir.path(), &url, "node-a"), "node-a");
    let b = Node::start(&config(dir.path(), &url, "node-b"), "node-b");
    let audiences: Vec<Value> = (0..RECIPIENTS)
        .map(|i| json!({"recipient": format!("+55319{:08}", 80_001_000 + i), "messageParams": {"1": format!("p{i}")}}))
        .collect();
    let created = a
        .call(to_campaigns(
            "set",
            "/campaign/full",
            Some("application/vnd.iris.activecampaign.full-campaign+json"),
            Some(json!({"campaign": {"name": "two nodes", "campaignType": "Batch"}, "audiences": audiences,
                "message": {"messageTemplate": "email_commerce_resposta", "messageParams": ["1"]}})),
        ))
        .await;
    assert_eq!(created["status"], "success", "{created}");
    let id = created["resource"]["id"].as_str().unwrap().to_owned();
    // Any node answers for any campaign.
    let seen_by_b = b.call(to_campaigns("get", &format!("/campaigns/{id}"), None, None)).await;
    assert_eq!(seen_by_b["status"], "success", "{seen_by_b}");
    // Wait until sending is under way, then kill the node holding the lease.
    let deadline = Instant::now() + Duration::from_secs(30);
    while ledger(dir.path()).len() < RECIPIENTS / 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let owner: Option<String> =
        sqlx::query_scalar("SELECT lease_owner FROM campaigns WHERE id = $1").bind(&id).fetch_one(&db).await.unwrap();
    let owner = owner.expect("a node holds the lease");
    let sent_before = ledger(dir.path()).len();
    assert!(sent_before < RECIPIENTS, "the campaign finished before the kill: raise RECIPIENTS");
    let (dead, survivor) = if owner == "node-a" { (a, b) } else { (b, a) };
    dead.kill();
    eprintln!("killed {owner} after {sent_before} sends");
    let killed_at = Instant::now();
    let report = loop {
        let r = survivor.call(to_campaigns("get", &format!("/campaigns/{id}/reports?$take=10000"), None, None)).await;
        if r["resource"]["status"] == "executed" || killed_at.elapsed() > Duration::from_secs(60) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(report["resource"]["status"], "executed", "{}", report["resource"]["audienceCounts"]);
    let took_over: Option<String> =
        sqlx::query_scalar("SELECT lease_owner FROM campaigns WHERE id = $1").bind(&id).fetch_one(&db).await.unwrap();
    assert_ne!(took_over.as_deref(), Some(owner.as_str()), "the survivor took the lease over");
    let lines = ledger(dir.path());
    let mut ids: Vec<&str> = lines.iter().map(|l| l["message_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(lines.len(), RECIPIENTS, "one ledger line per recipient");
    assert_eq!(ids.len(), RECIPIENTS, "no message id twice");
    let items = report["resource"]["statusAudience"].as_array().unwrap();
    assert!(items.iter().all(|i| matches!(i["status"].as_str(), Some("PROCESSED" | "RECEIVED" | "READ"))));
    // The channel ceiling held over both nodes: no second with more than CEILING sends.
    let mut times: Vec<i64> = lines
        .iter()
        .map(|l| chrono::DateTime::parse_from_rfc3339(l["time"].as_str().unwrap()).unwrap().timestamp_millis())
        .collect();
    times.sort_unstable();
    let mut start = 0;
    let mut busiest = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= 1_000 {
            start += 1;
        }
        busiest = busiest.max(end - start + 1);
    }
    assert!(busiest <= CEILING + 1, "{busiest} sends in one second over both nodes (ceiling {CEILING})");
}

/// Issue 14, bug 4: a paced REST campaign created and started on node A used to be sent by B
/// while A, sending nothing, declared it COMPLETED; after B was killed nobody took it over.
/// Whichever node dispatches, killing it mid-way must leave the survivor to finish within the
/// lease, every recipient once across both nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_rest_campaign_started_on_one_node_finishes_after_the_sender_is_killed() {
    const CONTACTS: usize = 45;
    let Some((url, db)) = schema_url().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let node_config = |node: &str| {
        let tail =
            format!("\n[storage]\nkind = \"postgres\"\nurl = \"{url}\"\nlease_ms = 4000\nnode_id = \"{node}\"\n");
        support::node::config(dir.path(), node, "", &tail)
    };
    let a = Node::start(&node_config("node-a"), "node-a");
    let b = Node::start(&node_config("node-b"), "node-b");
    let rest = support::Rest { addr: a.addr, key: Some(support::API_KEY.into()) };
    for i in 0..CONTACTS {
        rest.contact(json!({"name": format!("c{i}"), "phone": format!("+55319{:08}", 81_000_100 + i)})).await;
    }
    // 300 a minute (the most REST allows): one send every 200 ms, so the run outlives a few
    // lease renewals.
    let id = rest.text_campaign("paced over two nodes", "Oi", 300, Value::Null).await;
    rest.start(&id).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while ledger(dir.path()).len() < CONTACTS / 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rest.status(&id).await, "RUNNING", "nobody may complete it a third of the way through");
    let owner: Option<String> =
        sqlx::query_scalar("SELECT lease_owner FROM campaigns WHERE id = $1").bind(&id).fetch_one(&db).await.unwrap();
    let owner = owner.expect("a node holds the lease");
    let sent_before = ledger(dir.path()).len();
    let (dead, survivor) = if owner == "node-a" { (a, b) } else { (b, a) };
    dead.kill();
    eprintln!("killed {owner} after {sent_before} sends");
    let rest = support::Rest { addr: survivor.addr, key: Some(support::API_KEY.into()) };
    let killed_at = Instant::now();
    let status = loop {
        let status = rest.status(&id).await;
        if status != "RUNNING" || killed_at.elapsed() > Duration::from_secs(40) {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, "COMPLETED", "the survivor finished it ({sent_before} sent before the kill)");
    let lines = ledger(dir.path());
    let mut reached: Vec<&str> = lines.iter().map(|l| l["recipient"].as_str().unwrap()).collect();
    reached.sort_unstable();
    reached.dedup();
    assert_eq!(reached.len(), CONTACTS, "every contact reached: {reached:?}");
    assert_eq!(lines.len(), CONTACTS, "nobody twice");
}
