//! The REST face: `/api/v1` with workspace API keys (rest.md), on the same engine as LIME.
//!
//! - [`campaigns`]: campaign CRUD and lifecycle handlers; [`campaign_input`]: their bodies and
//!   validation; [`results`]: stats and messages; [`preview`]: what filters would reach;
//!   [`export`]: the messages as a streamed CSV.
//! - [`resources`]: tags, channels, templates, custom fields.
//! - [`contacts`]: contacts CRUD and CSV import.
//! - [`simulator`]: inbound messages injected into a simulator channel; [`suppressions`]: the
//!   opt-out list.
//! - [`webhooks`]: the workspace's status callbacks (register, log, replay).
//! - [`view`]: JSON shapes; [`openapi`]: the OpenAPI 3.1 document.
//! - [`retry`]: failed recipients sent again; [`idempotency`]: `Idempotency-Key` on the
//!   routes that create; [`segments`]: saved segments; [`clone`]: a campaign copied as a
//!   DRAFT.
//! - [`events`]: a campaign's live progress (Server-Sent Events); [`progress`]: the shared
//!   pollers behind it.

pub mod campaign_input;
pub mod campaigns;
pub mod clone;
pub mod contacts;
pub mod events;
pub mod export;
pub mod idempotency;
pub mod openapi;
pub mod preview;
pub mod progress;
pub mod resources;
pub mod results;
pub mod retry;
pub mod segments;
pub mod simulator;
pub mod suppressions;
pub mod view;
pub mod webhooks;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::Error;
use crate::problem::json_error;
use crate::state::AppState;
use crate::tenant::Tenant;
use idempotency::Idempotent;

/// Every `/api/v1` route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(campaigns::list).post(Idempotent(campaigns::create)))
        .route("/campaigns/preview", post(preview::preview))
        .route("/campaigns/tags", get(resources::list_tags).post(resources::create_tag))
        .route("/campaigns/channels", get(resources::list_channels).post(resources::create_channel))
        .route("/campaigns/channels/{id}/templates/sync", post(resources::sync_templates))
        .route("/campaigns/templates", get(resources::list_templates).post(resources::create_template))
        .route("/campaigns/custom-fields", get(resources::list_custom_fields).post(resources::create_custom_field))
        .route("/campaigns/{id}", get(campaigns::get).put(campaigns::update).delete(campaigns::delete))
        .route("/campaigns/{id}/start", post(Idempotent(campaigns::start)))
        .route("/campaigns/{id}/pause", post(campaigns::pause))
        .route("/campaigns/{id}/resume", post(campaigns::resume))
        .route("/campaigns/{id}/cancel", post(campaigns::cancel))
        .route("/campaigns/{id}/stats", get(results::stats))
        .route("/campaigns/{id}/messages", get(results::messages))
        .route("/campaigns/{id}/events", get(events::events))
        .route("/campaigns/{id}/messages.csv", get(export::messages_csv))
        .route("/contacts", get(contacts::list).post(Idempotent(contacts::create)))
        .route("/contacts/import", post(Idempotent(contacts::import)))
        .route("/contacts/{id}", get(contacts::get).put(contacts::update).delete(contacts::delete))
        .route("/simulator/{channel_id}/inbound", post(simulator::inbound))
        .route("/suppressions", get(suppressions::list).post(suppressions::create))
        .route("/suppressions/{phone}", delete(suppressions::delete))
        .route("/webhooks", get(webhooks::list).post(Idempotent(webhooks::create)))
        .route("/webhooks/{id}", get(webhooks::get).delete(webhooks::delete))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/webhooks/{id}/deliveries/{event_id}/replay", post(webhooks::replay))
        .route("/openapi.json", get(openapi::document))
        .route("/campaigns/{id}/retry", post(retry::retry))
        .route("/segments", get(segments::list).post(segments::create))
        .route("/segments/{id}", get(segments::get).put(segments::update).delete(segments::delete))
        .route("/segments/{id}/preview", post(segments::preview))
        .route("/campaigns/{id}/clone", post(clone::clone))
}

/// Layer of every `/api/v1` route: a request with a workspace's `X-API-Key` counts against
/// that workspace's in-flight cap and command rate (429 with `Retry-After` over them). A
/// request without a valid key goes on to its 401.
pub async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let key = request.headers().get("x-api-key").and_then(|v| v.to_str().ok());
    let tenant = key.and_then(|k| state.tenants.by_api_key(k.trim()));
    let slot = match tenant.map(|t| state.admission.admit(t)).transpose() {
        Ok(slot) => slot,
        Err(refusal) => return refusal.into_response(),
    };
    let response = next.run(request).await;
    drop(slot);
    response
}

