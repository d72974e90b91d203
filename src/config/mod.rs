//! The configuration file (TOML): its settings, their defaults, loading and the development
//! workspace. The rules serde cannot express are in `validation`; `conversion` turns the
//! configured tenants, channels and templates into the model's types (the model never
//! imports this module).
//!
//! Every setting is documented with its default in the README ("Configuration").

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

pub use crate::tenant::decode_base64;

mod channels;
mod conversations;
mod conversion;
mod defaults;
mod env;
mod idempotency;
mod observability;
mod outbound;
mod segments;
mod validation;
mod webhooks;

pub use channels::{ButtonConfig, ChannelConfig, ProviderKind, TemplateConfig};
pub use conversations::{ConversationSettings, DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS};
pub use idempotency::IdempotencySettings;
pub use observability::{LogFormat, MetricsConfig};
pub use outbound::OutboundSettings;
pub use segments::SegmentSettings;
pub use webhooks::{TenantWebhookConfig, WebhookSettings};

/// The whole configuration. Unknown keys are errors, so that a typo never goes unnoticed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on when `--listen` is not given.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// LIME domain of the gateway's nodes (`postmaster@{domain}`, bots are `{identifier}@{domain}`).
    #[serde(default = "defaults::domain")]
    pub domain: String,
    /// Instance name: responses come from `postmaster@…/#{instance}`.
    #[serde(default = "defaults::instance")]
    pub instance: String,
    /// Country calling code applied to recipients written without one.
    #[serde(default = "defaults::country_code")]
    pub default_country_code: String,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub campaigns: CampaignSettings,
    #[serde(default)]
    pub storage: StorageConfig,
    /// Bots' messages to people (queue, notification retries).
    #[serde(default)]
    pub outbound: OutboundSettings,
    #[serde(default)]
    pub conversations: ConversationSettings,
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    /// `[metrics]`: the Prometheus port.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `text` (default) or `json` (one object per line).
    #[serde(default)]
    pub log_format: LogFormat,
    /// `[webhooks]`: how status callbacks are delivered.
    #[serde(default)]
    pub webhooks: WebhookSettings,
    /// `[idempotency]`: REST `Idempotency-Key` and repeated LIME `set` ids.
    #[serde(default)]
    pub idempotency: IdempotencySettings,
    /// `[segments]`: bounds of saved segments.
    #[serde(default)]
    pub segments: SegmentSettings,
}

/// Where campaigns, recipients, contacts and contexts live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sqlite` (embedded, the default), `postgres` (several nodes may share it) or `memory`
    /// (nothing survives a restart: tests and throwaway runs).
    pub kind: StorageKind,
    /// SQLite database file (its directory is created).
    pub path: std::path::PathBuf,
    /// PostgreSQL connection URL (`postgres://user@host/db`); required for `postgres`.
    pub url: Option<String>,
    /// What happens, after a crash, to recipients that were handed to a channel whose
    /// outcome was not recorded, on channels that do not deduplicate by message id:
    /// `fail` (reason 1007, never sent twice) or `resend` (sent again: possibly twice).
    /// Channels that deduplicate (the simulator) always get the same id again.
    pub sending_recovery: SendingRecovery,
    /// PostgreSQL: a running campaign is dispatched by the node holding its lease; another
    /// node takes it over when the lease is not renewed for this long.
    pub lease_ms: u64,
    /// This node's name in leases (default: host name, process id and a random suffix).
    pub node_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageKind {
    Sqlite,
    Postgres,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendingRecovery {
    Fail,
    Resend,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            kind: StorageKind::Sqlite,
            path: "./irisgate-data/irisgate.db".into(),
            url: None,
            sending_recovery: SendingRecovery::Fail,
            lease_ms: 15_000,
            node_id: None,
        }
    }
}

/// How campaigns are accepted and sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignSettings {
    /// Recipients one campaign may hold; more is refused with 64 (REST 400).
    pub max_recipients_per_campaign: u64,
    /// Recipients listed in `statusAudience` of a summary (`audienceCounts` always has totals).
    pub summary_audience_items: usize,
    /// Hosts `/audiences/v2/{id}/file` may fetch a media-link CSV from (exact names). Empty:
    /// media links are refused.
    pub media_link_hosts: Vec<String>,
    /// Largest CSV fetched from a media link, in bytes.
    pub media_link_max_bytes: u64,
    /// Time allowed for fetching a media link (every redirect included).
    pub media_link_timeout_ms: u64,
    /// Media links may be `http` (default: `https` only).
    pub media_link_allow_http: bool,
    /// Media links may reach private, loopback, link-local and unique-local addresses (an
    /// internal file server); by default a host resolving to one is refused.
    pub media_link_allow_private: bool,
    /// Attempts per recipient when the provider reports a transient error.
    pub send_attempts: u32,
    /// Wait before the first retry; doubled for each further one (each wait jittered
    /// between half and all of it).
    pub retry_backoff_ms: u64,
    /// Longest wait between two retries of a send.
    pub retry_backoff_max_ms: u64,
    /// Recipients a dispatcher takes from the store at once.
    pub dispatch_batch: usize,
    /// Channel receipts waiting to be recorded; when full, channels wait (no receipt is lost).
    pub receipt_queue: usize,
    /// Receipts written to the store in one statement.
    pub receipt_batch: usize,
    /// Schedules waiting to be registered by the scheduler; when full, a start with a
    /// schedule is refused (LIME 85, REST 429) and at start-up the gateway refuses to run.
    pub schedule_queue: usize,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        CampaignSettings {
            max_recipients_per_campaign: 1_000_000,
            summary_audience_items: 100,
            media_link_hosts: Vec::new(),
            media_link_max_bytes: 64 * 1024 * 1024,
            media_link_timeout_ms: 30_000,
            media_link_allow_http: false,
            media_link_allow_private: false,
            send_attempts: 3,
            retry_backoff_ms: 200,
            retry_backoff_max_ms: 30_000,
            dispatch_batch: 1024,
            receipt_queue: 65_536,
            receipt_batch: 4096,
            schedule_queue: 65_536,
        }
    }
}

