//! `/api/v1/campaigns` and `/campaigns/{id}`: list, create, get, update, delete, and the
//! lifecycle (start, pause, resume, cancel) — thin handlers over the engine the LIME face
//! shares. Bodies are validated in [`super::campaign_input`]; stats and messages are in
//! [`super::results`], the preview in [`super::preview`].

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use uuid::Uuid;

use super::campaign_input::{build, CampaignInput, StartInput};
use super::view::{self, CampaignView};
use super::{bad, created, json_body, ApiError, ApiResult, PageOf, Paging, Workspace, Q};
use crate::campaign::{Campaign, CampaignStatus};
use crate::engine::{Audience, StartError, StartRequest, Transition};
use crate::error::Error;
use crate::spec::RestSpec;
use crate::state::AppState;
use crate::store::CampaignFilter;

pub(super) fn not_found(id: &str) -> ApiError {
    ApiError(Error::NotFound(format!("Campaign {id} not found")))
}

/// The 409 of an action only DRAFT campaigns take.
fn only_drafts(action: &str, status: CampaignStatus) -> ApiError {
    ApiError(Error::NotAllowed(format!("Only DRAFT campaigns can be {action}; this one is {}", status.rest())))
}

pub(super) fn parse_id(id: &str) -> ApiResult<Uuid> {
    Uuid::try_parse(id).map_err(|_| not_found(id))
}

pub(super) async fn load(state: &AppState, ws: &Workspace, id: &str) -> ApiResult<Campaign> {
    let uuid = parse_id(id)?;
    state.engine.campaign(ws.id(), uuid).await.map_err(|e| match e {
        Error::NotFound(_) => not_found(id),
        other => ApiError(other),
    })
}

/// The view of `c`, with its recipient count (and, for a LIME campaign, its template id).
pub(super) async fn campaign_view(state: &AppState, ws: &Workspace, c: &Campaign) -> ApiResult<CampaignView> {
    Ok(campaign_view_of(state, ws, c).await?)
}

/// [`campaign_view`] with the store's error, so that a list can tell a campaign deleted
/// meanwhile (not found) from a failure.
async fn campaign_view_of(state: &AppState, ws: &Workspace, c: &Campaign) -> Result<CampaignView, Error> {
    let counts = state.engine.store.counts(ws.id(), c.id).await?;
    let spec = RestSpec::of(c);
    let templates = match (&spec, &c.message.template) {
        (None, Some(_)) => state.engine.store.templates(ws.id()).await?,
        _ => Vec::new(),
    };
    Ok(view::campaign(c, spec.as_ref(), counts.total, &templates, state.engine.clock.now()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// DRAFT, SCHEDULED, RUNNING, PAUSED, COMPLETED, CANCELLED or FAILED.
    pub status: Option<String>,
    pub channel_id: Option<String>,
    pub page: Option<String>,
    pub limit: Option<String>,
}

/// List campaigns, newest first.
#[utoipa::path(get, path = "/api/v1/campaigns", params(ListQuery), security(("api_key" = [])),
    responses((status = 200, description = "A page of campaigns", body = PageOf<CampaignView>),
              (status = 400, description = "Bad query"), (status = 401, description = "Missing or unknown API key")))]
pub async fn list(
    State(state): State<AppState>,
    ws: Workspace,
    Q(q): Q<ListQuery>,
) -> ApiResult<Json<PageOf<CampaignView>>> {
    let paging = Paging::from_query(q.page.as_deref(), q.limit.as_deref())?;
    let statuses = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let found = ["DRAFT", "SCHEDULED", "RUNNING", "PAUSED", "COMPLETED", "CANCELLED", "FAILED"]
                .iter()
                .find(|x| x.eq_ignore_ascii_case(s))
                .ok_or_else(|| {
                    bad(format!(
                        "status \"{s}\" is not valid (DRAFT, SCHEDULED, RUNNING, PAUSED, COMPLETED, CANCELLED, FAILED)"
                    ))
                })?;
            CampaignStatus::parse_any(found)
        }
    };
    let filter = CampaignFilter { statuses, channel_id: q.channel_id.clone(), ..CampaignFilter::default() };
    let (total, campaigns) = state.engine.store.campaigns(ws.id(), &filter, paging.store_page()).await?;
    let mut data = Vec::with_capacity(campaigns.len());
    for c in &campaigns {
        // A campaign deleted after the page was read is left out rather than failing the list
        // with an id the client never asked for.
        match campaign_view_of(&state, &ws, c).await {
            Err(Error::NotFound(_)) => {}
            other => data.push(other?),
        }
    }
    Ok(Json(PageOf::new(data, paging, total)))
}

/// Create a campaign (DRAFT).
#[utoipa::path(post, path = "/api/v1/campaigns", request_body = CampaignInput, security(("api_key" = [])),
    responses((status = 201, description = "Created", body = CampaignView),
              (status = 400, description = "Invalid field"), (status = 401, description = "Missing or unknown API key"),
              (status = 403, description = "Plan lacks the campaigns feature")))]
pub async fn create(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    ws.require_campaigns()?;
    let input: CampaignInput = json_body(&state, body).await?;
    let now = state.engine.clock.now();
    let draft = Campaign {
        source_application: Some("API".into()),
        rate_limit_per_minute: Some(300),
        rest: Some(json!({})),
        ..Campaign::draft(ws.id(), ws.0.default_send_window.as_ref(), ws.0.identity.to_string(), now)
    };
    let campaign = build(&state, &ws, draft, input).await?;
    state.engine.store.insert_campaign(campaign.clone(), Vec::new()).await?;
    tracing::info!(campaign = %campaign.id, tenant = %campaign.tenant, "REST campaign created");
    Ok(created(campaign_view(&state, &ws, &campaign).await?))
}

