//! Google RBM sends: the real gateway on SQLite, its `google_rbm` channel pointed at the
//! loopback fake of Google's servers (tests/support/fake_rbm.rs). LIME and REST text campaigns
//! end READ through the fake's signed events; every answer row of providers.md; the token's
//! cache, expiry and refresh; the error state on refused credentials and its recovery; the
//! key file checked at start-up.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::client::{entry, id_of, Client, Transport};
use support::fake_rbm::{self, FakeRbm, Reply, CLIENT_TOKEN};
use support::{poll, Gateway, Rest, WAIT};

/// Waits until the fake has accepted `n` messages; returns them.
async fn accepted(fake: &FakeRbm, n: usize) -> Vec<fake_rbm::Accepted> {
    let got = poll(WAIT * 2, || async { fake.accepted() }, |a| a.len() >= n).await;
    got.unwrap_or_else(|| panic!("the fake accepted {} of {n} messages", fake.accepted().len()))
}

fn identity(phone: &str) -> String {
    format!("{}@googlercs.gw.msging.net", &phone[1..])
}

/// A LIME GoogleRcs batch campaign to `phones` (parameter `nome` = "P{i}").
async fn lime_campaign(c: &mut Client, phones: &[&str]) -> String {
    let audiences: Vec<Value> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"recipient": p, "messageParams": {"nome": format!("P{i}")}}))
        .collect();
    let r = c
        .full(json!({
            "campaign": {"name": "rbm", "campaignType": "Batch", "channelType": "GoogleRcs"},
            "audiences": audiences,
            "message": {"messageContent": "Olá {{nome}}!", "channelType": "GoogleRcs"}
        }))
        .await;
    id_of(&r)
}

/// A REST TEXT campaign on `rcs_main` to new contacts with `phones`, started.
async fn rest_campaign(rest: &Rest, name: &str, phones: &[&str]) -> String {
    let tag = format!("tag_{name}");
    rest.tag(&tag).await;
    for (i, p) in phones.iter().enumerate() {
        rest.contact(json!({"name": format!("{name}{i}"), "phone": p, "tags": [tag]})).await;
    }
    let id = rest
        .campaign(json!({"name": name, "message_type": "TEXT", "channel_id": "rcs_main",
            "content": {"type": "text", "text": {"body": "Oi {{nome}}, novidades!"}},
            "filters": {"tag_ids": [tag]}}))
        .await;
    rest.start(&id).await;
    id
}

#[tokio::test]
async fn lime_and_rest_text_campaigns_end_read_through_the_providers_events() {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "")).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    let lime_phones = ["+5531998760001", "+5531998760002", "+5531998760003"];
    let lime = lime_campaign(&mut c, &lime_phones).await;
    let sent = accepted(&fake, 3).await;
    let mut ids: Vec<&str> = sent.iter().map(|m| m.message_id.as_str()).collect();
    for m in &sent {
        let i = lime_phones.iter().position(|p| *p == m.phone).unwrap_or_else(|| panic!("sent to {}", m.phone));
        assert_eq!(m.body, json!({"contentMessage": {"text": format!("Olá P{i}!")}}), "the body Google gets");
        assert_eq!(uuid::Uuid::parse_str(&m.message_id).unwrap().get_version_num(), 5);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "one messageId per recipient");
    let processed = c.wait_report(&lime, "every recipient PROCESSED", |r| r["audienceCounts"]["processed"] == 3).await;
    assert_eq!(processed["status"], "executed", "{processed}");

    fake.deliver_and_read_all(gw.addr).await;
    let report = c.wait_all_read(&lime).await;
    for p in lime_phones {
        assert_eq!(entry(&report, &identity(p))["status"], "READ", "{report}");
    }

    let rest = Rest::new(&gw);
    let rest_id = rest_campaign(&rest, "restrbm", &["+5531998760011", "+5531998760012"]).await;
    let all = accepted(&fake, 5).await;
    let texts: Vec<&Value> = all[3..].iter().map(|m| &m.body["contentMessage"]["text"]).collect();
    assert!(texts.iter().all(|t| t.as_str().is_some_and(|t| t.starts_with("Oi restrbm"))), "{texts:?}");
    rest.stats_until(&rest_id, "both SENT", |s| s["sent"] == 2 || s["pending"] == 0).await;
    fake.deliver_and_read_all(gw.addr).await;
    let stats = rest.stats_until(&rest_id, "both READ", |s| s["read"] == 2).await;
    assert_eq!((stats["failed"].as_u64(), stats["pending"].as_u64()), (Some(0), Some(0)), "{stats}");
    assert_eq!(fake.token_requests(), 1, "one token for every send of both campaigns");
    gw.stop().await;
}

