//! Idempotency keys: each workspace's keys with the fingerprint of the request that took
//! them and, once answered, its response; expired keys are forgotten as new ones come.

use sqlx::Row;

use super::{db, SqlStore};
use crate::error::Result;
use crate::store::rules::too_many_keys;
use crate::store::{IdempotencyBegin, IdempotencyWindow, StoredResponse};

pub(super) async fn begin(
    store: &SqlStore,
    tenant: &str,
    key: &str,
    hash: &str,
    now: i64,
    window: IdempotencyWindow,
) -> Result<IdempotencyBegin> {
    let mut tx = store.write.begin().await.map_err(db)?;
    sqlx::query("DELETE FROM idempotency_keys WHERE tenant = $1 AND created < $2")
        .bind(tenant)
        .bind(now - window.ttl_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let row = sqlx::query(&format!(
        "SELECT request_hash, created, status, content_type, body FROM idempotency_keys \
         WHERE tenant = $1 AND idem_key = $2{}",
        store.dialect.for_update()
    ))
    .bind(tenant)
    .bind(key)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    let found = match row {
        Some(row) => {
            let stored_hash: String = row.try_get("request_hash").map_err(db)?;
            let created: i64 = row.try_get("created").map_err(db)?;
            let status: i64 = row.try_get("status").map_err(db)?;
            if stored_hash != hash {
                IdempotencyBegin::Mismatch
            } else if status != 0 {
                IdempotencyBegin::Replay(StoredResponse {
                    status: status as u16,
                    content_type: row.try_get::<Option<String>, _>("content_type").map_err(db)?.unwrap_or_default(),
                    body: row.try_get::<Option<String>, _>("body").map_err(db)?.unwrap_or_default().into_bytes(),
                })
            } else if created < now - window.in_flight_ms {
                // Held by a request that never answered (the process died): taken over.
                sqlx::query("UPDATE idempotency_keys SET created = $3 WHERE tenant = $1 AND idem_key = $2")
                    .bind(tenant)
                    .bind(key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                IdempotencyBegin::Claimed
            } else {
                IdempotencyBegin::InFlight
            }
        }
        None => {
            let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys WHERE tenant = $1")
                .bind(tenant)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            if held as u64 >= window.max_keys {
                return Err(too_many_keys(window));
            }
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (tenant, idem_key, request_hash, created, status) \
                 VALUES ($1, $2, $3, $4, 0) ON CONFLICT (tenant, idem_key) DO NOTHING",
            )
            .bind(tenant)
            .bind(key)
            .bind(hash)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            // Another node inserted it between the read and this write.
            if inserted.rows_affected() == 0 {
                IdempotencyBegin::InFlight
            } else {
                IdempotencyBegin::Claimed
            }
        }
    };
    tx.commit().await.map_err(db)?;
    Ok(found)
}

pub(super) async fn finish(store: &SqlStore, tenant: &str, key: &str, response: Option<StoredResponse>) -> Result<()> {
    let query = match response {
        Some(r) => sqlx::query(
            "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 \
             WHERE tenant = $1 AND idem_key = $2 AND status = 0",
        )
        .bind(tenant)
        .bind(key)
        .bind(i64::from(r.status))
        .bind(r.content_type)
        .bind(String::from_utf8_lossy(&r.body).into_owned()),
        None => sqlx::query("DELETE FROM idempotency_keys WHERE tenant = $1 AND idem_key = $2 AND status = 0")
            .bind(tenant)
            .bind(key),
    };
    query.execute(&store.write).await.map_err(db)?;
    Ok(())
}