/// Every bound the gateway enforces. Over a limit the caller gets a clear failure
/// (LIME 64/85, HTTP 413/429/503) or a close code; nothing already accepted is lost.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest envelope (WebSocket message) or HTTP body, in bytes.
    pub max_envelope_bytes: usize,
    /// Open WebSocket sessions at once; the next upgrade gets HTTP 503.
    pub max_connections: usize,
    /// Commands of one session being processed at once; the next gets failure 85.
    pub max_inflight_per_session: usize,
    /// Replies and server pings queued for one session; a client that lets it fill up
    /// (does not read) is disconnected with close code 1008.
    pub outbound_queue: usize,
    /// Time from the WebSocket upgrade to `established`.
    pub handshake_timeout_ms: u64,
    /// Time an HTTP `POST /commands` waits for its answer before replying 504.
    pub command_timeout_ms: u64,
    /// A session silent for this long is sent `get /ping`.
    pub idle_ping_ms: u64,
    /// A pinged session that sends nothing for this long is closed.
    pub ping_timeout_ms: u64,
    /// A write to a client that does not complete in this time closes the connection.
    pub write_timeout_ms: u64,
    /// HTTP requests (`POST /commands`, `/messages`, `/notifications`, `/api/v1/…`) being
    /// processed at once on the listener, a command answered 504 but still running included;
    /// the next gets HTTP 503 with `Retry-After`.
    pub max_http_inflight: usize,
    /// Requests and commands of one tenant being processed at once, over both faces (HTTP
    /// requests, WebSocket commands that wait); the next gets HTTP 429 with `Retry-After`,
    /// or LIME failure 85.
    pub max_tenant_inflight: usize,
    /// At shutdown, once the sessions are closed: time each of the dispatcher's workers,
    /// the background tasks (scheduler, claimer, channel timers) and the receipt recorder
    /// may take to finish; what is left then is logged and the process exits.
    pub shutdown_drain_ms: u64,
    /// Server-Sent Event streams (`GET /api/v1/campaigns/{id}/events`) open at once, over all
    /// tenants; the next gets HTTP 503 with `Retry-After`.
    pub max_event_streams: usize,
    /// An event stream with nothing to say sends a keep-alive comment this often.
    pub event_keepalive_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_envelope_bytes: 4 * 1024 * 1024,
            max_connections: 10_000,
            max_inflight_per_session: 256,
            outbound_queue: 1024,
            handshake_timeout_ms: 10_000,
            command_timeout_ms: 60_000,
            idle_ping_ms: 120_000,
            ping_timeout_ms: 30_000,
            write_timeout_ms: 30_000,
            max_http_inflight: 2048,
            max_tenant_inflight: 512,
            shutdown_drain_ms: 10_000,
            max_event_streams: 1000,
            event_keepalive_ms: 15_000,
        }
    }
}

impl Limits {
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }
    pub fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms)
    }
    pub fn idle_ping(&self) -> Duration {
        Duration::from_millis(self.idle_ping_ms)
    }
    pub fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.ping_timeout_ms)
    }
    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
    }
    pub fn shutdown_drain(&self) -> Duration {
        Duration::from_millis(self.shutdown_drain_ms)
    }
}

