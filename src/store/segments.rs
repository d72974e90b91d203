//! The store's part for saved segments: a trait of its own that [`super::Store`] requires,
//! so that each backend implements it in its `segments` module.

use async_trait::async_trait;
use uuid::Uuid;

use super::Page;
use crate::campaign::CampaignStatus;
use crate::error::Result;
use crate::segment::{Segment, SegmentDeleted};

#[async_trait]
pub trait SegmentStore: Send + Sync {
    /// Stores a new segment. `NotAllowed` (nothing written) when the tenant has a segment of
    /// the same name ([`Segment::name_key`]) or when it holds `max` already.
    async fn insert_segment(&self, segment: Segment, max: u64) -> Result<()>;

    /// A segment of `tenant`; another tenant's id is `None` like a missing one.
    async fn segment(&self, tenant: &str, id: Uuid) -> Result<Option<Segment>>;

    /// Segments of `tenant` in creation order: (total, page).
    async fn segments(&self, tenant: &str, page: Page) -> Result<(u64, Vec<Segment>)>;

    /// Replaces a segment (by tenant and id). `NotFound` when there is none; `NotAllowed`
    /// (nothing written) when another segment of the tenant has its name.
    async fn replace_segment(&self, segment: Segment) -> Result<()>;

    /// Deletes a segment unless a campaign of the tenant in one of `blocking` refers to it
    /// (`segment_id`); the check and the delete are one step.
    async fn delete_segment(&self, tenant: &str, id: Uuid, blocking: &[CampaignStatus]) -> Result<SegmentDeleted>;
}
