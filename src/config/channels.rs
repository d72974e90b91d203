//! The channels and templates of a `[[tenants]]` table: which provider serves a channel and
//! with which keys; a template's text and structure (header, buttons, cards).

use serde::Deserialize;

use crate::campaign::ChannelType;
use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Simulator,
    /// Meta's WhatsApp Cloud API (providers.md).
    WhatsappCloud,
    /// Google's RCS Business Messaging (providers.md).
    GoogleRbm,
}

impl ProviderKind {
    /// As the configuration file and the REST API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Simulator => "simulator",
            ProviderKind::WhatsappCloud => "whatsapp_cloud",
            ProviderKind::GoogleRbm => "google_rbm",
        }
    }
}

/// A channel of a tenant (a WhatsApp number, an RCS agent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub id: String,
    /// `whatsapp` or `google_rcs`.
    #[serde(rename = "type", deserialize_with = "super::conversion::channel_type")]
    pub channel_type: ChannelType,
    #[serde(default = "super::defaults::provider")]
    pub provider: ProviderKind,
    /// The tenant's channel for this type on the LIME face.
    #[serde(default)]
    pub default: bool,
    /// Display name (REST `GET /channels`).
    #[serde(default)]
    pub name: Option<String>,
    /// Simulator: delay before the delivered receipt.
    #[serde(default = "super::defaults::delivered_after_ms")]
    pub delivered_after_ms: u64,
    /// Simulator: delay before the read receipt.
    #[serde(default = "super::defaults::read_after_ms")]
    pub read_after_ms: u64,
    /// Sends per second over all campaigns of this channel (no ceiling when absent).
    #[serde(default)]
    pub max_per_second: Option<u32>,
    /// Simulator only: a file that gets one JSON line per accepted send (`message_id`,
    /// `campaign_id`, `recipient`, `time`), written before the send is acknowledged; a
    /// repeated `message_id` is not written again. For checking exactly-once from outside.
    #[serde(default)]
    pub ledger: Option<std::path::PathBuf>,
    /// WhatsApp Cloud API: the sender number's id.
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// WhatsApp Cloud API: the WhatsApp Business Account whose templates are synced.
    #[serde(default)]
    pub waba_id: Option<String>,
    /// WhatsApp Cloud API: system-user token, sent as Bearer.
    #[serde(default)]
    pub access_token: Option<Secret>,
    /// WhatsApp Cloud API: verifies `X-Hub-Signature-256` of webhooks.
    #[serde(default)]
    pub app_secret: Option<Secret>,
    /// WhatsApp Cloud API: the webhook subscription handshake's token.
    #[serde(default)]
    pub verify_token: Option<Secret>,
    /// Provider API base URL (default: the provider's public one; tests point it at loopback).
    #[serde(default)]
    pub api_base: Option<String>,
    /// WhatsApp Cloud API: time between two template syncs (default 900,000).
    #[serde(default)]
    pub template_sync_ms: Option<u64>,
    /// Google RBM: the agent's id.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Google RBM: the service-account JSON key file.
    #[serde(default)]
    pub service_account_key: Option<std::path::PathBuf>,
    /// Google RBM: webhook verification and `X-Goog-Signature` key.
    #[serde(default)]
    pub client_token: Option<Secret>,
}

/// A message template registered on a channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    pub id: String,
    /// Id of the channel the template belongs to.
    pub channel: String,
    pub name: String,
    #[serde(default = "super::defaults::language")]
    pub language: String,
    #[serde(default = "super::defaults::template_status")]
    pub status: String,
    #[serde(default)]
    pub category: Option<String>,
    /// The header's kind: `none`, `text`, `image`, `video` or `document` (a media header
    /// takes one parameter, its link). Any other value is the header's text, as before these
    /// keywords existed (its `{{n}}` count as parameters).
    #[serde(default)]
    pub header: Option<String>,
    /// The text of a `header = "text"` header.
    #[serde(default)]
    pub header_text: Option<String>,
    #[serde(default)]
    pub body: String,
    /// The template's buttons in order (of each card, in a carousel).
    #[serde(default)]
    pub buttons: Vec<ButtonConfig>,
    /// Cards of a carousel template: each has the `header`, `card_body` and `buttons` above.
    #[serde(default)]
    pub cards: usize,
    /// The body text of each carousel card (its `{{n}}` are parameters of every card).
    #[serde(default)]
    pub card_body: Option<String>,
    /// `positional` (`{{1}}`, the default) or `named` (`{{first_name}}`).
    #[serde(default)]
    pub parameter_format: Option<String>,
    /// Number of parameters, overriding the count from the structure above (header, body,
    /// buttons, cards) for templates whose structure is not described.
    #[serde(default)]
    pub parameters: Option<usize>,
}

/// One button of a `[[tenants.templates]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonConfig {
    /// `url`, `quick_reply` or `copy_code`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A URL button whose URL suffix each message fills (one parameter).
    #[serde(default)]
    pub dynamic: bool,
    /// The button's label (a quick-reply button's payload).
    #[serde(default)]
    pub text: Option<String>,
}
