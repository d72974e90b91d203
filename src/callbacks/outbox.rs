//! The durable outbox of status callbacks: the customer's webhooks and one delivery row per
//! (webhook, event), written by the stores in the transaction that changes the status.

use uuid::Uuid;

use crate::campaign::{CampaignStatus, Millis, RecipientStatus};
use crate::secret::Secret;

/// What a webhook may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    RecipientStatus,
    CampaignStatus,
}

impl EventKind {
    pub const ALL: [EventKind; 2] = [EventKind::RecipientStatus, EventKind::CampaignStatus];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::RecipientStatus => "recipient.status",
            EventKind::CampaignStatus => "campaign.status",
        }
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A customer's endpoint.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: Uuid,
    pub tenant: String,
    pub url: String,
    pub events: Vec<EventKind>,
    pub secret: Secret,
    pub created: Millis,
}

impl Webhook {
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.contains(&kind)
    }

    /// The events as stored: names joined by commas.
    pub fn events_text(&self) -> String {
        self.events.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
    }

    pub fn events_from(text: &str) -> Vec<EventKind> {
        text.split(',').filter_map(EventKind::parse).collect()
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending = 0,
    Delivered = 1,
    Failed = 2,
}

impl DeliveryState {
    pub fn from_code(code: i64) -> DeliveryState {
        match code {
            1 => DeliveryState::Delivered,
            2 => DeliveryState::Failed,
            _ => DeliveryState::Pending,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<DeliveryState> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed].into_iter().find(|s| s.name() == name)
    }
}

/// A status change, before it is fanned out to the tenant's webhooks.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Uuid,
    pub kind: EventKind,
    pub campaign: Uuid,
    /// The recipient's seq; `None` for a campaign event.
    pub recipient: Option<u32>,
    /// E.164 digits of the recipient (0 for a campaign event).
    pub phone: u64,
    /// PROCESSED / RECEIVED / READ / FAILED / REPLIED, or the campaign's REST status word.
    pub status: String,
    pub reason: u32,
    pub at: Millis,
}

impl Event {
    /// A recipient's move to `status` (PENDING and SENDING are not told).
    pub fn recipient(
        campaign: Uuid,
        seq: u32,
        phone: u64,
        status: RecipientStatus,
        reason: u32,
        at: Millis,
    ) -> Option<Event> {
        let word = match status {
            RecipientStatus::Processed => "PROCESSED",
            RecipientStatus::Received => "RECEIVED",
            RecipientStatus::Read => "READ",
            RecipientStatus::Failed => "FAILED",
            RecipientStatus::Pending | RecipientStatus::Sending => return None,
        };
        Some(Event::of_recipient(campaign, seq, phone, word, reason, at))
    }

    /// A counted reply of a recipient.
    pub fn replied(campaign: Uuid, seq: u32, phone: u64, at: Millis) -> Event {
        Event::of_recipient(campaign, seq, phone, "REPLIED", 0, at)
    }

    fn of_recipient(campaign: Uuid, seq: u32, phone: u64, word: &str, reason: u32, at: Millis) -> Event {
        Event {
            id: Uuid::now_v7(),
            kind: EventKind::RecipientStatus,
            campaign,
            recipient: Some(seq),
            phone,
            status: word.to_owned(),
            reason,
            at,
        }
    }

    /// A campaign's change of status, when `before` differs from `after`.
    pub fn campaign(campaign: Uuid, before: CampaignStatus, after: CampaignStatus, at: Millis) -> Option<Event> {
        (before != after).then(|| Event {
            id: Uuid::now_v7(),
            kind: EventKind::CampaignStatus,
            campaign,
            recipient: None,
            phone: 0,
            status: after.rest().to_owned(),
            reason: 0,
            at,
        })
    }
}

/// One event for one webhook, with its delivery's progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Outbox order (events of one recipient are delivered in it).
    pub order: i64,
    pub webhook: Uuid,
    pub event: Event,
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_code: Option<u16>,
    pub last_error: Option<String>,
    /// Not attempted before this (0: at once).
    pub next_at: Millis,
    /// The first attempt (0: none yet); `webhooks.retry_for_ms` counts from it.
    pub first_at: Millis,
}

impl Delivery {
    pub fn new(order: i64, webhook: Uuid, event: Event) -> Delivery {
        Delivery {
            order,
            webhook,
            event,
            state: DeliveryState::Pending,
            attempts: 0,
            last_code: None,
            last_error: None,
            next_at: 0,
            first_at: 0,
        }
    }

    /// What must be delivered before this one: the same recipient (or, for a campaign event,
    /// the same campaign's status).
    pub fn key(&self) -> (Uuid, Option<u32>) {
        (self.event.campaign, self.event.recipient)
    }

    /// Sent again from the start of a new retry window (same event id).
    pub fn replay(&mut self) {
        self.state = DeliveryState::Pending;
        self.next_at = 0;
        self.first_at = 0;
    }
}

/// `now` as Unix milliseconds of the system clock, for stores that have no gateway clock
/// (a campaign's change of status is told with it).
pub fn wall_now() -> Millis {
    chrono::Utc::now().timestamp_millis()
}
