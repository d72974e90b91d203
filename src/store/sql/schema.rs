//! The tables and their migrations.

use super::{db, Dialect, SqlStore};
use crate::error::Result;

/// Versioned schema: each entry runs once, in order, recorded in `schema_migrations`.
const MIGRATIONS: &[(i64, &str)] = &[
    (
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
    ),
    (
        // Issue 12 (outbound half): bot messages to people. A version of its own, apart from
        // the next sequential ones, so that branches adding tables at the same time merge.
        121,
        r#"
CREATE TABLE IF NOT EXISTS outbound_messages (
    msg_key TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    seq BIGINT NOT NULL,
    lime_id TEXT,
    bot TEXT NOT NULL,
    to_identity TEXT NOT NULL,
    phone BIGINT NOT NULL,
    channel_id TEXT NOT NULL,
    content TEXT NOT NULL,
    status BIGINT NOT NULL,
    reason BIGINT NOT NULL DEFAULT 0,
    description TEXT,
    provider_id TEXT,
    created BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbound_status ON outbound_messages (status, seq);
CREATE INDEX IF NOT EXISTS outbound_provider ON outbound_messages (provider_id)
"#,
    ),
    (
        // Issue 12 (inbound half): the inbox, the suppression list, replies. Its own version
        // beside the outbound half's 121, for the same reason.
        122,
        r#"
CREATE TABLE IF NOT EXISTS inbox (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    person TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    waiting BIGINT NOT NULL DEFAULT 1,
    envelope TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS inbox_provider ON inbox (tenant, provider_id);
CREATE INDEX IF NOT EXISTS inbox_waiting ON inbox (tenant, waiting, seq);
CREATE INDEX IF NOT EXISTS inbox_seq ON inbox (tenant, seq);
CREATE INDEX IF NOT EXISTS inbox_received ON inbox (tenant, received_at);
CREATE TABLE IF NOT EXISTS suppressions (
    tenant TEXT NOT NULL,
    phone BIGINT NOT NULL,
    at BIGINT NOT NULL,
    reason TEXT,
    channel TEXT,
    PRIMARY KEY (tenant, phone)
);
CREATE INDEX IF NOT EXISTS suppressions_at ON suppressions (tenant, at);
ALTER TABLE recipients ADD COLUMN replied_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN replied BIGINT NOT NULL DEFAULT 0
"#,
    ),
    (
        // Issue 16, status callbacks: the customer's webhooks and the outbox of their deliveries.
        // A version of its own (161), for the same reason as 121 and 122.
        161,
        r#"
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_tenant ON webhooks (tenant, created);
CREATE TABLE IF NOT EXISTS callback_deliveries (
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ord BIGINT NOT NULL,
    kind TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    rseq BIGINT NOT NULL,
    phone BIGINT NOT NULL,
    status TEXT NOT NULL,
    reason BIGINT NOT NULL,
    event_at BIGINT NOT NULL,
    state BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_code BIGINT,
    last_error TEXT,
    next_at BIGINT NOT NULL DEFAULT 0,
    first_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (webhook_id, event_id)
);
CREATE INDEX IF NOT EXISTS callback_state ON callback_deliveries (webhook_id, state, ord);
CREATE INDEX IF NOT EXISTS callback_order ON callback_deliveries (ord)
"#,
    ),
    (
        // Issue 16 point 2: a retried recipient's attempts and first failure. Versions of
        // issue 16's own (16x), apart from the sequential ones, so that branches merge.
        162,
        r#"
ALTER TABLE recipients ADD COLUMN retries BIGINT NOT NULL DEFAULT 0;
ALTER TABLE recipients ADD COLUMN first_reason BIGINT NOT NULL DEFAULT 0
"#,
    ),
    (
        // Issue 16 point 4: idempotency keys of the REST face.
        164,
        r#"
CREATE TABLE IF NOT EXISTS idempotency_keys (
    tenant TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    created BIGINT NOT NULL,
    status BIGINT NOT NULL DEFAULT 0,
    content_type TEXT,
    body TEXT,
    PRIMARY KEY (tenant, idem_key)
);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency_keys (tenant, created)
"#,
    ),
    (
        // Issue 16 point 4: saved segments (versions 180–189 are this feature's).
        180,
        r#"
CREATE TABLE IF NOT EXISTS segments (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    name_key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS segments_name ON segments (tenant, name_key);
CREATE INDEX IF NOT EXISTS segments_order ON segments (tenant, seq)
"#,
    ),
];

pub(super) async fn migrate(store: &SqlStore) -> Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&store.write)
    .await
    .map_err(db)?;
    for (version, sql) in MIGRATIONS {
        let mut tx = store.write.begin().await.map_err(db)?;
        if store.dialect == Dialect::Postgres {
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
