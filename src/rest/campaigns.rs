//! `/api/v1/campaigns`: create, list, update, delete, start, pause, resume, cancel, stats,
//! messages and preview — on the same store and dispatcher as the LIME face.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::view::{self, CampaignView, ContactView, MessageView, StatsView};
use super::{created, json_body, ApiError, ApiResult, PageOf, Paging, Workspace, Q};
use crate::campaign::{message_id, Campaign, CampaignStatus, MessageSpec, RecipientStatus};
use crate::catalog::{replace_placeholders, TemplateDef};
use crate::contact::Contact;
use crate::datetime::{self, iso};
use crate::engine::{Audience, StartError, StartRequest, Transition};
use crate::error::Error;
use crate::filter::Filters;
use crate::spec::{Content, MessageType, RestSpec};
use crate::state::AppState;
use crate::store::CampaignFilter;
use crate::variables;

/// Body of create (every field) and update (the fields to change).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub message_type: Option<MessageType>,
    pub content: Option<Content>,
    pub template_id: Option<String>,
    pub channel_id: Option<String>,
    pub filters: Option<Filters>,
    /// `template_variable_mapping` (`{"{{1}}": "nome", …}`) and free keys.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// 1–300 (default 300).
    pub rate_limit_per_minute: Option<u32>,
    /// ISO-8601, in the future; `start` then schedules instead of sending at once.
    pub scheduled_at: Option<String>,
    /// Send also to contacts with an open conversation (else they fail with 1602).
    pub allow_open_conversation: Option<bool>,
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError(Error::InvalidArgument(m.into()))
}

fn not_found(id: &str) -> ApiError {
    ApiError(Error::NotFound(format!("Campaign {id} not found")))
}

fn parse_id(id: &str) -> ApiResult<Uuid> {
    Uuid::try_parse(id).map_err(|_| not_found(id))
}

async fn load(state: &AppState, ws: &Workspace, id: &str) -> ApiResult<Campaign> {
    let uuid = parse_id(id)?;
    state.engine.campaign(ws.id(), uuid).await.map_err(|e| match e {
        Error::NotFound(_) => not_found(id),
        other => ApiError(other),
    })
}

/// Applies `input` over `base` (create: an empty draft) and checks every rule of rest.md.
async fn build(state: &AppState, ws: &Workspace, mut c: Campaign, input: CampaignInput) -> ApiResult<Campaign> {
    let store = &state.engine.store;
    let tenant = ws.id();
    if c.rest.is_none() {
        return build_lime(state, c, input);
    }
    let mut spec = RestSpec::of(&c).unwrap_or_default();
    apply_pacing_and_schedule(state, &mut c, &input)?;
    // Switching the message type drops the other type's fields unless they are given anew.
    if input.message_type.is_some_and(|t| Some(t) != spec.message_type) {
        spec.content = None;
        spec.template_id = None;
    }
    if let Some(name) = input.name {
        c.name = name.trim().to_owned();
    }
    if c.name.is_empty() {
        return Err(bad("name is required"));
    }
    if input.description.is_some() {
        spec.description = input.description;
    }
    if let Some(t) = input.message_type {
        spec.message_type = Some(t);
    }
    if input.content.is_some() {
        spec.content = input.content;
    }
    if input.template_id.is_some() {
        spec.template_id = input.template_id;
    }
    if input.filters.is_some() {
        spec.filters = input.filters;
    }
    if input.metadata.is_some() {
        spec.metadata = input.metadata;
    }
    if let Some(channel) = input.channel_id {
        c.channel_id = channel;
    }
    if c.channel_id.is_empty() {
        return Err(bad("channel_id is required"));
    }
    let channels = store.channels(tenant).await?;
    let channel = channels
        .iter()
        .find(|ch| ch.id == c.channel_id)
        .ok_or_else(|| bad(format!("channel_id \"{}\" does not exist in this workspace", c.channel_id)))?;
    c.channel_type = channel.channel_type;
    let custom = store.custom_fields(tenant).await?;
    if let Some(f) = &spec.filters {
        f.compile(&custom)?;
    }
    let message_type =
        spec.message_type.unwrap_or(if spec.template_id.is_some() { MessageType::Template } else { MessageType::Text });
    spec.message_type = Some(message_type);
    match message_type {
        MessageType::Text => {
            if spec.template_id.is_some() {
                return Err(bad("template_id is only for TEMPLATE campaigns (message_type is TEXT)"));
            }
            let content = spec.content.as_ref().ok_or_else(|| bad("content is required for TEXT campaigns"))?;
            if content.kind != "text" {
                return Err(bad(format!("content.type must be \"text\", not \"{}\"", content.kind)));
            }
            let body = content.text.as_ref().map(|t| t.body.trim()).filter(|b| !b.is_empty());
            let body = body.ok_or_else(|| bad("content.text.body is required for TEXT campaigns"))?;
            variables::of_text(body, &custom)?;
            c.message = MessageSpec { content: Some(body.to_owned()), ..MessageSpec::default() };
        }
        MessageType::Template => {
            if spec.content.is_some() {
                return Err(bad("content is only for TEXT campaigns (message_type is TEMPLATE)"));
            }
            let id =
                spec.template_id.as_deref().ok_or_else(|| bad("template_id is required for TEMPLATE campaigns"))?;
            let templates = store.templates(tenant).await?;
            let t = templates
                .iter()
                .find(|t| t.id == id)
                .ok_or_else(|| bad(format!("template_id \"{id}\" does not exist in this workspace")))?;
            if !t.is_approved() {
                return Err(bad(format!("template_id \"{id}\" is {}, not APPROVED", t.status)));
            }
            if t.channel_id != c.channel_id {
                return Err(bad(format!(
                    "template_id \"{id}\" belongs to channel {}, not to channel_id {}",
                    t.channel_id, c.channel_id
                )));
            }
            variables::of_mapping(&spec.mapping()?, t.parameters, &custom)?;
            c.message = MessageSpec {
                template: Some(t.name.clone()),
                template_language: Some(t.language.clone()),
                param_keys: (1..=t.parameters).map(|n| n.to_string()).collect(),
                content: None,
            };
        }
    }
    c.rest = Some(serde_json::to_value(&spec).expect("plain data"));
    Ok(c)
}

