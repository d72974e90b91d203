//! A campaign's audience: adding recipients (deduplicated by phone) and reading them back
//! by page, by status, or as the next PENDING ones to send.

use uuid::Uuid;

use super::{CampaignData, HashSet, MemoryStore};
use crate::campaign::{CampaignStatus, NewRecipient, Recipient, RecipientStatus};
use crate::error::Result;
use crate::store::rules::{already_dispatched, counted, not_found, too_many};
use crate::store::{AudienceAdded, Page};

impl CampaignData {
    /// Adds recipients, replacing the parameters of a phone already present.
    /// How many recipients the campaign would hold with `audience` added; `InvalidArgument`
    /// over `max_total`.
    pub(super) fn total_after(&self, audience: &[NewRecipient], max_total: u64) -> Result<u64> {
        let mut seen = HashSet::default();
        let new_phones = audience
            .iter()
            .filter(|r| r.phone.map(|p| !self.by_phone.contains_key(&p.as_u64()) && seen.insert(p)).unwrap_or(true))
            .count() as u64;
        let total = self.recipients.len() as u64 + new_phones;
        if total > max_total {
            return Err(too_many(total, max_total));
        }
        Ok(total)
    }

    pub(super) fn add(&mut self, audience: Vec<NewRecipient>, max_total: u64) -> Result<AudienceAdded> {
        let mut result = AudienceAdded::default();
        let new_phones = self.total_after(&audience, max_total)? - self.recipients.len() as u64;
        self.recipients.reserve(new_phones as usize);
        for r in audience {
            let existing = r.phone.and_then(|p| self.by_phone.get(&p.as_u64()).copied());
            match existing {
                Some(seq) => {
                    let old = &mut self.recipients[seq as usize];
                    let replacement = Recipient::new(seq, r);
                    old.params = replacement.params;
                    old.extra = replacement.extra;
                    result.updated += 1;
                }
                None => {
                    let seq = self.recipients.len() as u32;
                    if let Some(p) = r.phone {
                        self.by_phone.insert(p.as_u64(), seq);
                    }
                    let recipient = Recipient::new(seq, r);
                    self.counts.add(recipient.status);
                    self.recipients.push(recipient);
                    result.added += 1;
                }
            }
        }
        result.total = self.recipients.len() as u64;
        Ok(result)
    }
}

pub(super) fn add(
    store: &MemoryStore,
    tenant: &str,
    id: Uuid,
    audience: Vec<NewRecipient>,
    max_total: u64,
) -> Result<AudienceAdded> {
    let cell = store.cell(tenant, id).ok_or_else(|| not_found(id))?;
    let mut data = cell.data.write();
    if data.deleted {
        return Err(not_found(id));
    }
    if data.campaign.status != CampaignStatus::Draft {
        return Err(already_dispatched());
    }
    data.add(audience, max_total)
}

pub(super) fn page(
    store: &MemoryStore,
    tenant: &str,
    id: Uuid,
    status: Option<RecipientStatus>,
    page: Page,
) -> Result<(u64, Vec<Recipient>)> {
    let cell = store.cell(tenant, id).ok_or_else(|| not_found(id))?;
    let data = cell.data.read();
    let (skip, take) = (page.skip as usize, page.take as usize);
    Ok(match status {
        None => {
            let total = data.recipients.len() as u64;
            (total, data.recipients.iter().skip(skip).take(take).cloned().collect())
        }
        Some(wanted) => {
            let same = |r: &&Recipient| match wanted {
                RecipientStatus::Pending => matches!(r.status, RecipientStatus::Pending | RecipientStatus::Sending),
                s => r.status == s,
            };
            (
                counted(&data.counts, wanted),
                data.recipients.iter().filter(same).skip(skip).take(take).cloned().collect(),
            )
        }
    })
}

pub(super) fn after(
    store: &MemoryStore,
    tenant: &str,
    id: Uuid,
    status: Option<RecipientStatus>,
    after: Option<u32>,
    limit: usize,
) -> Result<Vec<Recipient>> {
    let cell = store.cell(tenant, id).ok_or_else(|| not_found(id))?;
    let data = cell.data.read();
    // Sequence numbers are the positions in `recipients`, so a page starts by index.
    let start = after.map_or(0, |seq| seq as usize + 1);
    let wanted = |r: &&Recipient| match status {
        None => true,
        Some(RecipientStatus::Pending) => matches!(r.status, RecipientStatus::Pending | RecipientStatus::Sending),
        Some(s) => r.status == s,
    };
    Ok(data.recipients.iter().skip(start).filter(wanted).take(limit).cloned().collect())
}

pub(super) fn pending(store: &MemoryStore, campaign: Uuid, from: u32, limit: usize) -> Result<Vec<Recipient>> {
    let Some(cell) = store.any_cell(campaign) else { return Ok(Vec::new()) };
    let mut data = cell.data.write();
    let start = from.max(data.first_pending) as usize;
    let mut out = Vec::with_capacity(limit.min(data.recipients.len().saturating_sub(start)));
    let mut first_pending = None;
    for r in data.recipients.iter().skip(start) {
        if r.status == RecipientStatus::Pending {
            first_pending.get_or_insert(r.seq);
            out.push(r.clone());
            if out.len() == limit {
                break;
            }
        }
    }
    if start == data.first_pending as usize {
        data.first_pending = first_pending.unwrap_or(data.recipients.len() as u32);
    }
    Ok(out)
}

pub(super) fn sending(store: &MemoryStore, campaign: Uuid) -> Result<Vec<Recipient>> {
    let Some(cell) = store.any_cell(campaign) else { return Ok(Vec::new()) };
    let data = cell.data.read();
    Ok(data.recipients.iter().filter(|r| r.status == RecipientStatus::Sending).cloned().collect())
}