#[tokio::test]
async fn every_answer_row_becomes_its_outcome() {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = fake_rbm::config(&fake, dir.path(), "");
    config.campaigns.retry_backoff_ms = 20;
    let gw = Gateway::start_with(config).await;
    let rows: [(&str, &[Reply], &str, u64); 7] = [
        ("+5531998761001", &[], "PROCESSED", 0),
        ("+5531998761002", &[Reply::NOT_FOUND], "FAILED", 1002),
        ("+5531998761003", &[Reply::BAD_NUMBER], "FAILED", 64),
        ("+5531998761004", &[Reply::THROTTLED], "PROCESSED", 0),
        ("+5531998761005", &[Reply::UNAVAILABLE, Reply::Error(500, "INTERNAL", "Internal error")], "PROCESSED", 0),
        ("+5531998761006", &[Reply::Error(409, "ALREADY_EXISTS", "Requested entity already exists")], "PROCESSED", 0),
        // Every attempt (send_attempts = 3) transient: failed as the provider being unavailable.
        ("+5531998761007", &[Reply::UNAVAILABLE, Reply::UNAVAILABLE, Reply::UNAVAILABLE], "FAILED", 1005),
    ];
    for (phone, replies, _, _) in &rows {
        fake.script(phone, replies);
    }
    let phones: Vec<&str> = rows.iter().map(|r| r.0).collect();
    let mut c = Client::connect(&gw, Transport::Http).await;
    let id = lime_campaign(&mut c, &phones).await;
    let report = c.wait_report(&id, "executed", |r| r["status"] == "executed").await;
    for (phone, _, status, code) in &rows {
        let e = entry(&report, &identity(phone));
        assert_eq!(e["status"], *status, "{phone}: {e}");
        if *code != 0 {
            assert_eq!(e["reasonCode"], *code, "{phone}: {e}");
        }
    }
    let bad = entry(&report, &identity("+5531998761003"));
    assert_eq!(bad["reasonDescription"], "Please check the phone number format.", "the provider's message: {bad}");
    let took: Vec<String> = fake.accepted().into_iter().map(|m| m.phone).collect();
    for phone in ["+5531998761001", "+5531998761004", "+5531998761005"] {
        assert_eq!(took.iter().filter(|p| *p == phone).count(), 1, "{phone} accepted once: {took:?}");
    }
    assert!(!took.iter().any(|p| p == "+5531998761006"), "the 409 was an earlier acceptance, not a new one");
    assert_eq!(fake.send_requests(), 1 + 1 + 1 + 2 + 3 + 1 + 3, "retries exactly where the table says");
    gw.stop().await;
}

#[tokio::test]
async fn a_send_that_times_out_is_retried_with_the_same_message_id() {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "")).await;
    fake.script("+5531998762001", &[Reply::Stall]);
    let mut c = Client::connect(&gw, Transport::Http).await;
    let id = lime_campaign(&mut c, &["+5531998762001"]).await;
    let sent = poll(Duration::from_secs(30), || async { fake.accepted() }, |a| !a.is_empty()).await.expect("sent");
    let report = c.wait_report(&id, "executed", |r| r["status"] == "executed").await;
    assert_eq!(entry(&report, &identity("+5531998762001"))["status"], "PROCESSED", "{report}");
    assert_eq!(fake.send_requests(), 2, "the stalled request and its retry");
    assert_eq!(fake.accepted().len(), 1);
    assert_eq!(sent[0].message_id, fake.accepted()[0].message_id);
    gw.stop().await;
}

#[tokio::test]
async fn a_throttled_channel_halves_its_rate() {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "max_per_second = 20")).await;
    let phones: Vec<String> = (0..12).map(|i| format!("+55319987630{i:02}")).collect();
    fake.script(&phones[0], &[Reply::THROTTLED]);
    let mut c = Client::connect(&gw, Transport::Http).await;
    let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
    lime_campaign(&mut c, &refs).await;
    let sent = accepted(&fake, 12).await;
    // At 20/s the 11 intervals after the 429 would take 0.55 s; halved to 10/s, 1.1 s.
    let span = sent[11].at - sent[1].at;
    assert!(span >= Duration::from_millis(900), "sends after the 429 were {span:?} apart in all: not slowed down");
    gw.stop().await;
}

#[tokio::test]
async fn the_token_is_cached_refreshed_a_minute_before_expiry_and_once_on_401() {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    fake.set_expires_in(62);
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "")).await;
    let rest = Rest::new(&gw);
    rest_campaign(&rest, "first", &["+5531998764001", "+5531998764002", "+5531998764003"]).await;
    accepted(&fake, 3).await;
    assert_eq!(fake.token_requests(), 1, "three sends, one token");
    // 62 s of validity is used for 2 s: then a new one.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    rest_campaign(&rest, "second", &["+5531998764011"]).await;
    accepted(&fake, 4).await;
    assert_eq!(fake.token_requests(), 2, "renewed a minute before it expires");

    fake.set_expires_in(3600);
    fake.revoke_tokens();
    let before = fake.send_requests();
    let third = rest_campaign(&rest, "third", &["+5531998764021"]).await;
    accepted(&fake, 5).await;
    assert_eq!(fake.token_requests(), 3, "a 401 fetches one new token");
    assert_eq!(fake.send_requests() - before, 2, "the refused send and its one retry");
    rest.until_status(&third, "COMPLETED").await;
    gw.stop().await;
}

