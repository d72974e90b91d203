//! A thousand recipients, end to end: every one listed exactly once in the paged report and
//! audience, every one READ, the counts consistent. Once as a `/campaign/full` Batch, once as
//! a dynamic campaign filled by ten audience calls of a hundred.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::client::*;

const N: usize = 1000;

/// Distinct valid mobiles `+55 31 9810 iii9`: the last digit is 9, so none ends in the
/// simulator's reserved 0000–0008 (0005–0008 would answer).
fn phones() -> Vec<String> {
    (0..N).map(|i| format!("+55319810{i:04}9")).collect()
}

fn identity(phone: &str) -> String {
    format!("{}@wa.gw.msging.net", &phone[1..])
}

/// Polls the one-campaign summary (counts only) until every recipient is READ.
async fn wait_all_read(c: &mut Client, id: &str) {
    let start = Instant::now();
    loop {
        let s = c.ok("get", &format!("/campaigns/{id}/summaries"), None).await["items"][0].clone();
        if s["status"] == "executed" && s["audienceCounts"]["read"] == N {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "{}: not all read in {DEADLINE:?}: {}", c.transport, s["audienceCounts"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads the report in pages of `take` and checks every recipient appears exactly once, READ.
async fn check_report(c: &mut Client, id: &str, take: usize) {
    let t = c.transport;
    let mut seen = Vec::new();
    let mut skip = 0;
    loop {
        let r = c.ok("get", &format!("/campaigns/{id}/reports?$skip={skip}&$take={take}"), None).await;
        assert_eq!(
            r["audienceCounts"],
            json!({"total": N, "pending": 0, "processed": 0, "received": 0, "read": N, "failed": 0, "replied": 0}),
            "{t}: counts on every page"
        );
        assert_eq!(r["status"], "executed", "{t}");
        let page = r["statusAudience"].as_array().unwrap();
        assert!(page.len() <= take, "{t}: page of {take} has {}", page.len());
        for s in page {
            assert_eq!((s["status"].as_str(), s["numberStatus"].as_str()), (Some("READ"), Some("VALID")), "{t}: {s}");
            seen.push(s["recipientIdentity"].as_str().unwrap().to_owned());
        }
        if page.len() < take {
            break;
        }
        skip += take;
    }
    let expected: Vec<String> = phones().iter().map(|p| identity(p)).collect();
    assert_eq!(seen.len(), N, "{t}: every recipient listed once (take {take})");
    assert_eq!(seen, expected, "{t}: in insertion order, none twice (take {take})");
}

/// `get /audiences/{id}` in pages of 100: every recipient once.
async fn check_audience(c: &mut Client, id: &str) {
    let t = c.transport;
    let mut seen = HashSet::new();
    for page in 0..N / 100 {
        let r = c.ok("get", &format!("/audiences/{id}?$skip={}&$take=100", page * 100), None).await;
        assert_eq!(r["total"], N, "{t}");
        for item in r["items"].as_array().unwrap() {
            assert_eq!(item["status"], "READ", "{t}: {item}");
            assert!(seen.insert(item["recipient"].as_str().unwrap().to_owned()), "{t}: listed twice: {item}");
        }
    }
    assert_eq!(seen.len(), N, "{t}");
    let beyond = c.ok("get", &format!("/audiences/{id}?$skip={N}"), None).await;
    assert_eq!((beyond["total"].as_u64(), beyond["items"].as_array().map(Vec::len)), (Some(N as u64), Some(0)), "{t}");
    let read = c.ok("get", &format!("/audiences/{id}?status=READ&$take=1"), None).await;
    assert_eq!(read["total"], N, "{t}");
}

#[tokio::test]
async fn a_thousand_recipient_batch_reaches_read_and_the_paged_report_lists_each_once() {
    let phones = phones();
    let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let created = c.full(support::batch("thousand", &refs)).await;
        let id = id_of(&created);
        wait_all_read(&mut c, &id).await;
        check_report(&mut c, &id, 10_000).await;
        check_report(&mut c, &id, 300).await;
        check_report(&mut c, &id, 1000).await;
        let default = c.ok("get", &format!("/campaigns/{id}/reports"), None).await;
        assert_eq!(default["statusAudience"].as_array().unwrap().len(), 100, "{t}: default take is 100");
        check_audience(&mut c, &id).await;
    }
}

#[tokio::test]
async fn a_thousand_recipients_added_in_ten_audience_calls_are_dispatched_and_read() {
    let phones = phones();
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("ten calls")).await);
        for (call, chunk) in phones.chunks(100).enumerate() {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let r: Value = c.audience(&id, items(&refs)).await;
            assert_eq!(
                (r["received"].as_u64(), r["added"].as_u64(), r["updated"].as_u64(), r["total"].as_u64()),
                (Some(100), Some(100), Some(0), Some(100 * (call as u64 + 1))),
                "{t}: call {call}: {r}"
            );
        }
        let d = c.dispatch(&id).await;
        assert_eq!(d["status"], "processing", "{t}");
        wait_all_read(&mut c, &id).await;
        check_report(&mut c, &id, 10_000).await;
        check_report(&mut c, &id, 250).await;
        check_audience(&mut c, &id).await;
    }
}
