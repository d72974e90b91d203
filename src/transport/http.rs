//! The HTTP face of the LIME router: `POST /commands`, `/messages`, `/notifications`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lime_protocol::{Envelope, EnvelopeError};

use crate::admission::{ListenerSlot, TenantSlot};
use crate::caller::Caller;
use crate::problem::json_error;
use crate::router;
use crate::state::AppState;
use crate::tenant::{AuthError, Tenant};

/// `POST /commands`: one command in, its response envelope out (HTTP 200 for success and
/// failure alike, as BLiP answers).
///
/// A command not answered within `limits.command_timeout_ms` gets 504 and is not cancelled:
/// cancelling it between two of its writes could leave half of it done (a campaign stored
/// without its audience, a status written without its worker) while the client was told it
/// may still complete. Instead the command's task keeps the listener's and the tenant's
/// slots until it ends, so abandoned commands count against `limits.max_http_inflight` and
/// `limits.max_tenant_inflight` and cannot pile up beyond them; the slow parts of a command
/// (media-link fetches, the store) have time limits of their own, so it does end.
pub async fn commands(
    State(state): State<AppState>,
    listener: Option<Extension<ListenerSlot>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (tenant, slot) = match admit(&state, &headers) {
        Ok(admitted) => admitted,
        Err(r) => return r,
    };
    let envelope = match read_envelope(body).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let mut command = match envelope {
        Envelope::Command(c) if !c.is_response() => c,
        Envelope::Command(_) => {
            return json_error(StatusCode::BAD_REQUEST, "This is a command response (it has a status): send a request")
        }
        other => {
            return json_error(StatusCode::BAD_REQUEST, format!("Expected a command envelope, got {}", kind(&other)))
        }
    };
    // HTTP correlates by the exchange itself, so a missing id is given one instead of refused.
    if command.id.is_none() {
        command.id = Some(uuid::Uuid::new_v4().to_string());
    }
    let instance =
        command.from.as_ref().filter(|f| f.identity.eq_ignore_case(&tenant.identity)).and_then(|f| f.instance.clone());
    let caller = Arc::new(Caller::new(tenant, instance.as_deref()).over(crate::metrics::Transport::Http));
    let task = tokio::spawn({
        let state = state.clone();
        async move {
            let _slots = (slot, listener);
            router::route(&state, &caller, &command).await
        }
    });
    let command_timeout = state.config.limits.command_timeout();
    match tokio::time::timeout(command_timeout, task).await {
        Ok(Ok(Some(response))) => json_response(StatusCode::OK, Envelope::Command(response).to_json()),
        Ok(Ok(None)) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(join_error)) => {
            tracing::error!(error = %join_error, "command task failed");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "The command failed unexpectedly; it has been logged")
        }
        Err(_) => json_error(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "The command was not answered within {} ms (limits.command_timeout_ms); it may still complete \
                 (it counts against the in-flight limits until it does)",
                command_timeout.as_millis()
            ),
        ),
    }
}

/// `POST /messages`: a bot's message to a person, 202 once it is stored; its notifications
/// go to the tenant's `notification_url`. Refused before storing: the HTTP status of the
/// reason (400 bad content naming the type, 404 unknown destination, 503 queue full).
pub async fn messages(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let (tenant, _slot) = match admit(&state, &headers) {
        Ok(admitted) => admitted,
        Err(r) => return r,
    };
    let message = match read_envelope(body).await {
        Ok(Envelope::Message(m)) => m,
        Ok(other) => {
            return json_error(StatusCode::BAD_REQUEST, format!("Expected a message envelope, got {}", kind(&other)))
        }
        Err(r) => return r,
    };
    let instance =
        message.from.as_ref().filter(|f| f.identity.eq_ignore_case(&tenant.identity)).and_then(|f| f.instance.clone());
    let bot = tenant.identity.with_instance(instance.as_deref());
    match state.engine.outbound.accept(&tenant, &bot, &message).await {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(e) => json_error(e.to_http_status(), e.client_message()),
    }
}

/// `POST /notifications`: 202; a `received` / `consumed` / `failed` for an inbound message
/// takes it off the inbox (conversations.md), as over a session.
pub async fn notifications(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let (tenant, _slot) = match admit(&state, &headers) {
        Ok(admitted) => admitted,
        Err(r) => return r,
    };
    let notification = match read_envelope(body).await {
        Ok(Envelope::Notification(n)) => n,
        Ok(other) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                format!("Expected a notification envelope, got {}", kind(&other)),
            )
        }
        Err(r) => return r,
    };
    match state.engine.conversations.on_notification(&tenant.id, &notification).await {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(e) => json_error(e.to_http_status(), e.client_message()),
    }
}

fn kind(envelope: &Envelope) -> &'static str {
    match envelope {
        Envelope::Message(_) => "message",
        Envelope::Notification(_) => "notification",
        Envelope::Command(_) => "command",
        Envelope::Session(_) => "session",
    }
}

/// The authenticated tenant with a slot of its in-flight cap and a token of its rate, or the
/// 401 / 429 to answer.
fn admit(state: &AppState, headers: &HeaderMap) -> Result<(Arc<Tenant>, TenantSlot), Response> {
    let tenant = authenticate(state, headers)?;
    let slot = state.admission.admit(&tenant).map_err(IntoResponse::into_response)?;
    Ok((tenant, slot))
}

fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Arc<Tenant>, Response> {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    state.tenants.authenticate_http(header).map_err(|e: AuthError| {
        let mut response = json_error(StatusCode::UNAUTHORIZED, e.to_string());
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Key realm=\"irisgate\""));
        response
    })
}

async fn read_envelope(body: Body) -> Result<Envelope, Response> {
    let bytes = crate::layers::read_body(body).await.map_err(IntoResponse::into_response)?;
    Envelope::parse_slice(&bytes).map_err(|e| {
        let message = match &e {
            EnvelopeError::InvalidField { kind, field, message, .. } => {
                format!("Invalid {kind}: field '{field}': {message}")
            }
            other => other.to_string(),
        };
        json_error(StatusCode::BAD_REQUEST, message)
    })
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}