/// Update of a campaign created on the LIME face: its message and audience came from LIME,
/// so only what does not touch them can change here.
fn build_lime(state: &AppState, mut c: Campaign, input: CampaignInput) -> ApiResult<Campaign> {
    let lime_owned = [
        ("description", input.description.is_some()),
        ("message_type", input.message_type.is_some()),
        ("content", input.content.is_some()),
        ("template_id", input.template_id.is_some()),
        ("channel_id", input.channel_id.is_some()),
        ("filters", input.filters.is_some()),
        ("metadata", input.metadata.is_some()),
    ];
    if let Some((field, _)) = lime_owned.iter().find(|(_, given)| *given) {
        return Err(bad(format!(
            "{field} cannot be changed on a campaign created on the LIME face (name, rate_limit_per_minute, scheduled_at and allow_open_conversation can)"
        )));
    }
    apply_pacing_and_schedule(state, &mut c, &input)?;
    if let Some(name) = input.name {
        c.name = name.trim().to_owned();
        if c.name.is_empty() {
            return Err(bad("name is required"));
        }
    }
    Ok(c)
}

/// `rate_limit_per_minute`, `allow_open_conversation` and `scheduled_at`, which campaigns of
/// both faces take.
fn apply_pacing_and_schedule(state: &AppState, c: &mut Campaign, input: &CampaignInput) -> ApiResult<()> {
    if let Some(r) = input.rate_limit_per_minute {
        if !(1..=300).contains(&r) {
            return Err(bad(format!("rate_limit_per_minute must be between 1 and 300, not {r}")));
        }
        c.rate_limit_per_minute = Some(r);
    }
    if let Some(open) = input.allow_open_conversation {
        c.allow_open_ticket = open;
    }
    if let Some(at) = &input.scheduled_at {
        c.scheduled = Some(future_time(state, at)?);
    }
    Ok(())
}

/// An ISO-8601 `scheduled_at` that lies in the future.
fn future_time(state: &AppState, at: &str) -> ApiResult<i64> {
    let ms = datetime::parse(at).ok_or_else(|| bad(format!("scheduled_at \"{at}\" is not an ISO-8601 date-time")))?;
    if ms <= state.engine.clock.now() {
        return Err(bad(format!("scheduled_at must be in the future ({at})")));
    }
    Ok(ms)
}

