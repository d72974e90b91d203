//! The two faces of the LIME router: WebSocket sessions on `/` and HTTP `POST /commands`.

pub mod http;
pub mod ws;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The JSON error body every HTTP failure carries: `{"error": <reason phrase>, "message": …}`.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message.into(),
    });
    (status, Json(body)).into_response()
}
