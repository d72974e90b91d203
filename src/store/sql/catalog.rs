//! Channels, templates, tags and custom fields: one table of JSON documents, by kind, kept
//! in the order they were first stored.

use super::rows::document;
use super::{db, SqlStore};
use crate::error::Result;

pub(super) async fn list<T: serde::de::DeserializeOwned>(store: &SqlStore, tenant: &str, kind: &str) -> Result<Vec<T>> {
    let rows = sqlx::query("SELECT data FROM catalog WHERE tenant = $1 AND kind = $2 ORDER BY position")
        .bind(tenant)
        .bind(kind)
        .fetch_all(&store.read)
        .await
        .map_err(db)?;
    rows.iter().map(|r| document(r, kind)).collect()
}

pub(super) async fn put<T: serde::Serialize>(
    store: &SqlStore,
    tenant: &str,
    kind: &str,
    id: &str,
    item: &T,
) -> Result<()> {
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
    .execute(&store.write)
    .await
    .map_err(db)?;
    Ok(())
}
