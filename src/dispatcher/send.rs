//! Send and record: the one way a batch goes out. Its messages are marked SENDING (unless a
//! crash left them so), paced when the campaign or its channel has a ceiling, handed to the
//! channel with retries, and what came back is recorded with the contacts and contexts a
//! send leaves behind.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::handle::Signals;
use super::pacing::{wait_for_window, window_open, Pacing};
use super::prepare::Plan;
use super::transmit::{ready, transmit};
use super::Inner;
use crate::campaign::{Campaign, CampaignStatus, Recipient, RecipientStatus};
use crate::channel::{Channel, Outbound, SendResult};
use crate::contact::{ContactPatch, ContextWrite};
use crate::error::{Error, Result};
use crate::store::Outcome;

/// Messages ready to go out, in seq order.
pub(super) struct Batch {
    pub(super) messages: Vec<(Recipient, Outbound)>,
    pub(super) marked: Marked,
}

/// Where a batch's recipients stand before it goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marked {
    /// PENDING: marked SENDING here, keeping only those no other node took first.
    Pending,
    /// Already SENDING: a crash lost their outcome and they go again with the same id.
    Sending,
}

/// Whether the run goes on after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Go,
    /// Cancelled or stopped: what went out is recorded, nothing more is sent.
    Stop,
}

/// A message and what the provider finally said about it.
pub(super) type Sent = (Recipient, Outbound, SendResult);

/// Sends a run's batches, one after the other, through its channel.
pub(super) struct Outbox<'a> {
    inner: &'a Inner,
    plan: &'a Plan,
    channel: &'a dyn Channel,
    /// `None`: neither the campaign nor its channel has a ceiling.
    pacing: Option<Pacing>,
    /// Sent but not recorded yet: written while the next batch is read and sent, so that
    /// the store works on both at once. Every one of them was SENDING before it left, so a
    /// crash meanwhile loses nothing.
    behind: Vec<Sent>,
    /// Set when the channel said no recipient of the campaign can be sent (its template was
    /// paused or disabled): the reason code and why, for the campaign to fail with.
    halted: Option<(u32, String)>,
}

