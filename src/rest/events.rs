//! `GET /campaigns/{id}/events`: the campaign's live progress as Server-Sent Events — a
//! `progress` event carrying the stats object of `GET /stats` when something changed (at most
//! every 500 ms, from the shared poller of [`super::progress`]), a `status` event before it when
//! the lifecycle status changed, and a keep-alive comment every `limits.event_keepalive_ms`
//! otherwise. The first `progress` comes as soon as the campaign has been read, so a page needs
//! no separate `/stats` call. The stream ends when the campaign is deleted or the gateway stops.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::json;

use super::campaigns::load;
use super::progress::{Snapshot, Watch};
use super::{ApiError, ApiResult, Workspace};
use crate::campaign::CampaignStatus;
use crate::state::AppState;

/// Live progress of one campaign.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/events", tag = "campaigns", params(("id" = String, Path)),
    security(("api_key" = [])),
    responses((status = 200, content_type = "text/event-stream",
                description = "Server-Sent Events: `progress` (data: the stats object of /stats) at most every 500 ms while \
                               something changes, `status` (data: {\"campaign_id\", \"status\"}) on a lifecycle change, \
                               a keep-alive comment otherwise"),
              (status = 401, description = "Missing or unknown API key"), (status = 404, description = "Not found"),
              (status = 503, description = "limits.max_event_streams streams are open (Retry-After)")))]
pub async fn events(State(state): State<AppState>, ws: Workspace, Path(id): Path<String>) -> ApiResult<Response> {
    let c = load(&state, &ws, &id).await?;
    let watch = match state.progress.watch(ws.id(), c.id) {
        Ok(watch) => watch,
        Err(e) => {
            let mut refused = ApiError(e).into_response();
            // Like the other full limits: EventSource retries, after this.
            refused.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Ok(refused);
        }
    };
    let keepalive = Duration::from_millis(state.config.limits.event_keepalive_ms);
    let events = watched(watch, c.id.to_string()).take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(keepalive)).into_response())
}

/// What a watcher has been told so far.
struct Told {
    watch: Watch,
    status: Option<CampaignStatus>,
    id: String,
    first: bool,
}

/// The events of one watcher: each snapshot it sees (the current one first) as its events.
fn watched(watch: Watch, id: String) -> impl Stream<Item = Result<Event, Infallible>> {
    let told = Told { watch, status: None, id, first: true };
    stream::unfold(told, |mut told| async move {
        loop {
            if !told.first && told.watch.snapshots.changed().await.is_err() {
                return None; // the poller stopped (shutdown)
            }
            told.first = false;
            let snapshot = told.watch.snapshots.borrow_and_update().clone();
            match snapshot {
                Snapshot::Unknown => continue,
                Snapshot::Gone => return None,
                Snapshot::Now { status, stats, .. } => {
                    let mut events = Vec::with_capacity(2);
                    if told.status.is_some_and(|s| s != status) {
                        let data = json!({"campaign_id": told.id, "status": status.rest()});
                        events.push(Ok(Event::default().event("status").data(data.to_string())));
                    }
                    told.status = Some(status);
                    events.push(Ok(Event::default().event("progress").data(&*stats)));
                    return Some((stream::iter(events), told));
                }
            }
        }
    })
    .flatten()
}
