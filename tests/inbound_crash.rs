//! Crash safety of inbound messages (conversations.md, What must hold): the real binary on
//! SQLite takes messages from people (`POST /api/v1/simulator/…/inbound`, 202 = recorded)
//! while the bot is offline, is killed with SIGKILL at a seeded random point and restarted;
//! the bot, connecting afterwards, must receive every acknowledged message.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use support::bot::{ack, next_message};
use support::http_request;
use support::node::Node;

const PEOPLE: usize = 10;
const EACH: usize = 20;

#[tokio::test]
async fn every_acknowledged_inbound_message_reaches_the_bot_after_a_kill() {
    for seed in [7u64, 8] {
        let mut rng = fastrand::Rng::with_seed(seed);
        let dir = tempfile::tempdir().unwrap();
        let tail = format!("\n[storage]\nkind = \"sqlite\"\npath = \"{}\"\n", dir.path().join("irisgate.db").display());
        let cfg = support::node::config(dir.path(), "irisgate", "", &tail);
        let node = Node::start(&cfg, "node");
        let kill_after = rng.usize(1..PEOPLE * EACH);
        let mut acknowledged: HashSet<String> = HashSet::new();
        'posting: for n in 0..EACH {
            for i in 0..PEOPLE {
                if acknowledged.len() == kill_after {
                    break 'posting;
                }
                let body = json!({"from": format!("+55319987{:05}", 10_000 + i), "text": format!("mensagem {n}")});
                let headers = [("x-api-key", "wk_test_123"), ("content-type", "application/json")];
                let r = http_request(
                    node.addr,
                    "POST",
                    "/api/v1/simulator/channel_123/inbound",
                    &headers,
                    body.to_string().into(),
                )
                .await;
                assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
                acknowledged.insert(r.json()["id"].as_str().unwrap().to_owned());
            }
        }
        node.kill();
        let node = Node::start(&cfg, "node");
        let mut ws =
            support::Ws::established_at(&format!("ws://{}", node.addr), support::BOT, support::ACCESS_KEY).await;
        let mut got: HashSet<String> = HashSet::new();
        while got.len() < acknowledged.len() {
            let m = tokio::time::timeout(Duration::from_secs(20), next_message(&mut ws)).await.unwrap_or_else(|_| {
                panic!("seed {seed}: {} of {} acknowledged messages arrived", got.len(), acknowledged.len())
            });
            ack(&mut ws, &m, "received").await;
            got.insert(m["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(got, acknowledged, "seed {seed}: exactly the acknowledged messages");
    }
}
