//! Provider webhooks: the HTTP routes real providers call back with statuses and inbound
//! messages (`whatsapp`: Meta's Cloud API, `rbm`: Google RBM). Each verifies its signature on
//! the raw body before parsing and answers once what it carried is durable.

pub mod rbm;
pub mod whatsapp;

use axum::body::{to_bytes, Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;

use crate::problem::json_error;

/// Largest webhook body (providers.md: 1 MiB; more is 413).
pub const MAX_BODY: usize = 1024 * 1024;

/// The raw body of a webhook, within [`MAX_BODY`] (413 beyond, 400 when it cannot be read):
/// its signature is checked on exactly these bytes.
pub(crate) async fn raw_body(body: Body) -> Result<Bytes, Response> {
    to_bytes(body, MAX_BODY).await.map_err(|e| {
        if crate::problem::over_limit(e) {
            json_error(StatusCode::PAYLOAD_TOO_LARGE, format!("The body is larger than {MAX_BODY} bytes"))
        } else {
            json_error(StatusCode::BAD_REQUEST, "The body could not be read")
        }
    })
}
