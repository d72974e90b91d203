//! The sender: one tracked task that hands accepted bot messages to their channels in
//! acceptance order, with the campaigns' crash-safe protocol — a message is SENDING (with the
//! provider id when the channel knows it beforehand) before the provider is called, and what
//! a crash left SENDING is re-sent on channels that drop repeated ids, or handled as
//! `storage.sending_recovery` says on the others (WhatsApp), before anything new goes out.
//!
//! Per-person order: a batch is sent in waves, each holding at most one message per person,
//! a wave (retries included) done before the next.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{FreeForm, OutboundChange, OutboundMessage, OutboundStatus, Outbox, Shared};
use crate::catalog::ChannelDef;
use crate::channel::{Channel, Health, Outbound, SendResult};
use crate::config::SendingRecovery;
use crate::error::Result;
use crate::phone::Phone;
use crate::reasons;

/// Wait after a store error before the sender tries again, and between looks at a channel
/// that is down.
const PAUSE: Duration = Duration::from_secs(1);

pub(super) async fn run(outbox: Outbox, shutdown: CancellationToken) {
    let s = &*outbox.0;
    while let Err(e) = recover(s, &shutdown).await {
        tracing::warn!(error = %e, "bot messages left SENDING by a crash not reconciled yet; retrying");
        if pause(&shutdown, PAUSE).await {
            return;
        }
    }
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let batch = match s.store.outbound_in(OutboundStatus::Accepted, i64::MIN, s.settings.batch).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "accepted bot messages cannot be read; retrying");
                if pause(&shutdown, PAUSE).await {
                    return;
                }
                continue;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = s.wake.notified() => {}
                // Messages another node accepted (a shared PostgreSQL) are found this way.
                _ = tokio::time::sleep(PAUSE) => {}
            }
            continue;
        }
        if let Err(e) = send(s, batch, true, &shutdown).await {
            tracing::warn!(error = %e, "bot messages not sent yet; retrying");
            if pause(&shutdown, PAUSE).await {
                return;
            }
        }
    }
}

