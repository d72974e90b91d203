//! A campaign's audience: adding recipients (deduplicated by phone) and reading them back
//! by page, by status, or as the next PENDING ones to send.

use std::collections::HashMap;

use serde_json::{json, Value};
use sqlx::Row;
use uuid::Uuid;

use super::rows::{recipient_of, status_from, RECIPIENT_COLUMNS};
use super::{campaigns, db, Dialect, SqlStore};
use crate::campaign::{CampaignStatus, NewRecipient, Recipient, RecipientStatus};
use crate::error::Result;
use crate::store::rules::{already_dispatched, counted, not_found, too_many};
use crate::store::{AudienceAdded, Page};

/// Recipients written by one statement. The rows travel as one JSON text bound to it; a
/// recipient row is about a hundred bytes of JSON, so a statement carries about 2 MB and
/// a campaign of 1,000,000 recipients is 50 statements in its one transaction.
const RECIPIENT_ROWS_PER_STATEMENT: usize = 20_000;

/// One recipient row of a bulk insert, serialised straight into the JSON parameter.
#[derive(serde::Serialize)]
struct RecipientRow {
    seq: i64,
    phone: i64,
    given: Option<String>,
    params: String,
    context: Option<String>,
    contact: Option<String>,
}

pub(super) async fn insert(
    store: &SqlStore,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    campaign: &str,
    audience: Vec<NewRecipient>,
    max_total: u64,
) -> Result<AudienceAdded> {
    // A phone seen again, in this batch or before, keeps its first place and takes the
    // later entry's data; each repeat counts as an update (as the memory store does).
    let phones: std::collections::HashSet<u64> = audience.iter().filter_map(|r| r.phone.map(|p| p.as_u64())).collect();
    let mut existing: HashMap<u64, i64> = HashMap::new();
    if !phones.is_empty() {
        let phones: Vec<Value> = phones.iter().map(|p| json!({"phone": *p as i64})).collect();
        let sql = format!(
            "SELECT phone, seq FROM recipients WHERE campaign_id = $1 AND phone IN (SELECT phone FROM {})",
            store.dialect.json_rows("$2", &[("phone", "bigint")])
        );
        let rows = sqlx::query(&sql)
            .bind(campaign)
            .bind(Value::Array(phones).to_string())
            .fetch_all(&mut **tx)
            .await
            .map_err(db)?;
        for row in rows {
            existing.insert(row.try_get::<i64, _>("phone").map_err(db)? as u64, row.try_get("seq").map_err(db)?);
        }
    }
    let total_now: i64 =
        sqlx::query_scalar(&format!("SELECT total FROM campaigns WHERE id = $1{}", store.dialect.for_update()))
            .bind(campaign)
            .fetch_one(&mut **tx)
            .await
            .map_err(db)?;
    let mut inserts: Vec<RecipientRow> = Vec::new();
    let mut updates: Vec<RecipientRow> = Vec::new();
    // Where this batch already put a phone: in `inserts` or in `updates`, by index.
    let mut inserted_at: HashMap<u64, usize> = HashMap::new();
    let mut updated_at: HashMap<u64, usize> = HashMap::new();
    let mut updated = 0u64;
    let mut next = total_now;
    for r in audience {
        let phone = r.phone.map(|p| p.as_u64()).unwrap_or(0);
        let recipient = Recipient::new(0, r);
        let mut row = RecipientRow {
            seq: 0,
            phone: phone as i64,
            given: recipient.stored_given(),
            params: recipient.params.packed().to_owned(),
            context: recipient.context().map(str::to_owned),
            contact: recipient.contact_id().map(str::to_owned),
        };
        if phone == 0 {
            row.seq = next;
            next += 1;
            inserts.push(row);
        } else if let Some(&seq) = existing.get(&phone) {
            row.seq = seq;
            updated += 1;
            match updated_at.get(&phone) {
                Some(&i) => updates[i] = row,
                None => {
                    updated_at.insert(phone, updates.len());
                    updates.push(row);
                }
            }
        } else if let Some(&i) = inserted_at.get(&phone) {
            row.seq = inserts[i].seq;
            updated += 1;
            inserts[i] = row;
        } else {
            row.seq = next;
            next += 1;
            inserted_at.insert(phone, inserts.len());
            inserts.push(row);
        }
    }
    let added = inserts.len() as u64;
    if total_now as u64 + added > max_total {
        return Err(too_many(total_now as u64 + added, max_total));
    }
    let columns = [
        ("seq", "bigint"),
        ("phone", "bigint"),
        ("given", "text"),
        ("params", "text"),
        ("context", "text"),
        ("contact", "text"),
    ];
    for chunk in inserts.chunks(RECIPIENT_ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO recipients (campaign_id, seq, status, reason, phone, given, params, context, contact_id) \
             SELECT $1, seq, 0, 0, phone, given, params, context, contact FROM {}",
            store.dialect.json_rows("$2", &columns)
        );
        sqlx::query(&sql)
            .bind(campaign)
            .bind(serde_json::to_string(chunk).expect("plain data"))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    for chunk in updates.chunks(RECIPIENT_ROWS_PER_STATEMENT) {
        let from = store.dialect.json_rows("$2", &columns);
        let sql = match store.dialect {
            Dialect::Sqlite => format!(
                "INSERT INTO recipients (campaign_id, seq, status, reason, phone, given, params, context, contact_id) \
                 SELECT $1, seq, 0, 0, phone, given, params, context, contact FROM {from} WHERE true \
                 ON CONFLICT (campaign_id, seq) DO UPDATE SET given = excluded.given, params = excluded.params, \
                 context = excluded.context, contact_id = excluded.contact_id"
            ),
            Dialect::Postgres => format!(
                "UPDATE recipients SET given = j.given, params = j.params, context = j.context, contact_id = j.contact \
                 FROM {from} WHERE recipients.campaign_id = $1 AND recipients.seq = j.seq"
            ),
        };
        sqlx::query(&sql)
            .bind(campaign)
            .bind(serde_json::to_string(chunk).expect("plain data"))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    if added > 0 {
        sqlx::query("UPDATE campaigns SET total = total + $2, pending = pending + $2 WHERE id = $1")
            .bind(campaign)
            .bind(added as i64)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(AudienceAdded { added, updated, total: total_now as u64 + added })
}

pub(super) async fn add(
    store: &SqlStore,
    tenant: &str,
    id: Uuid,
    audience: Vec<NewRecipient>,
    max_total: u64,
) -> Result<AudienceAdded> {
    let mut tx = store.write.begin().await.map_err(db)?;
    let row = campaigns::locked(store, &mut tx, tenant, id, "tenant, status").await?;
    if status_from(&row.try_get::<String, _>("status").map_err(db)?) != CampaignStatus::Draft {
        return Err(already_dispatched());
    }
    let added = insert(store, &mut tx, &id.to_string(), audience, max_total).await?;
    tx.commit().await.map_err(db)?;
    Ok(added)
}

pub(super) async fn page(
    store: &SqlStore,
    tenant: &str,
    id: Uuid,
    status: Option<RecipientStatus>,
    page: Page,
) -> Result<(u64, Vec<Recipient>)> {
    let counts = campaigns::counts(store, tenant, id).await?;
    let take = page.take.min(i64::MAX as u64) as i64;
    let skip = page.skip.min(i64::MAX as u64) as i64;
    let rows = match status {
        // Sequence numbers are dense, so a page is a range, not an OFFSET scan.
        None => sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM recipients WHERE campaign_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3"
        ))
        .bind(id.to_string())
        .bind(skip)
        .bind(take)
        .fetch_all(&store.read)
        .await
        .map_err(db)?,
        Some(s) => {
            let (lo, hi) = match s {
                RecipientStatus::Pending | RecipientStatus::Sending => (0, 1),
                other => (other as i64, other as i64),
            };
            sqlx::query(&format!(
                "SELECT {RECIPIENT_COLUMNS} FROM recipients WHERE campaign_id = $1 AND status >= $2 AND status <= $3 \
                 ORDER BY seq LIMIT $4 OFFSET $5"
            ))
            .bind(id.to_string())
            .bind(lo)
            .bind(hi)
            .bind(take)
            .bind(skip)
            .fetch_all(&store.read)
            .await
            .map_err(db)?
        }
    };
    let total = status.map_or(counts.total, |s| counted(&counts, s));
    Ok((total, rows.iter().map(recipient_of).collect::<Result<_>>()?))
}

