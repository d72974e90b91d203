//! Reply attribution: the last campaign send to a person, and its `replied` count.

use sqlx::Row;
use uuid::Uuid;

use super::{db, SqlStore, Tx};
use crate::callbacks::outbox::Event;
use crate::campaign::Millis;
use crate::error::Result;

pub(super) async fn last_sent_to(
    store: &SqlStore,
    tenant: &str,
    phone: u64,
    since: Millis,
) -> Result<Option<(Uuid, u32)>> {
    let row = sqlx::query(
        "SELECT r.campaign_id AS campaign_id, r.seq AS seq FROM recipients r JOIN campaigns c ON c.id = r.campaign_id \
         WHERE c.tenant = $1 AND r.phone = $2 AND r.processed_at >= $3 AND r.processed_at > 0 \
         ORDER BY r.processed_at DESC LIMIT 1",
    )
    .bind(tenant)
    .bind(phone as i64)
    .bind(since)
    .fetch_optional(&store.read)
    .await
    .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("campaign_id").map_err(db)?;
    let seq: i64 = row.try_get("seq").map_err(db)?;
    Ok(Uuid::try_parse(&id).ok().map(|id| (id, seq as u32)))
}

pub(super) async fn mark_replied(store: &SqlStore, campaign: Uuid, seq: u32, at: Millis) -> Result<bool> {
    let mut tx = store.write.begin().await.map_err(db)?;
    let counted = mark_replied_in(store, &mut tx, campaign, seq, at).await?;
    tx.commit().await.map_err(db)?;
    Ok(counted)
}

/// [`mark_replied`] inside the caller's transaction.
pub(super) async fn mark_replied_in(
    store: &SqlStore,
    tx: &mut Tx,
    campaign: Uuid,
    seq: u32,
    at: Millis,
) -> Result<bool> {
    let done =
        sqlx::query("UPDATE recipients SET replied_at = $3 WHERE campaign_id = $1 AND seq = $2 AND replied_at = 0")
            .bind(campaign.to_string())
            .bind(seq as i64)
            .bind(at.max(1))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    let counted = done.rows_affected() > 0;
    if counted {
        sqlx::query("UPDATE campaigns SET replied = replied + 1 WHERE id = $1")
            .bind(campaign.to_string())
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        let phone: i64 = sqlx::query_scalar("SELECT phone FROM recipients WHERE campaign_id = $1 AND seq = $2")
            .bind(campaign.to_string())
            .bind(seq as i64)
            .fetch_one(&mut **tx)
            .await
            .map_err(db)?;
        let event = Event::replied(campaign, seq, phone as u64, at);
        super::callbacks::enqueue_in(store, tx, campaign, &[event]).await?;
    }
    Ok(counted)
}
