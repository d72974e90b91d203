//! Two `irisgate serve` processes on one PostgreSQL: any node answers, one node dispatches a
//! running campaign at a time, and when it is killed the other finishes it — nobody twice,
//! nobody skipped, and the channel's ceiling holds over both. Skipped (with a message) when
//! PostgreSQL is unreachable, except under `CI=true`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod support;
use support::{http_request, key_header};

const BIN: &str = env!("CARGO_BIN_EXE_irisgate");
const RECIPIENTS: usize = 3_000;
const CEILING: usize = 1_000;

struct Node {
    child: Child,
    addr: SocketAddr,
}

impl Node {
    fn start(config: &Path, name: &str) -> Node {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let name = name.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("ERROR") || line.contains("WARN") || line.contains("claimed") {
                    eprintln!("{name}: {line}");
                }
                if let Some(at) = line.find("addr=") {
                    let _ = tx.send(line[at + 5..].split_whitespace().next().unwrap_or_default().to_owned());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).expect("the node logs its address").parse().unwrap();
        Node { child, addr }
    }

    async fn command(&self, command: Value) -> Value {
        let auth = key_header("mybot", "secret");
        let headers = [("authorization", auth.as_str())];
        http_request(self.addr, "POST", "/commands", &headers, command.to_string().into()).await.json()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn campaigns(method: &str, uri: &str, kind: Option<&str>, resource: Option<Value>) -> Value {
    let mut c = json!({"id": uuid::Uuid::new_v4().to_string(), "to": "postmaster@activecampaign.msging.net",
        "method": method, "uri": uri});
    if let (Some(k), Some(r)) = (kind, resource) {
        c["type"] = json!(k);
        c["resource"] = r;
    }
    c
}

fn ledger(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("ledger.jsonl")).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A schema of its own on the test database; `None` when PostgreSQL is unreachable.
async fn schema_url() -> Option<(String, sqlx::AnyPool)> {
    let url = support::postgres::fresh_schema("ig_nodes").await?;
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    Some((url, pool))
}

fn config(dir: &Path, url: &str, node: &str) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/irisgate.example.toml")).unwrap();
    text = text.replace(
        "delivered_after_ms = 50          # simulator only: receipt latencies\nread_after_ms = 200",
        &format!(
            "delivered_after_ms = 0\nread_after_ms = 0\nmax_per_second = {CEILING}\nledger = \"{}\"",
            dir.join("ledger.jsonl").display()
        ),
    );
    assert!(text.contains("ledger ="), "the example config changed: update this test");
    text.push_str(&format!(
        "\n[storage]\nkind = \"postgres\"\nurl = \"{url}\"\nlease_ms = 1500\nnode_id = \"{node}\"\n"
    ));
    let path = dir.join(format!("{node}.toml"));
    std::fs::write(&path, text).unwrap();
    path
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
        .command(campaigns(
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
    let seen_by_b = b.command(campaigns("get", &format!("/campaigns/{id}"), None, None)).await;
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
    let (mut dead, survivor) = if owner == "node-a" { (a, b) } else { (b, a) };
    dead.child.kill().unwrap();
    dead.child.wait().unwrap();
    eprintln!("killed {owner} after {sent_before} sends");
    let killed_at = Instant::now();
    let report = loop {
        let r = survivor.command(campaigns("get", &format!("/campaigns/{id}/reports?$take=10000"), None, None)).await;
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
