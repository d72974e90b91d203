//! A PostgreSQL schema of its own per test on `DATABASE_URL`, and the sweep of schemas that
//! earlier runs left behind.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Schemas older than this are from finished runs (no test runs for hours).
const STALE: Duration = Duration::from_secs(6 * 3600);

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Creates `{prefix}_{unix seconds}_{uuid}` and returns a URL whose search path is that
/// schema. `None` when PostgreSQL is unreachable, except under `CI=true`, where it panics.
pub async fn fresh_schema(prefix: &str) -> Option<String> {
    let base = database_url();
    sqlx::any::install_default_drivers();
    let admin = match sqlx::AnyPool::connect(&base).await {
        Ok(p) => p,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL at {base} is unreachable under CI=true: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: PostgreSQL at {base} is unreachable ({e}); set DATABASE_URL");
            return None;
        }
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    sweep(&admin, now).await;
    let schema = format!("{prefix}_{now}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// Drops test schemas created more than [`STALE`] ago (and ones named before names carried
/// their time). Tests do not drop their own: a failed test's data is worth looking at.
async fn sweep(admin: &sqlx::AnyPool, now: u64) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'ig\\_test\\_%' OR nspname LIKE 'ig\\_nodes\\_%'",
    )
    .fetch_all(admin)
    .await
    .unwrap_or_default();
    for name in names {
        let parts: Vec<&str> = name.split('_').collect();
        let stale = match parts.as_slice() {
            [_, _, secs, _] => secs.parse::<u64>().is_ok_and(|t| now.saturating_sub(t) > STALE.as_secs()),
            [_, _, _] => true,
            _ => false,
        };
        if stale {
            // Another run may sweep the same schema at once; either drop is fine.
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(admin).await;
        }
    }
}
