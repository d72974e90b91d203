//! Cloning a campaign (campaign-features.md, "Clone"): a DRAFT copy with the same content,
//! template mapping, channel, filters or segment, rate and send window, never scheduled.
//!
//! The copy is the whole campaign model with only what must change reset, so fields the
//! model gains later are copied without touching this file. A campaign made on the LIME face
//! names its recipients one by one: they are copied as PENDING recipients of the copy (new
//! message ids, as the copy has a new id). A REST campaign's audience comes from its filters
//! or segment when the copy starts, so its frozen recipients are not copied.

use futures_util::StreamExt;
use uuid::Uuid;

use super::Engine;
use crate::campaign::{Campaign, CampaignStatus, NewRecipient, Recipient};
use crate::error::{Error, Result};
use crate::spec::RestSpec;

/// The name of a copy when none is given.
pub fn copy_name(original: &str) -> String {
    format!("{original} (cópia)")
}

/// A recipient as it was given, to be added again.
fn again(r: &Recipient) -> NewRecipient {
    NewRecipient {
        given: r.given(),
        phone: r.phone(),
        params: r.params.clone(),
        context: r.context().map(Into::into),
        contact_id: r.contact_id().map(Into::into),
    }
}

impl Engine {
    /// Stores a DRAFT copy of campaign `id` of `tenant` named `name` (trimmed, not empty;
    /// `"<name> (cópia)"` when `None`), with the original's explicit audience for a LIME
    /// campaign. The original is not touched. A copy whose segment was deleted meanwhile is
    /// refused (`NotAllowed`): it could not start.
    pub async fn clone_campaign(&self, tenant: &str, id: Uuid, name: Option<&str>) -> Result<Campaign> {
        let original = self.campaign(tenant, id).await?;
        let name = match name {
            None => copy_name(&original.name),
            Some(given) => {
                let trimmed = given.trim();
                if trimmed.is_empty() {
                    return Err(Error::InvalidArgument("name is required".into()));
                }
                trimmed.to_owned()
            }
        };
        let spec = RestSpec::of(&original);
        if let Some(segment) = spec.as_ref().and_then(|s| s.segment_id) {
            if self.store.segment(tenant, segment).await?.is_none() {
                return Err(Error::NotAllowed(format!(
                    "The campaign's segment_id {segment} no longer exists; the copy could not start"
                )));
            }
        }
        let copy = Campaign {
            id: Uuid::new_v4(),
            name,
            status: CampaignStatus::Draft,
            scheduled: None,
            created: self.clock.now(),
            send_date: 0,
            completed_at: 0,
            failed_reason: None,
            retried: 0,
            ..original.clone()
        };
        let mut audience = Vec::new();
        if spec.is_none() {
            let mut pages = std::pin::pin!(self.recipient_pages(tenant, id, None));
            while let Some(page) = pages.next().await {
                audience.extend(page?.iter().map(again));
            }
        }
        let recipients = audience.len();
        self.store.insert_campaign(copy.clone(), audience).await?;
        tracing::info!(campaign = %copy.id, original = %id, recipients, "campaign cloned");
        Ok(copy)
    }
}
