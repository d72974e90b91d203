//! LIME sessions over WebSocket: the upgrade on `/` and the connection that owns the socket.
//! The session itself is in three parts: `handshake` (new → authenticating → established, as
//! lime.md describes it), `session` (commands until finishing) and `frame` (what a frame or a
//! read error means, and the close codes).
//!
//! One task per connection owns the socket. Commands that complete at their first poll
//! (most do) are answered inline; the others run in their own task and send their reply
//! through a bounded queue. Replies are written in batches and flushed once per batch.

mod frame;
mod handshake;
mod session;

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::SinkExt;
use lime_protocol::reason::codes;
use lime_protocol::{Envelope, Node, Reason, Session, SessionState};
use tokio::time::timeout;

use crate::state::AppState;
use crate::transport::json_error;
use frame::{close, truncate_reason};

/// Bytes read from the socket at most per read call (see `upgrade`).
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// `GET /` with an upgrade: opens a LIME session. Without one, says where HTTP clients go.
pub async fn upgrade(
    State(state): State<AppState>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return json_error(
            StatusCode::UPGRADE_REQUIRED,
            "This path speaks LIME over WebSocket (subprotocol \"lime\"); HTTP clients use POST /commands",
        );
    };
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "Too many WebSocket connections (limits.max_connections = {})",
                state.config.limits.max_connections
            ),
        );
    };
    let limits = &state.config.limits;
    // tungstenite zero-fills its read buffer up to this size before every read (128 KiB by
    // default, 8 % of the CPU at 64×16 pings); envelopes larger than it are still read whole.
    ws.protocols(["lime"])
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(limits.max_envelope_bytes)
        .max_frame_size(limits.max_envelope_bytes)
        .on_upgrade(move |socket| async move {
            let mut conn = Connection { socket, state, session_id: uuid::Uuid::new_v4().to_string() };
            conn.run().await;
            drop(permit);
        })
}

/// Why the connection ends.
#[derive(Debug)]
enum End {
    /// The peer went away or the socket failed; nothing more can be sent.
    Gone,
    /// Close with this code and reason (after whatever was already sent).
    Close(u16, String),
    /// Send `failed` with this reason, then close with this code; unless it is 1000, the
    /// close frame repeats the reason's description (for clients that only see the close).
    Fail(Reason, u16),
}

impl End {
    /// A failure during the handshake is a session error (11), whatever the frame's problem.
    fn in_handshake(self) -> End {
        match self {
            End::Fail(reason, code) => End::Fail(Reason { code: codes::SESSION_ERROR, ..reason }, code),
            other => other,
        }
    }
}

struct Connection {
    socket: WebSocket,
    state: AppState,
    session_id: String,
}

impl Connection {
    async fn run(&mut self) {
        let handshake_timeout = self.state.config.limits.handshake_timeout();
        let shutdown = self.state.shutdown.clone();
        let handshake = tokio::select! {
            r = timeout(handshake_timeout, self.handshake()) => Some(r),
            _ = shutdown.cancelled() => None,
        };
        let outcome = match handshake {
            Some(Ok(Ok(caller))) => self.established(caller).await,
            Some(Ok(Err(end))) => end,
            Some(Err(_)) => End::Fail(
                Reason::new(
                    codes::SESSION_ERROR,
                    format!("The session handshake did not complete within {} ms", handshake_timeout.as_millis()),
                ),
                close::NORMAL,
            ),
            None => End::Close(close::GOING_AWAY, "The server is shutting down".into()),
        };
        self.finish(outcome).await;
    }

    async fn finish(&mut self, end: End) {
        let (code, reason) = match end {
            End::Gone => return,
            End::Close(code, reason) => (code, reason),
            End::Fail(reason, code) => {
                tracing::debug!(session = %self.session_id, code = reason.code, reason = ?reason.description, "session failed");
                let text =
                    if code == close::NORMAL { String::new() } else { reason.description.clone().unwrap_or_default() };
                let mut failed = Session::new(Some(self.session_id.clone()), SessionState::Failed);
                failed.from = Some(self.server_node());
                failed.reason = Some(reason);
                if self.send(&failed.into()).await.is_err() {
                    return;
                }
                (code, text)
            }
        };
        let frame = CloseFrame { code, reason: truncate_reason(&reason).into() };
        let write_timeout = self.state.config.limits.write_timeout();
        if timeout(write_timeout, self.socket.send(WsMessage::Close(Some(frame)))).await.is_err() {
            return;
        }
        // Give the peer a moment to answer the close, so that it sees a clean close.
        let _ = timeout(Duration::from_secs(1), async {
            while let Some(Ok(msg)) = self.socket.recv().await {
                if matches!(msg, WsMessage::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }

    fn server_node(&self) -> Node {
        self.state.nodes.answering(&self.state.nodes.server)
    }

    /// Sends one envelope and flushes.
    async fn send(&mut self, envelope: &Envelope) -> Result<(), End> {
        self.feed(envelope.to_json()).await?;
        self.flush().await
    }

    async fn feed(&mut self, text: String) -> Result<(), End> {
        let write_timeout = self.state.config.limits.write_timeout();
        match timeout(write_timeout, self.socket.feed(WsMessage::Text(text.into()))).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(End::Gone),
        }
    }

    async fn flush(&mut self) -> Result<(), End> {
        let write_timeout = self.state.config.limits.write_timeout();
        match timeout(write_timeout, self.socket.flush()).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(End::Gone),
        }
    }
}
