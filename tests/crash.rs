//! Crash safety: the real binary on SQLite is killed with SIGKILL at seeded random points of a
//! 5,000-recipient campaign and restarted; the simulator's send ledger must show every
//! recipient sent exactly once, and every acknowledged command must have survived.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::node::{ledger, to_campaigns, Node};

const RECIPIENTS: usize = 5_000;
const CHUNK: usize = 1_000;

/// The node's configuration in `dir`: SQLite there, and small dispatch batches (more points
/// to be killed at).
fn config(dir: &Path) -> PathBuf {
    let tail = format!(
        "\n[storage]\nkind = \"sqlite\"\npath = \"{}\"\n\n[campaigns]\ndispatch_batch = 50\n",
        dir.join("irisgate.db").display()
    );
    support::node::config(dir, "irisgate", "", &tail)
}

fn phone(i: usize) -> String {
    format!("+55319{:08}", 80_001_000 + i)
}

/// What the client was told had succeeded.
#[derive(Default)]
struct Acknowledged {
    campaign: Option<String>,
    chunks: usize,
    dispatched: bool,
}

/// Runs the campaign's steps that are not yet acknowledged; stops early at `kill_after_step`.
async fn drive(node: &Node, ack: &mut Acknowledged, stop_after: Option<usize>) {
    let mut step = 0;
    let check_stop = |step: usize| stop_after.is_some_and(|s| step >= s);
    if ack.campaign.is_none() {
        let created = node
            .command(to_campaigns(
                "set",
                "/campaign/v2",
                Some("application/vnd.iris.activecampaign.campaign-dynamic+json"),
                Some(json!({"campaign": {"name": "crash", "campaignType": "Batch", "flowId": "f", "stateId": "s"},
                    "message": {"messageTemplate": "email_commerce_resposta", "messageParams": ["1"]}})),
            ))
            .await
            .expect("created");
        assert_eq!(created["status"], "success", "{created}");
        ack.campaign = Some(created["resource"]["id"].as_str().unwrap().to_owned());
    }
    let id = ack.campaign.clone().unwrap();
    step += 1;
    if check_stop(step) {
        return;
    }
    while ack.chunks * CHUNK < RECIPIENTS {
        let items: Vec<Value> = (ack.chunks * CHUNK..(ack.chunks + 1) * CHUNK)
            .map(|i| json!({"recipient": phone(i), "messageParams": {"1": format!("p{i}")}}))
            .collect();
        let r = node
            .command(to_campaigns(
                "set",
                &format!("/audiences/v2/{id}"),
                Some("application/vnd.lime.collection+json"),
                Some(json!({"itemType": "application/vnd.iris.activecampaign.audience+json", "items": items})),
            ))
            .await
            .expect("audience answered");
        assert_eq!(r["status"], "success", "{r}");
        ack.chunks += 1;
        step += 1;
        if check_stop(step) {
            return;
        }
    }
    if !ack.dispatched {
        let r = node
            .command(to_campaigns(
                "set",
                "/dispatch/v2",
                Some("application/vnd.iris.activecampaign.campaign+json"),
                Some(json!({"id": id})),
            ))
            .await
            .expect("dispatch answered");
        assert_eq!(r["status"], "success", "{r}");
        ack.dispatched = true;
    }
}

async fn report(node: &Node, id: &str) -> Value {
    node.command(to_campaigns("get", &format!("/campaigns/{id}/reports?$take=10000"), None, None))
        .await
        .expect("report")
}

