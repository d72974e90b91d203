//! Bot messages to people (conversations.md, Outbound): kept in acceptance order, found by
//! key and by provider id, moved forward only.

use std::collections::{BTreeMap, HashMap};

use super::MemoryStore;
use crate::error::{Error, Result};
use crate::outbound::{Moved, OutboundChange, OutboundMessage, OutboundStatus};
use crate::store::Receipt;

#[derive(Default)]
pub(super) struct Outbox {
    by_seq: BTreeMap<i64, OutboundMessage>,
    seq_of: HashMap<String, i64>,
    /// Provider id → key.
    provider: HashMap<String, String>,
}

impl Outbox {
    fn apply(
        &mut self,
        key: &str,
        status: OutboundStatus,
        reason: u32,
        description: Option<String>,
        provider_id: Option<String>,
    ) -> Option<Moved> {
        let seq = *self.seq_of.get(key)?;
        let m = self.by_seq.get_mut(&seq)?;
        if let Some(p) = &provider_id {
            if m.provider_id.as_ref() != Some(p) {
                m.provider_id = Some(p.clone());
                self.provider.insert(p.clone(), key.to_owned());
            }
        }
        if !m.status.advances(status) {
            return None;
        }
        let from = m.status;
        m.status = status;
        if status == OutboundStatus::Failed {
            m.reason = reason;
            m.description = description;
        }
        Some(Moved { message: m.clone(), from })
    }
}

/// All or none, as the SQL store's one transaction.
pub(super) fn insert(store: &MemoryStore, messages: &[OutboundMessage]) -> Result<()> {
    let mut o = store.outbound.lock();
    let mut keys = std::collections::HashSet::new();
    for m in messages {
        if o.seq_of.contains_key(&m.key) || !keys.insert(m.key.as_str()) {
            return Err(Error::Internal(format!("outbound key {} stored twice", m.key)));
        }
    }
    for message in messages {
        if let Some(p) = &message.provider_id {
            o.provider.insert(p.clone(), message.key.clone());
        }
        o.seq_of.insert(message.key.clone(), message.seq);
        o.by_seq.insert(message.seq, message.clone());
    }
    Ok(())
}

pub(super) fn in_status(
    store: &MemoryStore,
    status: OutboundStatus,
    after: i64,
    limit: usize,
) -> Result<Vec<OutboundMessage>> {
    let o = store.outbound.lock();
    Ok(o.by_seq.range(after + 1..).map(|(_, m)| m).filter(|m| m.status == status).take(limit).cloned().collect())
}

pub(super) fn count(store: &MemoryStore, status: OutboundStatus) -> Result<u64> {
    Ok(store.outbound.lock().by_seq.values().filter(|m| m.status == status).count() as u64)
}

pub(super) fn apply(store: &MemoryStore, changes: &[OutboundChange]) -> Result<Vec<Moved>> {
    let mut o = store.outbound.lock();
    Ok(changes
        .iter()
        .filter_map(|c| o.apply(&c.key, c.status, c.reason, c.description.clone(), c.provider_id.clone()))
        .collect())
}

pub(super) fn receipts(store: &MemoryStore, receipts: &[Receipt]) -> Result<Vec<Moved>> {
    let mut o = store.outbound.lock();
    let mut moved = Vec::new();
    for r in receipts {
        let Some(status) = OutboundStatus::of_receipt(r.status) else { continue };
        let key = match o.provider.get(&r.message_id) {
            Some(k) => k.clone(),
            None if o.seq_of.contains_key(&r.message_id) => r.message_id.clone(),
            None => continue,
        };
        moved.extend(o.apply(&key, status, r.reason, None, None));
    }
    Ok(moved)
}
