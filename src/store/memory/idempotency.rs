//! Idempotency keys of one workspace, in memory: key → the request's fingerprint, when it
//! came, and its response once answered.

use std::collections::HashMap;

use super::MemoryStore;
use crate::error::Result;
use crate::store::{IdempotencyBegin, IdempotencyWindow, StoredResponse};

#[derive(Default)]
pub(super) struct Keys(HashMap<String, Held>);

pub(super) struct Held {
    hash: String,
    created: i64,
    response: Option<StoredResponse>,
}

pub(super) fn begin(
    store: &MemoryStore,
    tenant: &str,
    key: &str,
    hash: &str,
    now: i64,
    window: IdempotencyWindow,
) -> Result<IdempotencyBegin> {
    let cell = store.tenant(tenant);
    let mut keys = cell.idempotency.lock();
    keys.0.retain(|_, held| held.created >= now - window.ttl_ms);
    if let Some(held) = keys.0.get_mut(key) {
        return Ok(if held.hash != hash {
            IdempotencyBegin::Mismatch
        } else if let Some(response) = &held.response {
            IdempotencyBegin::Replay(response.clone())
        } else if held.created < now - window.in_flight_ms {
            held.created = now;
            IdempotencyBegin::Claimed
        } else {
            IdempotencyBegin::InFlight
        });
    }
    if keys.0.len() as u64 >= window.max_keys {
        return Err(crate::store::rules::too_many_keys(window));
    }
    keys.0.insert(key.to_owned(), Held { hash: hash.to_owned(), created: now, response: None });
    Ok(IdempotencyBegin::Claimed)
}

pub(super) fn finish(store: &MemoryStore, tenant: &str, key: &str, response: Option<StoredResponse>) -> Result<()> {
    let cell = store.tenant(tenant);
    let mut keys = cell.idempotency.lock();
    match response {
        Some(r) => {
            if let Some(held) = keys.0.get_mut(key).filter(|h| h.response.is_none()) {
                held.response = Some(r);
            }
        }
        None => {
            if keys.0.get(key).is_some_and(|h| h.response.is_none()) {
                keys.0.remove(key);
            }
        }
    }
    Ok(())
}
