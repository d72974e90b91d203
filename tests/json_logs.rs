//! `log_format = "json"`: the real binary writes one JSON object per line on stderr, and the
//! `traceparent` of a command is on the lines it causes, the dispatch of its campaign included.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::{http_request, key_header, BOT, SECRET};

const BIN: &str = env!("CARGO_BIN_EXE_irisgate");
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test]
async fn every_line_is_json_and_the_trace_id_follows_the_command_into_its_dispatch() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/irisgate.example.toml")).unwrap();
    let text = format!(
        "log_format = \"json\"\n{example}\n[metrics]\nlisten = \"\"\n[storage]\npath = \"{}\"\n",
        dir.path().join("db.sqlite").display()
    );
    let path = dir.path().join("irisgate.toml");
    std::fs::write(&path, text).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info,irisgate=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = |within: Duration| -> Value {
        let line = rx.recv_timeout(within).expect("a log line in time");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"))
    };
    let mut lines = Vec::new();
    let addr = loop {
        let line = next(Duration::from_secs(30));
        lines.push(line.clone());
        if line["message"] == "irisgate listening" {
            break line["addr"].as_str().unwrap().parse().unwrap();
        }
    };
    assert!(lines.iter().all(|l| l["message"] != "serving metrics"), "metrics are off: {lines:?}");
    let command = json!({"id": "c1", "to": "postmaster@activecampaign.msging.net", "method": "set",
        "uri": "/campaign/full", "type": "application/vnd.iris.activecampaign.full-campaign+json",
        "metadata": {"traceparent": format!("00-{TRACE}-00f067aa0ba902b7-01")},
        "resource": {"campaign": {"name": "traced", "campaignType": "Batch", "channelType": "GoogleRcs"},
                     "audiences": [{"recipient": "+5531998761234", "messageParams": {"nome": "Ana"}}],
                     "message": {"messageContent": "Olá {{nome}}", "channelType": "GoogleRcs"}}});
    let auth = key_header(BOT, SECRET);
    let reply = http_request(addr, "POST", "/commands", &[("authorization", &auth)], command.to_string().into()).await;
    assert_eq!(reply.json()["status"], "success", "{:?}", reply.body);
    let traced = |l: &Value| l["spans"].as_array().is_some_and(|s| s.iter().any(|s| s["trace_id"] == TRACE));
    let (mut command_line, mut dispatch_line) = (None, None);
    while command_line.is_none() || dispatch_line.is_none() {
        let line = next(Duration::from_secs(10));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(line.get(key).is_some(), "{key} missing: {line}");
        }
        if traced(&line) && line["message"] == "command answered" {
            command_line = Some(line.clone());
        }
        if traced(&line) && line["message"] == "campaign completed" {
            assert!(line["spans"].as_array().unwrap().iter().any(|s| s["name"] == "dispatch"), "{line}");
            dispatch_line = Some(line);
        }
    }
    assert_eq!(command_line.unwrap()["route"], "/campaign/full");
    let _ = child.kill();
    let _ = child.wait();
}
