//! The recipient model: a campaign's recipients, their states, parameters and counts, and the
//! message id of each send.
//!
//! Like campaigns, recipients have two vocabularies: the LIME face shows `PROCESSED` and
//! `RECEIVED`, the REST face `SENT` and `DELIVERED`. The mapping lives here and nowhere else.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::campaign::{ChannelType, Millis};
pub use crate::params::Params;
use crate::phone::Phone;

/// Where a recipient is. Moves only forward: PENDING → SENDING → PROCESSED → RECEIVED → READ,
/// FAILED from any state before RECEIVED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum RecipientStatus {
    Pending = 0,
    /// Handed to the channel, outcome not yet recorded (crash-safe dispatch).
    Sending = 1,
    Processed = 2,
    Received = 3,
    Read = 4,
    Failed = 5,
}

impl RecipientStatus {
    pub fn lime(self) -> &'static str {
        match self {
            RecipientStatus::Pending | RecipientStatus::Sending => "PENDING",
            RecipientStatus::Processed => "PROCESSED",
            RecipientStatus::Received => "RECEIVED",
            RecipientStatus::Read => "READ",
            RecipientStatus::Failed => "FAILED",
        }
    }

    pub fn rest(self) -> &'static str {
        match self {
            RecipientStatus::Pending | RecipientStatus::Sending => "PENDING",
            RecipientStatus::Processed => "SENT",
            RecipientStatus::Received => "DELIVERED",
            RecipientStatus::Read => "READ",
            RecipientStatus::Failed => "FAILED",
        }
    }

    /// Parses either vocabulary, case-insensitively.
    pub fn parse_any(s: &str) -> Option<RecipientStatus> {
        Some(match s.to_ascii_uppercase().as_str() {
            "PENDING" => RecipientStatus::Pending,
            "PROCESSED" | "SENT" => RecipientStatus::Processed,
            "RECEIVED" | "DELIVERED" => RecipientStatus::Received,
            "READ" => RecipientStatus::Read,
            "FAILED" => RecipientStatus::Failed,
            _ => return None,
        })
    }

    /// Whether a recipient in `self` may move to `next` (receipts out of order are ignored).
    pub fn may_become(self, next: RecipientStatus) -> bool {
        use RecipientStatus::*;
        match (self, next) {
            (Failed, _) => false,
            (from, Failed) => from < Received,
            (from, to) => to > from,
        }
    }
}

/// A recipient to add to a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecipient {
    /// The phone as given.
    pub given: String,
    /// `None` when the number is invalid (kept, fails with 1001 at send).
    pub phone: Option<Phone>,
    pub params: Params,
    /// JSON object text of context variables.
    pub context: Option<Box<str>>,
    /// REST face: the contact this recipient comes from.
    pub contact_id: Option<Box<str>>,
}

/// What few recipients have, boxed so that each of the many without it costs one pointer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecipientExtra {
    /// The text as given, kept only when it differs from `+digits`.
    pub given: Option<Box<str>>,
    /// JSON object text of context variables.
    pub context: Option<Box<str>>,
    /// REST face: the contact this recipient comes from.
    pub contact_id: Option<Box<str>>,
}

impl RecipientExtra {
    /// `None` when all three are absent.
    pub fn boxed(
        given: Option<Box<str>>,
        context: Option<Box<str>>,
        contact_id: Option<Box<str>>,
    ) -> Option<Box<Self>> {
        (given.is_some() || context.is_some() || contact_id.is_some())
            .then(|| Box::new(RecipientExtra { given, context, contact_id }))
    }
}

/// One recipient of a campaign, as stored (compact: 80 bytes plus its parameter text, so a
/// million of them fit in ~200 MB with the store's phone index).
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    /// Insertion order within the campaign, from 0.
    pub seq: u32,
    pub status: RecipientStatus,
    /// 0 = no reason.
    pub reason: u32,
    /// E.164 digits; 0 = invalid number.
    pub phone: u64,
    /// The phone was given as its digits without `+` (as BLiP users mostly write it), so
    /// the given text is rebuilt rather than stored.
    pub given_plain: bool,
    pub params: Params,
    /// The given text (when not `+digits`), context variables and contact id, if any.
    pub extra: Option<Box<RecipientExtra>>,
    pub processed_at: Millis,
    pub received_at: Millis,
    pub read_at: Millis,
    pub failed_at: Millis,
    /// Times a retry moved it back to PENDING (0 = its first send); its message id carries
    /// the attempt from the second on.
    pub retries: u16,
    /// The reason of its first failure, kept when a retry clears `reason` (0 = none).
    pub first_reason: u32,
}

/// The given text of a recipient whose number is `phone` (0 = invalid), split into what must
/// be kept and whether it was the digits without `+`; `+digits` and the digits alone are
/// rebuilt from the number.
pub fn split_given(phone: u64, given: Option<String>) -> (Option<Box<str>>, bool) {
    let Some(given) = given else { return (None, false) };
    if phone != 0 {
        let digits = phone.to_string();
        if given == digits {
            return (None, true);
        }
        if given.strip_prefix('+') == Some(digits.as_str()) {
            return (None, false);
        }
    }
    (Some(given.into_boxed_str()), false)
}

