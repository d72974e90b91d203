//! Reply attribution in memory: the last campaign send to a person, and `replied` counted once.

use uuid::Uuid;

use super::{callbacks, MemoryStore};
use crate::callbacks::outbox::Event;
use crate::campaign::Millis;
use crate::error::Result;

pub(super) fn last_sent_to(
    store: &MemoryStore,
    tenant: &str,
    phone: u64,
    since: Millis,
) -> Result<Option<(Uuid, u32)>> {
    let ids: Vec<Uuid> = store.tenant(tenant).campaigns.read().clone();
    let mut best: Option<(Millis, Uuid, u32)> = None;
    for id in ids {
        let Some(cell) = store.cell(tenant, id) else { continue };
        let data = cell.data.read();
        let Some(&seq) = data.by_phone.get(&phone) else { continue };
        let Some(r) = data.recipients.get(seq as usize) else { continue };
        if r.processed_at > 0 && r.processed_at >= since && best.is_none_or(|(at, _, _)| r.processed_at > at) {
            best = Some((r.processed_at, id, seq));
        }
    }
    Ok(best.map(|(_, id, seq)| (id, seq)))
}

pub(super) fn mark_replied(store: &MemoryStore, campaign: Uuid, seq: u32, at: Millis) -> Result<bool> {
    let Some(cell) = store.any_cell(campaign) else { return Ok(false) };
    let mut data = cell.data.write();
    if (seq as usize) >= data.recipients.len() || !data.replied.insert(seq) {
        return Ok(false);
    }
    data.counts.replied += 1;
    let phone = data.recipients[seq as usize].phone;
    callbacks::enqueue(store, &cell.tenant, vec![Event::replied(campaign, seq, phone, at)]);
    Ok(true)
}
