//! The campaign model shared by both faces: campaigns, their kinds, channel types and states.
//! Recipients are in [`crate::recipient`] (re-exported here).
//!
//! One model, two vocabularies: the LIME face shows `new`/`processing`, the REST face
//! `DRAFT`/`RUNNING`. The mapping lives here and nowhere else.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::recipient::{
    message_id, parse_message_id, split_given, Counts, NewRecipient, Params, Recipient, RecipientExtra, RecipientStatus,
};

/// Milliseconds since the Unix epoch; 0 means "not reached".
pub type Millis = i64;

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChannelType {
    WhatsApp,
    GoogleRcs,
}

impl ChannelType {
    /// `WHATSAPP` / `GOOGLERCS`, as LIME responses spell it.
    pub fn lime(self) -> &'static str {
        match self {
            ChannelType::WhatsApp => "WHATSAPP",
            ChannelType::GoogleRcs => "GOOGLERCS",
        }
    }

    /// Domain of recipient identities on this channel.
    pub fn identity_domain(self) -> &'static str {
        match self {
            ChannelType::WhatsApp => "wa.gw.msging.net",
            ChannelType::GoogleRcs => "googlercs.gw.msging.net",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CampaignKind {
    Individual,
    Batch,
}

impl CampaignKind {
    pub fn lime(self) -> &'static str {
        match self {
            CampaignKind::Individual => "INDIVIDUAL",
            CampaignKind::Batch => "BATCH",
        }
    }
}

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CampaignStatus {
    /// Created, audience may still change (`new` / DRAFT).
    Draft,
    /// Waiting for its scheduled time (`scheduling` / SCHEDULED).
    Scheduled,
    /// Sending (`processing` / RUNNING).
    Running,
    /// Sending stopped by the REST face until resumed (`processing` / PAUSED).
    Paused,
    /// No recipient is PENDING any more (`executed` / COMPLETED).
    Completed,
    /// Campaign-level failure, see `failed_reason` (`failed` / FAILED).
    Failed,
    /// Stopped for good; unsent recipients stay PENDING (`canceled` / CANCELLED).
    Cancelled,
}

impl CampaignStatus {
    pub fn lime(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "new",
            CampaignStatus::Scheduled => "scheduling",
            CampaignStatus::Running | CampaignStatus::Paused => "processing",
            CampaignStatus::Completed => "executed",
            CampaignStatus::Failed => "failed",
            CampaignStatus::Cancelled => "canceled",
        }
    }

    pub fn rest(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "DRAFT",
            CampaignStatus::Scheduled => "SCHEDULED",
            CampaignStatus::Running => "RUNNING",
            CampaignStatus::Paused => "PAUSED",
            CampaignStatus::Completed => "COMPLETED",
            CampaignStatus::Failed => "FAILED",
            CampaignStatus::Cancelled => "CANCELLED",
        }
    }

    /// Parses either vocabulary, case-insensitively (`processing` means Running or Paused).
    pub fn parse_any(s: &str) -> Option<Vec<CampaignStatus>> {
        use CampaignStatus::*;
        Some(match s.to_ascii_lowercase().as_str() {
            "new" | "draft" => vec![Draft],
            "scheduling" | "scheduled" => vec![Scheduled],
            "processing" => vec![Running, Paused],
            "running" => vec![Running],
            "paused" => vec![Paused],
            "executed" | "completed" => vec![Completed],
            "failed" => vec![Failed],
            "canceled" | "cancelled" => vec![Cancelled],
            _ => return None,
        })
    }

    /// No more sending will ever happen.
    pub fn is_final(self) -> bool {
        matches!(self, CampaignStatus::Completed | CampaignStatus::Failed | CampaignStatus::Cancelled)
    }
}

/// The message a campaign sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageSpec {
    /// WhatsApp template name.
    pub template: Option<String>,
    pub template_language: Option<String>,
    /// Ordered parameter keys: position n of the template takes each recipient's value of
    /// `param_keys[n-1]`.
    pub param_keys: Vec<String>,
    /// Free text (Google RCS, REST TEXT campaigns); may hold `{{key}}` placeholders.
    pub content: Option<String>,
}

/// A campaign, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: Uuid,
    pub tenant: String,
    pub name: String,
    pub kind: CampaignKind,
    pub channel_type: ChannelType,
    /// The tenant channel it sends through.
    pub channel_id: String,
    pub flow_id: Option<String>,
    pub state_id: Option<String>,
    pub master_state: Option<String>,
    /// Agent a reply is redirected to (BLiP's attendance redirect), when given.
    #[serde(default)]
    pub attendance_redirect: Option<String>,
    pub source_application: Option<String>,
    pub tags: Vec<String>,
    /// Start time; `None` = start on dispatch.
    pub scheduled: Option<Millis>,
    pub status: CampaignStatus,
    pub created: Millis,
    /// When sending started (0 = not yet).
    pub send_date: Millis,
    /// When the last recipient left PENDING or the campaign stopped (0 = not yet).
    pub completed_at: Millis,
    /// Identity of the bot or workspace that created it.
    pub sender: String,
    pub failed_reason: Option<String>,
    pub message: MessageSpec,
    /// Sends per minute at most (`None` = only the channel's ceiling applies).
    pub rate_limit_per_minute: Option<u32>,
    /// Send even to contacts with an open conversation (else they fail with 1602).
    pub allow_open_ticket: bool,
    /// Extra fields of the REST face (description, filters, template id, mapping), kept as JSON.
    pub rest: Option<serde_json::Value>,
    /// Retries that moved failed recipients back to PENDING: a worker that started before
    /// the latest one does not complete the campaign (the worker after it does).
    #[serde(default)]
    pub retried: u32,
    /// When it may send (local hours and days in a time zone); `None` = any time.
    #[serde(default)]
    pub send_window: Option<crate::window::SendWindow>,
}
