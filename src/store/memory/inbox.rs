//! The inbox and suppression list of a tenant, in memory (the same rules as the SQL tables):
//! acknowledged messages keep their provider id until they expire, so repeats are recognised.

use std::collections::BTreeMap;

use super::{HashMap, MemoryStore};
use crate::campaign::Millis;
use crate::conversation::{InboxAdded, InboxEntry, Suppression};
use crate::error::Result;
use crate::store::Page;

#[derive(Default)]
pub(super) struct Inbox {
    next_seq: u64,
    /// seq → entry, waiting for the bot.
    waiting: BTreeMap<u64, InboxEntry>,
    by_id: HashMap<String, u64>,
    /// provider id → received time, for every message not yet expired.
    seen: HashMap<String, Millis>,
}

pub(super) fn insert(store: &MemoryStore, tenant: &str, e: InboxEntry, max: u64) -> Result<InboxAdded> {
    let cell = store.tenant(tenant);
    let mut inbox = cell.inbox.lock();
    if inbox.seen.contains_key(&e.provider_id) {
        return Ok(InboxAdded { new: false, dropped: 0 });
    }
    inbox.seen.insert(e.provider_id.clone(), e.received_at);
    inbox.next_seq += 1;
    let seq = inbox.next_seq;
    inbox.by_id.insert(e.id.clone(), seq);
    inbox.waiting.insert(seq, e);
    let mut dropped = 0;
    while inbox.waiting.len() as u64 > max {
        if let Some((_, old)) = inbox.waiting.pop_first() {
            inbox.by_id.remove(&old.id);
            dropped += 1;
        }
    }
    Ok(InboxAdded { new: true, dropped })
}

pub(super) fn waiting(store: &MemoryStore, tenant: &str, limit: usize) -> Result<Vec<InboxEntry>> {
    let cell = store.tenant(tenant);
    let inbox = cell.inbox.lock();
    Ok(inbox.waiting.values().take(limit).cloned().collect())
}

pub(super) fn remove(store: &MemoryStore, tenant: &str, id: &str) -> Result<bool> {
    let cell = store.tenant(tenant);
    let mut inbox = cell.inbox.lock();
    let Some(seq) = inbox.by_id.remove(id) else { return Ok(false) };
    Ok(inbox.waiting.remove(&seq).is_some())
}

pub(super) fn expire(store: &MemoryStore, tenant: &str, before: Millis) -> Result<u64> {
    let cell = store.tenant(tenant);
    let mut inbox = cell.inbox.lock();
    let old: Vec<u64> = inbox.waiting.iter().filter(|(_, e)| e.received_at < before).map(|(s, _)| *s).collect();
    for seq in &old {
        if let Some(e) = inbox.waiting.remove(seq) {
            inbox.by_id.remove(&e.id);
        }
    }
    inbox.seen.retain(|_, at| *at >= before);
    Ok(old.len() as u64)
}

pub(super) fn suppress(store: &MemoryStore, tenant: &str, s: Suppression) -> Result<bool> {
    let cell = store.tenant(tenant);
    let mut list = cell.suppressions.write();
    Ok(list.insert(s.phone, s).is_none())
}

pub(super) fn unsuppress(store: &MemoryStore, tenant: &str, phone: u64) -> Result<bool> {
    Ok(store.tenant(tenant).suppressions.write().remove(&phone).is_some())
}

pub(super) fn suppressions(
    store: &MemoryStore,
    tenant: &str,
    phone: Option<u64>,
    page: Page,
) -> Result<(u64, Vec<Suppression>)> {
    let cell = store.tenant(tenant);
    let list = cell.suppressions.read();
    let mut all: Vec<&Suppression> = list.values().filter(|s| phone.is_none_or(|p| s.phone == p)).collect();
    all.sort_by(|a, b| b.at.cmp(&a.at).then(a.phone.cmp(&b.phone)));
    let items = all.iter().skip(page.skip as usize).take(page.take as usize).map(|s| (*s).clone()).collect();
    Ok((all.len() as u64, items))
}

pub(super) fn suppressed_among(store: &MemoryStore, tenant: &str, phones: &[u64]) -> Result<Vec<u64>> {
    let cell = store.tenant(tenant);
    let list = cell.suppressions.read();
    Ok(phones.iter().copied().filter(|p| list.contains_key(p)).collect())
}
