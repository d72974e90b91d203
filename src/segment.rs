//! A saved segment: a named set of audience filters of a workspace that campaigns refer to by
//! id (`segment_id`) and resolve when they start (campaign-features.md, "Saved segments").

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::campaign::{Campaign, CampaignStatus, Millis};
use crate::filter::Filters;
use crate::spec::RestSpec;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: Uuid,
    pub tenant: String,
    /// Trimmed; unique in the workspace, compared case-insensitively ([`Segment::name_key`]).
    pub name: String,
    pub filters: Filters,
    pub created: Millis,
    pub updated: Millis,
}

impl Segment {
    /// The form two names are compared in: "Clientes SP" and "clientes sp" are the same name.
    pub fn name_key(name: &str) -> String {
        name.trim().to_lowercase()
    }
}

/// Campaigns in these statuses still resolve their segment (at start), so their segment
/// cannot be deleted. A SCHEDULED campaign froze its audience when it was started.
pub const RESOLVING: &[CampaignStatus] = &[CampaignStatus::Draft];

/// Whether `c` refers to segment `id`.
pub fn uses(c: &Campaign, id: Uuid) -> bool {
    RestSpec::of(c).is_some_and(|s| s.segment_id == Some(id))
}

/// What deleting a segment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentDeleted {
    Deleted,
    /// No such segment in the workspace.
    NotFound,
    /// Kept: these campaigns (id, name) resolve it still.
    InUse(Vec<(Uuid, String)>),
}
