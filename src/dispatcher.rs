//! The dispatcher: one worker task per running campaign, sending each PENDING recipient once,
//! in insertion order, through the campaign's channel, at most at its rate ceiling.
//!
//! [`Dispatcher`] is the handle (start, pause, resume, cancel); the workers stop on their own
//! cancel token or the process's shutdown token, whichever comes first.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::campaign::{message_id, Campaign, CampaignStatus, Recipient, RecipientStatus};
use crate::catalog::{replace_placeholders, ChannelDef, TemplateDef};
use crate::channel::{Channel, Channels, Outbound, SendResult};
use crate::clock::Clock;
use crate::config::{CampaignSettings, SendingRecovery};
use crate::contact::{ContactPatch, ContextWrite};
use crate::error::{Error, Result};
use crate::limiter::Pacer;
use crate::reasons;
use crate::store::{Outcome, Store};

/// Handle to the running campaigns. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    channels: Channels,
    clock: Clock,
    settings: CampaignSettings,
    running: DashMap<Uuid, Run>,
    /// One shared pacer per channel with a throughput ceiling.
    channel_pacers: DashMap<(String, String), Pacer>,
    /// What to do with SENDING recipients found after a crash on non-deduplicating channels.
    recovery: SendingRecovery,
    shutdown: CancellationToken,
    /// The engine's table of provider reason titles.
    reasons: Arc<reasons::Reasons>,
}

struct Run {
    paused: watch::Sender<bool>,
    cancel: CancellationToken,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        channels: Channels,
        clock: Clock,
        settings: CampaignSettings,
        recovery: SendingRecovery,
        shutdown: CancellationToken,
        reasons: Arc<reasons::Reasons>,
    ) -> Dispatcher {
        Dispatcher(Arc::new(Inner {
            store,
            channels,
            clock,
            settings,
            running: DashMap::new(),
            channel_pacers: DashMap::new(),
            recovery,
            shutdown,
            reasons,
        }))
    }

    /// Campaigns this node is sending right now.
    pub fn running(&self) -> Vec<Uuid> {
        self.0.running.iter().map(|e| *e.key()).collect()
    }

    /// Starts sending a RUNNING campaign (no-op if a worker already runs it).
    pub fn start(&self, tenant: &str, id: Uuid) {
        let entry = self.0.running.entry(id);
        if let dashmap::Entry::Occupied(_) = entry {
            return;
        }
        let (paused, paused_rx) = watch::channel(false);
        let cancel = self.0.shutdown.child_token();
        entry.insert(Run { paused, cancel: cancel.clone() });
        let inner = self.0.clone();
        let tenant = tenant.to_owned();
        tokio::spawn(async move {
            if let Err(e) = run(&inner, &tenant, id, paused_rx, &cancel).await {
                tracing::error!(campaign = %id, error = %e, "dispatch stopped by an error");
            }
            inner.running.remove(&id);
        });
    }

    /// Stops new sends within one send interval (the worker waits, keeping its place).
    pub fn pause(&self, id: Uuid) {
        if let Some(run) = self.0.running.get(&id) {
            run.paused.send_replace(true);
        }
    }

    /// Continues a paused campaign from its first PENDING recipient.
    pub fn resume(&self, tenant: &str, id: Uuid) {
        match self.0.running.get(&id) {
            Some(run) => {
                run.paused.send_replace(false);
            }
            None => self.start(tenant, id),
        }
    }

    /// Stops a campaign for good.
    pub fn cancel(&self, id: Uuid) {
        if let Some((_, run)) = self.0.running.remove(&id) {
            run.cancel.cancel();
        }
    }

    /// Stops sending here without changing the campaign (its lease went elsewhere, or it
    /// is no longer running).
    pub fn stop(&self, id: Uuid) {
        if let Some((_, run)) = self.0.running.remove(&id) {
            run.cancel.cancel();
        }
    }

    pub fn is_running(&self, id: Uuid) -> bool {
        self.0.running.contains_key(&id)
    }
}

/// Waits while paused; false when the run must stop.
async fn proceed(paused: &mut watch::Receiver<bool>, cancel: &CancellationToken) -> bool {
    if cancel.is_cancelled() {
        return false;
    }
    if !*paused.borrow() {
        return true;
    }
    tokio::select! {
        _ = cancel.cancelled() => false,
        r = paused.wait_for(|p| !*p) => r.is_ok() && !cancel.is_cancelled(),
    }
}

