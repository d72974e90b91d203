//! One client API over both transports of the same router: a WebSocket session and
//! `POST /commands`. Campaign-extension tests run each case through both.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use irisgate::Config;
use serde_json::{json, Value};

use super::{http_request, id, key_header, Gateway, Ws, ACCESS_KEY, BOT, SECRET};

pub const CAMPAIGN_NODE: &str = "postmaster@activecampaign.msging.net";
pub const CAMPAIGN_FROM: &str = "postmaster@activecampaign.msging.net/#irisgate1";
pub const CRM_NODE: &str = "postmaster@crm.msging.net";
pub const CRM_FROM: &str = "postmaster@crm.msging.net/#irisgate1";
pub const SERVER_NODE: &str = "postmaster@msging.net";
pub const SERVER_FROM: &str = "postmaster@msging.net/#irisgate1";

pub const FULL_TYPE: &str = "application/vnd.iris.activecampaign.full-campaign+json";
pub const DYNAMIC_TYPE: &str = "application/vnd.iris.activecampaign.campaign-dynamic+json";
pub const CAMPAIGN_TYPE: &str = "application/vnd.iris.activecampaign.campaign+json";
pub const SUMMARY_TYPE: &str = "application/vnd.iris.activecampaign.campaign-summary+json";
pub const AUDIENCE_TYPE: &str = "application/vnd.iris.activecampaign.audience+json";
pub const MESSAGE_TYPE: &str = "application/vnd.iris.activecampaign.message+json";
pub const REPORT_TYPE: &str = "application/vnd.iris.activecampaign.report+json";
pub const AUDIENCE_RESULT_TYPE: &str = "application/vnd.iris.activecampaign.audience-result+json";
pub const COLLECTION_TYPE: &str = "application/vnd.lime.collection+json";
pub const MEDIA_LINK_TYPE: &str = "application/vnd.lime.media-link+json";
pub const CONTACT_TYPE: &str = "application/vnd.lime.contact+json";

/// How long a test waits for a campaign to reach a state before failing.
pub const DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Ws,
    Http,
}

/// Every case runs through both, in this order.
pub const BOTH: [Transport; 2] = [Transport::Ws, Transport::Http];

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Ws => "WebSocket",
            Transport::Http => "HTTP",
        })
    }
}

/// A tenant's client on one transport.
pub struct Client {
    pub transport: Transport,
    pub identifier: String,
    ws: Option<Ws>,
    addr: SocketAddr,
    auth: String,
}

impl Client {
    /// The development bot `mybot`.
    pub async fn connect(gw: &Gateway, transport: Transport) -> Client {
        Client::connect_as(gw, transport, BOT, ACCESS_KEY, SECRET).await
    }

    /// `identifier` with its access key (base64, for WebSocket) and decoded secret (HTTP).
    pub async fn connect_as(
        gw: &Gateway,
        transport: Transport,
        identifier: &str,
        access_key: &str,
        secret: &str,
    ) -> Client {
        let ws = match transport {
            Transport::Ws => Some(Ws::established(gw, identifier, access_key).await),
            Transport::Http => None,
        };
        Client { transport, identifier: identifier.to_owned(), ws, addr: gw.addr, auth: key_header(identifier, secret) }
    }

    /// The `to` the gateway answers: the session's node on WebSocket; over HTTP (no `from`
    /// in our requests) the bare identity.
    pub fn reply_to(&self) -> String {
        match self.transport {
            Transport::Ws => format!("{}@msging.net/default", self.identifier),
            Transport::Http => format!("{}@msging.net", self.identifier),
        }
    }

    /// Sends a command (an `id` is added when missing) and returns the response envelope.
    /// HTTP must answer 200 for success and failure alike.
    pub async fn call(&mut self, mut command: Value) -> Value {
        if command.get("id").is_none() {
            command["id"] = json!(id());
        }
        match &mut self.ws {
            Some(ws) => ws.call(command).await,
            None => {
                let body = Bytes::from(command.to_string());
                let reply = http_request(
                    self.addr,
                    "POST",
                    "/commands",
                    &[("authorization", &self.auth), ("content-type", "application/json")],
                    body,
                )
                .await;
                assert_eq!(reply.status, 200, "{}: {:?}", self.transport, String::from_utf8_lossy(&reply.body));
                reply.json()
            }
        }
    }

