//! The SQL store: SQLite (embedded, the default) and PostgreSQL (several nodes on one
//! database) through one implementation; the few statements that differ are chosen by
//! [`Dialect`]. Bulk writes pass their rows as one JSON parameter (`json_each` /
//! `jsonb_to_recordset`), so a batch of thousands of rows is one statement.
//!
//! Every method commits before it returns: a command answered `success` is on disk.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use super::rules::{
    already_dispatched, apply_patch, counted, matches, not_deletable, not_found, phone_of_identity, too_many,
};
use super::{AudienceAdded, CampaignChange, CampaignFilter, Outcome, Page, Receipt, Store};
use crate::campaign::{
    parse_message_id, split_given, Campaign, CampaignStatus, Counts, NewRecipient, Params, Recipient, RecipientExtra,
    RecipientStatus,
};
use crate::catalog::{ChannelDef, CustomFieldDef, TagDef, TemplateDef};
use crate::contact::{Contact, ContactKey, ContactPatch, ContextWrite};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

pub struct SqlStore {
    /// Writes (and, for PostgreSQL, everything).
    write: AnyPool,
    /// Reads; for SQLite a separate pool so that readers never wait for the one writer.
    read: AnyPool,
    dialect: Dialect,
}

fn db(e: sqlx::Error) -> Error {
    Error::Unavailable(format!("storage error: {e}"))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("stored {what} cannot be read: {e}"))
}

/// Versioned schema: each entry runs once, in order, recorded in `schema_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    r#"
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    status TEXT NOT NULL,
    created BIGINT NOT NULL,
    scheduled BIGINT,
    channel_id TEXT NOT NULL,
    data TEXT NOT NULL,
    total BIGINT NOT NULL DEFAULT 0,
    pending BIGINT NOT NULL DEFAULT 0,
    processed BIGINT NOT NULL DEFAULT 0,
    received BIGINT NOT NULL DEFAULT 0,
    read_count BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS campaigns_tenant_created ON campaigns (tenant, created);
CREATE INDEX IF NOT EXISTS campaigns_status ON campaigns (status);
CREATE TABLE IF NOT EXISTS recipients (
    campaign_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    status BIGINT NOT NULL,
    reason BIGINT NOT NULL DEFAULT 0,
    phone BIGINT NOT NULL,
    given TEXT,
    params TEXT NOT NULL,
    context TEXT,
    contact_id TEXT,
    processed_at BIGINT NOT NULL DEFAULT 0,
    received_at BIGINT NOT NULL DEFAULT 0,
    read_at BIGINT NOT NULL DEFAULT 0,
    failed_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, seq)
);
CREATE INDEX IF NOT EXISTS recipients_status ON recipients (campaign_id, status, seq);
CREATE INDEX IF NOT EXISTS recipients_phone ON recipients (campaign_id, phone);
CREATE TABLE IF NOT EXISTS message_ids (message_id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    identity TEXT,
    phone BIGINT,
    created BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS contacts_identity ON contacts (tenant, identity);
CREATE INDEX IF NOT EXISTS contacts_phone ON contacts (tenant, phone);
CREATE INDEX IF NOT EXISTS contacts_order ON contacts (tenant, seq);
CREATE TABLE IF NOT EXISTS contexts (
    tenant TEXT NOT NULL,
    identity TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant, identity, name)
);
CREATE TABLE IF NOT EXISTS catalog (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    position BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, id)
);
CREATE TABLE IF NOT EXISTS pacers (
    tenant TEXT NOT NULL,
    channel TEXT NOT NULL,
    next_slot BIGINT NOT NULL,
    PRIMARY KEY (tenant, channel)
);
"#,
)];

fn status_name(s: CampaignStatus) -> &'static str {
    s.rest()
}

fn status_from(s: &str) -> CampaignStatus {
    CampaignStatus::parse_any(s).and_then(|v| v.first().copied()).unwrap_or(CampaignStatus::Failed)
}

fn recipient_status(v: i64) -> RecipientStatus {
    match v {
        0 => RecipientStatus::Pending,
        1 => RecipientStatus::Sending,
        2 => RecipientStatus::Processed,
        3 => RecipientStatus::Received,
        4 => RecipientStatus::Read,
        _ => RecipientStatus::Failed,
    }
}

const RECIPIENT_COLUMNS: &str =
    "seq, status, reason, phone, given, params, context, contact_id, processed_at, received_at, read_at, failed_at";

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

/// What a status move reads and writes: no parameter text, no given text.
const PROGRESS_COLUMNS: &str = "seq, status, reason, phone, processed_at, received_at, read_at, failed_at";

/// A recipient's progress only (see [`PROGRESS_COLUMNS`]); its texts are left empty.
fn progress_of(row: &AnyRow) -> Result<Recipient> {
    let get_i = |c: &str| row.try_get::<i64, _>(c).map_err(db);
    Ok(Recipient {
        seq: get_i("seq")? as u32,
        status: recipient_status(get_i("status")?),
        reason: get_i("reason")? as u32,
        phone: get_i("phone")? as u64,
        given_plain: false,
        params: Params::default(),
        extra: None,
        processed_at: get_i("processed_at")?,
        received_at: get_i("received_at")?,
        read_at: get_i("read_at")?,
        failed_at: get_i("failed_at")?,
    })
}

