//! A bot's message to a person as the store keeps it: its status ladder (accepted → sending
//! → dispatched → received → consumed, or failed) and the forward-only rule every backend
//! applies.

use lime_protocol::Event;
use serde::{Deserialize, Serialize};

use super::content::Content;
use crate::campaign::{Millis, RecipientStatus};

/// Where an outbound message stands. Only forward moves are applied ([`OutboundStatus::advances`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OutboundStatus {
    /// Durable, `accepted` told; not handed to a channel yet.
    Accepted = 0,
    /// Handed to the channel, outcome not recorded: after a crash, re-sent or reconciled.
    Sending = 1,
    /// The provider took it (`dispatched`).
    Dispatched = 2,
    /// Delivered to the person's device (`received`).
    Received = 3,
    /// Read (`consumed`).
    Consumed = 4,
    /// Refused or undeliverable (`failed` with a reason).
    Failed = 5,
}

impl OutboundStatus {
    pub fn from_code(code: i64) -> OutboundStatus {
        match code {
            0 => OutboundStatus::Accepted,
            1 => OutboundStatus::Sending,
            2 => OutboundStatus::Dispatched,
            3 => OutboundStatus::Received,
            4 => OutboundStatus::Consumed,
            _ => OutboundStatus::Failed,
        }
    }

    pub fn code(self) -> i64 {
        self as i64
    }

    /// The status a channel receipt moves a message to (`None`: a receipt that tells nothing
    /// new, as PENDING or SENDING would).
    pub fn of_receipt(status: RecipientStatus) -> Option<OutboundStatus> {
        match status {
            RecipientStatus::Processed => Some(OutboundStatus::Dispatched),
            RecipientStatus::Received => Some(OutboundStatus::Received),
            RecipientStatus::Read => Some(OutboundStatus::Consumed),
            RecipientStatus::Failed => Some(OutboundStatus::Failed),
            RecipientStatus::Pending | RecipientStatus::Sending => None,
        }
    }

    /// Whether `self → to` is a forward move: up the ladder, or to FAILED from any status
    /// before delivery (a provider may fail a message it had taken). Receipts come twice and
    /// out of order; what moves nothing is ignored.
    pub fn advances(self, to: OutboundStatus) -> bool {
        match (self, to) {
            (OutboundStatus::Failed, _) => false,
            (from, OutboundStatus::Failed) => from < OutboundStatus::Received,
            (from, to) => to > from,
        }
    }

    /// The notification events a move `self → to` tells the bot, in order: a receipt that
    /// overtook the send's outcome (`sending → received`) still tells `dispatched` first.
    pub fn events_to(self, to: OutboundStatus) -> Vec<Event> {
        if to == OutboundStatus::Failed {
            return vec![Event::Failed];
        }
        let ladder = [
            (OutboundStatus::Dispatched, Event::Dispatched),
            (OutboundStatus::Received, Event::Received),
            (OutboundStatus::Consumed, Event::Consumed),
        ];
        ladder.into_iter().filter(|(s, _)| *s > self && *s <= to).map(|(_, e)| e).collect()
    }
}

/// One bot message, from acceptance on.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    /// The gateway's id (`ob.<uuid>`): the id every send of it carries (the simulator's
    /// ledger, RBM's `messageId`, WhatsApp's `biz_opaque_callback_data`).
    pub key: String,
    pub tenant: String,
    /// Acceptance order (sends follow it, so each person gets the bot's messages in order).
    pub seq: i64,
    /// The bot's envelope id; `None`: fire-and-forget, no notifications.
    pub lime_id: Option<String>,
    /// The bot node that sent it (the notifications' `to`).
    pub bot: String,
    /// The person's identity (`digits@wa.gw.msging.net`).
    pub to: String,
    /// E.164 digits.
    pub phone: u64,
    pub channel: String,
    pub content: Content,
    pub status: OutboundStatus,
    /// Reason code and description when FAILED.
    pub reason: u32,
    pub description: Option<String>,
    /// The provider's id (wamid; RBM's messageId) once known: receipts are matched by it.
    pub provider_id: Option<String>,
    pub created: Millis,
}

/// A move of one message, recorded by the sender or from a receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundChange {
    pub key: String,
    pub status: OutboundStatus,
    pub reason: u32,
    pub description: Option<String>,
    /// Recorded when given (kept otherwise).
    pub provider_id: Option<String>,
}

/// A move the store applied: the message as it now is, and the status it left.
#[derive(Debug, Clone, PartialEq)]
pub struct Moved {
    pub message: OutboundMessage,
    pub from: OutboundStatus,
}

#[cfg(test)]
mod tests {
    use super::OutboundStatus::*;

    #[test]
    fn moves_go_forward_only_and_tell_skipped_steps() {
        assert!(Accepted.advances(Sending) && Sending.advances(Received) && Dispatched.advances(Failed));
        assert!(!Received.advances(Dispatched) && !Received.advances(Failed) && !Failed.advances(Consumed));
        let events: Vec<String> = Sending.events_to(Consumed).iter().map(|e| e.to_string()).collect();
        assert_eq!(events, ["dispatched", "received", "consumed"]);
        assert!(Accepted.events_to(Sending).is_empty(), "sending is not told");
    }
}
