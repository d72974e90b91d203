//! The WhatsApp Cloud API channel against a loopback fake of Meta's server
//! (tests/support/fake_whatsapp.rs), through the real gateway on SQLite: every seed template
//! variant on the LIME face and a REST TEMPLATE campaign, each request body checked field by
//! field, ending READ after the fake's signed webhooks; every row of the error table; the
//! creation and send-time slot checks; `${VAR}` tokens and no secret in REST answers.

mod support;

use std::path::PathBuf;

use serde_json::{json, Value};
use support::client::*;
use support::fake_whatsapp::{self as fake, FakeWhatsApp, Scripted, Served};
use support::whatsapp_seed as seed;
use support::{Gateway, Rest};

const MARIA: &str = "5531998761234";
const JOAO: &str = "5531998765678";

fn identity(phone: &str) -> String {
    format!("{phone}@wa.gw.msging.net")
}

/// The seed's WhatsApp `/campaign/full` requests, by file name.
fn seed_requests() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed000");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .filter(|(name, _)| !name.contains("rcs") && !name.starts_with("v2-"))
        .map(|(name, p)| (name, serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 10, "{:?}", out.iter().map(|o| &o.0).collect::<Vec<_>>());
    out
}

fn text(v: &str) -> Value {
    json!({"type": "text", "text": v})
}

fn media(kind: &str, link: &str) -> Value {
    json!({"type": "header", "parameters": [{"type": kind, kind: {"link": link}}]})
}

/// What Meta must receive as `template.components` for `template` with these parameter
/// values (written out by hand from Meta's reference, not from the gateway's code).
fn expected_components(template: &str, p: &Value) -> Option<Value> {
    let s = |k: &str| p[k].as_str().unwrap().to_owned();
    Some(match template {
        "aviso_sem_variavel" => return None,
        "email_commerce_resposta" | "boas_vindas_nome" => json!([{"type": "body", "parameters": [text(&s("1"))]}]),
        "botao_url_dinamica" => json!([media("image", &s("1")),
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [text(&s("2"))]}]),
        "promo_imagem" => json!([media("image", &s("image")), {"type": "body", "parameters": [text(&s("username"))]}]),
        "promo_video" => json!([media("video", &s("video")), {"type": "body", "parameters": [text(&s("username"))]}]),
        "carrossel_aulas" => {
            let card = |i: usize, url: String, name: String| {
                json!({"card_index": i, "components": [media("image", &url), {"type": "body", "parameters": [text(&name)]},
                    {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "Quero"}]}]})
            };
            json!([{"type": "carousel", "cards": [card(0, s("url1"), s("name1")), card(1, s("url2"), s("name2"))]}])
        }
        other => panic!("no expectation for {other}"),
    })
}

/// The audience of a seed request: (phone digits, messageParams).
fn audience_of(request: &Value) -> Vec<(String, Value)> {
    let r = &request["resource"];
    let list: Vec<Value> = match r.get("audiences") {
        Some(Value::Array(a)) => a.clone(),
        _ => vec![r["audience"].clone()],
    };
    list.iter()
        .map(|a| (a["recipient"].as_str().unwrap().trim_start_matches('+').to_owned(), a["messageParams"].clone()))
        .collect()
}

