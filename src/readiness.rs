//! `GET /ready`: whether this node can do its work — the store answers a trivial query
//! within a second, and start-up recovery is done.
//!
//! Recovery (migrations, picking up campaigns that were RUNNING with their SENDING
//! recipients, the first lease claim) happens in `store::open` and `Engine::start`, before the
//! port serves anything: a node that answers at all has done it, so the store is what is left
//! to check.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

/// How long the store has to answer.
pub const STORE_DEADLINE: Duration = Duration::from_secs(1);

/// 200 `{"status":"ok","checks":{"store":"ok"}}`, or 503 `{"status":"unavailable","checks":{"store":…}}`
/// naming what failed (never the store's own error text: that goes to the log).
pub async fn ready(State(state): State<AppState>) -> Response {
    let started = Instant::now();
    let store = match tokio::time::timeout(STORE_DEADLINE, state.engine.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the store failed a trivial query");
            Err("error: the store failed a trivial query")
        }
        Err(_) => {
            tracing::warn!("readiness: the store did not answer within 1 s");
            Err("timeout: the store did not answer within 1 s")
        }
    };
    state.engine.metrics.store_duration("ready", started.elapsed());
    match store {
        Ok(()) => Json(json!({"status": "ok", "checks": {"store": "ok"}})).into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "checks": {"store": why}})))
            .into_response(),
    }
}
