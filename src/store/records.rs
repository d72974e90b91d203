//! The plain records the [`Store`](super::Store) trait takes and returns besides the model's
//! types: pages, filters, outcomes, receipts, retry and idempotency answers.

use super::{Campaign, CampaignStatus, Millis, RecipientStatus, Result};

/// A page request: skip `skip` rows, return at most `take`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub skip: u64,
    pub take: u64,
}

/// Filters of campaign lists (`get /campaigns`, summaries, REST list). All ANDed.
#[derive(Debug, Clone, Default)]
pub struct CampaignFilter {
    /// Created at or after.
    pub created_from: Option<Millis>,
    /// Created before (exclusive).
    pub created_to: Option<Millis>,
    pub sender: Option<String>,
    pub source_application: Option<String>,
    /// Any of these statuses.
    pub statuses: Option<Vec<CampaignStatus>>,
    pub channel_id: Option<String>,
}

/// What adding an audience did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudienceAdded {
    pub added: u64,
    pub updated: u64,
    /// Recipients in the campaign now.
    pub total: u64,
}

/// The result of one send attempt, recorded by the dispatcher.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub seq: u32,
    pub status: RecipientStatus,
    pub at: Millis,
    /// Reason code when FAILED.
    pub reason: u32,
}

/// A status receipt from a channel, matched by message id.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub message_id: String,
    pub status: RecipientStatus,
    pub at: Millis,
    pub reason: u32,
}

/// How a campaign changes in [`Store::update_campaign`]: checks and edits, or refuses.
pub type CampaignChange<'a> = &'a mut (dyn FnMut(&mut Campaign) -> Result<()> + Send);

/// A start's change of a campaign, given the number of recipients it holds with the audience
/// just added; its error writes nothing.
pub type StartChange<'a> = &'a mut (dyn FnMut(&mut Campaign, u64) -> Result<()> + Send);

/// Which FAILED recipients a retry takes back, by reason code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryReasons {
    /// Only those failed with one of these.
    Only(Vec<u32>),
    /// Every failed one but those failed with one of these.
    AllBut(Vec<u32>),
}

impl RetryReasons {
    pub fn matches(&self, reason: u32) -> bool {
        match self {
            RetryReasons::Only(codes) => codes.contains(&reason),
            RetryReasons::AllBut(codes) => !codes.contains(&reason),
        }
    }
}

/// The response stored for an idempotency key (REST `Idempotency-Key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// What [`Store::idempotency_begin`] found for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is new (or expired, or abandoned in flight): it is now held by this request.
    Claimed,
    /// A request with the same key and body finished: its response.
    Replay(StoredResponse),
    /// The key was used with another request.
    Mismatch,
    /// A request with the key is still being answered.
    InFlight,
}

/// The windows of idempotency keys, from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyWindow {
    /// A key is remembered this long after its first use.
    pub ttl_ms: i64,
    /// A key held this long without an answer was abandoned (a crash) and may be taken.
    pub in_flight_ms: i64,
    /// Keys a workspace may hold at once (past this a new key is refused).
    pub max_keys: u64,
}
