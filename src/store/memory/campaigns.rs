//! Campaigns: their cells (one lock each), listed per tenant in creation order.

use std::sync::Arc;

use parking_lot::RwLock;
use uuid::Uuid;

use super::{CampaignCell, CampaignData, HashMap, MemoryStore};
use crate::callbacks::outbox::{wall_now, Event};
use crate::campaign::{Campaign, CampaignStatus, Counts, NewRecipient};
use crate::error::Result;
use crate::store::rules::{matches, not_deletable, not_found};
use crate::store::{AudienceAdded, CampaignChange, CampaignFilter, Page, StartChange};

pub(super) fn insert(store: &MemoryStore, campaign: Campaign, audience: Vec<NewRecipient>) -> Result<AudienceAdded> {
    let id = campaign.id;
    let tenant = campaign.tenant.clone();
    let mut data = CampaignData {
        campaign,
        recipients: Vec::new(),
        by_phone: HashMap::default(),
        counts: Counts::default(),
        replied: Default::default(),
        first_pending: 0,
        deleted: false,
    };
    let added = data.add(audience, u64::MAX)?;
    // A campaign created started (LIME `set /campaign/full`) tells its first status.
    told(store, &data.campaign, CampaignStatus::Draft);
    let cell = Arc::new(CampaignCell { tenant: tenant.clone(), data: RwLock::new(data) });
    store.campaigns.insert(id, cell);
    store.tenant(&tenant).campaigns.write().push(id);
    Ok(added)
}

pub(super) fn find(store: &MemoryStore, tenant: &str, id: Uuid) -> Result<Option<Campaign>> {
    Ok(store.cell(tenant, id).map(|c| c.data.read().campaign.clone()))
}

pub(super) fn list(
    store: &MemoryStore,
    tenant: &str,
    filter: &CampaignFilter,
    page: Page,
) -> Result<(u64, Vec<Campaign>)> {
    let ids = store.tenant(tenant).campaigns.read().clone();
    let mut all: Vec<Campaign> = ids
        .iter()
        .rev()
        .filter_map(|id| store.any_cell(*id))
        .map(|c| c.data.read().campaign.clone())
        .filter(|c| matches(c, filter))
        .collect();
    // Newest first; ties keep reverse insertion order (sort is stable).
    all.sort_by_key(|c| std::cmp::Reverse(c.created));
    let total = all.len() as u64;
    let page = all.into_iter().skip(page.skip as usize).take(page.take as usize).collect();
    Ok((total, page))
}

pub(super) fn update(store: &MemoryStore, tenant: &str, id: Uuid, change: CampaignChange<'_>) -> Result<Campaign> {
    let cell = store.cell(tenant, id).ok_or_else(|| not_found(id))?;
    let mut data = cell.data.write();
    if data.deleted {
        return Err(not_found(id));
    }
    let mut updated = data.campaign.clone();
    change(&mut updated)?;
    let before = data.campaign.status;
    data.campaign = updated.clone();
    told(store, &updated, before);
    Ok(updated)
}

/// [`crate::store::Store::start_campaign`] under the campaign's one lock: the change is tried
/// on a copy with the total the audience would make, and the audience added only after it
/// passed, so that a refusal changes nothing.
pub(super) fn start(
    store: &MemoryStore,
    tenant: &str,
    id: Uuid,
    audience: Vec<NewRecipient>,
    max_total: u64,
    change: StartChange<'_>,
) -> Result<Campaign> {
    let cell = store.cell(tenant, id).ok_or_else(|| not_found(id))?;
    let mut data = cell.data.write();
    if data.deleted {
        return Err(not_found(id));
    }
    let total = data.total_after(&audience, max_total)?;
    let mut started = data.campaign.clone();
    change(&mut started, total)?;
    if !audience.is_empty() {
        data.add(audience, max_total)?;
    }
    let before = data.campaign.status;
    data.campaign = started.clone();
    told(store, &started, before);
    Ok(started)
}

/// The status callback of a campaign whose status was `before` (under its lock: in order).
fn told(store: &MemoryStore, campaign: &Campaign, before: CampaignStatus) {
    if let Some(e) = Event::campaign(campaign.id, before, campaign.status, wall_now()) {
        super::callbacks::enqueue(store, &campaign.tenant, vec![e]);
    }
}

pub(super) fn delete(store: &MemoryStore, tenant: &str, id: Uuid, allowed: &[CampaignStatus]) -> Result<()> {
    let cell = store.cell(tenant, id).ok_or_else(|| not_found(id))?;
    {
        // Checked and removed under the campaign's lock: a concurrent dispatch either
        // happened before (and the status refuses the delete) or finds it gone.
        let mut data = cell.data.write();
        if data.deleted {
            return Err(not_found(id));
        }
        if !allowed.contains(&data.campaign.status) {
            return Err(not_deletable(data.campaign.status));
        }
        data.deleted = true;
        store.campaigns.remove(&id);
    }
    store.tenant(tenant).campaigns.write().retain(|c| *c != id);
    Ok(())
}

pub(super) fn in_statuses(store: &MemoryStore, statuses: &[CampaignStatus]) -> Result<Vec<Campaign>> {
    let cells: Vec<Arc<CampaignCell>> = store.campaigns.iter().map(|e| e.value().clone()).collect();
    Ok(cells.into_iter().map(|c| c.data.read().campaign.clone()).filter(|c| statuses.contains(&c.status)).collect())
}

pub(super) fn counts(store: &MemoryStore, tenant: &str, id: Uuid) -> Result<Counts> {
    let cell = store.cell(tenant, id).ok_or_else(|| not_found(id))?;
    let counts = cell.data.read().counts;
    Ok(counts)
}
