//! The 13 commands of `postmaster@activecampaign.msging.net` (activecampaign.md), success and
//! failure, each case over a WebSocket session and over `POST /commands`.
//!
//! Every test runs its body once per transport, on a fresh gateway each time, so the two runs
//! never see each other's campaigns. Waiting is by polling with a deadline, never fixed sleeps.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use irisgate::Config;
use serde_json::{json, Value};
use support::client::*;
use support::id;

const WA: &str = "+5531998761234";
const WB: &str = "+5531998765678";
const WC: &str = "+5531998761111";
const WD: &str = "+5531998762222";
const WE: &str = "+5531998763333";

fn identity(phone: &str) -> String {
    format!("{}@wa.gw.msging.net", phone.trim_start_matches('+'))
}

fn edit(mut v: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut v);
    v
}

fn remove(v: &mut Value, key: &str) {
    v.as_object_mut().expect("object").remove(key);
}

fn assert_iso(v: &Value, what: &str) {
    let s = v.as_str().unwrap_or_else(|| panic!("{what}: not a string: {v}"));
    assert!(s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok(), "{what}: not ISO-8601 UTC: {s}");
}

fn future(days: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::days(days)
}

fn names(collection: &Value) -> Vec<String> {
    collection["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
}

fn config(edit: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config::development();
    edit(&mut c);
    c
}

async fn csv(c: &mut Client, id: &str, text: &str) -> Value {
    c.ok("set", &format!("/audiences/v2/{id}/file"), Some(("text/csv", json!(text)))).await
}

async fn csv_fails(c: &mut Client, id: &str, body: Option<(&str, Value)>, code: u64) -> String {
    c.fail("set", &format!("/audiences/v2/{id}/file"), body, code).await
}

/// A v2 campaign with `recipients` already added; returns its id.
async fn new_with(c: &mut Client, name: &str, recipients: &[&str]) -> String {
    let id = id_of(&c.v2(dynamic(name)).await);
    if !recipients.is_empty() {
        c.audience(&id, items(recipients)).await;
    }
    id
}

// ---------------------------------------------------------------------------------------
// The reply envelope
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_command_answers_from_the_campaign_node_with_its_documented_type() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let to = c.reply_to();
        let exchange = async |c: &mut Client, method: &str, uri: &str, body: Option<(&str, Value)>| {
            let request_id = id();
            let mut cmd = json!({"id": request_id, "to": CAMPAIGN_NODE, "method": method, "uri": uri});
            if let Some((ty, r)) = body {
                cmd["type"] = json!(ty);
                cmd["resource"] = r;
            }
            let r = c.call(cmd).await;
            assert_eq!(r["id"], request_id, "{t} {uri}: {r}");
            assert_eq!(r["from"], CAMPAIGN_FROM, "{t} {uri}: {r}");
            assert_eq!(r["to"], to, "{t} {uri}: {r}");
            assert_eq!(r["method"], method, "{t} {uri}: {r}");
            assert_eq!(r["status"], "success", "{t} {uri}: {r}");
            assert_eq!(r["metadata"]["#command.uri"], format!("lime://mybot@msging.net{uri}"), "{t}: {r}");
            support::parse_traceparent(r["metadata"]["traceparent"].as_str().expect("traceparent"));
            r
        };
        let typed = |r: &Value, ty: &str, item: Option<&str>| {
            assert_eq!(r["type"], ty, "{t}: {r}");
            if let Some(item) = item {
                assert_eq!(r["resource"]["itemType"], item, "{t}: {r}");
                assert!(r["resource"]["total"].is_u64() && r["resource"]["items"].is_array(), "{t}: {r}");
            }
        };
        // 1 set /campaign/full
        let r = exchange(&mut c, "set", "/campaign/full", Some((FULL_TYPE, full_batch("full", &[WA])))).await;
        typed(&r, CAMPAIGN_TYPE, None);
        let full_id = id_of(&r["resource"]);
        // 2 set /campaign/v2
        let r = exchange(&mut c, "set", "/campaign/v2", Some((DYNAMIC_TYPE, dynamic("v2")))).await;
        typed(&r, CAMPAIGN_TYPE, None);
        let v2 = id_of(&r["resource"]);
        // 3 set /audiences/v2/{id}
        let list = json!({"itemType": AUDIENCE_TYPE, "items": items(&[WA])});
        let r = exchange(&mut c, "set", &format!("/audiences/v2/{v2}"), Some((COLLECTION_TYPE, list))).await;
        typed(&r, AUDIENCE_RESULT_TYPE, None);
        // 4 set /audiences/v2/{id}/file
        let file = json!(format!("phone,1\n{WB},Bia\n"));
        let r = exchange(&mut c, "set", &format!("/audiences/v2/{v2}/file"), Some(("text/csv", file))).await;
        typed(&r, AUDIENCE_RESULT_TYPE, None);
        // 5 set /dispatch/v2
        let r = exchange(&mut c, "set", "/dispatch/v2", Some((CAMPAIGN_TYPE, json!({"id": v2})))).await;
        typed(&r, CAMPAIGN_TYPE, None);
        // 6 – 12 reads
        let r = exchange(&mut c, "get", "/campaigns/summaries", None).await;
        typed(&r, COLLECTION_TYPE, Some(SUMMARY_TYPE));
        let r = exchange(&mut c, "get", &format!("/campaigns/{full_id}/summaries"), None).await;
        typed(&r, COLLECTION_TYPE, Some(SUMMARY_TYPE));
        let r = exchange(&mut c, "get", &format!("/audiences/{full_id}"), None).await;
        typed(&r, COLLECTION_TYPE, Some(AUDIENCE_TYPE));
        let r = exchange(&mut c, "get", &format!("/messages/{full_id}"), None).await;
        typed(&r, COLLECTION_TYPE, Some(MESSAGE_TYPE));
        let r = exchange(&mut c, "get", &format!("/campaigns/{full_id}/reports"), None).await;
        typed(&r, REPORT_TYPE, None);
        let r = exchange(&mut c, "get", &format!("/campaigns/{full_id}"), None).await;
        typed(&r, CAMPAIGN_TYPE, None);
        let r = exchange(&mut c, "get", "/campaigns", None).await;
        typed(&r, COLLECTION_TYPE, Some(CAMPAIGN_TYPE));
        // 13 delete: success without type or resource
        let doomed = id_of(&c.v2(dynamic("doomed")).await);
        let r = exchange(&mut c, "delete", &format!("/campaigns/{doomed}"), None).await;
        assert!(r.get("type").is_none() && r.get("resource").is_none(), "{t}: {r}");

        // A failure comes from the same node, with the request's method and no resource.
        let missing = uuid::Uuid::new_v4();
        let r = c.ac("get", &format!("/campaigns/{missing}"), None).await;
        assert_eq!(
            (r["from"].as_str(), r["to"].as_str(), r["method"].as_str()),
            (Some(CAMPAIGN_FROM), Some(&*to), Some("get"))
        );
        assert_eq!(expect_failure(&r, 67, &t.to_string()), format!("The campaign {missing} was not found"));
    }
}

// ---------------------------------------------------------------------------------------
// 1. set /campaign/full
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn full_individual_whatsapp_starts_processing_with_every_campaign_field() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let mut resource = full_individual("individual", WA);
        resource["campaign"]["masterState"] = json!("master@msging.net");
        resource["campaign"]["sourceApplication"] = json!("Postman");
        resource["campaign"]["tags"] = json!(["a", "b"]);
        let r = c.full(resource).await;
        assert!(uuid::Uuid::try_parse(r["id"].as_str().unwrap()).is_ok(), "{t}: {r}");
        assert_eq!(r["name"], "individual");
        assert_eq!(r["campaignType"], "INDIVIDUAL", "{t}: {r}");
        assert_eq!(r["channelType"], "WHATSAPP");
        assert_eq!(r["status"], "processing");
        assert_eq!((r["flowId"].as_str(), r["stateId"].as_str()), (Some("flow-1"), Some("state-1")));
        assert_eq!(r["masterState"], "master@msging.net");
        assert_eq!(r["sourceApplication"], "Postman");
        assert_eq!(r["tags"], json!(["a", "b"]));
        assert_eq!(r["campaignSender"], "mybot@msging.net");
        assert_iso(&r["created"], "created");
        assert_iso(&r["sendDate"], "sendDate");
        assert!(r.get("failedReason").is_none() && r.get("scheduled").is_none(), "{t}: {r}");
        let id = id_of(&r);
        let report = c.wait_all_read(&id).await;
        assert_eq!(report["audienceCounts"]["total"], 1);
        assert_eq!(entry(&report, &identity(WA))["status"], "READ");
    }
}

#[tokio::test]
async fn full_batch_google_rcs_sends_to_googlercs_identities() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let r = c
            .full(json!({
                "campaign": {"name": "rcs", "campaignType": "Batch", "channelType": "GoogleRcs"},
                "audiences": [{"recipient": WA, "messageParams": {"nome": "Ana"}},
                              {"recipient": WB, "messageParams": {"nome": "Bia"}}],
                "message": {"messageContent": "Olá {{nome}}", "channelType": "GoogleRcs"}
            }))
            .await;
        assert_eq!((r["campaignType"].as_str(), r["channelType"].as_str()), (Some("BATCH"), Some("GOOGLERCS")), "{t}");
        let report = c.wait_all_read(&id_of(&r)).await;
        for p in [WA, WB] {
            let who = format!("{}@googlercs.gw.msging.net", &p[1..]);
            assert_eq!(entry(&report, &who)["status"], "READ", "{t}: {report}");
        }
    }
}

