//! What a campaign send leaves behind (activecampaign.md, "Contacts and contexts"), and the
//! contacts (`postmaster@crm.msging.net`) and contexts (`postmaster@msging.net`) commands,
//! over both transports.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::client::*;

const PHONE: &str = "+5531998761234";
const WHO: &str = "5531998761234@wa.gw.msging.net";
const FLOW: &str = "f7bfd815-1327-4e0c-9b6a-7a3b3b1e0c55";

/// The seed's individual WhatsApp example: contextVariables of every JSON kind, a flow
/// redirect (`flowId`, `stateId` onboarding, `masterstate`).
fn individual_example() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed000/full-individual-whatsapp.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn crm(c: &mut Client, method: &str, uri: &str, resource: Option<Value>) -> Value {
    let body = resource.map(|r| (CONTACT_TYPE, r));
    let r = c.to(CRM_NODE, method, uri, body).await;
    assert_eq!(r["from"], CRM_FROM, "{}: {r}", c.transport);
    r
}

async fn contact(c: &mut Client, identity: &str) -> Value {
    let r = crm(c, "get", &format!("/contacts/{identity}"), None).await;
    assert_eq!(
        (r["status"].as_str(), r["type"].as_str()),
        (Some("success"), Some(CONTACT_TYPE)),
        "{}: {r}",
        c.transport
    );
    r["resource"].clone()
}

async fn context(c: &mut Client, uri: &str) -> Value {
    let r = c.to(SERVER_NODE, "get", uri, None).await;
    assert_eq!(r["from"], SERVER_FROM, "{}: {r}", c.transport);
    r
}

/// Sends a `/campaign/full` and waits until its recipients are READ (the side effects are
/// written when the channel accepts the message, before that).
async fn send(c: &mut Client, resource: Value) -> String {
    let id = id_of(&c.full(resource).await);
    c.wait_all_read(&id).await;
    id
}

#[tokio::test]
async fn a_send_leaves_message_params_in_extras_and_context_variables_with_the_flow_redirect() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let example = individual_example();
        let reply = c.call(example.clone()).await;
        assert_eq!(reply["status"], "success", "{t}: {reply}");
        c.wait_all_read(&id_of(&reply["resource"])).await;

        let person = contact(&mut c, WHO).await;
        assert_eq!(person["identity"], WHO, "{t}: {person}");
        assert_eq!(person["phoneNumber"], PHONE, "{t}: {person}");
        assert_eq!(person["extras"], json!({"1": "Repasse do novo Broadcast"}), "{t}: {person}");

        // Names are kept lowercase (BLiP's context variables are case-insensitive), sorted.
        let names = context(&mut c, &format!("/contexts/{WHO}")).await;
        assert_eq!(
            (names["status"].as_str(), names["type"].as_str()),
            (Some("success"), Some(COLLECTION_TYPE)),
            "{t}: {names}"
        );
        assert_eq!(names["resource"]["itemType"], "text/plain", "{t}");
        let flow_key = format!("stateid@{FLOW}");
        assert_eq!(
            names["resource"]["items"],
            json!(["canusethesevalues", "cpf", "cpf2", "master-state", "specificcontext", flow_key]),
            "{t}: {names}"
        );
        assert_eq!(names["resource"]["total"], 6, "{t}");

        let cases: Vec<(String, &str, Value)> = vec![
            ("cpf".into(), "text/plain", json!("123456789001")),
            ("cpf2".into(), "application/json", json!(1000111222)),
            ("canUseTheseValues".into(), "application/json", json!(false)),
            (
                "specificContext".into(),
                "application/json",
                json!({"foo": "111specififForFoo44431", "bar": "222specififForBar55512"}),
            ),
            (flow_key.clone(), "text/plain", json!("onboarding")),
            ("master-state".into(), "text/plain", json!("masterstate@msging.net")),
        ];
        for (name, ty, value) in cases {
            let r = context(&mut c, &format!("/contexts/{WHO}/{name}")).await;
            assert_eq!(r["status"], "success", "{t} {name}: {r}");
            assert_eq!((r["type"].as_str(), &r["resource"]), (Some(ty), &value), "{t} {name}: {r}");
        }
        // No `to` is the server node too.
        let r = c.call(json!({"method": "get", "uri": format!("/contexts/{WHO}/cpf")})).await;
        assert_eq!(r["resource"], "123456789001", "{t}: {r}");
    }
}

