//! What a campaign did: `GET /campaigns/{id}/stats` (counts, rates, times) and
//! `GET /campaigns/{id}/messages` (one row per recipient, its content rendered).

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::campaigns::load;
use super::view::{self, MessageView, StatsView};
use super::{bad, ApiResult, PageOf, Paging, Workspace, Q};
use crate::campaign::RecipientStatus;
use crate::catalog::{replace_placeholders, TemplateDef};
use crate::state::AppState;

/// Counts, success rate, progress and times.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/stats", tag = "campaigns", params(("id" = String, Path)), security(("api_key" = [])),
    responses((status = 200, description = "Statistics", body = StatsView), (status = 404, description = "Not found")))]
pub async fn stats(State(state): State<AppState>, ws: Workspace, Path(id): Path<String>) -> ApiResult<Json<StatsView>> {
    let c = load(&state, &ws, &id).await?;
    let counts = state.engine.store.counts(ws.id(), c.id).await?;
    Ok(Json(view::stats(&c, &counts, state.engine.clock.now())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// PENDING, SENT, DELIVERED, READ or FAILED.
    pub status: Option<String>,
    pub page: Option<String>,
    pub limit: Option<String>,
}

/// The `status` filter of the messages list and its CSV export: a REST message status, any
/// case; absent or blank = every recipient.
pub fn status_filter(status: Option<&str>) -> ApiResult<Option<RecipientStatus>> {
    match status.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => ["PENDING", "SENT", "DELIVERED", "READ", "FAILED"]
            .iter()
            .find(|x| x.eq_ignore_ascii_case(s))
            .and_then(|x| RecipientStatus::parse_any(x))
            .map(Some)
            .ok_or_else(|| bad(format!("status \"{s}\" is not valid (PENDING, SENT, DELIVERED, READ, FAILED)"))),
    }
}

/// One row per recipient with its rendered content.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/messages", tag = "campaigns", params(("id" = String, Path), MessagesQuery),
    security(("api_key" = [])),
    responses((status = 200, description = "A page of messages", body = PageOf<MessageView>),
              (status = 400, description = "Bad query"), (status = 404, description = "Not found")))]
pub async fn messages(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
    Q(q): Q<MessagesQuery>,
) -> ApiResult<Json<PageOf<MessageView>>> {
    let paging = Paging::from_query(q.page.as_deref(), q.limit.as_deref())?;
    let status = status_filter(q.status.as_deref())?;
    let c = load(&state, &ws, &id).await?;
    let (total, recipients) = state.engine.store.recipients(ws.id(), c.id, status, paging.store_page()).await?;
    let template: Option<TemplateDef> = match &c.message.template {
        Some(name) => state
            .engine
            .store
            .templates(ws.id())
            .await?
            .into_iter()
            .find(|t| &t.name == name && t.channel_id == c.channel_id),
        None => None,
    };
    let data = recipients
        .iter()
        .map(|r| {
            let content = match (&c.message.content, &template) {
                (Some(body), _) => Some(replace_placeholders(body, |k| r.params.get(k).map(str::to_owned))),
                (None, Some(t)) => {
                    let values: Vec<&str> =
                        c.message.param_keys.iter().map(|k| r.params.get(k).unwrap_or_default()).collect();
                    Some(t.render(&values))
                }
                (None, None) => None,
            };
            view::message(r, content, r.message_id(c.id), &state.engine.reasons)
        })
        .collect();
    Ok(Json(PageOf::new(data, paging, total)))
}