/// What the worker needs to build each recipient's message.
struct Plan {
    campaign: Campaign,
    template: Option<TemplateDef>,
}

async fn run(
    inner: &Inner,
    tenant: &str,
    id: Uuid,
    mut paused: watch::Receiver<bool>,
    cancel: &CancellationToken,
) -> Result<()> {
    let store = &inner.store;
    let Some(campaign) = store.campaign(tenant, id).await? else { return Ok(()) };
    let channels = store.channels(tenant).await?;
    let Some(def) = channels.iter().find(|c| c.id == campaign.channel_id).cloned() else {
        return fail_campaign(
            inner,
            tenant,
            id,
            reasons::CHANNEL_UNAVAILABLE,
            &format!("The channel {} no longer exists", campaign.channel_id),
        )
        .await;
    };
    let template = match &campaign.message.template {
        Some(name) => {
            let templates = store.templates(tenant).await?;
            let found = templates.into_iter().find(|t| t.name == *name && t.channel_id == def.id);
            match found {
                Some(t) if t.is_approved() => Some(t),
                _ => {
                    let why = format!("Template \"{name}\" not found or not approved");
                    return fail_campaign(inner, tenant, id, reasons::TEMPLATE_NOT_APPROVED, &why).await;
                }
            }
        }
        None => None,
    };
    let plan = Plan { campaign, template };
    let channel = inner.channels.get(tenant, &def);
    let campaign_pacer = plan.campaign.rate_limit_per_minute.map(Pacer::per_minute);
    let channel_pacer = channel.max_per_second().map(|n| {
        inner.channel_pacers.entry((tenant.to_owned(), def.id.clone())).or_insert_with(|| Pacer::per_second(n)).clone()
    });
    let paced = campaign_pacer.is_some() || channel_pacer.is_some();
    let pacing = Pacing { campaign: campaign_pacer, channel: channel_pacer, channel_id: def.id.clone() };
    // Recipients a crash left in SENDING go first, with the message id they had.
    let stranded = store.sending(id).await?;
    if !stranded.is_empty() {
        if channel.deduplicates() || inner.recovery == SendingRecovery::Resend {
            tracing::info!(campaign = %id, count = stranded.len(), "re-sending recipients whose outcome a restart lost");
            let (ready, outcomes) = prepare(inner, tenant, &plan, &def, stranded).await?;
            store.record_outcomes(id, &outcomes).await?;
            if !deliver(inner, tenant, &plan, channel.as_ref(), &pacing, paced, ready, &mut paused, cancel, true)
                .await?
            {
                return Ok(());
            }
        } else {
            tracing::warn!(campaign = %id, count = stranded.len(), "failing recipients whose outcome a restart lost");
            let at = inner.clock.now();
            let outcomes: Vec<Outcome> = stranded
                .iter()
                .map(|r| Outcome { seq: r.seq, status: RecipientStatus::Failed, at, reason: reasons::OUTCOME_UNKNOWN })
                .collect();
            store.record_outcomes(id, &outcomes).await?;
        }
    }
    let mut cursor = 0u32;
    if paced {
        loop {
            if !proceed(&mut paused, cancel).await {
                return Ok(());
            }
            let Some((after, ready)) = next_batch(inner, tenant, &plan, &def, cursor).await? else { break };
            cursor = after;
            if !deliver(inner, tenant, &plan, channel.as_ref(), &pacing, true, ready, &mut paused, cancel, false)
                .await?
            {
                return Ok(());
            }
        }
    } else {
        // Unpaced sends run as a two-stage pipeline: while batch N's outcomes, contacts and
        // contexts are written, batch N+1 is read, claimed (SENDING) and sent. Sends stay in
        // order and every message is SENDING before it leaves, so a crash loses nothing.
        let mut behind: Vec<Sent> = Vec::new();
        loop {
            if !proceed(&mut paused, cancel).await {
                record(inner, tenant, &plan, behind).await?;
                return Ok(());
            }
            let next = async {
                let Some((after, ready)) = next_batch(inner, tenant, &plan, &def, cursor).await? else {
                    return Ok(None);
                };
                let claimed = if ready.is_empty() { ready } else { claim(inner, id, ready).await? };
                let sent =
                    if claimed.is_empty() { Vec::new() } else { transmit(inner, channel.as_ref(), claimed).await };
                Ok::<_, Error>(Some((after, sent)))
            };
            let (next, recorded) = tokio::join!(next, record(inner, tenant, &plan, std::mem::take(&mut behind)));
            recorded?;
            let Some((after, sent)) = next? else { break };
            cursor = after;
            behind = sent;
        }
    }
    if cancel.is_cancelled() {
        return Ok(());
    }
    let now = inner.clock.now();
    store
        .update_campaign(tenant, id, &mut |c| {
            if c.status == CampaignStatus::Running {
                c.status = CampaignStatus::Completed;
                c.completed_at = now;
            }
            Ok(())
        })
        .await?;
    tracing::info!(campaign = %id, "campaign completed");
    Ok(())
}

