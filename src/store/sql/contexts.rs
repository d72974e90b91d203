//! Context variables: one row per identity and name, the value as JSON text.

use serde_json::{json, Value};

use super::rows::corrupt;
use super::{db, SqlStore, Tx};
use crate::contact::ContextWrite;
use crate::error::Result;

/// Context variables written by one statement. The rows travel as one JSON text bound to it;
/// a variable is about a hundred bytes of JSON, so a statement carries about 1 MB, within
/// the bound of the other bulk writes (see `contacts.rs`).
const CONTEXT_ROWS_PER_STATEMENT: usize = 10_000;

pub(super) async fn write(store: &SqlStore, tenant: &str, writes: Vec<ContextWrite>) -> Result<()> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut tx = store.write.begin().await.map_err(db)?;
    write_in(store, &mut tx, tenant, writes).await?;
    tx.commit().await.map_err(db)
}

/// [`write()`] inside the caller's transaction.
pub(super) async fn write_in(store: &SqlStore, tx: &mut Tx, tenant: &str, writes: Vec<ContextWrite>) -> Result<()> {
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
    for chunk in rows.chunks(CONTEXT_ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO contexts (tenant, identity, name, value) SELECT $1, identity, name, value FROM {} \
             WHERE true ON CONFLICT (tenant, identity, name) DO UPDATE SET value = excluded.value",
            store.dialect.json_rows("$2", &[("identity", "text"), ("name", "text"), ("value", "text")])
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

pub(super) async fn names(store: &SqlStore, tenant: &str, identity: &str) -> Result<Vec<String>> {
    sqlx::query_scalar("SELECT name FROM contexts WHERE tenant = $1 AND identity = $2 ORDER BY name")
        .bind(tenant)
        .bind(identity.to_ascii_lowercase())
        .fetch_all(&store.read)
        .await
        .map_err(db)
}

pub(super) async fn value(store: &SqlStore, tenant: &str, identity: &str, name: &str) -> Result<Option<Value>> {
    let v: Option<String> =
        sqlx::query_scalar("SELECT value FROM contexts WHERE tenant = $1 AND identity = $2 AND name = $3")
            .bind(tenant)
            .bind(identity.to_ascii_lowercase())
            .bind(name.to_ascii_lowercase())
            .fetch_optional(&store.read)
            .await
            .map_err(db)?;
    v.map(|s| serde_json::from_str(&s).map_err(|e| corrupt("context", e))).transpose()
}
