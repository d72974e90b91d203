//! The real `irisgate` binary: config errors (exit 2, the key named), the development banner,
//! serving, and signals.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_irisgate");

/// How long the process may take to exit after a signal, with nothing left to wait for.
const PROMPTLY: Duration = Duration::from_secs(3);

/// A config file in the temp dir, removed on drop.
struct TempConfig(PathBuf);

impl TempConfig {
    fn new(text: &str) -> TempConfig {
        let path = std::env::temp_dir().join(format!("irisgate-cli-{}.toml", id()));
        std::fs::write(&path, text).unwrap();
        TempConfig(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `irisgate serve --config <text>` to its end and returns (exit code, stderr).
fn serve_with_config(text: &str) -> (Option<i32>, String, String) {
    let config = TempConfig::new(text);
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--config", config.path()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts exit code 2 and that stderr names every one of `mentions`.
fn expect_config_error(text: &str, mentions: &[&str]) -> String {
    let (code, stdout, stderr) = serve_with_config(text);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(stdout.is_empty(), "nothing served, nothing printed: {stdout}");
    assert!(stderr.contains("invalid configuration"), "{stderr}");
    for m in mentions {
        assert!(stderr.contains(m), "stderr should mention {m:?}: {stderr}");
    }
    stderr
}

#[test]
fn unknown_top_level_key_exits_2_naming_it() {
    expect_config_error("listen = \"127.0.0.1:1\"\nlisen = 3\n", &["lisen"]);
}

#[test]
fn unknown_nested_key_exits_2_naming_its_dotted_path() {
    expect_config_error("[limits]\nmax_conections = 5\n", &["limits.max_conections"]);
    expect_config_error(
        "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\n[[tenants.channels]]\nid = \"c\"\ntype = \"whatsapp\"\nspeed = 1\n",
        &["tenants[0].channels[0].speed"],
    );
}

#[test]
fn wrongly_typed_value_exits_2_naming_the_key() {
    expect_config_error("[limits]\nmax_connections = \"many\"\n", &["limits.max_connections", "many"]);
    expect_config_error("listen = \"not an address\"\n", &["listen"]);
    expect_config_error(
        "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\n[[tenants.channels]]\nid = \"c\"\ntype = \"sms\"\n",
        &["tenants[0].channels[0].type", "sms"],
    );
}

#[test]
fn template_on_an_unknown_channel_exits_2_naming_the_key() {
    expect_config_error(
        "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\n[[tenants.templates]]\nid = \"t\"\nchannel = \"nope\"\nname = \"x\"\n",
        &["tenants[0].templates[0].channel", "nope"],
    );
}

#[test]
fn a_secret_from_an_unset_environment_variable_exits_2_naming_key_and_variable() {
    expect_config_error(
        "[[tenants]]\nidentifier = \"a\"\naccess_key = \"${IRISGATE_TEST_UNSET_KEY}\"\n",
        &["tenants[0].access_key", "IRISGATE_TEST_UNSET_KEY"],
    );
}

#[test]
fn zero_limit_exits_2_naming_the_key() {
    expect_config_error("[limits]\nmax_connections = 0\n", &["limits.max_connections"]);
}

#[test]
fn toml_syntax_error_exits_2_with_the_line() {
    expect_config_error("domain = \"msging.net\"\nlisten = \n", &["line 2"]);
}

#[test]
fn missing_config_file_exits_2_naming_the_path() {
    let path = std::env::temp_dir().join(format!("irisgate-missing-{}.toml", id()));
    let out =
        Command::new(BIN).args(["serve", "--config", path.to_str().unwrap()]).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
}

#[test]
fn no_subcommand_is_a_usage_error() {
    let out = Command::new(BIN).stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("serve"));
}

#[test]
fn limits_too_large_to_honour_exit_2_naming_the_key() {
    for key in ["max_connections", "outbound_queue"] {
        let config = TempConfig::new(&format!("[limits]\n{key} = 9223372036854775807\n"));
        let mut server =
            Server::start(&["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--config", config.path()]);
        assert_eq!(server.exit_code(PROMPTLY), Some(2), "limits.{key}");
        server.stderr_line(&format!("limits.{key}"));
    }
}

/// A running `irisgate serve`, killed on drop if it is still running.
struct Server {
    pid: u32,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    stderr_seen: Arc<Mutex<Vec<String>>>,
    exit: Receiver<ExitStatus>,
    exited: bool,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        // Its own working directory: the default SQLite store lives in ./irisgate-data.
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .current_dir(dir.path())
            .arg("serve")
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let lines = |pipe: Box<dyn std::io::Read + Send>, seen: Option<Arc<Mutex<Vec<String>>>>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(seen) = &seen {
                        seen.lock().unwrap().push(line.clone());
                    }
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let stderr_seen = Arc::new(Mutex::new(Vec::new()));
        let stdout = lines(Box::new(child.stdout.take().unwrap()), None);
        let stderr = lines(Box::new(child.stderr.take().unwrap()), Some(stderr_seen.clone()));
        let (tx, exit) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait().unwrap());
        });
        Server { pid, stdout, stderr, stderr_seen, exit, exited: false, _dir: dir }
    }

    /// The next stdout line that contains `needle`.
    fn stdout_line(&self, needle: &str) -> String {
        next_line(&self.stdout, needle, "stdout")
    }

    /// The next stderr line that contains `needle`, without terminal colour codes.
    fn stderr_line(&self, needle: &str) -> String {
        next_line(&self.stderr, needle, "stderr")
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.pid.to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its code.
    fn exit_code(&mut self, within: Duration) -> Option<i32> {
        let status =
            self.exit.recv_timeout(within).unwrap_or_else(|_| panic!("irisgate did not exit within {within:?}"));
        self.exited = true;
        status.code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.exited && self.exit.try_recv().is_err() {
            let _ = Command::new("kill").args(["-KILL", &self.pid.to_string()]).status();
        }
    }
}

