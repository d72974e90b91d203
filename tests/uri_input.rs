//! Command URIs as a careless or hostile client writes them (multi-byte characters at any
//! byte, odd schemes) get a LIME failure naming the problem on both transports, never a
//! panic, an HTTP 500 or a dropped session.

mod support;

use serde_json::{json, Value};
use support::*;

/// URIs whose multi-byte characters fall across the byte offsets the parser looks at.
const URIS: &[&str] = &["/aaaaaé", "/aaaaéé", "limé://x/y", "lime:/é", "é", "/é?é=é#é", "LIME://bot@é/ç"];

fn command(uri: &str) -> Value {
    json!({"id": id(), "to": "postmaster@activecampaign.msging.net", "method": "get", "uri": uri})
}

/// None of [`URIS`] names a resource: each must be refused with a reason naming the problem.
fn assert_answered(reply: &Value, uri: &str) {
    assert_eq!(reply["status"], "failure", "{uri}: {reply}");
    let reason = &reply["reason"];
    assert!(reason["code"].as_u64().is_some(), "{uri}: {reply}");
    assert!(reason["description"].as_str().is_some_and(|d| !d.is_empty()), "{uri}: {reply}");
}

#[tokio::test]
async fn http_answers_every_odd_uri_with_a_lime_envelope() {
    let gw = Gateway::start().await;
    for uri in URIS {
        let reply = gw.command(command(uri)).await;
        assert_eq!(reply.status, 200, "{uri}: {}", String::from_utf8_lossy(&reply.body));
        assert_answered(&reply.json(), uri);
    }
    gw.stop().await;
}

#[tokio::test]
async fn websocket_answers_every_odd_uri_and_keeps_the_session() {
    let gw = Gateway::start().await;
    let mut ws = gw.session().await;
    for uri in URIS {
        let reply = ws.call(command(uri)).await;
        assert_answered(&reply, uri);
    }
    let pong = ws.call(json!({"id": id(), "method": "get", "uri": "/ping"})).await;
    assert_eq!(pong["status"], "success", "{pong}");
    gw.stop().await;
}
