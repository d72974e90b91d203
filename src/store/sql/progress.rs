//! Recipients' progress: the forward moves of their status (handed to a channel, send
//! outcomes, channel receipts) with the campaign counters each move changes, in the same
//! transaction; and the provider message ids receipts are matched by.

use std::collections::HashMap;

use serde_json::{json, Value};
use sqlx::Row;
use uuid::Uuid;

use super::rows::{progress_of, PROGRESS_COLUMNS};
use super::{db, Dialect, SqlStore, Tx};
use crate::callbacks::outbox::Event;
use crate::campaign::{parse_message_id, Recipient, RecipientStatus};
use crate::error::Result;
use crate::store::{Outcome, Receipt};

/// Changes of the six counters.
#[derive(Default)]
struct Delta([i64; 6]);

impl Delta {
    fn slot(s: RecipientStatus) -> usize {
        match s {
            RecipientStatus::Pending | RecipientStatus::Sending => 1,
            RecipientStatus::Processed => 2,
            RecipientStatus::Received => 3,
            RecipientStatus::Read => 4,
            RecipientStatus::Failed => 5,
        }
    }

    fn moved(&mut self, from: RecipientStatus, to: RecipientStatus) {
        self.0[Delta::slot(from)] -= 1;
        self.0[Delta::slot(to)] += 1;
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|d| *d == 0)
    }
}

/// Applies forward moves of one campaign's recipients in one transaction.
/// Returns how many recipients moved.
async fn advance(store: &SqlStore, campaign: Uuid, moves: &[(u32, RecipientStatus, i64, u32)]) -> Result<u64> {
    if moves.is_empty() {
        return Ok(0);
    }
    let mut tx = store.write.begin().await.map_err(db)?;
    let moved = advance_in(store, &mut tx, campaign, moves).await?;
    tx.commit().await.map_err(db)?;
    Ok(moved.len() as u64)
}

/// [`advance`] inside the caller's transaction; the recipients that moved.
pub(super) async fn advance_in(
    store: &SqlStore,
    tx: &mut Tx,
    campaign: Uuid,
    moves: &[(u32, RecipientStatus, i64, u32)],
) -> Result<Vec<u32>> {
    if moves.is_empty() {
        return Ok(Vec::new());
    }
    let id = campaign.to_string();
    let mut seqs: Vec<u32> = moves.iter().map(|m| m.0).collect();
    // Receipts name a recipient up to three times in a batch; it is read once.
    seqs.sort_unstable();
    seqs.dedup();
    let list = store.dialect.json_numbers("$2");
    let select = format!(
        // Rows are locked in seq order so that two writers of one campaign (receipts and
        // sends) cannot deadlock on PostgreSQL.
        "SELECT {PROGRESS_COLUMNS} FROM recipients WHERE campaign_id = $1 AND seq IN ({list}) ORDER BY seq{}",
        store.dialect.for_update()
    );
    let rows = sqlx::query(&select)
        .bind(&id)
        .bind(serde_json::to_string(&seqs).expect("plain numbers"))
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
    let mut current: HashMap<u32, Recipient> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let r = progress_of(row)?;
        current.insert(r.seq, r);
    }
    let mut delta = Delta::default();
    let mut changed: HashMap<u32, ()> = HashMap::new();
    // Status callbacks of the moves, in their order, written below in this transaction.
    let mut events = Vec::new();
    for (seq, status, at, reason) in moves {
        let Some(r) = current.get_mut(seq) else { continue };
        let from = r.status;
        if r.advance(*status, *at, *reason) {
            delta.moved(from, *status);
            changed.insert(*seq, ());
            events.extend(Event::recipient(campaign, *seq, r.phone, *status, *reason, *at));
        }
    }
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let updates: Vec<Value> = changed
        .keys()
        .filter_map(|s| current.get(s))
        .map(|r| {
            json!({"seq": r.seq, "status": r.status as u8, "reason": r.reason, "p": r.processed_at,
                   "rc": r.received_at, "rd": r.read_at, "f": r.failed_at})
        })
        .collect();
    let update = match store.dialect {
        // SQLite's UPDATE … FROM makes the target table the outer loop (every recipient
        // of the campaign × every row of the batch); an upsert looks each row up by key.
        Dialect::Sqlite => format!(
            "INSERT INTO recipients (campaign_id, seq, status, reason, phone, params, processed_at, received_at, read_at, failed_at) \
             SELECT $1, seq, status, reason, 0, '', p, rc, rd, f FROM {} WHERE true \
             ON CONFLICT (campaign_id, seq) DO UPDATE SET status = excluded.status, reason = excluded.reason, \
             processed_at = excluded.processed_at, received_at = excluded.received_at, read_at = excluded.read_at, \
             failed_at = excluded.failed_at",
            store.dialect.json_rows(
                "$2",
                &[("seq", ""), ("status", ""), ("reason", ""), ("p", ""), ("rc", ""), ("rd", ""), ("f", "")]
            )
        ),
        Dialect::Postgres => format!(
            "UPDATE recipients SET status = j.status, reason = j.reason, processed_at = j.p, received_at = j.rc, \
             read_at = j.rd, failed_at = j.f FROM {} WHERE recipients.campaign_id = $1 AND recipients.seq = j.seq",
            store.dialect.json_rows(
                "$2",
                &[
                    ("seq", "bigint"),
                    ("status", "bigint"),
                    ("reason", "bigint"),
                    ("p", "bigint"),
                    ("rc", "bigint"),
                    ("rd", "bigint"),
                    ("f", "bigint")
                ]
            )
        ),
    };
    let moved: Vec<u32> = changed.keys().copied().collect();
    sqlx::query(&update).bind(&id).bind(Value::Array(updates).to_string()).execute(&mut **tx).await.map_err(db)?;
    if !delta.is_zero() {
        let d = &delta.0;
        sqlx::query(
            "UPDATE campaigns SET pending = pending + $2, processed = processed + $3, received = received + $4, \
             read_count = read_count + $5, failed = failed + $6 WHERE id = $1",
        )
        .bind(&id)
        .bind(d[1])
        .bind(d[2])
        .bind(d[3])
        .bind(d[4])
        .bind(d[5])
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    super::callbacks::enqueue_in(store, tx, campaign, &events).await?;
    Ok(moved)
}

