//! `POST /simulator/{channel_id}/inbound`: a message from anyone into a simulator channel,
//! delivered to the bot like a real person's (conversations.md, Simulator).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bad, json_body, ApiResult, Workspace};
use crate::conversation::inject::Injected;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundInput {
    /// The sender's phone number (E.164, or national with the default country code).
    pub from: String,
    /// What they write.
    pub text: String,
    /// The provider message id: the same id twice is one message (a new one when absent).
    pub message_id: Option<String>,
    /// The sender's profile name.
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboundView {
    /// The LIME message id the bot receives (and acknowledges).
    pub id: String,
    /// False when `message_id` was already recorded (nothing new is delivered).
    pub new: bool,
}

/// Injects an inbound message from `from` into a simulator channel: it is recorded in the
/// inbox and delivered to the bot's sessions (with campaign metadata when it answers one).
#[utoipa::path(post, path = "/api/v1/simulator/{channel_id}/inbound", tag = "conversations",
    request_body = InboundInput, security(("api_key" = [])),
    params(("channel_id" = String, Path, description = "A simulator channel of the workspace")),
    responses((status = 202, description = "Recorded; delivered to the bot", body = InboundView),
              (status = 400, description = "Invalid body or phone"),
              (status = 404, description = "No simulator channel with this id")))]
pub async fn inbound(
    State(state): State<AppState>,
    ws: Workspace,
    Path(channel_id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let input: InboundInput = json_body(&state, body).await?;
    let phone = state
        .engine
        .phones
        .normalize(&input.from)
        .map_err(|e| bad(format!("from: \"{}\" is not a phone number ({})", input.from, e.reason)))?;
    if input.text.trim().is_empty() {
        return Err(bad("text: must not be empty"));
    }
    let injected = Injected { phone: phone.as_u64(), text: input.text, message_id: input.message_id, name: input.name };
    let received = state.engine.conversations.inject(ws.id(), &channel_id, injected).await?;
    Ok((StatusCode::ACCEPTED, Json(InboundView { id: received.id, new: received.new })).into_response())
}