#[tokio::test]
async fn every_seed_whatsapp_example_sends_its_template_components_and_ends_read() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    let gw = Gateway::start_with(seed::config(&fake, "", "")).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    let mut started = Vec::new();
    for (file, request) in seed_requests() {
        let reply = c.call(request.clone()).await;
        assert_eq!(reply["status"], "success", "{file}: {reply}");
        started.push((file, request, id_of(&reply["resource"])));
    }
    for (file, _, id) in &started {
        c.wait_report(id, &format!("{file}: every recipient PROCESSED"), |r| {
            r["audienceCounts"]["processed"] == r["audienceCounts"]["total"]
        })
        .await;
    }
    let accepted = fake.accepted();
    for (file, request, id) in &started {
        let template = request["resource"]["message"]["messageTemplate"].as_str().unwrap();
        let campaign = uuid::Uuid::parse_str(id).unwrap().simple().to_string();
        let audience = audience_of(request);
        let sends: Vec<_> = accepted.iter().filter(|a| a.callback.contains(&campaign)).collect();
        assert_eq!(sends.len(), audience.len(), "{file}: one send per recipient");
        for (phone, params) in &audience {
            let send =
                sends.iter().find(|a| &a.to == phone).unwrap_or_else(|| panic!("{file}: nothing sent to {phone}"));
            let b = &send.body;
            assert_eq!(b["messaging_product"], "whatsapp", "{file}");
            assert_eq!(b["recipient_type"], "individual", "{file}");
            assert_eq!(b["type"], "template", "{file}");
            assert_eq!(b["template"]["name"], template, "{file}");
            assert_eq!(b["template"]["language"], json!({"code": "pt_BR"}), "{file}: the template's language");
            assert!(
                b["biz_opaque_callback_data"].as_str().unwrap().starts_with(&format!("ig.{campaign}.")),
                "{file}: {b}"
            );
            assert_eq!(b["template"].get("components").cloned(), expected_components(template, params), "{file}: {b}");
        }
    }
    fake.report_read(gw.addr).await;
    for (file, request, id) in &started {
        let report = c.wait_all_read(id).await;
        for (phone, _) in audience_of(request) {
            assert_eq!(entry(&report, &identity(&phone))["status"], "READ", "{file}");
        }
    }
    assert!(fake.answers().iter().all(|(_, code)| *code == 200), "no refusal: {:?}", fake.answers());
    gw.stop().await;
}

#[tokio::test]
async fn a_rest_template_campaign_fills_the_slots_from_contact_fields_and_text_goes_free_form() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    let gw = Gateway::start_with(seed::config(&fake, "", "")).await;
    let rest = Rest::new(&gw);
    rest.custom_field("foto", "TEXT").await;
    for (name, phone) in [("Maria", MARIA), ("João", JOAO)] {
        rest.contact(json!({"name": name, "phone": format!("+{phone}"), "custom_fields": {"foto": format!("https://img/{name}.jpg")}}))
            .await;
    }
    let templates = rest.ok_get("/campaigns/templates?channel_id=wa").await;
    let image = templates.as_array().unwrap().iter().find(|t| t["id"] == "t_image").unwrap().clone();
    assert_eq!(image["variables"], 2, "image header and one body variable: {image}");
    let id = rest
        .campaign(json!({"name": "promo", "message_type": "TEMPLATE", "channel_id": "wa", "template_id": "t_image",
                         "metadata": {"template_variable_mapping": {"{{1}}": "foto", "{{2}}": "nome"}}}))
        .await;
    rest.start(&id).await;
    rest.stats_until(&id, "both sent", |s| s["status"] == "COMPLETED").await;
    let maria = fake.accepted_to(MARIA);
    assert_eq!(maria.len(), 1);
    assert_eq!(
        maria[0].body["template"]["components"],
        json!([media("image", "https://img/Maria.jpg"), {"type": "body", "parameters": [text("Maria")]}])
    );
    fake.report_read(gw.addr).await;
    let read = support::poll(support::WAIT, || rest.messages(&id, Some("READ")), |m| m.len() == 2).await;
    assert!(read.is_some(), "both READ after the webhooks: {:?}", rest.messages(&id, None).await);

    // A TEXT campaign is free-form text: outside the 24 h window Meta refuses it (131047).
    fake.open_window(JOAO);
    let text_campaign = rest
        .campaign(json!({"name": "oi", "message_type": "TEXT", "channel_id": "wa",
                         "content": {"type": "text", "text": {"body": "Oi {{nome}}"}}}))
        .await;
    rest.start(&text_campaign).await;
    rest.stats_until(&text_campaign, "completed", |s| s["status"] == "COMPLETED").await;
    let joao: Vec<_> = fake.accepted_to(JOAO).into_iter().filter(|a| a.body["type"] == "text").collect();
    assert_eq!(joao.len(), 1);
    assert_eq!(joao[0].body["text"], json!({"body": "Oi João"}));
    let failed = rest.messages(&text_campaign, Some("FAILED")).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["error_code"], 131047, "{failed:?}");
    assert_eq!(failed[0]["error_message"], "Re-engagement message");
    gw.stop().await;
}

