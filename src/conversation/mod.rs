//! The message plane's person → bot half (conversations.md): inbound messages recorded in a
//! durable inbox, attributed to the campaign they answer, checked for opt-out keywords and
//! delivered to the bot.
//!
//! - [`inbound`]: the one pipeline every source (simulator, webhooks, inject route) calls.
//! - [`keywords`]: opt-out / opt-in keyword matching.
//! - [`envelope`]: the LIME message the bot receives.
//! - [`sessions`]: the bot's established WebSocket sessions by tenant (round robin).
//! - [`intake`]: the group commit every source's message is written through.
//! - [`delivery`]: the background loop taking messages from the inbox to the sessions.
//! - [`message_url`]: the poster taking them to a tenant's `message_url` while it has none.
//! - [`inject`], [`suppressions`]: the simulator's inject route and the suppression list.

pub mod delivery;
pub mod envelope;
pub mod inbound;
pub mod inject;
mod intake;
pub mod keywords;
pub mod message_url;
pub mod sessions;
pub mod suppressions;

use serde::{Deserialize, Serialize};

use crate::campaign::Millis;

/// One inbound message waiting in a tenant's inbox until the bot acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    /// The gateway's id: the LIME message id the bot acknowledges.
    pub id: String,
    /// The provider's message id (deduplication key within the tenant).
    pub provider_id: String,
    /// The person's LIME identity (`…@wa.gw.msging.net`): per-person order is kept.
    pub person: String,
    pub received_at: Millis,
    /// The LIME message envelope as JSON, exactly as the bot receives it.
    pub envelope: String,
}

/// What recording an inbound message did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxAdded {
    /// False when the provider id was already recorded (a webhook delivered twice).
    pub new: bool,
    /// Oldest waiting messages dropped to stay within `conversations.inbox_max`.
    pub dropped: u64,
}

/// A person on a tenant's suppression list: campaigns and bot messages do not reach them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// E.164 digits.
    pub phone: u64,
    pub at: Millis,
    /// The opt-out keyword, or the reason given to REST.
    pub reason: Option<String>,
    /// The channel the opt-out came on (none for a REST add).
    pub channel: Option<String>,
}

/// What an opt-out or opt-in keyword does to the suppression list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuppressionChange {
    Suppress(Suppression),
    Unsuppress(u64),
}

/// Everything one inbound message leaves in the store, written with others of its batch in
/// one transaction (`Store::record_inbound`): the contact, the reply mark, the suppression
/// change, then the inbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundWrite {
    pub tenant: String,
    pub contact: crate::contact::ContactPatch,
    /// The campaign send it answers (campaign, seq) and when.
    pub replied: Option<(uuid::Uuid, u32, Millis)>,
    pub suppression: Option<SuppressionChange>,
    pub entry: InboxEntry,
}
