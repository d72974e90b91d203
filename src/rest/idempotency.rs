//! `Idempotency-Key` on the REST routes that create (campaign-features.md, "Idempotent
//! creation"): a route's handler wrapped in [`Idempotent`] answers a repeated request (same
//! workspace, key, method, path and body within `idempotency.ttl_ms`) with the stored
//! status and body and `Idempotent-Replayed: true`, without running again.
//!
//! - the same key with another request → 422; a key over 255 characters → 400;
//! - the same key while its first request is still being answered → 409 (the client retries
//!   it later and then gets the replay); a key whose request never answered (the process
//!   died) is free again after `idempotency.in_flight_ms`;
//! - 5xx and 429 answers are not stored: the key is let go, so a retry runs the request;
//! - without the header, or without a valid `X-API-Key` (the handler's 401), nothing changes.
//!
//! A route opts in with one word in `rest/mod.rs`: `post(Idempotent(webhooks::create))`.

use std::future::Future;
use std::pin::Pin;

use axum::body::Body;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{read_body, ApiError};
use crate::error::Error;
use crate::state::AppState;
use crate::store::{IdempotencyBegin, StoredResponse};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The header of a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";
/// Longest key accepted (campaign-features.md).
pub const MAX_KEY_CHARS: usize = 255;

/// A handler whose requests with `Idempotency-Key` are answered once per key.
#[derive(Clone, Copy)]
pub struct Idempotent<H>(pub H);

impl<H, T> Handler<T, AppState> for Idempotent<H>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, request: Request, state: AppState) -> Self::Future {
        Box::pin(async move {
            match guard(request, &state).await {
                Ok(Guarded::Run(request)) => self.0.call(request, state).await,
                Ok(Guarded::Once { request, tenant, key }) => {
                    let response = self.0.call(request, state.clone()).await;
                    remember(&state, &tenant, &key, response).await
                }
                Ok(Guarded::Answered(response)) => response,
                Err(e) => e.into_response(),
            }
        })
    }
}

enum Guarded {
    /// No key (or no workspace): the handler runs as always.
    Run(Request),
    /// The key is held for this request: its answer is stored.
    Once { request: Request, tenant: String, key: String },
    /// A replay or a refusal.
    Answered(Response),
}

async fn guard(request: Request, state: &AppState) -> Result<Guarded, ApiError> {
    let Some(value) = request.headers().get(HEADER) else { return Ok(Guarded::Run(request)) };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.chars().count() <= MAX_KEY_CHARS)
        .ok_or_else(|| {
            ApiError(Error::InvalidArgument(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
            )))
        })?
        .to_owned();
    let api_key = request.headers().get("x-api-key").and_then(|v| v.to_str().ok());
    let Some(tenant) = api_key.and_then(|k| state.tenants.by_api_key(k.trim())).map(|t| t.id.clone()) else {
        return Ok(Guarded::Run(request));
    };
    let (parts, body) = request.into_parts();
    let bytes = read_body(body).await?;
    let hash = fingerprint(&parts, &bytes);
    let now = state.engine.clock.now();
    let window = state.config.idempotency.window();
    let begun = state.engine.store.idempotency_begin(&tenant, &key, &hash, now, window).await?;
    Ok(match begun {
        IdempotencyBegin::Claimed => {
            Guarded::Once { request: Request::from_parts(parts, Body::from(bytes)), tenant, key }
        }
        IdempotencyBegin::Replay(stored) => Guarded::Answered(replay(stored)),
        IdempotencyBegin::Mismatch => Guarded::Answered(
            ApiError(Error::KeyReused(
                "This Idempotency-Key was used with another request (method, path or body)".into(),
            ))
            .into_response(),
        ),
        IdempotencyBegin::InFlight => Guarded::Answered(
            ApiError(Error::NotAllowed(
                "A request with this Idempotency-Key is still being answered; retry it later".into(),
            ))
            .into_response(),
        ),
    })
}

/// What makes two requests the same one: method, path and query, content type and body.
fn fingerprint(parts: &axum::http::request::Parts, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(parts.method.as_str());
    hash.update([0]);
    hash.update(parts.uri.path_and_query().map_or("", |p| p.as_str()));
    hash.update([0]);
    hash.update(parts.headers.get(header::CONTENT_TYPE).map_or(&b""[..], HeaderValue::as_bytes));
    hash.update([0]);
    hash.update(body);
    hex::encode(hash.finalize())
}

/// Stores the handler's answer under the key (or lets the key go for a 5xx / 429) and
/// returns it.
async fn remember(state: &AppState, tenant: &str, key: &str, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    // The answers of these routes are small JSON documents the handler just built.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            release(state, tenant, key).await;
            return ApiError(Error::Internal(format!("response body unreadable: {e}"))).into_response();
        }
    };
    let status = parts.status;
    let store = &state.engine.store;
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        release(state, tenant, key).await;
    } else {
        let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let stored =
            StoredResponse { status: status.as_u16(), content_type: content_type.to_owned(), body: bytes.to_vec() };
        if let Err(e) = store.idempotency_finish(tenant, key, Some(stored)).await {
            // The request did its work: its answer goes out; a retry with the key may run
            // it again once `in_flight_ms` has passed.
            tracing::warn!(error = %e, "the response of an Idempotency-Key could not be stored");
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn release(state: &AppState, tenant: &str, key: &str) {
    if let Err(e) = state.engine.store.idempotency_finish(tenant, key, None).await {
        tracing::warn!(error = %e, "an Idempotency-Key could not be let go; it frees itself after in_flight_ms");
    }
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(&stored.content_type) {
        Ok(v) if !stored.content_type.is_empty() => headers.insert(header::CONTENT_TYPE, v),
        _ => headers.remove(header::CONTENT_TYPE),
    };
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
