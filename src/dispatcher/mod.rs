//! The dispatcher: one worker task per running campaign, sending each PENDING recipient once,
//! in insertion order, through the campaign's channel, at most at its rate ceiling.
//!
//! - `handle`: [`Dispatcher`], what the engine calls (start, pause, resume, cancel, stop).
//! - `worker`: one campaign's loop: what a crash left in SENDING first, then the PENDING
//!   recipients batch by batch, then COMPLETED.
//! - `prepare`: from a campaign and its recipients to messages (or to early failures).
//! - `send`: the one way a batch goes out: marked SENDING, paced, handed to the channel,
//!   recorded.
//! - `pacing`: the ceilings a run's sends wait for.

mod handle;
mod pacing;
mod prepare;
mod send;
mod transmit;
mod worker;

use dashmap::DashMap;

use crate::channel::Channels;
use crate::clock::Clock;
use crate::config::{CampaignSettings, SendingRecovery};
use crate::limiter::Pacer;
use crate::store::Store;

pub use handle::Dispatcher;

/// What every worker reads; the handle owns it behind an `Arc`.
struct Inner {
    store: std::sync::Arc<dyn Store>,
    channels: Channels,
    clock: Clock,
    settings: CampaignSettings,
    /// One pacer per channel with a throughput ceiling, shared by its campaigns.
    channel_pacers: DashMap<(String, String), Pacer>,
    /// What to do with SENDING recipients found after a crash on non-deduplicating channels.
    recovery: SendingRecovery,
    /// The engine's table of provider reason titles.
    reasons: std::sync::Arc<crate::reasons::Reasons>,
}