#[tokio::test]
async fn full_individual_takes_an_audiences_array_of_exactly_one() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let one = edit(full_individual("one", WA), |v| {
            let a = v["audience"].take();
            remove(v, "audience");
            v["audiences"] = json!([a]);
        });
        let r = c.full(one.clone()).await;
        assert_eq!(r["campaignType"], "INDIVIDUAL", "{t}: {r}");
        c.wait_all_read(&id_of(&r)).await;
        let two = edit(one, |v| v["audiences"] = items(&[WA, WB]));
        let e = c.full_fails(two, 64).await;
        assert_has(&e, "exactly one", t);
    }
}

#[tokio::test]
async fn full_batch_takes_a_single_audience_object() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let single = edit(full_batch("single", &[]), |v| {
            remove(v, "audiences");
            v["audience"] = json!({"recipient": WA, "messageParams": {"1": "Ana"}});
        });
        let r = c.full(single).await;
        assert_eq!(r["campaignType"], "BATCH", "{t}: {r}");
        let report = c.wait_all_read(&id_of(&r)).await;
        assert_eq!(report["audienceCounts"]["total"], 1);
    }
}

/// activecampaign.md does not say what a missing `campaignType` means; the gateway infers it
/// from the shape: `audience` alone is Individual, anything else Batch.
#[tokio::test]
async fn full_without_campaign_type_is_inferred_from_audience_or_audiences() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let individual = edit(full_individual("i", WA), |v| remove(&mut v["campaign"], "campaignType"));
        assert_eq!(c.full(individual).await["campaignType"], "INDIVIDUAL", "{t}");
        let batch = edit(full_batch("b", &[WA, WB]), |v| remove(&mut v["campaign"], "campaignType"));
        assert_eq!(c.full(batch).await["campaignType"], "BATCH", "{t}");
    }
}

#[tokio::test]
async fn full_validation_failures_are_64_naming_the_field_and_create_nothing() {
    let batch = || full_batch("v", &[WA, WB, WC, WD]);
    let individual = || full_individual("v", WA);
    let payment = |keys: Value| {
        edit(full_batch("p", &[]), |v| {
            v["message"] = json!({"messageTemplate": "lembrete_pagamento", "messageParams": keys});
            v["audiences"] = json!([{"recipient": WA, "messageParams": {"1": "a", "3": "c"}}]);
        })
    };
    let cases: Vec<(Value, &str)> = vec![
        (edit(batch(), |v| remove(v, "campaign")), "campaign is required"),
        (edit(batch(), |v| v["campaign"] = json!("x")), "campaign must be a JSON object"),
        (edit(batch(), |v| remove(&mut v["campaign"], "name")), "campaign.name is required"),
        (edit(batch(), |v| v["campaign"]["name"] = json!("   ")), "campaign.name is required"),
        (edit(batch(), |v| v["campaign"]["name"] = json!(5)), "campaign.name must be a string"),
        (edit(batch(), |v| remove(v, "message")), "message is required"),
        (edit(batch(), |v| remove(v, "audiences")), "audiences is required"),
        (edit(individual(), |v| remove(v, "audience")), "audience is required"),
        (edit(batch(), |v| v["audiences"] = json!([])), "audiences must hold at least one item"),
        (edit(batch(), |v| v["audiences"] = json!("x")), "audiences must be an array"),
        (edit(batch(), |v| remove(&mut v["audiences"][3], "recipient")), "audiences[3].recipient is required"),
        (edit(batch(), |v| v["audiences"][3]["recipient"] = json!(" ")), "audiences[3].recipient is required"),
        (edit(batch(), |v| v["audiences"][2]["recipient"] = json!({})), "audiences[2].recipient must be a string"),
        (edit(batch(), |v| v["audiences"][1] = json!("x")), "audiences[1] must be a JSON object"),
        (
            edit(batch(), |v| v["audiences"][0]["messageParams"]["1"] = json!("x".repeat(251))),
            "audiences[0].messageParams.1 is longer than 250 characters",
        ),
        (
            edit(batch(), |v| v["audiences"][0]["messageParams"] = json!(["a"])),
            "audiences[0].messageParams must be a JSON object",
        ),
        (
            edit(batch(), |v| v["audiences"][0]["contextVariables"] = json!("x")),
            "audiences[0].contextVariables must be a JSON object",
        ),
        (payment(json!(["1", "2", "3"])), r#"audiences[0].messageParams is missing key "2""#),
        (
            edit(batch(), |v| v["audiences"][2]["messageParams"] = json!({"other": "x"})),
            r#"audiences[2].messageParams is missing key "1""#,
        ),
        (payment(json!(["1", "2"])), r#"message.messageParams has 2 keys but template "lembrete_pagamento" takes 3"#),
        (
            edit(batch(), |v| v["message"]["messageParams"] = json!(["1", "2"])),
            r#"message.messageParams has 2 keys but template "email_commerce_resposta" takes 1"#,
        ),
        (edit(batch(), |v| v["message"]["messageParams"] = json!("1")), "message.messageParams must be an array"),
        (edit(batch(), |v| remove(&mut v["message"], "messageTemplate")), "message.messageTemplate is required"),
        (
            edit(batch(), |v| v["campaign"]["channelType"] = json!("GoogleRcs")),
            "message.messageContent is required for GoogleRcs",
        ),
        (edit(batch(), |v| v["campaign"]["campaignType"] = json!("Broadcast")), "campaign.campaignType \"Broadcast\""),
        (edit(batch(), |v| v["campaign"]["channelType"] = json!("Sms")), "campaign.channelType \"Sms\""),
        (
            edit(batch(), |v| {
                v["campaign"]["channelType"] = json!("WhatsApp");
                v["message"]["channelType"] = json!("GoogleRcs");
            }),
            "message.channelType",
        ),
        (edit(batch(), |v| v["campaign"]["tags"] = json!("x")), "campaign.tags must be an array"),
        (edit(batch(), |v| v["campaign"]["scheduled"] = json!("2020-01-01T00:00:00Z")), "scheduled is in the past"),
        (edit(batch(), |v| v["campaign"]["scheduled"] = json!("2020-01-01 10")), "scheduled is in the past"),
        (edit(batch(), |v| v["campaign"]["scheduled"] = json!("2020-01-01 10:30")), "scheduled is in the past"),
        (edit(batch(), |v| v["campaign"]["scheduled"] = json!("tomorrow")), "campaign.scheduled \"tomorrow\""),
        (edit(batch(), |v| v["campaign"]["scheduled"] = json!(5)), "campaign.scheduled must be a string"),
        (edit(individual(), |v| v["audience"]["recipient"] = json!("abc")), "audience.recipient is not a phone number"),
        (
            edit(individual(), |v| {
                remove(v, "audience");
                v["audiences"] = json!([{"recipient": "+553400", "messageParams": {"1": "x"}}]);
            }),
            "audiences[0].recipient is not a phone number",
        ),
        (json!("x"), "resource must be a JSON object"),
    ];
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        for (resource, expected) in &cases {
            let e = c.full_fails(resource.clone(), 64).await;
            assert!(e.contains(expected), "{t}: {resource}\n  gave {e:?}\n  expected it to contain {expected:?}");
        }
        let all = c.ok("get", "/campaigns", None).await;
        assert_eq!(all["total"], 0, "{t}: a refused campaign is not created at all: {all}");
    }
}

#[tokio::test]
async fn full_batch_keeps_an_invalid_number_as_invalid_and_fails_it_with_1001() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.full(full_batch("invalid", &[WA, "+553400"])).await);
        let r = c.wait_report(&id, "executed", |r| r["status"] == "executed" && r["audienceCounts"]["read"] == 1).await;
        assert_eq!(
            r["audienceCounts"],
            json!({"total": 2, "pending": 0, "processed": 0, "received": 0, "read": 1, "failed": 1, "replied": 0}),
            "{t}"
        );
        let bad = entry(&r, "+553400");
        assert_eq!(bad["status"], "FAILED", "{t}: {bad}");
        assert_eq!(bad["reasonCode"], 1001);
        assert_eq!(bad["reasonDescription"], "Invalid phone number");
        assert_eq!(bad["numberStatus"], "INVALID");
        assert_iso(&bad["failed"], "failed");
        assert_eq!(entry(&r, &identity(WA))["numberStatus"], "VALID");
        let audience = c.ok("get", &format!("/audiences/{id}?status=FAILED"), None).await;
        let item = &audience["items"][0];
        assert_eq!((item["recipient"].as_str(), item["numberStatus"].as_str()), (Some("+553400"), Some("INVALID")));
        assert!(item.get("validatedAccount").is_none(), "{t}: {item}");
    }
}

#[tokio::test]
async fn full_scheduled_accepts_iso_with_offset_and_the_short_utc_formats() {
    let at = future(3);
    let hour = at.format("%Y-%m-%dT%H:00:00.000Z").to_string();
    let minute = at.format("%Y-%m-%dT%H:%M:00.000Z").to_string();
    let offset = (at - chrono::Duration::hours(3)).format("%Y-%m-%dT%H:%M:%S-03:00").to_string();
    let second = at.format("%Y-%m-%dT%H:%M:%S.000Z").to_string();
    let cases = [
        (at.format("%Y-%m-%dT%H:%M:%SZ").to_string(), second.clone()),
        (offset, second),
        (at.format("%Y-%m-%d %H").to_string(), hour),
        (at.format("%Y-%m-%d %H:%M").to_string(), minute),
    ];
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        for (given, expected) in &cases {
            let r = c.full(edit(full_batch("later", &[WA]), |v| v["campaign"]["scheduled"] = json!(given))).await;
            assert_eq!(r["status"], "scheduling", "{t} {given}: {r}");
            assert_eq!(r["scheduled"], json!(expected), "{t} {given}: {r}");
            assert!(r.get("sendDate").is_none(), "{t}: not sent yet: {r}");
            let read = c.ok("get", &format!("/campaigns/{}", id_of(&r)), None).await;
            assert_eq!((read["status"].as_str(), &read["scheduled"]), (Some("scheduling"), &json!(expected)));
        }
    }
}

