//! The SQL store: SQLite (embedded, the default) and PostgreSQL (several nodes on one
//! database) through one implementation; the few statements that differ are chosen by
//! [`Dialect`]. Bulk writes pass their rows as one JSON parameter (`json_each` /
//! `jsonb_to_recordset`), so a batch of thousands of rows is one statement.
//!
//! Every method commits before it returns: a command answered `success` is on disk.
//!
//! This file holds the pools and the [`Store`] implementation, which names, for each method,
//! the module that does the work: one module per table or concern.

mod callbacks;
mod campaigns;
mod catalog;
mod contacts;
mod contexts;
mod dialect;
mod idempotency;
mod inbound;
mod inbox;
mod leases;
mod outbound;
mod pools;
mod progress;
mod recipients;
mod replies;
mod retry;
mod rows;
mod schema;
mod segments;
mod suppressions;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::AnyPool;
use uuid::Uuid;

pub use dialect::Dialect;

use super::{AudienceAdded, CampaignChange, CampaignFilter, Outcome, Page, Receipt, StartChange, Store};
use super::{IdempotencyBegin, IdempotencyWindow, RetryReasons, StoredResponse};
use crate::callbacks::outbox::{Delivery, DeliveryState, Webhook};
use crate::campaign::{Campaign, CampaignStatus, Counts, NewRecipient, Recipient, RecipientStatus};
use crate::catalog::{ChannelDef, CustomFieldDef, TagDef, TemplateDef};
use crate::contact::{Contact, ContactKey, ContactPatch, ContextWrite};
use crate::conversation::{InboxAdded, InboxEntry, Suppression};
use crate::error::{Error, Result};

pub struct SqlStore {
    /// Writes (and, for PostgreSQL, everything).
    write: AnyPool,
    /// Reads; for SQLite a separate pool so that readers never wait for the one writer.
    read: AnyPool,
    dialect: Dialect,
}

/// A write transaction.
type Tx = sqlx::Transaction<'static, sqlx::Any>;

