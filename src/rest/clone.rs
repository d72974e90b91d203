//! `POST /api/v1/campaigns/{id}/clone`: a DRAFT copy of a campaign — a thin handler over
//! [`crate::engine::Engine::clone_campaign`], which holds the rule.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;

use super::campaign_input::CloneInput;
use super::campaigns::{campaign_view, not_found, parse_id};
use super::view::CampaignView;
use super::{created, json_body, ApiError, ApiResult, Workspace};
use crate::error::Error;
use crate::state::AppState;

/// Copies a campaign (either face's, in any status) as a DRAFT with the same content,
/// template mapping, channel, filters or segment, rate and send window, not scheduled; a
/// LIME campaign's recipients are copied as PENDING.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/clone", params(("id" = String, Path)), request_body = Option<CloneInput>,
    security(("api_key" = [])),
    responses((status = 201, description = "The DRAFT copy", body = CampaignView),
              (status = 400, description = "Empty name"), (status = 403, description = "Plan lacks the campaigns feature"),
              (status = 404, description = "Not found"), (status = 409, description = "Its segment no longer exists")))]
pub async fn clone(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    ws.require_campaigns()?;
    let input: CloneInput = json_body(&state, body).await?;
    let uuid = parse_id(&id)?;
    let copy = state.engine.clone_campaign(ws.id(), uuid, input.name.as_deref()).await.map_err(|e| match e {
        Error::NotFound(_) => not_found(&id),
        other => ApiError(other),
    })?;
    Ok(created(campaign_view(&state, &ws, &copy).await?))
}
