//! The one routing table, seen from both transports: every command is sent over a WebSocket
//! session and over `POST /commands`, and both answers are checked the same way.

mod support;

use std::collections::BTreeSet;

use serde_json::{json, Value};
use support::*;

const SERVER: &str = "postmaster@msging.net/#irisgate1";
const CAMPAIGNS: &str = "postmaster@activecampaign.msging.net/#irisgate1";
const CRM: &str = "postmaster@crm.msging.net/#irisgate1";

/// The two faces of one gateway: an established session and the HTTP endpoint.
struct Faces {
    gw: Gateway,
    ws: Ws,
}

/// One face's answer, with what that face's caller node is.
struct Answer {
    face: &'static str,
    /// `to` of every response on this face: the session's node, or the bare identity on HTTP
    /// (no `from` in the request).
    caller: &'static str,
    body: Value,
}

impl Faces {
    async fn start() -> Faces {
        let gw = Gateway::start().await;
        let ws = gw.session().await;
        Faces { gw, ws }
    }

    /// Sends `command` (given a fresh id when it has none) over both faces.
    async fn ask(&mut self, mut command: Value) -> Vec<Answer> {
        if command.get("id").is_none() {
            command["id"] = json!(id());
        }
        let over_ws = self.ws.call(command.clone()).await;
        let over_http = self.gw.command(command.clone()).await;
        assert_eq!(
            over_http.status,
            200,
            "POST /commands answers every command with 200: {command} → {:?}",
            String::from_utf8_lossy(&over_http.body)
        );
        assert_eq!(over_http.headers["content-type"], "application/json", "{command}");
        let over_http = over_http.json();
        for answer in [&over_ws, &over_http] {
            assert_eq!(answer["id"], command["id"], "the request id is echoed: {answer}");
        }
        vec![
            Answer { face: "websocket", caller: "mybot@msging.net/default", body: over_ws },
            Answer { face: "http", caller: "mybot@msging.net", body: over_http },
        ]
    }

    /// Sends `command` over both faces and checks a failure with `code`, sent by `from`, whose
    /// description contains every one of `mentions`.
    async fn expect_failure(&mut self, command: Value, code: i64, from: &str, mentions: &[&str]) {
        for a in self.ask(command.clone()).await {
            let r = &a.body;
            assert_eq!(r["status"], "failure", "{} {command} → {r}", a.face);
            assert_eq!(r["reason"]["code"], code, "{} {command} → {r}", a.face);
            assert_eq!(r["from"], from, "{} {command} → {r}", a.face);
            assert_eq!(r["to"], a.caller, "{} {command} → {r}", a.face);
            assert_eq!(
                r["method"],
                command["method"].as_str().unwrap().to_ascii_lowercase(),
                "{} failures carry the method: {r}",
                a.face
            );
            assert!(
                r.get("type").is_none() && r.get("resource").is_none(),
                "{} a failure carries no type/resource: {r}",
                a.face
            );
            let allowed = BTreeSet::from(["id", "from", "to", "method", "status", "reason", "metadata"]);
            assert!(keys(r).is_subset(&allowed), "{} only command-response keys in a failure: {r}", a.face);
            let description = r["reason"]["description"].as_str().unwrap_or_else(|| {
                panic!("{} failure without a description: {r}", a.face);
            });
            for m in mentions {
                assert!(
                    description.contains(m),
                    "{} description of {command} should mention {m:?}: {description:?}",
                    a.face
                );
            }
        }
    }
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().map(String::as_str).collect()
}

#[tokio::test]
async fn ping_success_has_exactly_the_documented_shape() {
    let mut f = Faces::start().await;
    for a in f.ask(json!({"id": "ping-1", "method": "get", "uri": "/ping"})).await {
        let r = &a.body;
        assert_eq!(
            keys(r),
            BTreeSet::from(["id", "from", "to", "method", "status", "type", "resource", "metadata"]),
            "{}: {r}",
            a.face
        );
        assert_eq!(r["id"], "ping-1");
        assert_eq!(r["from"], SERVER, "{}", a.face);
        assert_eq!(r["to"], a.caller, "{}", a.face);
        assert_eq!(r["method"], "get");
        assert_eq!(r["status"], "success");
        assert_eq!(r["type"], "application/vnd.lime.ping+json");
        assert_eq!(r["resource"], json!({}));
        assert_eq!(keys(&r["metadata"]), BTreeSet::from(["#command.uri", "traceparent"]), "{}: {r}", a.face);
        assert_eq!(r["metadata"]["#command.uri"], "lime://mybot@msging.net/ping");
        parse_traceparent(r["metadata"]["traceparent"].as_str().unwrap());
    }
}

