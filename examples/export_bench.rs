//! The CSV export at scale: a campaign of 1,000,000 recipients (SQLite, in a temporary
//! directory) exported over a real socket; prints rows/s and the process's resident memory
//! before, at its peak during, and after the export (`/proc/self/status`, Linux).
//! `cargo run --release --example export_bench [-- ROWS]`.

use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// `VmRSS` and `VmHWM` (peak) in KiB.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn command(addr: std::net::SocketAddr, body: Value) -> Value {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let auth = format!("Key {}", base64::engine::general_purpose::STANDARD.encode("mybot:secret"));
    let request = hyper::Request::post("/commands")
        .header("host", "bench")
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = tx.send_request(request).await.unwrap();
    serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let mut config = irisgate::Config::development();
    config.storage.path = dir.path().join("irisgate.db");
    config.campaigns.max_recipients_per_campaign = config.campaigns.max_recipients_per_campaign.max(rows as u64);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(irisgate::run(listener, config, shutdown.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let to = "postmaster@activecampaign.msging.net";
    let created = command(
        addr,
        json!({"id": "c", "to": to, "method": "set", "uri": "/campaign/v2",
        "type": "application/vnd.iris.activecampaign.campaign-dynamic+json",
        "resource": {"campaign": {"name": "export bench", "campaignType": "Batch"},
                     "message": {"messageTemplate": "email_commerce_resposta", "messageParams": ["1"]}}}),
    )
    .await;
    let id = created["resource"]["id"].as_str().expect("campaign id").to_owned();
    let filling = Instant::now();
    for start in (0..rows).step_by(20_000) {
        let items: Vec<Value> = (start..(start + 20_000).min(rows))
            .map(|i| json!({"recipient": format!("+55319{:08}", 10_000_000 + i * 10 + 5), "messageParams": {"1": format!("nome {i}")}}))
            .collect();
        let r = command(
            addr,
            json!({"id": format!("a{start}"), "to": to, "method": "set", "uri": format!("/audiences/v2/{id}"),
            "type": "application/vnd.lime.collection+json", "resource": {"items": items}}),
        )
        .await;
        assert_eq!(r["status"], "success", "{r}");
    }
    println!("filled {rows} recipients in {:.1} s", filling.elapsed().as_secs_f64());

    let (before, _) = rss();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let request = hyper::Request::get(format!("/api/v1/campaigns/{id}/messages.csv"))
        .header("host", "bench")
        .header("x-api-key", "wk_test_123")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let started = Instant::now();
    let mut body = tx.send_request(request).await.unwrap().into_body();
    let (mut lines, mut bytes, mut peak) = (0usize, 0usize, before);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            lines += data.iter().filter(|b| **b == b'\n').count();
            bytes += data.len();
            if lines % 50_000 < 1_000 {
                peak = peak.max(rss().0);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let (after, hwm) = rss();
    println!(
        "exported {} rows ({:.1} MB) in {secs:.2} s: {:.0} rows/s; RSS before {before} KiB, peak sampled {peak} KiB, after {after} KiB (process high-water mark {hwm} KiB, the fill included)",
        lines - 1,
        bytes as f64 / 1e6,
        (lines - 1) as f64 / secs
    );
    shutdown.cancel();
    let _ = server.await;
}
