//! One campaign's worker: recipients a crash left in SENDING first, then the PENDING ones
//! batch by batch, then the campaign COMPLETED (or FAILED when it can never be sent).

use uuid::Uuid;

use super::handle::Signals;
use super::prepare::{self, Load, Plan};
use super::send::{self, Flow, Marked, Outbox};
use super::Inner;
use crate::campaign::{CampaignStatus, RecipientStatus};
use crate::config::SendingRecovery;
use crate::error::Result;
use crate::reasons;
use crate::store::Outcome;

pub(super) async fn run(inner: &Inner, tenant: &str, id: Uuid, mut signals: Signals) -> Result<()> {
    let plan = match Plan::load(inner, tenant, id).await? {
        Load::Ready(plan) => plan,
        Load::Gone => return Ok(()),
        Load::Unsendable { reason, why } => return fail_campaign(inner, tenant, id, reason, &why).await,
    };
    let channel = inner.channels.get(tenant, &plan.channel);
    let mut outbox = Outbox::new(inner, &plan, channel.as_ref());
    // Recipients a crash left in SENDING go first, with the message id they had.
    let stranded = inner.store.sending(id).await?;
    if !stranded.is_empty() {
        if channel.deduplicates() || inner.recovery == SendingRecovery::Resend {
            tracing::info!(campaign = %id, count = stranded.len(), "re-sending recipients whose outcome a restart lost");
            let next = async { prepare::batch(inner, &plan, stranded, Marked::Sending).await.map(Some) };
            if outbox.send(&mut signals, next).await? == Some(Flow::Stop) {
                return stopped(inner, tenant, id, &mut outbox).await;
            }
        } else {
            tracing::warn!(campaign = %id, count = stranded.len(), "failing recipients whose outcome a restart lost");
            let at = inner.clock.now();
            let outcomes: Vec<Outcome> = stranded
                .iter()
                .map(|r| Outcome { seq: r.seq, status: RecipientStatus::Failed, at, reason: reasons::OUTCOME_UNKNOWN })
                .collect();
            inner.store.record_outcomes(id, &outcomes).await?;
        }
    }
    let mut cursor = 0u32;
    loop {
        let woken = signals.is_paused();
        if !outbox.proceed(&mut signals).await? {
            return outbox.flush().await;
        }
        if woken && !send::still_running(inner, &plan).await? {
            return outbox.flush().await;
        }
        let next = async {
            let Some((after, batch)) = prepare::next_batch(inner, &plan, cursor).await? else { return Ok(None) };
            cursor = after;
            Ok(Some(batch))
        };
        match outbox.send(&mut signals, next).await? {
            Some(Flow::Go) => {}
            Some(Flow::Stop) => return stopped(inner, tenant, id, &mut outbox).await,
            None => break,
        }
    }
    outbox.flush().await?;
    if signals.is_cancelled() {
        return Ok(());
    }
    // No PENDING left after this worker's cursor is not the end of the campaign: another
    // node may be sending what it marked SENDING (or be dead with it). Only the store's
    // counts say when nothing is left; until then the campaign stays RUNNING, so the node
    // that sends the last recipient completes it, or the lease's next holder takes over.
    let left = inner.store.counts(tenant, id).await?.pending;
    if left > 0 {
        tracing::info!(campaign = %id, left, "no recipient left for this worker; the campaign goes on elsewhere");
        return Ok(());
    }
    let now = inner.clock.now();
    let retried = plan.campaign.retried;
    inner
        .store
        .update_campaign(tenant, id, &mut |c| {
            // A retry after this worker loaded the campaign left PENDING recipients behind
            // the cursor: the worker started after the retry sends them and completes it.
            if c.status == CampaignStatus::Running && c.retried == retried {
                c.status = CampaignStatus::Completed;
                c.completed_at = now;
            }
            Ok(())
        })
        .await?;
    tracing::info!(campaign = %id, "campaign completed");
    Ok(())
}

/// After a run stopped: what went out recorded, and the campaign failed when a send said it
/// cannot go on (its template was paused or disabled).
async fn stopped(inner: &Inner, tenant: &str, id: Uuid, outbox: &mut Outbox<'_>) -> Result<()> {
    outbox.flush().await?;
    match outbox.halted() {
        Some((reason, why)) => fail_campaign(inner, tenant, id, reason, &why).await,
        None => Ok(()),
    }
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
