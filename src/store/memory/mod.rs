//! The in-memory store: DashMaps of per-campaign and per-tenant cells, each behind its own
//! lock. Fast and simple; everything is lost when the process stops.
//!
//! This file holds the maps of cells (`cells`) and the [`Store`] implementation, which
//! names, for each method, the module that does the work — the same modules as the SQL store.
//! That work is plain synchronous functions, so no lock guard can be held across an `.await`.

mod callbacks;
mod campaigns;
mod cells;
mod contacts;
mod contexts;
mod idempotency;
mod inbox;
mod outbound;
mod progress;
mod recipients;
mod replies;
mod retry;
mod segments;

use std::sync::Arc;

use async_trait::async_trait;
use dashmap::DashMap;
use serde_json::Value;
use uuid::Uuid;

use super::{AudienceAdded, CampaignChange, CampaignFilter, Outcome, Page, Receipt, StartChange, Store};
use crate::callbacks::outbox::{Delivery, DeliveryState, Webhook};
use crate::campaign::{Campaign, CampaignStatus, Counts, NewRecipient, Recipient, RecipientStatus};
use crate::catalog::{ChannelDef, CustomFieldDef, TagDef, TemplateDef};
use crate::contact::{Contact, ContactKey, ContactPatch, ContextWrite};
use crate::conversation::{InboxAdded, InboxEntry, Suppression};
use crate::error::Result;
use cells::{upsert, CampaignCell, CampaignData, TenantCell};

/// The store's maps hash with foldhash (seeded per map, several times faster than SipHash
/// on these short keys; SipHash was a tenth of a million-recipient dispatch).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