#[tokio::test]
async fn later_sends_merge_params_into_extras_and_replace_context_values() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let first = json!({
            "campaign": {"name": "first", "campaignType": "Individual", "flowId": "flow-a", "stateId": "s1"},
            "audience": {"recipient": PHONE, "messageParams": {"1": "first"}, "contextVariables": {"cpf": "1", "keep": true}},
            "message": {"messageTemplate": "email_commerce_resposta", "messageParams": ["1"]}
        });
        send(&mut c, first).await;
        let second = json!({
            "campaign": {"name": "second", "campaignType": "Individual", "flowId": "flow-a", "stateId": "s2"},
            "audience": {"recipient": PHONE, "messageParams": {"image": "https://x/y.jpg", "username": "Ana"},
                         "contextVariables": {"cpf": "2"}},
            "message": {"messageTemplate": "promo_imagem", "messageParams": ["image", "username"]}
        });
        send(&mut c, second).await;
        let person = contact(&mut c, WHO).await;
        assert_eq!(
            person["extras"],
            json!({"1": "first", "image": "https://x/y.jpg", "username": "Ana"}),
            "{t}: {person}"
        );
        let value =
            async |c: &mut Client, name: &str| context(c, &format!("/contexts/{WHO}/{name}")).await["resource"].clone();
        assert_eq!(value(&mut c, "cpf").await, "2", "{t}");
        assert_eq!(value(&mut c, "keep").await, true, "{t}");
        assert_eq!(value(&mut c, "stateid@flow-a").await, "s2", "{t}: the latest campaign's block");
        // No masterState in either campaign: no master-state variable.
        let r = context(&mut c, &format!("/contexts/{WHO}/master-state")).await;
        expect_failure(&r, 67, &t.to_string());
        let all = crm(&mut c, "get", "/contacts", None).await;
        assert_eq!(all["resource"]["total"], 1, "{t}: one contact per recipient: {all}");
    }
}

#[tokio::test]
async fn a_send_without_flow_or_context_variables_leaves_a_contact_and_no_context() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let resource = edit(support::batch("plain", &[PHONE]), |v| {
            v["campaign"] = json!({"name": "plain", "campaignType": "Batch", "flowId": "only-flow"});
        });
        send(&mut c, resource).await;
        assert_eq!(contact(&mut c, WHO).await["extras"]["1"], format!("param of {PHONE}"), "{t}");
        let r = context(&mut c, &format!("/contexts/{WHO}")).await;
        expect_failure(&r, 67, &format!("{t}: flowId without stateId is no redirect"));
    }
}

#[tokio::test]
async fn a_google_rcs_send_leaves_its_contact_and_context_under_the_googlercs_identity() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let resource = json!({
            "campaign": {"name": "rcs", "campaignType": "Individual", "channelType": "GoogleRcs",
                         "flowId": "flow-r", "stateId": "rcs-block"},
            "audience": {"recipient": PHONE, "messageParams": {"nome": "Ana"}},
            "message": {"messageContent": "Olá {{nome}}", "channelType": "GoogleRcs"}
        });
        send(&mut c, resource).await;
        let rcs = "5531998761234@googlercs.gw.msging.net";
        let person = contact(&mut c, rcs).await;
        assert_eq!(
            (person["identity"].as_str(), &person["extras"]),
            (Some(rcs), &json!({"nome": "Ana"})),
            "{t}: {person}"
        );
        let r = context(&mut c, &format!("/contexts/{rcs}/stateid@flow-r")).await;
        assert_eq!(r["resource"], "rcs-block", "{t}: {r}");
        let r = context(&mut c, &format!("/contexts/{WHO}")).await;
        expect_failure(&r, 67, &format!("{t}: nothing under the WhatsApp identity"));
    }
}

fn edit(mut v: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut v);
    v
}

