//! The soak's two campaign drivers: a LIME and a REST campaign dispatching at all times, each
//! replaced as soon as it is complete with every recipient READ.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::traffic::{command, phone, Ctx, CAMPAIGN_NODE};
use crate::wire::{lime_check, rest_check, Http};

const FULL_TYPE: &str = "application/vnd.iris.activecampaign.full-campaign+json";
/// Completed campaigns kept per driver; older ones are deleted, so the store stays bounded.
const KEEP_COMPLETED: usize = 5;

/// A LIME `set /campaign/full` campaign at all times: a new one when the last is executed.
pub(crate) async fn lime_campaigns(ctx: Ctx, deadline: Instant) {
    let http = ctx.http();
    let mut done: Vec<String> = Vec::new();
    let mut round = 0;
    while Instant::now() < deadline {
        round += 1;
        let audiences: Vec<Value> = (0..ctx.recipients)
            .map(|i| json!({"recipient": phone(2, i), "messageParams": {"1": format!("Nome {i}"), "2": format!("C{round}")}}))
            .collect();
        let r = json!({"campaign": {"name": format!("soak lime {round}"), "campaignType": "Batch", "flowId": "f", "stateId": "s"},
                       "audiences": audiences, "message": {"messageTemplate": "two_params", "messageParams": ["1", "2"]}});
        let answer = http.lime(command("set", CAMPAIGN_NODE, "/campaign/full", Some((FULL_TYPE, r)))).await;
        let id = match &answer {
            Ok((true, v)) => v["resource"]["id"].as_str().map(str::to_owned),
            _ => None,
        };
        ctx.tally.record("lime campaign start", lime_check(answer, true, &[]));
        let Some(id) = id else { return };
        *ctx.latest.lock() = Some(id.clone());
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let c = command("get", CAMPAIGN_NODE, &format!("/campaigns/{id}/reports?$take=1"), None);
            let answer = http.lime(c).await;
            let v = match &answer {
                Ok((true, v)) => v["resource"].clone(),
                _ => Value::Null,
            };
            ctx.tally.record("lime campaign poll", lime_check(answer, true, &[]));
            let counts = &v["audienceCounts"];
            let n = |k: &str| counts[k].as_u64().unwrap_or(0);
            let all_read = n("read") + n("failed") == ctx.recipients as u64;
            if v["status"] == "executed" && all_read {
                let mut cs = ctx.tally.campaigns.lock();
                let c = cs.entry("LIME set /campaign/full").or_default();
                c.completed += 1;
                c.sent += n("processed") + n("received") + n("read");
                c.read += n("read");
                c.failed += n("failed");
                break;
            }
            if Instant::now() > deadline + Duration::from_secs(60) || v.is_null() {
                break;
            }
        }
        done.push(id);
        retire(&ctx, &http, &mut done, "lime campaign delete").await;
    }
}

/// A REST campaign to the `soak` contacts at all times: created, started, polled until
/// COMPLETED with every recipient read. Paced at the REST maximum of 300 a minute, so the
/// pacer's waits are part of the soak (the LIME campaigns run at the channel's ceiling).
pub(crate) async fn rest_campaigns(ctx: Ctx, deadline: Instant) {
    let http = ctx.http();
    let mut done: Vec<String> = Vec::new();
    let mut round = 0;
    while Instant::now() < deadline {
        round += 1;
        let body = json!({"name": format!("soak rest {round}"), "message_type": "TEXT", "channel_id": "wa_rest",
                          "content": {"type": "text", "text": {"body": "Oi {{name}}"}},
                          "rate_limit_per_minute": 300, "filters": {"tag_ids": ["soak"]}});
        let created = http.rest("POST", "/campaigns", Some(body)).await;
        let id = created.1["id"].as_str().map(str::to_owned);
        ctx.tally.record("rest campaign create", rest_check(created, 201));
        let Some(id) = id else { return };
        ctx.tally.record(
            "rest campaign start",
            rest_check(http.rest("POST", &format!("/campaigns/{id}/start"), None).await, 200),
        );
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let stats = http.rest("GET", &format!("/campaigns/{id}/stats"), None).await;
            let s = stats.1.clone();
            ctx.tally.record("rest campaign stats", rest_check(stats, 200));
            let n = |k: &str| s[k].as_u64().unwrap_or(0);
            if s["status"] == "COMPLETED" && n("read") + n("failed") == ctx.recipients as u64 {
                let mut cs = ctx.tally.campaigns.lock();
                let c = cs.entry("REST POST /campaigns").or_default();
                c.completed += 1;
                c.sent += n("sent") + n("delivered") + n("read");
                c.read += n("read");
                c.failed += n("failed");
                break;
            }
            if Instant::now() > deadline + Duration::from_secs(60) || !s.is_object() {
                break;
            }
        }
        done.push(id);
        retire(&ctx, &http, &mut done, "rest campaign delete").await;
    }
}

/// Deletes the oldest completed campaigns beyond [`KEEP_COMPLETED`] (REST `DELETE`).
async fn retire(ctx: &Ctx, http: &Http, done: &mut Vec<String>, kind: &str) {
    while done.len() > KEEP_COMPLETED {
        let id = done.remove(0);
        ctx.tally.record(kind, rest_check(http.rest("DELETE", &format!("/campaigns/{id}"), None).await, 204));
    }
}
