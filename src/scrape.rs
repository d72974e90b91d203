//! The metrics port (`[metrics] listen`): `GET /metrics` in the Prometheus text format, on a
//! listener of its own so that it is never exposed with the public API.
//!
//! The counters are kept as things happen (`metrics`); the gauges that describe the store
//! (campaigns by status, PENDING recipients) are read here, at scrape time, so they are
//! exact without a write on the hot path.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::timeout::TimeoutLayer;

use crate::campaign::CampaignStatus;
use crate::metrics::Gauges;
use crate::problem::json_error;
use crate::state::AppState;

/// A scrape that takes longer (a store that hangs) is answered 503 rather than held open.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many scrapes at once; more wait (within [`SCRAPE_TIMEOUT`]).
pub const MAX_SCRAPES: usize = 4;

const STATUSES: [CampaignStatus; 7] = [
    CampaignStatus::Draft,
    CampaignStatus::Scheduled,
    CampaignStatus::Running,
    CampaignStatus::Paused,
    CampaignStatus::Completed,
    CampaignStatus::Failed,
    CampaignStatus::Cancelled,
];

/// `GET /metrics` (and a JSON 404 elsewhere), bounded by tower's concurrency limit and
/// tower-http's timeout.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async { json_error(StatusCode::NOT_FOUND, "The metrics port serves GET /metrics only") })
        .layer(tower::limit::ConcurrencyLimitLayer::new(MAX_SCRAPES))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, SCRAPE_TIMEOUT))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let metrics = &state.engine.metrics;
    match gauges(&state).await {
        Ok(g) => metrics.gauges(&g),
        // The counters are still worth reading; the store gauges keep their last values.
        Err(e) => tracing::warn!(error = %e, "metrics: the store gauges could not be read"),
    }
    match metrics.render() {
        Some(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        None => json_error(StatusCode::NOT_FOUND, "Metrics are off ([metrics] listen = \"\")"),
    }
}

/// Campaigns by tenant and status (every configured tenant × status, zeros included, so a
/// gauge that drops to 0 says so), PENDING recipients of RUNNING campaigns, the queues, the
/// campaigns this node dispatches.
async fn gauges(state: &AppState) -> crate::error::Result<Gauges> {
    let store = &state.engine.store;
    let mut campaigns: HashMap<(String, CampaignStatus), u64> = HashMap::new();
    let mut pending: HashMap<String, u64> = HashMap::new();
    for tenant in state.tenants.iter() {
        for status in STATUSES {
            campaigns.insert((tenant.id.clone(), status), 0);
        }
        pending.insert(tenant.id.clone(), 0);
    }
    for c in store.campaigns_in(&STATUSES).await? {
        if c.status == CampaignStatus::Running {
            let counts = store.counts(&c.tenant, c.id).await?;
            *pending.entry(c.tenant.clone()).or_default() += counts.pending;
        }
        *campaigns.entry((c.tenant, c.status)).or_default() += 1;
    }
    let engine = &state.engine;
    Ok(Gauges {
        campaigns: campaigns.into_iter().map(|((t, s), n)| (t, s.rest(), n)).collect(),
        pending: pending.into_iter().collect(),
        queues: vec![("receipts", engine.receipts_queued() as u64), ("scheduler", engine.scheduler.queued() as u64)],
        leased: engine.dispatcher.running().len() as u64,
    })
}
