//! Credentials given in the configuration as `sha256:<hex>` digests (issue 14, point 10): the
//! access key on the LIME face (WebSocket `key` / `plain`, HTTP `Key`) and the REST API keys
//! authenticate as the keys themselves would; wrong keys, and the digests sent as keys, are
//! refused; a malformed digest stops the binary with exit 2 naming the key.

mod support;

use std::process::{Command, Stdio};

use serde_json::{json, Value};
use support::*;

/// `printf %s c2VjcmV0 | base64 -d | sha256sum`: the development access key's digest.
const ACCESS_KEY_DIGEST: &str = "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
/// `printf %s wk_test_123 | sha256sum`: the development API key's digest.
const API_KEY_DIGEST: &str = "sha256:b15f4128e41b6ea7a528641f6123e7b3d22c7313d348ea751fe77d10baeca103";

/// The development configuration with its keys replaced by their digests, read as a file is.
fn digested_config() -> irisgate::Config {
    let text = include_str!("../irisgate.example.toml")
        .replace("access_key = \"c2VjcmV0\"", &format!("access_key = \"{ACCESS_KEY_DIGEST}\""))
        .replace("api_keys = [\"wk_test_123\"]", &format!("api_keys = [\"{API_KEY_DIGEST}\"]"));
    assert!(!text.contains("c2VjcmV0\"") && !text.contains("\"wk_test_123\""), "both keys replaced");
    irisgate::Config::parse(&text).unwrap()
}

async fn handshake(gw: &Gateway, scheme: &str, auth: Value) -> Value {
    let mut c = Ws::connect(gw).await;
    c.send(json!({"state": "new"})).await;
    let sid = c.recv().await["id"].as_str().unwrap().to_owned();
    c.send(json!({"id": sid, "state": "authenticating", "from": "mybot@msging.net/web", "scheme": scheme,
        "authentication": auth}))
        .await;
    c.recv().await
}

fn ping() -> String {
    json!({"id": id(), "method": "get", "uri": "/ping"}).to_string()
}

async fn post_ping(gw: &Gateway, identifier: &str, secret: &str) -> HttpReply {
    let auth = key_header(identifier, secret);
    gw.post("/commands", &[("authorization", &auth), ("content-type", "application/json")], ping()).await
}

#[tokio::test]
async fn a_digested_access_key_authenticates_websocket_sessions_in_both_schemes() {
    let gw = Gateway::start_with(digested_config()).await;
    let mut ws = gw.session().await;
    let pong = ws.call(json!({"id": id(), "method": "get", "uri": "/ping"})).await;
    assert_eq!(pong["status"], "success", "{pong}");
    let plain = handshake(&gw, "plain", json!({"password": ACCESS_KEY})).await;
    assert_eq!(plain["state"], "established", "{plain}");
    for (scheme, auth) in [
        ("key", json!({"key": "c2VjcmV1"})),
        ("plain", json!({"password": "d3Jvbmc="})),
        // The digest is what the gateway holds, not a credential.
        ("key", json!({"key": ACCESS_KEY_DIGEST})),
        ("key", json!({"key": &ACCESS_KEY_DIGEST["sha256:".len()..]})),
    ] {
        let refused = handshake(&gw, scheme, auth.clone()).await;
        assert_eq!(refused["state"], "failed", "{scheme} {auth}: {refused}");
        assert_eq!(refused["reason"]["code"], 13, "{refused}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_digested_access_key_authenticates_post_commands() {
    let gw = Gateway::start_with(digested_config()).await;
    let ok = post_ping(&gw, BOT, SECRET).await;
    assert_eq!(ok.status, 200, "{:?}", String::from_utf8_lossy(&ok.body));
    assert_eq!(ok.json()["status"], "success");
    for secret in ["secreT", "", ACCESS_KEY, ACCESS_KEY_DIGEST] {
        assert_eq!(post_ping(&gw, BOT, secret).await.status, 401, "secret {secret:?}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_digested_api_key_authenticates_rest() {
    let gw = Gateway::start_with(digested_config()).await;
    let listed = Rest::new(&gw).get("/campaigns").await;
    assert_eq!(listed.status, 200, "{:?}", String::from_utf8_lossy(&listed.body));
    for key in ["wk_test_12", "wk_test_1234", API_KEY_DIGEST, &API_KEY_DIGEST["sha256:".len()..]] {
        let refused = Rest::with_key(&gw, Some(key)).get("/campaigns").await;
        assert_eq!(refused.status, 401, "key {key:?}");
    }
    gw.stop().await;
}

#[test]
fn a_malformed_digest_exits_2_naming_the_key() {
    let short = &ACCESS_KEY_DIGEST[..ACCESS_KEY_DIGEST.len() - 1];
    for (text, key) in [
        (format!("[[tenants]]\nidentifier = \"a\"\naccess_key = \"{short}\"\n"), "tenants[0].access_key"),
        (
            format!(
                "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\napi_keys = [\"sha256:zz{}\"]\n",
                &ACCESS_KEY_DIGEST[9..]
            ),
            "tenants[0].api_keys[0]",
        ),
    ] {
        let path = std::env::temp_dir().join(format!("irisgate-secrets-{}.toml", id()));
        std::fs::write(&path, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_irisgate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--config"])
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(key) && stderr.contains("64 hex digits"), "{stderr}");
    }
}