fn db(e: sqlx::Error) -> Error {
    Error::Storage(e.to_string())
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await.map(drop).map_err(db)
    }

    async fn insert_campaign(&self, campaign: Campaign, audience: Vec<NewRecipient>) -> Result<AudienceAdded> {
        campaigns::insert(self, campaign, audience).await
    }

    async fn campaign(&self, tenant: &str, id: Uuid) -> Result<Option<Campaign>> {
        campaigns::find(self, Some(tenant), id).await
    }

    async fn campaigns(&self, tenant: &str, f: &CampaignFilter, page: Page) -> Result<(u64, Vec<Campaign>)> {
        campaigns::list(self, tenant, f, page).await
    }

    async fn update_campaign(&self, tenant: &str, id: Uuid, change: CampaignChange<'_>) -> Result<Campaign> {
        campaigns::update(self, tenant, id, change).await
    }

    async fn start_campaign(
        &self,
        tenant: &str,
        id: Uuid,
        audience: Vec<NewRecipient>,
        max_total: u64,
        change: StartChange<'_>,
    ) -> Result<Campaign> {
        campaigns::start(self, tenant, id, audience, max_total, change).await
    }

    async fn delete_campaign(&self, tenant: &str, id: Uuid, allowed: &[CampaignStatus]) -> Result<()> {
        campaigns::delete(self, tenant, id, allowed).await
    }

    async fn campaigns_in(&self, statuses: &[CampaignStatus]) -> Result<Vec<Campaign>> {
        campaigns::in_statuses(self, statuses).await
    }

    async fn add_recipients(
        &self,
        tenant: &str,
        id: Uuid,
        audience: Vec<NewRecipient>,
        max_total: u64,
    ) -> Result<AudienceAdded> {
        recipients::add(self, tenant, id, audience, max_total).await
    }

    async fn counts(&self, tenant: &str, id: Uuid) -> Result<Counts> {
        campaigns::counts(self, tenant, id).await
    }

    async fn recipients(
        &self,
        tenant: &str,
        id: Uuid,
        status: Option<RecipientStatus>,
        page: Page,
    ) -> Result<(u64, Vec<Recipient>)> {
        recipients::page(self, tenant, id, status, page).await
    }

    async fn recipients_after(
        &self,
        tenant: &str,
        id: Uuid,
        status: Option<RecipientStatus>,
        after: Option<u32>,
        limit: usize,
    ) -> Result<Vec<Recipient>> {
        recipients::after(self, tenant, id, status, after, limit).await
    }

    async fn pending(&self, campaign: Uuid, from: u32, limit: usize) -> Result<Vec<Recipient>> {
        recipients::pending(self, campaign, from, limit).await
    }

    async fn sending(&self, campaign: Uuid) -> Result<Vec<Recipient>> {
        recipients::sending(self, campaign).await
    }

    async fn mark_sending(&self, campaign: Uuid, seqs: &[u32], at: i64) -> Result<Vec<u32>> {
        progress::mark_sending(self, campaign, seqs, at).await
    }

    async fn claim(&self, node: &str, now: i64, lease_ms: i64) -> Result<Vec<Campaign>> {
        leases::claim(self, node, now, lease_ms).await
    }

    async fn reserve_slot(&self, tenant: &str, channel: &str, now: i64, interval_ms: i64) -> Result<Option<i64>> {
        leases::reserve_slot(self, tenant, channel, now, interval_ms).await
    }

    async fn record_outcomes(&self, campaign: Uuid, outcomes: &[Outcome]) -> Result<()> {
        progress::record_outcomes(self, campaign, outcomes).await
    }

    async fn apply_receipts(&self, receipts: &[Receipt]) -> Result<u64> {
        progress::apply_receipts(self, receipts).await
    }

    async fn insert_outbound(&self, messages: &[crate::outbound::OutboundMessage]) -> Result<()> {
        outbound::insert(self, messages).await
    }

    async fn outbound_in(
        &self,
        status: crate::outbound::OutboundStatus,
        after: i64,
        limit: usize,
    ) -> Result<Vec<crate::outbound::OutboundMessage>> {
        outbound::in_status(self, status, after, limit).await
    }

    async fn count_outbound(&self, status: crate::outbound::OutboundStatus) -> Result<u64> {
        outbound::count(self, status).await
    }

    async fn move_outbound(&self, changes: &[crate::outbound::OutboundChange]) -> Result<Vec<crate::outbound::Moved>> {
        outbound::apply(self, changes).await
    }

    async fn outbound_receipts(&self, receipts: &[Receipt]) -> Result<Vec<crate::outbound::Moved>> {
        outbound::receipts(self, receipts).await
    }

    async fn link_message_id(&self, message_id: &str, campaign: Uuid, seq: u32) -> Result<()> {
        progress::link_message_id(self, message_id, campaign, seq).await
    }

    async fn contact(&self, tenant: &str, key: &ContactKey) -> Result<Option<Contact>> {
        contacts::find(self, tenant, key).await
    }

    async fn contacts_of(
        &self,
        tenant: &str,
        identities: &[String],
    ) -> Result<std::collections::HashMap<String, Contact>> {
        contacts::of_identities(self, tenant, identities).await
    }

    async fn contacts(&self, tenant: &str, page: Page) -> Result<(u64, Vec<Contact>)> {
        contacts::page(self, tenant, page).await
    }

    async fn patch_contacts(&self, tenant: &str, patches: Vec<ContactPatch>) -> Result<()> {
        contacts::patch(self, tenant, patches).await
    }

    async fn put_contact(&self, tenant: &str, contact: Contact) -> Result<Contact> {
        contacts::put(self, tenant, contact).await
    }

    async fn delete_contact(&self, tenant: &str, id: &str) -> Result<bool> {
        contacts::delete(self, tenant, id).await
    }

    async fn scan_contacts(&self, tenant: &str, visit: &mut (dyn for<'c> FnMut(&'c Contact) + Send)) -> Result<()> {
        contacts::scan(self, tenant, visit).await
    }

    async fn write_contexts(&self, tenant: &str, writes: Vec<ContextWrite>) -> Result<()> {
        contexts::write(self, tenant, writes).await
    }

    async fn record_sent(
        &self,
        tenant: &str,
        campaign: Uuid,
        outcomes: &[Outcome],
        patches: Vec<ContactPatch>,
        contexts: Vec<ContextWrite>,
    ) -> Result<()> {
        // One transaction, so one sync to disk, for everything a batch of sends leaves behind.
        let moves: Vec<_> = outcomes.iter().map(|o| (o.seq, o.status, o.at, o.reason)).collect();
        let mut tx = self.write.begin().await.map_err(db)?;
        progress::advance_in(self, &mut tx, campaign, &moves).await?;
        contacts::patch_in(self, &mut tx, tenant, patches).await?;
        contexts::write_in(self, &mut tx, tenant, contexts).await?;
        tx.commit().await.map_err(db)
    }

    async fn context_names(&self, tenant: &str, identity: &str) -> Result<Vec<String>> {
        contexts::names(self, tenant, identity).await
    }

    async fn context_value(&self, tenant: &str, identity: &str, name: &str) -> Result<Option<Value>> {
        contexts::value(self, tenant, identity, name).await
    }

    async fn open_conversations(&self, tenant: &str, phones: &[u64]) -> Result<Vec<u64>> {
        contacts::open_conversations(self, tenant, phones).await
    }

    async fn channels(&self, tenant: &str) -> Result<Vec<ChannelDef>> {
        catalog::list(self, tenant, "channel").await
    }

    async fn put_channel(&self, tenant: &str, channel: ChannelDef) -> Result<()> {
        catalog::put(self, tenant, "channel", &channel.id.clone(), &channel).await
    }

    async fn templates(&self, tenant: &str) -> Result<Vec<TemplateDef>> {
        catalog::list(self, tenant, "template").await
    }

    async fn put_template(&self, tenant: &str, template: TemplateDef) -> Result<()> {
        catalog::put(self, tenant, "template", &template.id.clone(), &template).await
    }

    async fn tags(&self, tenant: &str) -> Result<Vec<TagDef>> {
        catalog::list(self, tenant, "tag").await
    }

    async fn put_tag(&self, tenant: &str, tag: TagDef) -> Result<()> {
        catalog::put(self, tenant, "tag", &tag.id.clone(), &tag).await
    }

    async fn custom_fields(&self, tenant: &str) -> Result<Vec<CustomFieldDef>> {
        catalog::list(self, tenant, "custom_field").await
    }

    async fn put_custom_field(&self, tenant: &str, field: CustomFieldDef) -> Result<()> {
        catalog::put(self, tenant, "custom_field", &field.id.clone(), &field).await
    }

    async fn inbox_insert(&self, tenant: &str, entry: InboxEntry, max: u64) -> Result<InboxAdded> {
        inbox::insert(self, tenant, entry, max).await
    }

    async fn record_inbound(&self, writes: &[crate::conversation::InboundWrite], max: u64) -> Result<Vec<InboxAdded>> {
        inbound::record(self, writes, max).await
    }

    async fn inbox_waiting(&self, tenant: &str, limit: usize) -> Result<Vec<InboxEntry>> {
        inbox::waiting(self, tenant, limit).await
    }

    async fn inbox_remove(&self, tenant: &str, id: &str) -> Result<bool> {
        inbox::remove(self, tenant, id).await
    }

    async fn inbox_expire(&self, tenant: &str, before: i64) -> Result<u64> {
        inbox::expire(self, tenant, before).await
    }

    async fn suppress(&self, tenant: &str, suppression: Suppression) -> Result<bool> {
        suppressions::put(self, tenant, suppression).await
    }

    async fn unsuppress(&self, tenant: &str, phone: u64) -> Result<bool> {
        suppressions::delete(self, tenant, phone).await
    }

    async fn suppressions(&self, tenant: &str, phone: Option<u64>, page: Page) -> Result<(u64, Vec<Suppression>)> {
        suppressions::page(self, tenant, phone, page).await
    }

    async fn suppressed_among(&self, tenant: &str, phones: &[u64]) -> Result<Vec<u64>> {
        suppressions::among(self, tenant, phones).await
    }

    async fn last_sent_to(&self, tenant: &str, phone: u64, since: i64) -> Result<Option<(Uuid, u32)>> {
        replies::last_sent_to(self, tenant, phone, since).await
    }

    async fn mark_replied(&self, campaign: Uuid, seq: u32, at: i64) -> Result<bool> {
        replies::mark_replied(self, campaign, seq, at).await
    }

    async fn put_webhook(&self, hook: Webhook) -> Result<()> {
        callbacks::put_webhook(self, hook).await
    }

    async fn webhooks(&self, tenant: Option<&str>) -> Result<Vec<Webhook>> {
        callbacks::webhooks(self, tenant).await
    }

    async fn delete_webhook(&self, tenant: &str, id: Uuid) -> Result<bool> {
        callbacks::delete_webhook(self, tenant, id).await
    }

    async fn pending_deliveries(&self, webhook: Uuid, limit: usize) -> Result<Vec<Delivery>> {
        callbacks::pending(self, webhook, limit).await
    }

    async fn update_deliveries(&self, deliveries: &[Delivery]) -> Result<()> {
        callbacks::update(self, deliveries).await
    }

    async fn trim_deliveries(&self, webhook: Uuid, max_pending: u64) -> Result<u64> {
        callbacks::trim(self, webhook, max_pending).await
    }

    async fn deliveries(
        &self,
        webhook: Uuid,
        state: Option<DeliveryState>,
        page: Page,
    ) -> Result<(u64, Vec<Delivery>)> {
        callbacks::log(self, webhook, state, page).await
    }

    async fn replay_delivery(&self, webhook: Uuid, event: Uuid) -> Result<bool> {
        callbacks::replay(self, webhook, event).await
    }

    async fn retry_failed(
        &self,
        tenant: &str,
        id: Uuid,
        which: &RetryReasons,
        change: StartChange<'_>,
    ) -> Result<(Campaign, u64)> {
        retry::retry_failed(self, tenant, id, which, change).await
    }

    async fn idempotency_begin(
        &self,
        tenant: &str,
        key: &str,
        hash: &str,
        now: i64,
        window: IdempotencyWindow,
    ) -> Result<IdempotencyBegin> {
        idempotency::begin(self, tenant, key, hash, now, window).await
    }

    async fn idempotency_finish(&self, tenant: &str, key: &str, response: Option<StoredResponse>) -> Result<()> {
        idempotency::finish(self, tenant, key, response).await
    }
}
