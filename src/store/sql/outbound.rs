//! Bot messages to people (conversations.md, Outbound): the `outbound_messages` table, read
//! in acceptance order, moved forward only (the rule is `OutboundStatus::advances`, shared
//! with the memory store), matched by provider id for receipts.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::rows::corrupt;
use super::{db, SqlStore, Tx};
use crate::error::Result;
use crate::outbound::{Content, Moved, OutboundChange, OutboundMessage, OutboundStatus};
use crate::store::Receipt;

const COLUMNS: &str = "msg_key, tenant, seq, lime_id, bot, to_identity, phone, channel_id, content, status, reason, \
                       description, provider_id, created";

fn message(row: &AnyRow) -> Result<OutboundMessage> {
    let content: String = row.try_get("content").map_err(db)?;
    let content: Content = serde_json::from_str(&content).map_err(|e| corrupt("outbound content", e))?;
    Ok(OutboundMessage {
        key: row.try_get("msg_key").map_err(db)?,
        tenant: row.try_get("tenant").map_err(db)?,
        seq: row.try_get("seq").map_err(db)?,
        lime_id: row.try_get("lime_id").map_err(db)?,
        bot: row.try_get("bot").map_err(db)?,
        to: row.try_get("to_identity").map_err(db)?,
        phone: row.try_get::<i64, _>("phone").map_err(db)? as u64,
        channel: row.try_get("channel_id").map_err(db)?,
        content,
        status: OutboundStatus::from_code(row.try_get("status").map_err(db)?),
        reason: row.try_get::<i64, _>("reason").map_err(db)? as u32,
        description: row.try_get("description").map_err(db)?,
        provider_id: row.try_get("provider_id").map_err(db)?,
        created: row.try_get("created").map_err(db)?,
    })
}

/// One transaction (one commit, one fsync) for the whole batch.
pub(super) async fn insert(store: &SqlStore, messages: &[OutboundMessage]) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO outbound_messages ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    let mut tx = store.write.begin().await.map_err(db)?;
    for m in messages {
        let content = serde_json::to_string(&m.content).map_err(|e| corrupt("outbound content", e))?;
        sqlx::query(&sql)
            .bind(&m.key)
            .bind(&m.tenant)
            .bind(m.seq)
            .bind(m.lime_id.clone())
            .bind(&m.bot)
            .bind(&m.to)
            .bind(m.phone as i64)
            .bind(&m.channel)
            .bind(content)
            .bind(m.status.code())
            .bind(m.reason as i64)
            .bind(m.description.clone())
            .bind(m.provider_id.clone())
            .bind(m.created)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(())
}

pub(super) async fn in_status(
    store: &SqlStore,
    status: OutboundStatus,
    after: i64,
    limit: usize,
) -> Result<Vec<OutboundMessage>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM outbound_messages WHERE status = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    ))
    .bind(status.code())
    .bind(after)
    .bind(limit as i64)
    .fetch_all(&store.write)
    .await
    .map_err(db)?;
    rows.iter().map(message).collect()
}

pub(super) async fn count(store: &SqlStore, status: OutboundStatus) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbound_messages WHERE status = $1")
        .bind(status.code())
        .fetch_one(&store.read)
        .await
        .map_err(db)?;
    Ok(n as u64)
}

/// One move inside the caller's transaction: read (locked on PostgreSQL), check, write.
async fn apply_one(store: &SqlStore, tx: &mut Tx, key: &str, change: &OutboundChange) -> Result<Option<Moved>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM outbound_messages WHERE msg_key = $1{}",
        store.dialect.for_update()
    ))
    .bind(key)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    write(tx, message(&row)?, change).await
}

/// Moves `m` (read locked in `tx`) as `change` says, when the ladder allows it.
async fn write(tx: &mut Tx, mut m: OutboundMessage, change: &OutboundChange) -> Result<Option<Moved>> {
    let provider_changed = change.provider_id.is_some() && change.provider_id != m.provider_id;
    let moves = m.status.advances(change.status);
    if !moves && !provider_changed {
        return Ok(None);
    }
    let from = m.status;
    if let Some(p) = &change.provider_id {
        m.provider_id = Some(p.clone());
    }
    if moves {
        m.status = change.status;
        if change.status == OutboundStatus::Failed {
            m.reason = change.reason;
            m.description = change.description.clone();
        }
    }
    sqlx::query(
        "UPDATE outbound_messages SET status = $1, reason = $2, description = $3, provider_id = $4 WHERE msg_key = $5",
    )
    .bind(m.status.code())
    .bind(m.reason as i64)
    .bind(m.description.clone())
    .bind(m.provider_id.clone())
    .bind(&m.key)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(moves.then_some(Moved { message: m, from }))
}

pub(super) async fn apply(store: &SqlStore, changes: &[OutboundChange]) -> Result<Vec<Moved>> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = store.write.begin().await.map_err(db)?;
    let mut moved = Vec::new();
    let unique = changes.iter().map(|c| c.key.as_str()).collect::<std::collections::HashSet<_>>().len();
    if unique == changes.len() {
        // The sender's batches: every row read (and locked) by one statement, then written.
        let keys: Vec<serde_json::Value> = changes.iter().map(|c| serde_json::json!({"k": c.key})).collect();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM outbound_messages WHERE msg_key IN (SELECT k FROM {}){}",
            store.dialect.json_rows("$1", &[("k", "text")]),
            store.dialect.for_update()
        ))
        .bind(serde_json::Value::Array(keys).to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let m = message(row)?;
            found.insert(m.key.clone(), m);
        }
        for c in changes {
            if let Some(m) = found.remove(&c.key) {
                moved.extend(write(&mut tx, m, c).await?);
            }
        }
    } else {
        for c in changes {
            moved.extend(apply_one(store, &mut tx, &c.key, c).await?);
        }
    }
    tx.commit().await.map_err(db)?;
    Ok(moved)
}

pub(super) async fn receipts(store: &SqlStore, receipts: &[Receipt]) -> Result<Vec<Moved>> {
    // Campaign sends' ids (`ig.…`) are never an outbound key: a batch of only those (a
    // campaign's dispatch) costs no transaction.
    let candidate = |r: &Receipt| !r.message_id.starts_with("ig.") && OutboundStatus::of_receipt(r.status).is_some();
    if !receipts.iter().any(candidate) {
        return Ok(Vec::new());
    }
    let mut tx = store.write.begin().await.map_err(db)?;
    let mut moved = Vec::new();
    for r in receipts {
        let Some(status) = OutboundStatus::of_receipt(r.status).filter(|_| candidate(r)) else { continue };
        // One read finds the message and locks it (PostgreSQL) for the move.
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM outbound_messages WHERE provider_id = $1 OR msg_key = $1 LIMIT 1{}",
            store.dialect.for_update()
        ))
        .bind(&r.message_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else { continue };
        let m = message(&row)?;
        let change =
            OutboundChange { key: m.key.clone(), status, reason: r.reason, description: None, provider_id: None };
        moved.extend(write(&mut tx, m, &change).await?);
    }
    tx.commit().await.map_err(db)?;
    Ok(moved)
}
