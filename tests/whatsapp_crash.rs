//! kill -9 of the real binary mid-campaign on a WhatsApp Cloud API channel (SQLite, the fake
//! Cloud API in this process, answering slowly so that a send is in flight at the kill):
//! WhatsApp has no idempotency key, so with `storage.sending_recovery = "fail"` a send whose
//! outcome the crash lost is FAILED 1007 after the restart, never sent again. Every
//! recipient is accounted for, nobody is sent twice at the fake, and no secret appears in
//! the process's log.

mod support;

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::fake_whatsapp::{self as fake, FakeWhatsApp};
use support::node::to_campaigns;
use support::whatsapp_seed as seed;
use support::{http_request, key_header, BOT, SECRET};

const BIN: &str = env!("CARGO_BIN_EXE_irisgate");
const RECIPIENTS: u32 = 60;

/// `irisgate serve` logging everything (debug) to `{dir}/{name}.log`.
struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Process {
    fn start(dir: &Path, config: &Path, name: &str) -> Process {
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let start = Instant::now();
        let addr = loop {
            let text = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
            if let Some(at) = text.find("irisgate listening") {
                let line = &text[..text[at..].find('\n').map_or(text.len(), |e| at + e)];
                let from = line.rfind("addr=").expect("addr in the listening line") + 5;
                break line[from..].split_whitespace().next().unwrap().trim_matches('"').parse().unwrap();
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no listening line: {text}");
            std::thread::sleep(Duration::from_millis(50));
        };
        Process { child, addr }
    }

    async fn command(&self, command: Value) -> Value {
        let auth = key_header(BOT, SECRET);
        http_request(self.addr, "POST", "/commands", &[("authorization", &auth)], command.to_string().into())
            .await
            .json()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn phone(i: u32) -> String {
    format!("55319988{i:05}")
}

#[tokio::test]
async fn after_kill_9_nobody_is_sent_twice_and_everybody_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    fake.set_latency(Duration::from_millis(300));
    let text = seed::config_text(&fake, "max_per_second = 20", seed::SEED_TEMPLATES_TOML)
        + &format!(
            "\n[storage]\npath = \"{}\"\nsending_recovery = \"fail\"\n",
            dir.path().join("irisgate.db").display()
        );
    let config = dir.path().join("irisgate.toml");
    std::fs::write(&config, text).unwrap();

    let first = Process::start(dir.path(), &config, "first");
    let audiences: Vec<Value> = (0..RECIPIENTS).map(|i| json!({"recipient": format!("+{}", phone(i))})).collect();
    let resource = json!({"campaign": {"name": "crash", "campaignType": "Batch"}, "audiences": audiences,
                          "message": {"messageTemplate": "aviso_sem_variavel"}});
    let reply =
        first.command(to_campaigns("set", "/campaign/full", Some(support::client::FULL_TYPE), Some(resource))).await;
    assert_eq!(reply["status"], "success", "{reply}");
    let id = reply["resource"]["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    // Kill while a send is in flight: the fake has decided it, the gateway has no answer yet.
    while fake.answers().len() < 15 {
        assert!(start.elapsed() < Duration::from_secs(30), "sending did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(first);
    let before = fake.accepted().len();
    assert!(before < RECIPIENTS as usize, "killed mid-campaign");

    let second = Process::start(dir.path(), &config, "second");
    let start = Instant::now();
    let report = loop {
        let r = second.command(to_campaigns("get", &format!("/campaigns/{id}/reports?$take=10000"), None, None)).await;
        if r["resource"]["status"] == "executed" {
            break r["resource"].clone();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "not executed after the restart: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let accepted = fake.accepted();
    let mut lost = 0;
    for i in 0..RECIPIENTS {
        let p = phone(i);
        let times = accepted.iter().filter(|a| a.to == p).count();
        assert!(times <= 1, "{p} sent {times} times");
        let e = report["statusAudience"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["recipientIdentity"] == format!("{p}@wa.gw.msging.net"))
            .unwrap();
        match e["status"].as_str() {
            Some("PROCESSED") => assert_eq!(times, 1, "{p} PROCESSED and sent once"),
            Some("FAILED") => {
                assert_eq!(e["reasonCode"], 1007, "{e}");
                lost += 1;
            }
            other => panic!("{p}: {other:?}"),
        }
    }
    assert!(lost >= 1, "a send was in flight at the kill and is FAILED 1007, not sent again");
    println!("kill -9: {before} sent before the kill, {lost} FAILED 1007, {} sent in all", accepted.len());
    drop(second);
    for name in ["first", "second"] {
        let mut log = String::new();
        std::fs::File::open(dir.path().join(format!("{name}.log"))).unwrap().read_to_string(&mut log).unwrap();
        assert!(log.contains("irisgate listening"));
        for secret in [fake::TOKEN, fake::APP_SECRET, fake::VERIFY_TOKEN] {
            assert!(!log.contains(secret), "{name}.log shows a secret");
        }
    }
}
