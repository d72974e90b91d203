//! Status callbacks: the `webhooks` table and the `callback_deliveries` outbox. Events are
//! written by [`enqueue_in`] inside the transaction that changes the status, so a crash loses
//! neither the change nor its callback.

use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use super::{db, Dialect, SqlStore, Tx};
use crate::callbacks::outbox::{Delivery, DeliveryState, Event, EventKind, Webhook};
use crate::error::Result;
use crate::secret::Secret;
use crate::store::Page;

/// Adds a delivery of each event for every webhook of the campaign's tenant that wants it:
/// one statement, which inserts nothing when the tenant has no webhook.
pub(super) async fn enqueue_in(store: &SqlStore, tx: &mut Tx, campaign: Uuid, events: &[Event]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({"e": e.id.to_string(), "k": e.kind.name(), "s": e.recipient.map_or(-1, i64::from),
                   "p": e.phone as i64, "st": e.status, "r": e.reason, "a": e.at, "i": i as i64 + 1})
        })
        .collect();
    let columns = [
        ("e", "text"),
        ("k", "text"),
        ("s", "bigint"),
        ("p", "bigint"),
        ("st", "text"),
        ("r", "bigint"),
        ("a", "bigint"),
        ("i", "bigint"),
    ];
    let source = match store.dialect {
        Dialect::Sqlite => format!("{} AS j", store.dialect.json_rows("$2", &columns)),
        Dialect::Postgres => store.dialect.json_rows("$2", &columns),
    };
    let sql = format!(
        "INSERT INTO callback_deliveries (webhook_id, event_id, ord, kind, campaign_id, rseq, phone, status, reason, \
         event_at, state, attempts, next_at, first_at) \
         SELECT w.id, j.e, (SELECT COALESCE(MAX(ord), 0) FROM callback_deliveries) + j.i, j.k, $1, j.s, j.p, j.st, \
         j.r, j.a, 0, 0, 0, 0 FROM webhooks w CROSS JOIN {source} \
         WHERE w.tenant = (SELECT tenant FROM campaigns WHERE id = $1) AND w.events LIKE '%' || j.k || '%'"
    );
    sqlx::query(&sql)
        .bind(campaign.to_string())
        .bind(Value::Array(rows).to_string())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

fn webhook_of(row: &AnyRow) -> Result<Webhook> {
    let id: String = row.try_get("id").map_err(db)?;
    Ok(Webhook {
        id: Uuid::try_parse(&id).unwrap_or_default(),
        tenant: row.try_get("tenant").map_err(db)?,
        url: row.try_get("url").map_err(db)?,
        events: Webhook::events_from(&row.try_get::<String, _>("events").map_err(db)?),
        secret: Secret::new(row.try_get::<String, _>("secret").map_err(db)?),
        created: row.try_get("created").map_err(db)?,
    })
}

const DELIVERY_COLUMNS: &str = "webhook_id, event_id, ord, kind, campaign_id, rseq, phone, status, reason, event_at, \
                                state, attempts, last_code, last_error, next_at, first_at";

fn delivery_of(row: &AnyRow) -> Result<Delivery> {
    let get_i = |c: &str| row.try_get::<i64, _>(c).map_err(db);
    let get_s = |c: &str| row.try_get::<String, _>(c).map_err(db);
    let uuid = |c: &str| get_s(c).map(|s| Uuid::try_parse(&s).unwrap_or_default());
    let rseq = get_i("rseq")?;
    Ok(Delivery {
        order: get_i("ord")?,
        webhook: uuid("webhook_id")?,
        event: Event {
            id: uuid("event_id")?,
            kind: EventKind::parse(&get_s("kind")?).unwrap_or(EventKind::RecipientStatus),
            campaign: uuid("campaign_id")?,
            recipient: (rseq >= 0).then_some(rseq as u32),
            phone: get_i("phone")? as u64,
            status: get_s("status")?,
            reason: get_i("reason")? as u32,
            at: get_i("event_at")?,
        },
        state: DeliveryState::from_code(get_i("state")?),
        attempts: get_i("attempts")? as u32,
        last_code: row.try_get::<Option<i64>, _>("last_code").map_err(db)?.map(|c| c as u16),
        last_error: row.try_get::<Option<String>, _>("last_error").map_err(db)?,
        next_at: get_i("next_at")?,
        first_at: get_i("first_at")?,
    })
}

pub(super) async fn put_webhook(store: &SqlStore, hook: Webhook) -> Result<()> {
    sqlx::query(
        "INSERT INTO webhooks (id, tenant, url, events, secret, created) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET url = excluded.url, events = excluded.events, secret = excluded.secret",
    )
    .bind(hook.id.to_string())
    .bind(&hook.tenant)
    .bind(&hook.url)
    .bind(hook.events_text())
    .bind(hook.secret.expose())
    .bind(hook.created)
    .execute(&store.write)
    .await
    .map_err(db)?;
    Ok(())
}