#[derive(Default)]
pub struct MemoryStore {
    campaigns: DashMap<Uuid, Arc<CampaignCell>>,
    /// Provider message ids that are not the gateway's own (see `campaign::message_id`).
    message_ids: DashMap<String, (Uuid, u32)>,
    tenants: DashMap<String, Arc<TenantCell>>,
    /// Bot messages to people.
    outbound: parking_lot::Mutex<outbound::Outbox>,
    /// Status callbacks: webhooks and their deliveries.
    callbacks: parking_lot::Mutex<callbacks::Callbacks>,
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
        campaigns::insert(self, campaign, audience)
    }

    async fn campaign(&self, tenant: &str, id: Uuid) -> Result<Option<Campaign>> {
        campaigns::find(self, tenant, id)
    }

    async fn campaigns(&self, tenant: &str, filter: &CampaignFilter, page: Page) -> Result<(u64, Vec<Campaign>)> {
        campaigns::list(self, tenant, filter, page)
    }

    async fn update_campaign(&self, tenant: &str, id: Uuid, change: CampaignChange<'_>) -> Result<Campaign> {
        campaigns::update(self, tenant, id, change)
    }

    async fn start_campaign(
        &self,
        tenant: &str,
        id: Uuid,
        audience: Vec<NewRecipient>,
        max_total: u64,
        change: StartChange<'_>,
    ) -> Result<Campaign> {
        campaigns::start(self, tenant, id, audience, max_total, change)
    }

    async fn delete_campaign(&self, tenant: &str, id: Uuid, allowed: &[CampaignStatus]) -> Result<()> {
        campaigns::delete(self, tenant, id, allowed)
    }

    async fn campaigns_in(&self, statuses: &[CampaignStatus]) -> Result<Vec<Campaign>> {
        campaigns::in_statuses(self, statuses)
    }

    async fn add_recipients(
        &self,
        tenant: &str,
        id: Uuid,
        audience: Vec<NewRecipient>,
        max_total: u64,
    ) -> Result<AudienceAdded> {
        recipients::add(self, tenant, id, audience, max_total)
    }

    async fn counts(&self, tenant: &str, id: Uuid) -> Result<Counts> {
        campaigns::counts(self, tenant, id)
    }

    async fn recipients(
        &self,
        tenant: &str,
        id: Uuid,
        status: Option<RecipientStatus>,
        page: Page,
    ) -> Result<(u64, Vec<Recipient>)> {
        recipients::page(self, tenant, id, status, page)
    }

    async fn recipients_after(
        &self,
        tenant: &str,
        id: Uuid,
        status: Option<RecipientStatus>,
        after: Option<u32>,
        limit: usize,
    ) -> Result<Vec<Recipient>> {
        recipients::after(self, tenant, id, status, after, limit)
    }

    async fn pending(&self, campaign: Uuid, from: u32, limit: usize) -> Result<Vec<Recipient>> {
        recipients::pending(self, campaign, from, limit)
    }

    async fn sending(&self, campaign: Uuid) -> Result<Vec<Recipient>> {
        recipients::sending(self, campaign)
    }

    async fn mark_sending(&self, campaign: Uuid, seqs: &[u32], at: i64) -> Result<Vec<u32>> {
        progress::mark_sending(self, campaign, seqs, at)
    }

    // One process holds the whole store: every running campaign is this node's, and its
    // local pacer is exact.
    async fn claim(&self, _node: &str, _now: i64, _lease_ms: i64) -> Result<Vec<Campaign>> {
        campaigns::in_statuses(self, &[CampaignStatus::Running])
    }

    async fn reserve_slot(&self, _tenant: &str, _channel: &str, _now: i64, _interval_ms: i64) -> Result<Option<i64>> {
        Ok(None)
    }

    async fn record_outcomes(&self, campaign: Uuid, outcomes: &[Outcome]) -> Result<()> {
        progress::record_outcomes(self, campaign, outcomes)
    }

    async fn apply_receipts(&self, receipts: &[Receipt]) -> Result<u64> {
        progress::apply_receipts(self, receipts)
    }

    async fn link_message_id(&self, message_id: &str, campaign: Uuid, seq: u32) -> Result<()> {
        progress::link_message_id(self, message_id, campaign, seq)
    }

    async fn insert_outbound(&self, messages: &[crate::outbound::OutboundMessage]) -> Result<()> {
        outbound::insert(self, messages)
    }

    async fn outbound_in(
        &self,
        status: crate::outbound::OutboundStatus,
        after: i64,
        limit: usize,
    ) -> Result<Vec<crate::outbound::OutboundMessage>> {
        outbound::in_status(self, status, after, limit)
    }

    async fn count_outbound(&self, status: crate::outbound::OutboundStatus) -> Result<u64> {
        outbound::count(self, status)
    }

    async fn move_outbound(&self, changes: &[crate::outbound::OutboundChange]) -> Result<Vec<crate::outbound::Moved>> {
        outbound::apply(self, changes)
    }

    async fn outbound_receipts(&self, receipts: &[Receipt]) -> Result<Vec<crate::outbound::Moved>> {
        outbound::receipts(self, receipts)
    }

    async fn contact(&self, tenant: &str, key: &ContactKey) -> Result<Option<Contact>> {
        contacts::find(self, tenant, key)
    }

    async fn contacts(&self, tenant: &str, page: Page) -> Result<(u64, Vec<Contact>)> {
        contacts::page(self, tenant, page)
    }

    async fn patch_contacts(&self, tenant: &str, patches: Vec<ContactPatch>) -> Result<()> {
        contacts::patch(self, tenant, patches)
    }

    async fn put_contact(&self, tenant: &str, contact: Contact) -> Result<Contact> {
        contacts::put(self, tenant, contact)
    }

    async fn delete_contact(&self, tenant: &str, id: &str) -> Result<bool> {
        contacts::delete(self, tenant, id)
    }

    async fn scan_contacts(&self, tenant: &str, visit: &mut (dyn for<'c> FnMut(&'c Contact) + Send)) -> Result<()> {
        contacts::scan(self, tenant, visit)
    }

    async fn write_contexts(&self, tenant: &str, writes: Vec<ContextWrite>) -> Result<()> {
        contexts::write(self, tenant, writes)
    }

    async fn context_names(&self, tenant: &str, identity: &str) -> Result<Vec<String>> {
        contexts::names(self, tenant, identity)
    }

    async fn context_value(&self, tenant: &str, identity: &str, name: &str) -> Result<Option<Value>> {
        contexts::value(self, tenant, identity, name)
    }

    async fn open_conversations(&self, tenant: &str, phones: &[u64]) -> Result<Vec<u64>> {
        contacts::open_conversations(self, tenant, phones)
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

    async fn inbox_insert(&self, tenant: &str, entry: InboxEntry, max: u64) -> Result<InboxAdded> {
        inbox::insert(self, tenant, entry, max)
    }

    async fn inbox_waiting(&self, tenant: &str, limit: usize) -> Result<Vec<InboxEntry>> {
        inbox::waiting(self, tenant, limit)
    }

    async fn inbox_remove(&self, tenant: &str, id: &str) -> Result<bool> {
        inbox::remove(self, tenant, id)
    }

    async fn inbox_expire(&self, tenant: &str, before: i64) -> Result<u64> {
        inbox::expire(self, tenant, before)
    }

    async fn suppress(&self, tenant: &str, suppression: Suppression) -> Result<bool> {
        inbox::suppress(self, tenant, suppression)
    }

    async fn unsuppress(&self, tenant: &str, phone: u64) -> Result<bool> {
        inbox::unsuppress(self, tenant, phone)
    }

    async fn suppressions(&self, tenant: &str, phone: Option<u64>, page: Page) -> Result<(u64, Vec<Suppression>)> {
        inbox::suppressions(self, tenant, phone, page)
    }

    async fn suppressed_among(&self, tenant: &str, phones: &[u64]) -> Result<Vec<u64>> {
        inbox::suppressed_among(self, tenant, phones)
    }

    async fn last_sent_to(&self, tenant: &str, phone: u64, since: i64) -> Result<Option<(Uuid, u32)>> {
        replies::last_sent_to(self, tenant, phone, since)
    }

    async fn mark_replied(&self, campaign: Uuid, seq: u32, at: i64) -> Result<bool> {
        replies::mark_replied(self, campaign, seq, at)
    }

    async fn put_webhook(&self, hook: Webhook) -> Result<()> {
        callbacks::put_webhook(self, hook)
    }

    async fn webhooks(&self, tenant: Option<&str>) -> Result<Vec<Webhook>> {
        callbacks::webhooks(self, tenant)
    }

    async fn delete_webhook(&self, tenant: &str, id: Uuid) -> Result<bool> {
        callbacks::delete_webhook(self, tenant, id)
    }

    async fn pending_deliveries(&self, webhook: Uuid, limit: usize) -> Result<Vec<Delivery>> {
        callbacks::pending(self, webhook, limit)
    }

    async fn update_deliveries(&self, deliveries: &[Delivery]) -> Result<()> {
        callbacks::update(self, deliveries)
    }

    async fn trim_deliveries(&self, webhook: Uuid, max_pending: u64) -> Result<u64> {
        callbacks::trim(self, webhook, max_pending)
    }

    async fn deliveries(
        &self,
        webhook: Uuid,
        state: Option<DeliveryState>,
        page: Page,
    ) -> Result<(u64, Vec<Delivery>)> {
        callbacks::log(self, webhook, state, page)
    }

    async fn replay_delivery(&self, webhook: Uuid, event: Uuid) -> Result<bool> {
        callbacks::replay(self, webhook, event)
    }

    async fn retry_failed(
        &self,
        tenant: &str,
        id: Uuid,
        which: &crate::store::RetryReasons,
        change: StartChange<'_>,
    ) -> Result<(Campaign, u64)> {
        retry::retry_failed(self, tenant, id, which, change)
    }

    async fn idempotency_begin(
        &self,
        tenant: &str,
        key: &str,
        hash: &str,
        now: i64,
        window: crate::store::IdempotencyWindow,
    ) -> Result<crate::store::IdempotencyBegin> {
        idempotency::begin(self, tenant, key, hash, now, window)
    }

    async fn idempotency_finish(
        &self,
        tenant: &str,
        key: &str,
        response: Option<crate::store::StoredResponse>,
    ) -> Result<()> {
        idempotency::finish(self, tenant, key, response)
    }
}
