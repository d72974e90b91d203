//! `/api/v1/segments`: saved segments (campaign-features.md) — create, list and read them
//! with their `contact_count` (computed on read), change, delete, preview. Thin handlers over
//! the engine's segment operations, which hold the rules.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::preview::{render, PreviewView};
use super::{created, json_body, ApiError, ApiResult, PageOf, PageQuery, Paging, Workspace, Q};
use crate::datetime::iso;
use crate::engine::{Counted, SegmentChange};
use crate::error::Error;
use crate::filter::Filters;
use crate::state::AppState;

/// Body of create (`name` required; no `filters` = every contact with a phone) and of update
/// (the fields to change).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentInput {
    /// Unique in the workspace (case-insensitive), at most `segments.max_name_chars`.
    pub name: Option<String>,
    /// The filters of rest.md, checked as a campaign's are.
    pub filters: Option<Filters>,
}

/// Body of a segment's preview.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentPreviewInput {
    pub channel_id: Option<String>,
    /// Include the first 50 matching contacts.
    #[serde(rename = "includeDetails", alias = "include_details")]
    pub include_details: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentView {
    pub id: String,
    pub name: String,
    pub filters: Filters,
    /// Contacts with a phone the filters match now.
    pub contact_count: u64,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

fn view(c: Counted) -> SegmentView {
    let s = c.segment;
    SegmentView {
        id: s.id.to_string(),
        name: s.name,
        filters: s.filters,
        contact_count: c.contact_count,
        created_at: iso(s.created),
        updated_at: iso(s.updated),
    }
}

/// A segment id from the path; any text that is not one of this workspace's is a 404.
fn segment_id(text: &str) -> ApiResult<Uuid> {
    Uuid::try_parse(text).map_err(|_| ApiError(Error::NotFound(format!("Segment {text} not found"))))
}

/// Saves a segment.
#[utoipa::path(post, path = "/api/v1/segments", tag = "segments", request_body = SegmentInput, security(("api_key" = [])),
    responses((status = 201, description = "Created, with its contact_count", body = SegmentView),
              (status = 400, description = "Missing or too long name, invalid filter"),
              (status = 403, description = "Plan lacks the campaigns feature"),
              (status = 409, description = "Name taken in the workspace, or segments.max_per_workspace reached")))]
pub async fn create(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    ws.require_campaigns()?;
    let input: SegmentInput = json_body(&state, body).await?;
    let name = input.name.unwrap_or_default();
    let saved = state.engine.create_segment(ws.id(), &name, input.filters.unwrap_or_default()).await?;
    Ok(created(view(saved)))
}

/// The workspace's segments in creation order, each with its contact_count.
#[utoipa::path(get, path = "/api/v1/segments", tag = "segments", params(PageQuery), security(("api_key" = [])),
    responses((status = 200, description = "A page of segments", body = PageOf<SegmentView>),
              (status = 400, description = "Bad page or limit")))]
pub async fn list(
    State(state): State<AppState>,
    ws: Workspace,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<PageOf<SegmentView>>> {
    let paging = Paging::from_query(q.page.as_deref(), q.limit.as_deref())?;
    let (total, segments) = state.engine.segments(ws.id(), paging.store_page()).await?;
    Ok(Json(PageOf::new(segments.into_iter().map(view).collect(), paging, total)))
}

/// One segment with its contact_count.
#[utoipa::path(get, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = String, Path)), security(("api_key" = [])),
    responses((status = 200, description = "The segment", body = SegmentView), (status = 404, description = "Not found")))]
pub async fn get(State(state): State<AppState>, ws: Workspace, Path(id): Path<String>) -> ApiResult<Json<SegmentView>> {
    let id = segment_id(&id)?;
    Ok(Json(view(state.engine.counted_segment(ws.id(), id).await?)))
}

/// Changes the name and/or the filters given. DRAFT campaigns using it take the new filters
/// when they start.
#[utoipa::path(put, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = String, Path)), request_body = SegmentInput,
    security(("api_key" = [])),
    responses((status = 200, description = "Updated", body = SegmentView), (status = 400, description = "Invalid field"),
              (status = 403, description = "Plan lacks the campaigns feature"), (status = 404, description = "Not found"),
              (status = 409, description = "Name taken in the workspace")))]
pub async fn update(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<SegmentView>> {
    ws.require_campaigns()?;
    let id = segment_id(&id)?;
    let input: SegmentInput = json_body(&state, body).await?;
    let change = SegmentChange { name: input.name, filters: input.filters };
    Ok(Json(view(state.engine.update_segment(ws.id(), id, change).await?)))
}

/// Deletes a segment no DRAFT campaign uses.
#[utoipa::path(delete, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = String, Path)), security(("api_key" = [])),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Plan lacks the campaigns feature"),
              (status = 404, description = "Not found"), (status = 409, description = "Used by DRAFT campaigns (named)")))]
pub async fn delete(State(state): State<AppState>, ws: Workspace, Path(id): Path<String>) -> ApiResult<StatusCode> {
    ws.require_campaigns()?;
    let id = segment_id(&id)?;
    state.engine.delete_segment(ws.id(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the segment's filters reach now: the body of `POST /campaigns/preview`.
#[utoipa::path(post, path = "/api/v1/segments/{id}/preview", tag = "segments", params(("id" = String, Path)),
    request_body = Option<SegmentPreviewInput>, security(("api_key" = [])),
    responses((status = 200, description = "Count and optional first 50", body = PreviewView),
              (status = 400, description = "Unknown channel_id"), (status = 404, description = "Not found")))]
pub async fn preview(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<PreviewView>> {
    let id = segment_id(&id)?;
    let input: SegmentPreviewInput = json_body(&state, body).await?;
    let details = input.include_details.unwrap_or(false);
    let found = state.engine.preview_segment(ws.id(), id, input.channel_id.as_deref(), details).await?;
    Ok(Json(render(found, details)))
}
