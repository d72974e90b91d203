//! `[idempotency]`: how long and how many idempotency keys are kept — REST `Idempotency-Key`
//! (durable, per workspace) and LIME `set` command ids (in memory, per tenant)
//! (campaign-features.md, "Idempotent creation"). Every field is in the README's table.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencySettings {
    /// A REST key replays its first response this long after its first use (24 h).
    pub ttl_ms: u64,
    /// A REST key held this long by a request that never answered (the process died) may be
    /// taken by the next request with it; until then such a request gets 409.
    pub in_flight_ms: u64,
    /// REST keys one workspace holds at once (within `ttl_ms`); past it a request with a new
    /// key is refused with 429 (requests without a key are not affected).
    pub max_keys: u64,
    /// A LIME `set` whose id repeats one of the tenant's within this window gets the first
    /// (successful) reply again (10 minutes).
    pub lime_window_ms: u64,
    /// LIME command ids remembered per tenant; past it the oldest is forgotten.
    pub lime_max_ids: usize,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        IdempotencySettings {
            ttl_ms: 86_400_000,
            in_flight_ms: 60_000,
            max_keys: 100_000,
            lime_window_ms: 600_000,
            lime_max_ids: 10_000,
        }
    }
}

impl IdempotencySettings {
    /// The rule serde cannot express, as (key, message).
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        super::validation::at_least_one(
            "idempotency",
            &[
                ("ttl_ms", self.ttl_ms),
                ("in_flight_ms", self.in_flight_ms),
                ("max_keys", self.max_keys),
                ("lime_window_ms", self.lime_window_ms),
                ("lime_max_ids", self.lime_max_ids as u64),
            ],
        )
    }

    /// The REST keys' windows, as the store takes them.
    pub fn window(&self) -> crate::store::IdempotencyWindow {
        crate::store::IdempotencyWindow {
            ttl_ms: self.ttl_ms.min(i64::MAX as u64) as i64,
            in_flight_ms: self.in_flight_ms.min(i64::MAX as u64) as i64,
            max_keys: self.max_keys,
        }
    }
}
