//! Message preparation: from a campaign and its recipients to the messages a channel takes,
//! and the recipients that fail before anything is sent.

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use super::send::{Batch, Marked};
use super::Inner;
use crate::campaign::{Campaign, CampaignStatus, Recipient, RecipientStatus};
use crate::catalog::{replace_placeholders, ChannelDef, TemplateDef};
use crate::channel::Outbound;
use crate::error::Result;
use crate::reasons;
use crate::store::Outcome;

/// What a worker needs to build each recipient's message.
pub(super) struct Plan {
    pub(super) campaign: Campaign,
    pub(super) channel: ChannelDef,
    pub(super) template: Option<Arc<TemplateDef>>,
}

/// What loading a campaign's plan found.
pub(super) enum Load {
    Ready(Box<Plan>),
    /// Deleted or no longer RUNNING: nothing to do.
    Gone,
    /// It can never be sent: its recipients and itself fail with this reason.
    Unsendable {
        reason: u32,
        why: String,
    },
}

impl Plan {
    pub(super) fn tenant(&self) -> &str {
        &self.campaign.tenant
    }

    /// The campaign with its channel and (approved) template, read once per run.
    pub(super) async fn load(inner: &Inner, tenant: &str, id: Uuid) -> Result<Load> {
        let store = &inner.store;
        let Some(campaign) = store.campaign(tenant, id).await? else { return Ok(Load::Gone) };
        if campaign.status != CampaignStatus::Running {
            // Paused, cancelled or finished between the start and now.
            return Ok(Load::Gone);
        }
        let channels = store.channels(tenant).await?;
        let Some(channel) = channels.into_iter().find(|c| c.id == campaign.channel_id) else {
            let why = format!("The channel {} no longer exists", campaign.channel_id);
            return Ok(Load::Unsendable { reason: reasons::CHANNEL_UNAVAILABLE, why });
        };
        let template = match &campaign.message.template {
            Some(name) => {
                let mut templates: Vec<TemplateDef> = store.templates(tenant).await?;
                templates.retain(|t| t.name == *name && t.channel_id == channel.id);
                // Synced templates come in one row per language: the campaign's first.
                let language = campaign.message.template_language.as_deref();
                templates
                    .sort_by_key(|t| (language.is_some_and(|l| !t.language.eq_ignore_ascii_case(l)), !t.is_approved()));
                match templates.into_iter().next() {
                    Some(t) if t.is_approved() => Some(Arc::new(t)),
                    _ => {
                        let why = format!("Template \"{name}\" not found or not approved");
                        return Ok(Load::Unsendable { reason: reasons::TEMPLATE_NOT_APPROVED, why });
                    }
                }
            }
            None => None,
        };
        Ok(Load::Ready(Box::new(Plan { campaign, channel, template })))
    }
}

/// The next PENDING recipients from `cursor` on, prepared, with the cursor after them.
/// `None`: none left.
pub(super) async fn next_batch(inner: &Inner, plan: &Plan, cursor: u32) -> Result<Option<(u32, Batch)>> {
    let pending = inner.store.pending(plan.campaign.id, cursor, inner.settings.dispatch_batch).await?;
    let Some(last) = pending.last() else { return Ok(None) };
    let after = last.seq + 1;
    Ok(Some((after, batch(inner, plan, pending, Marked::Pending).await?)))
}

/// Prepares `recipients`: those that fail before sending are recorded here, the others are
/// returned ready.
pub(super) async fn batch(inner: &Inner, plan: &Plan, recipients: Vec<Recipient>, marked: Marked) -> Result<Batch> {
    let (messages, failed) = prepare(inner, plan, recipients).await?;
    if !failed.is_empty() {
        inner.store.record_outcomes(plan.campaign.id, &failed).await?;
    }
    Ok(Batch { messages, marked })
}

/// Splits recipients into messages to send and recipients that fail before sending
/// (1001 invalid number, 1008 opted out, 1602 open conversation, 1004 missing parameter).
async fn prepare(
    inner: &Inner,
    plan: &Plan,
    batch: Vec<Recipient>,
) -> Result<(Vec<(Recipient, Outbound)>, Vec<Outcome>)> {
    let campaign = &plan.campaign;
    let open: HashSet<u64> = if campaign.allow_open_ticket {
        HashSet::new()
    } else {
        let phones: Vec<u64> = batch.iter().filter(|r| r.phone != 0).map(|r| r.phone).collect();
        inner.store.open_conversations(plan.tenant(), &phones).await?.into_iter().collect()
    };
    let phones: Vec<u64> = batch.iter().filter(|r| r.phone != 0).map(|r| r.phone).collect();
    let suppressed: HashSet<u64> = inner.store.suppressed_among(plan.tenant(), &phones).await?.into_iter().collect();
    let at = inner.clock.now();
    let mut ready = Vec::with_capacity(batch.len());
    let mut outcomes = Vec::new();
    for r in batch {
        let fail = |reason| Outcome { seq: r.seq, status: RecipientStatus::Failed, at, reason };
        let Some(phone) = r.phone() else {
            outcomes.push(fail(reasons::INVALID_PHONE));
            continue;
        };
        if suppressed.contains(&r.phone) {
            outcomes.push(fail(reasons::OPTED_OUT));
            continue;
        }
        if open.contains(&r.phone) {
            outcomes.push(fail(reasons::IN_ATTENDANCE));
            continue;
        }
        let Some((parameters, text)) = render(plan, &r) else {
            outcomes.push(fail(reasons::MISSING_PARAMETER));
            continue;
        };
        let message = Outbound {
            message_id: r.message_id(campaign.id),
            campaign: campaign.id,
            seq: r.seq,
            phone,
            identity: r.identity(plan.channel.channel_type),
            template: campaign.message.template.clone().map(|t| (t, campaign.message.template_language.clone())),
            template_def: plan.template.clone(),
            parameters,
            text,
            conversation: None,
        };
        ready.push((r, message));
    }
    Ok((ready, outcomes))
}

/// Template parameter values in position order and the rendered text; `None` when a
/// parameter the message needs is missing.
fn render(plan: &Plan, r: &Recipient) -> Option<(Vec<String>, Option<String>)> {
    let message = &plan.campaign.message;
    let keys: Vec<String> = if message.param_keys.is_empty() {
        match &plan.template {
            Some(t) => (1..=t.parameters).map(|n| n.to_string()).collect(),
            None => r.params.iter().map(|(k, _)| k.to_owned()).collect(),
        }
    } else {
        message.param_keys.clone()
    };
    let mut values = Vec::with_capacity(keys.len());
    for k in &keys {
        values.push(r.params.get(k)?.to_owned());
    }
    let text = match (&message.content, &plan.template) {
        (Some(content), _) => {
            let mut missing = false;
            let text = replace_placeholders(content, |name| {
                let v = r.params.get(name).map(str::to_owned);
                missing |= v.is_none();
                v
            });
            if missing {
                return None;
            }
            Some(text)
        }
        (None, Some(t)) => {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            Some(t.render(&refs))
        }
        (None, None) => None,
    };
    Some((values, text))
}
