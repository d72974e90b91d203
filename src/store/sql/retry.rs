//! Retrying a campaign's failed recipients: the matching FAILED rows back to PENDING, the
//! campaign's counters and its change, in one transaction.

use uuid::Uuid;

use super::campaigns::{locked, write};
use super::rows::document;
use super::{db, Dialect, SqlStore};
use crate::campaign::Campaign;
use crate::error::Result;
use crate::store::{RetryReasons, StartChange};

pub(super) async fn retry_failed(
    store: &SqlStore,
    tenant: &str,
    id: Uuid,
    which: &RetryReasons,
    change: StartChange<'_>,
) -> Result<(Campaign, u64)> {
    let (test, codes) = match which {
        RetryReasons::Only(codes) => ("IN", codes),
        RetryReasons::AllBut(codes) => ("NOT IN", codes),
    };
    let list = store.dialect.json_numbers("$2");
    // The same row changes as `Recipient::retry` (the first failure's reason kept).
    let set = "status = 0, first_reason = CASE WHEN first_reason = 0 THEN reason ELSE first_reason END, \
               retries = retries + 1, reason = 0, processed_at = 0, received_at = 0, read_at = 0, failed_at = 0";
    let sql = match store.dialect {
        Dialect::Sqlite => format!(
            "UPDATE recipients SET {set} WHERE campaign_id = $1 AND status = 5 AND reason {test} ({list}) RETURNING seq"
        ),
        // Recipient rows first, locked in seq order, then the campaign row: the order every
        // other writer of recipients takes them in (no deadlock with receipts being applied).
        Dialect::Postgres => format!(
            "UPDATE recipients SET {set} FROM (SELECT seq FROM recipients WHERE campaign_id = $1 AND status = 5 \
             AND reason {test} ({list}) ORDER BY seq FOR UPDATE) AS s \
             WHERE recipients.campaign_id = $1 AND recipients.seq = s.seq RETURNING recipients.seq"
        ),
    };
    let mut tx = store.write.begin().await.map_err(db)?;
    let moved: Vec<i64> = sqlx::query_scalar(&sql)
        .bind(id.to_string())
        .bind(serde_json::to_string(codes).expect("plain numbers"))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let row = locked(store, &mut tx, tenant, id, "tenant, data").await?;
    let mut campaign: Campaign = document(&row, "campaign")?;
    let moved = moved.len() as u64;
    change(&mut campaign, moved)?;
    if moved > 0 {
        sqlx::query("UPDATE campaigns SET failed = failed - $2, pending = pending + $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(moved as i64)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    write(&mut tx, &campaign).await?;
    tx.commit().await.map_err(db)?;
    Ok((campaign, moved))
}