#[tokio::test]
async fn request_keys_and_enum_values_are_case_insensitive() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        for key in ["masterState", "masterstate", "MasterState", "MASTERSTATE"] {
            let r = c.v2(edit(dynamic("ms"), |v| v["campaign"][key] = json!("master@msging.net"))).await;
            assert_eq!(r["masterState"], "master@msging.net", "{t} {key}: {r}");
        }
        for (given, shown) in
            [("INDIVIDUAL", "INDIVIDUAL"), ("individual", "INDIVIDUAL"), ("batch", "BATCH"), ("BATCH", "BATCH")]
        {
            let r = c.v2(edit(dynamic("k"), |v| v["campaign"]["campaignType"] = json!(given))).await;
            assert_eq!(r["campaignType"], shown, "{t} {given}");
        }
        for given in ["googlercs", "GOOGLERCS", "GoogleRcs"] {
            let r = c
                .v2(json!({"campaign": {"name": "r", "channelType": given},
                           "message": {"messageContent": "oi", "channelType": given.to_lowercase()}}))
                .await;
            assert_eq!(r["channelType"], "GOOGLERCS", "{t} {given}");
        }
        for given in ["whatsapp", "WHATSAPP"] {
            let r = c.v2(edit(dynamic("w"), |v| v["campaign"]["channelType"] = json!(given))).await;
            assert_eq!(r["channelType"], "WHATSAPP", "{t} {given}");
        }
        // Every key in another case, at every level.
        let shouted = json!({
            "Campaign": {"Name": "shouted", "CampaignType": "INDIVIDUAL", "ChannelType": "WHATSAPP",
                         "FLOWID": "flow-x", "StateId": "state-x", "SourceApplication": "caps"},
            "AUDIENCE": {"Recipient": WA, "MessageParams": {"1": "Ana"}, "ContextVariables": {"k": "v"}},
            "Message": {"MessageTemplate": "email_commerce_resposta", "MESSAGEPARAMS": ["1"],
                        "MessageTemplateLanguage": "pt_BR"}
        });
        let r = c.full(shouted).await;
        assert_eq!(
            (r["name"].as_str(), r["flowId"].as_str(), r["stateId"].as_str(), r["sourceApplication"].as_str()),
            (Some("shouted"), Some("flow-x"), Some("state-x"), Some("caps")),
            "{t}: {r}"
        );
        let id = id_of(&r);
        c.wait_all_read(&id).await;
        let audience = c.ok("get", &format!("/audiences/{id}"), None).await;
        assert_eq!(audience["items"][0]["messageParams"], json!({"1": "Ana"}), "{t}");
    }
}

#[tokio::test]
async fn unknown_keys_are_ignored_at_every_level() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let resource = edit(full_batch("extra keys", &[WA]), |v| {
            v["somethingElse"] = json!({"a": 1});
            v["campaign"]["color"] = json!("blue");
            v["audiences"][0]["nickname"] = json!("Ana");
            v["audiences"][0]["recipientType"] = json!("PhoneNumber");
            v["message"]["priority"] = json!(1);
        });
        let r = c.full(resource).await;
        assert!(r.get("color").is_none(), "{t}: {r}");
        c.wait_all_read(&id_of(&r)).await;
        let v2 = edit(dynamic("extra"), |v| v["audiences"] = json!("ignored by v2"));
        assert_eq!(c.v2(v2).await["status"], "new", "{t}");
    }
}

// A phone given twice in one batch keeps its first place, takes the later entry's data and
// counts as updated, on every store (the SQL stores used to keep the last place; found when
// these suites moved to SQLite).

#[tokio::test]
async fn full_deduplicates_recipients_and_the_later_entry_wins() {
    full_deduplicates_recipients_and_the_later_entry_wins_on(Config::development()).await;
}

async fn full_deduplicates_recipients_and_the_later_entry_wins_on(config: Config) {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, config.clone()).await;
        let resource =
            edit(full_batch("dupes", &[WA, WB, WA]), |v| v["audiences"][2]["messageParams"]["1"] = json!("later"));
        let id = id_of(&c.full(resource).await);
        let r = c.wait_all_read(&id).await;
        assert_eq!(r["audienceCounts"]["total"], 2, "{t}: {r}");
        let audience = c.ok("get", &format!("/audiences/{id}"), None).await;
        assert_eq!(audience["items"][0]["messageParams"], json!({"1": "later"}), "{t}: {audience}");
    }
}

#[tokio::test]
async fn full_over_the_recipient_limit_is_64_and_creates_nothing() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, config(|c| c.campaigns.max_recipients_per_campaign = 3)).await;
        let e = c.full_fails(full_batch("four", &[WA, WB, WC, WD]), 64).await;
        assert_has(&e, "limit is 3", t);
        assert_eq!(c.ok("get", "/campaigns", None).await["total"], 0, "{t}");
        let r = c.full(full_batch("three", &[WA, WB, WC])).await;
        c.wait_all_read(&id_of(&r)).await;
    }
}

#[tokio::test]
async fn full_duplicates_count_once_against_the_recipient_limit() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, config(|c| c.campaigns.max_recipients_per_campaign = 3)).await;
        // Four entries, three distinct recipients: the campaign holds 3, within the limit.
        let r = c.full(full_batch("dupes", &[WA, WB, WC, WA])).await;
        assert_eq!(c.wait_all_read(&id_of(&r)).await["audienceCounts"]["total"], 3, "{t}");
    }
}

// ---------------------------------------------------------------------------------------
// 2. set /campaign/v2
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn v2_creates_a_new_campaign_on_whatsapp_or_google_rcs_without_sending() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let r = c.v2(dynamic("wa")).await;
        assert_eq!((r["status"].as_str(), r["channelType"].as_str()), (Some("new"), Some("WHATSAPP")), "{t}: {r}");
        assert_eq!(r["campaignType"], "BATCH");
        assert_iso(&r["created"], "created");
        assert!(r.get("sendDate").is_none(), "{t}: {r}");
        let rcs = c
            .v2(json!({"campaign": {"name": "rcs", "campaignType": "Batch", "channelType": "GoogleRcs"},
                       "message": {"messageContent": "Olá", "channelType": "GoogleRcs"}}))
            .await;
        assert_eq!((rcs["status"].as_str(), rcs["channelType"].as_str()), (Some("new"), Some("GOOGLERCS")), "{t}");
        // Nothing is sent: the audience stays empty and the campaign new.
        let report = c.report(&id_of(&r)).await;
        assert_eq!((report["status"].as_str(), &report["audienceCounts"]["total"]), (Some("new"), &json!(0)));
    }
}

#[tokio::test]
async fn v2_validation_failures_are_64_naming_the_field() {
    let cases: Vec<(Value, &str)> = vec![
        (edit(dynamic("x"), |v| remove(&mut v["campaign"], "name")), "campaign.name is required"),
        (edit(dynamic("x"), |v| remove(v, "message")), "message is required"),
        (
            edit(dynamic("x"), |v| v["message"]["messageParams"] = json!(["a", "b"])),
            r#"message.messageParams has 2 keys but template "email_commerce_resposta" takes 1"#,
        ),
        (edit(dynamic("x"), |v| v["campaign"]["scheduled"] = json!("2001-02-03 04")), "scheduled is in the past"),
        (
            json!({"campaign": {"name": "r", "channelType": "GoogleRcs"}, "message": {}}),
            "message.messageContent is required",
        ),
    ];
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        for (resource, expected) in &cases {
            let e = c.fail("set", "/campaign/v2", Some((DYNAMIC_TYPE, resource.clone())), 64).await;
            assert!(e.contains(expected), "{t}: {resource} gave {e:?}, expected {expected:?}");
        }
        assert_eq!(c.ok("get", "/campaigns", None).await["total"], 0, "{t}");
    }
}

// ---------------------------------------------------------------------------------------
// 3. set /audiences/v2/{id}
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn audiences_accept_a_collection_a_bare_array_or_one_audience_object() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("shapes")).await);
        let uri = format!("/audiences/v2/{id}");
        let r = c.audience(&id, items(&[WA, WB])).await;
        assert_eq!(
            r,
            json!({"campaignId": id, "received": 2, "added": 2, "updated": 0, "invalid": [], "total": 2}),
            "{t}"
        );
        let r = c.ok("set", &uri, Some(("application/json", items(&[WC])))).await;
        assert_eq!(
            (r["received"].as_u64(), r["added"].as_u64(), r["total"].as_u64()),
            (Some(1), Some(1), Some(3)),
            "{t}: {r}"
        );
        let one = json!({"recipient": WD, "messageParams": {"1": "Dani"}});
        let r = c.ok("set", &uri, Some((AUDIENCE_TYPE, one))).await;
        assert_eq!(
            (r["received"].as_u64(), r["added"].as_u64(), r["total"].as_u64()),
            (Some(1), Some(1), Some(4)),
            "{t}: {r}"
        );
        let audience = c.ok("get", &format!("/audiences/{id}"), None).await;
        assert_eq!(audience["total"], 4, "{t}");
        assert_eq!(audience["items"][3]["messageParams"], json!({"1": "Dani"}));
    }
}

#[tokio::test]
async fn audiences_are_deduplicated_by_phone_and_a_later_entry_replaces_params() {
    audiences_are_deduplicated_by_phone_and_a_later_entry_replaces_params_on(Config::development()).await;
}

