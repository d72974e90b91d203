//! The HTTP middleware every face shares, from the ecosystem where it exists (tower-http's
//! trace and body-limit layers): each request observed (a span, `irisgate_http_requests_total`)
//! and each body bounded the same way. Load shedding stays in `admission` (it fails fast with
//! 503 / 429 and `Retry-After`, where a concurrency-limit layer would queue).

use std::time::Instant;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::problem::json_error;
use crate::state::AppState;

/// Bodies of the routes it wraps limited to `limit` bytes by tower-http (a declared
/// `Content-Length` over it is refused before anything is read, a chunked body when it gets
/// there), every 413 answered with the JSON body naming the limit and its `setting`.
pub fn body_limit(router: Router<AppState>, limit: usize, setting: &'static str) -> Router<AppState> {
    let name = move |response: Response| async move {
        // The only 413 of the port is the body limit's (the layer's own, or a handler's read
        // of a chunked body that went over it): worded here, once.
        if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
            json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The body is over the limit of {limit} bytes ({setting})"),
            )
        } else {
            response
        }
    };
    router.layer(RequestBodyLimitLayer::new(limit)).layer(axum::middleware::map_response(name))
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    /// Over the [`body_limit`] of its route: a 413, worded by the layer.
    TooLarge,
    /// Malformed chunking, a client gone mid-body: a 400.
    Malformed,
}

impl IntoResponse for Unread {
    fn into_response(self) -> Response {
        match self {
            Unread::TooLarge => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
            Unread::Malformed => {
                json_error(StatusCode::BAD_REQUEST, "The request body could not be read (malformed or incomplete)")
            }
        }
    }
}

/// The body of a request under [`body_limit`] (the layer bounds it; nothing here counts).
pub async fn read_body(body: Body) -> Result<Bytes, Unread> {
    to_bytes(body, usize::MAX).await.map_err(|e| {
        // The layer's limit error comes back wrapped once per body adapter: walk the chain.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        let mut over = false;
        while let Some(c) = cause {
            over |= c.is::<http_body_util::LengthLimitError>();
            cause = c.source();
        }
        if over {
            Unread::TooLarge
        } else {
            Unread::Malformed
        }
    })
}

/// tower-http's request span (method, URI, version; debug level) around every route.
pub fn trace() -> TraceLayer<tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>> {
    TraceLayer::new_for_http()
}

/// Route layer of every path: `irisgate_http_requests_total` and its duration, by face and
/// the route *pattern* axum matched (`/api/v1/campaigns/{id}`), never the raw path.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let metrics = &state.engine.metrics;
    if !metrics.is_enabled() {
        return next.run(request).await;
    }
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let face = face_of(&route);
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    metrics.http_request(face, &route, status, started.elapsed());
    if face == "webhook" {
        let provider = if route.ends_with("/rbm") { "rbm" } else { "whatsapp" };
        metrics.webhook(provider, webhook_result(status));
    }
    response
}

/// `irisgate_webhooks_total{result}` from the webhook's answer: 401 is a signature that does
/// not match, 403 a token no channel has, 400 / 413 a body that is not the provider's; 503
/// (`unavailable`: the store did not take it, the provider retries) is our addition.
fn webhook_result(status: u16) -> &'static str {
    match status {
        200..=299 => "ok",
        401 => "bad_signature",
        403 | 404 => "unknown_channel",
        400 | 413 | 422 => "malformed",
        _ => "unavailable",
    }
}

/// The face a route belongs to (operations.md: rest, commands, webhook, ui; `other` for the
/// WebSocket upgrade and the probes).
fn face_of(route: &str) -> &'static str {
    if route.starts_with("/api/") {
        "rest"
    } else if matches!(route, "/commands" | "/messages" | "/notifications") {
        "commands"
    } else if route.starts_with("/webhooks/") {
        "webhook"
    } else if route.starts_with("/ui") {
        "ui"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::face_of;

    #[test]
    fn faces_by_route_pattern() {
        assert_eq!(face_of("/api/v1/campaigns/{id}"), "rest");
        assert_eq!(face_of("/commands"), "commands");
        assert_eq!(face_of("/webhooks/rbm"), "webhook");
        assert_eq!(face_of("/ui/"), "ui");
        assert_eq!(face_of("/health"), "other");
    }
}
