//! What filters reach before a campaign uses them: the contacts with a phone they match now
//! (how many, how many of those are suppressed, the first few). REST's campaign preview and
//! the saved segments' preview and `contact_count` are this one count.

use super::Engine;
use crate::contact::Contact;
use crate::error::{Error, Result};
use crate::filter::Filters;

/// Matching contacts a preview lists when asked for details (rest.md: "first 50").
pub const PREVIEW_DETAILS: usize = 50;

/// What a preview found.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// Contacts with a phone the filters match.
    pub total: u64,
    /// Of `total`, those on the suppression list: a campaign leaves them FAILED 1008.
    pub suppressed: u64,
    /// The first [`PREVIEW_DETAILS`] of them when details were asked for, else none.
    pub first: Vec<Contact>,
}

impl Engine {
    /// The contacts `filters` match in `tenant` now. `channel_id`, when given, must be one of
    /// the tenant's channels; the filters are checked as a campaign's are (same 400s).
    pub async fn preview(
        &self,
        tenant: &str,
        filters: &Filters,
        channel_id: Option<&str>,
        details: bool,
    ) -> Result<Preview> {
        let store = &self.store;
        if let Some(channel) = channel_id {
            if !store.channels(tenant).await?.iter().any(|c| c.id == channel) {
                return Err(Error::InvalidArgument(format!(
                    "channel_id \"{channel}\" does not exist in this workspace"
                )));
            }
        }
        let custom = store.custom_fields(tenant).await?;
        let compiled = filters.compile(&custom)?;
        let mut found = Preview::default();
        let mut phones = Vec::new();
        store
            .scan_contacts(tenant, &mut |c: &Contact| {
                if c.phone.is_some() && compiled.matches(c) {
                    found.total += 1;
                    phones.extend(c.phone);
                    if details && found.first.len() < PREVIEW_DETAILS {
                        found.first.push(c.clone());
                    }
                }
            })
            .await?;
        for chunk in phones.chunks(1000) {
            found.suppressed += store.suppressed_among(tenant, chunk).await?.len() as u64;
        }
        Ok(found)
    }

    /// For each of `filters`, how many contacts with a phone it matches now ([`Preview`]'s
    /// `total`), in one pass over the contacts.
    pub async fn match_counts(&self, tenant: &str, filters: &[&Filters]) -> Result<Vec<u64>> {
        let mut counts = vec![0u64; filters.len()];
        if filters.is_empty() {
            return Ok(counts);
        }
        let custom = self.store.custom_fields(tenant).await?;
        let compiled = filters.iter().map(|f| f.compile(&custom)).collect::<Result<Vec<_>>>()?;
        self.store
            .scan_contacts(tenant, &mut |c: &Contact| {
                if c.phone.is_none() {
                    return;
                }
                for (n, f) in counts.iter_mut().zip(&compiled) {
                    if f.matches(c) {
                        *n += 1;
                    }
                }
            })
            .await?;
        Ok(counts)
    }
}