/// One workspace: a bot identity on the LIME face and API keys on the REST face.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// LIME identity name: the bot is `{identifier}@{domain}`.
    pub identifier: String,
    /// BLiP-style access key (base64 text, compared as given or decoded).
    pub access_key: String,
    /// REST `X-API-Key` values.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Plan features; without `campaigns`, writes are refused (LIME 31, REST 403).
    #[serde(default = "defaults::features")]
    pub features: Vec<String>,
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    #[serde(default)]
    pub templates: Vec<TemplateConfig>,
    /// Commands a second over both faces (WebSocket commands, HTTP commands, REST requests),
    /// with a burst of one second's worth; over it: HTTP 429 with `Retry-After`, LIME 85.
    #[serde(default = "defaults::commands_per_second")]
    pub max_commands_per_second: u32,
    /// Where notifications of the bot's messages go when the session that sent them is gone
    /// (`POST` with `Authorization: Key <the tenant's HTTP key>`).
    #[serde(default)]
    pub notification_url: Option<String>,
    /// Inbound texts that put the sender on the suppression list (compared trimmed, case-,
    /// accent- and space-insensitively); default `SAIR`, `PARAR`, `STOP`, `CANCELAR`, `DESCADASTRAR`.
    #[serde(default)]
    pub opt_out_keywords: Option<Vec<String>>,
    /// Inbound texts that take the sender off it; default `VOLTAR`, `START`.
    #[serde(default)]
    pub opt_in_keywords: Option<Vec<String>>,
    /// Text sent back on the same channel after an opt-out (none by default).
    #[serde(default)]
    pub opt_out_reply: Option<String>,
    /// Where inbound messages are POSTed (the envelope as body, `Authorization: Key …`) while
    /// the bot has no WebSocket session; a 2xx takes a message off the inbox.
    #[serde(default)]
    pub message_url: Option<String>,
    /// Status callbacks declared in the file (`[[tenants.webhooks]]`).
    #[serde(default)]
    pub webhooks: Vec<TenantWebhookConfig>,
    /// The send window of the tenant's campaigns created without one, on both faces
    /// (`{start = "09:00", end = "20:00", days = ["MON", …], timezone = "America/Sao_Paulo"}`);
    /// none: they send any time.
    #[serde(default)]
    pub default_send_window: Option<crate::window::WindowSpec>,
}

/// A configuration that cannot be used, with the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {key}: {message}")]
    Invalid { path: String, key: String, message: String },
}

impl Config {
    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Config::parse(&text).map_err(|(key, message)| ConfigError::Invalid {
            path: path.display().to_string(),
            key,
            message,
        })
    }

    /// Parses and validates TOML text, `"${NAME}"` values read from the process environment;
    /// the error names the key (dotted path) and the problem.
    pub fn parse(text: &str) -> Result<Config, (String, String)> {
        Config::parse_with_env(text, &|name| std::env::var(name).ok())
    }

    /// [`Config::parse`] with the environment given by `lookup`.
    pub fn parse_with_env(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, (String, String)> {
        let mut table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| ("(file)".to_owned(), one_line(&e.to_string())))?;
        env::expand(&mut table, lookup)?;
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." { "(top level)".to_owned() } else { path };
            (key, one_line(&e.into_inner().to_string()))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration used when no file is given: one development workspace with a
    /// simulator channel of each type and a few templates, so that every flow can be tried.
    pub fn development() -> Config {
        let text = include_str!("../../irisgate.example.toml");
        Config::parse(text).expect("the bundled example configuration is valid")
    }
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_is_valid_and_complete() {
        let c = Config::development();
        assert_eq!(c.domain, "msging.net");
        assert!(!c.tenants.is_empty());
        assert!(c.tenants[0].channels.iter().any(|ch| ch.default));
    }

    #[test]
    fn credentials_may_come_from_the_environment() {
        let text = "[[tenants]]\nidentifier = \"a\"\naccess_key = \"${BOT_KEY}\"\napi_keys = [\"${API_KEY}\"]\n";
        let env = |n: &str| match n {
            "BOT_KEY" => Some("c2VjcmV0".to_owned()),
            "API_KEY" => Some("wk_from_env_1".to_owned()),
            _ => None,
        };
        let c = Config::parse_with_env(text, &env).unwrap();
        assert_eq!(c.tenants[0].access_key, "c2VjcmV0");
        assert_eq!(c.tenants[0].api_keys, ["wk_from_env_1"]);
    }

    #[test]
    fn unknown_key_is_named() {
        let (key, msg) = Config::parse("listen = \"127.0.0.1:1\"\nlisen = 3\n").unwrap_err();
        assert!(msg.contains("lisen"), "{key}: {msg}");
    }

    #[test]
    fn a_zero_count_or_duration_is_refused_naming_its_key() {
        for (section, key) in [
            ("outbound", "notify_attempts"),
            ("webhooks", "concurrency"),
            ("idempotency", "ttl_ms"),
            ("idempotency", "lime_max_ids"),
            ("segments", "max_name_chars"),
            ("conversations", "write_queue"),
            ("conversations", "write_batch"),
        ] {
            let (at, msg) = Config::parse(&format!("[{section}]\n{key} = 0\n")).unwrap_err();
            assert_eq!((at.as_str(), msg.as_str()), (format!("{section}.{key}").as_str(), "must be at least 1"));
        }
        Config::parse("[idempotency]\nttl_ms = 1\n[webhooks]\nconcurrency = 1\n").unwrap();
    }

    #[test]
    fn wrong_type_names_the_nested_key() {
        let text = "[[tenants]]\nidentifier = \"a\"\naccess_key = \"c2VjcmV0\"\n[[tenants.channels]]\nid = \"c\"\ntype = \"sms\"\n";
        let (key, msg) = Config::parse(text).unwrap_err();
        assert_eq!(key, "tenants[0].channels[0].type");
        assert!(msg.contains("sms"), "{msg}");
    }
}