/// A Batch campaign on `email_commerce_resposta` to `phones` (messageParams "1").
fn batch(name: &str, template: &str, phones: &[String]) -> Value {
    let audiences: Vec<Value> =
        phones.iter().map(|p| json!({"recipient": format!("+{p}"), "messageParams": {"1": "Ana"}})).collect();
    let params = if template == "aviso_sem_variavel" { json!([]) } else { json!(["1"]) };
    json!({"campaign": {"name": name, "campaignType": "Batch"}, "audiences": audiences,
           "message": {"messageTemplate": template, "messageParams": params}})
}

fn phone(n: u32) -> String {
    format!("55319987{n:05}")
}

#[tokio::test]
async fn every_error_row_does_what_the_table_says() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    let gw = Gateway::start_with(seed::config(&fake, "", "")).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    // (code, answered once then taken?, final status, reason code)
    let retried = [130429i64, 4, 80007, 130472, 131000, 131016, 131056];
    let failed: [(i64, u32); 13] = [
        (132000, 1004),
        (132001, 1003),
        (132012, 1004),
        (131047, 131047),
        (131026, 131026),
        (131049, 131049),
        (131051, 131051),
        (131008, 131008),
        (131009, 131009),
        (133010, 133010),
        (368, 368),
        (100, 100),
        (131042, 131042),
    ];
    let mut phones = Vec::new();
    for (i, code) in retried.iter().enumerate() {
        let p = phone(100 + i as u32);
        fake.script(&p, &[Scripted::Code(*code)]);
        phones.push(p);
    }
    let bad_gateway = phone(200);
    fake.script(&bad_gateway, &[Scripted::Http(502)]);
    let always_down = phone(201);
    fake.script(&always_down, &[Scripted::Code(131000); 3]);
    phones.extend([bad_gateway.clone(), always_down.clone()]);
    for (i, (code, _)) in failed.iter().enumerate() {
        let p = phone(300 + i as u32);
        fake.script(&p, &[Scripted::Code(*code)]);
        phones.push(p);
    }
    let r = c.full(batch("errors", "email_commerce_resposta", &phones)).await;
    let id = id_of(&r);
    let report = c.wait_report(&id, "executed", |r| r["status"] == "executed").await;
    for (i, code) in retried.iter().enumerate() {
        let p = phone(100 + i as u32);
        assert_eq!(fake.answers_to(&p), [*code, 200], "{code}: refused once, then taken");
        assert_eq!(entry(&report, &identity(&p))["status"], "PROCESSED", "{code}");
    }
    let pair = fake.answer_times_to(&phone(106));
    assert!(
        pair[1] - pair[0] >= std::time::Duration::from_secs(6),
        "131056: retried after ≥ 6 s, not {:?}",
        pair[1] - pair[0]
    );
    assert_eq!(fake.answers_to(&bad_gateway), [502, 200], "HTTP 5xx is transient");
    assert_eq!(fake.answers_to(&always_down), [131000; 3], "send_attempts = 3");
    assert_eq!(entry(&report, &identity(&always_down))["reasonCode"], 1005);
    for (i, (code, reason)) in failed.iter().enumerate() {
        let p = phone(300 + i as u32);
        assert_eq!(fake.answers_to(&p), [*code], "{code}: refused for good, not retried");
        let e = entry(&report, &identity(&p));
        assert_eq!(
            (e["status"].as_str(), e["reasonCode"].as_u64()),
            (Some("FAILED"), Some(u64::from(*reason))),
            "{code}: {e}"
        );
        if *reason == *code as u32 {
            assert_eq!(e["reasonDescription"], fake::title(*code), "{code}: the provider's title");
        }
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_paused_or_disabled_template_fails_the_campaign_with_one_send() {
    let mut templates = seed::seed_templates();
    for (name, status) in [("pausado", "PAUSED"), ("desativado", "DISABLED")] {
        let mut t = Served::new(name, json!([{"type": "BODY", "text": "Oi {{1}}"}]));
        t.status = status.into();
        templates.push(t);
    }
    let fake = FakeWhatsApp::start(templates).await;
    let extra = r#"
[[tenants.templates]]
id = "t_paused"
channel = "wa"
name = "pausado"
body = "Oi {{1}}"

[[tenants.templates]]
id = "t_disabled"
channel = "wa"
name = "desativado"
body = "Oi {{1}}"
"#;
    let gw = Gateway::start_with(seed::config(&fake, "", extra)).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    for (n, (template, title)) in
        [("pausado", "Template is paused"), ("desativado", "Template is disabled")].into_iter().enumerate()
    {
        let phones: Vec<String> = (0..3).map(|i| phone(500 + 10 * n as u32 + i)).collect();
        let id = id_of(&c.full(batch(template, template, &phones)).await);
        let report = c.wait_report(&id, "failed", |r| r["status"] == "failed").await;
        let campaign = c.ok("get", &format!("/campaigns/{id}"), None).await;
        assert!(campaign["failedReason"].as_str().unwrap_or_default().contains(title), "{campaign}");
        let sent: usize = phones.iter().map(|p| fake.answers_to(p).len()).sum();
        assert_eq!(sent, 1, "{template}: one send told the gateway; the others were not tried");
        for p in &phones {
            let e = entry(&report, &identity(p));
            assert_eq!((e["status"].as_str(), e["reasonCode"].as_u64()), (Some("FAILED"), Some(1003)), "{e}");
        }
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_slot_count_mismatch_is_64_at_creation_and_1004_at_send_without_a_request() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    // The count given by hand disagrees with the structure (image header + body variable).
    let extra = "[[tenants.templates]]\nid = \"t_wrong\"\nchannel = \"wa\"\nname = \"promo_imagem_errada\"\n\
                 header = \"image\"\nbody = \"Oi {{1}}\"\nparameters = 1\n";
    let gw = Gateway::start_with(seed::config(&fake, "", extra)).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    let one_key = json!({"campaign": {"name": "x", "campaignType": "Individual"},
        "audience": {"recipient": format!("+{MARIA}"), "messageParams": {"image": "https://a/b.jpg"}},
        "message": {"messageTemplate": "promo_imagem", "messageParams": ["image"]}});
    let why = c.full_fails(one_key, 64).await;
    assert!(why.contains("takes 2"), "{why}");
    let wrong = json!({"campaign": {"name": "y", "campaignType": "Individual"},
        "audience": {"recipient": format!("+{MARIA}"), "messageParams": {"1": "https://a/b.jpg"}},
        "message": {"messageTemplate": "promo_imagem_errada", "messageParams": ["1"]}});
    let id = id_of(&c.full(wrong).await);
    let report = c.wait_report(&id, "executed", |r| r["status"] == "executed").await;
    assert_eq!(entry(&report, &identity(MARIA))["reasonCode"], 1004, "{report}");
    assert!(fake.answers().is_empty(), "nothing reached Meta: {:?}", fake.answers());
    gw.stop().await;
}

#[tokio::test]
async fn the_access_token_may_come_from_the_environment_and_no_secret_is_ever_answered() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    let text = seed::config_text(&fake, "", seed::SEED_TEMPLATES_TOML)
        .replace(&format!("access_token = \"{}\"", fake::TOKEN), "access_token = \"${WA_TEST_TOKEN}\"");
    assert!(text.contains("${WA_TEST_TOKEN}"));
    let env = |n: &str| (n == "WA_TEST_TOKEN").then(|| fake::TOKEN.to_owned());
    let config = irisgate::Config::parse_with_env(&text, &env).unwrap();
    let gw = Gateway::start_with(config).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    let id = id_of(&c.full(batch("env", "aviso_sem_variavel", &[MARIA.to_owned()])).await);
    c.wait_report(&id, "processed", |r| r["audienceCounts"]["processed"] == 1).await;
    assert_eq!(fake.accepted_to(MARIA).len(), 1, "the token read from the environment was accepted");
    let rest = Rest::new(&gw);
    let mut answers = vec![rest.ok_get("/campaigns/channels").await, rest.ok_get("/campaigns/templates").await];
    answers.push(rest.ok_get(&format!("/campaigns/{id}")).await);
    answers.push(c.report(&id).await);
    let channel = answers[0].as_array().unwrap().iter().find(|ch| ch["id"] == "wa").unwrap().clone();
    assert_eq!(
        (channel["provider"].as_str(), channel["status"].as_str()),
        (Some("whatsapp_cloud"), Some("ok")),
        "{channel}"
    );
    for a in &answers {
        let text = a.to_string();
        for secret in [fake::TOKEN, fake::APP_SECRET, fake::VERIFY_TOKEN] {
            assert!(!text.contains(secret), "a secret in a REST/LIME answer: {text}");
        }
    }
    gw.stop().await;
}

#[tokio::test]
async fn under_the_fakes_80_per_second_the_rate_converges_below_it_and_everybody_is_sent_once() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    // Configured above what the number may do: the gateway learns it from 130429.
    let gw = Gateway::start_with(seed::config(&fake, "max_per_second = 100", "")).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    let phones: Vec<String> = (0..300).map(|i| phone(1000 + i)).collect();
    let id = id_of(&c.full(batch("throughput", "aviso_sem_variavel", &phones)).await);
    let start = std::time::Instant::now();
    loop {
        let r = c.report(&id).await;
        if r["status"] == "executed" {
            assert_eq!(r["audienceCounts"]["processed"], 300, "{}", r["audienceCounts"]);
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "not executed in time: {}", r["audienceCounts"]);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 300);
    for p in &phones {
        assert_eq!(accepted.iter().filter(|a| &a.to == p).count(), 1, "{p} sent exactly once");
    }
    let refused = fake.answers().iter().filter(|(_, code)| *code == 130429).count();
    assert!((1..=20).contains(&refused), "the limit was hit and then respected: {refused} refusals");
    let times: Vec<_> = accepted.iter().map(|a| a.at).collect();
    let busiest = times
        .iter()
        .map(|t| times.iter().filter(|u| **u >= *t && u.duration_since(*t).as_millis() < 1000).count())
        .max();
    assert!(busiest.unwrap_or(0) <= 80, "busiest second: {busiest:?}");
    let tail = &times[100..];
    let rate = (tail.len() - 1) as f64 / tail[tail.len() - 1].duration_since(tail[0]).as_secs_f64();
    println!("measured: {refused} refusals of 130429, last 200 sends at {rate:.1}/s, busiest second {busiest:?}");
    assert!(rate < 80.0 && rate > 20.0, "converged below the fake's 80/s: {rate:.1}/s");
    gw.stop().await;
}

