//! What several nodes on one PostgreSQL database share: leases of running campaigns (each
//! dispatched by one node at a time) and pacers (a channel's rate ceiling across nodes).
//! SQLite has one process per file, so it needs neither.

use super::rows::{document, status_name};
use super::{campaigns, db, Dialect, SqlStore};
use crate::campaign::{Campaign, CampaignStatus};
use crate::error::Result;

pub(super) async fn claim(store: &SqlStore, node: &str, now: i64, lease_ms: i64) -> Result<Vec<Campaign>> {
    if store.dialect == Dialect::Sqlite {
        // One process owns an SQLite file: every running campaign is this node's.
        return campaigns::in_statuses(store, &[CampaignStatus::Running]).await;
    }
    let rows = sqlx::query(
        "UPDATE campaigns SET lease_owner = $1, lease_until = $2 \
         WHERE status = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $4) RETURNING data",
    )
    .bind(node)
    .bind(now + lease_ms)
    .bind(status_name(CampaignStatus::Running))
    .bind(now)
    .fetch_all(&store.write)
    .await
    .map_err(db)?;
    rows.iter().map(|r| document(r, "campaign")).collect()
}

pub(super) async fn reserve_slot(
    store: &SqlStore,
    tenant: &str,
    channel: &str,
    now: i64,
    interval_ms: i64,
) -> Result<Option<i64>> {
    if store.dialect == Dialect::Sqlite {
        return Ok(None);
    }
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO pacers (tenant, channel, next_slot) VALUES ($1, $2, $3 + $4) \
         ON CONFLICT (tenant, channel) DO UPDATE SET next_slot = GREATEST(pacers.next_slot, $3) + $4 \
         RETURNING next_slot",
    )
    .bind(tenant)
    .bind(channel)
    .bind(now)
    .bind(interval_ms)
    .fetch_one(&store.write)
    .await
    .map_err(db)?;
    Ok(Some(next - interval_ms))
}