/// One campaign.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}", params(("id" = String, Path)), security(("api_key" = [])),
    responses((status = 200, description = "The campaign", body = CampaignView), (status = 404, description = "Not found")))]
pub async fn get(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignView>> {
    let c = load(&state, &ws, &id).await?;
    Ok(Json(campaign_view(&state, &ws, &c).await?))
}

/// Update a DRAFT campaign (the fields given).
#[utoipa::path(put, path = "/api/v1/campaigns/{id}", params(("id" = String, Path)), request_body = CampaignInput,
    security(("api_key" = [])),
    responses((status = 200, description = "Updated", body = CampaignView), (status = 400, description = "Invalid field"),
              (status = 403, description = "Plan lacks the campaigns feature"), (status = 404, description = "Not found"),
              (status = 409, description = "Not a DRAFT")))]
pub async fn update(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<CampaignView>> {
    ws.require_campaigns()?;
    let input: CampaignInput = json_body(&state, body).await?;
    let current = load(&state, &ws, &id).await?;
    if current.status != CampaignStatus::Draft {
        return Err(only_drafts("updated", current.status));
    }
    let next = build(&state, &ws, current, input).await?;
    let saved = state
        .engine
        .store
        .update_campaign(ws.id(), next.id, &mut |c| {
            if c.status != CampaignStatus::Draft {
                return Err(only_drafts("updated", c.status).0);
            }
            *c = next.clone();
            Ok(())
        })
        .await?;
    Ok(Json(campaign_view(&state, &ws, &saved).await?))
}

/// Delete a DRAFT or COMPLETED campaign.
#[utoipa::path(delete, path = "/api/v1/campaigns/{id}", params(("id" = String, Path)), security(("api_key" = [])),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Plan lacks the campaigns feature"),
              (status = 404, description = "Not found"), (status = 409, description = "Not DRAFT or COMPLETED")))]
pub async fn delete(State(state): State<AppState>, ws: Workspace, Path(id): Path<String>) -> ApiResult<StatusCode> {
    ws.require_campaigns()?;
    let uuid = parse_id(&id)?;
    state
        .engine
        .store
        .delete_campaign(ws.id(), uuid, &[CampaignStatus::Draft, CampaignStatus::Completed])
        .await
        .map_err(|e| match e {
            Error::NotAllowed(_) => {
                ApiError(Error::NotAllowed("Only DRAFT or COMPLETED campaigns can be deleted".into()))
            }
            other => ApiError(other),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start now, or at `scheduled_at` when it is in the future (→ SCHEDULED). The audience is
/// fixed here.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/start", params(("id" = String, Path)), request_body = Option<StartInput>,
    security(("api_key" = [])),
    responses((status = 200, description = "RUNNING or SCHEDULED", body = CampaignView),
              (status = 400, description = "No contact matches"), (status = 403, description = "Plan lacks the campaigns feature"),
              (status = 404, description = "Not found"), (status = 409, description = "Not a DRAFT")))]
pub async fn start(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<CampaignView>> {
    ws.require_campaigns()?;
    let input: StartInput = json_body(&state, body).await?;
    let uuid = parse_id(&id)?;
    let scheduled = input.scheduled(&state)?;
    let request = StartRequest { scheduled, audience: Audience::Filters };
    let started = state.engine.start_campaign(ws.id(), uuid, request).await.map_err(|e| match e {
        StartError::NotDraft(status) => only_drafts("started", status),
        StartError::NoRecipients => bad("The campaign has no audience"),
        StartError::NoMatch => bad("No contact with a phone matches the campaign's filters"),
        StartError::Failed(Error::NotFound(_)) => not_found(&id),
        StartError::Failed(other) => ApiError(other),
    })?;
    Ok(Json(campaign_view(&state, &ws, &started).await?))
}

macro_rules! lifecycle {
    ($name:ident, $transition:ident, $path:literal, $doc:literal, $conflict:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, params(("id" = String, Path)), security(("api_key" = [])),
                    responses((status = 200, description = "New status", body = CampaignView),
                              (status = 403, description = "Plan lacks the campaigns feature"),
                              (status = 404, description = "Not found"), (status = 409, description = $conflict)))]
        pub async fn $name(
            State(state): State<AppState>,
            ws: Workspace,
            Path(id): Path<String>,
        ) -> ApiResult<Json<CampaignView>> {
            ws.require_campaigns()?;
            let uuid = parse_id(&id)?;
            let c = state.engine.transition(ws.id(), uuid, Transition::$transition).await?;
            Ok(Json(campaign_view(&state, &ws, &c).await?))
        }
    };
}

lifecycle!(pause, Pause, "/api/v1/campaigns/{id}/pause", "RUNNING → PAUSED.", "Not RUNNING");
lifecycle!(resume, Resume, "/api/v1/campaigns/{id}/resume", "PAUSED → RUNNING.", "Not PAUSED");
lifecycle!(
    cancel,
    Cancel,
    "/api/v1/campaigns/{id}/cancel",
    "Any status but COMPLETED/CANCELLED → CANCELLED.",
    "COMPLETED or CANCELLED"
);
