//! The JSON error body every HTTP failure carries, on every path of the port (REST, LIME over
//! HTTP, the WebSocket handshake, the fallbacks): `{"error": <reason phrase>, "message": …}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `status` with `{"error": <its reason phrase>, "message": message}`.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message.into(),
    });
    (status, Json(body)).into_response()
}
