//! `[outbound]`: how bots' messages to people are queued, sent and reported (conversations.md,
//! Outbound). Every field is in the README's configuration table.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundSettings {
    /// Bot messages accepted and not yet handed to a channel, over all tenants. Past it a new
    /// message is refused at once (LIME `failed` 61 on WebSocket, HTTP 503 on `POST /messages`).
    pub queue_max: usize,
    /// Messages the sender takes from the store at once.
    pub batch: usize,
    /// Attempts to POST one notification to a tenant's `notification_url` (backoff doubled
    /// from 200 ms up to 10 s, jittered); then it is dropped and logged.
    pub notify_attempts: u32,
    /// Notifications waiting to be POSTed to `notification_url`s; past it new ones are dropped
    /// and logged (the message's status stays in the store).
    pub notify_queue: usize,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        OutboundSettings { queue_max: 10_000, batch: 256, notify_attempts: 8, notify_queue: 10_000 }
    }
}

impl OutboundSettings {
    /// The rule serde cannot express, as (key, message).
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        for (key, v) in [("queue_max", self.queue_max), ("batch", self.batch), ("notify_queue", self.notify_queue)] {
            if v == 0 {
                return Err((format!("outbound.{key}"), "must be at least 1".into()));
            }
        }
        if self.notify_attempts == 0 {
            return Err(("outbound.notify_attempts".into(), "must be at least 1".into()));
        }
        Ok(())
    }
}
