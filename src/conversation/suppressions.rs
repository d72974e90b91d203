//! The suppression list's rules (conversations.md, Suppression list): one record per person
//! whether it came from an inbound keyword, RBM's UNSUBSCRIBE or REST; campaigns and bot
//! messages skip whoever is on it (1008).

use super::inbound::Conversations;
use super::Suppression;
use crate::campaign::Millis;
use crate::error::{Error, Result};
use crate::store::Page;

impl Conversations {
    /// Puts `phone` on `tenant`'s list now (replacing an earlier entry); the entry.
    pub async fn suppress(
        &self,
        tenant: &str,
        phone: u64,
        reason: Option<String>,
        channel: Option<String>,
    ) -> Result<Suppression> {
        let entry = Suppression { phone, at: self.clock.now(), reason, channel };
        self.store.suppress(tenant, entry.clone()).await?;
        Ok(entry)
    }

    /// Takes `phone` off the list; not found when it was not on it.
    pub async fn unsuppress(&self, tenant: &str, phone: u64) -> Result<()> {
        if self.store.unsuppress(tenant, phone).await? {
            Ok(())
        } else {
            Err(Error::NotFound(format!("+{phone} is not on the suppression list")))
        }
    }

    /// When each of `phones` on the list went on it (absent: not on it).
    pub async fn opted_out_at(&self, tenant: &str, phones: &[u64]) -> Result<std::collections::HashMap<u64, Millis>> {
        let mut at = std::collections::HashMap::new();
        for phone in self.store.suppressed_among(tenant, phones).await? {
            let one = Page { skip: 0, take: 1 };
            if let Some(s) = self.store.suppressions(tenant, Some(phone), one).await?.1.pop() {
                at.insert(phone, s.at);
            }
        }
        Ok(at)
    }

    /// A page of the list, newest first, optionally one phone: (total, entries).
    pub async fn suppressions(&self, tenant: &str, phone: Option<u64>, page: Page) -> Result<(u64, Vec<Suppression>)> {
        self.store.suppressions(tenant, phone, page).await
    }
}
