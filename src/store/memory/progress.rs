//! Recipients' progress: the forward moves of their status (handed to a channel, send
//! outcomes, channel receipts) with the campaign counters each move changes; and the
//! provider message ids receipts are matched by.

use std::sync::Arc;

use uuid::Uuid;

use super::{callbacks, CampaignCell, CampaignData, MemoryStore};
use crate::callbacks::outbox::Event;
use crate::campaign::{parse_message_id, RecipientStatus};
use crate::error::Result;
use crate::store::{Outcome, Receipt};

impl CampaignData {
    /// The status callback of recipient `seq`'s move.
    fn event(&self, campaign: Uuid, seq: u32, status: RecipientStatus, reason: u32, at: i64) -> Option<Event> {
        let phone = self.recipients.get(seq as usize).map_or(0, |r| r.phone);
        Event::recipient(campaign, seq, phone, status, reason, at)
    }

    fn advance(&mut self, seq: u32, status: RecipientStatus, at: i64, reason: u32) -> bool {
        let Some(r) = self.recipients.get_mut(seq as usize) else { return false };
        let from = r.status;
        if r.advance(status, at, reason) {
            self.counts.moved(from, status);
            true
        } else {
            false
        }
    }
}

pub(super) fn mark_sending(store: &MemoryStore, campaign: Uuid, seqs: &[u32], at: i64) -> Result<Vec<u32>> {
    let Some(cell) = store.any_cell(campaign) else { return Ok(Vec::new()) };
    let mut data = cell.data.write();
    Ok(seqs.iter().copied().filter(|seq| data.advance(*seq, RecipientStatus::Sending, at, 0)).collect())
}

pub(super) fn record_outcomes(store: &MemoryStore, campaign: Uuid, outcomes: &[Outcome]) -> Result<()> {
    let Some(cell) = store.any_cell(campaign) else { return Ok(()) };
    let listens = callbacks::listens(store, &cell.tenant);
    let mut events = Vec::new();
    let mut data = cell.data.write();
    for o in outcomes {
        if data.advance(o.seq, o.status, o.at, o.reason) && listens {
            events.extend(data.event(campaign, o.seq, o.status, o.reason, o.at));
        }
    }
    // Under the campaign's lock: a receipt of these recipients is queued after them.
    callbacks::enqueue(store, &cell.tenant, events);
    Ok(())
}

pub(super) fn apply_receipts(store: &MemoryStore, receipts: &[Receipt]) -> Result<u64> {
    let mut changed = 0;
    // Receipts usually come in runs of the same campaign: lock each campaign once per run.
    let mut current: Option<(Uuid, Arc<CampaignCell>)> = None;
    for r in receipts {
        let target =
            parse_message_id(&r.message_id).or_else(|| store.message_ids.get(&r.message_id).map(|e| *e.value()));
        let Some((campaign, seq)) = target else { continue };
        if current.as_ref().is_none_or(|(id, _)| *id != campaign) {
            current = store.any_cell(campaign).map(|c| (campaign, c));
        }
        let Some((_, cell)) = &current else { continue };
        let mut data = cell.data.write();
        if data.advance(seq, r.status, r.at, r.reason) {
            changed += 1;
            // The event is added while the recipient's lock is held, so that its events are
            // queued in the order of its moves.
            if callbacks::listens(store, &cell.tenant) {
                let event = data.event(campaign, seq, r.status, r.reason, r.at);
                callbacks::enqueue(store, &cell.tenant, event.into_iter().collect());
            }
        }
    }
    Ok(changed)
}

pub(super) fn link_message_id(store: &MemoryStore, message_id: &str, campaign: Uuid, seq: u32) -> Result<()> {
    store.message_ids.insert(message_id.to_owned(), (campaign, seq));
    Ok(())
}
