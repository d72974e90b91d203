//! Crash safety on Google RBM: the real binary on SQLite sends a LIME campaign to the loopback
//! fake (in this process), is killed with SIGKILL at seeded points while the fake holds the
//! answers of sends it already took (so the gateway dies with them SENDING), and restarted.
//! The fake's record is the ledger: every recipient accepted exactly once (a re-sent SENDING
//! one gets 409, which is "accepted"), every recipient PROCESSED, then RECEIVED through the
//! fake's signed events. The node logs at debug level: no secret may appear in them.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::fake_rbm::{self, FakeRbm};
use support::node::to_campaigns;
use support::{http_request, key_header, BOT, SECRET};

const RECIPIENTS: usize = 300;
const TOKEN: &str = "rbm-crash-client-token";

/// `irisgate serve` with the client token in its environment, every log line (debug) kept
/// in `log`.
struct Node {
    child: Child,
    addr: SocketAddr,
}

impl Node {
    fn start(config: &Path, log: &Path) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_irisgate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env("RUST_LOG", "debug")
            .env("RBM_CLIENT_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                if line.contains("ERROR") || line.contains("WARN") {
                    eprintln!("node: {line}");
                }
                if let Some(at) = line.find("addr=") {
                    let _ = tx.send(line[at + 5..].split_whitespace().next().unwrap_or_default().to_owned());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).expect("the node logs its address").parse().unwrap();
        Node { child, addr }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn command(&self, command: Value) -> Value {
        let auth = key_header(BOT, SECRET);
        let headers = [("authorization", auth.as_str())];
        http_request(self.addr, "POST", "/commands", &headers, command.to_string().into()).await.json()
    }

    async fn report(&self, id: &str) -> Value {
        let r = self.command(to_campaigns("get", &format!("/campaigns/{id}/reports?$take=10000"), None, None)).await;
        assert_eq!(r["status"], "success", "{r}");
        r["resource"].clone()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn phone(i: usize) -> String {
    format!("+55319{:08}", 87_700_000 + i)
}

/// Waits (without blocking the fake, which runs on this runtime) until `done` or 60 s.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not reached in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Paced, sends go one by one (the next ~100 ms of them marked SENDING together); unpaced,
/// a whole batch is in flight at once: the kill leaves many accepted but unanswered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_campaign_every_recipient_is_accepted_once_paced() {
    killed_mid_campaign("max_per_second = 400").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_campaign_every_recipient_is_accepted_once_unpaced() {
    killed_mid_campaign("").await;
}

async fn killed_mid_campaign(pacing: &str) {
    let seed = std::env::var("RBM_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("RBM_CRASH_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let fake = FakeRbm::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let tail = format!(
        "\n[storage]\nkind = \"sqlite\"\npath = \"{}\"\n\n[campaigns]\ndispatch_batch = 50\n",
        dir.path().join("irisgate.db").display()
    );
    let channel = format!("client_token = \"${{RBM_CLIENT_TOKEN}}\"\n{pacing}");
    let config = dir.path().join("irisgate.toml");
    std::fs::write(&config, fake_rbm::config_text(&fake, dir.path(), &channel, &tail)).unwrap();
    let log = dir.path().join("node.log");

    // Two kills at seeded points, each with a few accepted sends whose answers never came.
    let first = rng.usize(10..RECIPIENTS / 2);
    let second = rng.usize(first + 20..RECIPIENTS - 20);
    let node = Node::start(&config, &log);
    let audiences: Vec<Value> =
        (0..RECIPIENTS).map(|i| json!({"recipient": phone(i), "messageParams": {"n": i.to_string()}})).collect();
    fake.hold_after(first);
    let created = node
        .command(to_campaigns(
            "set",
            "/campaign/full",
            Some("application/vnd.iris.activecampaign.full-campaign+json"),
            Some(json!({"campaign": {"name": "rbm-crash", "campaignType": "Batch", "channelType": "GoogleRcs"},
                "audiences": audiences, "message": {"messageContent": "Oi {{n}}", "channelType": "GoogleRcs"}})),
        ))
        .await;
    assert_eq!(created["status"], "success", "{created}");
    let id = created["resource"]["id"].as_str().unwrap().to_owned();

    let mut node = Some(node);
    let mut held_total = 0;
    for point in [first, second] {
        until("sends held at the kill point", || fake.accepted().len() > point).await;
        // Let the in-flight ones land too: the node dies with all of them unanswered.
        tokio::time::sleep(Duration::from_millis(50)).await;
        node.take().unwrap().kill();
        held_total += fake.accepted().len() - point;
        eprintln!("killed with {} accepted ({} unanswered)", fake.accepted().len(), fake.accepted().len() - point);
        if point == first {
            fake.hold_after(second);
        } else {
            fake.release();
        }
        node = Some(Node::start(&config, &log));
    }
    let node = node.unwrap();
    let mut last = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(60);
    // The campaign is marked executed just after its last outcome is recorded.
    while last["audienceCounts"]["processed"] != RECIPIENTS || last["status"] != "executed" {
        assert!(
            Instant::now() < deadline,
            "seed {seed}: not all PROCESSED: {} {}",
            last["status"],
            last["audienceCounts"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        last = node.report(&id).await;
    }

    let accepted = fake.accepted();
    let mut phones: Vec<&str> = accepted.iter().map(|m| m.phone.as_str()).collect();
    phones.sort();
    phones.dedup();
    assert_eq!((accepted.len(), phones.len()), (RECIPIENTS, RECIPIENTS), "seed {seed}: each recipient taken once");
    assert!(
        fake.conflicts() >= held_total,
        "seed {seed}: re-sent SENDING messages are answered 409 (conflicts {}, unanswered {held_total})",
        fake.conflicts()
    );

    fake.deliver_and_read_all(node.addr).await;
    let report = node.report(&id).await;
    assert_eq!(report["audienceCounts"]["read"], RECIPIENTS, "seed {seed}: {}", report["audienceCounts"]);
    node.kill();

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("RBM access token obtained"), "the log is at debug level");
    let key: Value = serde_json::from_slice(&std::fs::read(dir.path().join("rbm-key.json")).unwrap()).unwrap();
    let private_line = key["private_key"].as_str().unwrap().lines().nth(1).unwrap().to_owned();
    for secret in [TOKEN, private_line.as_str(), "ya29.fake", "eyJ"] {
        assert!(!text.contains(secret), "seed {seed}: {secret:?} is in the node's log");
    }
}
