//! The inbox table: inbound messages waiting for the bot, deduplicated by provider id. An
//! acknowledged message keeps its row (not waiting) until it expires, so that a webhook
//! delivered again after the bot's acknowledgement is still recognised as a repeat.

use sqlx::Row;

use super::{db, SqlStore, Tx};
use crate::campaign::Millis;
use crate::conversation::{InboxAdded, InboxEntry};
use crate::error::Result;

pub(super) async fn insert(store: &SqlStore, tenant: &str, e: InboxEntry, max: u64) -> Result<InboxAdded> {
    let mut tx = store.write.begin().await.map_err(db)?;
    if !insert_in(&mut tx, tenant, &e).await? {
        tx.rollback().await.map_err(db)?;
        return Ok(InboxAdded { new: false, dropped: 0 });
    }
    let dropped = trim_in(&mut tx, tenant, max).await?;
    tx.commit().await.map_err(db)?;
    Ok(InboxAdded { new: true, dropped })
}

/// Adds a waiting row inside the caller's transaction; false when the provider id (or the
/// id derived from it) is already recorded. The caller trims with [`trim_in`] afterwards.
pub(super) async fn insert_in(tx: &mut Tx, tenant: &str, e: &InboxEntry) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO inbox (tenant, id, provider_id, person, received_at, seq, waiting, envelope) \
         VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(seq), 0) + 1 FROM inbox WHERE tenant = $1), 1, $6) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(&e.id)
    .bind(&e.provider_id)
    .bind(&e.person)
    .bind(e.received_at)
    .bind(&e.envelope)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() > 0)
}

/// Stops the oldest waiting rows past `max` from waiting; how many. One count of the
/// tenant's waiting rows, so a batch calls it once, not once per row.
pub(super) async fn trim_in(tx: &mut Tx, tenant: &str, max: u64) -> Result<u64> {
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE tenant = $1 AND waiting = 1")
        .bind(tenant)
        .fetch_one(&mut **tx)
        .await
        .map_err(db)?;
    let over = (waiting as u64).saturating_sub(max);
    if over > 0 {
        sqlx::query(
            "UPDATE inbox SET waiting = 0 WHERE tenant = $1 AND seq IN \
             (SELECT seq FROM inbox WHERE tenant = $1 AND waiting = 1 ORDER BY seq LIMIT $2)",
        )
        .bind(tenant)
        .bind(over as i64)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    Ok(over)
}

pub(super) async fn waiting(store: &SqlStore, tenant: &str, limit: usize) -> Result<Vec<InboxEntry>> {
    let rows = sqlx::query(
        "SELECT id, provider_id, person, received_at, envelope FROM inbox WHERE tenant = $1 AND waiting = 1 \
         ORDER BY seq LIMIT $2",
    )
    .bind(tenant)
    .bind(limit.min(i64::MAX as usize) as i64)
    .fetch_all(&store.read)
    .await
    .map_err(db)?;
    rows.iter()
        .map(|r| {
            Ok(InboxEntry {
                id: r.try_get("id").map_err(db)?,
                provider_id: r.try_get("provider_id").map_err(db)?,
                person: r.try_get("person").map_err(db)?,
                received_at: r.try_get("received_at").map_err(db)?,
                envelope: r.try_get("envelope").map_err(db)?,
            })
        })
        .collect()
}

pub(super) async fn remove(store: &SqlStore, tenant: &str, id: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE inbox SET waiting = 0 WHERE tenant = $1 AND id = $2 AND waiting = 1")
        .bind(tenant)
        .bind(id)
        .execute(&store.write)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn expire(store: &SqlStore, tenant: &str, before: Millis) -> Result<u64> {
    let mut tx = store.write.begin().await.map_err(db)?;
    let dropped: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE tenant = $1 AND waiting = 1 AND received_at < $2")
            .bind(tenant)
            .bind(before)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
    sqlx::query("DELETE FROM inbox WHERE tenant = $1 AND received_at < $2")
        .bind(tenant)
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(dropped as u64)
}