    /// A command to the campaign node; returns the whole response.
    pub async fn ac(&mut self, method: &str, uri: &str, body: Option<(&str, Value)>) -> Value {
        self.to(CAMPAIGN_NODE, method, uri, body).await
    }

    /// A command to `node`; returns the whole response.
    pub async fn to(&mut self, node: &str, method: &str, uri: &str, body: Option<(&str, Value)>) -> Value {
        let mut c = json!({"to": node, "method": method, "uri": uri});
        if let Some((t, r)) = body {
            c["type"] = json!(t);
            c["resource"] = r;
        }
        self.call(c).await
    }

    /// A campaign-node command that must succeed; its resource (`null` when none).
    pub async fn ok(&mut self, method: &str, uri: &str, body: Option<(&str, Value)>) -> Value {
        let r = self.ac(method, uri, body).await;
        assert_eq!(r["status"], "success", "{} {method} {uri}: {r}", self.transport);
        r.get("resource").cloned().unwrap_or(Value::Null)
    }

    /// A campaign-node command that must fail with `code`; its reason description.
    pub async fn fail(&mut self, method: &str, uri: &str, body: Option<(&str, Value)>, code: u64) -> String {
        let r = self.ac(method, uri, body).await;
        expect_failure(&r, code, &format!("{} {method} {uri}", self.transport))
    }

    pub async fn full(&mut self, resource: Value) -> Value {
        self.ok("set", "/campaign/full", Some((FULL_TYPE, resource))).await
    }

    pub async fn full_fails(&mut self, resource: Value, code: u64) -> String {
        self.fail("set", "/campaign/full", Some((FULL_TYPE, resource)), code).await
    }

    pub async fn v2(&mut self, resource: Value) -> Value {
        self.ok("set", "/campaign/v2", Some((DYNAMIC_TYPE, resource))).await
    }

    /// `set /audiences/v2/{id}` with a collection of `items`.
    pub async fn audience(&mut self, id: &str, items: Value) -> Value {
        let collection = json!({"itemType": AUDIENCE_TYPE, "items": items});
        self.ok("set", &format!("/audiences/v2/{id}"), Some((COLLECTION_TYPE, collection))).await
    }

    pub async fn dispatch(&mut self, id: &str) -> Value {
        self.ok("set", "/dispatch/v2", Some((CAMPAIGN_TYPE, json!({"id": id})))).await
    }

    /// The report with every recipient (`$take=10000`).
    pub async fn report(&mut self, id: &str) -> Value {
        self.ok("get", &format!("/campaigns/{id}/reports?$take=10000"), None).await
    }

    /// Polls the report until `done` holds; panics after [`DEADLINE`] with the last report.
    pub async fn wait_report(&mut self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let r = self.report(id).await;
            if done(&r) {
                return r;
            }
            assert!(start.elapsed() < DEADLINE, "{}: {what} not reached in {DEADLINE:?}: {r}", self.transport);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the campaign is `executed` with every recipient READ.
    pub async fn wait_all_read(&mut self, id: &str) -> Value {
        self.wait_report(id, "executed with every recipient READ", |r| {
            r["status"] == "executed" && r["audienceCounts"]["read"] == r["audienceCounts"]["total"]
        })
        .await
    }
}

/// Checks a failure envelope (no `type`/`resource`) and returns its description.
pub fn expect_failure(r: &Value, code: u64, what: &str) -> String {
    assert_eq!(r["status"], "failure", "{what}: expected failure {code}, got {r}");
    assert_eq!(r["reason"]["code"], code, "{what}: {r}");
    assert!(r.get("type").is_none() && r.get("resource").is_none(), "{what}: a failure carries no resource: {r}");
    r["reason"]["description"].as_str().unwrap_or_default().to_owned()
}

/// Asserts `text` contains `part`, naming the transport.
pub fn assert_has(text: &str, part: &str, t: Transport) {
    assert!(text.contains(part), "{t}: {text:?} does not contain {part:?}");
}

/// A gateway and one client of `mybot` on it.
pub struct Env {
    pub gw: Gateway,
    pub c: Client,
}

impl Env {
    pub async fn start(t: Transport) -> Env {
        Env::start_with(t, Config::development()).await
    }