/// An [`Error`] answered as `{"error": <reason phrase>, "message": …}` with its status.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.0.is_server_fault() {
            tracing::warn!(error = %self.0, "REST request failed");
        }
        json_error(self.0.to_http_status(), self.0.client_message())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A 400 with `message`.
pub fn bad(message: impl Into<String>) -> ApiError {
    ApiError(Error::InvalidArgument(message.into()))
}

/// The exact body of rest.md for plan gating.
pub const PLAN_MESSAGE: &str =
    "Campaigns feature is not available in your current plan. Please upgrade to access this feature.";

/// The workspace of the request's `X-API-Key`.
pub struct Workspace(pub Arc<Tenant>);

impl Workspace {
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// 403 with rest.md's body unless the plan has the campaigns feature.
    pub fn require_campaigns(&self) -> Result<(), ApiError> {
        if self.0.campaigns_enabled() {
            Ok(())
        } else {
            Err(ApiError(Error::Forbidden(PLAN_MESSAGE.into())))
        }
    }
}

pub struct Unauthorized(&'static str);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        json_error(StatusCode::UNAUTHORIZED, self.0)
    }
}

impl FromRequestParts<AppState> for Workspace {
    type Rejection = Unauthorized;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = parts
            .headers
            .get("x-api-key")
            .ok_or(Unauthorized("Missing X-API-Key header"))?
            .to_str()
            .map_err(|_| Unauthorized("Invalid API key"))?;
        state.tenants.by_api_key(key.trim()).cloned().map(Workspace).ok_or(Unauthorized("Invalid API key"))
    }
}

/// Reads a JSON body within `limits.max_envelope_bytes`; errors name the field at fault.
pub async fn json_body<T: DeserializeOwned>(_state: &AppState, body: Body) -> ApiResult<T> {
    let bytes = read_body(body).await?;
    // An empty body or a JSON null is an empty object: every body field is optional somewhere.
    let trimmed = bytes.trim_ascii();
    let bytes: &[u8] = if trimmed.is_empty() || trimmed == b"null" { b"{}" } else { &bytes };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." || path.is_empty() {
            format!("Invalid JSON body: {inner}")
        } else {
            format!("{path}: {inner}")
        };
        ApiError(Error::InvalidArgument(message))
    })
}

/// A body within `limits.max_envelope_bytes` (`layers::body_limit` holds the limit of every
/// `/api/v1` route and words its 413).
pub async fn read_body(body: Body) -> ApiResult<axum::body::Bytes> {
    crate::layers::read_body(body).await.map_err(|unread| match unread {
        crate::layers::Unread::TooLarge => ApiError(Error::TooLarge("The body is over its limit".into())),
        crate::layers::Unread::Malformed => {
            ApiError(Error::InvalidArgument("The request body could not be read".into()))
        }
    })
}

/// `page` (from 1) and `limit` (1–100, default 20).
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    pub page: Option<String>,
    /// Items per page, 1–100 (default 20).
    pub limit: Option<String>,
}

/// A checked page.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: u64,
    pub limit: u64,
}

impl Paging {
    pub fn from_query(page: Option<&str>, limit: Option<&str>) -> ApiResult<Paging> {
        let number = |name: &str, v: Option<&str>, default: u64| -> ApiResult<u64> {
            match v.map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(default),
                Some(s) => s.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ApiError(Error::InvalidArgument(format!("{name} must be a positive integer, not \"{s}\"")))
                }),
            }
        };
        let page = number("page", page, 1)?;
        let limit = number("limit", limit, 20)?;
        if limit > 100 {
            return Err(ApiError(Error::InvalidArgument(format!("limit must be at most 100, not {limit}"))));
        }
        Ok(Paging { page, limit })
    }

    pub fn store_page(&self) -> crate::store::Page {
        crate::store::Page { skip: (self.page - 1).saturating_mul(self.limit), take: self.limit }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    pub page: u64,
    pub limit: u64,
    pub total: u64,
    pub total_pages: u64,
}

/// `{"data": […], "pagination": {…}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageOf<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

impl<T> PageOf<T> {
    pub fn new(data: Vec<T>, paging: Paging, total: u64) -> PageOf<T> {
        PageOf {
            data,
            pagination: Pagination {
                page: paging.page,
                limit: paging.limit,
                total,
                total_pages: total.div_ceil(paging.limit),
            },
        }
    }
}

pub fn created<T: Serialize>(value: T) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}

/// Query extraction whose failure is a 400 JSON body.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Q(q))
            .map_err(|e| ApiError(Error::InvalidArgument(e.body_text())))
    }
}