async fn audiences_are_deduplicated_by_phone_and_a_later_entry_replaces_params_on(config: Config) {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, config.clone()).await;
        let id = id_of(&c.v2(dynamic("dedupe")).await);
        c.audience(&id, json!([{"recipient": WA, "messageParams": {"1": "first"}}])).await;
        let r = c
            .audience(
                &id,
                json!([{"recipient": WA, "messageParams": {"1": "second"}},
                                  {"recipient": WB, "messageParams": {"1": "b"}}]),
            )
            .await;
        assert_eq!(
            (r["received"].as_u64(), r["added"].as_u64(), r["updated"].as_u64(), r["total"].as_u64()),
            (Some(2), Some(1), Some(1), Some(2)),
            "{t}: {r}"
        );
        // Within one call too.
        let r = c
            .audience(
                &id,
                json!([{"recipient": WC, "messageParams": {"1": "c1"}},
                                  {"recipient": WC, "messageParams": {"1": "c2"}}]),
            )
            .await;
        assert_eq!(
            (r["added"].as_u64(), r["updated"].as_u64(), r["total"].as_u64()),
            (Some(1), Some(1), Some(3)),
            "{t}: {r}"
        );
        let audience = c.ok("get", &format!("/audiences/{id}"), None).await;
        let params: Vec<&Value> =
            audience["items"].as_array().unwrap().iter().map(|i| &i["messageParams"]["1"]).collect();
        assert_eq!(params, vec!["second", "b", "c2"], "{t}: insertion order kept, params replaced");
        c.dispatch(&id).await;
        assert_eq!(c.wait_all_read(&id).await["audienceCounts"]["total"], 3, "{t}: one send per phone");
    }
}

#[tokio::test]
async fn audiences_report_bad_entries_by_path_and_add_the_rest() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("bad entries")).await);
        let r = c
            .audience(
                &id,
                json!([
                    {"recipient": WA, "messageParams": {"1": "ok"}},
                    {"recipient": "abc", "messageParams": {"1": "x"}},
                    {"messageParams": {"1": "x"}},
                    {"recipient": WB, "messageParams": {}},
                    "x",
                    {"recipient": WC, "messageParams": {"1": "y".repeat(251)}}
                ]),
            )
            .await;
        assert_eq!(
            (r["received"].as_u64(), r["added"].as_u64(), r["total"].as_u64()),
            (Some(6), Some(1), Some(1)),
            "{t}: {r}"
        );
        let invalid = r["invalid"].as_array().unwrap();
        let expected = [
            ("abc", "items[1].recipient is not a phone number"),
            ("", "items[2].recipient is required"),
            (WB, r#"items[3].messageParams is missing key "1""#),
            ("", "items[4] must be a JSON object"),
            (WC, "items[5].messageParams.1 is longer than 250 characters"),
        ];
        assert_eq!(invalid.len(), expected.len(), "{t}: {r}");
        for (got, (recipient, reason)) in invalid.iter().zip(expected) {
            assert_eq!(got["recipient"], recipient, "{t}: {got}");
            assert_has(got["reason"].as_str().unwrap(), reason, t);
            assert!(got.get("line").is_none(), "{t}: JSON entries have no line: {got}");
        }
        // A bare array names entries audiences[i]; a single object names it audience.
        let uri = format!("/audiences/v2/{id}");
        let r = c.ok("set", &uri, Some(("application/json", json!([{"recipient": "+553400"}])))).await;
        assert_has(r["invalid"][0]["reason"].as_str().unwrap(), "audiences[0].recipient is not a phone number", t);
        let r = c.ok("set", &uri, Some((AUDIENCE_TYPE, json!({"recipient": WD})))).await;
        assert_has(r["invalid"][0]["reason"].as_str().unwrap(), r#"audience.messageParams is missing key "1""#, t);
    }
}

#[tokio::test]
async fn audiences_after_dispatch_are_66_already_dispatched() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = new_with(&mut c, "dispatched", &[WA]).await;
        c.dispatch(&id).await;
        let coll = json!({"items": items(&[WB])});
        let e = c.fail("set", &format!("/audiences/v2/{id}"), Some((COLLECTION_TYPE, coll.clone())), 66).await;
        assert_eq!(e, "The campaign was already dispatched", "{t}");
        let e = csv_fails(&mut c, &id, Some(("text/csv", json!(format!("phone,1\n{WB},b\n")))), 66).await;
        assert_eq!(e, "The campaign was already dispatched", "{t}");
        // A /campaign/full campaign was dispatched at creation.
        let full = id_of(&c.full(full_batch("full", &[WA])).await);
        c.fail("set", &format!("/audiences/v2/{full}"), Some((COLLECTION_TYPE, coll)), 66).await;
        c.wait_all_read(&id).await;
        assert_eq!(c.report(&id).await["audienceCounts"]["total"], 1, "{t}: nothing was added");
    }
}

#[tokio::test]
async fn audiences_for_an_unknown_or_malformed_campaign_id_are_67() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let coll = json!({"items": items(&[WA])});
        for bad in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
            c.fail("set", &format!("/audiences/v2/{bad}"), Some((COLLECTION_TYPE, coll.clone())), 67).await;
            csv_fails(&mut c, &bad, Some(("text/csv", json!(format!("phone,1\n{WA},a\n")))), 67).await;
        }
    }
}

#[tokio::test]
async fn audiences_over_the_recipient_limit_are_64_and_add_nobody() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, config(|c| c.campaigns.max_recipients_per_campaign = 3)).await;
        let id = new_with(&mut c, "limited", &[WA, WB]).await;
        let coll = |r: &[&str]| Some((COLLECTION_TYPE, json!({"items": items(r)})));
        let e = c.fail("set", &format!("/audiences/v2/{id}"), coll(&[WC, WD]), 64).await;
        assert_has(&e, "the limit is 3", t);
        let e = csv_fails(&mut c, &id, Some(("text/csv", json!(format!("phone,1\n{WC},c\n{WD},d\n")))), 64).await;
        assert_has(&e, "the limit is 3", t);
        assert_eq!(c.report(&id).await["audienceCounts"]["total"], 2, "{t}: all or nothing");
        // Updates of recipients already in do not count; the third fits.
        let r = c.audience(&id, items(&[WA, WC])).await;
        assert_eq!(
            (r["added"].as_u64(), r["updated"].as_u64(), r["total"].as_u64()),
            (Some(1), Some(1), Some(3)),
            "{t}"
        );
        c.fail("set", &format!("/audiences/v2/{id}"), coll(&[WD]), 64).await;
        let r = c.audience(&id, items(&[WB])).await;
        assert_eq!((r["updated"].as_u64(), r["total"].as_u64()), (Some(1), Some(3)), "{t}");
    }
}

#[tokio::test]
async fn the_recipient_limit_message_names_the_real_setting() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, config(|c| c.campaigns.max_recipients_per_campaign = 1)).await;
        let id = new_with(&mut c, "limited", &[WA]).await;
        let e = c
            .fail("set", &format!("/audiences/v2/{id}"), Some((COLLECTION_TYPE, json!({"items": items(&[WB])}))), 64)
            .await;
        assert_has(&e, "campaigns.max_recipients_per_campaign", t);
    }
}

#[tokio::test]
async fn audience_resource_that_is_not_a_collection_array_or_object_is_64() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("shape")).await);
        for resource in [json!("x"), json!(5), json!(true)] {
            let e = c.fail("set", &format!("/audiences/v2/{id}"), Some(("application/json", resource)), 64).await;
            assert_has(&e, "must be a collection, an array or an audience object", t);
        }
    }
}

// ---------------------------------------------------------------------------------------
// 4. set /audiences/v2/{id}/file
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn csv_comma_separated_adds_every_line() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("csv")).await);
        let r = csv(&mut c, &id, &format!("phone,1\n{WA},Ana\n{WB},Bia\n")).await;
        assert_eq!(
            r,
            json!({"campaignId": id, "received": 2, "added": 2, "updated": 0, "invalid": [], "total": 2}),
            "{t}"
        );
        let audience = c.ok("get", &format!("/audiences/{id}"), None).await;
        assert_eq!(audience["items"][1]["messageParams"], json!({"1": "Bia"}), "{t}");
        c.dispatch(&id).await;
        c.wait_all_read(&id).await;
    }
}

#[tokio::test]
async fn csv_with_semicolons_quotes_bom_crlf_and_context_variables() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("csv;")).await);
        let text = format!(
            "\u{feff}telefone;1;#contextvariables#\r\n\
             {WA};\"Silva; Ana\";\"{{\"\"plano\"\":\"\"ouro\"\",\"\"pontos\"\":10}}\"\r\n\
             \r\n\
             {WB};\"Bia \"\"B\"\", 2\";\r\n"
        );
        let r = csv(&mut c, &id, &text).await;
        assert_eq!((r["received"].as_u64(), r["added"].as_u64()), (Some(2), Some(2)), "{t}: {r}");
        assert_eq!(r["invalid"], json!([]), "{t}");
        let audience = c.ok("get", &format!("/audiences/{id}"), None).await;
        assert_eq!(audience["items"][0]["messageParams"], json!({"1": "Silva; Ana"}), "{t}: {audience}");
        assert_eq!(audience["items"][1]["messageParams"], json!({"1": "Bia \"B\", 2"}), "{t}: {audience}");
        c.dispatch(&id).await;
        c.wait_all_read(&id).await;
        let ctx = |name: &str| format!("/contexts/{}/{name}", identity(WA));
        let plano = c.to(SERVER_NODE, "get", &ctx("plano"), None).await;
        assert_eq!((plano["type"].as_str(), &plano["resource"]), (Some("text/plain"), &json!("ouro")), "{t}: {plano}");
        let pontos = c.to(SERVER_NODE, "get", &ctx("pontos"), None).await;
        assert_eq!((pontos["type"].as_str(), &pontos["resource"]), (Some("application/json"), &json!(10)), "{t}");
    }
}

