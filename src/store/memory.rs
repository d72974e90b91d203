//! The in-memory store: DashMaps of per-campaign and per-tenant cells, each behind its own
//! lock. Fast and simple; everything is lost when the process stops.

/// The store's maps hash with foldhash (seeded per map, several times faster than SipHash
/// on these short keys; SipHash was a tenth of a million-recipient dispatch).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// Context variables of one identity, sorted by name.
type Variables = Vec<(Box<str>, Value)>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
use std::sync::Arc;

use async_trait::async_trait;
use dashmap::DashMap;
use parking_lot::RwLock;
use serde_json::Value;
use uuid::Uuid;

use super::rules::{
    already_dispatched, apply_patch, counted, matches, not_deletable, not_found, phone_of_identity, too_many,
};
use super::{AudienceAdded, CampaignChange, CampaignFilter, Outcome, Page, Receipt, Store};
use crate::campaign::{
    now_millis, parse_message_id, Campaign, CampaignStatus, Counts, NewRecipient, Recipient, RecipientStatus,
};
use crate::catalog::{ChannelDef, CustomFieldDef, TagDef, TemplateDef};
use crate::contact::{Contact, ContactKey, ContactPatch, ContextWrite};
use crate::error::Result;

#[derive(Default)]
pub struct MemoryStore {
    campaigns: DashMap<Uuid, Arc<CampaignCell>>,
    /// Provider message ids that are not the gateway's own (see `campaign::message_id`).
    message_ids: DashMap<String, (Uuid, u32)>,
    tenants: DashMap<String, Arc<TenantCell>>,
}

struct CampaignCell {
    tenant: String,
    data: RwLock<CampaignData>,
}

struct CampaignData {
    campaign: Campaign,
    recipients: Vec<Recipient>,
    by_phone: HashMap<u64, u32>,
    counts: Counts,
    /// No recipient before this one is PENDING.
    first_pending: u32,
    /// Removed from the store; a change racing with the delete finds nothing.
    deleted: bool,
}

#[derive(Default)]
struct TenantCell {
    /// Campaign ids in creation order.
    campaigns: RwLock<Vec<Uuid>>,
    contacts: RwLock<Contacts>,
    /// identity → variables sorted by name (a Vec: a BTreeMap node for the usual two
    /// variables cost ~600 bytes per contact of a million-recipient campaign).
    contexts: RwLock<HashMap<Box<str>, Variables>>,
    channels: RwLock<Vec<ChannelDef>>,
    templates: RwLock<Vec<TemplateDef>>,
    tags: RwLock<Vec<TagDef>>,
    custom_fields: RwLock<Vec<CustomFieldDef>>,
}

#[derive(Default)]
struct Contacts {
    by_id: HashMap<String, Contact>,
    order: Vec<String>,
    by_identity: HashMap<String, String>,
    by_phone: HashMap<u64, String>,
}

impl Contacts {
    fn find(&self, key: &ContactKey) -> Option<&String> {
        match key {
            ContactKey::Id(id) => self.by_id.get_key_value(id).map(|(k, _)| k),
            ContactKey::Identity(identity) => self
                .by_identity
                .get(&identity.to_ascii_lowercase())
                .or_else(|| self.by_phone.get(&phone_of_identity(identity)?)),
            ContactKey::Phone(p) => self.by_phone.get(p),
        }
    }

    fn index(&mut self, c: &Contact) {
        if let Some(identity) = &c.identity {
            self.by_identity.insert(identity.to_ascii_lowercase(), c.id.clone());
        }
        if let Some(p) = c.phone {
            self.by_phone.insert(p, c.id.clone());
        }
    }

    fn unindex(&mut self, c: &Contact) {
        if let Some(identity) = &c.identity {
            self.by_identity.remove(&identity.to_ascii_lowercase());
        }
        if let Some(p) = c.phone {
            if self.by_phone.get(&p) == Some(&c.id) {
                self.by_phone.remove(&p);
            }
        }
    }

