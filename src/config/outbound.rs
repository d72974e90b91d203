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
        super::validation::at_least_one(
            "outbound",
            &[
                ("queue_max", self.queue_max as u64),
                ("batch", self.batch as u64),
                ("notify_queue", self.notify_queue as u64),
                ("notify_attempts", u64::from(self.notify_attempts)),
            ],
        )
    }
}
