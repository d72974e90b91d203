//! Every request example of the seed (tests/fixtures/seed000, from BLiP's "Active Campaign
//! API" page) sent as written through a WebSocket session and through `POST /commands`.

mod support;

use std::path::PathBuf;

use serde_json::{json, Value};
use support::client::*;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed000")
}

/// Request fixtures (every `*.json` but the `-response` one), by file name.
fn requests() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.file_stem().unwrap().to_string_lossy().ends_with("-response"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (name, v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 14, "the seed has 14 request examples: {:?}", out.iter().map(|o| &o.0).collect::<Vec<_>>());
    out
}

fn response_fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture_dir().join("v2-create-response.json")).unwrap()).unwrap()
}

/// A request key read case-insensitively, as the gateway reads it.
fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

fn upper(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(|s| s.to_uppercase())
}

/// The reply carries the request's campaign as the Campaign resource.
fn check_campaign_echo(t: Transport, file: &str, request: &Value, reply: &Value) {
    let sent = &request["resource"]["campaign"];
    let got = &reply["resource"];
    assert_eq!(reply["id"], request["id"], "{t} {file}: the response carries the request id");
    assert_eq!(reply["from"], CAMPAIGN_FROM, "{t} {file}");
    assert_eq!((reply["method"].as_str(), reply["type"].as_str()), (Some("set"), Some(CAMPAIGN_TYPE)), "{t} {file}");
    assert_eq!(got["name"], sent["name"], "{t} {file}");
    assert_eq!(got["campaignType"].as_str().map(str::to_owned), upper(get(sent, "campaignType")), "{t} {file}");
    assert_eq!(got["channelType"].as_str().map(str::to_owned), upper(get(sent, "channelType")), "{t} {file}");
    for key in ["flowId", "stateId", "sourceApplication", "tags"] {
        assert_eq!(got.get(key), get(sent, key), "{t} {file}: {key}");
    }
    // The seed writes `masterstate`; the reply spells it masterState.
    assert_eq!(got.get("masterState"), get(sent, "masterState"), "{t} {file}: masterState");
    assert_eq!(got["campaignSender"], "mybot@msging.net", "{t} {file}");
}

/// How many distinct recipients a `/campaign/full` example names, and their identities.
fn recipients(request: &Value) -> Vec<String> {
    let r = &request["resource"];
    let list: Vec<&Value> = match (get(r, "audiences"), get(r, "audience")) {
        (Some(Value::Array(a)), _) => a.iter().collect(),
        (_, Some(one)) => vec![one],
        _ => panic!("no audience in {request}"),
    };
    let domain = match upper(get(&r["campaign"], "channelType")).as_deref() {
        Some("GOOGLERCS") => "googlercs.gw.msging.net",
        _ => "wa.gw.msging.net",
    };
    let mut ids: Vec<String> =
        list.iter().map(|a| format!("{}@{domain}", a["recipient"].as_str().unwrap().trim_start_matches('+'))).collect();
    ids.dedup();
    ids
}

#[tokio::test]
async fn every_full_campaign_example_succeeds_and_ends_executed_with_every_recipient_read() {
    let examples: Vec<(String, Value)> = requests().into_iter().filter(|(_, v)| v["uri"] == "/campaign/full").collect();
    assert_eq!(examples.len(), 12);
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let mut started = Vec::new();
        for (file, request) in &examples {
            let reply = c.call(request.clone()).await;
            assert_eq!(reply["status"], "success", "{t} {file}: {reply}");
            check_campaign_echo(t, file, request, &reply);
            assert_eq!(reply["resource"]["status"], "processing", "{t} {file}");
            started.push((file, request, id_of(&reply["resource"])));
        }
        for (file, request, id) in started {
            let report = c.wait_all_read(&id).await;
            let expected = recipients(request);
            assert_eq!(report["audienceCounts"]["total"], expected.len(), "{t} {file}: {report}");
            for who in &expected {
                assert_eq!(entry(&report, who)["status"], "READ", "{t} {file}");
            }
            // What was sent is what the example asked for.
            let messages = c.ok("get", &format!("/messages/{id}"), None).await;
            let m = &messages["items"][0];
            let sent = &request["resource"]["message"];
            assert_eq!(m.get("messageTemplate"), get(sent, "messageTemplate"), "{t} {file}");
            assert_eq!(m.get("messageContent"), get(sent, "messageContent"), "{t} {file}");
            if let Some(keys) = get(sent, "messageParams") {
                assert_eq!(&m["messageParams"], keys, "{t} {file}");
            }
        }
    }
}

