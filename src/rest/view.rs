//! JSON shapes of the REST face (snake_case, as the seed writes them).

use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::campaign::{Campaign, CampaignStatus, Counts, Recipient, RecipientStatus};
use crate::catalog::{ChannelDef, CustomFieldDef, FieldType, TagDef, TemplateDef};
use crate::channel::Health;
use crate::contact::Contact;
use crate::datetime::iso;
use crate::phone::Phone;
use crate::reasons::Reasons;
use crate::spec::{MessageType, RestSpec};
use crate::window::WindowSpec;

/// A campaign as `/api/v1/campaigns` shows it (LIME-created ones included).
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// TEXT or TEMPLATE.
    pub message_type: String,
    #[schema(value_type = Option<Object>)]
    pub content: Option<Value>,
    pub template_id: Option<String>,
    pub channel_id: String,
    #[schema(value_type = Option<Object>)]
    pub filters: Option<Value>,
    /// The saved segment whose filters the audience is frozen from at start (instead of
    /// `filters`).
    pub segment_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub rate_limit_per_minute: Option<u32>,
    pub scheduled_at: Option<String>,
    /// When it may send (`null`: any time).
    pub send_window: Option<WindowSpec>,
    /// RUNNING but outside its send window: nothing is sent until `next_window_at`.
    pub waiting_for_window: bool,
    /// The next opening of its send window, in the window's zone (`null`: open now, or no window).
    pub next_window_at: Option<String>,
    /// DRAFT, SCHEDULED, RUNNING, PAUSED, COMPLETED, CANCELLED or FAILED.
    pub status: String,
    pub failed_reason: Option<String>,
    pub total_contacts: u64,
    /// `rest` or `lime`: the face that created it.
    pub origin: String,
    pub created_at: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    pub campaign_id: String,
    pub status: String,
    pub total_contacts: u64,
    pub pending: u64,
    pub sent: u64,
    pub delivered: u64,
    pub read: u64,
    pub failed: u64,
    /// Recipients who answered within `conversations.reply_window_ms` (each once; they are
    /// also counted in their status).
    pub replied: u64,
    /// (sent + delivered + read) over processed, 0–100, two decimals.
    pub success_rate: f64,
    /// Processed over total, 0–100, two decimals.
    pub progress: f64,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub estimated_completion_at: Option<String>,
    /// RUNNING but outside its send window: nothing is sent until `next_window_at`.
    pub waiting_for_window: bool,
    /// The next opening of its send window, in the window's zone (`2026-12-28T09:00:00-03:00`);
    /// `null` while it is open or when the campaign has no window.
    pub next_window_at: Option<String>,
}

