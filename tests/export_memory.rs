//! The CSV export streams: exporting 20,000 recipients takes no more heap than exporting
//! 2,000 (one store page at a time), measured by a counting global allocator. This file holds
//! one test so that nothing else allocates in the process while it measures.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};
use serde_json::{json, Value};
use std::alloc::System;
use support::client::{Client, Transport, COLLECTION_TYPE};
use support::*;

#[global_allocator]
static HEAP: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A `new` (not dispatched) campaign with `n` distinct recipients, each with a parameter.
async fn campaign_of(lime: &mut Client, n: usize) -> String {
    let c = lime.v2(dynamic_campaign(&format!("export {n}"))).await;
    let id = c["id"].as_str().unwrap().to_owned();
    for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
        let items: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"recipient": format!("+55319{:08}", 10_000_000 + i * 10 + 5), "messageParams": {"1": format!("nome {i}")}}))
            .collect();
        let added = lime
            .ok(
                "set",
                &format!("/audiences/v2/{id}"),
                Some((
                    COLLECTION_TYPE,
                    json!({"itemType": "application/vnd.iris.activecampaign.audience+json", "items": items}),
                )),
            )
            .await;
        assert_eq!(added["added"], chunk.len(), "{added}");
    }
    id
}

fn dynamic_campaign(name: &str) -> Value {
    json!({
        "campaign": {"name": name, "campaignType": "Batch"},
        "message": {"messageTemplate": "email_commerce_resposta", "messageParams": ["1"]}
    })
}

/// Exports a campaign, reading the body as it streams and keeping nothing of it; returns
/// (data lines, peak heap bytes above the start of the export).
async fn export(gw: &Gateway, id: &str) -> (usize, usize) {
    let stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    let conn = tokio::spawn(conn);
    let request = hyper::Request::get(format!("/api/v1/campaigns/{id}/messages.csv"))
        .header("host", "gateway")
        .header("x-api-key", API_KEY)
        .body(Empty::<Bytes>::new())
        .unwrap();
    HEAP.reset_peak_memory();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut lines = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            lines += data.iter().filter(|b| **b == b'\n').count();
        }
    }
    let peak = HEAP.get_peak_memory();
    drop(sender);
    let _ = conn.await;
    (lines - 1, peak)
}

#[tokio::test]
async fn exporting_ten_times_the_rows_takes_no_more_memory() {
    let gw = Gateway::start().await;
    let mut lime = Client::connect(&gw, Transport::Http).await;
    let small = campaign_of(&mut lime, 2_000).await;
    let large = campaign_of(&mut lime, 20_000).await;
    // Warm-up: lazily built state (connection pools, caches) is not the export's.
    export(&gw, &small).await;
    let (small_rows, small_peak) = export(&gw, &small).await;
    let (large_rows, large_peak) = export(&gw, &large).await;
    assert_eq!((small_rows, large_rows), (2_000, 20_000));
    eprintln!("peak heap of an export: 2,000 rows {small_peak} B, 20,000 rows {large_peak} B");
    // Loaded whole, 20,000 recipients and their CSV are several MB: ten times the small
    // export's. Streamed by pages, both hold one page of 1,000.
    assert!(
        large_peak < small_peak * 2,
        "the export's heap grows with the campaign: 2,000 rows {small_peak} B, 20,000 rows {large_peak} B"
    );
    assert!(large_peak < 4 << 20, "20,000 rows took {large_peak} B of heap");
    gw.stop().await;
}
