//! Opening the SQL store: the pools (one writer and several readers for SQLite, one shared
//! pool for PostgreSQL), their per-connection settings, then the migrations.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;

use super::{db, schema, Dialect, SqlStore};
use crate::error::Result;

/// Per-connection SQLite settings: WAL (readers never wait for the writer), full sync (a
/// commit is on disk before it returns), a busy timeout instead of immediate errors.
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
                // No ping before each acquire: a connection to a local file cannot go stale as
                // a network one can, and the ping is one more trip to the driver's worker
                // thread for every statement (perf: a quarter of the outbound path's time).
                let options = || AnyPoolOptions::new().test_before_acquire(false).after_connect(sqlite_pragmas);
                let write = options().max_connections(1).connect(url).await.map_err(db)?;
                let read = options().max_connections(4).connect(url).await.map_err(db)?;
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
        schema::migrate(&store).await?;
        Ok(store)
    }
}
