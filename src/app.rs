//! The HTTP application: every path the one listening port serves.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::problem::json_error;
use crate::state::AppState;
use crate::transport::{http, ws};

/// `/` (WebSocket), `/commands`, `/messages`, `/notifications`, `/health`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(ws::upgrade))
        .route("/commands", post(http::commands))
        .route("/messages", post(http::messages))
        .route("/notifications", post(http::notifications))
        .route("/health", get(health))
        .nest("/api/v1", crate::rest::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
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
