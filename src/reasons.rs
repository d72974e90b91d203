//! Recipient failure reasons: BLiP's codes and the provider codes passed through with their
//! titles.

use std::sync::OnceLock;

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
/// The message recipient was in attendance (open conversation).
pub const IN_ATTENDANCE: u32 = 1602;

fn learned() -> &'static DashMap<u32, &'static str> {
    static LEARNED: OnceLock<DashMap<u32, &'static str>> = OnceLock::new();
    LEARNED.get_or_init(DashMap::new)
}

/// Records a provider's title for a code it used, so reports can show it.
pub fn remember(code: u32, description: &str) {
    if describe_known(code).is_none() && !learned().contains_key(&code) && learned().len() < 4096 {
        learned().insert(code, Box::leak(description.to_owned().into_boxed_str()));
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
        IN_ATTENDANCE => "The message recipient was in attendance",
        131026 => "Message undeliverable",
        131049 => "This message was not delivered to maintain healthy ecosystem engagement",
        131047 => "Re-engagement message",
        131051 => "Unsupported message type",
        131000 => "Something went wrong",
        _ => return None,
    })
}

/// The description of a reason code.
pub fn describe(code: u32) -> &'static str {
    describe_known(code).or_else(|| learned().get(&code).map(|d| *d)).unwrap_or("Provider error")
}