#[tokio::test]
async fn csv_bad_lines_are_reported_with_their_line_numbers_and_good_lines_added() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("bad csv")).await);
        let long = "x".repeat(251);
        let text =
            format!("phone,1\n{WA},Ana\nabc,Bia\n,Caio\n{WB},Dani,extra\n{WC},{long}\n\n{WD},Eva\n{WE},\"unclosed\n");
        let r = csv(&mut c, &id, &text).await;
        let lines: Vec<(u64, &str)> = r["invalid"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (i["line"].as_u64().unwrap_or_else(|| panic!("{t}: no line: {i}")), i["recipient"].as_str().unwrap())
            })
            .collect();
        assert_eq!(lines[..4], [(3, "abc"), (4, ""), (5, WB), (6, WC)], "{t}: {r}");
        let reasons: Vec<&str> =
            r["invalid"].as_array().unwrap().iter().map(|i| i["reason"].as_str().unwrap()).collect();
        assert_has(reasons[0], "phone is not a phone number", t);
        assert_has(reasons[1], "the phone column is empty", t);
        assert_has(reasons[2], "3 fields but the header has 2", t);
        assert_has(reasons[3], "1 is longer than 250 characters", t);
        // Line 9 opens a quote it never closes: whatever the parser makes of it, WD (line 8)
        // is in and the blank line 7 is neither counted nor reported.
        let audience = c.ok("get", &format!("/audiences/{id}"), None).await;
        let phones: Vec<&str> =
            audience["items"].as_array().unwrap().iter().map(|i| i["recipient"].as_str().unwrap()).collect();
        assert_eq!(phones[..2], [WA, WD], "{t}: {audience}");
        assert_eq!(r["received"].as_u64().unwrap(), 7, "{t}: the blank line is not counted: {r}");
        assert_eq!(r["total"].as_u64().unwrap(), phones.len() as u64, "{t}");

        let r = csv(&mut c, &id, &format!("phone,1,#contextvariables#\n{WE},Ana,not-json\n")).await;
        assert_eq!(r["invalid"][0]["line"], 2, "{t}: {r}");
        assert_has(r["invalid"][0]["reason"].as_str().unwrap(), "#contextvariables# is not a JSON object", t);
    }
}

#[tokio::test]
async fn csv_line_numbers_count_the_blank_lines_before_them() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("blank lines")).await);
        let r = csv(&mut c, &id, &format!("phone,1\n{WA},Ana\n\n\nabc,Bia\n")).await;
        assert_eq!((r["received"].as_u64(), r["added"].as_u64()), (Some(2), Some(1)), "{t}: {r}");
        assert_eq!(r["invalid"][0]["line"], 5, "{t}: abc is on line 5: {r}");
    }
}

#[tokio::test]
async fn csv_phone_column_is_found_by_its_name_and_other_columns_are_params() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        for header in ["telefone", "phone", "Telephone", "RECIPIENT"] {
            let id = id_of(&c.v2(edit(dynamic("by name"), |v| v["message"]["messageParams"] = json!(["nome"]))).await);
            let r = csv(&mut c, &id, &format!("nome,{header}\nAna,{WA}\n")).await;
            assert_eq!(r["added"], 1, "{t} {header}: {r}");
            let audience = c.ok("get", &format!("/audiences/{id}"), None).await;
            let item = &audience["items"][0];
            assert_eq!(
                (item["recipient"].as_str(), &item["messageParams"]),
                (Some(WA), &json!({"nome": "Ana"})),
                "{t}"
            );
        }
    }
}

#[tokio::test]
async fn csv_without_the_column_of_a_message_param_adds_nobody_and_names_the_column() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("no column")).await);
        let r = csv(&mut c, &id, &format!("phone,nome\n{WA},Ana\n{WB},Bia\n")).await;
        assert_eq!(
            (r["received"].as_u64(), r["added"].as_u64(), r["total"].as_u64()),
            (Some(2), Some(0), Some(0)),
            "{t}"
        );
        for (i, who) in [WA, WB].iter().enumerate() {
            assert_eq!(r["invalid"][i]["recipient"], *who, "{t}: {r}");
            assert_has(r["invalid"][i]["reason"].as_str().unwrap(), "column \"1\"", t);
        }
    }
}

#[tokio::test]
async fn csv_lines_missing_a_message_param_column_carry_their_line_numbers() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("no column")).await);
        let r = csv(&mut c, &id, &format!("phone,nome\n{WA},Ana\n{WB},Bia\n")).await;
        assert_eq!(
            (r["invalid"][0]["line"].as_u64(), r["invalid"][1]["line"].as_u64()),
            (Some(2), Some(3)),
            "{t}: {r}"
        );
    }
}

#[tokio::test]
async fn file_needs_text_csv_as_a_string_or_a_media_link() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("types")).await);
        let body = json!(format!("phone,1\n{WA},a\n"));
        let cases = [
            (None, "type is required"),
            (Some(("text/plain", body.clone())), "type text/plain is not supported"),
            (Some(("text/csv", json!({"csv": "phone"}))), "the CSV text as a JSON string"),
            (Some(("text/csv", json!(""))), "a header row is required"),
            (Some(("text/csv", json!("\n\n"))), "a header row is required"),
        ];
        for (body, expected) in cases {
            // `set` without a resource is refused by the router first (21), so always send one.
            let body = body.or(Some(("", json!("phone,1\n"))));
            let mut cmd = json!({"to": CAMPAIGN_NODE, "method": "set", "uri": format!("/audiences/v2/{id}/file")});
            if let Some((ty, r)) = body {
                if !ty.is_empty() {
                    cmd["type"] = json!(ty);
                }
                cmd["resource"] = r;
            }
            let r = c.call(cmd).await;
            let e = expect_failure(&r, 64, &t.to_string());
            assert_has(&e, expected, t);
        }
        let r = csv(&mut c, &id, "phone,1\n").await;
        assert_eq!((r["received"].as_u64(), r["total"].as_u64()), (Some(0), Some(0)), "{t}: header only: {r}");
    }
}

/// A local HTTP server for media links: `/audience.csv`, `/big.csv` (with a length),
/// `/stream.csv` (chunked, no length), `/moved.csv` (a redirect); anything else is 404.
async fn csv_server() -> SocketAddr {
    use axum::response::Redirect;
    use axum::routing::get;
    let good = format!("phone,1\n{WA},Ana\n{WB},Bia\n");
    let big = format!("phone,1\n{}", format!("{WA},Ana\n").repeat(400));
    let app = axum::Router::new()
        .route("/audience.csv", get(move || async move { ([("content-type", "text/csv")], good) }))
        .route("/big.csv", get(move || async move { big }))
        .route(
            "/stream.csv",
            get(|| async {
                let chunks = std::iter::once(Bytes::from_static(b"phone,1\n"))
                    .chain(std::iter::repeat_n(Bytes::from(format!("{WA},Ana\n")), 400))
                    .map(Ok::<_, std::io::Error>);
                axum::body::Body::from_stream(futures_util::stream::iter(chunks))
            }),
        )
        .route("/moved.csv", get(|| async { Redirect::temporary("/audience.csv") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn media_link_config() -> Config {
    config(|c| {
        c.campaigns.media_link_hosts = vec!["127.0.0.1".into()];
        c.campaigns.media_link_max_bytes = 4096;
        (c.campaigns.media_link_allow_http, c.campaigns.media_link_allow_private) = (true, true);
    })
}

fn link(uri: &str) -> Option<(&'static str, Value)> {
    Some((MEDIA_LINK_TYPE, json!({"uri": uri, "type": "text/csv"})))
}

#[tokio::test]
async fn media_link_from_a_host_that_is_not_allowed_is_refused() {
    let server = csv_server().await;
    for t in BOTH {
        // Default: no host is allowed at all.
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.v2(dynamic("link")).await);
        let e = csv_fails(&mut c, &id, link(&format!("http://{server}/audience.csv")), 64).await;
        assert_has(&e, "media_link_hosts", t);
        // Allowed: 127.0.0.1 by that exact name only.
        let Env { gw: _gw, mut c } = Env::start_with(t, media_link_config()).await;
        let id = id_of(&c.v2(dynamic("link")).await);
        let e = csv_fails(&mut c, &id, link(&format!("http://localhost:{}/audience.csv", server.port())), 64).await;
        assert_has(&e, "host localhost is not in campaigns.media_link_hosts", t);
        let e = csv_fails(&mut c, &id, link("ftp://127.0.0.1/audience.csv"), 64).await;
        assert_has(&e, "scheme ftp is not allowed", t);
        let e = csv_fails(&mut c, &id, link("not a url"), 64).await;
        assert_has(&e, "is not a URL", t);
        let e = csv_fails(&mut c, &id, Some((MEDIA_LINK_TYPE, json!({"type": "text/csv"}))), 64).await;
        assert_has(&e, "uri is required", t);
        assert_eq!(c.report(&id).await["audienceCounts"]["total"], 0, "{t}");
    }
}

#[tokio::test]
async fn media_link_csv_from_an_allowed_local_server_is_fetched_and_added() {
    let server = csv_server().await;
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, media_link_config()).await;
        let id = id_of(&c.v2(dynamic("link")).await);
        let r = c.ok("set", &format!("/audiences/v2/{id}/file"), link(&format!("http://{server}/audience.csv"))).await;
        assert_eq!(
            r,
            json!({"campaignId": id, "received": 2, "added": 2, "updated": 0, "invalid": [], "total": 2}),
            "{t}"
        );
        c.dispatch(&id).await;
        c.wait_all_read(&id).await;
    }
}

#[tokio::test]
async fn media_link_over_the_size_limit_or_404_is_refused_and_adds_nobody() {
    let server = csv_server().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, media_link_config()).await;
        let id = id_of(&c.v2(dynamic("link")).await);
        for (path, expected) in [
            ("/big.csv", "over the limit of 4096 bytes"),
            ("/stream.csv", "over the limit of 4096 bytes"),
            ("/missing.csv", "answered HTTP 404"),
        ] {
            let e = csv_fails(&mut c, &id, link(&format!("http://{server}{path}")), 64).await;
            assert_has(&e, expected, t);
        }
        // Nobody listening: a fault the caller may retry.
        let e = csv_fails(&mut c, &id, link(&format!("http://{closed}/a.csv")), 61).await;
        assert_has(&e, "could not be fetched", t);
        assert_eq!(c.report(&id).await["audienceCounts"]["total"], 0, "{t}");
    }
}