/// The next PENDING recipients from `cursor` on, split: those that fail before sending are
/// recorded here; the rest are returned ready, with the cursor after them. `None`: none left.
async fn next_batch(
    inner: &Inner,
    tenant: &str,
    plan: &Plan,
    def: &ChannelDef,
    cursor: u32,
) -> Result<Option<(u32, Vec<(Recipient, Outbound)>)>> {
    let id = plan.campaign.id;
    let batch = inner.store.pending(id, cursor, inner.settings.dispatch_batch).await?;
    let Some(last) = batch.last() else { return Ok(None) };
    let after = last.seq + 1;
    let (ready, outcomes) = prepare(inner, tenant, plan, def, batch).await?;
    if !outcomes.is_empty() {
        inner.store.record_outcomes(id, &outcomes).await?;
    }
    Ok(Some((after, ready)))
}

/// The pacers of a run: the campaign's own ceiling and its channel's shared one.
struct Pacing {
    campaign: Option<Pacer>,
    channel: Option<Pacer>,
    channel_id: String,
}

impl Pacing {
    /// The time between two sends under both ceilings.
    fn interval(&self) -> Duration {
        let a = self.campaign.as_ref().map_or(Duration::ZERO, Pacer::interval);
        let b = self.channel.as_ref().map_or(Duration::ZERO, Pacer::interval);
        a.max(b)
    }

    /// Waits for a slot of both ceilings. The channel's is reserved in the store when several
    /// nodes share it, so that the ceiling holds across them.
    async fn acquire(&self, inner: &Inner, tenant: &str) -> Result<()> {
        if let Some(p) = &self.campaign {
            p.acquire().await;
        }
        if let Some(p) = &self.channel {
            let interval = p.interval().as_millis().max(1) as i64;
            match inner.store.reserve_slot(tenant, &self.channel_id, inner.clock.now(), interval).await? {
                Some(slot) => tokio::time::sleep_until(inner.clock.instant_at(slot)).await,
                None => p.acquire().await,
            }
        }
        Ok(())
    }
}

/// Marks the messages SENDING (unless they already are) and sends them, paced one by one or
/// as one batch. False when a cancel stopped it.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    inner: &Inner,
    tenant: &str,
    plan: &Plan,
    channel: &dyn Channel,
    pacing: &Pacing,
    paced: bool,
    ready: Vec<(Recipient, Outbound)>,
    paused: &mut watch::Receiver<bool>,
    cancel: &CancellationToken,
    already_sending: bool,
) -> Result<bool> {
    let id = plan.campaign.id;
    if paced {
        // Paced sends go one by one, but their writes are grouped: the messages of the next
        // ~100 ms are marked SENDING together and their outcomes recorded together. Only on
        // channels that deduplicate by id: a crash then re-sends the marked ones harmlessly.
        let lookahead = if already_sending || !channel.deduplicates() {
            1
        } else {
            (Duration::from_millis(100).as_micros() / pacing.interval().as_micros().max(1)).clamp(1, 256) as usize
        };
        let mut ready = ready.into_iter().peekable();
        while ready.peek().is_some() {
            let group: Vec<_> = ready.by_ref().take(lookahead).collect();
            let group = if already_sending { group } else { claim(inner, id, group).await? };
            let mut sent = Vec::with_capacity(group.len());
            for message in group {
                let go = loop {
                    if *paused.borrow() && !sent.is_empty() {
                        // Paused mid-group: what went out is recorded before waiting.
                        record(inner, tenant, plan, std::mem::take(&mut sent)).await?;
                    }
                    if !proceed(paused, cancel).await {
                        break false;
                    }
                    pacing.acquire(inner, tenant).await?;
                    // A pause or cancel that came while waiting for the slot wins over the
                    // send; after a pause a fresh slot is taken, so there is no burst.
                    if cancel.is_cancelled() {
                        break false;
                    }
                    if !*paused.borrow() {
                        break true;
                    }
                };
                if !go {
                    record(inner, tenant, plan, sent).await?;
                    return Ok(false);
                }
                sent.extend(transmit(inner, channel, vec![message]).await);
            }
            record(inner, tenant, plan, sent).await?;
        }
    } else if !ready.is_empty() {
        let batch = if already_sending { ready } else { claim(inner, id, ready).await? };
        if !batch.is_empty() {
            send(inner, tenant, plan, channel, batch).await?;
        }
    }
    Ok(true)
}