// The memory store keeps a million of these per campaign; a field that grows it should be
// rare enough to live in `RecipientExtra`.
const _: () = assert!(std::mem::size_of::<Recipient>() <= 80);

impl Recipient {
    pub fn new(seq: u32, r: NewRecipient) -> Recipient {
        let phone = r.phone.map(|p| p.as_u64()).unwrap_or(0);
        let (given, given_plain) = split_given(phone, Some(r.given));
        Recipient {
            seq,
            status: RecipientStatus::Pending,
            reason: 0,
            phone,
            given_plain,
            params: r.params,
            extra: RecipientExtra::boxed(given, r.context, r.contact_id),
            processed_at: 0,
            received_at: 0,
            read_at: 0,
            failed_at: 0,
            retries: 0,
            first_reason: 0,
        }
    }

    /// The id of this recipient's current send ([`message_id`], with `#<attempt>` from the
    /// second attempt on).
    pub fn message_id(&self, campaign: Uuid) -> String {
        attempt_message_id(campaign, self.seq, self.retries)
    }

    /// Sends tried so far, counting the one in progress (1 = the first).
    pub fn attempts(&self) -> u32 {
        u32::from(self.retries) + 1
    }

    /// FAILED → PENDING for another attempt: the first failure's reason is kept, the
    /// timestamps of the failed attempt are cleared. False when it was not FAILED.
    pub fn retry(&mut self) -> bool {
        if self.status != RecipientStatus::Failed {
            return false;
        }
        if self.first_reason == 0 {
            self.first_reason = self.reason;
        }
        self.retries = self.retries.saturating_add(1);
        self.status = RecipientStatus::Pending;
        self.reason = 0;
        self.processed_at = 0;
        self.received_at = 0;
        self.read_at = 0;
        self.failed_at = 0;
        true
    }

    pub fn phone(&self) -> Option<Phone> {
        Phone::from_u64(self.phone)
    }

    fn extra_field(&self, f: impl Fn(&RecipientExtra) -> &Option<Box<str>>) -> Option<&str> {
        self.extra.as_deref().and_then(|e| f(e).as_deref())
    }

    /// The given text, when it differs from `+digits` and from the digits alone.
    pub fn given_text(&self) -> Option<&str> {
        self.extra_field(|e| &e.given)
    }

    /// The given text unless it is `+digits`: what a store writes and gives back to
    /// [`split_given`].
    pub fn stored_given(&self) -> Option<String> {
        match self.given_text() {
            Some(g) => Some(g.to_owned()),
            None => self.given_plain.then(|| self.phone.to_string()),
        }
    }

    /// JSON object text of the context variables.
    pub fn context(&self) -> Option<&str> {
        self.extra_field(|e| &e.context)
    }

    /// REST face: the contact this recipient comes from.
    pub fn contact_id(&self) -> Option<&str> {
        self.extra_field(|e| &e.contact_id)
    }

    /// The recipient as it was given.
    pub fn given(&self) -> String {
        match (self.given_text(), self.phone()) {
            (Some(g), _) => g.to_string(),
            (None, Some(_)) if self.given_plain => self.phone.to_string(),
            (None, Some(p)) => p.to_string(),
            (None, None) => String::new(),
        }
    }

    /// `digits@wa.gw.msging.net` for valid numbers, the given text otherwise.
    pub fn identity(&self, channel: ChannelType) -> String {
        match self.phone() {
            Some(p) => crate::phone::identity(p, channel.identity_domain()),
            None => self.given(),
        }
    }

    /// Applies a status change if it moves forward; returns whether it did.
    pub fn advance(&mut self, next: RecipientStatus, at: Millis, reason: u32) -> bool {
        if !self.status.may_become(next) {
            return false;
        }
        match next {
            RecipientStatus::Pending | RecipientStatus::Sending => {}
            RecipientStatus::Processed => self.processed_at = at,
            RecipientStatus::Received => {
                if self.processed_at == 0 {
                    self.processed_at = at;
                }
                self.received_at = at;
            }
            RecipientStatus::Read => {
                if self.processed_at == 0 {
                    self.processed_at = at;
                }
                if self.received_at == 0 {
                    self.received_at = at;
                }
                self.read_at = at;
            }
            RecipientStatus::Failed => {
                self.failed_at = at;
                self.reason = reason;
            }
        }
        self.status = next;
        true
    }
}

/// Recipients per current state; the states add up to `total`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: u64,
    pub pending: u64,
    pub processed: u64,
    pub received: u64,
    pub read: u64,
    pub failed: u64,
    /// Recipients who answered within `conversations.reply_window_ms` (not a state: a
    /// recipient that replied is also READ or RECEIVED).
    #[serde(default)]
    pub replied: u64,
}