// ---------------------------------------------------------------------------------------
// 5. set /dispatch/v2
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn dispatch_moves_a_new_campaign_to_processing_and_every_recipient_is_read() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = new_with(&mut c, "go", &[WA, WB]).await;
        let r = c.dispatch(&id).await;
        assert_eq!((r["id"].as_str(), r["status"].as_str()), (Some(&*id), Some("processing")), "{t}: {r}");
        assert_iso(&r["sendDate"], "sendDate");
        let report = c.wait_all_read(&id).await;
        assert_eq!(report["audienceCounts"]["total"], 2);
        assert_eq!(c.ok("get", &format!("/campaigns/{id}"), None).await["status"], "executed", "{t}");
    }
}

#[tokio::test]
async fn dispatch_needs_a_new_campaign_with_at_least_one_recipient() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let body = |id: &str| Some((CAMPAIGN_TYPE, json!({"id": id})));
        let empty = id_of(&c.v2(dynamic("empty")).await);
        let e = c.fail("set", "/dispatch/v2", body(&empty), 64).await;
        assert_has(&e, "no audience", t);
        assert_eq!(c.ok("get", &format!("/campaigns/{empty}"), None).await["status"], "new", "{t}");
        let id = new_with(&mut c, "twice", &[WA]).await;
        c.dispatch(&id).await;
        let e = c.fail("set", "/dispatch/v2", body(&id), 64).await;
        assert_has(&e, "already dispatched", t);
        let full = id_of(&c.full(full_batch("full", &[WB])).await);
        c.fail("set", "/dispatch/v2", body(&full), 64).await;
        c.wait_all_read(&full).await;
        c.fail("set", "/dispatch/v2", body(&full), 64).await;
    }
}

#[tokio::test]
async fn dispatch_of_an_unknown_malformed_or_missing_id_fails() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let missing = uuid::Uuid::new_v4().to_string();
        let e = c.fail("set", "/dispatch/v2", Some((CAMPAIGN_TYPE, json!({"id": missing}))), 67).await;
        assert_eq!(e, format!("The campaign {missing} was not found"), "{t}");
        c.fail("set", "/dispatch/v2", Some((CAMPAIGN_TYPE, json!({"id": "nope"}))), 67).await;
        let e = c.fail("set", "/dispatch/v2", Some((CAMPAIGN_TYPE, json!({}))), 64).await;
        assert_eq!(e, "id is required", "{t}");
        let e = c.fail("set", "/dispatch/v2", Some((CAMPAIGN_TYPE, json!({"id": 5}))), 64).await;
        assert_eq!(e, "id must be a string", "{t}");
    }
}

#[tokio::test]
async fn dispatch_of_a_campaign_scheduled_in_the_future_is_scheduling() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let at = future(1).format("%Y-%m-%d %H:%M").to_string();
        let id = id_of(&c.v2(edit(dynamic("later"), |v| v["campaign"]["scheduled"] = json!(at))).await);
        c.audience(&id, items(&[WA])).await;
        let r = c.dispatch(&id).await;
        assert_eq!(r["status"], "scheduling", "{t}: {r}");
        assert!(r.get("sendDate").is_none(), "{t}: {r}");
        let report = c.report(&id).await;
        assert_eq!((report["status"].as_str(), &report["audienceCounts"]["pending"]), (Some("scheduling"), &json!(1)));
        c.ok("delete", &format!("/campaigns/{id}"), None).await;
    }
}

// ---------------------------------------------------------------------------------------
// 6–7. Summaries
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn summaries_list_newest_first_with_full_counts_and_status_audience() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let resource =
            edit(full_batch("sent", &[WA, "+553400"]), |v| v["campaign"]["masterState"] = json!("m@msging.net"));
        let sent = id_of(&c.full(resource).await);
        c.wait_report(&sent, "final", |r| r["status"] == "executed" && r["audienceCounts"]["read"] == 1).await;
        let fresh = id_of(&c.v2(dynamic("fresh")).await);
        let all = c.ok("get", "/campaigns/summaries", None).await;
        assert_eq!((all["total"].as_u64(), all["itemType"].as_str()), (Some(2), Some(SUMMARY_TYPE)), "{t}");
        assert_eq!(names(&all), ["fresh", "sent"], "{t}: newest first");
        let s = &all["items"][1];
        assert_eq!(s["id"], sent);
        assert_eq!(
            (s["messageTemplate"].as_str(), s["masterState"].as_str(), s["flowId"].as_str(), s["stateId"].as_str()),
            (Some("email_commerce_resposta"), Some("m@msging.net"), Some("flow-1"), Some("state-1")),
            "{t}: {s}"
        );
        assert_eq!((s["channelType"].as_str(), s["status"].as_str()), (Some("WHATSAPP"), Some("executed")));
        assert_iso(&s["sendDate"], "sendDate");
        assert_eq!(
            s["audienceCounts"],
            json!({"total": 2, "pending": 0, "processed": 0, "received": 0, "read": 1, "failed": 1, "replied": 0})
        );
        let ok = entry(s, &identity(WA));
        assert_eq!((ok["status"].as_str(), ok["numberStatus"].as_str()), (Some("READ"), Some("VALID")), "{t}: {ok}");
        for k in ["processed", "received", "read"] {
            assert_iso(&ok[k], k);
        }
        let bad = entry(s, "+553400");
        assert_eq!(
            (
                bad["status"].as_str(),
                &bad["reasonCode"],
                bad["reasonDescription"].as_str(),
                bad["numberStatus"].as_str()
            ),
            (Some("FAILED"), &json!(1001), Some("Invalid phone number"), Some("INVALID")),
            "{t}: {bad}"
        );
        let f = &all["items"][0];
        assert_eq!((f["id"].as_str(), f["status"].as_str()), (Some(&*fresh), Some("new")));
        assert_eq!(f["audienceCounts"]["total"], 0);
        assert!(f.get("sendDate").is_none(), "{t}: {f}");
        // 7: one campaign's summary is a collection of one.
        let one = c.ok("get", &format!("/campaigns/{sent}/summaries"), None).await;
        assert_eq!((one["total"].as_u64(), one["itemType"].as_str()), (Some(1), Some(SUMMARY_TYPE)), "{t}");
        assert_eq!(one["items"][0], *s, "{t}");
        for bad in [uuid::Uuid::new_v4().to_string(), "x".to_owned()] {
            c.fail("get", &format!("/campaigns/{bad}/summaries"), None, 67).await;
        }
    }
}

#[tokio::test]
async fn summaries_filter_by_created_sender_source_application_and_status() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let a = c.v2(dynamic("A")).await; // sourceApplication "tests", new
        let b = id_of(&c.full(full_batch("B", &[WA])).await); // no sourceApplication
        c.wait_all_read(&b).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let cc = c.v2(edit(dynamic("C"), |v| v["campaign"]["sourceApplication"] = json!("Postman"))).await;
        assert!(cc["created"].as_str() > a["created"].as_str(), "{t}: distinct creation times");
        let created_c = cc["created"].as_str().unwrap();
        let cases: Vec<(String, Vec<&str>)> = vec![
            (String::new(), vec!["C", "B", "A"]),
            (format!("created={created_c}"), vec!["C"]),
            ("created=2000-01-01".into(), vec!["C", "B", "A"]),
            ("created=2999-01-01T00:00:00Z".into(), vec![]),
            ("CampaignSender=mybot@msging.net".into(), vec!["C", "B", "A"]),
            ("campaignSender=MyBot@msging.net".into(), vec!["C", "B", "A"]),
            ("CampaignSender=other@msging.net".into(), vec![]),
            ("sourceApplication=postman".into(), vec!["C"]),
            ("SourceApplication=tests".into(), vec!["A"]),
            ("sourceApplication=nothing".into(), vec![]),
            ("status=new".into(), vec!["C", "A"]),
            ("status=NEW".into(), vec!["C", "A"]),
            ("status=executed".into(), vec!["B"]),
            ("status=processing".into(), vec![]),
            ("status=new&sourceApplication=tests".into(), vec!["A"]),
        ];
        for (query, expected) in cases {
            let uri = if query.is_empty() {
                "/campaigns/summaries".to_owned()
            } else {
                format!("/campaigns/summaries?{query}")
            };
            let r = c.ok("get", &uri, None).await;
            assert_eq!(names(&r), expected, "{t} {query}");
            assert_eq!(r["total"], expected.len(), "{t} {query}");
        }
        let e = c.fail("get", "/campaigns/summaries?status=bogus", None, 64).await;
        assert_has(&e, "status \"bogus\" is not valid", t);
        let e = c.fail("get", "/campaigns/summaries?created=yesterday", None, 64).await;
        assert_has(&e, "created \"yesterday\" is not a date", t);
    }
}

