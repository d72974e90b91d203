//! JSON shapes of the campaign extension's replies (activecampaign.md), built from the model.

use serde_json::{json, Map, Value};

use crate::campaign::{Campaign, Counts, Recipient, RecipientStatus};
use crate::datetime::iso;
use crate::reasons::Reasons;

pub const CAMPAIGN: &str = "application/vnd.iris.activecampaign.campaign+json";
pub const SUMMARY: &str = "application/vnd.iris.activecampaign.campaign-summary+json";
pub const AUDIENCE: &str = "application/vnd.iris.activecampaign.audience+json";
pub const MESSAGE: &str = "application/vnd.iris.activecampaign.message+json";
pub const REPORT: &str = "application/vnd.iris.activecampaign.report+json";
pub const AUDIENCE_RESULT: &str = "application/vnd.iris.activecampaign.audience-result+json";

/// Inserts `value` under `key` unless it is `None`.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v.into());
    }
}

/// The Campaign resource.
pub fn campaign(c: &Campaign) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), c.id.to_string().into());
    m.insert("name".into(), c.name.clone().into());
    m.insert("campaignType".into(), c.kind.lime().into());
    put(&mut m, "flowId", c.flow_id.clone());
    put(&mut m, "stateId", c.state_id.clone());
    put(&mut m, "masterState", c.master_state.clone());
    m.insert("channelType".into(), c.channel_type.lime().into());
    put(&mut m, "sourceApplication", c.source_application.clone());
    if !c.tags.is_empty() {
        m.insert("tags".into(), json!(c.tags));
    }
    put(&mut m, "scheduled", c.scheduled.and_then(iso));
    m.insert("status".into(), c.status.lime().into());
    put(&mut m, "created", iso(c.created));
    put(&mut m, "sendDate", iso(c.send_date));
    m.insert("campaignSender".into(), c.sender.clone().into());
    if c.status == crate::campaign::CampaignStatus::Failed {
        put(&mut m, "failedReason", c.failed_reason.clone());
    }
    Value::Object(m)
}

pub fn counts(c: &Counts) -> Value {
    json!({
        "total": c.total, "pending": c.pending, "processed": c.processed,
        "received": c.received, "read": c.read, "failed": c.failed, "replied": c.replied,
    })
}

fn number_status(r: &Recipient) -> &'static str {
    if r.phone == 0 {
        "INVALID"
    } else {
        "VALID"
    }
}

/// Timestamps of the states reached, and the failure reason.
fn progress(m: &mut Map<String, Value>, r: &Recipient, reasons: &Reasons) {
    put(m, "processed", iso(r.processed_at));
    put(m, "received", iso(r.received_at));
    put(m, "read", iso(r.read_at));
    put(m, "failed", iso(r.failed_at));
    if r.status == RecipientStatus::Failed && r.reason != 0 {
        m.insert("reasonCode".into(), r.reason.into());
        m.insert("reasonDescription".into(), reasons.describe(r.reason).into());
    }
}

/// One `statusAudience` entry of summaries and reports.
pub fn status_item(c: &Campaign, r: &Recipient, reasons: &Reasons) -> Value {
    let mut m = Map::new();
    m.insert("recipientIdentity".into(), r.identity(c.channel_type).into());
    m.insert("status".into(), r.status.lime().into());
    progress(&mut m, r, reasons);
    m.insert("numberStatus".into(), number_status(r).into());
    Value::Object(m)
}

/// One item of `get /audiences/{id}`.
pub fn audience_item(c: &Campaign, r: &Recipient, reasons: &Reasons) -> Value {
    let mut m = Map::new();
    m.insert("campaignId".into(), c.id.to_string().into());
    m.insert("recipient".into(), r.given().into());
    m.insert("recipientIdentity".into(), r.identity(c.channel_type).into());
    m.insert("recipientType".into(), "PhoneNumber".into());
    m.insert("channelType".into(), c.channel_type.lime().into());
    m.insert("messageParams".into(), Value::Object(r.params.to_json()));
    m.insert("status".into(), r.status.lime().into());
    m.insert("numberStatus".into(), number_status(r).into());
    if let Some(p) = r.phone() {
        m.insert("validatedAccount".into(), p.to_string().into());
    }
    progress(&mut m, r, reasons);
    Value::Object(m)
}

/// The fields summaries and reports share.
fn overview(c: &Campaign) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), c.id.to_string().into());
    m.insert("name".into(), c.name.clone().into());
    put(&mut m, "messageTemplate", c.message.template.clone());
    put(&mut m, "masterState", c.master_state.clone());
    put(&mut m, "flowId", c.flow_id.clone());
    put(&mut m, "stateId", c.state_id.clone());
    put(&mut m, "sendDate", iso(c.send_date));
    m.insert("status".into(), c.status.lime().into());
    m
}

fn with_audience(
    mut m: Map<String, Value>,
    c: &Campaign,
    counts_: &Counts,
    audience: &[Recipient],
    reasons: &Reasons,
) -> Value {
    m.insert("audienceCounts".into(), counts(counts_));
    m.insert("statusAudience".into(), audience.iter().map(|r| status_item(c, r, reasons)).collect());
    Value::Object(m)
}

/// A campaign summary (commands 6 and 7).
pub fn summary(c: &Campaign, counts_: &Counts, audience: &[Recipient], reasons: &Reasons) -> Value {
    let mut m = overview(c);
    m.insert("channelType".into(), c.channel_type.lime().into());
    with_audience(m, c, counts_, audience, reasons)
}

/// The campaign's message (command 9).
pub fn message(c: &Campaign) -> Value {
    let mut m = Map::new();
    m.insert("channelType".into(), c.channel_type.lime().into());
    put(&mut m, "messageTemplate", c.message.template.clone());
    put(&mut m, "messageTemplateLanguage", c.message.template_language.clone());
    m.insert("messageParams".into(), json!(c.message.param_keys));
    put(&mut m, "messageContent", c.message.content.clone());
    Value::Object(m)
}

/// The report (command 10).
pub fn report(c: &Campaign, counts_: &Counts, audience: &[Recipient], reasons: &Reasons) -> Value {
    let mut m = overview(c);
    put(&mut m, "stateName", c.state_id.clone());
    m.insert("attendanceRedirect".into(), c.attendance_redirect.clone().map_or(Value::Null, Value::String));
    m.insert("campaignSender".into(), c.sender.clone().into());
    with_audience(m, c, counts_, audience, reasons)
}