/// Records the messages SENDING before they leave (so a crash cannot lose track of them) and
/// keeps only those this node moved (another node may have claimed some first).
async fn claim(inner: &Inner, campaign: Uuid, ready: Vec<(Recipient, Outbound)>) -> Result<Vec<(Recipient, Outbound)>> {
    let seqs: Vec<u32> = ready.iter().map(|(r, _)| r.seq).collect();
    let moved: HashSet<u32> = inner.store.mark_sending(campaign, &seqs, inner.clock.now()).await?.into_iter().collect();
    Ok(ready.into_iter().filter(|(r, _)| moved.contains(&r.seq)).collect())
}

/// Fails every PENDING recipient with `reason` and the campaign with `why`.
async fn fail_campaign(inner: &Inner, tenant: &str, id: Uuid, reason: u32, why: &str) -> Result<()> {
    let store = &inner.store;
    let mut cursor = 0;
    loop {
        let batch = store.pending(id, cursor, 4096).await?;
        let Some(last) = batch.last() else { break };
        cursor = last.seq + 1;
        let at = inner.clock.now();
        let outcomes: Vec<Outcome> =
            batch.iter().map(|r| Outcome { seq: r.seq, status: RecipientStatus::Failed, at, reason }).collect();
        store.record_outcomes(id, &outcomes).await?;
    }
    let now = inner.clock.now();
    store
        .update_campaign(tenant, id, &mut |c| {
            c.status = CampaignStatus::Failed;
            c.failed_reason = Some(why.to_owned());
            c.completed_at = now;
            Ok(())
        })
        .await?;
    tracing::warn!(campaign = %id, reason = why, "campaign failed");
    Ok(())
}