fn recipient_of(row: &AnyRow) -> Result<Recipient> {
    let get_i = |c: &str| row.try_get::<i64, _>(c).map_err(db);
    let get_s = |c: &str| row.try_get::<Option<String>, _>(c).map_err(db);
    let phone = get_i("phone")? as u64;
    let (given, given_plain) = split_given(phone, get_s("given")?);
    Ok(Recipient {
        seq: get_i("seq")? as u32,
        status: recipient_status(get_i("status")?),
        reason: get_i("reason")? as u32,
        phone,
        given_plain,
        params: Params::from_packed(get_s("params")?.unwrap_or_default()),
        extra: RecipientExtra::boxed(
            given,
            get_s("context")?.map(String::into_boxed_str),
            get_s("contact_id")?.map(String::into_boxed_str),
        ),
        processed_at: get_i("processed_at")?,
        received_at: get_i("received_at")?,
        read_at: get_i("read_at")?,
        failed_at: get_i("failed_at")?,
    })
}

fn counts_of(row: &AnyRow) -> Result<Counts> {
    let g = |c: &str| row.try_get::<i64, _>(c).map(|v| v.max(0) as u64).map_err(db);
    Ok(Counts {
        total: g("total")?,
        pending: g("pending")?,
        processed: g("processed")?,
        received: g("received")?,
        read: g("read_count")?,
        failed: g("failed")?,
    })
}

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

/// Per-connection SQLite settings: WAL (readers never wait for the writer), full sync (a
/// commit is on disk before it returns), a busy timeout instead of immediate errors.
/// A write transaction.
type Tx = sqlx::Transaction<'static, sqlx::Any>;

fn sqlite_pragmas<'c>(
    conn: &'c mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'c, std::result::Result<(), sqlx::Error>> {
    Box::pin(async move {
        for p in ["PRAGMA busy_timeout = 10000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL"] {
            sqlx::query(p).execute(&mut *conn).await?;
        }
        Ok(())
    })
}

