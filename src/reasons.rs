//! Recipient failure reasons: BLiP's codes, and the provider codes passed through with the
//! titles the engine learned for them ([`Reasons`], one table per engine).

use std::borrow::Cow;

use dashmap::DashMap;

/// Invalid phone number (`numberStatus: INVALID`).
pub const INVALID_PHONE: u32 = 1001;
/// Recipient is not reachable on this channel.
pub const UNREACHABLE: u32 = 1002;
/// Template not found or not approved.
pub const TEMPLATE_NOT_APPROVED: u32 = 1003;
/// Missing message parameter.
pub const MISSING_PARAMETER: u32 = 1004;
/// The provider kept failing transiently for every attempt *(our code)*.
pub const PROVIDER_UNAVAILABLE: u32 = 1005;
/// The campaign's channel no longer exists *(our code)*.
pub const CHANNEL_UNAVAILABLE: u32 = 1006;
/// A send was handed to a channel that does not deduplicate and a crash lost its outcome;
/// with `storage.sending_recovery = "fail"` it is not sent again *(our code)*.
pub const OUTCOME_UNKNOWN: u32 = 1007;
/// The person is on the tenant's suppression list (opted out).
pub const OPTED_OUT: u32 = 1008;
/// The message recipient was in attendance (open conversation).
pub const IN_ATTENDANCE: u32 = 1602;

/// Reasons a retry's `transient` scope takes back: failures that can succeed later with
/// the same message. Ours: the provider failing on every attempt (1005), the channel gone
/// (1006), the person in attendance (1602, until the conversation closes). WhatsApp's
/// (providers.md): the rate limits (4, 80007, 130429, 130472, 131056), provider errors
/// (131000, 131016), and 131026 "undeliverable", which mostly means the phone was off or
/// out of reach. Not here: template and parameter errors (1003, 1004: the campaign has to be
/// fixed first), unreachable on the channel (1002), the 24 h window (131047), a lost outcome
/// (1007: the person may have it already), and the two a retry never takes
/// ([`NEVER_RETRIED`]).
pub const TRANSIENT: &[u32] = &[
    PROVIDER_UNAVAILABLE,
    CHANNEL_UNAVAILABLE,
    IN_ATTENDANCE,
    4,
    80007,
    130429,
    130472,
    131000,
    131016,
    131026,
    131056,
];

/// Reasons no retry takes back, whatever it names: an invalid number fails again, and a
/// person who opted out must not be written to.
pub const NEVER_RETRIED: &[u32] = &[INVALID_PHONE, OPTED_OUT];

/// At most this many provider titles are kept.
const MAX_LEARNED: usize = 4096;

/// The titles providers gave for codes of their own, so reports can show them. Owned by the
/// engine: the dispatcher learns, the views describe.
#[derive(Debug, Default)]
pub struct Reasons {
    learned: DashMap<u32, Box<str>>,
}

impl Reasons {
    pub fn new() -> Reasons {
        Reasons::default()
    }

    /// Records a provider's title for a code it used (the first title wins).
    pub fn remember(&self, code: u32, description: &str) {
        if describe_known(code).is_none() && !self.learned.contains_key(&code) && self.learned.len() < MAX_LEARNED {
            self.learned.insert(code, description.into());
        }
    }

    /// The description of a reason code.
    pub fn describe(&self, code: u32) -> Cow<'static, str> {
        match describe_known(code) {
            Some(known) => Cow::Borrowed(known),
            None => self.learned.get(&code).map_or(Cow::Borrowed("Provider error"), |d| Cow::Owned(d.to_string())),
        }
    }
}

fn describe_known(code: u32) -> Option<&'static str> {
    Some(match code {
        INVALID_PHONE => "Invalid phone number",
        UNREACHABLE => "Recipient is not reachable on this channel",
        TEMPLATE_NOT_APPROVED => "Template not found or not approved",
        MISSING_PARAMETER => "Missing message parameter",
        PROVIDER_UNAVAILABLE => "The provider failed on every attempt",
        CHANNEL_UNAVAILABLE => "The campaign channel is not available",
        OUTCOME_UNKNOWN => "The send outcome was lost in a restart; not sent again (storage.sending_recovery = fail)",
        OPTED_OUT => "Recipient opted out",
        IN_ATTENDANCE => "The message recipient was in attendance",
        131026 => "Message undeliverable",
        131049 => "This message was not delivered to maintain healthy ecosystem engagement",
        131047 => "Re-engagement message",
        131051 => "Unsupported message type",
        131000 => "Something went wrong",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_keep_their_titles_and_provider_codes_are_learned_once() {
        let reasons = Reasons::new();
        assert_eq!(reasons.describe(777), "Provider error");
        reasons.remember(777, "Quota exceeded");
        reasons.remember(777, "Something else");
        reasons.remember(INVALID_PHONE, "Not this");
        assert_eq!(reasons.describe(777), "Quota exceeded");
        assert_eq!(reasons.describe(INVALID_PHONE), "Invalid phone number");
        assert_eq!(Reasons::new().describe(777), "Provider error", "each engine learns its own");
    }
}