/// Returns how many sends the ledger held when the first life was killed (`None` when the
/// kill came during the setup).
async fn one_run(seed: u64) -> Option<usize> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut ack = Acknowledged::default();
    // Where the first life ends: during the setup (after some acknowledged steps), or
    // while sending, after a random number of sends reached the ledger.
    let during_setup = rng.u8(..4) == 0;
    let node = Node::start(&cfg, "node");
    let mut killed_at = None;
    if during_setup {
        drive(&node, &mut ack, Some(rng.usize(1..=5))).await;
        node.kill();
    } else {
        drive(&node, &mut ack, None).await;
        let threshold = rng.usize(0..RECIPIENTS);
        let deadline = Instant::now() + Duration::from_secs(60);
        while ledger(dir.path()).len() < threshold && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        node.kill();
        killed_at = Some(ledger(dir.path()).len());
    }
    // Second life: what was acknowledged is there, the rest of the campaign is finished.
    let node = Node::start(&cfg, "node");
    let id = ack.campaign.clone().expect("the first step is always acknowledged");
    let survived = report(&node, &id).await;
    assert_eq!(survived["status"], "success", "seed {seed}: the acknowledged campaign survived: {survived}");
    let total = survived["resource"]["audienceCounts"]["total"].as_u64().unwrap() as usize;
    assert!(total >= ack.chunks * CHUNK, "seed {seed}: {total} recipients, {} chunks were acknowledged", ack.chunks);
    if ack.dispatched {
        assert_ne!(survived["resource"]["status"], "new", "seed {seed}: the acknowledged dispatch survived");
    }
    drive(&node, &mut ack, None).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let final_report = loop {
        let r = report(&node, &id).await;
        if r["resource"]["status"] == "executed" || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let resource = &final_report["resource"];
    assert_eq!(resource["status"], "executed", "seed {seed}: {}", resource["audienceCounts"]);
    assert_eq!(resource["audienceCounts"]["pending"], 0, "seed {seed}");
    let items = resource["statusAudience"].as_array().unwrap();
    assert_eq!(items.len(), RECIPIENTS);
    for item in items {
        assert!(
            matches!(item["status"].as_str(), Some("PROCESSED" | "RECEIVED" | "READ")),
            "seed {seed}: every recipient was handed over: {item}"
        );
    }
    let lines = ledger(dir.path());
    let mut ids: Vec<&str> = lines.iter().map(|l| l["message_id"].as_str().unwrap()).collect();
    let mut recipients: Vec<&str> = lines.iter().map(|l| l["recipient"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    recipients.sort_unstable();
    recipients.dedup();
    assert_eq!(lines.len(), RECIPIENTS, "seed {seed}: one ledger line per recipient");
    assert_eq!(ids.len(), RECIPIENTS, "seed {seed}: no message id twice");
    assert_eq!(recipients.len(), RECIPIENTS, "seed {seed}: nobody twice, nobody skipped");
    node.kill();
    killed_at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_loses_and_duplicates_nothing() {
    let base: u64 = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261130);
    let runs: u64 = std::env::var("CRASH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let mut mid_campaign = 0;
    for run in 0..runs {
        let seed = base + run;
        let killed_at = one_run(seed).await;
        eprintln!(
            "crash run {run} (seed {seed}): killed {}",
            match killed_at {
                Some(n) => format!("after {n} of {RECIPIENTS} sends"),
                None => "during the setup".into(),
            }
        );
        if killed_at.is_some_and(|n| n > 0 && n < RECIPIENTS) {
            mid_campaign += 1;
        }
    }
    assert!(
        mid_campaign * 2 >= runs as usize,
        "only {mid_campaign} of {runs} kills landed mid-campaign: the test lost its point"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_missed_while_down_fires_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let node = Node::start(&cfg, "node");
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let created = node
        .command(to_campaigns(
            "set",
            "/campaign/full",
            Some("application/vnd.iris.activecampaign.full-campaign+json"),
            Some(json!({"campaign": {"name": "scheduled", "campaignType": "Batch", "scheduled": at.to_rfc3339()},
                "audiences": [{"recipient": phone(1), "messageParams": {"1": "x"}}],
                "message": {"messageTemplate": "email_commerce_resposta", "messageParams": ["1"]}})),
        ))
        .await
        .expect("created");
    assert_eq!(created["resource"]["status"], "scheduling", "{created}");
    let id = created["resource"]["id"].as_str().unwrap().to_owned();
    node.kill();
    while chrono::Utc::now() < at + chrono::Duration::milliseconds(500) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ledger(dir.path()).is_empty(), "nothing was sent while down");
    let node = Node::start(&cfg, "node");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let r = report(&node, &id).await;
        let status = r["resource"]["status"].as_str().unwrap_or_default().to_owned();
        if status == "executed" || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, "executed", "the missed schedule fired at start-up");
    assert_eq!(ledger(dir.path()).len(), 1);
    node.kill();
}
