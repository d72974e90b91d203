//! `[conversations]`: the message plane's settings (inbox bounds, redelivery, attribution) and
//! the per-tenant opt-out defaults of conversations.md.

use std::time::Duration;

use serde::Deserialize;

/// How inbound messages are kept and delivered to the bot.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationSettings {
    /// A reply is attributed to the most recent campaign that sent to the person this long ago
    /// at most (`replied` in the campaign's counts).
    pub reply_window_ms: u64,
    /// A message delivered to a session and not answered with `received` / `consumed` /
    /// `failed` within this time goes to another session (the same id).
    pub redeliver_ms: u64,
    /// Messages waiting in one tenant's inbox; past it the oldest expire first (counted and
    /// logged as dropped).
    pub inbox_max: u64,
    /// A waiting message older than this expires (counted and logged as dropped).
    pub inbox_ttl_ms: u64,
    /// Inbound messages queued for one bot session; a full session is skipped (another gets
    /// the message, or it waits in the inbox).
    pub session_queue: usize,
    /// Messages read from the inbox at once by the delivery loop.
    pub delivery_batch: usize,
    /// Replies of the simulator's people waiting to be recorded; when full, the simulator
    /// waits (none is dropped).
    pub inbound_queue: usize,
    /// Longest wait between two attempts to POST a message to a tenant's `message_url` (the
    /// first waits 200 ms, doubled each time, jittered); attempts go on until the message
    /// expires (`inbox_ttl_ms`).
    pub message_url_retry_max_ms: u64,
    /// Inbound messages waiting to be written to the store (all tenants); past it a source's
    /// message is refused at once (HTTP 503; providers send it again).
    pub write_queue: usize,
    /// Inbound messages written in one transaction (one sync to disk) at most.
    pub write_batch: usize,
}

impl Default for ConversationSettings {
    fn default() -> Self {
        ConversationSettings {
            reply_window_ms: 24 * 3600 * 1000,
            redeliver_ms: 30_000,
            inbox_max: 100_000,
            inbox_ttl_ms: 7 * 24 * 3600 * 1000,
            session_queue: 1024,
            delivery_batch: 1000,
            inbound_queue: 4096,
            message_url_retry_max_ms: 60_000,
            write_queue: 10_000,
            write_batch: 256,
        }
    }
}

impl ConversationSettings {
    pub fn redeliver(&self) -> Duration {
        Duration::from_millis(self.redeliver_ms)
    }

    /// The rule serde cannot express, as (key, message).
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        super::validation::at_least_one(
            "conversations",
            &[("write_queue", self.write_queue as u64), ("write_batch", self.write_batch as u64)],
        )
    }
}

/// Opt-out keywords when the tenant's configuration gives none (conversations.md).
pub const DEFAULT_OPT_OUT_KEYWORDS: [&str; 5] = ["SAIR", "PARAR", "STOP", "CANCELAR", "DESCADASTRAR"];
/// Opt-in keywords when the tenant's configuration gives none.
pub const DEFAULT_OPT_IN_KEYWORDS: [&str; 2] = ["VOLTAR", "START"];
