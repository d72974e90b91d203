//! `POST /api/v1/campaigns/{id}/retry`: failed recipients sent again — a thin handler over
//! [`crate::engine::Engine::retry_failed`], which holds the rule.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::Json;

use super::campaign_input::RetryInput;
use super::campaigns::{campaign_view, not_found, parse_id};
use super::view::CampaignView;
use super::{json_body, ApiError, ApiResult, Workspace};
use crate::error::Error;
use crate::state::AppState;

/// Moves the matching FAILED recipients back to PENDING (each with a new message id,
/// `…#2`) and sends them again: COMPLETED / FAILED → RUNNING; RUNNING and PAUSED keep their
/// status. Invalid numbers (1001) and opted-out people (1008) are never retried.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/retry", params(("id" = String, Path)), request_body = RetryInput,
    security(("api_key" = [])),
    responses((status = 200, description = "The campaign after the retry", body = CampaignView),
              (status = 400, description = "Invalid scope or reason_codes"),
              (status = 403, description = "Plan lacks the campaigns feature"),
              (status = 404, description = "Not found"),
              (status = 409, description = "DRAFT, SCHEDULED or CANCELLED")))]
pub async fn retry(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<CampaignView>> {
    ws.require_campaigns()?;
    let input: RetryInput = json_body(&state, body).await?;
    let uuid = parse_id(&id)?;
    let retried = state.engine.retry_failed(ws.id(), uuid, &input.request()).await.map_err(|e| match e {
        Error::NotFound(_) => not_found(&id),
        other => ApiError(other),
    })?;
    Ok(Json(campaign_view(&state, &ws, &retried.campaign).await?))
}
