//! The HTTP application: every path the one listening port serves.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::layers;
use crate::problem::json_error;
use crate::state::AppState;
use crate::transport::{http, ws};

/// `/` (WebSocket), `/commands`, `/messages`, `/notifications`, `/health`, `/ready`, `/webhooks/…`.
pub fn router(state: AppState) -> Router {
    // The work of HTTP clients, under the listener's in-flight cap. Not `/health` (a probe
    // must see a busy gateway as alive) nor `/` (sessions have `limits.max_connections`).
    let lime = Router::new()
        .route("/commands", post(http::commands))
        .route("/messages", post(http::messages))
        .route("/notifications", post(http::notifications))
        .nest(
            "/api/v1",
            crate::rest::router().route_layer(middleware::from_fn_with_state(state.clone(), crate::rest::admit)),
        );
    let lime = layers::body_limit(lime, state.config.limits.max_envelope_bytes, "limits.max_envelope_bytes");
    // Providers retry a 503 (Meta for days), so webhooks share the cap.
    let webhooks = Router::new()
        .route("/webhooks/whatsapp", get(crate::webhooks::whatsapp::verify).post(crate::webhooks::whatsapp::statuses))
        .route("/webhooks/rbm", post(crate::webhooks::rbm::receive));
    let webhooks = layers::body_limit(webhooks, crate::webhooks::MAX_BODY, "the 1 MiB webhook limit");
    let capped = lime.merge(webhooks).route_layer(middleware::from_fn_with_state(state.clone(), listener_cap));
    Router::new()
        .route("/", get(ws::upgrade))
        .route("/health", get(health))
        .route("/ready", get(crate::readiness::ready))
        .merge(crate::ui::router())
        .merge(capped)
        .route_layer(middleware::from_fn_with_state(state.clone(), layers::observe))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(layers::trace())
        .with_state(state)
}

/// A slot of `limits.max_http_inflight` for the request, or 503 with `Retry-After`. The
/// handler may hand a clone of the slot to work that outlives the response.
async fn listener_cap(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let slot = match state.admission.enter_listener() {
        Ok(slot) => slot,
        Err(refusal) => return refusal.into_response(),
    };
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    drop(slot);
    response
}

/// 200 once the gateway is serving. The runtime's live task count (one atomic read) goes to the
/// debug log rather than the body, whose shape the spec fixes; `examples/soak.rs` reads it there
/// to see that no task outlives its work.
async fn health() -> Json<serde_json::Value> {
    tracing::debug!(tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks(), "health");
    Json(json!({"status": "ok"}))
}

async fn not_found(request: Request) -> Response {
    json_error(StatusCode::NOT_FOUND, format!("No route for {} {}", request.method(), request.uri().path()))
}

async fn method_not_allowed(request: Request) -> Response {
    json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on {}", request.method(), request.uri().path()),
    )
}