#[tokio::test]
async fn summaries_and_campaigns_page_with_skip_and_take_newest_first() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        for i in 0..22 {
            c.v2(dynamic(&format!("c{i:02}"))).await;
        }
        let expect =
            |range: std::ops::Range<usize>| -> Vec<String> { range.rev().map(|i| format!("c{i:02}")).collect() };
        for base in ["/campaigns/summaries", "/campaigns"] {
            let r = c.ok("get", base, None).await;
            assert_eq!((r["total"].as_u64(), names(&r)), (Some(22), expect(2..22)), "{t} {base}: default take 20");
            let r = c.ok("get", &format!("{base}?$skip=20"), None).await;
            assert_eq!(names(&r), expect(0..2), "{t} {base}");
            let r = c.ok("get", &format!("{base}?$skip=3&$take=5"), None).await;
            assert_eq!((r["total"].as_u64(), names(&r)), (Some(22), expect(14..19)), "{t} {base}");
            let r = c.ok("get", &format!("{base}?$take=100"), None).await;
            assert_eq!(names(&r).len(), 22, "{t} {base}");
            let r = c.ok("get", &format!("{base}?$skip=50"), None).await;
            assert_eq!((r["total"].as_u64(), names(&r).len()), (Some(22), 0), "{t} {base}");
            let e = c.fail("get", &format!("{base}?$take=101"), None, 64).await;
            assert_eq!(e, "The take parameter can not be greater than 100", "{t} {base}");
            for bad in ["$skip=-1", "$take=abc"] {
                let e = c.fail("get", &format!("{base}?{bad}"), None, 64).await;
                assert_has(&e, "must be a non-negative integer", t);
            }
        }
    }
}

#[tokio::test]
async fn summary_status_audience_is_capped_by_config_but_counts_are_complete() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, config(|c| c.campaigns.summary_audience_items = 2)).await;
        let id = id_of(&c.full(full_batch("capped", &[WA, WB, WC])).await);
        c.wait_all_read(&id).await;
        for uri in ["/campaigns/summaries".to_owned(), format!("/campaigns/{id}/summaries")] {
            let s = c.ok("get", &uri, None).await["items"][0].clone();
            assert_eq!(s["statusAudience"].as_array().unwrap().len(), 2, "{t} {uri}: {s}");
            assert_eq!(
                (s["audienceCounts"]["total"].as_u64(), s["audienceCounts"]["read"].as_u64()),
                (Some(3), Some(3))
            );
        }
        // The report is not capped by that setting.
        assert_eq!(c.report(&id).await["statusAudience"].as_array().unwrap().len(), 3, "{t}");
    }
}

// ---------------------------------------------------------------------------------------
// 8. get /audiences/{id}
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn audience_items_have_every_documented_field_and_filter_and_page() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.full(full_batch("audience", &[WA, WB, "+553400"])).await);
        c.wait_report(&id, "final", |r| r["status"] == "executed" && r["audienceCounts"]["read"] == 2).await;
        let all = c.ok("get", &format!("/audiences/{id}"), None).await;
        assert_eq!((all["total"].as_u64(), all["itemType"].as_str()), (Some(3), Some(AUDIENCE_TYPE)), "{t}");
        let a = &all["items"][0];
        assert_eq!(a["campaignId"], id);
        assert_eq!(a["recipient"], WA);
        assert_eq!(a["recipientIdentity"], identity(WA));
        assert_eq!(a["recipientType"], "PhoneNumber");
        assert_eq!(a["channelType"], "WHATSAPP");
        assert_eq!(a["messageParams"], json!({"1": format!("param of {WA}")}));
        assert_eq!((a["status"].as_str(), a["numberStatus"].as_str()), (Some("READ"), Some("VALID")), "{t}: {a}");
        assert_eq!(a["validatedAccount"], WA);
        for k in ["processed", "received", "read"] {
            assert_iso(&a[k], k);
        }
        assert!(a.get("failed").is_none() && a.get("reasonCode").is_none(), "{t}: {a}");
        let bad = &all["items"][2];
        assert_eq!((bad["recipientIdentity"].as_str(), bad["status"].as_str()), (Some("+553400"), Some("FAILED")));
        assert_eq!(
            (bad["reasonCode"].as_u64(), bad["reasonDescription"].as_str()),
            (Some(1001), Some("Invalid phone number"))
        );
        assert_iso(&bad["failed"], "failed");

        let count = async |c: &mut Client, q: &str| {
            let r = c.ok("get", &format!("/audiences/{id}?{q}"), None).await;
            (r["total"].as_u64().unwrap(), r["items"].as_array().unwrap().len())
        };
        assert_eq!(count(&mut c, "status=READ").await, (2, 2), "{t}");
        assert_eq!(count(&mut c, "status=failed").await, (1, 1), "{t}");
        assert_eq!(count(&mut c, "status=PENDING").await, (0, 0), "{t}");
        assert_eq!(count(&mut c, "$skip=1&$take=1").await, (3, 1), "{t}");
        let page = c.ok("get", &format!("/audiences/{id}?$skip=1&$take=1"), None).await;
        assert_eq!(page["items"][0]["recipient"], WB, "{t}: insertion order");
        assert_eq!(count(&mut c, "status=READ&$skip=1").await, (2, 1), "{t}");
        let e = c.fail("get", &format!("/audiences/{id}?$take=101"), None, 64).await;
        assert_eq!(e, "The take parameter can not be greater than 100", "{t}");
        let e = c.fail("get", &format!("/audiences/{id}?status=DELIVERED_LATE"), None, 64).await;
        assert_has(&e, "status \"DELIVERED_LATE\" is not valid", t);
        c.fail("get", &format!("/audiences/{}", uuid::Uuid::new_v4()), None, 67).await;
        c.fail("get", "/audiences/nope", None, 67).await;
    }
}

// ---------------------------------------------------------------------------------------
// 9. get /messages/{id}
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn messages_describe_the_template_or_the_rcs_content() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let wa = id_of(&c.full(full_batch("wa", &[WA])).await);
        let r = c.ok("get", &format!("/messages/{wa}"), None).await;
        assert_eq!((r["total"].as_u64(), r["itemType"].as_str()), (Some(1), Some(MESSAGE_TYPE)), "{t}");
        assert_eq!(
            r["items"][0],
            json!({"channelType": "WHATSAPP", "messageTemplate": "email_commerce_resposta",
                   "messageTemplateLanguage": "pt_BR", "messageParams": ["1"]}),
            "{t}"
        );
        let lang =
            id_of(&c.v2(edit(dynamic("en"), |v| v["message"]["messageTemplateLanguage"] = json!("en_US"))).await);
        let r = c.ok("get", &format!("/messages/{lang}"), None).await;
        assert_eq!(r["items"][0]["messageTemplateLanguage"], "en_US", "{t}");
        let rcs = id_of(
            &c.v2(json!({"campaign": {"name": "rcs", "channelType": "GoogleRcs"},
                         "message": {"messageContent": "Olá {{nome}}", "messageParams": ["nome"]}}))
                .await,
        );
        let r = c.ok("get", &format!("/messages/{rcs}"), None).await;
        assert_eq!(
            r["items"][0],
            json!({"channelType": "GOOGLERCS", "messageContent": "Olá {{nome}}", "messageParams": ["nome"]}),
            "{t}"
        );
        c.fail("get", &format!("/messages/{}", uuid::Uuid::new_v4()), None, 67).await;
        c.wait_all_read(&wa).await;
    }
}

// ---------------------------------------------------------------------------------------
// 10. get /campaigns/{id}/reports
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn report_has_the_campaign_fields_and_pages_status_audience() {
    let phones = [WA, WB, WC, WD, WE];
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let resource = edit(full_batch("report", &phones), |v| v["campaign"]["masterState"] = json!("m@msging.net"));
        let id = id_of(&c.full(resource).await);
        let r = c.wait_all_read(&id).await;
        assert_eq!(
            (r["id"].as_str(), r["name"].as_str(), r["messageTemplate"].as_str(), r["masterState"].as_str()),
            (Some(&*id), Some("report"), Some("email_commerce_resposta"), Some("m@msging.net")),
            "{t}: {r}"
        );
        assert_eq!((r["flowId"].as_str(), r["stateId"].as_str()), (Some("flow-1"), Some("state-1")));
        assert!(r["stateName"].is_string(), "{t}: {r}");
        assert_eq!((r["campaignSender"].as_str(), r["status"].as_str()), (Some("mybot@msging.net"), Some("executed")));
        assert_iso(&r["sendDate"], "sendDate");
        assert_eq!(
            r["audienceCounts"],
            json!({"total": 5, "pending": 0, "processed": 0, "received": 0, "read": 5, "failed": 0, "replied": 0})
        );
        let default = c.ok("get", &format!("/campaigns/{id}/reports"), None).await;
        assert_eq!(default["statusAudience"].as_array().unwrap().len(), 5, "{t}: default take is 100");
        let page = c.ok("get", &format!("/campaigns/{id}/reports?$skip=1&$take=2"), None).await;
        let who: Vec<&str> = page["statusAudience"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["recipientIdentity"].as_str().unwrap())
            .collect();
        assert_eq!(who, [identity(WB), identity(WC)], "{t}: insertion order");
        assert_eq!(page["audienceCounts"]["total"], 5, "{t}: counts are not paged");
        c.ok("get", &format!("/campaigns/{id}/reports?$take=10000"), None).await;
        let e = c.fail("get", &format!("/campaigns/{id}/reports?$take=10001"), None, 64).await;
        assert_eq!(e, "The take parameter can not be greater than 10000", "{t}");
        c.fail("get", &format!("/campaigns/{}/reports", uuid::Uuid::new_v4()), None, 67).await;
    }
}

#[tokio::test]
async fn report_carries_attendance_redirect() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.full(full_batch("report", &[WA])).await);
        let r = c.report(&id).await;
        assert!(r.get("attendanceRedirect").is_some(), "{t}: {r}");
    }
}

