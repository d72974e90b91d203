//! Crash safety of bots' messages: the real binary on SQLite takes messages over
//! `POST /messages` (202 = stored), is killed with SIGKILL at a seeded random point of the
//! sending and restarted; the simulator's ledger must then hold every acknowledged message
//! exactly once.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::node::{ledger, Node};
use support::{http_request, key_header, HttpConn, BOT, SECRET};

const PEOPLE: usize = 50;
const EACH: usize = 40;
/// Concurrent HTTP clients posting the messages.
const POSTERS: usize = 4;

fn phone(i: usize) -> String {
    format!("55319{:08}", 81_002_000 + i)
}

#[tokio::test]
async fn every_acknowledged_message_is_sent_exactly_once_across_a_kill() {
    for seed in [1u64, 2] {
        let mut rng = fastrand::Rng::with_seed(seed);
        let dir = tempfile::tempdir().unwrap();
        let tail = format!(
            "\n[storage]\nkind = \"sqlite\"\npath = \"{}\"\n\n[outbound]\nbatch = 16\n",
            dir.path().join("irisgate.db").display()
        );
        let cfg = support::node::config(dir.path(), "irisgate", "", &tail);
        let node = Node::start(&cfg, "node");
        // Everybody wrote just now: inside WhatsApp's 24 h window.
        let now = chrono::Utc::now().to_rfc3339();
        for i in 0..PEOPLE {
            let body = json!({"phone": format!("+{}", phone(i)), "last_interaction_at": now}).to_string();
            let headers = [("x-api-key", "wk_test_123"), ("content-type", "application/json")];
            let r = http_request(node.addr, "POST", "/api/v1/contacts", &headers, body.into()).await;
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        }
        // Messages are posted one after the other while the node sends; the kill comes once a
        // random number of them reached the ledger (a POST cut off by it was not acknowledged).
        let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // Several posters (each its own people, in order) so that accepted messages run ahead
        // of the sender and the kill finds some not sent yet.
        let posters: Vec<_> = (0..POSTERS)
            .map(|k| {
                let (acked, addr) = (acked.clone(), node.addr);
                tokio::spawn(async move {
                    let auth = key_header(BOT, SECRET);
                    for n in 0..EACH {
                        for i in (k..PEOPLE).step_by(POSTERS) {
                            let body = json!({"id": format!("m{i}-{n}"), "to": format!("{}@wa.gw.msging.net", phone(i)),
                                              "type": "text/plain", "content": format!("message {n}")});
                            let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
                            // A request the kill cuts off ends this poster (no answer: not acknowledged).
                            let r = async {
                                HttpConn::open(addr)
                                    .await
                                    .request("POST", "/messages", &headers, body.to_string())
                                    .await
                            };
                            match tokio::time::timeout(Duration::from_secs(5), r).await {
                                Ok(Ok(r)) if r.status == 202 => acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                                _ => return,
                            };
                        }
                    }
                })
            })
            .collect();
        let threshold = rng.usize(1..PEOPLE * EACH / 2);
        let deadline = Instant::now() + Duration::from_secs(60);
        while ledger(dir.path()).len() < threshold && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        node.kill();
        let killed_at = ledger(dir.path()).len();
        // The posters' next requests fail: what they counted is what was acknowledged.
        for poster in posters {
            let _ = poster.await;
        }
        let acknowledged = acked.load(std::sync::atomic::Ordering::SeqCst);
        assert!(killed_at < acknowledged, "seed {seed}: the kill came while sending ({killed_at} of {acknowledged})");
        let _node = Node::start(&cfg, "node");
        let deadline = Instant::now() + Duration::from_secs(60);
        while ledger(dir.path()).len() < acknowledged && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A little longer: a message sent twice would show now.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let lines = ledger(dir.path());
        let mut ids: Vec<&str> = lines.iter().map(|l| l["message_id"].as_str().unwrap()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), lines.len(), "seed {seed}: no message sent twice");
        // Each poster's POST the kill cut off may have been committed (in the same group commit
        // as acknowledged ones: then it is sent too) or not.
        assert!(
            (acknowledged..=acknowledged + POSTERS).contains(&lines.len()),
            "seed {seed}: killed at {killed_at} sent, {acknowledged} acknowledged, {} sent in the end",
            lines.len()
        );
    }
}