#[tokio::test]
async fn set_presence_and_receipt_succeed_without_type_or_resource() {
    let mut f = Faces::start().await;
    for (uri, resource) in [
        ("/presence", json!({"status": "available", "routingRule": "identity"})),
        ("/receipt", json!({"events": ["failed", "received"]})),
    ] {
        for a in f.ask(json!({"method": "set", "uri": uri, "type": "application/json", "resource": resource})).await {
            let r = &a.body;
            assert_eq!(r["status"], "success", "{} {uri}: {r}", a.face);
            assert_eq!(r["method"], "set");
            assert_eq!(r["from"], SERVER);
            assert_eq!(r["to"], a.caller);
            assert!(r.get("resource").is_none() && r.get("type").is_none(), "{r}");
            assert_eq!(r["metadata"]["#command.uri"], format!("lime://mybot@msging.net{uri}"));
        }
    }
}

#[tokio::test]
async fn commands_without_to_and_to_the_server_node_are_the_same() {
    let mut f = Faces::start().await;
    for to in ["postmaster@msging.net", "postmaster@msging.net/#irisgate1", "postmaster@msging.net/any-instance"] {
        for a in f.ask(json!({"method": "get", "uri": "/ping", "to": to})).await {
            assert_eq!(a.body["status"], "success", "{} to {to}: {}", a.face, a.body);
            assert_eq!(a.body["from"], SERVER);
        }
    }
}

#[tokio::test]
async fn unknown_to_fails_with_42_naming_the_destination() {
    let mut f = Faces::start().await;
    for to in ["postmaster@unknown.msging.net", "someone@msging.net/default", "postmaster@msging.com", "msging.net"] {
        f.expect_failure(
            json!({"method": "get", "uri": "/ping", "to": to}),
            42,
            SERVER,
            &[to.split('/').next().unwrap()],
        )
        .await;
    }
}

#[tokio::test]
async fn unknown_method_fails_with_27_naming_it() {
    let mut f = Faces::start().await;
    f.expect_failure(json!({"method": "fetch", "uri": "/ping"}), 27, SERVER, &["fetch"]).await;
}

#[tokio::test]
async fn unparseable_uri_fails_with_27_naming_it() {
    let mut f = Faces::start().await;
    for uri in ["ping", "http://example.com/ping", "/pi ng", "lime:///ping", "/ping#x", ""] {
        f.expect_failure(json!({"method": "get", "uri": uri}), 27, SERVER, &["uri"]).await;
    }
}

#[tokio::test]
async fn unknown_uri_on_the_server_node_fails_with_62_naming_it() {
    let mut f = Faces::start().await;
    f.expect_failure(json!({"method": "get", "uri": "/nothing/here"}), 62, SERVER, &["/nothing/here"]).await;
    f.expect_failure(
        json!({"method": "get", "uri": "/nothing", "to": "postmaster@msging.net"}),
        62,
        SERVER,
        &["/nothing"],
    )
    .await;
}

#[tokio::test]
async fn unknown_uris_of_the_campaign_node_fail_with_62_from_that_node() {
    let mut f = Faces::start().await;
    for (method, uri) in [("get", "/campaignz"), ("set", "/campaign/other"), ("get", "/ping")] {
        f.expect_failure(
            json!({"method": method, "uri": uri, "to": "postmaster@activecampaign.msging.net",
                "type": "application/json", "resource": {}}),
            62,
            CAMPAIGNS,
            &[uri],
        )
        .await;
    }
}

#[tokio::test]
async fn unknown_uris_of_the_crm_node_fail_with_62_from_that_node() {
    let mut f = Faces::start().await;
    f.expect_failure(
        json!({"method": "get", "uri": "/accounts", "to": "postmaster@crm.msging.net"}),
        62,
        CRM,
        &["/accounts"],
    )
    .await;
}

#[tokio::test]
async fn known_uri_with_another_method_fails_with_63_naming_the_method() {
    let mut f = Faces::start().await;
    for (method, uri) in [("delete", "/ping"), ("set", "/ping"), ("get", "/presence"), ("merge", "/receipt")] {
        f.expect_failure(
            json!({"method": method, "uri": uri, "type": "application/json", "resource": {}}),
            63,
            SERVER,
            &[method, uri],
        )
        .await;
    }
}