// ---------------------------------------------------------------------------------------
// 11–12. get /campaigns/{id}, get /campaigns
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn get_campaign_returns_it_and_unknown_or_malformed_ids_are_67() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let created = c.v2(edit(dynamic("one"), |v| v["campaign"]["tags"] = json!(["x"]))).await;
        let id = id_of(&created);
        assert_eq!(c.ok("get", &format!("/campaigns/{id}"), None).await, created, "{t}");
        let upper = id.to_uppercase();
        assert_eq!(c.ok("get", &format!("/campaigns/{upper}"), None).await["id"], id, "{t}");
        let missing = uuid::Uuid::new_v4();
        let e = c.fail("get", &format!("/campaigns/{missing}"), None, 67).await;
        assert_eq!(e, format!("The campaign {missing} was not found"), "{t}");
        c.fail("get", "/campaigns/not-a-uuid", None, 67).await;
    }
}

#[tokio::test]
async fn campaigns_list_holds_campaign_resources_newest_first() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let first = c.v2(dynamic("first")).await;
        let second = c.full(full_batch("second", &[WA])).await;
        let list = c.ok("get", "/campaigns", None).await;
        assert_eq!((list["total"].as_u64(), list["itemType"].as_str()), (Some(2), Some(CAMPAIGN_TYPE)), "{t}");
        assert_eq!(list["items"][1], first, "{t}");
        assert_eq!(list["items"][0]["id"], second["id"], "{t}");
        c.wait_all_read(&id_of(&second)).await;
    }
}

// ---------------------------------------------------------------------------------------
// 13. delete /campaigns/{id}
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn deleting_a_new_campaign_makes_every_command_on_it_67() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let keep = id_of(&c.v2(dynamic("keep")).await);
        let id = new_with(&mut c, "gone", &[WA]).await;
        let r = c.ac("delete", &format!("/campaigns/{id}"), None).await;
        assert_eq!(r["status"], "success", "{t}: {r}");
        for uri in [
            format!("/campaigns/{id}"),
            format!("/campaigns/{id}/summaries"),
            format!("/audiences/{id}"),
            format!("/messages/{id}"),
            format!("/campaigns/{id}/reports"),
        ] {
            let e = c.fail("get", &uri, None, 67).await;
            assert_eq!(e, format!("The campaign {id} was not found"), "{t} {uri}");
        }
        c.fail("set", &format!("/audiences/v2/{id}"), Some((COLLECTION_TYPE, json!({"items": items(&[WB])}))), 67)
            .await;
        csv_fails(&mut c, &id, Some(("text/csv", json!(format!("phone,1\n{WB},b\n")))), 67).await;
        c.fail("set", "/dispatch/v2", Some((CAMPAIGN_TYPE, json!({"id": id}))), 67).await;
        c.fail("delete", &format!("/campaigns/{id}"), None, 67).await;
        for uri in ["/campaigns", "/campaigns/summaries"] {
            let list = c.ok("get", uri, None).await;
            assert_eq!((list["total"].as_u64(), list["items"][0]["id"].as_str()), (Some(1), Some(&*keep)), "{t} {uri}");
        }
    }
}

#[tokio::test]
async fn deleting_a_scheduling_campaign_succeeds_and_it_is_gone() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let at = future(2).to_rfc3339();
        let id = id_of(&c.full(edit(full_batch("later", &[WA]), |v| v["campaign"]["scheduled"] = json!(at))).await);
        c.ok("delete", &format!("/campaigns/{id}"), None).await;
        c.fail("get", &format!("/campaigns/{id}"), None, 67).await;
        c.fail("get", &format!("/campaigns/{id}/reports"), None, 67).await;
    }
}

#[tokio::test]
async fn deleting_a_processing_or_executed_campaign_is_64_and_it_stays() {
    // Two sends a second on the WhatsApp channel keeps a 4-recipient campaign processing ~1.5 s.
    let paced = config(|c| c.tenants[0].channels[0].max_per_second = Some(2));
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start_with(t, paced.clone()).await;
        let id = id_of(&c.full(full_batch("busy", &[WA, WB, WC, WD])).await);
        let e = c.fail("delete", &format!("/campaigns/{id}"), None, 64).await;
        assert_has(&e, "status processing cannot be deleted", t);
        c.wait_all_read(&id).await;
        let e = c.fail("delete", &format!("/campaigns/{id}"), None, 64).await;
        assert_has(&e, "status executed cannot be deleted", t);
        assert_eq!(c.ok("get", &format!("/campaigns/{id}"), None).await["status"], "executed", "{t}");
        let dispatched = new_with(&mut c, "dispatched", &[WE]).await;
        c.dispatch(&dispatched).await;
        c.fail("delete", &format!("/campaigns/{dispatched}"), None, 64).await;
        c.wait_all_read(&dispatched).await;
    }
}

#[tokio::test]
async fn deleting_an_unknown_or_malformed_id_is_67() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        c.fail("delete", &format!("/campaigns/{}", uuid::Uuid::new_v4()), None, 67).await;
        c.fail("delete", "/campaigns/not-a-uuid", None, 67).await;
    }
}

// ---------------------------------------------------------------------------------------
// Tenancy and plan
// ---------------------------------------------------------------------------------------

/// A command: method, uri, optional type and resource.
type Cmd = (&'static str, String, Option<(&'static str, Value)>);

/// Every command that names a campaign id, with that id.
fn commands_on(id: &str) -> Vec<Cmd> {
    vec![
        ("get", format!("/campaigns/{id}"), None),
        ("get", format!("/campaigns/{id}/summaries"), None),
        ("get", format!("/audiences/{id}"), None),
        ("get", format!("/messages/{id}"), None),
        ("get", format!("/campaigns/{id}/reports"), None),
        ("set", format!("/audiences/v2/{id}"), Some((COLLECTION_TYPE, json!({"items": items(&[WB])})))),
        ("set", format!("/audiences/v2/{id}/file"), Some(("text/csv", json!(format!("phone,1\n{WB},b\n"))))),
        ("set", "/dispatch/v2".to_owned(), Some((CAMPAIGN_TYPE, json!({"id": id})))),
        ("delete", format!("/campaigns/{id}"), None),
    ]
}

#[tokio::test]
async fn another_tenants_campaign_is_67_exactly_like_a_missing_one() {
    for t in BOTH {
        let gw = support::Gateway::start_with(config_with_tenants()).await;
        let mut rival = Client::connect_as(&gw, t, RIVAL, RIVAL_KEY, RIVAL_SECRET).await;
        let mut me = Client::connect(&gw, t).await;
        let theirs_new = new_with(&mut rival, "rival new", &[WA]).await;
        let theirs_sent = id_of(&rival.full(full_batch("rival sent", &[WA])).await);
        rival.wait_all_read(&theirs_sent).await;
        let missing = uuid::Uuid::new_v4().to_string();
        for theirs in [&theirs_new, &theirs_sent] {
            for ((method, uri, body), (_, missing_uri, missing_body)) in
                commands_on(theirs).into_iter().zip(commands_on(&missing))
            {
                let got = me.ac(method, &uri, body).await;
                let want = me.ac(method, &missing_uri, missing_body).await;
                let got_reason = expect_failure(&got, 67, &format!("{t} {method} {uri}"));
                let want_reason = expect_failure(&want, 67, &format!("{t} {method} {missing_uri}"));
                assert_eq!(
                    got_reason.replace(theirs.as_str(), "<id>"),
                    want_reason.replace(&missing, "<id>"),
                    "{t} {uri}"
                );
                let strip = |mut v: Value| {
                    for k in ["id", "metadata", "reason"] {
                        remove(&mut v, k);
                    }
                    v
                };
                assert_eq!(strip(got), strip(want), "{t} {method} {uri}");
            }
        }
        let mine = me.ok("get", "/campaigns/summaries", None).await;
        assert_eq!(mine["total"], 0, "{t}: {mine}");
        // The rival's campaigns are untouched.
        assert_eq!(rival.ok("get", &format!("/campaigns/{theirs_new}"), None).await["status"], "new", "{t}");
        assert_eq!(rival.report(&theirs_new).await["audienceCounts"]["total"], 1, "{t}");
        assert_eq!(rival.ok("get", "/campaigns", None).await["total"], 2, "{t}");
        // And the rival has its own channels: no Google RCS.
        let e = rival
            .full_fails(
                json!({"campaign": {"name": "r", "channelType": "GoogleRcs"}, "audiences": items(&[WA]),
                               "message": {"messageContent": "x"}}),
                64,
            )
            .await;
        assert_has(&e, "no GoogleRcs channel configured", t);
    }
}

#[tokio::test]
async fn tenant_without_the_campaigns_feature_gets_31_on_every_write_but_reads_work() {
    for t in BOTH {
        let gw = support::Gateway::start_with(config_with_tenants()).await;
        let mut c = Client::connect_as(&gw, t, FREEBIE, FREEBIE_KEY, FREEBIE_SECRET).await;
        let any = uuid::Uuid::new_v4().to_string();
        let writes: Vec<Cmd> = vec![
            ("set", "/campaign/full".into(), Some((FULL_TYPE, full_batch("f", &[WA])))),
            ("set", "/campaign/v2".into(), Some((DYNAMIC_TYPE, dynamic("f")))),
            ("set", format!("/audiences/v2/{any}"), Some((COLLECTION_TYPE, json!({"items": items(&[WA])})))),
            ("set", format!("/audiences/v2/{any}/file"), Some(("text/csv", json!("phone,1\n")))),
            ("set", "/dispatch/v2".into(), Some((CAMPAIGN_TYPE, json!({"id": any})))),
            ("delete", format!("/campaigns/{any}"), None),
        ];
        for (method, uri, body) in writes {
            let e = c.fail(method, &uri, body, 31).await;
            assert_has(&e, "Campaigns feature is not available", t);
        }
        for uri in ["/campaigns", "/campaigns/summaries"] {
            let r = c.ok("get", uri, None).await;
            assert_eq!(r["total"], 0, "{t} {uri}");
        }
        for (method, uri, _) in commands_on(&any).into_iter().take(5) {
            c.fail(method, &uri, None, 67).await;
        }
    }
}
