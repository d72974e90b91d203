//! The HTTP side of `GET /`: checks a WebSocket upgrade request (RFC 6455 § 4.2; the server
//! speaks HTTP/1.1), answers it and hands the upgraded connection to a session.
//!
//! Done here rather than with axum's `WebSocketUpgrade` so that the session owns the stream
//! under the WebSocket: after a frame it cannot read (over `limits.max_envelope_bytes`, a
//! protocol error) the framing is lost and the peer may still be writing, so the session
//! must read and discard that stream itself before letting go of it (see `Connection::finish`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use super::Connection;
use crate::problem::json_error;
use crate::state::AppState;

/// The one subprotocol: lime.md requires it echoed when offered.
const SUBPROTOCOL: &str = "lime";

/// Bytes read from the socket at most per read call. tungstenite zero-fills its read buffer
/// up to this size before every read (128 KiB by default, 8 % of the CPU at 64×16 pings);
/// envelopes larger than it are still read whole.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// `GET /` with an upgrade: opens a LIME session. Without one, says where HTTP clients go.
pub async fn upgrade(State(state): State<AppState>, mut request: Request) -> Response {
    let Some((key, on_upgrade)) = websocket_request(&mut request) else {
        return json_error(
            StatusCode::UPGRADE_REQUIRED,
            "This path speaks LIME over WebSocket (subprotocol \"lime\"); HTTP clients use POST /commands",
        );
    };
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        let mut refused = json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "Too many WebSocket connections (limits.max_connections = {})",
                state.config.limits.max_connections
            ),
        );
        // Like the other full limits: a client library backs off instead of reconnecting at once.
        refused.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        return refused;
    };
    let lime = offers_lime(request.headers());
    let max = state.config.limits.max_envelope_bytes;
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else { return };
        let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
        let mut conn = Connection { socket, state, session_id: uuid::Uuid::new_v4().to_string(), unreadable: false };
        conn.run().await;
        drop(permit);
    });
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, derive_accept_key(key.as_bytes()))
        .body(Body::empty())
        .unwrap_or_default();
    if lime {
        response.headers_mut().insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(SUBPROTOCOL));
    }
    response
}

/// The `Sec-WebSocket-Key` and the pending upgrade of a valid WebSocket request, checked as
/// RFC 6455 § 4.2.1 asks.
fn websocket_request(request: &mut Request) -> Option<(HeaderValue, hyper::upgrade::OnUpgrade)> {
    let headers = request.headers();
    let connection_upgrade = headers
        .get(header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"));
    if request.version() > Version::HTTP_11
        || request.method() != Method::GET
        || !connection_upgrade
        || !header_is(headers, header::UPGRADE, "websocket")
        || !header_is(headers, header::SEC_WEBSOCKET_VERSION, "13")
    {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?.clone();
    let on_upgrade = request.extensions_mut().remove::<hyper::upgrade::OnUpgrade>()?;
    Some((key, on_upgrade))
}

fn header_is(headers: &HeaderMap, name: header::HeaderName, value: &str) -> bool {
    headers.get(name).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

/// Whether `Sec-WebSocket-Protocol` (a comma-separated list, possibly in several headers)
/// offers `lime`.
fn offers_lime(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|p| p.trim_ascii() == SUBPROTOCOL.as_bytes())
}