async fn campaign_view(state: &AppState, ws: &Workspace, c: &Campaign) -> ApiResult<CampaignView> {
    let counts = state.engine.store.counts(ws.id(), c.id).await?;
    let spec = RestSpec::of(c);
    let templates = match (&spec, &c.message.template) {
        (None, Some(_)) => state.engine.store.templates(ws.id()).await?,
        _ => Vec::new(),
    };
    let (message_type, content, template_id) = match &spec {
        Some(s) => (
            s.message_type.unwrap_or(MessageType::Text),
            s.content.as_ref().map(|x| serde_json::to_value(x).expect("plain data")),
            s.template_id.clone(),
        ),
        None => match &c.message.template {
            Some(name) => (
                MessageType::Template,
                None,
                templates.iter().find(|t| &t.name == name && t.channel_id == c.channel_id).map(|t| t.id.clone()),
            ),
            None => (
                MessageType::Text,
                c.message.content.as_ref().map(|b| json!({"type": "text", "text": {"body": b}})),
                None,
            ),
        },
    };
    Ok(CampaignView {
        id: c.id.to_string(),
        name: c.name.clone(),
        description: spec.as_ref().and_then(|s| s.description.clone()),
        message_type: serde_json::to_value(message_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        content,
        template_id,
        channel_id: c.channel_id.clone(),
        filters: spec.as_ref().and_then(|s| s.filters.as_ref()).map(|f| serde_json::to_value(f).expect("plain data")),
        metadata: spec.as_ref().and_then(|s| s.metadata.clone()).map(Value::Object),
        rate_limit_per_minute: c.rate_limit_per_minute,
        scheduled_at: c.scheduled.and_then(iso),
        status: c.status.rest().into(),
        failed_reason: c.failed_reason.clone(),
        total_contacts: counts.total,
        origin: if spec.is_some() { "rest".into() } else { "lime".into() },
        created_at: iso(c.created),
        started_at: iso(c.send_date),
        completed_at: iso(c.completed_at),
    })
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
        data.push(campaign_view(&state, &ws, c).await?);
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
        ..Campaign::draft(ws.id(), ws.0.identity.to_string(), now)
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
        return Err(ApiError(Error::NotAllowed(format!(
            "Only DRAFT campaigns can be updated; this one is {}",
            current.status.rest()
        ))));
    }
    let next = build(&state, &ws, current, input).await?;
    let saved = state
        .engine
        .store
        .update_campaign(ws.id(), next.id, &mut |c| {
            if c.status != CampaignStatus::Draft {
                return Err(Error::NotAllowed(format!(
                    "Only DRAFT campaigns can be updated; this one is {}",
                    c.status.rest()
                )));
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

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartInput {
    /// Overrides the campaign's `scheduled_at` (ISO-8601, future).
    pub scheduled_at: Option<String>,
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
    let scheduled = input.scheduled_at.as_deref().map(|at| future_time(&state, at)).transpose()?;
    let request = StartRequest { scheduled, audience: Audience::Filters };
    let started = state.engine.start_campaign(ws.id(), uuid, request).await.map_err(|e| match e {
        StartError::NotDraft(status) => {
            ApiError(Error::NotAllowed(format!("Only DRAFT campaigns can be started; this one is {}", status.rest())))
        }
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

/// Counts, success rate, progress and times.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/stats", params(("id" = String, Path)), security(("api_key" = [])),
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

/// One row per recipient with its rendered content.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/messages", params(("id" = String, Path), MessagesQuery),
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
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            ["PENDING", "SENT", "DELIVERED", "READ", "FAILED"]
                .iter()
                .find(|x| x.eq_ignore_ascii_case(s))
                .and_then(|x| RecipientStatus::parse_any(x))
                .ok_or_else(|| bad(format!("status \"{s}\" is not valid (PENDING, SENT, DELIVERED, READ, FAILED)")))?,
        ),
    };
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
            view::message(r, content, message_id(c.id, r.seq), &state.engine.reasons)
        })
        .collect();
    Ok(Json(PageOf::new(data, paging, total)))
}

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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<ContactView>>,
}

/// How many contacts (with a phone) the filters match.
#[utoipa::path(post, path = "/api/v1/campaigns/preview", request_body = PreviewInput, security(("api_key" = [])),
    responses((status = 200, description = "Count and optional first 50", body = PreviewView),
              (status = 400, description = "Invalid filter")))]
pub async fn preview(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    let input: PreviewInput = json_body(&state, body).await?;
    let store = &state.engine.store;
    if let Some(channel) = &input.channel_id {
        if !store.channels(ws.id()).await?.iter().any(|c| &c.id == channel) {
            return Err(bad(format!("channel_id \"{channel}\" does not exist in this workspace")));
        }
    }
    let custom = store.custom_fields(ws.id()).await?;
    let compiled = input.filters.unwrap_or_default().compile(&custom)?;
    let details = input.include_details.unwrap_or(false);
    let mut total = 0u64;
    let mut first = Vec::new();
    store
        .scan_contacts(ws.id(), &mut |c: &Contact| {
            if c.phone.is_some() && compiled.matches(c) {
                total += 1;
                if details && first.len() < 50 {
                    first.push(view::contact(c));
                }
            }
        })
        .await?;
    Ok(Json(PreviewView { total, contacts: details.then_some(first) }).into_response())
}