/// Whether a campaign waits for its window at `now`, and the window's next opening (read from
/// the stored window and the clock, so it holds across a restart with nothing else kept).
fn window_state(c: &Campaign, now: i64) -> (bool, Option<String>) {
    let Some(w) = c.send_window.as_ref().filter(|_| !c.status.is_final()) else { return (false, None) };
    let next = w.next_open_iso(now);
    (c.status == CampaignStatus::Running && next.is_some(), next)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub contact_id: Option<String>,
    pub phone: String,
    /// PENDING, SENT, DELIVERED, READ or FAILED.
    pub status: String,
    pub content: Option<String>,
    pub error_code: Option<u32>,
    pub error_message: Option<String>,
    pub sent_at: Option<String>,
    pub delivered_at: Option<String>,
    pub read_at: Option<String>,
    pub failed_at: Option<String>,
    /// Sends tried (1, and one more per retry that took this recipient back).
    pub attempts: u32,
    /// A retried recipient's first failure (null for one never retried).
    pub previous_reason_code: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
    pub last_interaction_at: Option<String>,
    pub has_open_conversation: bool,
    /// When the person went on the suppression list (null when not on it).
    pub opted_out_at: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TagView {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    /// `whatsapp` or `google_rcs`.
    #[serde(rename = "type")]
    pub channel_type: String,
    pub provider: String,
    pub default: bool,
    /// `ok`, or `error` while the provider refuses the channel's credentials.
    pub status: String,
    /// The provider's message, while `status` is `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    pub max_per_second: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: String,
    pub name: String,
    pub language: String,
    pub channel_id: String,
    pub category: Option<String>,
    pub status: String,
    #[schema(value_type = Option<Object>)]
    pub header: Option<Value>,
    pub body: String,
    #[schema(value_type = Option<Object>)]
    pub buttons: Option<Value>,
    /// Number of variables `{{1}}…{{n}}`.
    pub variables: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomFieldView {
    pub id: String,
    pub name: String,
    pub key: String,
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub field_type: FieldType,
    pub is_required: bool,
    pub is_visible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A campaign as the REST face shows it; `spec` is its REST part (`None`: made on the LIME
/// face, whose template id is looked up in `templates`), `total_contacts` its recipients.
pub fn campaign(
    c: &Campaign,
    spec: Option<&RestSpec>,
    total_contacts: u64,
    templates: &[TemplateDef],
    now: i64,
) -> CampaignView {
    let (waiting_for_window, next_window_at) = window_state(c, now);
    let (message_type, content, template_id) = match spec {
        Some(s) => (
            s.message_type.unwrap_or(MessageType::Text),
            s.content.as_ref().map(|x| serde_json::to_value(x).expect("plain data")),
            s.template_id.clone(),
        ),
        None => match &c.message.template {
            Some(name) => (
                MessageType::Template,
                None,
                templates.iter().find(|t| &t.name == name && t.channel_id == c.channel_id).map(|t| t.id.clone()),
            ),
            None => (
                MessageType::Text,
                c.message.content.as_ref().map(|b| json!({"type": "text", "text": {"body": b}})),
                None,
            ),
        },
    };
    CampaignView {
        id: c.id.to_string(),
        name: c.name.clone(),
        description: spec.and_then(|s| s.description.clone()),
        message_type: serde_json::to_value(message_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        content,
        template_id,
        channel_id: c.channel_id.clone(),
        filters: spec.and_then(|s| s.filters.as_ref()).map(|f| serde_json::to_value(f).expect("plain data")),
        segment_id: spec.and_then(|s| s.segment_id).map(|id| id.to_string()),
        metadata: spec.and_then(|s| s.metadata.clone()).map(Value::Object),
        rate_limit_per_minute: c.rate_limit_per_minute,
        scheduled_at: c.scheduled.and_then(iso),
        send_window: c.send_window.clone().map(WindowSpec::from),
        waiting_for_window,
        next_window_at,
        status: c.status.rest().into(),
        failed_reason: c.failed_reason.clone(),
        total_contacts,
        origin: if spec.is_some() { "rest".into() } else { "lime".into() },
        created_at: iso(c.created),
        started_at: iso(c.send_date),
        completed_at: iso(c.completed_at),
    }
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn stats(c: &Campaign, counts: &Counts, now: i64) -> StatsView {
    let processed = counts.processed + counts.received + counts.read + counts.failed;
    let ok = counts.processed + counts.received + counts.read;
    let success_rate = if processed == 0 { 0.0 } else { round2(ok as f64 * 100.0 / processed as f64) };
    let progress = if counts.total == 0 { 0.0 } else { round2(processed as f64 * 100.0 / counts.total as f64) };
    let estimated = match c.status {
        CampaignStatus::Running if counts.pending > 0 => {
            let per_send_ms = match c.rate_limit_per_minute {
                Some(r) if r > 0 => 60_000.0 / r as f64,
                _ if processed > 0 && c.send_date > 0 => (now - c.send_date).max(1) as f64 / processed as f64,
                _ => 0.0,
            };
            iso(now + (per_send_ms * counts.pending as f64) as i64)
        }
        _ => None,
    };
    let (waiting_for_window, next_window_at) = window_state(c, now);
    StatsView {
        campaign_id: c.id.to_string(),
        status: c.status.rest().into(),
        total_contacts: counts.total,
        pending: counts.pending,
        sent: counts.processed,
        delivered: counts.received,
        read: counts.read,
        failed: counts.failed,
        replied: counts.replied,
        success_rate,
        progress,
        started_at: iso(c.send_date),
        completed_at: iso(c.completed_at),
        estimated_completion_at: estimated,
        waiting_for_window,
        next_window_at,
    }
}

pub fn message(r: &Recipient, content: Option<String>, message_id: String, reasons: &Reasons) -> MessageView {
    let failed = r.status == RecipientStatus::Failed;
    MessageView {
        id: message_id,
        contact_id: r.contact_id().map(str::to_owned),
        phone: r.phone().map(|p| p.to_string()).unwrap_or_else(|| r.given()),
        status: r.status.rest().into(),
        content,
        error_code: (failed && r.reason != 0).then_some(r.reason),
        error_message: (failed && r.reason != 0).then(|| reasons.describe(r.reason).into_owned()),
        sent_at: iso(r.processed_at),
        delivered_at: iso(r.received_at),
        read_at: iso(r.read_at),
        failed_at: iso(r.failed_at),
        attempts: r.attempts(),
        previous_reason_code: (r.first_reason != 0).then_some(r.first_reason),
    }
}

pub fn contact(c: &Contact) -> ContactView {
    ContactView {
        id: c.id.clone(),
        name: c.name.clone(),
        email: c.email.clone(),
        phone: c.phone.and_then(Phone::from_u64).map(|p| p.to_string()),
        tags: c.tags.clone(),
        custom_fields: c.extras.clone(),
        last_interaction_at: iso(c.last_interaction_at),
        has_open_conversation: c.has_open_conversation,
        opted_out_at: None,
        created_at: iso(c.created),
        updated_at: iso(c.updated),
    }
}

pub fn tag(t: &TagDef) -> TagView {
    TagView { id: t.id.clone(), name: t.name.clone(), color: t.color.clone() }
}

/// A channel with its health (`Ready` for one that has not sent yet).
pub fn channel(c: &ChannelDef, health: Health) -> ChannelView {
    let (status, status_message) = match health {
        Health::Ready => ("ok".to_owned(), None),
        Health::Down(why) => ("error".to_owned(), Some(why)),
    };
    ChannelView {
        id: c.id.clone(),
        name: c.name.clone(),
        channel_type: match c.channel_type {
            crate::campaign::ChannelType::WhatsApp => "whatsapp".into(),
            crate::campaign::ChannelType::GoogleRcs => "google_rcs".into(),
        },
        provider: c.provider.clone(),
        default: c.default,
        status,
        status_message,
        max_per_second: c.max_per_second,
    }
}

pub fn template(t: &TemplateDef) -> TemplateView {
    let header = match (&t.header_type, &t.header) {
        (None, None) => None,
        (kind, text) => {
            let mut m = Map::new();
            m.insert("type".into(), kind.clone().unwrap_or_else(|| "text".into()).into());
            if let Some(text) = text {
                m.insert("text".into(), text.clone().into());
            }
            Some(Value::Object(m))
        }
    };
    TemplateView {
        id: t.id.clone(),
        name: t.name.clone(),
        language: t.language.clone(),
        channel_id: t.channel_id.clone(),
        category: t.category.clone(),
        status: t.status.to_string(),
        header,
        body: t.body.clone(),
        buttons: t.buttons.clone(),
        variables: t.parameters,
    }
}

pub fn custom_field(f: &CustomFieldDef) -> CustomFieldView {
    CustomFieldView {
        id: f.id.clone(),
        name: f.name.clone(),
        key: f.key.clone(),
        field_type: f.field_type,
        is_required: f.is_required,
        is_visible: f.is_visible,
        description: f.description.clone(),
    }
}
