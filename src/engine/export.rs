//! Reading a campaign's whole audience for an export: keyset pages of the store, one at a
//! time, so a million recipients never sit in memory at once.

use futures_util::stream::{self, Stream, StreamExt};
use uuid::Uuid;

use super::Engine;
use crate::campaign::{Recipient, RecipientStatus};
use crate::error::Result;

/// Recipients per store read of an export: large enough that a million rows are a thousand
/// quick range reads, small enough that one page is well under a megabyte.
pub const EXPORT_PAGE_ROWS: usize = 1_000;

impl Engine {
    /// Every recipient of a campaign of `tenant` (only those in `status` when given), in
    /// order, as a stream of pages read from the store as they are consumed: the next page
    /// is read only when the previous one has been taken, so memory stays at one page
    /// however slow the reader. The stream ends after the first error, and may be polled
    /// again after its end (it is fused).
    pub fn recipient_pages(
        &self,
        tenant: &str,
        id: Uuid,
        status: Option<RecipientStatus>,
    ) -> impl Stream<Item = Result<Vec<Recipient>>> + Send + 'static {
        let store = self.store.clone();
        let tenant = tenant.to_owned();
        // `None` once the walk is over (an empty or short page, or an error).
        let start: Option<Option<u32>> = Some(None);
        stream::unfold(start, move |cursor| {
            let store = store.clone();
            let tenant = tenant.clone();
            async move {
                let after = cursor?;
                match store.recipients_after(&tenant, id, status, after, EXPORT_PAGE_ROWS).await {
                    Ok(page) if page.is_empty() => None,
                    Ok(page) => {
                        let next = (page.len() == EXPORT_PAGE_ROWS).then(|| page.last().map(|r| r.seq));
                        Some((Ok(page), next))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            }
        })
        .fuse()
    }
}
