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

/// Whether reading a body failed because it was over its size limit (`axum::body::to_bytes`
/// reports the limit as the error's source or as the error itself, depending on the body).
pub fn over_limit(e: axum::Error) -> bool {
    std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        || e.into_inner().is::<http_body_util::LengthLimitError>()
}