    fn insert(&mut self, c: Contact) {
        self.index(&c);
        self.order.push(c.id.clone());
        self.by_id.insert(c.id.clone(), c);
    }
}

impl CampaignData {
    /// Adds recipients, replacing the parameters of a phone already present.
    fn add(&mut self, audience: Vec<NewRecipient>, max_total: u64) -> Result<AudienceAdded> {
        let mut result = AudienceAdded::default();
        let new_phones = {
            let mut seen = HashSet::default();
            audience
                .iter()
                .filter(|r| r.phone.map(|p| !self.by_phone.contains_key(&p.as_u64()) && seen.insert(p)).unwrap_or(true))
                .count()
        } as u64;
        if self.recipients.len() as u64 + new_phones > max_total {
            return Err(too_many(self.recipients.len() as u64 + new_phones, max_total));
        }
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

    fn advance(&mut self, seq: u32, status: RecipientStatus, at: i64, reason: u32) -> bool {
        let Some(r) = self.recipients.get_mut(seq as usize) else { return false };
        let from = r.status;
        if r.advance(status, at, reason) {
            self.counts.moved(from, status);
            true
        } else {
            false
        }
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn tenant(&self, tenant: &str) -> Arc<TenantCell> {
        if let Some(t) = self.tenants.get(tenant) {
            return t.clone();
        }
        self.tenants.entry(tenant.to_owned()).or_default().clone()
    }

    /// The campaign cell if it belongs to `tenant`.
    fn cell(&self, tenant: &str, id: Uuid) -> Option<Arc<CampaignCell>> {
        let cell = self.campaigns.get(&id)?.clone();
        (cell.tenant == tenant).then_some(cell)
    }

    fn any_cell(&self, id: Uuid) -> Option<Arc<CampaignCell>> {
        self.campaigns.get(&id).map(|c| c.clone())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert_campaign(&self, campaign: Campaign, audience: Vec<NewRecipient>) -> Result<AudienceAdded> {
        let id = campaign.id;
        let tenant = campaign.tenant.clone();
        let mut data = CampaignData {
            campaign,
            recipients: Vec::new(),
            by_phone: HashMap::default(),
            counts: Counts::default(),
            first_pending: 0,
            deleted: false,
        };
        let added = data.add(audience, u64::MAX)?;
        let cell = Arc::new(CampaignCell { tenant: tenant.clone(), data: RwLock::new(data) });
        self.campaigns.insert(id, cell);
        self.tenant(&tenant).campaigns.write().push(id);
        Ok(added)
    }

    async fn campaign(&self, tenant: &str, id: Uuid) -> Result<Option<Campaign>> {
        Ok(self.cell(tenant, id).map(|c| c.data.read().campaign.clone()))
    }

    async fn campaigns(&self, tenant: &str, filter: &CampaignFilter, page: Page) -> Result<(u64, Vec<Campaign>)> {
        let ids = self.tenant(tenant).campaigns.read().clone();
        let mut all: Vec<Campaign> = ids
            .iter()
            .rev()
            .filter_map(|id| self.any_cell(*id))
            .map(|c| c.data.read().campaign.clone())
            .filter(|c| matches(c, filter))
            .collect();
        // Newest first; ties keep reverse insertion order (sort is stable).
        all.sort_by_key(|c| std::cmp::Reverse(c.created));
        let total = all.len() as u64;
        let page = all.into_iter().skip(page.skip as usize).take(page.take as usize).collect();
        Ok((total, page))
    }

    async fn update_campaign(&self, tenant: &str, id: Uuid, change: CampaignChange<'_>) -> Result<Campaign> {
        let cell = self.cell(tenant, id).ok_or_else(|| not_found(id))?;
        let mut data = cell.data.write();
        if data.deleted {
            return Err(not_found(id));
        }
        let mut updated = data.campaign.clone();
        change(&mut updated)?;
        data.campaign = updated.clone();
        Ok(updated)
    }

    async fn delete_campaign(&self, tenant: &str, id: Uuid, allowed: &[CampaignStatus]) -> Result<()> {
        let cell = self.cell(tenant, id).ok_or_else(|| not_found(id))?;
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
            self.campaigns.remove(&id);
        }
        self.tenant(tenant).campaigns.write().retain(|c| *c != id);
        Ok(())
    }

    async fn campaigns_in(&self, statuses: &[CampaignStatus]) -> Result<Vec<Campaign>> {
        let cells: Vec<Arc<CampaignCell>> = self.campaigns.iter().map(|e| e.value().clone()).collect();
        Ok(cells.into_iter().map(|c| c.data.read().campaign.clone()).filter(|c| statuses.contains(&c.status)).collect())
    }

    async fn add_recipients(
        &self,
        tenant: &str,
        id: Uuid,
        audience: Vec<NewRecipient>,
        max_total: u64,
    ) -> Result<AudienceAdded> {
        let cell = self.cell(tenant, id).ok_or_else(|| not_found(id))?;
        let mut data = cell.data.write();
        if data.deleted {
            return Err(not_found(id));
        }
        if data.campaign.status != CampaignStatus::Draft {
            return Err(already_dispatched());
        }
        data.add(audience, max_total)
    }

    async fn counts(&self, tenant: &str, id: Uuid) -> Result<Counts> {
        let cell = self.cell(tenant, id).ok_or_else(|| not_found(id))?;
        let counts = cell.data.read().counts;
        Ok(counts)
    }

    async fn recipients(
        &self,
        tenant: &str,
        id: Uuid,
        status: Option<RecipientStatus>,
        page: Page,
    ) -> Result<(u64, Vec<Recipient>)> {
        let cell = self.cell(tenant, id).ok_or_else(|| not_found(id))?;
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

    async fn pending(&self, campaign: Uuid, from: u32, limit: usize) -> Result<Vec<Recipient>> {
        let Some(cell) = self.any_cell(campaign) else { return Ok(Vec::new()) };
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

    async fn sending(&self, campaign: Uuid) -> Result<Vec<Recipient>> {
        let Some(cell) = self.any_cell(campaign) else { return Ok(Vec::new()) };
        let data = cell.data.read();
        Ok(data.recipients.iter().filter(|r| r.status == RecipientStatus::Sending).cloned().collect())
    }

    async fn mark_sending(&self, campaign: Uuid, seqs: &[u32], at: i64) -> Result<Vec<u32>> {
        let Some(cell) = self.any_cell(campaign) else { return Ok(Vec::new()) };
        let mut data = cell.data.write();
        Ok(seqs.iter().copied().filter(|seq| data.advance(*seq, RecipientStatus::Sending, at, 0)).collect())
    }

    async fn claim(&self, _node: &str, _now: i64, _lease_ms: i64) -> Result<Vec<Campaign>> {
        self.campaigns_in(&[CampaignStatus::Running]).await
    }

    async fn reserve_slot(&self, _tenant: &str, _channel: &str, _now: i64, _interval_ms: i64) -> Result<Option<i64>> {
        Ok(None)
    }

    async fn record_outcomes(&self, campaign: Uuid, outcomes: &[Outcome]) -> Result<()> {
        let Some(cell) = self.any_cell(campaign) else { return Ok(()) };
        let mut data = cell.data.write();
        for o in outcomes {
            data.advance(o.seq, o.status, o.at, o.reason);
        }
        Ok(())
    }

    async fn apply_receipts(&self, receipts: &[Receipt]) -> Result<u64> {
        let mut changed = 0;
        // Receipts usually come in runs of the same campaign: lock each campaign once per run.
        let mut current: Option<(Uuid, Arc<CampaignCell>)> = None;
        for r in receipts {
            let target =
                parse_message_id(&r.message_id).or_else(|| self.message_ids.get(&r.message_id).map(|e| *e.value()));
            let Some((campaign, seq)) = target else { continue };
            if current.as_ref().is_none_or(|(id, _)| *id != campaign) {
                current = self.any_cell(campaign).map(|c| (campaign, c));
            }
            let Some((_, cell)) = &current else { continue };
            if cell.data.write().advance(seq, r.status, r.at, r.reason) {
                changed += 1;
            }
        }
        Ok(changed)
    }

    async fn link_message_id(&self, message_id: &str, campaign: Uuid, seq: u32) -> Result<()> {
        self.message_ids.insert(message_id.to_owned(), (campaign, seq));
        Ok(())
    }

    async fn contact(&self, tenant: &str, key: &ContactKey) -> Result<Option<Contact>> {
        let t = self.tenant(tenant);
        let contacts = t.contacts.read();
        Ok(contacts.find(key).and_then(|id| contacts.by_id.get(id)).cloned())
    }

    async fn contacts(&self, tenant: &str, page: Page) -> Result<(u64, Vec<Contact>)> {
        let t = self.tenant(tenant);
        let contacts = t.contacts.read();
        let total = contacts.order.len() as u64;
        let items = contacts
            .order
            .iter()
            .skip(page.skip as usize)
            .take(page.take as usize)
            .filter_map(|id| contacts.by_id.get(id).cloned())
            .collect();
        Ok((total, items))
    }

    async fn patch_contacts(&self, tenant: &str, patches: Vec<ContactPatch>) -> Result<()> {
        let t = self.tenant(tenant);
        let mut contacts = t.contacts.write();
        let now = now_millis();
        for p in patches {
            let found = p
                .identity
                .as_ref()
                .and_then(|i| contacts.find(&ContactKey::Identity(i.clone())).cloned())
                .or_else(|| p.phone.and_then(|ph| contacts.find(&ContactKey::Phone(ph)).cloned()));
            let mut contact = match found.and_then(|id| contacts.by_id.get(&id).cloned()) {
                Some(c) => c,
                None => Contact { id: Uuid::now_v7().to_string(), created: now, ..Contact::default() },
            };
            contacts.unindex(&contact);
            apply_patch(&mut contact, p, now);
            if contacts.by_id.contains_key(&contact.id) {
                contacts.index(&contact);
                contacts.by_id.insert(contact.id.clone(), contact);
            } else {
                contacts.insert(contact);
            }
        }
        Ok(())
    }

    async fn put_contact(&self, tenant: &str, mut contact: Contact) -> Result<Contact> {
        let t = self.tenant(tenant);
        let mut contacts = t.contacts.write();
        let now = now_millis();
        contact.updated = now;
        match contacts.by_id.get(&contact.id).cloned() {
            Some(old) => {
                contacts.unindex(&old);
                contact.created = old.created;
                contacts.index(&contact);
                contacts.by_id.insert(contact.id.clone(), contact.clone());
            }
            None => {
                if contact.created == 0 {
                    contact.created = now;
                }
                contacts.insert(contact.clone());
            }
        }
        Ok(contact)
    }

    async fn delete_contact(&self, tenant: &str, id: &str) -> Result<bool> {
        let t = self.tenant(tenant);
        let mut contacts = t.contacts.write();
        let Some(old) = contacts.by_id.remove(id) else { return Ok(false) };
        contacts.unindex(&old);
        contacts.order.retain(|x| x != id);
        Ok(true)
    }

    async fn scan_contacts(&self, tenant: &str, visit: &mut (dyn for<'c> FnMut(&'c Contact) + Send)) -> Result<()> {
        let t = self.tenant(tenant);
        let contacts = t.contacts.read();
        for id in &contacts.order {
            if let Some(c) = contacts.by_id.get(id) {
                visit(c);
            }
        }
        Ok(())
    }

    async fn write_contexts(&self, tenant: &str, writes: Vec<ContextWrite>) -> Result<()> {
        let t = self.tenant(tenant);
        let mut contexts = t.contexts.write();
        for w in writes {
            let vars = contexts.entry(w.identity.to_ascii_lowercase().into_boxed_str()).or_default();
            for (k, v) in w.variables {
                let k = k.to_ascii_lowercase();
                match vars.binary_search_by(|(n, _)| n.as_ref().cmp(k.as_str())) {
                    Ok(i) => vars[i].1 = v,
                    Err(i) => vars.insert(i, (k.into_boxed_str(), v)),
                }
            }
        }
        Ok(())
    }

    async fn context_names(&self, tenant: &str, identity: &str) -> Result<Vec<String>> {
        let t = self.tenant(tenant);
        let contexts = t.contexts.read();
        let vars = contexts.get(identity.to_ascii_lowercase().as_str());
        Ok(vars.map(|v| v.iter().map(|(n, _)| n.to_string()).collect()).unwrap_or_default())
    }

    async fn context_value(&self, tenant: &str, identity: &str, name: &str) -> Result<Option<Value>> {
        let t = self.tenant(tenant);
        let contexts = t.contexts.read();
        let Some(vars) = contexts.get(identity.to_ascii_lowercase().as_str()) else { return Ok(None) };
        let name = name.to_ascii_lowercase();
        Ok(vars.binary_search_by(|(n, _)| n.as_ref().cmp(name.as_str())).ok().map(|i| vars[i].1.clone()))
    }

    async fn open_conversations(&self, tenant: &str, phones: &[u64]) -> Result<Vec<u64>> {
        let t = self.tenant(tenant);
        let contacts = t.contacts.read();
        if contacts.by_phone.is_empty() {
            return Ok(Vec::new());
        }
        Ok(phones
            .iter()
            .copied()
            .filter(|p| {
                contacts.by_phone.get(p).and_then(|id| contacts.by_id.get(id)).is_some_and(|c| c.has_open_conversation)
            })
            .collect())
    }

    async fn channels(&self, tenant: &str) -> Result<Vec<ChannelDef>> {
        Ok(self.tenant(tenant).channels.read().clone())
    }

    async fn put_channel(&self, tenant: &str, channel: ChannelDef) -> Result<()> {
        upsert(&self.tenant(tenant).channels, channel, |c| c.id.clone());
        Ok(())
    }

    async fn templates(&self, tenant: &str) -> Result<Vec<TemplateDef>> {
        Ok(self.tenant(tenant).templates.read().clone())
    }

    async fn put_template(&self, tenant: &str, template: TemplateDef) -> Result<()> {
        upsert(&self.tenant(tenant).templates, template, |t| t.id.clone());
        Ok(())
    }

    async fn tags(&self, tenant: &str) -> Result<Vec<TagDef>> {
        Ok(self.tenant(tenant).tags.read().clone())
    }

    async fn put_tag(&self, tenant: &str, tag: TagDef) -> Result<()> {
        upsert(&self.tenant(tenant).tags, tag, |t| t.id.clone());
        Ok(())
    }

    async fn custom_fields(&self, tenant: &str) -> Result<Vec<CustomFieldDef>> {
        Ok(self.tenant(tenant).custom_fields.read().clone())
    }

    async fn put_custom_field(&self, tenant: &str, field: CustomFieldDef) -> Result<()> {
        upsert(&self.tenant(tenant).custom_fields, field, |f| f.id.clone());
        Ok(())
    }
}

/// Replaces the item with the same id, or appends it.
fn upsert<T>(list: &RwLock<Vec<T>>, item: T, id: impl Fn(&T) -> String) {
    let mut list = list.write();
    let key = id(&item);
    match list.iter_mut().find(|x| id(x) == key) {
        Some(x) => *x = item,
        None => list.push(item),
    }
}