/// Splits a batch into messages to send and recipients that fail before sending
/// (1001 invalid number, 1602 open conversation, 1004 missing parameter).
async fn prepare(
    inner: &Inner,
    tenant: &str,
    plan: &Plan,
    def: &ChannelDef,
    batch: Vec<Recipient>,
) -> Result<(Vec<(Recipient, Outbound)>, Vec<Outcome>)> {
    let campaign = &plan.campaign;
    let open: HashSet<u64> = if campaign.allow_open_ticket {
        HashSet::new()
    } else {
        let phones: Vec<u64> = batch.iter().filter(|r| r.phone != 0).map(|r| r.phone).collect();
        inner.store.open_conversations(tenant, &phones).await?.into_iter().collect()
    };
    let at = inner.clock.now();
    let mut ready = Vec::with_capacity(batch.len());
    let mut outcomes = Vec::new();
    for r in batch {
        let fail = |reason| Outcome { seq: r.seq, status: RecipientStatus::Failed, at, reason };
        let Some(phone) = r.phone() else {
            outcomes.push(fail(reasons::INVALID_PHONE));
            continue;
        };
        if open.contains(&r.phone) {
            outcomes.push(fail(reasons::IN_ATTENDANCE));
            continue;
        }
        let Some((parameters, text)) = render(plan, &r) else {
            outcomes.push(fail(reasons::MISSING_PARAMETER));
            continue;
        };
        let message = Outbound {
            message_id: message_id(campaign.id, r.seq),
            campaign: campaign.id,
            seq: r.seq,
            phone,
            identity: r.identity(def.channel_type),
            template: campaign.message.template.clone().map(|t| (t, campaign.message.template_language.clone())),
            parameters,
            text,
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

/// Sends, retries transient failures with backoff, records outcomes and side effects.
async fn send(
    inner: &Inner,
    tenant: &str,
    plan: &Plan,
    channel: &dyn Channel,
    batch: Vec<(Recipient, Outbound)>,
) -> Result<()> {
    let sent = transmit(inner, channel, batch).await;
    record(inner, tenant, plan, sent).await
}

/// A message and what the provider finally said about it.
type Sent = (Recipient, Outbound, SendResult);

/// Hands a batch to the channel, retrying transient failures with backoff.
async fn transmit(inner: &Inner, channel: &dyn Channel, batch: Vec<(Recipient, Outbound)>) -> Vec<Sent> {
    let (recipients, messages): (Vec<Recipient>, Vec<Outbound>) = batch.into_iter().unzip();
    let mut results: Vec<Option<SendResult>> = vec![None; messages.len()];
    let mut pending: Vec<usize> = (0..messages.len()).collect();
    let mut backoff = Duration::from_millis(inner.settings.retry_backoff_ms);
    for attempt in 1..=inner.settings.send_attempts {
        let to_send: Vec<Outbound> = pending.iter().map(|&i| messages[i].clone()).collect();
        let got = channel.send(&to_send).await;
        let mut still = Vec::new();
        for (&i, result) in pending.iter().zip(got) {
            match result {
                SendResult::Transient(why) if attempt < inner.settings.send_attempts => {
                    tracing::debug!(message = %messages[i].message_id, attempt, why, "transient send failure, will retry");
                    still.push(i);
                }
                SendResult::Transient(why) => {
                    tracing::warn!(message = %messages[i].message_id, why, "send failed after every attempt");
                    results[i] = Some(SendResult::Failed { code: reasons::PROVIDER_UNAVAILABLE, description: why });
                }
                other => results[i] = Some(other),
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
    recipients
        .into_iter()
        .zip(messages)
        .zip(results)
        .map(|((r, m), result)| {
            let result = result.unwrap_or_else(|| SendResult::Failed {
                code: reasons::PROVIDER_UNAVAILABLE,
                description: "The channel gave no answer".into(),
            });
            (r, m, result)
        })
        .collect()
}

/// Records what was sent: outcomes, then the contacts and contexts a send leaves behind.
async fn record(inner: &Inner, tenant: &str, plan: &Plan, sent: Vec<Sent>) -> Result<()> {
    if sent.is_empty() {
        return Ok(());
    }
    let campaign = &plan.campaign;
    let at = inner.clock.now();
    let mut outcomes = Vec::with_capacity(sent.len());
    let mut patches = Vec::new();
    let mut contexts = Vec::new();
    for (r, m, result) in sent {
        match result {
            SendResult::Accepted { provider_id } => {
                if provider_id != m.message_id {
                    inner.store.link_message_id(&provider_id, campaign.id, r.seq).await?;
                }
                outcomes.push(Outcome { seq: r.seq, status: RecipientStatus::Processed, at, reason: 0 });
                let (patch, context) = side_effects(campaign, &r, m.identity);
                patches.push(patch);
                if let Some(c) = context {
                    contexts.push(c);
                }
            }
            SendResult::Failed { code, description } => {
                inner.reasons.remember(code, &description);
                outcomes.push(Outcome { seq: r.seq, status: RecipientStatus::Failed, at, reason: code });
            }
            SendResult::Transient(why) => {
                return Err(Error::Internal(format!("unresolved transient result for {}: {why}", m.message_id)));
            }
        }
    }
    inner.store.record_sent(tenant, campaign.id, &outcomes, patches, contexts).await
}

/// What a send leaves behind: parameters merged into the contact's extras; context
/// variables, and the flow redirect (`stateid@{flowId}`, `master-state`) in its context.
fn side_effects(campaign: &Campaign, r: &Recipient, identity: String) -> (ContactPatch, Option<ContextWrite>) {
    // The BLiP rule (message parameters become contact extras) is the LIME face's: a REST
    // campaign's parameters were read from the contact and must not be written back.
    let from_rest = campaign.rest.is_some();
    let patch = ContactPatch {
        identity: Some(identity.clone()),
        phone: Some(r.phone),
        merge_extras: if from_rest {
            Vec::new()
        } else {
            r.params.iter().map(|(k, v)| (k.to_owned(), Value::String(v.to_owned()))).collect()
        },
        ..ContactPatch::default()
    };
    let mut variables: Vec<(String, Value)> = Vec::new();
    if let Some(text) = r.context() {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
            variables.extend(map);
        }
    }
    if let (Some(flow), Some(state)) = (&campaign.flow_id, &campaign.state_id) {
        variables.push((format!("stateid@{flow}"), Value::String(state.clone())));
        if let Some(master) = &campaign.master_state {
            variables.push(("master-state".to_owned(), Value::String(master.clone())));
        }
    }
    let context = (!variables.is_empty()).then_some(ContextWrite { identity, variables });
    (patch, context)
}