impl Counts {
    fn slot(&mut self, s: RecipientStatus) -> &mut u64 {
        match s {
            RecipientStatus::Pending | RecipientStatus::Sending => &mut self.pending,
            RecipientStatus::Processed => &mut self.processed,
            RecipientStatus::Received => &mut self.received,
            RecipientStatus::Read => &mut self.read,
            RecipientStatus::Failed => &mut self.failed,
        }
    }

    pub fn add(&mut self, s: RecipientStatus) {
        self.total += 1;
        *self.slot(s) += 1;
    }

    pub fn moved(&mut self, from: RecipientStatus, to: RecipientStatus) {
        *self.slot(from) -= 1;
        *self.slot(to) += 1;
    }
}

/// Message id the gateway gives the send of recipient `seq` of `campaign`: stable, so that a
/// re-send after a crash carries the same id and a deduplicating channel drops it.
pub fn message_id(campaign: Uuid, seq: u32) -> String {
    format!("ig.{}.{seq}", campaign.simple())
}

/// The id of attempt `retries + 1` of a send: [`message_id`] for the first, `…#2`, `#3` after
/// retries, so that a deduplicating channel does not drop a retry as a repeat.
pub fn attempt_message_id(campaign: Uuid, seq: u32, retries: u16) -> String {
    match retries {
        0 => message_id(campaign, seq),
        n => format!("{}#{}", message_id(campaign, seq), u32::from(n) + 1),
    }
}

/// Inverse of [`message_id`] (and of [`attempt_message_id`], whose attempt it drops).
pub fn parse_message_id(id: &str) -> Option<(Uuid, u32)> {
    let rest = id.strip_prefix("ig.")?;
    let rest = rest.split_once('#').map_or(rest, |(id, _)| id);
    let (c, seq) = rest.split_once('.')?;
    Some((Uuid::try_parse(c).ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipient_is_reported_as_it_was_given() {
        let phones = crate::phone::PhoneNormalizer::new("55").unwrap();
        for given in ["5531998761234", "+5531998761234", "(31) 99876-1234", "not a phone"] {
            let phone = phones.normalize(given).ok();
            let new =
                NewRecipient { given: given.into(), phone, params: Params::default(), context: None, contact_id: None };
            let r = Recipient::new(0, new);
            assert_eq!(r.given(), given);
            // A store keeps `stored_given` and rebuilds the recipient from it.
            let (kept, plain) = split_given(r.phone, r.stored_given());
            assert_eq!((kept.as_deref(), plain), (r.given_text(), r.given_plain), "{given}");
        }
        // The two usual forms cost no allocation.
        let plain = Recipient::new(
            0,
            NewRecipient {
                given: "5531998761234".into(),
                phone: phones.normalize("5531998761234").ok(),
                params: Params::default(),
                context: None,
                contact_id: None,
            },
        );
        assert!(plain.extra.is_none() && plain.given_plain);
    }

    #[test]
    fn receipts_only_move_forward() {
        use RecipientStatus::*;
        assert!(Pending.may_become(Processed));
        assert!(Processed.may_become(Read));
        assert!(!Read.may_become(Received));
        assert!(!Received.may_become(Failed));
        assert!(Processed.may_become(Failed));
        assert!(!Failed.may_become(Read));
    }

    #[test]
    fn read_without_received_sets_both_timestamps() {
        let mut r = Recipient::new(
            0,
            NewRecipient { given: "x".into(), phone: None, params: Params::default(), context: None, contact_id: None },
        );
        assert!(r.advance(RecipientStatus::Processed, 10, 0));
        assert!(r.advance(RecipientStatus::Read, 30, 0));
        assert_eq!((r.received_at, r.read_at), (30, 30));
        assert!(!r.advance(RecipientStatus::Received, 40, 0));
        assert_eq!(r.received_at, 30);
    }

    #[test]
    fn params_pack_and_unpack_in_order() {
        let p = Params::from_pairs([("2", "b"), ("1", "a"), ("url", "")]).unwrap();
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![("2", "b"), ("1", "a"), ("url", "")]);
        assert_eq!(p.get("1"), Some("a"));
        assert!(Params::from_pairs([("k", "bad\u{1f}")]).is_err());
        assert!(Params::default().iter().next().is_none());
    }

    #[test]
    fn message_ids_round_trip() {
        let c = Uuid::new_v4();
        assert_eq!(parse_message_id(&message_id(c, 42)), Some((c, 42)));
        assert_eq!(parse_message_id("wamid.HBgM"), None);
        assert_eq!(attempt_message_id(c, 42, 0), message_id(c, 42));
        assert_eq!(attempt_message_id(c, 42, 1), format!("{}#2", message_id(c, 42)));
        assert_eq!(parse_message_id(&attempt_message_id(c, 42, 2)), Some((c, 42)));
    }
}