#[tokio::test]
async fn set_without_resource_fails_with_21() {
    let mut f = Faces::start().await;
    for uri in ["/presence", "/receipt"] {
        f.expect_failure(json!({"method": "set", "uri": uri}), 21, SERVER, &["resource"]).await;
    }
}

#[tokio::test]
async fn presence_resource_that_is_not_an_object_fails_with_64() {
    let mut f = Faces::start().await;
    f.expect_failure(
        json!({"method": "set", "uri": "/presence", "type": "application/json", "resource": "available"}),
        64,
        SERVER,
        &["presence"],
    )
    .await;
}

#[tokio::test]
async fn absolute_uri_of_another_identity_fails_with_31() {
    let mut f = Faces::start().await;
    f.expect_failure(
        json!({"method": "get", "uri": "lime://other@msging.net/ping"}),
        31,
        SERVER,
        &["other@msging.net"],
    )
    .await;
}

#[tokio::test]
async fn fallbacks_apply_in_the_documented_order() {
    let mut f = Faces::start().await;
    // 42 before 27: an unknown node with an unknown method.
    f.expect_failure(json!({"method": "fetch", "uri": "nope", "to": "x@y.z"}), 42, SERVER, &[]).await;
    // 27 (method) before 62.
    f.expect_failure(json!({"method": "fetch", "uri": "/nothing"}), 27, SERVER, &[]).await;
    // 62 before 21: an unknown uri is reported even when the resource is missing too.
    f.expect_failure(json!({"method": "set", "uri": "/nothing"}), 62, SERVER, &[]).await;
    // 63 before 21.
    f.expect_failure(json!({"method": "set", "uri": "/ping"}), 63, SERVER, &[]).await;
}

#[tokio::test]
async fn failure_carries_no_type_or_resource_even_when_the_request_did() {
    let mut f = Faces::start().await;
    f.expect_failure(
        json!({"method": "set", "uri": "/nothing", "type": "application/vnd.lime.ping+json",
            "resource": {"a": 1}}),
        62,
        SERVER,
        &[],
    )
    .await;
}

#[tokio::test]
async fn failure_keeps_the_metadata_of_a_response() {
    let mut f = Faces::start().await;
    for a in f.ask(json!({"method": "get", "uri": "/nothing?x=1"})).await {
        let r = &a.body;
        assert_eq!(r["status"], "failure");
        assert_eq!(r["metadata"]["#command.uri"], "lime://mybot@msging.net/nothing?x=1", "{}: {r}", a.face);
        parse_traceparent(r["metadata"]["traceparent"].as_str().unwrap());
    }
}

#[tokio::test]
async fn observe_is_never_answered() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    ws.send(json!({"id": "obs", "method": "observe", "uri": "/ping"})).await;
    ws.send(json!({"method": "observe", "uri": "/nothing", "to": "x@y.z"})).await;
    ws.send(json!({"id": "after", "method": "get", "uri": "/ping"})).await;
    let next = ws.recv().await;
    assert_eq!(next["id"], "after", "nothing answers the observes: {next}");

    let reply = gw.command(json!({"id": "obs", "method": "observe", "uri": "/ping"})).await;
    assert_eq!(reply.status, 202, "{:?}", String::from_utf8_lossy(&reply.body));
    assert!(reply.body.is_empty(), "{:?}", reply.body);
}

#[tokio::test]
async fn to_and_method_are_case_insensitive() {
    let mut f = Faces::start().await;
    for a in f.ask(json!({"method": "GET", "uri": "/ping", "to": "PostMaster@MSGING.net"})).await {
        assert_eq!(a.body["status"], "success", "{}: {}", a.face, a.body);
        assert_eq!(a.body["method"], "get");
        assert_eq!(a.body["from"], SERVER);
    }
    for a in f.ask(json!({"method": "Set", "uri": "/presence", "resource": {}})).await {
        assert_eq!(a.body["status"], "success", "{}: {}", a.face, a.body);
        assert_eq!(a.body["method"], "set");
    }
    for a in f.ask(json!({"method": "GET", "uri": "/campaigns", "to": "POSTMASTER@ActiveCampaign.Msging.Net"})).await {
        assert_eq!(a.body["status"], "success", "{}: {}", a.face, a.body);
        assert_eq!(a.body["from"], CAMPAIGNS);
    }
}

