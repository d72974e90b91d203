//! Status callbacks in memory: the webhooks and, per webhook, its deliveries in outbox order.
//! Events are added under the same call that changed the status.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::{HashMap, MemoryStore};
use crate::callbacks::outbox::{Delivery, DeliveryState, Event, Webhook};
use crate::error::Result;
use crate::store::Page;

#[derive(Default)]
pub(super) struct Callbacks {
    webhooks: Vec<Webhook>,
    deliveries: HashMap<Uuid, Log>,
    next: i64,
}

/// One webhook's deliveries.
#[derive(Default)]
struct Log {
    by_order: BTreeMap<i64, Delivery>,
    pending: BTreeSet<i64>,
    by_event: HashMap<Uuid, i64>,
}

impl Log {
    fn set_state(&mut self, order: i64, state: crate::callbacks::outbox::DeliveryState) {
        if state == DeliveryState::Pending {
            self.pending.insert(order);
        } else {
            self.pending.remove(&order);
        }
    }
}

/// Whether a tenant has a webhook at all: the hot paths build no event otherwise.
pub(super) fn listens(store: &MemoryStore, tenant: &str) -> bool {
    store.callbacks.lock().webhooks.iter().any(|w| w.tenant == tenant)
}

/// Fans `events` out to the tenant's webhooks that want them.
pub(super) fn enqueue(store: &MemoryStore, tenant: &str, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    let mut cb = store.callbacks.lock();
    let hooks: Vec<(Uuid, Vec<crate::callbacks::outbox::EventKind>)> =
        cb.webhooks.iter().filter(|w| w.tenant == tenant).map(|w| (w.id, w.events.clone())).collect();
    for event in events {
        for (id, kinds) in &hooks {
            if !kinds.contains(&event.kind) {
                continue;
            }
            cb.next += 1;
            let order = cb.next;
            let log = cb.deliveries.entry(*id).or_default();
            log.by_event.insert(event.id, order);
            log.pending.insert(order);
            log.by_order.insert(order, Delivery::new(order, *id, event.clone()));
        }
    }
}

pub(super) fn put_webhook(store: &MemoryStore, hook: Webhook) -> Result<()> {
    let mut cb = store.callbacks.lock();
    match cb.webhooks.iter_mut().find(|w| w.id == hook.id) {
        Some(w) => *w = hook,
        None => cb.webhooks.push(hook),
    }
    Ok(())
}

pub(super) fn webhooks(store: &MemoryStore, tenant: Option<&str>) -> Result<Vec<Webhook>> {
    let cb = store.callbacks.lock();
    Ok(cb.webhooks.iter().filter(|w| tenant.is_none_or(|t| t == w.tenant)).cloned().collect())
}

pub(super) fn delete_webhook(store: &MemoryStore, tenant: &str, id: Uuid) -> Result<bool> {
    let mut cb = store.callbacks.lock();
    let before = cb.webhooks.len();
    cb.webhooks.retain(|w| !(w.id == id && w.tenant == tenant));
    let gone = cb.webhooks.len() < before;
    if gone {
        cb.deliveries.remove(&id);
    }
    Ok(gone)
}

pub(super) fn pending(store: &MemoryStore, webhook: Uuid, limit: usize) -> Result<Vec<Delivery>> {
    let cb = store.callbacks.lock();
    let Some(log) = cb.deliveries.get(&webhook) else { return Ok(Vec::new()) };
    Ok(log.pending.iter().take(limit).filter_map(|o| log.by_order.get(o).cloned()).collect())
}

pub(super) fn update(store: &MemoryStore, deliveries: &[Delivery]) -> Result<()> {
    let mut cb = store.callbacks.lock();
    for d in deliveries {
        let Some(log) = cb.deliveries.get_mut(&d.webhook) else { continue };
        if let Some(row) = log.by_order.get_mut(&d.order) {
            *row = d.clone();
            log.set_state(d.order, d.state);
        }
    }
    Ok(())
}

pub(super) fn trim(store: &MemoryStore, webhook: Uuid, max_pending: u64) -> Result<u64> {
    let mut cb = store.callbacks.lock();
    let Some(log) = cb.deliveries.get_mut(&webhook) else { return Ok(0) };
    let over = (log.pending.len() as u64).saturating_sub(max_pending);
    for _ in 0..over {
        let Some(order) = log.pending.pop_first() else { break };
        if let Some(d) = log.by_order.remove(&order) {
            log.by_event.remove(&d.event.id);
        }
    }
    Ok(over)
}

pub(super) fn log(
    store: &MemoryStore,
    webhook: Uuid,
    state: Option<DeliveryState>,
    page: Page,
) -> Result<(u64, Vec<Delivery>)> {
    let cb = store.callbacks.lock();
    let Some(log) = cb.deliveries.get(&webhook) else { return Ok((0, Vec::new())) };
    let matching = || log.by_order.values().rev().filter(|d| state.is_none_or(|s| s == d.state));
    let total = matching().count() as u64;
    Ok((total, matching().skip(page.skip as usize).take(page.take as usize).cloned().collect()))
}

pub(super) fn replay(store: &MemoryStore, webhook: Uuid, event: Uuid) -> Result<bool> {
    let mut cb = store.callbacks.lock();
    let Some(log) = cb.deliveries.get_mut(&webhook) else { return Ok(false) };
    let Some(&order) = log.by_event.get(&event) else { return Ok(false) };
    let Some(d) = log.by_order.get_mut(&order) else { return Ok(false) };
    d.replay();
    log.pending.insert(order);
    Ok(true)
}
