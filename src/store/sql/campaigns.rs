//! Campaign rows: the JSON document of a campaign, beside the few columns the database
//! filters by and the six counters its recipients keep up to date.

use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use super::rows::{counts_of, document, status_from, status_name};
use super::{db, recipients, SqlStore, Tx};
use crate::callbacks::outbox::{wall_now, Event};
use crate::campaign::{Campaign, CampaignStatus, Counts, NewRecipient};
use crate::error::Result;
use crate::store::rules::{matches, not_deletable, not_found};
use crate::store::{AudienceAdded, CampaignChange, CampaignFilter, Page, StartChange};

pub(super) async fn insert(store: &SqlStore, campaign: Campaign, audience: Vec<NewRecipient>) -> Result<AudienceAdded> {
    let id = campaign.id.to_string();
    let mut tx = store.write.begin().await.map_err(db)?;
    sqlx::query(
        "INSERT INTO campaigns (id, tenant, status, created, scheduled, channel_id, data) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&campaign.tenant)
    .bind(status_name(campaign.status))
    .bind(campaign.created)
    .bind(campaign.scheduled)
    .bind(&campaign.channel_id)
    .bind(serde_json::to_string(&campaign).expect("plain data"))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let added = recipients::insert(store, &mut tx, &id, audience, u64::MAX).await?;
    // A campaign created started (LIME `set /campaign/full`) tells its first status.
    told(store, &mut tx, &campaign, CampaignStatus::Draft).await?;
    tx.commit().await.map_err(db)?;
    Ok(added)
}

pub(super) async fn find(store: &SqlStore, tenant: Option<&str>, id: Uuid) -> Result<Option<Campaign>> {
    let row = sqlx::query("SELECT tenant, data FROM campaigns WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&store.read)
        .await
        .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    let owner: String = row.try_get("tenant").map_err(db)?;
    if tenant.is_some_and(|t| t != owner) {
        return Ok(None);
    }
    document(&row, "campaign").map(Some)
}

pub(super) async fn list(
    store: &SqlStore,
    tenant: &str,
    f: &CampaignFilter,
    page: Page,
) -> Result<(u64, Vec<Campaign>)> {
    // The JSON document holds everything; the few columns let the database filter.
    let rows = sqlx::query("SELECT data FROM campaigns WHERE tenant = $1 ORDER BY created DESC")
        .bind(tenant)
        .fetch_all(&store.read)
        .await
        .map_err(db)?;
    let mut all = Vec::with_capacity(rows.len());
    for r in rows {
        let c: Campaign = document(&r, "campaign")?;
        if matches(&c, f) {
            all.push(c);
        }
    }
    let total = all.len() as u64;
    Ok((total, all.into_iter().skip(page.skip as usize).take(page.take as usize).collect()))
}

pub(super) async fn update(store: &SqlStore, tenant: &str, id: Uuid, change: CampaignChange<'_>) -> Result<Campaign> {
    let mut tx = store.write.begin().await.map_err(db)?;
    let row = locked(store, &mut tx, tenant, id, "tenant, data").await?;
    let mut campaign: Campaign = document(&row, "campaign")?;
    let before = campaign.status;
    change(&mut campaign)?;
    write(&mut tx, &campaign).await?;
    told(store, &mut tx, &campaign, before).await?;
    tx.commit().await.map_err(db)?;
    Ok(campaign)
}

/// [`crate::store::Store::start_campaign`]: the audience, the change and the campaign row
/// in one transaction, under the campaign row's lock.
pub(super) async fn start(
    store: &SqlStore,
    tenant: &str,
    id: Uuid,
    audience: Vec<NewRecipient>,
    max_total: u64,
    change: StartChange<'_>,
) -> Result<Campaign> {
    let mut tx = store.write.begin().await.map_err(db)?;
    let row = locked(store, &mut tx, tenant, id, "tenant, data, total").await?;
    let mut campaign: Campaign = document(&row, "campaign")?;
    let total = if audience.is_empty() {
        row.try_get::<i64, _>("total").map_err(db)? as u64
    } else {
        recipients::insert(store, &mut tx, &id.to_string(), audience, max_total).await?.total
    };
    let before = campaign.status;
    change(&mut campaign, total)?;
    write(&mut tx, &campaign).await?;
    told(store, &mut tx, &campaign, before).await?;
    tx.commit().await.map_err(db)?;
    Ok(campaign)
}

/// The status callback of a campaign whose status was `before`, in the change's transaction.
async fn told(store: &SqlStore, tx: &mut Tx, campaign: &Campaign, before: CampaignStatus) -> Result<()> {
    match Event::campaign(campaign.id, before, campaign.status, wall_now()) {
        Some(e) => super::callbacks::enqueue_in(store, tx, campaign.id, &[e]).await,
        None => Ok(()),
    }
}

/// Writes a campaign's document and the columns queries filter on.
pub(super) async fn write(tx: &mut Tx, campaign: &Campaign) -> Result<()> {
    sqlx::query("UPDATE campaigns SET status = $2, scheduled = $3, channel_id = $4, data = $5 WHERE id = $1")
        .bind(campaign.id.to_string())
        .bind(status_name(campaign.status))
        .bind(campaign.scheduled)
        .bind(&campaign.channel_id)
        .bind(serde_json::to_string(campaign).expect("plain data"))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

pub(super) async fn delete(store: &SqlStore, tenant: &str, id: Uuid, allowed: &[CampaignStatus]) -> Result<()> {
    let mut tx = store.write.begin().await.map_err(db)?;
    let row = locked(store, &mut tx, tenant, id, "tenant, status").await?;
    let status = status_from(&row.try_get::<String, _>("status").map_err(db)?);
    if !allowed.contains(&status) {
        return Err(not_deletable(status));
    }
    for sql in ["DELETE FROM recipients WHERE campaign_id = $1", "DELETE FROM campaigns WHERE id = $1"] {
        sqlx::query(sql).bind(id.to_string()).execute(&mut *tx).await.map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(())
}

pub(super) async fn in_statuses(store: &SqlStore, statuses: &[CampaignStatus]) -> Result<Vec<Campaign>> {
    let mut out = Vec::new();
    for s in statuses {
        let rows = sqlx::query("SELECT data FROM campaigns WHERE status = $1")
            .bind(status_name(*s))
            .fetch_all(&store.read)
            .await
            .map_err(db)?;
        for r in rows {
            out.push(document(&r, "campaign")?);
        }
    }
    Ok(out)
}

pub(super) async fn counts(store: &SqlStore, tenant: &str, id: Uuid) -> Result<Counts> {
    let row = sqlx::query(
        "SELECT tenant, total, pending, processed, received, read_count, failed, replied FROM campaigns WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&store.read)
    .await
    .map_err(db)?;
    match row.filter(|r| r.try_get::<String, _>("tenant").is_ok_and(|t| t == tenant)) {
        Some(r) => counts_of(&r),
        None => Err(not_found(id)),
    }
}

/// The row of campaign `id` with `columns` (among them `tenant`), locked until `tx` ends;
/// `NotFound` when it is missing or another tenant's.
pub(super) async fn locked(store: &SqlStore, tx: &mut Tx, tenant: &str, id: Uuid, columns: &str) -> Result<AnyRow> {
    let row = sqlx::query(&format!("SELECT {columns} FROM campaigns WHERE id = $1{}", store.dialect.for_update()))
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    row.filter(|r| r.try_get::<String, _>("tenant").is_ok_and(|t| t == tenant)).ok_or_else(|| not_found(id))
}
