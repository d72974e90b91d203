//! The suppression list: people who opted out (an inbound keyword or a REST add).

use serde_json::{json, Value};
use sqlx::Row;

use super::{db, SqlStore, Tx};
use crate::conversation::Suppression;
use crate::error::Result;
use crate::store::Page;

pub(super) async fn put(store: &SqlStore, tenant: &str, s: Suppression) -> Result<bool> {
    let mut tx = store.write.begin().await.map_err(db)?;
    let new = put_in(&mut tx, tenant, s).await?;
    tx.commit().await.map_err(db)?;
    Ok(new)
}

/// [`put`] inside the caller's transaction.
pub(super) async fn put_in(tx: &mut Tx, tenant: &str, s: Suppression) -> Result<bool> {
    let existed: Option<i64> = sqlx::query_scalar("SELECT phone FROM suppressions WHERE tenant = $1 AND phone = $2")
        .bind(tenant)
        .bind(s.phone as i64)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    sqlx::query(
        "INSERT INTO suppressions (tenant, phone, at, reason, channel) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant, phone) DO UPDATE SET at = excluded.at, reason = excluded.reason, channel = excluded.channel",
    )
    .bind(tenant)
    .bind(s.phone as i64)
    .bind(s.at)
    .bind(s.reason)
    .bind(s.channel)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(existed.is_none())
}

pub(super) async fn delete(store: &SqlStore, tenant: &str, phone: u64) -> Result<bool> {
    let mut tx = store.write.begin().await.map_err(db)?;
    let removed = delete_in(&mut tx, tenant, phone).await?;
    tx.commit().await.map_err(db)?;
    Ok(removed)
}

/// [`delete`] inside the caller's transaction.
pub(super) async fn delete_in(tx: &mut Tx, tenant: &str, phone: u64) -> Result<bool> {
    let done = sqlx::query("DELETE FROM suppressions WHERE tenant = $1 AND phone = $2")
        .bind(tenant)
        .bind(phone as i64)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn page(
    store: &SqlStore,
    tenant: &str,
    phone: Option<u64>,
    page: Page,
) -> Result<(u64, Vec<Suppression>)> {
    // `phone = -1` never matches: no filter is written as "every phone".
    let (filter, value) = match phone {
        Some(p) => ("AND phone = $2", p as i64),
        None => ("AND phone <> $2", -1),
    };
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM suppressions WHERE tenant = $1 {filter}"))
        .bind(tenant)
        .bind(value)
        .fetch_one(&store.read)
        .await
        .map_err(db)?;
    let rows = sqlx::query(&format!(
        "SELECT phone, at, reason, channel FROM suppressions WHERE tenant = $1 {filter} \
         ORDER BY at DESC, phone LIMIT $3 OFFSET $4"
    ))
    .bind(tenant)
    .bind(value)
    .bind(page.take.min(i64::MAX as u64) as i64)
    .bind(page.skip.min(i64::MAX as u64) as i64)
    .fetch_all(&store.read)
    .await
    .map_err(db)?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(Suppression {
                phone: r.try_get::<i64, _>("phone").map_err(db)? as u64,
                at: r.try_get("at").map_err(db)?,
                reason: r.try_get("reason").map_err(db)?,
                channel: r.try_get("channel").map_err(db)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok((total as u64, items))
}

pub(super) async fn among(store: &SqlStore, tenant: &str, phones: &[u64]) -> Result<Vec<u64>> {
    if phones.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<Value> = phones.iter().map(|p| json!({"phone": *p as i64})).collect();
    let sql = format!(
        "SELECT phone FROM suppressions WHERE tenant = $1 AND phone IN (SELECT phone FROM {})",
        store.dialect.json_rows("$2", &[("phone", "bigint")])
    );
    let found: Vec<i64> = sqlx::query_scalar(&sql)
        .bind(tenant)
        .bind(Value::Array(list).to_string())
        .fetch_all(&store.read)
        .await
        .map_err(db)?;
    Ok(found.into_iter().map(|p| p as u64).collect())
}
