//! Provider webhooks: the HTTP routes real providers call back with statuses and inbound
//! messages (`whatsapp`: Meta's Cloud API, `rbm`: Google RBM). Each verifies its signature on
//! the raw body before parsing and answers once what it carried is durable.

pub mod messages;
pub mod rbm;
pub mod whatsapp;

use axum::body::{Body, Bytes};
use axum::response::Response;

/// Largest webhook body (providers.md: 1 MiB; more is 413).
pub const MAX_BODY: usize = 1024 * 1024;

/// The raw body of a webhook, within [`MAX_BODY`] (`app` puts the webhooks under
/// `layers::body_limit`: 413 beyond, 400 when it cannot be read): its signature is checked on
/// exactly these bytes.
pub(crate) async fn raw_body(body: Body) -> Result<Bytes, Response> {
    crate::layers::read_body(body).await.map_err(axum::response::IntoResponse::into_response)
}
