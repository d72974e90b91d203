//! `/webhooks`: the workspace's status callbacks (campaign-features.md): register a URL, list
//! and delete them, read a webhook's delivery log and send an event again. Not to be confused
//! with `src/webhooks/`, the providers' webhooks INTO the gateway.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{bad, created, json_body, ApiError, ApiResult, PageOf, Paging, Workspace, Q};
use crate::callbacks::outbox::{Delivery, DeliveryState, Webhook};
use crate::callbacks::NewWebhook;
use crate::error::Error;
use crate::secret::Secret;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// `https://…` (`http` only with `webhooks.allow_http`); refused when its host resolves to a
    /// private, loopback or link-local address unless `webhooks.allow_private`.
    pub url: String,
    /// `recipient.status`, `campaign.status` (at least one).
    pub events: Vec<String>,
    /// The HMAC-SHA256 key of `X-Irisgate-Signature`; never returned.
    pub secret: String,
}

/// A webhook as shown: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: Option<String>,
}

fn view(w: &Webhook) -> WebhookView {
    WebhookView {
        id: w.id.to_string(),
        url: w.url.clone(),
        events: w.events.iter().map(|k| k.name().to_owned()).collect(),
        created_at: crate::datetime::iso(w.created),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed` (default: all).
    pub status: Option<String>,
    /// Page number, from 1 (default 1).
    pub page: Option<String>,
    /// Items per page, 1–100 (default 20).
    pub limit: Option<String>,
}

/// One event's delivery to a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub event_id: String,
    /// `recipient.status` or `campaign.status`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: u32,
    /// The receiver's last HTTP status (none when it did not answer).
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    /// When it is tried next (pending only).
    pub next_attempt_at: Option<String>,
    pub campaign_id: String,
    /// The recipient's E.164 number (recipient events).
    pub recipient: Option<String>,
    /// The status the event tells.
    pub event_status: String,
}

fn delivery_view(d: &Delivery) -> DeliveryView {
    DeliveryView {
        event_id: d.event.id.to_string(),
        kind: d.event.kind.name().to_owned(),
        status: d.state.name().to_owned(),
        attempts: d.attempts,
        last_status_code: d.last_code,
        last_error: d.last_error.clone(),
        next_attempt_at: (d.state == DeliveryState::Pending)
            .then(|| crate::datetime::iso(d.next_at.max(d.first_at)))
            .flatten(),
        campaign_id: d.event.campaign.to_string(),
        recipient: d.event.recipient.map(|_| format!("+{}", d.event.phone)),
        event_status: d.event.status.clone(),
    }
}

fn webhook_id(text: &str) -> ApiResult<Uuid> {
    Uuid::try_parse(text).map_err(|_| ApiError(Error::NotFound(format!("Webhook {text} was not found"))))
}

/// Registers a webhook.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookInput,
    security(("api_key" = [])),
    responses((status = 201, description = "Registered (the secret is not returned)", body = WebhookView),
              (status = 400, description = "Invalid body, or a URL the policy refuses")))]
pub async fn create(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    let input: WebhookInput = json_body(&state, body).await?;
    let new = NewWebhook { url: input.url, events: input.events, secret: Secret::new(input.secret) };
    let hook = state.engine.callbacks.create(ws.id(), new).await?;
    Ok(created(view(&hook)))
}

/// The workspace's webhooks, oldest first.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("api_key" = [])),
    responses((status = 200, description = "Every webhook", body = Vec<WebhookView>)))]
pub async fn list(State(state): State<AppState>, ws: Workspace) -> ApiResult<Json<Vec<WebhookView>>> {
    let hooks = state.engine.callbacks.list(ws.id()).await?;
    Ok(Json(hooks.iter().map(view).collect()))
}

/// One webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")), security(("api_key" = [])),
    responses((status = 200, description = "The webhook", body = WebhookView), (status = 404, description = "Unknown")))]
pub async fn get(State(state): State<AppState>, ws: Workspace, Path(id): Path<String>) -> ApiResult<Json<WebhookView>> {
    let hook = state.engine.callbacks.get(ws.id(), webhook_id(&id)?).await?;
    Ok(Json(view(&hook)))
}

/// Deletes a webhook and its pending deliveries.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")), security(("api_key" = [])),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Unknown")))]
pub async fn delete(State(state): State<AppState>, ws: Workspace, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.engine.callbacks.delete(ws.id(), webhook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's delivery log, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"), DeliveryQuery), security(("api_key" = [])),
    responses((status = 200, description = "A page of the log", body = PageOf<DeliveryView>),
              (status = 400, description = "Bad query"), (status = 404, description = "Unknown webhook")))]
pub async fn deliveries(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
    Q(q): Q<DeliveryQuery>,
) -> ApiResult<Json<PageOf<DeliveryView>>> {
    let paging = Paging::from_query(q.page.as_deref(), q.limit.as_deref())?;
    let only = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            DeliveryState::parse(&s.to_ascii_lowercase())
                .ok_or_else(|| bad(format!("status must be pending, delivered or failed, not \"{s}\"")))?,
        ),
    };
    let (total, items) =
        state.engine.callbacks.deliveries(ws.id(), webhook_id(&id)?, only, paging.store_page()).await?;
    Ok(Json(PageOf::new(items.iter().map(delivery_view).collect(), paging, total)))
}

/// Sends an event again (same event id).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{event_id}/replay", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"), ("event_id" = String, Path, description = "Event id")),
    security(("api_key" = [])),
    responses((status = 202, description = "Queued to be sent again"), (status = 404, description = "Unknown")))]
pub async fn replay(
    State(state): State<AppState>,
    ws: Workspace,
    Path((id, event)): Path<(String, String)>,
) -> ApiResult<Response> {
    let hook = webhook_id(&id)?;
    let event = Uuid::try_parse(&event)
        .map_err(|_| ApiError(Error::NotFound(format!("Event {event} was not found for webhook {id}"))))?;
    state.engine.callbacks.replay(ws.id(), hook, event).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({"event_id": event, "status": "pending"}))).into_response())
}
