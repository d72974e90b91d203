//! A batch of inbound messages' effects in one transaction (one fsync for the batch): the
//! contacts, the reply marks, the suppression changes and the inbox rows, with the inbox
//! counted and trimmed once per tenant, not once per row.

use std::collections::BTreeSet;

use super::{contacts, db, inbox, replies, suppressions, SqlStore};
use crate::conversation::{InboundWrite, InboxAdded, SuppressionChange};
use crate::error::Result;

pub(super) async fn record(store: &SqlStore, writes: &[InboundWrite], max: u64) -> Result<Vec<InboxAdded>> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = store.write.begin().await.map_err(db)?;
    let tenants: BTreeSet<&str> = writes.iter().map(|w| w.tenant.as_str()).collect();
    // Contacts first, one patch call per tenant: patches of one person in one batch apply in
    // order to the same row.
    for tenant in &tenants {
        let patches = writes.iter().filter(|w| w.tenant == *tenant).map(|w| w.contact.clone()).collect();
        contacts::patch_in(store, &mut tx, tenant, patches).await?;
    }
    let mut added = Vec::with_capacity(writes.len());
    for w in writes {
        if let Some((campaign, seq, at)) = w.replied {
            replies::mark_replied_in(store, &mut tx, campaign, seq, at).await?;
        }
        match &w.suppression {
            Some(SuppressionChange::Suppress(s)) => {
                let _new = suppressions::put_in(&mut tx, &w.tenant, s.clone()).await?;
            }
            Some(SuppressionChange::Unsuppress(phone)) => {
                let _removed = suppressions::delete_in(&mut tx, &w.tenant, *phone).await?;
            }
            None => {}
        }
        let new = inbox::insert_in(&mut tx, &w.tenant, &w.entry).await?;
        added.push(InboxAdded { new, dropped: 0 });
    }
    for tenant in tenants {
        let dropped = inbox::trim_in(&mut tx, tenant, max).await?;
        // Told on the tenant's last write of the batch: the caller counts and logs it once.
        if let Some(i) = writes.iter().rposition(|w| w.tenant == tenant) {
            added[i].dropped = dropped;
        }
    }
    tx.commit().await.map_err(db)?;
    Ok(added)
}
