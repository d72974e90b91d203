//! Storage behind both faces: the [`Store`] trait and its backends.
//!
//! The trait speaks in model types only (no backend types in signatures), so that durable
//! SQL backends can implement it next to the in-memory one. Every method is atomic on its
//! own: a campaign is created whole or not at all, a transition checks and changes status in
//! one step.

pub mod memory;
mod records;
mod rules;
mod segments;
pub mod sql;

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use crate::callbacks::outbox::{Delivery, DeliveryState, Webhook};
use crate::campaign::{Campaign, CampaignStatus, Counts, Millis, NewRecipient, Recipient, RecipientStatus};
use crate::catalog::{ChannelDef, CustomFieldDef, TagDef, TemplateDef};
use crate::contact::{Contact, ContactKey, ContactPatch, ContextWrite};
use crate::conversation::{InboundWrite, InboxAdded, InboxEntry, Suppression, SuppressionChange};
use crate::error::Result;

pub use memory::MemoryStore;
pub use records::{
    AudienceAdded, CampaignChange, CampaignFilter, IdempotencyBegin, IdempotencyWindow, Outcome, Page, Receipt,
    RetryReasons, StartChange, StoredResponse,
};
pub use segments::SegmentStore;
pub use sql::{Dialect, SqlStore};

/// Opens the configured backend (creating the SQLite file's directory, running migrations).
pub async fn open(config: &crate::config::StorageConfig) -> Result<std::sync::Arc<dyn Store>> {
    use crate::config::StorageKind;
    Ok(match config.kind {
        StorageKind::Memory => std::sync::Arc::new(MemoryStore::new()),
        StorageKind::Sqlite => {
            if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| crate::error::Error::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
            }
            let url = format!("sqlite://{}?mode=rwc", config.path.display());
            std::sync::Arc::new(SqlStore::connect(&url, Dialect::Sqlite).await?)
        }
        StorageKind::Postgres => {
            let url = config.url.as_deref().unwrap_or_default();
            std::sync::Arc::new(SqlStore::connect(url, Dialect::Postgres).await?)
        }
    })
}

