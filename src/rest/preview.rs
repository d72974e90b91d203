//! `POST /campaigns/preview`: how many contacts (with a phone) filters match, before a
//! campaign uses them.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::view::{self, ContactView};
use super::{json_body, ApiResult, Workspace};
use crate::filter::Filters;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    pub filters: Option<Filters>,
    pub channel_id: Option<String>,
    /// Include the first 50 matching contacts.
    #[serde(rename = "includeDetails", alias = "include_details")]
    pub include_details: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    pub total: u64,
    /// Of `total`, contacts on the suppression list: a campaign leaves them FAILED 1008
    /// (conversations.md).
    pub suppressed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<ContactView>>,
}

/// The body of a preview as [`crate::engine::Engine::preview`] found it.
pub(super) fn render(found: crate::engine::Preview, details: bool) -> PreviewView {
    let contacts = details.then(|| found.first.iter().map(view::contact).collect());
    PreviewView { total: found.total, suppressed: found.suppressed, contacts }
}

/// How many contacts (with a phone) the filters match.
#[utoipa::path(post, path = "/api/v1/campaigns/preview", tag = "campaigns", request_body = PreviewInput, security(("api_key" = [])),
    responses((status = 200, description = "Count and optional first 50", body = PreviewView),
              (status = 400, description = "Invalid filter")))]
pub async fn preview(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    let input: PreviewInput = json_body(&state, body).await?;
    let details = input.include_details.unwrap_or(false);
    let filters = input.filters.unwrap_or_default();
    let found = state.engine.preview(ws.id(), &filters, input.channel_id.as_deref(), details).await?;
    Ok(Json(render(found, details)).into_response())
}
