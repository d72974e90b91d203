//! Retrying a campaign's failed recipients under the campaign's one lock: the change is tried
//! first with the number that would move, so that a refusal changes nothing.

use uuid::Uuid;

use super::MemoryStore;
use crate::campaign::{Campaign, RecipientStatus};
use crate::error::Result;
use crate::store::rules::not_found;
use crate::store::{RetryReasons, StartChange};

pub(super) fn retry_failed(
    store: &MemoryStore,
    tenant: &str,
    id: Uuid,
    which: &RetryReasons,
    change: StartChange<'_>,
) -> Result<(Campaign, u64)> {
    let cell = store.cell(tenant, id).ok_or_else(|| not_found(id))?;
    let mut data = cell.data.write();
    if data.deleted {
        return Err(not_found(id));
    }
    let matches = |r: &crate::campaign::Recipient| r.status == RecipientStatus::Failed && which.matches(r.reason);
    let moved = data.recipients.iter().filter(|r| matches(r)).count() as u64;
    let mut changed = data.campaign.clone();
    change(&mut changed, moved)?;
    let mut first = None;
    for r in data.recipients.iter_mut().filter(|r| matches(r)) {
        r.retry();
        first.get_or_insert(r.seq);
    }
    if let Some(first) = first {
        data.counts.failed -= moved;
        data.counts.pending += moved;
        data.first_pending = data.first_pending.min(first);
    }
    data.campaign = changed.clone();
    Ok((changed, moved))
}