pub(super) async fn after(
    store: &SqlStore,
    tenant: &str,
    id: Uuid,
    status: Option<RecipientStatus>,
    after: Option<u32>,
    limit: usize,
) -> Result<Vec<Recipient>> {
    // The tenant check is a primary-key lookup per page; the page itself a range of the
    // (campaign_id, seq) key or of the (campaign_id, status, seq) index: no OFFSET scan.
    let (lo, hi) = match status {
        None => (0, i64::MAX),
        Some(RecipientStatus::Pending | RecipientStatus::Sending) => (0, 1),
        Some(other) => (other as i64, other as i64),
    };
    let owned = sqlx::query("SELECT 1 FROM campaigns WHERE id = $1 AND tenant = $2")
        .bind(id.to_string())
        .bind(tenant)
        .fetch_optional(&store.read)
        .await
        .map_err(db)?;
    if owned.is_none() {
        return Err(not_found(id));
    }
    // One status: its (campaign_id, status, seq) index serves the order. None or PENDING
    // (with SENDING): a walk of the primary key from `after`, filtered. (`$3 = $4` keeps
    // both forms binding the same parameters.)
    let status_test = if lo == hi { "status = $3 AND $3 = $4" } else { "status >= $3 AND status <= $4" };
    let rows = sqlx::query(&format!(
        "SELECT {RECIPIENT_COLUMNS} FROM recipients WHERE campaign_id = $1 AND seq > $2 \
         AND {status_test} ORDER BY seq LIMIT $5"
    ))
    .bind(id.to_string())
    .bind(after.map_or(-1, i64::from))
    .bind(lo)
    .bind(hi)
    .bind(limit.min(i64::MAX as usize) as i64)
    .fetch_all(&store.read)
    .await
    .map_err(db)?;
    rows.iter().map(recipient_of).collect()
}

pub(super) async fn pending(store: &SqlStore, campaign: Uuid, from: u32, limit: usize) -> Result<Vec<Recipient>> {
    let rows = sqlx::query(&format!(
        "SELECT {RECIPIENT_COLUMNS} FROM recipients WHERE campaign_id = $1 AND status = 0 AND seq >= $2 ORDER BY seq LIMIT $3"
    ))
    .bind(campaign.to_string())
    .bind(from as i64)
    .bind(limit as i64)
    .fetch_all(&store.read)
    .await
    .map_err(db)?;
    rows.iter().map(recipient_of).collect()
}

pub(super) async fn sending(store: &SqlStore, campaign: Uuid) -> Result<Vec<Recipient>> {
    let rows = sqlx::query(&format!(
        "SELECT {RECIPIENT_COLUMNS} FROM recipients WHERE campaign_id = $1 AND status = 1 ORDER BY seq"
    ))
    .bind(campaign.to_string())
    .fetch_all(&store.read)
    .await
    .map_err(db)?;
    rows.iter().map(recipient_of).collect()
}