#[tokio::test]
async fn every_v2_example_is_created_new_then_takes_an_audience_and_a_dispatch() {
    let examples: Vec<(String, Value)> = requests().into_iter().filter(|(_, v)| v["uri"] == "/campaign/v2").collect();
    assert_eq!(examples.len(), 2);
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        for (file, request) in &examples {
            let reply = c.call(request.clone()).await;
            assert_eq!(reply["status"], "success", "{t} {file}: {reply}");
            check_campaign_echo(t, file, request, &reply);
            assert_eq!(reply["resource"]["status"], "new", "{t} {file}");
            let id = id_of(&reply["resource"]);
            let rcs = upper(get(&request["resource"]["campaign"], "channelType")).as_deref() == Some("GOOGLERCS");
            // The WhatsApp template takes one parameter ("1"); the RCS content has no placeholder.
            let audience = if rcs {
                json!([{"recipient": "+5531998761234"}, {"recipient": "+5531998765678"}])
            } else {
                items(&["+5531998761234", "+5531998765678"])
            };
            let added = c.audience(&id, audience).await;
            assert_eq!(
                (added["added"].as_u64(), added["invalid"].as_array().map(Vec::len)),
                (Some(2), Some(0)),
                "{t} {file}"
            );
            let dispatched = c.dispatch(&id).await;
            assert_eq!(dispatched["status"], "processing", "{t} {file}");
            let report = c.wait_all_read(&id).await;
            assert_eq!(report["audienceCounts"]["total"], 2, "{t} {file}");
            let domain = if rcs { "googlercs.gw.msging.net" } else { "wa.gw.msging.net" };
            assert_eq!(entry(&report, &format!("5531998761234@{domain}"))["status"], "READ", "{t} {file}");
        }
    }
}

/// The same JSON kind (object, array, string, number, bool, null) at every key of `sample`.
fn same_shape(path: &str, sample: &Value, ours: &Value) {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    assert_eq!(kind(sample), kind(ours), "{path}: {sample} vs {ours}");
    if let (Value::Object(s), Value::Object(o)) = (sample, ours) {
        for (k, v) in s {
            let inner = o.get(k).unwrap_or_else(|| panic!("{path}.{k} missing from our reply {ours}"));
            same_shape(&format!("{path}.{k}"), v, inner);
        }
    }
}

#[tokio::test]
async fn v2_reply_has_the_shape_of_the_real_v2_response() {
    let sample = response_fixture();
    let (_, request) = requests().into_iter().find(|(f, _)| f == "v2-create-whatsapp.json").unwrap();
    for t in BOTH {
        let Env { gw: _gw, c: mut client } = Env::start(t).await;
        let ours = client.call(request.clone()).await;
        same_shape("reply", &sample, &ours);
        for key in ["id", "from", "method", "status", "type"] {
            assert_eq!(ours[key], sample[key], "{t}: {key}");
        }
        assert_eq!(ours["metadata"]["#command.uri"], sample["metadata"]["#command.uri"], "{t}");
        support::parse_traceparent(ours["metadata"]["traceparent"].as_str().unwrap());
        // The sample's `to` is the WebSocket session's node; over HTTP there is no session
        // instance (the request has no `from`), so only the identity is the same.
        match t {
            Transport::Ws => assert_eq!(ours["to"], sample["to"], "{t}"),
            Transport::Http => assert_eq!(ours["to"], "mybot@msging.net", "{t}"),
        }
        for key in ["campaignType", "flowId", "stateId", "status"] {
            assert_eq!(ours["resource"][key], sample["resource"][key], "{t}: resource.{key}");
        }
        let created = ours["resource"]["created"].as_str().unwrap();
        assert_eq!(created.len(), sample["resource"]["created"].as_str().unwrap().len(), "{t}: {created}");
        assert!(created.ends_with('Z'), "{t}: {created}");
        // Nothing of another envelope kind.
        for key in ["content", "event", "state", "reason"] {
            assert!(ours.get(key).is_none(), "{t}: {key} in {ours}");
        }
    }
}