#[async_trait]
pub trait Store: SegmentStore + Send + Sync + 'static {
    /// A trivial query, for readiness (`GET /ready`): Ok when the store answers.
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    // --- campaigns ---------------------------------------------------------------------

    /// Stores a new campaign with its first recipients (deduplicated by phone, later entries
    /// replacing earlier ones' parameters). Whole or nothing.
    async fn insert_campaign(&self, campaign: Campaign, audience: Vec<NewRecipient>) -> Result<AudienceAdded>;

    /// A campaign of `tenant`; another tenant's id is `None` like a missing one.
    async fn campaign(&self, tenant: &str, id: Uuid) -> Result<Option<Campaign>>;

    /// Campaigns of `tenant` matching `filter`, newest first: (total matching, page).
    async fn campaigns(&self, tenant: &str, filter: &CampaignFilter, page: Page) -> Result<(u64, Vec<Campaign>)>;

    /// Applies `change` atomically; its error is returned and nothing is written.
    /// `NotFound` when the campaign does not exist for this tenant.
    async fn update_campaign(&self, tenant: &str, id: Uuid, change: CampaignChange<'_>) -> Result<Campaign>;

    /// Starts a campaign in one transaction: adds `audience` (as [`Store::add_recipients`]
    /// does; empty adds nothing), then applies `change` with the recipient total and writes
    /// the campaign. Any error — `NotFound`, over `max_total`, `change`'s — writes nothing.
    async fn start_campaign(
        &self,
        tenant: &str,
        id: Uuid,
        audience: Vec<NewRecipient>,
        max_total: u64,
        change: StartChange<'_>,
    ) -> Result<Campaign>;

    /// Deletes a campaign whose status is one of `allowed` (else `NotAllowed`), with its
    /// recipients.
    async fn delete_campaign(&self, tenant: &str, id: Uuid, allowed: &[CampaignStatus]) -> Result<()>;

    /// Every campaign (all tenants) in one of `statuses`: for the scheduler and dispatcher
    /// at start-up.
    async fn campaigns_in(&self, statuses: &[CampaignStatus]) -> Result<Vec<Campaign>>;

    // --- audience ------------------------------------------------------------------------

    /// Adds recipients to a DRAFT campaign (else `NotAllowed`), deduplicated by phone.
    /// Fails with `InvalidArgument` without adding anything when the campaign would hold
    /// more than `max_total` recipients.
    async fn add_recipients(
        &self,
        tenant: &str,
        id: Uuid,
        audience: Vec<NewRecipient>,
        max_total: u64,
    ) -> Result<AudienceAdded>;

    async fn counts(&self, tenant: &str, id: Uuid) -> Result<Counts>;

    /// Recipients in insertion order, optionally only those in `status`: (total, page).
    async fn recipients(
        &self,
        tenant: &str,
        id: Uuid,
        status: Option<RecipientStatus>,
        page: Page,
    ) -> Result<(u64, Vec<Recipient>)>;

    /// Up to `limit` recipients with `seq > after` (all when `None`), in order, optionally
    /// only those in `status`: keyset pages for reading a whole audience (the CSV export)
    /// without OFFSET scans and without holding it in memory. `NotFound` for another
    /// tenant's campaign.
    async fn recipients_after(
        &self,
        tenant: &str,
        id: Uuid,
        status: Option<RecipientStatus>,
        after: Option<u32>,
        limit: usize,
    ) -> Result<Vec<Recipient>>;

    // --- dispatch -----------------------------------------------------------------------

    /// Up to `limit` PENDING recipients with `seq >= from`, in order.
    async fn pending(&self, campaign: Uuid, from: u32, limit: usize) -> Result<Vec<Recipient>>;

    /// Recipients left in SENDING (handed to a channel, outcome not recorded): after a
    /// crash these are reconciled before anything else is sent.
    async fn sending(&self, campaign: Uuid) -> Result<Vec<Recipient>>;

    /// PENDING → SENDING for these recipients, before they are handed to a channel; returns
    /// those this call moved (a recipient another node claimed first is not returned).
    async fn mark_sending(&self, campaign: Uuid, seqs: &[u32], at: Millis) -> Result<Vec<u32>>;

    /// Running campaigns this node should dispatch: those whose lease is free, expired or
    /// its own, now leased to `node` until `now + lease_ms`. Single-node stores return every
    /// running campaign.
    async fn claim(&self, node: &str, now: Millis, lease_ms: i64) -> Result<Vec<Campaign>>;

    /// A send slot of a channel's shared ceiling when several nodes share the store:
    /// reserves the next free slot at or after `now`, `interval_ms` after the previous one,
    /// and returns when it starts. `None`: the store is not shared (a local pacer is exact).
    async fn reserve_slot(&self, tenant: &str, channel: &str, now: Millis, interval_ms: i64) -> Result<Option<Millis>>;

    /// Records send outcomes of one campaign (forward moves only).
    async fn record_outcomes(&self, campaign: Uuid, outcomes: &[Outcome]) -> Result<()>;

    /// Applies channel receipts matched by message id; unknown ids and backward moves are
    /// ignored. Returns how many changed a recipient.
    async fn apply_receipts(&self, receipts: &[Receipt]) -> Result<u64>;

    /// Remembers that `message_id` (a provider's own id) is the send of `seq` of `campaign`.
    async fn link_message_id(&self, message_id: &str, campaign: Uuid, seq: u32) -> Result<()>;

    // --- contacts and contexts -------------------------------------------------------

    async fn contact(&self, tenant: &str, key: &ContactKey) -> Result<Option<Contact>>;

    /// The contacts of `identities`, found as [`Store::contact`] finds each (identity, then
    /// phone), keyed by the identity asked; missing ones are absent. The SQL store reads them
    /// in one statement (the bots' message sender asks for a batch at once).
    async fn contacts_of(&self, tenant: &str, identities: &[String]) -> Result<HashMap<String, Contact>> {
        let mut found = HashMap::with_capacity(identities.len());
        for identity in identities {
            if let Some(c) = self.contact(tenant, &ContactKey::Identity(identity.clone())).await? {
                found.insert(identity.clone(), c);
            }
        }
        Ok(found)
    }

    /// Contacts in creation order: (total, page).
    async fn contacts(&self, tenant: &str, page: Page) -> Result<(u64, Vec<Contact>)>;

    /// Applies patches, creating contacts that do not exist (found by identity, then phone).
    async fn patch_contacts(&self, tenant: &str, patches: Vec<ContactPatch>) -> Result<()>;

    /// Replaces a contact whole (LIME `set /contacts`, REST PUT); creates it when missing.
    async fn put_contact(&self, tenant: &str, contact: Contact) -> Result<Contact>;

    async fn delete_contact(&self, tenant: &str, id: &str) -> Result<bool>;

    /// Calls `visit` for every contact of the tenant (REST audience filters).
    async fn scan_contacts(&self, tenant: &str, visit: &mut (dyn for<'c> FnMut(&'c Contact) + Send)) -> Result<()>;

    async fn write_contexts(&self, tenant: &str, writes: Vec<ContextWrite>) -> Result<()>;

    /// What one batch of sends leaves behind: outcomes, contact patches and context writes,
    /// together (a durable store commits them at once).
    async fn record_sent(
        &self,
        tenant: &str,
        campaign: Uuid,
        outcomes: &[Outcome],
        patches: Vec<ContactPatch>,
        contexts: Vec<ContextWrite>,
    ) -> Result<()> {
        self.record_outcomes(campaign, outcomes).await?;
        self.patch_contacts(tenant, patches).await?;
        self.write_contexts(tenant, contexts).await
    }

    /// Names of the context variables of `identity`, sorted.
    async fn context_names(&self, tenant: &str, identity: &str) -> Result<Vec<String>>;

    async fn context_value(&self, tenant: &str, identity: &str, name: &str) -> Result<Option<Value>>;

    /// Of `phones`, those whose contact has an open conversation (the 1602 rule).
    async fn open_conversations(&self, tenant: &str, phones: &[u64]) -> Result<Vec<u64>>;

    // --- outbound messages (conversations.md, Outbound) -------------------------------

    /// Stores bot messages accepted for sending (keys unique), all or none, in one
    /// transaction (one commit for many: the intake's group commit). Durable before it returns.
    async fn insert_outbound(&self, messages: &[crate::outbound::OutboundMessage]) -> Result<()>;

    /// Messages in `status` with `seq > after`, in acceptance order, at most `limit` (all tenants).
    async fn outbound_in(
        &self,
        status: crate::outbound::OutboundStatus,
        after: i64,
        limit: usize,
    ) -> Result<Vec<crate::outbound::OutboundMessage>>;

    /// How many messages are in `status` (the send queue's length at start-up).
    async fn count_outbound(&self, status: crate::outbound::OutboundStatus) -> Result<u64>;

    /// Applies forward moves (see `OutboundStatus::advances`); a given provider id is recorded
    /// even when the status does not move. Returns the moves applied.
    async fn move_outbound(&self, changes: &[crate::outbound::OutboundChange]) -> Result<Vec<crate::outbound::Moved>>;

    /// Applies channel receipts whose id is a bot message's provider id (or its key, for
    /// channels whose provider id is the gateway's); others are ignored. Returns the moves.
    async fn outbound_receipts(&self, receipts: &[Receipt]) -> Result<Vec<crate::outbound::Moved>>;

    // --- catalog ---------------------------------------------------------------------

    async fn channels(&self, tenant: &str) -> Result<Vec<ChannelDef>>;

    /// Creates or replaces (by id) a channel definition.
    async fn put_channel(&self, tenant: &str, channel: ChannelDef) -> Result<()>;

    async fn templates(&self, tenant: &str) -> Result<Vec<TemplateDef>>;

    /// Creates or replaces (by id) a template definition.
    async fn put_template(&self, tenant: &str, template: TemplateDef) -> Result<()>;

    async fn tags(&self, tenant: &str) -> Result<Vec<TagDef>>;

    /// Creates or replaces (by id) a tag.
    async fn put_tag(&self, tenant: &str, tag: TagDef) -> Result<()>;

    async fn custom_fields(&self, tenant: &str) -> Result<Vec<CustomFieldDef>>;

    /// Creates or replaces (by id) a custom field.
    async fn put_custom_field(&self, tenant: &str, field: CustomFieldDef) -> Result<()>;

    // --- conversations (conversations.md) --------------------------------------------

    /// Records an inbound message, deduplicated by `(tenant, provider_id)`; past `max`
    /// waiting messages the oldest are dropped. Committed before it returns.
    async fn inbox_insert(&self, tenant: &str, entry: InboxEntry, max: u64) -> Result<InboxAdded>;

    /// Up to `limit` messages waiting for the bot, in arrival order.
    async fn inbox_waiting(&self, tenant: &str, limit: usize) -> Result<Vec<InboxEntry>>;

    /// Writes a batch of inbound messages' effects in order, in one transaction where the
    /// backend has them; one answer per write (a repeated provider id, within the batch too, is
    /// not new). The effects of a repeat are written again (they are idempotent).
    async fn record_inbound(&self, writes: &[InboundWrite], max: u64) -> Result<Vec<InboxAdded>> {
        let mut added = Vec::with_capacity(writes.len());
        for w in writes {
            self.patch_contacts(&w.tenant, vec![w.contact.clone()]).await?;
            if let Some((campaign, seq, at)) = w.replied {
                self.mark_replied(campaign, seq, at).await?;
            }
            match &w.suppression {
                Some(SuppressionChange::Suppress(s)) => {
                    let _new = self.suppress(&w.tenant, s.clone()).await?;
                }
                Some(SuppressionChange::Unsuppress(phone)) => {
                    let _removed = self.unsuppress(&w.tenant, *phone).await?;
                }
                None => {}
            }
            added.push(self.inbox_insert(&w.tenant, w.entry.clone(), max).await?);
        }
        Ok(added)
    }

    /// Takes a message off the inbox (the bot acknowledged it); false when it was not waiting.
    async fn inbox_remove(&self, tenant: &str, id: &str) -> Result<bool>;

    /// Drops waiting messages received before `before` and forgets every older provider id;
    /// returns how many waiting messages were dropped.
    async fn inbox_expire(&self, tenant: &str, before: Millis) -> Result<u64>;

    /// Puts a person on the suppression list (replacing an earlier entry); true when new.
    async fn suppress(&self, tenant: &str, suppression: Suppression) -> Result<bool>;

    /// Takes a person off the suppression list; false when they were not on it.
    async fn unsuppress(&self, tenant: &str, phone: u64) -> Result<bool>;

    /// The suppression list, newest first, optionally only `phone`: (total, page).
    async fn suppressions(&self, tenant: &str, phone: Option<u64>, page: Page) -> Result<(u64, Vec<Suppression>)>;

    /// Of `phones`, those on the suppression list (campaign sends, previews, bot messages).
    async fn suppressed_among(&self, tenant: &str, phones: &[u64]) -> Result<Vec<u64>>;

    /// Whether one person is on the tenant's suppression list.
    async fn is_suppressed(&self, tenant: &str, phone: u64) -> Result<bool> {
        Ok(!self.suppressed_among(tenant, &[phone]).await?.is_empty())
    }

    /// The most recent send of a campaign of `tenant` to `phone` at or after `since`
    /// (processed time): (campaign, seq).
    async fn last_sent_to(&self, tenant: &str, phone: u64, since: Millis) -> Result<Option<(Uuid, u32)>>;

    /// Counts a reply of recipient `seq` once (`replied`); false when already counted.
    async fn mark_replied(&self, campaign: Uuid, seq: u32, at: Millis) -> Result<bool>;

    // --- status callbacks (campaign-features.md) ---------------------------------------
    // The stores add a delivery per (webhook that wants it, event) in the same call (for SQL,
    // the same transaction) that moves a recipient, counts a reply or changes a campaign's
    // status; these methods are the rest of the outbox.

    /// Creates or replaces (by id) a webhook.
    async fn put_webhook(&self, hook: Webhook) -> Result<()>;

    /// Webhooks of `tenant` (every tenant's when `None`), in creation order.
    async fn webhooks(&self, tenant: Option<&str>) -> Result<Vec<Webhook>>;

    /// Deletes a webhook of `tenant` with its deliveries; false when there was none.
    async fn delete_webhook(&self, tenant: &str, id: Uuid) -> Result<bool>;

    /// Up to `limit` pending deliveries of `webhook`, in outbox order.
    async fn pending_deliveries(&self, webhook: Uuid, limit: usize) -> Result<Vec<Delivery>>;

    /// Writes deliveries' progress (state, attempts, last result, next and first attempt).
    async fn update_deliveries(&self, deliveries: &[Delivery]) -> Result<()>;

    /// Drops the oldest pending deliveries of `webhook` beyond `max_pending`; how many went.
    async fn trim_deliveries(&self, webhook: Uuid, max_pending: u64) -> Result<u64>;

    /// A webhook's delivery log, newest first, optionally only in `state`: (total, page).
    async fn deliveries(&self, webhook: Uuid, state: Option<DeliveryState>, page: Page)
        -> Result<(u64, Vec<Delivery>)>;

    /// Makes a delivery of `webhook` pending again (same event, a new retry window); false
    /// when the webhook has no such event.
    async fn replay_delivery(&self, webhook: Uuid, event: Uuid) -> Result<bool>;
    // --- retries and idempotency (campaign-features.md) -------------------------------

    /// Moves the FAILED recipients of a campaign whose reason `which` matches back to PENDING
    /// ([`Recipient::retry`]), then applies `change` with how many moved; one transaction,
    /// `change`'s error writes nothing. `NotFound` for another tenant's campaign.
    async fn retry_failed(
        &self,
        tenant: &str,
        id: Uuid,
        which: &RetryReasons,
        change: StartChange<'_>,
    ) -> Result<(Campaign, u64)>;

    /// Takes idempotency key `key` of `tenant` for a request whose fingerprint is `hash`, or
    /// says why not; forgets the tenant's keys older than `window.ttl_ms` first.
    /// `LimitReached` when the tenant holds `window.max_keys` keys.
    async fn idempotency_begin(
        &self,
        tenant: &str,
        key: &str,
        hash: &str,
        now: Millis,
        window: IdempotencyWindow,
    ) -> Result<IdempotencyBegin>;

    /// Stores the response of a key this request claimed, or (`None`) lets the key go so that
    /// a retry runs the request again.
    async fn idempotency_finish(&self, tenant: &str, key: &str, response: Option<StoredResponse>) -> Result<()>;
}