pub(super) async fn webhooks(store: &SqlStore, tenant: Option<&str>) -> Result<Vec<Webhook>> {
    let rows = match tenant {
        Some(t) => sqlx::query("SELECT * FROM webhooks WHERE tenant = $1 ORDER BY created, id").bind(t),
        None => sqlx::query("SELECT * FROM webhooks ORDER BY created, id"),
    }
    .fetch_all(&store.read)
    .await
    .map_err(db)?;
    rows.iter().map(webhook_of).collect()
}

pub(super) async fn delete_webhook(store: &SqlStore, tenant: &str, id: Uuid) -> Result<bool> {
    let mut tx = store.write.begin().await.map_err(db)?;
    let gone = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND tenant = $2")
        .bind(id.to_string())
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
        > 0;
    if gone {
        sqlx::query("DELETE FROM callback_deliveries WHERE webhook_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(gone)
}

pub(super) async fn pending(store: &SqlStore, webhook: Uuid, limit: usize) -> Result<Vec<Delivery>> {
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM callback_deliveries WHERE webhook_id = $1 AND state = 0 ORDER BY ord LIMIT $2"
    ))
    .bind(webhook.to_string())
    .bind(limit.min(i64::MAX as usize) as i64)
    .fetch_all(&store.read)
    .await
    .map_err(db)?;
    rows.iter().map(delivery_of).collect()
}

/// Rows of one `UPDATE` of delivery outcomes: a round's worth (`webhooks.batch`, 512 by
/// default) in one statement, and a JSON parameter that stays well under a megabyte.
const UPDATE_CHUNK: usize = 2_000;

/// A round's outcomes in one transaction, a statement per chunk: a statement per delivery held
/// SQLite's one writer long enough to slow dispatch (BENCHMARKS.md, status callbacks).
pub(super) async fn update(store: &SqlStore, deliveries: &[Delivery]) -> Result<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let columns = [
        ("w", "text"),
        ("e", "text"),
        ("st", "bigint"),
        ("n", "bigint"),
        ("lc", "bigint"),
        ("le", "text"),
        ("na", "bigint"),
        ("fa", "bigint"),
    ];
    let source = match store.dialect {
        Dialect::Sqlite => format!("{} AS j", store.dialect.json_rows("$1", &columns)),
        Dialect::Postgres => store.dialect.json_rows("$1", &columns),
    };
    let sql = format!(
        "UPDATE callback_deliveries SET state = j.st, attempts = j.n, last_code = j.lc, last_error = j.le, \
         next_at = j.na, first_at = j.fa FROM {source} \
         WHERE callback_deliveries.webhook_id = j.w AND callback_deliveries.event_id = j.e"
    );
    let mut tx = store.write.begin().await.map_err(db)?;
    for chunk in deliveries.chunks(UPDATE_CHUNK) {
        let rows: Vec<Value> = chunk
            .iter()
            .map(|d| {
                json!({"w": d.webhook.to_string(), "e": d.event.id.to_string(), "st": d.state as i64,
                       "n": d.attempts as i64, "lc": d.last_code.map(i64::from), "le": d.last_error,
                       "na": d.next_at, "fa": d.first_at})
            })
            .collect();
        sqlx::query(&sql).bind(Value::Array(rows).to_string()).execute(&mut *tx).await.map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(())
}

pub(super) async fn trim(store: &SqlStore, webhook: Uuid, max_pending: u64) -> Result<u64> {
    // Everything pending at or before the newest one that falls outside the newest `max_pending`.
    let done = sqlx::query(
        "DELETE FROM callback_deliveries WHERE webhook_id = $1 AND state = 0 AND ord <= \
         (SELECT ord FROM callback_deliveries WHERE webhook_id = $1 AND state = 0 ORDER BY ord DESC LIMIT 1 OFFSET $2)",
    )
    .bind(webhook.to_string())
    .bind(max_pending as i64)
    .execute(&store.write)
    .await
    .map_err(db)?;
    Ok(done.rows_affected())
}

pub(super) async fn log(
    store: &SqlStore,
    webhook: Uuid,
    state: Option<DeliveryState>,
    page: Page,
) -> Result<(u64, Vec<Delivery>)> {
    // -1 matches every state.
    let state = state.map_or(-1, |s| s as i64);
    let total: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM callback_deliveries WHERE webhook_id = $1 AND ($2 < 0 OR state = $2)")
            .bind(webhook.to_string())
            .bind(state)
            .fetch_one(&store.read)
            .await
            .map_err(db)?;
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM callback_deliveries WHERE webhook_id = $1 AND ($2 < 0 OR state = $2) \
         ORDER BY ord DESC LIMIT $3 OFFSET $4"
    ))
    .bind(webhook.to_string())
    .bind(state)
    .bind(page.take.min(i64::MAX as u64) as i64)
    .bind(page.skip.min(i64::MAX as u64) as i64)
    .fetch_all(&store.read)
    .await
    .map_err(db)?;
    Ok((total as u64, rows.iter().map(delivery_of).collect::<Result<_>>()?))
}

pub(super) async fn replay(store: &SqlStore, webhook: Uuid, event: Uuid) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE callback_deliveries SET state = 0, next_at = 0, first_at = 0 WHERE webhook_id = $1 AND event_id = $2",
    )
    .bind(webhook.to_string())
    .bind(event.to_string())
    .execute(&store.write)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() > 0)
}