#[tokio::test]
async fn set_contacts_creates_or_replaces_a_contact_whole() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let who = "5531990001111@wa.gw.msging.net";
        let r = crm(
            &mut c,
            "set",
            "/contacts",
            Some(json!({
                "identity": who, "name": "Ana", "email": "ana@example.com",
                "extras": {"plan": "gold", "points": 10, "vip": true}
            })),
        )
        .await;
        assert_eq!(r["status"], "success", "{t}: {r}");
        assert!(r.get("resource").is_none() && r.get("type").is_none(), "{t}: {r}");
        let person = contact(&mut c, who).await;
        assert_eq!(
            person,
            json!({"identity": who, "name": "Ana", "phoneNumber": "+5531990001111", "email": "ana@example.com",
                   "extras": {"plan": "gold", "points": "10", "vip": "true"}}),
            "{t}: extras are kept as strings"
        );
        // Replaced whole: what the new document lacks is gone.
        crm(&mut c, "set", "/contacts", Some(json!({"identity": who, "name": "Ana B"}))).await;
        let person = contact(&mut c, who).await;
        assert_eq!(person, json!({"identity": who, "name": "Ana B", "phoneNumber": "+5531990001111"}), "{t}");
        // The identity is found whatever its case.
        assert_eq!(contact(&mut c, &who.to_uppercase()).await["name"], "Ana B", "{t}");

        let r = crm(&mut c, "set", "/contacts", Some(json!({"name": "no identity"}))).await;
        assert_eq!(expect_failure(&r, 64, &t.to_string()), "identity is required", "{t}");
        let r = crm(&mut c, "set", "/contacts", Some(json!({"identity": who, "extras": {"nested": {"a": 1}}}))).await;
        assert_eq!(expect_failure(&r, 64, &t.to_string()), "extras.nested must be a string", "{t}");
        let r = crm(&mut c, "set", "/contacts", Some(json!(["x"]))).await;
        expect_failure(&r, 64, &t.to_string());
    }
}

#[tokio::test]
async fn merge_contacts_changes_only_the_fields_given_and_merges_extras() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let who = "5531990002222@wa.gw.msging.net";
        crm(
            &mut c,
            "set",
            "/contacts",
            Some(json!({"identity": who, "name": "Bia", "extras": {"plan": "gold", "city": "BH"}})),
        )
        .await;
        let r =
            crm(&mut c, "merge", "/contacts", Some(json!({"identity": who, "extras": {"city": "SP", "team": "x"}})))
                .await;
        assert_eq!(r["status"], "success", "{t}: {r}");
        let person = contact(&mut c, who).await;
        assert_eq!(person["name"], "Bia", "{t}: {person}");
        assert_eq!(person["extras"], json!({"plan": "gold", "city": "SP", "team": "x"}), "{t}");
        crm(&mut c, "merge", "/contacts", Some(json!({"identity": who, "email": "bia@example.com"}))).await;
        let person = contact(&mut c, who).await;
        assert_eq!((person["name"].as_str(), person["email"].as_str()), (Some("Bia"), Some("bia@example.com")), "{t}");
        assert_eq!(person["extras"]["plan"], "gold", "{t}");
        // Merging an unknown identity creates the contact (an upsert, like BLiP's merge).
        let new = "5531990003333@wa.gw.msging.net";
        crm(&mut c, "merge", "/contacts", Some(json!({"identity": new, "name": "Caio"}))).await;
        assert_eq!(contact(&mut c, new).await["name"], "Caio", "{t}");
        // A send merges into the same contact, keeping what was there.
        send(&mut c, support::batch("to bia", &["+5531990002222"])).await;
        let person = contact(&mut c, who).await;
        assert_eq!(person["extras"]["1"], "param of +5531990002222", "{t}: {person}");
        assert_eq!((person["name"].as_str(), &person["extras"]["plan"]), (Some("Bia"), &json!("gold")), "{t}");
    }
}

#[tokio::test]
async fn get_contacts_pages_with_skip_and_take_in_creation_order() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let ids: Vec<String> = (1..=5).map(|i| format!("553199000{i}001@wa.gw.msging.net")).collect();
        for (i, who) in ids.iter().enumerate() {
            crm(&mut c, "set", "/contacts", Some(json!({"identity": who, "name": format!("n{i}")}))).await;
        }
        let all = crm(&mut c, "get", "/contacts", None).await;
        assert_eq!(all["type"], COLLECTION_TYPE, "{t}");
        assert_eq!(
            (all["resource"]["total"].as_u64(), all["resource"]["itemType"].as_str()),
            (Some(5), Some(CONTACT_TYPE))
        );
        let listed: Vec<&str> =
            all["resource"]["items"].as_array().unwrap().iter().map(|i| i["identity"].as_str().unwrap()).collect();
        assert_eq!(listed, ids, "{t}");
        let page = crm(&mut c, "get", "/contacts?$skip=1&$take=2", None).await;
        let listed: Vec<&str> =
            page["resource"]["items"].as_array().unwrap().iter().map(|i| i["identity"].as_str().unwrap()).collect();
        assert_eq!(
            (page["resource"]["total"].as_u64(), listed),
            (Some(5), vec![ids[1].as_str(), ids[2].as_str()]),
            "{t}"
        );
        let last = crm(&mut c, "get", "/contacts?$skip=4", None).await;
        assert_eq!(last["resource"]["items"].as_array().unwrap().len(), 1, "{t}");
        let r = crm(&mut c, "get", "/contacts?$take=101", None).await;
        assert_eq!(expect_failure(&r, 64, &t.to_string()), "The take parameter can not be greater than 100", "{t}");
    }
}