fn next_line(rx: &Receiver<String>, needle: &str, which: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let line = strip_ansi(&line);
                if line.contains(needle) {
                    return line;
                }
            }
            Err(RecvTimeoutError::Timeout) => panic!("no {which} line with {needle:?} in time"),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("{which} ended without a line containing {needle:?}")
            }
        }
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The word after `label` in `line`.
fn word_after<'a>(line: &'a str, label: &str) -> &'a str {
    let at = line.find(label).unwrap_or_else(|| panic!("{label:?} in {line:?}"));
    line[at + label.len()..].split_whitespace().next().unwrap_or_else(|| panic!("a value after {label:?} in {line:?}"))
}

#[tokio::test]
async fn without_config_prints_working_development_credentials_and_serves() {
    let server = Server::start(&["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"]);
    let ws_line = server.stdout_line("ws://");
    let addr: SocketAddr = word_after(&ws_line, "ws://").parse().unwrap();
    assert_ne!(addr.port(), 0, "the banner shows the bound port: {ws_line}");
    let identifier = word_after(&ws_line, "identifier ");
    let key = word_after(&ws_line, "access key ");
    assert_eq!((identifier, key), (BOT, ACCESS_KEY), "{ws_line}");
    let http_line = server.stdout_line("Authorization: Key ");
    let authorization = format!("Key {}", word_after(&http_line, "Authorization: Key "));
    assert_eq!(authorization, key_header(BOT, SECRET), "{http_line}");
    assert!(http_line.contains(&format!("http://{addr}/commands")), "{http_line}");

    let health = http_request(addr, "GET", "/health", &[], bytes::Bytes::new()).await;
    assert_eq!(health.status, 200);
    let reply = http_request(
        addr,
        "POST",
        "/commands",
        &[("authorization", &authorization)],
        json!({"id": "cli", "method": "get", "uri": "/ping"}).to_string().into(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "success");
    let mut ws = Ws::established_at(&format!("ws://{addr}"), identifier, key).await;
    ws.assert_alive().await;
}

#[tokio::test]
async fn listen_overrides_the_config_and_the_bound_address_is_logged() {
    let config = TempConfig::new(&format!(
        "listen = \"127.0.0.1:1\"\ninstance = \"cli-test\"\n\n{}",
        "[[tenants]]\nidentifier = \"clibot\"\naccess_key = \"c2VjcmV0\"\n"
    ));
    let server =
        Server::start(&["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--config", config.path()]);
    let line = server.stderr_line("listening");
    let addr: SocketAddr = word_after(&line, "addr=").parse().unwrap();
    assert_ne!(addr.port(), 0, "{line}");
    let reply = http_request(
        addr,
        "POST",
        "/commands",
        &[("authorization", &key_header("clibot", SECRET))],
        json!({"id": "c", "method": "get", "uri": "/ping"}).to_string().into(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["from"], "postmaster@msging.net/#cli-test");
    assert!(server.stdout.try_recv().is_err(), "no development banner with a config");
}

#[tokio::test]
async fn sigterm_closes_sessions_with_finished_and_exits_0_promptly() {
    let mut server = Server::start(&["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"]);
    let ws_line = server.stdout_line("ws://");
    let url = format!("ws://{}", word_after(&ws_line, "ws://"));
    let mut ws = Ws::established_at(&url, BOT, ACCESS_KEY).await;
    ws.assert_alive().await;
    let started = Instant::now();
    server.signal("TERM");
    let (frames, close) = ws.closed().await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["state"], "finished");
    assert_eq!(close.map(|c| c.0), Some(1001));
    ws.until_eof().await;
    assert_eq!(server.exit_code(PROMPTLY), Some(0));
    assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());
    server.stderr_line("SIGTERM");
}

