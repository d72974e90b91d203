//! The real binary as a child process: `irisgate serve` on a config file of the test's, found
//! by its "listening" log line, spoken to over `POST /commands`, killed with SIGKILL; its
//! config written from `irisgate.example.toml` with a send ledger, and the ledger read back.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use super::{http_request, key_header, BOT, SECRET};

const BIN: &str = env!("CARGO_BIN_EXE_irisgate");

/// A running `irisgate serve`, killed on drop if it is still running.
pub struct Node {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Node {
    /// Starts `irisgate serve` on `config` and waits for its "listening" log line. Its ERROR
    /// and WARN lines, and those of claiming a campaign, are echoed as `{name}: {line}`.
    pub fn start(config: &Path, name: &str) -> Node {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let name = name.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("ERROR") || line.contains("WARN") || line.contains("claimed") {
                    eprintln!("{name}: {line}");
                }
                if let Some(at) = line.find("addr=") {
                    let _ = tx.send(line[at + 5..].split_whitespace().next().unwrap_or_default().to_owned());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).expect("the node logs its address").parse().unwrap();
        Node { child, addr }
    }

    /// SIGKILL: no shutdown of any kind.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// `POST /commands` as the development bot: the JSON body of a 200 answered within 20 s,
    /// `None` for anything else.
    pub async fn command(&self, command: Value) -> Option<Value> {
        let auth = key_header(BOT, SECRET);
        let body = command.to_string();
        let headers = [("authorization", auth.as_str())];
        let request = http_request(self.addr, "POST", "/commands", &headers, body.into());
        match tokio::time::timeout(Duration::from_secs(20), request).await {
            Ok(r) if r.status == 200 => Some(r.json()),
            _ => None,
        }
    }

    /// `POST /commands` as the development bot: the JSON body, whatever the status (panics
    /// without an answer in [`super::WAIT`]).
    pub async fn call(&self, command: Value) -> Value {
        let auth = key_header(BOT, SECRET);
        let headers = [("authorization", auth.as_str())];
        http_request(self.addr, "POST", "/commands", &headers, command.to_string().into()).await.json()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command to `postmaster@activecampaign.msging.net` with a fresh id, and its type and
/// resource when both are given.
pub fn to_campaigns(method: &str, uri: &str, kind: Option<&str>, resource: Option<Value>) -> Value {
    let mut c = json!({"id": uuid::Uuid::new_v4().to_string(), "to": "postmaster@activecampaign.msging.net",
        "method": method, "uri": uri});
    if let (Some(k), Some(r)) = (kind, resource) {
        c["type"] = json!(k);
        c["resource"] = r;
    }
    c
}

/// Writes `{dir}/{name}.toml` and returns its path: the example configuration with the
/// development channel's receipts immediate, `channel` (TOML lines, each ending in a newline)
/// added to that channel, its send ledger at `{dir}/ledger.jsonl` (see [`ledger`]), and
/// `tail` (tables such as `[storage]`) at the end.
pub fn config(dir: &Path, name: &str, channel: &str, tail: &str) -> PathBuf {
    let mut text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/irisgate.example.toml")).unwrap();
    text = text.replace(
        "delivered_after_ms = 50          # simulator only: receipt latencies\nread_after_ms = 200",
        &format!(
            "delivered_after_ms = 0\nread_after_ms = 0\n{channel}ledger = \"{}\"",
            dir.join("ledger.jsonl").display()
        ),
    );
    assert!(text.contains("ledger ="), "the example config changed: update tests/support/node.rs");
    text.push_str(tail);
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The complete lines of the ledger that [`config`] sets up in `dir` (a line being written
/// right now is not one yet).
pub fn ledger(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("ledger.jsonl")).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete.lines().map(|l| serde_json::from_str(l).expect("whole JSON lines")).collect()
}
