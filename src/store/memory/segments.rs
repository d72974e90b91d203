//! Saved segments of one workspace, in memory: a list in creation order behind the tenant's
//! lock, names unique as [`Segment::name_key`] compares them.

use async_trait::async_trait;
use uuid::Uuid;

use super::MemoryStore;
use crate::campaign::CampaignStatus;
use crate::error::Result;
use crate::segment::{self, Segment, SegmentDeleted};
use crate::store::rules::{duplicate_segment, segment_not_found, too_many_segments};
use crate::store::{Page, SegmentStore};

fn name_taken(list: &[Segment], s: &Segment) -> bool {
    let key = Segment::name_key(&s.name);
    list.iter().any(|x| x.id != s.id && Segment::name_key(&x.name) == key)
}

#[async_trait]
impl SegmentStore for MemoryStore {
    async fn insert_segment(&self, segment: Segment, max: u64) -> Result<()> {
        let cell = self.tenant(&segment.tenant);
        let mut list = cell.segments.lock();
        if list.len() as u64 >= max {
            return Err(too_many_segments(max));
        }
        if name_taken(&list, &segment) {
            return Err(duplicate_segment(&segment.name));
        }
        list.push(segment);
        Ok(())
    }

    async fn segment(&self, tenant: &str, id: Uuid) -> Result<Option<Segment>> {
        Ok(self.tenant(tenant).segments.lock().iter().find(|s| s.id == id).cloned())
    }

    async fn segments(&self, tenant: &str, page: Page) -> Result<(u64, Vec<Segment>)> {
        let cell = self.tenant(tenant);
        let list = cell.segments.lock();
        let data = list.iter().skip(page.skip as usize).take(page.take as usize).cloned().collect();
        Ok((list.len() as u64, data))
    }

    async fn replace_segment(&self, segment: Segment) -> Result<()> {
        let cell = self.tenant(&segment.tenant);
        let mut list = cell.segments.lock();
        if name_taken(&list, &segment) {
            return Err(duplicate_segment(&segment.name));
        }
        let slot = list.iter_mut().find(|s| s.id == segment.id).ok_or_else(|| segment_not_found(segment.id))?;
        *slot = segment;
        Ok(())
    }

    async fn delete_segment(&self, tenant: &str, id: Uuid, blocking: &[CampaignStatus]) -> Result<SegmentDeleted> {
        let cell = self.tenant(tenant);
        let mut list = cell.segments.lock();
        let Some(at) = list.iter().position(|s| s.id == id) else { return Ok(SegmentDeleted::NotFound) };
        let ids = cell.campaigns.read().clone();
        let users: Vec<(Uuid, String)> = ids
            .iter()
            .filter_map(|c| self.cell(tenant, *c))
            .map(|c| c.data.read().campaign.clone())
            .filter(|c| blocking.contains(&c.status) && segment::uses(c, id))
            .map(|c| (c.id, c.name))
            .collect();
        if !users.is_empty() {
            return Ok(SegmentDeleted::InUse(users));
        }
        list.remove(at);
        Ok(SegmentDeleted::Deleted)
    }
}
