//! Paced-dispatch helpers for the in-process (`Direct`, paused clock) suites: phones that are
//! no simulator test number, a send ledger, send times and the busiest window, and a clock
//! step that lets every woken task run.

use std::time::Duration;

use serde_json::Value;

use super::{Direct, BOT};

/// Phones whose last four digits are never a simulator test number.
pub fn phone(i: usize) -> String {
    format!("+55319{:08}", 80_001_000 + i)
}

/// Send times (ms) of a campaign's recipients, sorted.
pub async fn send_times(d: &Direct, id: &str) -> Vec<i64> {
    let uuid = uuid::Uuid::parse_str(id).unwrap();
    let page = irisgate::store::Page { skip: 0, take: u64::MAX };
    let (_, recipients) = d.state.engine.store.recipients(BOT, uuid, None, page).await.unwrap();
    let mut times: Vec<i64> = recipients.iter().filter(|r| r.processed_at != 0).map(|r| r.processed_at).collect();
    times.sort();
    times
}

/// The most sends in any window of `window_ms`.
pub fn busiest(times: &[i64], window_ms: i64) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= window_ms {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

pub async fn advance(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

pub fn ledger_config() -> (irisgate::Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = irisgate::Config::development();
    config.tenants[0].channels[0].ledger = Some(dir.path().join("ledger.jsonl"));
    (config, dir)
}

pub fn ledger(dir: &tempfile::TempDir) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.path().join("ledger.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}