#[tokio::test]
async fn unknown_contacts_contexts_and_variables_are_67() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let nobody = "5531990009999@wa.gw.msging.net";
        let r = crm(&mut c, "get", &format!("/contacts/{nobody}"), None).await;
        assert_has(&expect_failure(&r, 67, &t.to_string()), nobody, t);
        let r = context(&mut c, &format!("/contexts/{nobody}")).await;
        expect_failure(&r, 67, &t.to_string());
        let r = context(&mut c, &format!("/contexts/{nobody}/cpf")).await;
        expect_failure(&r, 67, &t.to_string());
        // A known identity, an unknown variable.
        let resource = json!({
            "campaign": {"name": "ctx", "campaignType": "Individual"},
            "audience": {"recipient": PHONE, "messageParams": {"1": "a"}, "contextVariables": {"cpf": "1"}},
            "message": {"messageTemplate": "email_commerce_resposta"}
        });
        send(&mut c, resource).await;
        let r = context(&mut c, &format!("/contexts/{WHO}/cpf")).await;
        assert_eq!(r["resource"], "1", "{t}: {r}");
        let r = context(&mut c, &format!("/contexts/{WHO}/nothing")).await;
        assert_has(&expect_failure(&r, 67, &t.to_string()), "nothing", t);
    }
}

#[tokio::test]
async fn another_tenants_contacts_and_contexts_are_67() {
    for t in BOTH {
        let gw = support::Gateway::start_with(config_with_tenants()).await;
        let mut rival = Client::connect_as(&gw, t, RIVAL, RIVAL_KEY, RIVAL_SECRET).await;
        let mut me = Client::connect(&gw, t).await;
        let resource = json!({
            "campaign": {"name": "theirs", "campaignType": "Individual", "flowId": "f", "stateId": "s"},
            "audience": {"recipient": PHONE, "messageParams": {"1": "a"}, "contextVariables": {"cpf": "1"}},
            "message": {"messageTemplate": "email_commerce_resposta"}
        });
        send(&mut rival, resource).await;
        crm(&mut rival, "set", "/contacts", Some(json!({"identity": "5531990001111@wa.gw.msging.net", "name": "R"})))
            .await;
        assert_eq!(contact(&mut rival, WHO).await["extras"]["1"], "a", "{t}");
        for uri in [format!("/contacts/{WHO}"), "/contacts/5531990001111@wa.gw.msging.net".to_owned()] {
            let r = crm(&mut me, "get", &uri, None).await;
            expect_failure(&r, 67, &format!("{t} {uri}"));
        }
        for uri in [format!("/contexts/{WHO}"), format!("/contexts/{WHO}/cpf")] {
            let r = context(&mut me, &uri).await;
            expect_failure(&r, 67, &format!("{t} {uri}"));
        }
        let mine = crm(&mut me, "get", "/contacts", None).await;
        assert_eq!(mine["resource"]["total"], 0, "{t}: {mine}");
    }
}

/// Side effects are written when the channel accepts a message: by the time the report
/// says PROCESSED the contact exists (polling, no fixed sleep).
#[tokio::test]
async fn the_contact_exists_once_the_recipient_is_processed() {
    for t in BOTH {
        let Env { gw: _gw, mut c } = Env::start(t).await;
        let id = id_of(&c.full(support::batch("soon", &[PHONE])).await);
        c.wait_report(&id, "processed", |r| r["audienceCounts"]["pending"] == 0).await;
        let start = Instant::now();
        loop {
            let r = crm(&mut c, "get", &format!("/contacts/{WHO}"), None).await;
            if r["status"] == "success" {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "{t}: no contact after the send: {r}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