/// True when the shutdown came first.
async fn pause(shutdown: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// What a crash left SENDING: re-sent with the same id where the channel drops repeats,
/// else per `storage.sending_recovery` (by default failed 1007: it may or may not have left).
async fn recover(s: &Shared, shutdown: &CancellationToken) -> Result<()> {
    let mut after = i64::MIN;
    loop {
        let batch = s.store.outbound_in(OutboundStatus::Sending, after, s.settings.batch).await?;
        let Some(last) = batch.last() else { return Ok(()) };
        after = last.seq;
        tracing::info!(messages = batch.len(), "bot messages left SENDING by a crash: reconciling");
        let mut resend = Vec::new();
        let mut failed = Vec::new();
        let mut defs = Defs::default();
        for m in batch {
            let channel = defs.get(s, &m.tenant, &m.channel).await?.map(|d| s.channels.get(&m.tenant, &d));
            match channel {
                Some(c) if c.deduplicates() || s.recovery == SendingRecovery::Resend => resend.push(m),
                _ => failed.push(OutboundChange {
                    key: m.key,
                    status: OutboundStatus::Failed,
                    reason: reasons::OUTCOME_UNKNOWN,
                    description: Some(
                        "The send's outcome was lost in a crash (storage.sending_recovery = fail)".into(),
                    ),
                    provider_id: None,
                }),
            }
        }
        let moved = s.store.move_outbound(&failed).await?;
        s.notifier.moved(&moved);
        send(s, resend, false, shutdown).await?;
    }
}

/// The channel definitions of a batch, read once per tenant.
#[derive(Default)]
struct Defs(HashMap<String, Vec<ChannelDef>>);

impl Defs {
    async fn get(&mut self, s: &Shared, tenant: &str, id: &str) -> Result<Option<ChannelDef>> {
        if !self.0.contains_key(tenant) {
            self.0.insert(tenant.to_owned(), s.store.channels(tenant).await?);
        }
        Ok(self.0[tenant].iter().find(|c| c.id == id).cloned())
    }
}

/// Sends `batch` (in acceptance order) wave by wave. `claim`: the messages are ACCEPTED and
/// are marked SENDING first (keeping those no other node took); otherwise they are SENDING
/// already (a crash's leftovers).
async fn send(s: &Shared, batch: Vec<OutboundMessage>, claim: bool, shutdown: &CancellationToken) -> Result<()> {
    let mut waves: Vec<Vec<OutboundMessage>> = Vec::new();
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for m in batch {
        let wave = seen.entry(m.phone).or_insert(0);
        if waves.len() <= *wave {
            waves.push(Vec::new());
        }
        waves[*wave].push(m);
        *wave += 1;
    }
    let mut defs = Defs::default();
    for wave in waves {
        let mut groups: Vec<((String, String), Vec<OutboundMessage>)> = Vec::new();
        for m in wave {
            let key = (m.tenant.clone(), m.channel.clone());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, g)) => g.push(m),
                None => groups.push((key, vec![m])),
            }
        }
        for ((tenant, channel), group) in groups {
            let Some(def) = defs.get(s, &tenant, &channel).await? else {
                let changes: Vec<OutboundChange> = group
                    .into_iter()
                    .map(|m| {
                        failure(m.key, reasons::CHANNEL_UNAVAILABLE, "The message's channel is no longer configured")
                    })
                    .collect();
                if claim {
                    release(s, changes.len());
                }
                let moved = s.store.move_outbound(&changes).await?;
                s.notifier.moved(&moved);
                continue;
            };
            let channel = s.channels.get(&tenant, &def);
            send_group(s, &*channel, &def, group, claim, shutdown).await?;
            if shutdown.is_cancelled() {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn failure(key: String, code: u32, description: &str) -> OutboundChange {
    OutboundChange {
        key,
        status: OutboundStatus::Failed,
        reason: code,
        description: Some(description.into()),
        provider_id: None,
    }
}

/// `n` messages left the queue of accepted ones.
pub(super) fn release(s: &Shared, n: usize) {
    let _ = s.queued.fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| Some(q.saturating_sub(n)));
}

async fn send_group(
    s: &Shared,
    channel: &dyn Channel,
    def: &ChannelDef,
    group: Vec<OutboundMessage>,
    claim: bool,
    shutdown: &CancellationToken,
) -> Result<()> {
    if group.is_empty() {
        return Ok(());
    }
    let mut ready = Vec::with_capacity(group.len());
    // A person on the suppression list gets nothing: failed 1008 (conversations.md).
    let phones: Vec<u64> = group.iter().map(|m| m.phone).collect();
    let suppressed: std::collections::HashSet<u64> =
        s.store.suppressed_among(&group[0].tenant, &phones).await?.into_iter().collect();
    // The 24 h window of free-form WhatsApp messages: the people's last messages, one read.
    let asked: Vec<String> = match def.channel_type {
        crate::campaign::ChannelType::WhatsApp => {
            group.iter().filter(|m| m.content.is_free_form()).map(|m| m.to.clone()).collect()
        }
        _ => Vec::new(),
    };
    let contacts = s.store.contacts_of(&group[0].tenant, &asked).await?;
    let mut opted_out = Vec::new();
    for m in group {
        if suppressed.contains(&m.phone) {
            opted_out.push(failure(m.key.clone(), reasons::OPTED_OUT, "Recipient opted out"));
            continue;
        }
        let last_inbound = contacts.get(&m.to).map(|c| c.last_interaction_at).filter(|at| *at > 0);
        let Some(phone) = Phone::from_u64(m.phone) else { continue };
        let text = match &m.content {
            super::Content::Text { text } => Some(text.clone()),
            _ => None,
        };
        let outbound = Outbound {
            message_id: m.key.clone(),
            campaign: uuid::Uuid::nil(),
            seq: 0,
            phone,
            identity: m.to.clone(),
            template: None,
            template_def: None,
            parameters: Vec::new(),
            text,
            conversation: Some(Arc::new(FreeForm { content: m.content.clone(), last_inbound })),
        };
        ready.push((m, outbound));
    }
    if !opted_out.is_empty() {
        let moved = s.store.move_outbound(&opted_out).await?;
        if claim {
            release(s, moved.len());
        }
        s.notifier.moved(&moved);
    }
    if claim {
        // SENDING before the provider is called, with the provider id when it is known now
        // (a receipt faster than the recording of the outcome still finds the message).
        let changes: Vec<OutboundChange> = ready
            .iter()
            .map(|(m, o)| OutboundChange {
                key: m.key.clone(),
                status: OutboundStatus::Sending,
                reason: 0,
                description: None,
                provider_id: channel.provider_id(o),
            })
            .collect();
        let moved: std::collections::HashSet<String> =
            s.store.move_outbound(&changes).await?.into_iter().map(|mv| mv.message.key).collect();
        release(s, moved.len());
        ready.retain(|(m, _)| moved.contains(&m.key));
    }
    if ready.is_empty() {
        return Ok(());
    }
    let messages: Vec<Outbound> = ready.iter().map(|(_, o)| o.clone()).collect();
    let results = transmit(s, channel, &messages, shutdown).await;
    let mut changes = Vec::with_capacity(ready.len());
    for ((m, _), result) in ready.into_iter().zip(results) {
        match result {
            Some(SendResult::Accepted { provider_id }) => changes.push(OutboundChange {
                key: m.key,
                status: OutboundStatus::Dispatched,
                reason: 0,
                description: None,
                provider_id: Some(provider_id),
            }),
            Some(SendResult::Failed { code, description } | SendResult::FailedAll { code, description }) => {
                changes.push(failure(m.key, code, &description))
            }
            // Left SENDING (shut down while the channel was down): reconciled at the next start.
            _ => {}
        }
    }
    let moved = s.store.move_outbound(&changes).await?;
    s.notifier.moved(&moved);
    Ok(())
}

/// Hands messages to the channel, retrying transient failures with capped, jittered backoff
/// (`campaigns.send_attempts`, `retry_backoff_ms`, `retry_backoff_max_ms`) and waiting while
/// the channel is down. `None`: not sent when the shutdown came (left SENDING).
async fn transmit(
    s: &Shared,
    channel: &dyn Channel,
    messages: &[Outbound],
    shutdown: &CancellationToken,
) -> Vec<Option<SendResult>> {
    let mut results: Vec<Option<SendResult>> = vec![None; messages.len()];
    let mut pending: Vec<usize> = (0..messages.len()).collect();
    let mut backoff = Duration::from_millis(s.sends.retry_backoff_ms);
    let cap = Duration::from_millis(s.sends.retry_backoff_max_ms);
    let mut attempt = 1;
    while !pending.is_empty() {
        while let Health::Down(_) = channel.health() {
            if pause(shutdown, PAUSE).await {
                return results;
            }
        }
        let batch: Vec<Outbound> = pending.iter().map(|&i| messages[i].clone()).collect();
        let got = channel.send(&batch).await;
        let last = attempt >= s.sends.send_attempts;
        let (mut still, mut wait, mut down) = (Vec::new(), Duration::ZERO, false);
        for (&i, result) in pending.iter().zip(got) {
            match result {
                SendResult::Down(_) => {
                    down = true;
                    still.push(i);
                }
                SendResult::Transient(why) | SendResult::Later { why, .. } if last => {
                    results[i] = Some(SendResult::Failed { code: reasons::PROVIDER_UNAVAILABLE, description: why });
                }
                SendResult::Transient(_) => still.push(i),
                SendResult::Later { after, .. } => {
                    wait = wait.max(after);
                    still.push(i);
                }
                other => results[i] = Some(other),
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if down {
            if pause(shutdown, PAUSE).await {
                return results;
            }
            continue;
        }
        if pause(shutdown, wait.max(crate::dispatcher::jittered(backoff))).await {
            return results;
        }
        backoff = (backoff * 2).min(cap);
        attempt += 1;
    }
    results
}