#[tokio::test]
async fn sigint_exits_0_promptly() {
    let mut server = Server::start(&["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"]);
    let ws_line = server.stdout_line("ws://");
    let addr: SocketAddr = word_after(&ws_line, "ws://").parse().unwrap();
    let health = http_request(addr, "GET", "/health", &[], bytes::Bytes::new()).await;
    assert_eq!(health.status, 200);
    server.signal("INT");
    assert_eq!(server.exit_code(PROMPTLY), Some(0));
    server.stderr_line("SIGINT");
}

#[test]
fn signal_right_after_the_banner_shuts_down_gracefully() {
    // A race: repeated so that it shows on most runs.
    for attempt in 0..10 {
        for signal in ["INT", "TERM"] {
            let mut server = Server::start(&["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"]);
            server.stdout_line("ws://");
            server.signal(signal);
            assert_eq!(
                server.exit_code(PROMPTLY),
                Some(0),
                "SIG{signal} on attempt {attempt} ended the process by the signal itself"
            );
        }
    }
}

#[test]
fn address_in_use_exits_1_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN).args(["serve", "--listen", &addr]).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&addr), "{stderr}");
}

#[tokio::test]
async fn logs_are_plain_text_when_stderr_is_not_a_terminal() {
    let mut server = Server::start(&["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"]);
    let ws_line = server.stdout_line("ws://");
    let addr: SocketAddr = word_after(&ws_line, "ws://").parse().unwrap();
    let health = http_request(addr, "GET", "/health", &[], bytes::Bytes::new()).await;
    assert_eq!(health.status, 200);
    server.signal("TERM");
    assert_eq!(server.exit_code(PROMPTLY), Some(0));
    // The reader thread has seen everything once the pipe ended.
    while server.stderr.recv_timeout(WAIT).is_ok() {}
    let seen = server.stderr_seen.lock().unwrap().join("\n");
    assert!(seen.contains("listening"), "{seen}");
    assert!(!seen.contains('\u{1b}'), "escape codes in the log: {seen:?}");
}
