//! What the in-memory store keeps: a cell per campaign and per tenant, each behind its own
//! lock, and the catalog upsert they share.

use parking_lot::RwLock;
use uuid::Uuid;

use super::{contacts, contexts, idempotency, inbox, HashMap, HashSet};
use crate::campaign::{Campaign, Counts, Recipient};
use crate::catalog::{ChannelDef, CustomFieldDef, TagDef, TemplateDef};
use crate::conversation::Suppression;

pub(super) struct CampaignCell {
    pub(super) tenant: String,
    pub(super) data: RwLock<CampaignData>,
}

pub(super) struct CampaignData {
    pub(super) campaign: Campaign,
    pub(super) recipients: Vec<Recipient>,
    pub(super) by_phone: HashMap<u64, u32>,
    pub(super) counts: Counts,
    /// Recipients whose reply was counted (`replied`).
    pub(super) replied: HashSet<u32>,
    /// No recipient before this one is PENDING.
    pub(super) first_pending: u32,
    /// Removed from the store; a change racing with the delete finds nothing.
    pub(super) deleted: bool,
}

#[derive(Default)]
pub(super) struct TenantCell {
    /// Campaign ids in creation order.
    pub(super) campaigns: RwLock<Vec<Uuid>>,
    pub(super) contacts: RwLock<contacts::Contacts>,
    /// identity → variables sorted by name (a Vec: a BTreeMap node for the usual two
    /// variables cost ~600 bytes per contact of a million-recipient campaign).
    pub(super) contexts: RwLock<HashMap<Box<str>, contexts::Variables>>,
    pub(super) channels: RwLock<Vec<ChannelDef>>,
    pub(super) templates: RwLock<Vec<TemplateDef>>,
    pub(super) tags: RwLock<Vec<TagDef>>,
    pub(super) custom_fields: RwLock<Vec<CustomFieldDef>>,
    pub(super) inbox: parking_lot::Mutex<inbox::Inbox>,
    /// phone → entry.
    pub(super) suppressions: RwLock<HashMap<u64, Suppression>>,
    pub(super) idempotency: parking_lot::Mutex<idempotency::Keys>,
    /// Saved segments in creation order.
    pub(super) segments: parking_lot::Mutex<Vec<crate::segment::Segment>>,
}

/// Replaces the catalog item with the same id, or appends it.
pub(super) fn upsert<T>(list: &RwLock<Vec<T>>, item: T, id: impl Fn(&T) -> String) {
    let mut list = list.write();
    let key = id(&item);
    match list.iter_mut().find(|x| id(x) == key) {
        Some(x) => *x = item,
        None => list.push(item),
    }
}