impl SqlStore {
    /// Connects (creating the SQLite file and its directory) and runs the migrations.
    pub async fn connect(url: &str, dialect: Dialect) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let (write, read) = match dialect {
            Dialect::Sqlite => {
                let pragmas = sqlite_pragmas;
                let write =
                    AnyPoolOptions::new().max_connections(1).after_connect(pragmas).connect(url).await.map_err(db)?;
                let read =
                    AnyPoolOptions::new().max_connections(4).after_connect(pragmas).connect(url).await.map_err(db)?;
                (write, read)
            }
            Dialect::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await
                    .map_err(db)?;
                (pool.clone(), pool)
            }
        };
        let store = SqlStore { write, read, dialect };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&self.write)
        .await
        .map_err(db)?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.write.begin().await.map_err(db)?;
            if self.dialect == Dialect::Postgres {
                // Several nodes may start at once: one migrates, the others wait.
                sqlx::query("SELECT pg_advisory_xact_lock(7311)").execute(&mut *tx).await.map_err(db)?;
            }
            let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            if done.is_some() {
                continue;
            }
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(statement).execute(&mut *tx).await.map_err(db)?;
            }
            sqlx::query(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING",
            )
            .bind(*version)
            .bind(chrono::Utc::now().timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            tracing::info!(version, "storage schema migrated");
        }
        Ok(())
    }

    /// `SELECT <each number of a JSON array parameter>`, for `IN (…)`, per dialect.
    fn json_numbers(&self, param: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("SELECT value FROM json_each({param})"),
            Dialect::Postgres => format!("SELECT jsonb_array_elements_text({param}::jsonb)::bigint"),
        }
    }

    /// `FROM <rows of a JSON array parameter>` with typed columns, per dialect.
    fn json_rows(&self, param: &str, columns: &[(&str, &str)]) -> String {
        match self.dialect {
            Dialect::Sqlite => {
                let cols: Vec<String> =
                    columns.iter().map(|(c, _)| format!("json_extract(value, '$.{c}') AS {c}")).collect();
                format!("(SELECT {} FROM json_each({param}))", cols.join(", "))
            }
            Dialect::Postgres => {
                let cols: Vec<String> = columns.iter().map(|(c, t)| format!("{c} {t}")).collect();
                format!("jsonb_to_recordset({param}::jsonb) AS j({})", cols.join(", "))
            }
        }
    }

    fn for_update(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    async fn campaign_row(&self, tenant: Option<&str>, id: Uuid) -> Result<Option<Campaign>> {
        let row = sqlx::query("SELECT tenant, data FROM campaigns WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let owner: String = row.try_get("tenant").map_err(db)?;
        if tenant.is_some_and(|t| t != owner) {
            return Ok(None);
        }
        let data: String = row.try_get("data").map_err(db)?;
        serde_json::from_str(&data).map(Some).map_err(|e| corrupt("campaign", e))
    }

    /// Applies forward moves of one campaign's recipients in one transaction.
    /// Returns how many recipients moved.
    async fn advance(&self, campaign: Uuid, moves: &[(u32, RecipientStatus, i64, u32)]) -> Result<u64> {
        if moves.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write.begin().await.map_err(db)?;
        let moved = self.advance_in(&mut tx, campaign, moves).await?;
        tx.commit().await.map_err(db)?;
        Ok(moved.len() as u64)
    }

    /// [`SqlStore::advance`] inside the caller's transaction; the recipients that moved.
    async fn advance_in(
        &self,
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
        let list = self.json_numbers("$2");
        let select = format!(
            // Rows are locked in seq order so that two writers of one campaign (receipts and
            // sends) cannot deadlock on PostgreSQL.
            "SELECT {PROGRESS_COLUMNS} FROM recipients WHERE campaign_id = $1 AND seq IN ({list}) ORDER BY seq{}",
            self.for_update()
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
        for (seq, status, at, reason) in moves {
            let Some(r) = current.get_mut(seq) else { continue };
            let from = r.status;
            if r.advance(*status, *at, *reason) {
                delta.moved(from, *status);
                changed.insert(*seq, ());
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
        let update = match self.dialect {
            // SQLite's UPDATE … FROM makes the target table the outer loop (every recipient
            // of the campaign × every row of the batch); an upsert looks each row up by key.
            Dialect::Sqlite => format!(
                "INSERT INTO recipients (campaign_id, seq, status, reason, phone, params, processed_at, received_at, read_at, failed_at) \
                 SELECT $1, seq, status, reason, 0, '', p, rc, rd, f FROM {} WHERE true \
                 ON CONFLICT (campaign_id, seq) DO UPDATE SET status = excluded.status, reason = excluded.reason, \
                 processed_at = excluded.processed_at, received_at = excluded.received_at, read_at = excluded.read_at, \
                 failed_at = excluded.failed_at",
                self.json_rows(
                    "$2",
                    &[("seq", ""), ("status", ""), ("reason", ""), ("p", ""), ("rc", ""), ("rd", ""), ("f", "")]
                )
            ),
            Dialect::Postgres => format!(
                "UPDATE recipients SET status = j.status, reason = j.reason, processed_at = j.p, received_at = j.rc, \
                 read_at = j.rd, failed_at = j.f FROM {} WHERE recipients.campaign_id = $1 AND recipients.seq = j.seq",
                self.json_rows(
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
        Ok(moved)
    }

    /// [`Store::patch_contacts`] inside the caller's transaction.
    async fn patch_contacts_in(&self, tx: &mut Tx, tenant: &str, patches: Vec<ContactPatch>) -> Result<()> {
        if patches.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now().timestamp_millis();
        // One read of every contact the batch may touch, one write of all of them.
        let keys: Vec<Value> = patches
            .iter()
            .map(|p| json!({"identity": p.identity.as_ref().map(|i| i.to_ascii_lowercase()), "phone": p.phone.filter(|p| *p != 0).map(|p| p as i64)}))
            .collect();
        let from = self.json_rows("$2", &[("identity", "text"), ("phone", "bigint")]);
        // First the ids, by two index lookups (an OR of the two IN lists made SQLite scan
        // every contact of the workspace once per batch); then those rows by primary key,
        // locked in id order. In one statement PostgreSQL's planner, misled by a table that
        // grew since its last ANALYZE, scanned every contact of the workspace instead.
        let ids_sql = format!(
            "SELECT id FROM contacts WHERE tenant = $1 AND identity IN (SELECT identity FROM {from}) UNION \
             SELECT id FROM contacts WHERE tenant = $1 AND phone IN (SELECT phone FROM {from})"
        );
        let ids: Vec<String> = sqlx::query_scalar(&ids_sql)
            .bind(tenant)
            .bind(Value::Array(keys).to_string())
            .fetch_all(&mut **tx)
            .await
            .map_err(db)?;
        let rows = if ids.is_empty() {
            Vec::new()
        } else {
            let sql = format!(
                "SELECT data FROM contacts WHERE tenant = $1 AND id IN (SELECT id FROM {}) ORDER BY id{}",
                self.json_rows("$2", &[("id", "text")]),
                self.for_update()
            );
            let ids: Vec<Value> = ids.into_iter().map(|id| json!({ "id": id })).collect();
            sqlx::query(&sql).bind(tenant).bind(Value::Array(ids).to_string()).fetch_all(&mut **tx).await.map_err(db)?
        };
        let mut contacts: Vec<Contact> = Vec::with_capacity(patches.len());
        let mut by_identity: HashMap<String, usize> = HashMap::new();
        let mut by_phone: HashMap<u64, usize> = HashMap::new();
        let mut existing = std::collections::HashSet::new();
        for row in rows {
            let data: String = row.try_get("data").map_err(db)?;
            let c: Contact = serde_json::from_str(&data).map_err(|e| corrupt("contact", e))?;
            existing.insert(c.id.clone());
            if let Some(i) = &c.identity {
                by_identity.insert(i.to_ascii_lowercase(), contacts.len());
            }
            if let Some(p) = c.phone {
                by_phone.insert(p, contacts.len());
            }
            contacts.push(c);
        }
        let mut touched = Vec::new();
        for p in patches {
            let found = p
                .identity
                .as_ref()
                .and_then(|i| by_identity.get(&i.to_ascii_lowercase()))
                .or_else(|| p.phone.filter(|p| *p != 0).and_then(|ph| by_phone.get(&ph)))
                .copied();
            let index = match found {
                Some(i) => i,
                None => {
                    // Time-ordered ids: new contacts append to the primary-key index instead of
                    // splitting pages all over it (a random v4 id dirtied a page per insert).
                    contacts.push(Contact { id: Uuid::now_v7().to_string(), created: now, ..Contact::default() });
                    contacts.len() - 1
                }
            };
            apply_patch(&mut contacts[index], p, now);
            if let Some(i) = &contacts[index].identity {
                by_identity.insert(i.to_ascii_lowercase(), index);
            }
            if let Some(ph) = contacts[index].phone {
                by_phone.insert(ph, index);
            }
            touched.push(index);
        }
        touched.sort_unstable();
        touched.dedup();
        let base: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM contacts WHERE tenant = $1")
            .bind(tenant)
            .fetch_one(&mut **tx)
            .await
            .map_err(db)?;
        let mut next = base;
        let rows: Vec<Value> = touched
            .iter()
            .map(|&i| {
                let c = &contacts[i];
                let seq = if existing.contains(&c.id) {
                    0
                } else {
                    next += 1;
                    next
                };
                json!({"id": c.id, "identity": c.identity.as_ref().map(|x| x.to_ascii_lowercase()),
                       "phone": c.phone.map(|p| p as i64), "created": c.created, "seq": seq,
                       "data": serde_json::to_string(c).expect("plain data")})
            })
            .collect();
        for chunk in rows.chunks(5_000) {
            let sql = format!(
                "INSERT INTO contacts (tenant, id, identity, phone, created, seq, data) \
                 SELECT $1, id, identity, phone, created, seq, data FROM {} WHERE true \
                 ON CONFLICT (tenant, id) DO UPDATE SET identity = excluded.identity, phone = excluded.phone, data = excluded.data",
                self.json_rows(
                    "$2",
                    &[("id", "text"), ("identity", "text"), ("phone", "bigint"), ("created", "bigint"), ("seq", "bigint"), ("data", "text")]
                )
            );
            sqlx::query(&sql)
                .bind(tenant)
                .bind(Value::Array(chunk.to_vec()).to_string())
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    /// [`Store::write_contexts`] inside the caller's transaction.
    async fn write_contexts_in(&self, tx: &mut Tx, tenant: &str, writes: Vec<ContextWrite>) -> Result<()> {
        let mut rows = Vec::new();
        for w in writes {
            let identity = w.identity.to_ascii_lowercase();
            for (k, v) in w.variables {
                rows.push(json!({"identity": identity, "name": k.to_ascii_lowercase(), "value": v.to_string()}));
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        for chunk in rows.chunks(10_000) {
            let sql = format!(
                "INSERT INTO contexts (tenant, identity, name, value) SELECT $1, identity, name, value FROM {} \
                 WHERE true ON CONFLICT (tenant, identity, name) DO UPDATE SET value = excluded.value",
                self.json_rows("$2", &[("identity", "text"), ("name", "text"), ("value", "text")])
            );
            sqlx::query(&sql)
                .bind(tenant)
                .bind(Value::Array(chunk.to_vec()).to_string())
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    async fn insert_recipients(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        campaign: &str,
        audience: Vec<NewRecipient>,
        max_total: u64,
    ) -> Result<AudienceAdded> {
        // Later entries replace earlier ones with the same phone, within the batch too.
        let mut last_of: HashMap<u64, usize> = HashMap::new();
        for (i, r) in audience.iter().enumerate() {
            if let Some(p) = r.phone {
                last_of.insert(p.as_u64(), i);
            }
        }
        let mut existing: HashMap<u64, i64> = HashMap::new();
        if !last_of.is_empty() {
            let phones: Vec<Value> = last_of.keys().map(|p| json!({"phone": *p as i64})).collect();
            let sql = format!(
                "SELECT phone, seq FROM recipients WHERE campaign_id = $1 AND phone IN (SELECT phone FROM {})",
                self.json_rows("$2", &[("phone", "bigint")])
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
            sqlx::query_scalar(&format!("SELECT total FROM campaigns WHERE id = $1{}", self.for_update()))
                .bind(campaign)
                .fetch_one(&mut **tx)
                .await
                .map_err(db)?;
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        let mut next = total_now;
        let mut batch_seq: HashMap<u64, i64> = HashMap::new();
        for (i, r) in audience.into_iter().enumerate() {
            let phone = r.phone.map(|p| p.as_u64()).unwrap_or(0);
            if phone != 0 && last_of.get(&phone) != Some(&i) {
                continue; // replaced by a later entry of this batch
            }
            let recipient = Recipient::new(0, r);
            let mut row = RecipientRow {
                seq: 0,
                phone: phone as i64,
                given: recipient.stored_given(),
                params: recipient.params.packed().to_owned(),
                context: recipient.context().map(str::to_owned),
                contact: recipient.contact_id().map(str::to_owned),
            };
            match existing.get(&phone).or(batch_seq.get(&phone)) {
                Some(seq) if phone != 0 => {
                    row.seq = *seq;
                    updates.push(row);
                }
                _ => {
                    row.seq = next;
                    if phone != 0 {
                        batch_seq.insert(phone, next);
                    }
                    next += 1;
                    inserts.push(row);
                }
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
        for chunk in inserts.chunks(20_000) {
            let sql = format!(
                "INSERT INTO recipients (campaign_id, seq, status, reason, phone, given, params, context, contact_id) \
                 SELECT $1, seq, 0, 0, phone, given, params, context, contact FROM {}",
                self.json_rows("$2", &columns)
            );
            sqlx::query(&sql)
                .bind(campaign)
                .bind(serde_json::to_string(chunk).expect("plain data"))
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        for chunk in updates.chunks(20_000) {
            let from = self.json_rows("$2", &columns);
            let sql = match self.dialect {
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
        Ok(AudienceAdded { added, updated: updates.len() as u64, total: total_now as u64 + added })
    }

    async fn catalog<T: serde::de::DeserializeOwned>(&self, tenant: &str, kind: &str) -> Result<Vec<T>> {
        let rows = sqlx::query("SELECT data FROM catalog WHERE tenant = $1 AND kind = $2 ORDER BY position")
            .bind(tenant)
            .bind(kind)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("data").map_err(db)?;
                serde_json::from_str(&data).map_err(|e| corrupt(kind, e))
            })
            .collect()
    }

    async fn put_catalog<T: serde::Serialize>(&self, tenant: &str, kind: &str, id: &str, item: &T) -> Result<()> {
        let data = serde_json::to_string(item).expect("plain data");
        sqlx::query(
            "INSERT INTO catalog (tenant, kind, id, position, data) VALUES ($1, $2, $3, \
             (SELECT COALESCE(MAX(position), 0) + 1 FROM catalog WHERE tenant = $1 AND kind = $2), $4) \
             ON CONFLICT (tenant, kind, id) DO UPDATE SET data = excluded.data",
        )
        .bind(tenant)
        .bind(kind)
        .bind(id)
        .bind(data)
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn contact_row(&self, tenant: &str, key: &ContactKey) -> Result<Option<Contact>> {
        let row = match key {
            ContactKey::Id(id) => sqlx::query("SELECT data FROM contacts WHERE tenant = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .fetch_optional(&self.read)
                .await
                .map_err(db)?,
            ContactKey::Phone(p) => sqlx::query("SELECT data FROM contacts WHERE tenant = $1 AND phone = $2 LIMIT 1")
                .bind(tenant)
                .bind(*p as i64)
                .fetch_optional(&self.read)
                .await
                .map_err(db)?,
            ContactKey::Identity(identity) => {
                let found = sqlx::query("SELECT data FROM contacts WHERE tenant = $1 AND identity = $2 LIMIT 1")
                    .bind(tenant)
                    .bind(identity.to_ascii_lowercase())
                    .fetch_optional(&self.read)
                    .await
                    .map_err(db)?;
                match found {
                    Some(r) => Some(r),
                    None => match phone_of_identity(identity) {
                        Some(p) => return Box::pin(self.contact_row(tenant, &ContactKey::Phone(p))).await,
                        None => None,
                    },
                }
            }
        };
        row.map(|r| {
            let data: String = r.try_get("data").map_err(db)?;
            serde_json::from_str(&data).map_err(|e| corrupt("contact", e))
        })
        .transpose()
    }

    async fn save_contact<'e, E>(&self, exec: E, tenant: &str, c: &Contact) -> Result<()>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        sqlx::query(
            "INSERT INTO contacts (tenant, id, identity, phone, created, seq, data) VALUES ($1, $2, $3, $4, $5, \
             (SELECT COALESCE(MAX(seq), 0) + 1 FROM contacts WHERE tenant = $1), $6) \
             ON CONFLICT (tenant, id) DO UPDATE SET identity = excluded.identity, phone = excluded.phone, data = excluded.data",
        )
        .bind(tenant)
        .bind(&c.id)
        .bind(c.identity.as_ref().map(|i| i.to_ascii_lowercase()))
        .bind(c.phone.map(|p| p as i64))
        .bind(c.created)
        .bind(serde_json::to_string(c).expect("plain data"))
        .execute(exec)
        .await
        .map_err(db)?;
        Ok(())
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn insert_campaign(&self, campaign: Campaign, audience: Vec<NewRecipient>) -> Result<AudienceAdded> {
        let id = campaign.id.to_string();
        let mut tx = self.write.begin().await.map_err(db)?;
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
        let added = self.insert_recipients(&mut tx, &id, audience, u64::MAX).await?;
        tx.commit().await.map_err(db)?;
        Ok(added)
    }

    async fn campaign(&self, tenant: &str, id: Uuid) -> Result<Option<Campaign>> {
        self.campaign_row(Some(tenant), id).await
    }

    async fn campaigns(&self, tenant: &str, f: &CampaignFilter, page: Page) -> Result<(u64, Vec<Campaign>)> {
        // The JSON document holds everything; the few columns let the database filter.
        let rows = sqlx::query("SELECT data FROM campaigns WHERE tenant = $1 ORDER BY created DESC")
            .bind(tenant)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        let mut all = Vec::with_capacity(rows.len());
        for r in rows {
            let data: String = r.try_get("data").map_err(db)?;
            let c: Campaign = serde_json::from_str(&data).map_err(|e| corrupt("campaign", e))?;
            if matches(&c, f) {
                all.push(c);
            }
        }
        let total = all.len() as u64;
        Ok((total, all.into_iter().skip(page.skip as usize).take(page.take as usize).collect()))
    }

    async fn update_campaign(&self, tenant: &str, id: Uuid, change: CampaignChange<'_>) -> Result<Campaign> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let row = sqlx::query(&format!("SELECT tenant, data FROM campaigns WHERE id = $1{}", self.for_update()))
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let Some(row) = row.filter(|r| r.try_get::<String, _>("tenant").is_ok_and(|t| t == tenant)) else {
            return Err(not_found(id));
        };
        let data: String = row.try_get("data").map_err(db)?;
        let mut campaign: Campaign = serde_json::from_str(&data).map_err(|e| corrupt("campaign", e))?;
        change(&mut campaign)?;
        sqlx::query("UPDATE campaigns SET status = $2, scheduled = $3, channel_id = $4, data = $5 WHERE id = $1")
            .bind(id.to_string())
            .bind(status_name(campaign.status))
            .bind(campaign.scheduled)
            .bind(&campaign.channel_id)
            .bind(serde_json::to_string(&campaign).expect("plain data"))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(campaign)
    }

    async fn delete_campaign(&self, tenant: &str, id: Uuid, allowed: &[CampaignStatus]) -> Result<()> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let row = sqlx::query(&format!("SELECT tenant, status FROM campaigns WHERE id = $1{}", self.for_update()))
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let Some(row) = row.filter(|r| r.try_get::<String, _>("tenant").is_ok_and(|t| t == tenant)) else {
            return Err(not_found(id));
        };
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

    async fn campaigns_in(&self, statuses: &[CampaignStatus]) -> Result<Vec<Campaign>> {
        let mut out = Vec::new();
        for s in statuses {
            let rows = sqlx::query("SELECT data FROM campaigns WHERE status = $1")
                .bind(status_name(*s))
                .fetch_all(&self.read)
                .await
                .map_err(db)?;
            for r in rows {
                let data: String = r.try_get("data").map_err(db)?;
                out.push(serde_json::from_str(&data).map_err(|e| corrupt("campaign", e))?);
            }
        }
        Ok(out)
    }

    async fn add_recipients(
        &self,
        tenant: &str,
        id: Uuid,
        audience: Vec<NewRecipient>,
        max_total: u64,
    ) -> Result<AudienceAdded> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let row = sqlx::query(&format!("SELECT tenant, status FROM campaigns WHERE id = $1{}", self.for_update()))
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let Some(row) = row.filter(|r| r.try_get::<String, _>("tenant").is_ok_and(|t| t == tenant)) else {
            return Err(not_found(id));
        };
        if status_from(&row.try_get::<String, _>("status").map_err(db)?) != CampaignStatus::Draft {
            return Err(already_dispatched());
        }
        let added = self.insert_recipients(&mut tx, &id.to_string(), audience, max_total).await?;
        tx.commit().await.map_err(db)?;
        Ok(added)
    }

    async fn counts(&self, tenant: &str, id: Uuid) -> Result<Counts> {
        let row = sqlx::query(
            "SELECT tenant, total, pending, processed, received, read_count, failed FROM campaigns WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        match row.filter(|r| r.try_get::<String, _>("tenant").is_ok_and(|t| t == tenant)) {
            Some(r) => counts_of(&r),
            None => Err(not_found(id)),
        }
    }

    async fn recipients(
        &self,
        tenant: &str,
        id: Uuid,
        status: Option<RecipientStatus>,
        page: Page,
    ) -> Result<(u64, Vec<Recipient>)> {
        let counts = self.counts(tenant, id).await?;
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
            .fetch_all(&self.read)
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
                .fetch_all(&self.read)
                .await
                .map_err(db)?
            }
        };
        let total = status.map_or(counts.total, |s| counted(&counts, s));
        Ok((total, rows.iter().map(recipient_of).collect::<Result<_>>()?))
    }

    async fn pending(&self, campaign: Uuid, from: u32, limit: usize) -> Result<Vec<Recipient>> {
        let rows = sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM recipients WHERE campaign_id = $1 AND status = 0 AND seq >= $2 ORDER BY seq LIMIT $3"
        ))
        .bind(campaign.to_string())
        .bind(from as i64)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter().map(recipient_of).collect()
    }

    async fn sending(&self, campaign: Uuid) -> Result<Vec<Recipient>> {
        let rows = sqlx::query(&format!(
            "SELECT {RECIPIENT_COLUMNS} FROM recipients WHERE campaign_id = $1 AND status = 1 ORDER BY seq"
        ))
        .bind(campaign.to_string())
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter().map(recipient_of).collect()
    }

    async fn mark_sending(&self, campaign: Uuid, seqs: &[u32], _at: i64) -> Result<Vec<u32>> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        // Only PENDING becomes SENDING and both count as pending, so one conditional UPDATE
        // does it: no read of the rows first, no change of the campaign's counters.
        let list = self.json_numbers("$2");
        let sql = match self.dialect {
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
            sqlx::query_scalar(&sql).bind(campaign.to_string()).bind(list).fetch_all(&self.write).await.map_err(db)?;
        Ok(moved.into_iter().map(|s| s as u32).collect())
    }

    async fn claim(&self, node: &str, now: i64, lease_ms: i64) -> Result<Vec<Campaign>> {
        if self.dialect == Dialect::Sqlite {
            // One process owns an SQLite file: every running campaign is this node's.
            return self.campaigns_in(&[CampaignStatus::Running]).await;
        }
        let rows = sqlx::query(
            "UPDATE campaigns SET lease_owner = $1, lease_until = $2 \
             WHERE status = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $4) RETURNING data",
        )
        .bind(node)
        .bind(now + lease_ms)
        .bind(status_name(CampaignStatus::Running))
        .bind(now)
        .fetch_all(&self.write)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("data").map_err(db)?;
                serde_json::from_str(&data).map_err(|e| corrupt("campaign", e))
            })
            .collect()
    }

    async fn reserve_slot(&self, tenant: &str, channel: &str, now: i64, interval_ms: i64) -> Result<Option<i64>> {
        if self.dialect == Dialect::Sqlite {
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
        .fetch_one(&self.write)
        .await
        .map_err(db)?;
        Ok(Some(next - interval_ms))
    }

    async fn record_outcomes(&self, campaign: Uuid, outcomes: &[Outcome]) -> Result<()> {
        let moves: Vec<_> = outcomes.iter().map(|o| (o.seq, o.status, o.at, o.reason)).collect();
        self.advance(campaign, &moves).await.map(|_| ())
    }

    async fn apply_receipts(&self, receipts: &[Receipt]) -> Result<u64> {
        let mut by_campaign: HashMap<Uuid, Vec<(u32, RecipientStatus, i64, u32)>> = HashMap::new();
        for r in receipts {
            let target = match parse_message_id(&r.message_id) {
                Some(t) => Some(t),
                None => sqlx::query("SELECT campaign_id, seq FROM message_ids WHERE message_id = $1")
                    .bind(&r.message_id)
                    .fetch_optional(&self.read)
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
            changed += self.advance(campaign, &moves).await?;
        }
        Ok(changed)
    }

    async fn link_message_id(&self, message_id: &str, campaign: Uuid, seq: u32) -> Result<()> {
        sqlx::query("INSERT INTO message_ids (message_id, campaign_id, seq) VALUES ($1, $2, $3) ON CONFLICT (message_id) DO NOTHING")
            .bind(message_id)
            .bind(campaign.to_string())
            .bind(seq as i64)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn contact(&self, tenant: &str, key: &ContactKey) -> Result<Option<Contact>> {
        self.contact_row(tenant, key).await
    }

    async fn contacts(&self, tenant: &str, page: Page) -> Result<(u64, Vec<Contact>)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE tenant = $1")
            .bind(tenant)
            .fetch_one(&self.read)
            .await
            .map_err(db)?;
        let rows = sqlx::query("SELECT data FROM contacts WHERE tenant = $1 ORDER BY seq LIMIT $2 OFFSET $3")
            .bind(tenant)
            .bind(page.take.min(i64::MAX as u64) as i64)
            .bind(page.skip.min(i64::MAX as u64) as i64)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        let items = rows
            .iter()
            .map(|r| {
                let data: String = r.try_get("data").map_err(db)?;
                serde_json::from_str(&data).map_err(|e| corrupt("contact", e))
            })
            .collect::<Result<_>>()?;
        Ok((total as u64, items))
    }

    async fn patch_contacts(&self, tenant: &str, patches: Vec<ContactPatch>) -> Result<()> {
        if patches.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await.map_err(db)?;
        self.patch_contacts_in(&mut tx, tenant, patches).await?;
        tx.commit().await.map_err(db)
    }

    async fn put_contact(&self, tenant: &str, mut contact: Contact) -> Result<Contact> {
        let now = chrono::Utc::now().timestamp_millis();
        if let Some(old) = self.contact_row(tenant, &ContactKey::Id(contact.id.clone())).await? {
            contact.created = old.created;
        } else if contact.created == 0 {
            contact.created = now;
        }
        contact.updated = now;
        self.save_contact(&self.write, tenant, &contact).await?;
        Ok(contact)
    }

    async fn delete_contact(&self, tenant: &str, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM contacts WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn scan_contacts(&self, tenant: &str, visit: &mut (dyn for<'c> FnMut(&'c Contact) + Send)) -> Result<()> {
        use futures_util::TryStreamExt as _;
        let mut rows =
            sqlx::query("SELECT data FROM contacts WHERE tenant = $1 ORDER BY seq").bind(tenant).fetch(&self.read);
        while let Some(row) = rows.try_next().await.map_err(db)? {
            let data: String = row.try_get("data").map_err(db)?;
            let c: Contact = serde_json::from_str(&data).map_err(|e| corrupt("contact", e))?;
            visit(&c);
        }
        Ok(())
    }

    async fn write_contexts(&self, tenant: &str, writes: Vec<ContextWrite>) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await.map_err(db)?;
        self.write_contexts_in(&mut tx, tenant, writes).await?;
        tx.commit().await.map_err(db)
    }

    async fn record_sent(
        &self,
        tenant: &str,
        campaign: Uuid,
        outcomes: &[Outcome],
        patches: Vec<ContactPatch>,
        contexts: Vec<ContextWrite>,
    ) -> Result<()> {
        // One transaction, so one sync to disk, for everything a batch of sends leaves behind.
        let moves: Vec<_> = outcomes.iter().map(|o| (o.seq, o.status, o.at, o.reason)).collect();
        let mut tx = self.write.begin().await.map_err(db)?;
        self.advance_in(&mut tx, campaign, &moves).await?;
        self.patch_contacts_in(&mut tx, tenant, patches).await?;
        self.write_contexts_in(&mut tx, tenant, contexts).await?;
        tx.commit().await.map_err(db)
    }

    async fn context_names(&self, tenant: &str, identity: &str) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM contexts WHERE tenant = $1 AND identity = $2 ORDER BY name")
            .bind(tenant)
            .bind(identity.to_ascii_lowercase())
            .fetch_all(&self.read)
            .await
            .map_err(db)
    }

    async fn context_value(&self, tenant: &str, identity: &str, name: &str) -> Result<Option<Value>> {
        let v: Option<String> =
            sqlx::query_scalar("SELECT value FROM contexts WHERE tenant = $1 AND identity = $2 AND name = $3")
                .bind(tenant)
                .bind(identity.to_ascii_lowercase())
                .bind(name.to_ascii_lowercase())
                .fetch_optional(&self.read)
                .await
                .map_err(db)?;
        v.map(|s| serde_json::from_str(&s).map_err(|e| corrupt("context", e))).transpose()
    }

    async fn open_conversations(&self, tenant: &str, phones: &[u64]) -> Result<Vec<u64>> {
        if phones.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<Value> = phones.iter().map(|p| json!({"phone": *p as i64})).collect();
        let sql = format!(
            "SELECT phone, data FROM contacts WHERE tenant = $1 AND phone IN (SELECT phone FROM {})",
            self.json_rows("$2", &[("phone", "bigint")])
        );
        let rows = sqlx::query(&sql)
            .bind(tenant)
            .bind(Value::Array(list).to_string())
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        let mut open = Vec::new();
        for r in rows {
            let data: String = r.try_get("data").map_err(db)?;
            let c: Contact = serde_json::from_str(&data).map_err(|e| corrupt("contact", e))?;
            if c.has_open_conversation {
                open.push(r.try_get::<i64, _>("phone").map_err(db)? as u64);
            }
        }
        Ok(open)
    }

    async fn channels(&self, tenant: &str) -> Result<Vec<ChannelDef>> {
        self.catalog(tenant, "channel").await
    }

    async fn put_channel(&self, tenant: &str, channel: ChannelDef) -> Result<()> {
        self.put_catalog(tenant, "channel", &channel.id.clone(), &channel).await
    }

    async fn templates(&self, tenant: &str) -> Result<Vec<TemplateDef>> {
        self.catalog(tenant, "template").await
    }

    async fn put_template(&self, tenant: &str, template: TemplateDef) -> Result<()> {
        self.put_catalog(tenant, "template", &template.id.clone(), &template).await
    }

    async fn tags(&self, tenant: &str) -> Result<Vec<TagDef>> {
        self.catalog(tenant, "tag").await
    }

    async fn put_tag(&self, tenant: &str, tag: TagDef) -> Result<()> {
        self.put_catalog(tenant, "tag", &tag.id.clone(), &tag).await
    }

    async fn custom_fields(&self, tenant: &str) -> Result<Vec<CustomFieldDef>> {
        self.catalog(tenant, "custom_field").await
    }

    async fn put_custom_field(&self, tenant: &str, field: CustomFieldDef) -> Result<()> {
        self.put_catalog(tenant, "custom_field", &field.id.clone(), &field).await
    }
}