#[tokio::test]
async fn absolute_uri_of_the_caller_is_served_like_the_relative_one() {
    let mut f = Faces::start().await;
    for uri in ["lime://mybot@msging.net/ping", "lime://MyBot@msging.net/ping", "LIME://mybot@msging.net/ping"] {
        for a in f.ask(json!({"method": "get", "uri": uri})).await {
            let r = &a.body;
            assert_eq!(r["status"], "success", "{} {uri}: {r}", a.face);
            assert_eq!(r["type"], "application/vnd.lime.ping+json");
            assert!(
                r["metadata"]["#command.uri"].as_str().unwrap().eq_ignore_ascii_case("lime://mybot@msging.net/ping"),
                "{r}"
            );
        }
    }
}

#[tokio::test]
async fn command_uri_metadata_keeps_the_query() {
    let mut f = Faces::start().await;
    for a in f.ask(json!({"method": "get", "uri": "/ping?$skip=0&$take=10"})).await {
        assert_eq!(a.body["status"], "success", "{}", a.body);
        assert_eq!(a.body["metadata"]["#command.uri"], "lime://mybot@msging.net/ping?$skip=0&$take=10");
    }
}

#[tokio::test]
async fn callers_traceparent_is_continued_with_the_same_trace_id_and_a_new_span() {
    let mut f = Faces::start().await;
    let incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    for a in f.ask(json!({"method": "get", "uri": "/ping", "metadata": {"traceparent": incoming}})).await {
        let tp = a.body["metadata"]["traceparent"].as_str().unwrap();
        let (trace, parent) = parse_traceparent(tp);
        assert_eq!(trace, "0af7651916cd43dd8448eb211c80319c", "{}: {tp}", a.face);
        assert_ne!(parent, "b7ad6b7169203331", "{}: a new span id: {tp}", a.face);
    }
    // Failures continue the trace as well.
    for a in f.ask(json!({"method": "get", "uri": "/nothing", "metadata": {"traceparent": incoming}})).await {
        let (trace, _) = parse_traceparent(a.body["metadata"]["traceparent"].as_str().unwrap());
        assert_eq!(trace, "0af7651916cd43dd8448eb211c80319c", "{}", a.face);
    }
}

#[tokio::test]
async fn without_a_callers_traceparent_each_response_starts_a_new_trace() {
    let mut f = Faces::start().await;
    let mut traces = BTreeSet::new();
    for _ in 0..3 {
        for a in f.ask(json!({"method": "get", "uri": "/ping"})).await {
            let (trace, _) = parse_traceparent(a.body["metadata"]["traceparent"].as_str().unwrap());
            traces.insert(trace);
        }
    }
    assert_eq!(traces.len(), 6, "{traces:?}");
}

#[tokio::test]
async fn malformed_callers_traceparent_is_not_continued() {
    let mut f = Faces::start().await;
    for bad in [
        "garbage",
        "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
    ] {
        for a in f.ask(json!({"method": "get", "uri": "/ping", "metadata": {"traceparent": bad}})).await {
            let tp = a.body["metadata"]["traceparent"].as_str().unwrap();
            let (trace, _) = parse_traceparent(tp);
            assert!(!bad.to_ascii_lowercase().contains(&trace), "{} {bad} → {tp}", a.face);
        }
    }
}

#[tokio::test]
async fn traceparent_with_an_all_zero_parent_id_or_version_ff_is_not_continued() {
    let mut f = Faces::start().await;
    for bad in [
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ] {
        for a in f.ask(json!({"method": "get", "uri": "/ping", "metadata": {"traceparent": bad}})).await {
            let (trace, _) = parse_traceparent(a.body["metadata"]["traceparent"].as_str().unwrap());
            assert_ne!(trace, "0af7651916cd43dd8448eb211c80319c", "{} {bad}", a.face);
        }
    }
}

#[tokio::test]
async fn http_response_is_addressed_to_the_callers_instance_never_to_a_claimed_identity() {
    let gw = Gateway::start().await;
    let own =
        gw.command(json!({"id": id(), "method": "get", "uri": "/ping", "from": "mybot@msging.net/web"})).await.json();
    assert_eq!(own["to"], "mybot@msging.net/web", "{own}");
    let spoofed =
        gw.command(json!({"id": id(), "method": "get", "uri": "/ping", "from": "other@msging.net/x"})).await.json();
    assert_eq!(spoofed["status"], "success");
    assert_eq!(spoofed["to"], "mybot@msging.net", "{spoofed}");
}

#[tokio::test]
async fn websocket_responses_go_to_the_session_node_whatever_from_says() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    let r = ws.call(json!({"id": id(), "method": "get", "uri": "/ping", "from": "other@msging.net/x"})).await;
    assert_eq!(r["to"], "mybot@msging.net/default", "{r}");
}