    pub async fn start_with(t: Transport, config: Config) -> Env {
        let gw = Gateway::start_with(config).await;
        let c = Client::connect(&gw, t).await;
        Env { gw, c }
    }
}

/// A second tenant `rival` (campaigns enabled, own channels) and `freebie` (no campaigns
/// feature), added to the development configuration.
pub const RIVAL: &str = "rival";
pub const RIVAL_KEY: &str = "cml2YWwtc2VjcmV0"; // base64("rival-secret")
pub const RIVAL_SECRET: &str = "rival-secret";
pub const FREEBIE: &str = "freebie";
pub const FREEBIE_KEY: &str = "ZnJlZWJpZS1zZWNyZXQ="; // base64("freebie-secret")
pub const FREEBIE_SECRET: &str = "freebie-secret";

pub fn config_with_tenants() -> Config {
    let mut config = Config::development();
    let extra = Config::parse(&format!(
        r#"
[[tenants]]
identifier = "{RIVAL}"
access_key = "{RIVAL_KEY}"

[[tenants.channels]]
id = "rival_wa"
type = "whatsapp"
default = true
delivered_after_ms = 0
read_after_ms = 0

[[tenants.templates]]
id = "rival_t"
channel = "rival_wa"
name = "email_commerce_resposta"
body = "Olá {{{{1}}}}"

[[tenants]]
identifier = "{FREEBIE}"
access_key = "{FREEBIE_KEY}"
features = []

[[tenants.channels]]
id = "free_wa"
type = "whatsapp"
default = true

[[tenants.templates]]
id = "free_t"
channel = "free_wa"
name = "email_commerce_resposta"
body = "Olá {{{{1}}}}"
"#
    ))
    .expect("extra tenants parse");
    config.tenants.extend(extra.tenants);
    config
}

/// A `/campaign/full` Batch on `email_commerce_resposta` (one parameter "1").
pub fn full_batch(name: &str, recipients: &[&str]) -> Value {
    super::batch(name, recipients)
}

/// A `/campaign/full` Individual on `email_commerce_resposta`.
pub fn full_individual(name: &str, recipient: &str) -> Value {
    json!({
        "campaign": {"name": name, "campaignType": "Individual", "flowId": "flow-1", "stateId": "state-1"},
        "audience": {"recipient": recipient, "messageParams": {"1": "Ana"}},
        "message": {"messageTemplate": "email_commerce_resposta", "messageParams": ["1"]}
    })
}

/// A `/campaign/v2` WhatsApp Batch on `email_commerce_resposta`.
pub fn dynamic(name: &str) -> Value {
    json!({
        "campaign": {"name": name, "campaignType": "Batch", "flowId": "flow-1", "stateId": "state-1",
                     "sourceApplication": "tests"},
        "message": {"messageTemplate": "email_commerce_resposta", "messageParams": ["1"]}
    })
}

/// Audience items with parameter "1".
pub fn items(recipients: &[&str]) -> Value {
    Value::Array(recipients.iter().map(|r| json!({"recipient": r, "messageParams": {"1": format!("p {r}")}})).collect())
}

/// `id` of a campaign resource.
pub fn id_of(campaign: &Value) -> String {
    campaign["id"].as_str().unwrap_or_else(|| panic!("no id in {campaign}")).to_owned()
}

/// The `statusAudience` entry of `identity` in a report or summary.
pub fn entry<'a>(report: &'a Value, identity: &str) -> &'a Value {
    report["statusAudience"]
        .as_array()
        .expect("statusAudience array")
        .iter()
        .find(|s| s["recipientIdentity"] == identity)
        .unwrap_or_else(|| panic!("{identity} not in {report}"))
}
