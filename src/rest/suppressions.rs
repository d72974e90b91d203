//! `/suppressions`: the workspace's suppression list (conversations.md): people who opted out
//! get no campaign message and no bot message (1008). An inbound opt-out keyword and a REST
//! add are the same record.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{bad, created, json_body, ApiResult, PageOf, Paging, Workspace, Q};
use crate::conversation::Suppression;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuppressionQuery {
    /// Page number, from 1 (default 1).
    pub page: Option<String>,
    /// Items per page, 1–100 (default 20).
    pub limit: Option<String>,
    /// Only this phone number.
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionInput {
    /// The person's phone number (E.164, or national with the default country code).
    pub phone: String,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionView {
    /// E.164 with `+`.
    pub phone: String,
    /// The opt-out keyword, or the reason given when added over REST.
    pub reason: Option<String>,
    /// The channel the opt-out came on (none for a REST add).
    pub channel_id: Option<String>,
    pub opted_out_at: Option<String>,
}

fn view(s: &Suppression) -> SuppressionView {
    SuppressionView {
        phone: format!("+{}", s.phone),
        reason: s.reason.clone(),
        channel_id: s.channel.clone(),
        opted_out_at: crate::datetime::iso(s.at),
    }
}

fn phone(state: &AppState, text: &str) -> ApiResult<u64> {
    let p = state.engine.phones.normalize(text).map_err(|e| bad(format!("phone \"{text}\": {}", e.reason)))?;
    Ok(p.as_u64())
}

/// The suppression list, newest first.
#[utoipa::path(get, path = "/api/v1/suppressions", tag = "conversations", params(SuppressionQuery),
    security(("api_key" = [])),
    responses((status = 200, description = "A page of the list", body = PageOf<SuppressionView>),
              (status = 400, description = "Bad query")))]
pub async fn list(
    State(state): State<AppState>,
    ws: Workspace,
    Q(q): Q<SuppressionQuery>,
) -> ApiResult<Json<PageOf<SuppressionView>>> {
    let paging = Paging::from_query(q.page.as_deref(), q.limit.as_deref())?;
    let only = q.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(|p| phone(&state, p)).transpose()?;
    let (total, items) = state.engine.conversations.suppressions(ws.id(), only, paging.store_page()).await?;
    Ok(Json(PageOf::new(items.iter().map(view).collect(), paging, total)))
}

/// Puts a person on the list (replacing an earlier entry).
#[utoipa::path(post, path = "/api/v1/suppressions", tag = "conversations", request_body = SuppressionInput,
    security(("api_key" = [])),
    responses((status = 201, description = "On the list", body = SuppressionView),
              (status = 400, description = "Invalid phone or body")))]
pub async fn create(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    let input: SuppressionInput = json_body(&state, body).await?;
    let digits = phone(&state, &input.phone)?;
    let reason = input.reason.filter(|r| !r.trim().is_empty());
    let entry = state.engine.conversations.suppress(ws.id(), digits, reason, None).await?;
    Ok(created(view(&entry)))
}

/// Takes a person off the list.
#[utoipa::path(delete, path = "/api/v1/suppressions/{phone}", tag = "conversations",
    params(("phone" = String, Path, description = "The phone number")), security(("api_key" = [])),
    responses((status = 204, description = "Off the list"), (status = 400, description = "Invalid phone"),
              (status = 404, description = "Not on the list")))]
pub async fn delete(State(state): State<AppState>, ws: Workspace, Path(text): Path<String>) -> ApiResult<StatusCode> {
    let digits = phone(&state, &text)?;
    state.engine.conversations.unsuppress(ws.id(), digits).await?;
    Ok(StatusCode::NO_CONTENT)
}
