//! Benchmark: does watching a campaign slow it down? A gateway runs in this process (SQLite
//! in a temporary directory, the development config's simulator channel at latency 0); a LIME
//! `set /campaign/full` Batch of N recipients is sent at full speed (LIME campaigns have no
//! per-minute ceiling), once with nobody watching and once with W clients on
//! `GET /api/v1/campaigns/{id}/events` (connecting as it starts), interleaved R times. The
//! send rate is N over the time from the command's reply to no recipient pending.
//!
//! ```text
//! cargo run --release --example sse_watchers -- [-n 20000] [-w 200] [-r 3]
//! ```
//!
//! Prints one line `RESULT {json}` per run and the ratio of the medians.

use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Cli {
    /// Recipients per campaign.
    #[arg(short, default_value_t = 20_000)]
    n: usize,
    /// Watchers of the watched runs.
    #[arg(short, default_value_t = 200)]
    w: usize,
    /// Rounds (one run without and one with watchers each).
    #[arg(short, default_value_t = 3)]
    r: usize,
}

const API_KEY: &str = "wk_test_123";

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let dir = tempfile::tempdir().unwrap();
    let mut config = irisgate::Config::development();
    config.storage.path = dir.path().join("irisgate.db");
    config.limits.max_event_streams = cli.w.max(1) + 10;
    config.limits.max_envelope_bytes = 64 << 20;
    for t in &mut config.tenants {
        for c in &mut t.channels {
            c.delivered_after_ms = 0;
            c.read_after_ms = 0;
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(irisgate::run(listener, config, shutdown.clone()));
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    wait_healthy(&client, &base).await;

    let mut plain = Vec::new();
    let mut watched = Vec::new();
    for round in 0..cli.r {
        for watchers in [0, cli.w] {
            let rate = run(&client, &base, cli.n, watchers, round).await;
            println!(
                "RESULT {}",
                json!({"round": round, "watchers": watchers, "recipients": cli.n, "sends_per_s": rate})
            );
            if watchers == 0 {
                plain.push(rate)
            } else {
                watched.push(rate)
            }
        }
    }
    let (p, w) = (median(&mut plain), median(&mut watched));
    println!("median sends/s: {p:.0} without watchers, {w:.0} with {} watchers: ratio {:.3}", cli.w, w / p);
    shutdown.cancel();
    let _ = server.await;
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    for _ in 0..100 {
        if client.get(format!("{base}/health")).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway did not start");
}

/// One campaign of `n` recipients; its send rate (recipients no longer pending per second).
async fn run(client: &reqwest::Client, base: &str, n: usize, watchers: usize, round: usize) -> f64 {
    let audiences: Vec<Value> = (0..n)
        .map(|i| json!({"recipient": format!("+55{}{:08}", 11 + round, 90_000_000 + i), "messageParams": {"1": "x"}}))
        .collect();
    let resource = json!({
        "campaign": {"name": format!("bench {round} {watchers}"), "campaignType": "Batch", "flowId": "f", "stateId": "s"},
        "audiences": audiences,
        "message": {"messageTemplate": "email_commerce_resposta", "messageParams": ["1"]}
    });
    let command = json!({"id": uuid::Uuid::new_v4().to_string(), "to": "postmaster@activecampaign.msging.net",
        "method": "set", "uri": "/campaign/full",
        "type": "application/vnd.iris.activecampaign.full-campaign+json", "resource": resource});
    let reply = client
        .post(format!("{base}/commands"))
        .header("authorization", "Key bXlib3Q6c2VjcmV0")
        .header("content-type", "application/json")
        .body(command.to_string())
        .send()
        .await
        .unwrap();
    let reply: Value = serde_json::from_str(&reply.text().await.unwrap()).unwrap();
    let id = reply["resource"]["id"].as_str().unwrap_or_else(|| panic!("{reply}")).to_owned();
    // The watchers connect; each counts its progress events until the stream is dropped.
    let stop = CancellationToken::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(watchers.max(1));
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let (client, url, stop, ready) =
            (client.clone(), format!("{base}/api/v1/campaigns/{id}/events"), stop.clone(), ready_tx.clone());
        tasks.push(tokio::spawn(async move {
            let mut r = client.get(url).header("x-api-key", API_KEY).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let mut events = 0usize;
            let mut first = true;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    chunk = r.chunk() => match chunk {
                        Ok(Some(c)) => {
                            events += String::from_utf8_lossy(&c).matches("event: progress").count();
                            if first && events > 0 { first = false; let _ = ready.send(()).await; }
                        }
                        _ => break,
                    }
                }
            }
            events
        }));
    }
    drop(ready_tx);
    let t0 = Instant::now();
    let stats = |client: reqwest::Client, url: String| async move {
        let text = client.get(url).header("x-api-key", API_KEY).send().await.unwrap().text().await.unwrap();
        serde_json::from_str::<Value>(&text).unwrap()
    };
    let url = format!("{base}/api/v1/campaigns/{id}/stats");
    loop {
        let s = stats(client.clone(), url.clone()).await;
        if s["pending"].as_u64() == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    stop.cancel();
    let mut events = 0;
    for t in tasks {
        events += t.await.unwrap();
    }
    if watchers > 0 {
        eprintln!("  {watchers} watchers received {events} progress events");
    }
    let _ = ready_rx.recv().await;
    n as f64 / elapsed
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