pub(super) async fn mark_sending(store: &SqlStore, campaign: Uuid, seqs: &[u32], _at: i64) -> Result<Vec<u32>> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    // Only PENDING becomes SENDING and both count as pending, so one conditional UPDATE
    // does it: no read of the rows first, no change of the campaign's counters.
    let list = store.dialect.json_numbers("$2");
    let sql = match store.dialect {
        Dialect::Sqlite => format!(
            "UPDATE recipients SET status = 1 WHERE campaign_id = $1 AND status = 0 AND seq IN ({list}) RETURNING seq"
        ),
        // Rows locked in seq order, like every other writer of recipients (no deadlock
        // with a second node that took the lease over meanwhile). The status test stays
        // outside the locking subquery, behind `OFFSET 0`: inside, a planner misled by
        // stale statistics walks every pending row of the campaign by the status index.
        Dialect::Postgres => format!(
            "UPDATE recipients SET status = 1 FROM (SELECT seq, status FROM recipients WHERE campaign_id = $1 \
             AND seq IN ({list}) ORDER BY seq OFFSET 0 FOR UPDATE) AS s \
             WHERE recipients.campaign_id = $1 AND recipients.seq = s.seq AND s.status = 0 RETURNING recipients.seq"
        ),
    };
    let list = serde_json::to_string(seqs).expect("plain numbers");
    let moved: Vec<i64> =
        sqlx::query_scalar(&sql).bind(campaign.to_string()).bind(list).fetch_all(&store.write).await.map_err(db)?;
    Ok(moved.into_iter().map(|s| s as u32).collect())
}

pub(super) async fn record_outcomes(store: &SqlStore, campaign: Uuid, outcomes: &[Outcome]) -> Result<()> {
    let moves: Vec<_> = outcomes.iter().map(|o| (o.seq, o.status, o.at, o.reason)).collect();
    advance(store, campaign, &moves).await.map(|_| ())
}

pub(super) async fn apply_receipts(store: &SqlStore, receipts: &[Receipt]) -> Result<u64> {
    let mut by_campaign: HashMap<Uuid, Vec<(u32, RecipientStatus, i64, u32)>> = HashMap::new();
    for r in receipts {
        let target = match parse_message_id(&r.message_id) {
            Some(t) => Some(t),
            // Bots' messages (`ob.…`, conversations.md) are never a campaign's.
            None if r.message_id.starts_with("ob.") => None,
            None => sqlx::query("SELECT campaign_id, seq FROM message_ids WHERE message_id = $1")
                .bind(&r.message_id)
                .fetch_optional(&store.read)
                .await
                .map_err(db)?
                .and_then(|row| {
                    let c: String = row.try_get("campaign_id").ok()?;
                    let s: i64 = row.try_get("seq").ok()?;
                    Some((Uuid::try_parse(&c).ok()?, s as u32))
                }),
        };
        if let Some((c, seq)) = target {
            by_campaign.entry(c).or_default().push((seq, r.status, r.at, r.reason));
        }
    }
    let mut changed = 0;
    for (campaign, moves) in by_campaign {
        changed += advance(store, campaign, &moves).await?;
    }
    Ok(changed)
}

pub(super) async fn link_message_id(store: &SqlStore, message_id: &str, campaign: Uuid, seq: u32) -> Result<()> {
    sqlx::query("INSERT INTO message_ids (message_id, campaign_id, seq) VALUES ($1, $2, $3) ON CONFLICT (message_id) DO NOTHING")
        .bind(message_id)
        .bind(campaign.to_string())
        .bind(seq as i64)
        .execute(&store.write)
        .await
        .map_err(db)?;
    Ok(())
}
