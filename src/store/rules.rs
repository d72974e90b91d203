//! What both backends decide alike — which campaigns a filter keeps, what a patch does to a
//! contact, which phone an identity names, how a refusal reads — written once, so that the
//! memory store and the SQL store cannot drift apart.

use uuid::Uuid;

use super::CampaignFilter;
use crate::campaign::{Campaign, CampaignStatus, Counts, RecipientStatus};
use crate::contact::{Contact, ContactPatch};
use crate::error::Error;

/// Whether `c` passes every condition of `f`.
pub(super) fn matches(c: &Campaign, f: &CampaignFilter) -> bool {
    f.created_from.is_none_or(|t| c.created >= t)
        && f.created_to.is_none_or(|t| c.created < t)
        && f.sender.as_ref().is_none_or(|s| c.sender.eq_ignore_ascii_case(s))
        && f.source_application
            .as_ref()
            .is_none_or(|s| c.source_application.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(s)))
        && f.statuses.as_ref().is_none_or(|s| s.contains(&c.status))
        && f.channel_id.as_ref().is_none_or(|ch| &c.channel_id == ch)
}

/// Applies a patch to a contact. An identity, once a contact has one, is never replaced:
/// it is how the contact is found again.
pub(super) fn apply_patch(contact: &mut Contact, p: ContactPatch, now: i64) {
    if contact.identity.is_none() {
        contact.identity = p.identity;
    }
    if let Some(ph) = p.phone {
        contact.phone = Some(ph);
    }
    if let Some(n) = p.name {
        contact.name = Some(n);
    }
    if let Some(e) = p.email {
        contact.email = Some(e);
    }
    for (k, v) in p.merge_extras {
        contact.extras.insert(k, v);
    }
    if let Some(tags) = p.tags {
        contact.tags = tags;
    }
    if let Some(at) = p.last_interaction_at {
        contact.last_interaction_at = at;
    }
    if let Some(open) = p.has_open_conversation {
        contact.has_open_conversation = open;
    }
    contact.updated = now;
}

/// The phone an identity such as `5511988887777@wa.gw.msging.net` names: a contact known
/// by its phone only is still found by the identity a channel reports.
pub(super) fn phone_of_identity(identity: &str) -> Option<u64> {
    let name = identity.split('@').next().unwrap_or_default();
    name.parse::<u64>().ok().filter(|_| name.bytes().all(|b| b.is_ascii_digit()))
}

/// How many recipients `counts` has in `status` (SENDING is still pending).
pub(super) fn counted(counts: &Counts, status: RecipientStatus) -> u64 {
    match status {
        RecipientStatus::Pending | RecipientStatus::Sending => counts.pending,
        RecipientStatus::Processed => counts.processed,
        RecipientStatus::Received => counts.received,
        RecipientStatus::Read => counts.read,
        RecipientStatus::Failed => counts.failed,
    }
}

pub(super) fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("The campaign {id} was not found"))
}

pub(super) fn not_deletable(status: CampaignStatus) -> Error {
    Error::NotAllowed(format!("A campaign in status {} cannot be deleted", status.lime()))
}

/// An audience is frozen once the campaign leaves DRAFT.
pub(super) fn already_dispatched() -> Error {
    Error::NotAllowed("The campaign was already dispatched".into())
}

/// `total` recipients would pass the configured ceiling `max_total`.
pub(super) fn too_many(total: u64, max_total: u64) -> Error {
    Error::InvalidArgument(format!(
        "The campaign would have {total} recipients; the limit is {max_total} (campaigns.max_recipients_per_campaign)"
    ))
}

/// A workspace holds `window.max_keys` idempotency keys already.
pub(super) fn too_many_keys(window: super::IdempotencyWindow) -> Error {
    Error::LimitReached(format!(
        "This workspace holds {} idempotency keys (idempotency.max_keys); retry later or without Idempotency-Key",
        window.max_keys
    ))
}

/// Another segment of the workspace has this name.
pub(super) fn duplicate_segment(name: &str) -> Error {
    Error::NotAllowed(format!("A segment named \"{}\" already exists in this workspace", name.trim()))
}

/// The workspace holds `max` segments already.
pub(super) fn too_many_segments(max: u64) -> Error {
    Error::NotAllowed(format!(
        "This workspace holds {max} segments, the limit (segments.max_per_workspace); delete one first"
    ))
}

pub(super) fn segment_not_found(id: Uuid) -> Error {
    Error::NotFound(format!("Segment {id} not found"))
}
