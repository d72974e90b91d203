//! `[segments]`: the bounds of saved segments (campaign-features.md, "Saved segments"). Every
//! field is in the README's table.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentSettings {
    /// Characters a segment's name may have (after trimming); longer → 400.
    pub max_name_chars: usize,
    /// Segments one workspace may hold; creating one more → 409. Listing them scans the
    /// contacts once per page, whatever the count, but each segment's filters run per contact.
    pub max_per_workspace: u64,
}

impl Default for SegmentSettings {
    fn default() -> Self {
        SegmentSettings { max_name_chars: 200, max_per_workspace: 1000 }
    }
}

impl SegmentSettings {
    /// The rule serde cannot express, as (key, message).
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        super::validation::at_least_one(
            "segments",
            &[("max_name_chars", self.max_name_chars as u64), ("max_per_workspace", self.max_per_workspace)],
        )
    }
}