impl<'a> Outbox<'a> {
    pub(super) fn new(inner: &'a Inner, plan: &'a Plan, channel: &'a dyn Channel) -> Outbox<'a> {
        let pacing = Pacing::of(inner, plan, channel);
        Outbox { inner, plan, channel, pacing, behind: Vec::new(), halted: None }
    }

    /// Reads a batch with `next` and sends it, while what the previous one sent is recorded.
    /// `None`: `next` found nothing left.
    pub(super) async fn send(
        &mut self,
        signals: &mut Signals,
        next: impl Future<Output = Result<Option<Batch>>>,
    ) -> Result<Option<Flow>> {
        let behind = std::mem::take(&mut self.behind);
        let this = &*self;
        let first = async {
            let Some(batch) = next.await? else { return Ok(None) };
            let size = this.group_size(&batch);
            let mut rest = batch.messages.into_iter();
            let group: Vec<_> = rest.by_ref().take(size).collect();
            let (sent, flow) = this.out(signals, group, batch.marked).await?;
            Ok::<_, Error>(Some((rest, batch.marked, size, sent, flow)))
        };
        let (first, recorded) = tokio::join!(first, record(this.inner, this.plan, behind));
        recorded?;
        let Some((mut rest, marked, size, mut sent, mut flow)) = first? else { return Ok(None) };
        let mut halted = halt(&sent, &mut flow);
        while flow == Flow::Go && !rest.as_slice().is_empty() {
            let group: Vec<_> = rest.by_ref().take(size).collect();
            let previous = std::mem::take(&mut sent);
            let (out, recorded) =
                tokio::join!(this.out(signals, group, marked), record(this.inner, this.plan, previous));
            recorded?;
            (sent, flow) = out?;
            halted = halt(&sent, &mut flow);
        }
        self.behind = sent;
        if halted.is_some() {
            self.halted = halted;
        }
        Ok(Some(flow))
    }

    /// Why the campaign cannot go on, when a send said so (the run stopped).
    pub(super) fn halted(&self) -> Option<(u32, String)> {
        self.halted.clone()
    }

    /// Waits while paused, with what went out recorded first; false when the run must stop.
    pub(super) async fn proceed(&mut self, signals: &mut Signals) -> Result<bool> {
        if signals.is_paused() {
            self.flush().await?;
        }
        Ok(signals.proceed().await)
    }

    /// Records what went out and is not recorded yet.
    pub(super) async fn flush(&mut self) -> Result<()> {
        record(self.inner, self.plan, std::mem::take(&mut self.behind)).await
    }

    /// How many messages are marked SENDING together. Unpaced: the whole batch. Paced sends
    /// go one by one, but their writes are grouped: the messages of the next ~100 ms are
    /// marked SENDING together and their outcomes recorded together. Only on channels that
    /// deduplicate by id: a crash then re-sends the marked ones harmlessly.
    fn group_size(&self, batch: &Batch) -> usize {
        match &self.pacing {
            None => batch.messages.len().max(1),
            Some(p) if batch.marked == Marked::Pending && self.channel.deduplicates() => p.lookahead(),
            Some(_) => 1,
        }
    }

    /// Marks a group SENDING (unless it is) and hands it to the channel, one by one in its
    /// slots when paced. A paced group is marked when its first message's turn has come, so
    /// that a stop while waiting for it leaves nothing SENDING that was not sent; a stop
    /// further into the group leaves the rest SENDING only on a channel that deduplicates,
    /// where a re-send after a restart is harmless.
    async fn out(
        &self,
        signals: &mut Signals,
        group: Vec<(Recipient, Outbound)>,
        marked: Marked,
    ) -> Result<(Vec<Sent>, Flow)> {
        if group.is_empty() {
            return Ok((Vec::new(), Flow::Go));
        }
        // Paced sends look at the window before each send (in `turn`), the others here: a
        // batch never starts outside it.
        if self.pacing.is_none() && !self.in_window(signals).await? {
            return Ok((Vec::new(), Flow::Stop));
        }
        if !ready(self.channel, signals).await {
            return Ok((Vec::new(), Flow::Stop));
        }
        if let Some(pacing) = &self.pacing {
            if !self.turn(pacing, signals, &mut Vec::new()).await? {
                return Ok((Vec::new(), Flow::Stop));
            }
        }
        let group = match marked {
            Marked::Pending => claim(self.inner, self.plan.campaign.id, group).await?,
            Marked::Sending => group,
        };
        link_ahead(self.inner, self.channel, self.plan.campaign.id, &group).await?;
        let Some(pacing) = &self.pacing else {
            if group.is_empty() {
                return Ok((Vec::new(), Flow::Go));
            }
            return Ok((transmit(self.inner, self.plan, self.channel, signals, group).await, Flow::Go));
        };
        let mut sent = Vec::with_capacity(group.len());
        for (i, message) in group.into_iter().enumerate() {
            if i > 0 && !self.turn(pacing, signals, &mut sent).await? {
                return Ok((sent, Flow::Stop));
            }
            sent.extend(transmit(self.inner, self.plan, self.channel, signals, vec![message]).await);
        }
        Ok((sent, Flow::Go))
    }

    /// Waits for the next paced send's turn: while paused (what went out in this group
    /// recorded first), then for a slot; a pause or cancel that comes while waiting for the
    /// slot wins over the send, and after a pause a fresh slot is taken, so there is no
    /// burst. False when the run must stop.
    async fn turn(&self, pacing: &Pacing, signals: &mut Signals, sent: &mut Vec<Sent>) -> Result<bool> {
        let started = Instant::now();
        loop {
            if signals.is_paused() && !sent.is_empty() {
                record(self.inner, self.plan, std::mem::take(sent)).await?;
            }
            if !signals.proceed().await {
                return Ok(false);
            }
            if pacing.acquire(self.inner, self.plan, self.channel, signals).await? {
                if window_open(self.inner, self.plan) {
                    break;
                }
                // Outside the window: what went out recorded first, and after the wait a
                // fresh slot, so the opening brings no burst.
                record(self.inner, self.plan, std::mem::take(sent)).await?;
                wait_for_window(self.inner, self.plan, signals).await;
            }
        }
        if started.elapsed() >= RECHECK_AFTER {
            return still_running(self.inner, self.plan).await;
        }
        Ok(true)
    }

    /// Waits, while paused and while the send window is closed, until a batch may start;
    /// false when the run must stop.
    async fn in_window(&self, signals: &mut Signals) -> Result<bool> {
        let started = Instant::now();
        loop {
            if !signals.proceed().await {
                return Ok(false);
            }
            if window_open(self.inner, self.plan) {
                break;
            }
            wait_for_window(self.inner, self.plan, signals).await;
        }
        if started.elapsed() >= RECHECK_AFTER {
            return still_running(self.inner, self.plan).await;
        }
        Ok(true)
    }
}

/// A wait at least this long is followed by a read of the campaign's status: a pause or
/// cancel through another node reaches this one's dispatcher only with its next lease
/// claim (a third of the lease later), and at a send a second or slower one read per send
/// costs nothing.
const RECHECK_AFTER: Duration = Duration::from_secs(1);

/// Whether the campaign is still RUNNING in the store (false: stop sending here).
pub(super) async fn still_running(inner: &Inner, plan: &Plan) -> Result<bool> {
    let campaign = inner.store.campaign(plan.tenant(), plan.campaign.id).await?;
    let running = campaign.as_ref().is_some_and(|c| c.status == CampaignStatus::Running);
    if !running {
        tracing::info!(campaign = %plan.campaign.id, "no longer running: the worker stops");
    }
    Ok(running)
}

/// The reason of a send that holds for the whole campaign (the run then stops).
fn halt(sent: &[Sent], flow: &mut Flow) -> Option<(u32, String)> {
    let found = sent.iter().find_map(|(_, _, result)| match result {
        SendResult::FailedAll { code, description } => Some((*code, description.clone())),
        _ => None,
    });
    if found.is_some() {
        *flow = Flow::Stop;
    }
    found
}

/// Records the messages SENDING before they leave (so a crash cannot lose track of them) and
/// keeps only those this node moved (another node may have claimed some first).
async fn claim(
    inner: &Inner,
    campaign: uuid::Uuid,
    ready: Vec<(Recipient, Outbound)>,
) -> Result<Vec<(Recipient, Outbound)>> {
    let seqs: Vec<u32> = ready.iter().map(|(r, _)| r.seq).collect();
    let moved: HashSet<u32> = inner.store.mark_sending(campaign, &seqs, inner.clock.now()).await?.into_iter().collect();
    Ok(ready.into_iter().filter(|(r, _)| moved.contains(&r.seq)).collect())
}

/// Links the provider ids a channel knows before sending (see [`Channel::provider_id`]), so
/// that a receipt faster than the recording of the send's outcome is not dropped as unknown.
async fn link_ahead(
    inner: &Inner,
    channel: &dyn Channel,
    campaign: uuid::Uuid,
    group: &[(Recipient, Outbound)],
) -> Result<()> {
    for (r, m) in group {
        if let Some(id) = channel.provider_id(m) {
            inner.store.link_message_id(&id, campaign, r.seq).await?;
        }
    }
    Ok(())
}

/// Records what was sent: outcomes, then the contacts and contexts a send leaves behind.
async fn record(inner: &Inner, plan: &Plan, sent: Vec<Sent>) -> Result<()> {
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
            SendResult::Failed { code, description } | SendResult::FailedAll { code, description } => {
                inner.reasons.remember(code, &description);
                outcomes.push(Outcome { seq: r.seq, status: RecipientStatus::Failed, at, reason: code });
            }
            SendResult::Transient(why) | SendResult::Later { why, .. } | SendResult::Down(why) => {
                return Err(Error::Internal(format!("unresolved transient result for {}: {why}", m.message_id)));
            }
        }
    }
    inner.store.record_sent(plan.tenant(), campaign.id, &outcomes, patches, contexts).await
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