#[tokio::test]
async fn a_refused_token_stops_the_channel_without_failing_anybody_until_the_probe_resumes_it() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    let gw = Gateway::start_with(seed::config(&fake, "", "")).await;
    let mut c = Client::connect(&gw, Transport::Http).await;
    let rest = Rest::new(&gw);
    fake.set_token("a-rotated-token");
    let phones: Vec<String> = (0..3).map(|i| phone(700 + i)).collect();
    let id = id_of(&c.full(batch("token", "aviso_sem_variavel", &phones)).await);
    let channel = support::poll(
        support::WAIT,
        || async {
            rest.ok_get("/campaigns/channels")
                .await
                .as_array()
                .unwrap()
                .iter()
                .find(|ch| ch["id"] == "wa")
                .cloned()
                .unwrap()
        },
        |ch| ch["status"] == "error",
    )
    .await
    .expect("the channel shows its error state");
    assert!(channel["status_message"].as_str().unwrap_or_default().contains("Invalid OAuth access token"), "{channel}");
    assert!(!channel.to_string().contains(fake::TOKEN));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let report = c.report(&id).await;
    assert_eq!(report["status"], "processing", "the campaign stays RUNNING: {report}");
    assert_eq!(report["audienceCounts"]["failed"], 0, "{report}");
    assert_eq!(report["audienceCounts"]["processed"], 0, "{report}");
    assert_eq!(fake.answers().len(), 1, "one refused send, then nothing until the probe: {:?}", fake.answers());
    fake.set_token(fake::TOKEN);
    let start = std::time::Instant::now();
    loop {
        let r = c.report(&id).await;
        if r["status"] == "executed" {
            assert_eq!(r["audienceCounts"]["processed"], 3, "{r}");
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(45), "not resumed by the 30 s probe: {r}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(fake.probes() >= 1);
    for p in &phones {
        assert_eq!(fake.accepted_to(p).len(), 1, "{p} sent once");
    }
    let channels = rest.ok_get("/campaigns/channels").await;
    assert_eq!(channels.as_array().unwrap().iter().find(|ch| ch["id"] == "wa").unwrap()["status"], "ok");
    gw.stop().await;
}