/// Refused credentials: nothing sent, recipients PENDING, campaign RUNNING; the probe
/// (every 30 s) brings the channel back and every recipient is sent once.
async fn error_state_and_recovery(refusal: Reply) {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(fake_rbm::config(&fake, dir.path(), "")).await;
    fake.always(Some(refusal.clone()));
    let rest = Rest::new(&gw);
    let phones = ["+5531998765001", "+5531998765002", "+5531998765003"];
    let id = rest_campaign(&rest, "down", &phones).await;
    poll(WAIT, || async { fake.send_requests() }, |n| *n > 0).await.expect("a first send");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = rest.stats(&id).await;
    assert_eq!((stats["status"].as_str(), stats["pending"].as_u64()), (Some("RUNNING"), Some(3)), "{stats}");
    let refused = fake.send_requests();
    // One batch went out at once; with 401 each send retried once with a fresh token.
    let most = if refusal == Reply::UNAUTHENTICATED { 6 } else { 3 };
    assert!(refused <= most, "{refused} sends while the channel was refused");
    assert!(fake.accepted().is_empty());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fake.send_requests(), refused, "nothing is sent while the channel is in error state");
    assert_eq!(rest.stats(&id).await["pending"], 3);

    fake.always(None);
    let sent = poll(Duration::from_secs(45), || async { fake.accepted() }, |a| a.len() >= 3).await;
    let sent = sent.expect("sending resumes after the probe");
    assert!(fake.probes() >= 1, "the channel came back through its probe");
    let mut to: Vec<String> = sent.into_iter().map(|m| m.phone).collect();
    to.sort();
    assert_eq!(to, phones, "each recipient once");
    let done = rest.until_status(&id, "COMPLETED").await;
    assert_eq!((done["sent"].as_u64(), done["failed"].as_u64()), (Some(3), Some(0)), "{done}");
    gw.stop().await;
}

#[tokio::test]
async fn a_403_puts_the_channel_in_error_state_until_the_probe_succeeds() {
    error_state_and_recovery(Reply::FORBIDDEN).await;
}

#[tokio::test]
async fn a_401_after_a_fresh_token_puts_the_channel_in_error_state_until_the_probe_succeeds() {
    error_state_and_recovery(Reply::UNAUTHENTICATED).await;
}

#[tokio::test]
async fn the_key_file_is_checked_at_start_up_without_showing_it() {
    let fake = FakeRbm::start(CLIENT_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let good = fake_rbm::config_text(&fake, dir.path(), &format!("client_token = \"{CLIENT_TOKEN}\""), "");
    irisgate::Config::parse(&good).expect("the test key is a valid key");
    let key_path = dir.path().join("rbm-key.json");
    let key: Value = serde_json::from_slice(&std::fs::read(&key_path).unwrap()).unwrap();
    let private = key["private_key"].as_str().unwrap().to_owned();
    let body_line = private.lines().nth(1).unwrap().to_owned();

    let missing = good.replace(&key_path.display().to_string(), &dir.path().join("nope.json").display().to_string());
    let (k, m) = irisgate::Config::parse(&missing).unwrap_err();
    assert_eq!(k, "tenants[0].channels[0].service_account_key", "{m}");

    let mut broken = key.clone();
    broken["private_key"] = json!(private.replace(&body_line, "AAAA"));
    std::fs::write(&key_path, broken.to_string()).unwrap();
    let (k, m) = irisgate::Config::parse(&good).unwrap_err();
    assert_eq!(k, "tenants[0].channels[0].service_account_key");
    assert!(m.contains("private_key") && !m.contains("BEGIN"), "{m}");

    let mut no_email = key.clone();
    no_email.as_object_mut().unwrap().remove("client_email");
    std::fs::write(&key_path, no_email.to_string()).unwrap();
    let (_, m) = irisgate::Config::parse(&good).unwrap_err();
    assert!(m.contains("client_email") && !m.contains(&body_line), "{m}");

    // The real binary: exit 2 naming the key, nothing of the key's content.
    let mut wrong_type = key.clone();
    wrong_type["private_key"] = json!(["x", body_line]);
    std::fs::write(&key_path, wrong_type.to_string()).unwrap();
    let config = dir.path().join("irisgate.toml");
    std::fs::write(&config, &good).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_irisgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("service_account_key"), "{stderr}");
    assert!(!stderr.contains(&body_line), "the key's content is never printed: {stderr}");
}
