//! Saved segments (campaign-features.md, "Saved segments"): named filters of a workspace,
//! checked as a campaign's filters are; their `contact_count` computed when read; a campaign
//! with a `segment_id` takes the segment's filters as they are when it starts; a segment a
//! DRAFT campaign still refers to cannot be deleted.

use uuid::Uuid;

use super::preview::Preview;
use super::Engine;
use crate::error::{Error, Result};
use crate::filter::Filters;
use crate::segment::{Segment, SegmentDeleted, RESOLVING};
use crate::spec::RestSpec;
use crate::store::{Page, Store};

/// A change of a segment: the fields given.
#[derive(Debug, Clone, Default)]
pub struct SegmentChange {
    pub name: Option<String>,
    pub filters: Option<Filters>,
}

/// A segment with the number of contacts (with a phone) it matches now.
#[derive(Debug, Clone)]
pub struct Counted {
    pub segment: Segment,
    pub contact_count: u64,
}

pub(super) fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("Segment {id} not found"))
}

impl Engine {
    /// A trimmed, non-empty name within `segments.max_name_chars`.
    fn segment_name(&self, name: &str) -> Result<String> {
        let name = name.trim();
        let max = self.segment_settings.max_name_chars;
        if name.is_empty() {
            return Err(Error::InvalidArgument("name is required".into()));
        }
        let chars = name.chars().count();
        if chars > max {
            return Err(Error::InvalidArgument(format!(
                "name has {chars} characters; at most {max} are allowed (segments.max_name_chars)"
            )));
        }
        Ok(name.to_owned())
    }

    /// Filters checked against the workspace's custom fields, as a campaign's are.
    async fn checked(&self, tenant: &str, filters: &Filters) -> Result<()> {
        filters.compile(&self.store.custom_fields(tenant).await?).map(drop)
    }

    async fn counted(&self, segment: Segment) -> Result<Counted> {
        let contact_count = self.match_counts(&segment.tenant, &[&segment.filters]).await?[0];
        Ok(Counted { segment, contact_count })
    }

    /// Saves a new segment. A duplicate name (case-insensitive) or a full workspace →
    /// `NotAllowed`.
    pub async fn create_segment(&self, tenant: &str, name: &str, filters: Filters) -> Result<Counted> {
        let name = self.segment_name(name)?;
        self.checked(tenant, &filters).await?;
        let now = self.clock.now();
        let segment =
            Segment { id: Uuid::new_v4(), tenant: tenant.to_owned(), name, filters, created: now, updated: now };
        self.store.insert_segment(segment.clone(), self.segment_settings.max_per_workspace).await?;
        tracing::info!(segment = %segment.id, tenant, "segment created");
        self.counted(segment).await
    }

    /// The segment `id` of `tenant` (`NotFound` for another tenant's).
    pub async fn segment(&self, tenant: &str, id: Uuid) -> Result<Segment> {
        self.store.segment(tenant, id).await?.ok_or_else(|| not_found(id))
    }

    pub async fn counted_segment(&self, tenant: &str, id: Uuid) -> Result<Counted> {
        self.counted(self.segment(tenant, id).await?).await
    }

    /// A page of the tenant's segments in creation order, each counted (one pass over the
    /// contacts for the whole page).
    pub async fn segments(&self, tenant: &str, page: Page) -> Result<(u64, Vec<Counted>)> {
        let (total, segments) = self.store.segments(tenant, page).await?;
        let filters: Vec<&Filters> = segments.iter().map(|s| &s.filters).collect();
        let counts = self.match_counts(tenant, &filters).await?;
        let counted =
            segments.into_iter().zip(counts).map(|(segment, contact_count)| Counted { segment, contact_count });
        Ok((total, counted.collect()))
    }

    /// Changes the fields given. Campaigns that refer to it and start later take the new
    /// filters; those started already keep the audience they froze.
    pub async fn update_segment(&self, tenant: &str, id: Uuid, change: SegmentChange) -> Result<Counted> {
        let mut segment = self.segment(tenant, id).await?;
        if let Some(name) = &change.name {
            segment.name = self.segment_name(name)?;
        }
        if let Some(filters) = change.filters {
            self.checked(tenant, &filters).await?;
            segment.filters = filters;
        }
        segment.updated = self.clock.now();
        self.store.replace_segment(segment.clone()).await?;
        self.counted(segment).await
    }

    /// Deletes a segment no DRAFT campaign refers to; `NotAllowed` naming those that do.
    pub async fn delete_segment(&self, tenant: &str, id: Uuid) -> Result<()> {
        match self.store.delete_segment(tenant, id, RESOLVING).await? {
            SegmentDeleted::Deleted => Ok(()),
            SegmentDeleted::NotFound => Err(not_found(id)),
            SegmentDeleted::InUse(campaigns) => {
                let named: Vec<String> = campaigns.iter().map(|(id, name)| format!("{id} (\"{name}\")")).collect();
                Err(Error::NotAllowed(format!(
                    "The segment is used by DRAFT campaign(s) {}; give them other filters or delete them first",
                    named.join(", ")
                )))
            }
        }
    }

    /// What the segment's filters reach now, as the campaign preview counts it.
    pub async fn preview_segment(
        &self,
        tenant: &str,
        id: Uuid,
        channel_id: Option<&str>,
        details: bool,
    ) -> Result<Preview> {
        let segment = self.segment(tenant, id).await?;
        self.preview(tenant, &segment.filters, channel_id, details).await
    }
}

/// The filters a REST campaign's audience comes from: its segment's as they are now when it
/// names one, else its own (none: every contact with a phone).
pub(super) async fn filters_of(store: &dyn Store, tenant: &str, spec: &RestSpec) -> Result<Filters> {
    match spec.segment_id {
        None => Ok(spec.filters.clone().unwrap_or_default()),
        Some(id) => match store.segment(tenant, id).await? {
            Some(segment) => Ok(segment.filters),
            None => Err(Error::InvalidArgument(format!(
                "The campaign's segment_id {id} no longer exists; give it filters or another segment_id"
            ))),
        },
    }
}
