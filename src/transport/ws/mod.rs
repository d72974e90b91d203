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
mod upgrade;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use lime_protocol::reason::codes;
use lime_protocol::{Envelope, Node, Reason, Session, SessionState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use crate::state::AppState;
use frame::{close, truncate_reason};
pub use upgrade::upgrade;

/// The WebSocket over the upgraded HTTP connection.
type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// How long the peer has to answer our close frame before the connection is dropped.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(1);

/// Bytes read at once when discarding what the peer still sends after an unreadable frame.
const DISCARD_BUFFER_BYTES: usize = 64 * 1024;

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
    socket: Socket,
    state: AppState,
    session_id: String,
    /// A read failed (a frame over the size limit, a protocol error, invalid UTF-8): the
    /// WebSocket stream yields nothing more, and the peer may still be writing.
    unreadable: bool,
}

impl Connection {
    async fn run(&mut self) {
        let handshake_timeout = self.state.config.limits.handshake_timeout();
        let shutdown = self.state.shutdown.clone();
        let handshake = tokio::select! {
            r = timeout(handshake_timeout, self.handshake()) => Some(r),
            _ = shutdown.cancelled() => None,
        };
        let metrics = self.state.engine.metrics.clone();
        let failed = match &handshake {
            Some(Ok(Ok(_))) => None,
            Some(Ok(Err(End::Fail(reason, _)))) if reason.code == codes::SESSION_AUTHENTICATION_FAILED => {
                Some("authentication")
            }
            Some(Ok(Err(End::Fail(..)))) => Some("protocol"),
            Some(Ok(Err(_))) => Some("closed"),
            Some(Err(_)) => Some("timeout"),
            None => Some("shutdown"),
        };
        if let Some(reason) = failed {
            metrics.session_failed(reason);
        }
        let outcome = match handshake {
            Some(Ok(Ok(caller))) => {
                metrics.session_opened();
                let end = self.established(caller).await;
                metrics.session_closed();
                end
            }
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
        let frame = CloseFrame { code: code.into(), reason: truncate_reason(&reason).into() };
        let write_timeout = self.state.config.limits.write_timeout();
        if timeout(write_timeout, self.socket.send(WsMessage::Close(Some(frame)))).await.is_err() {
            return;
        }
        if self.unreadable {
            self.discard_until_peer_closes().await;
            return;
        }
        // Give the peer a moment to answer the close, so that it sees a clean close.
        let _ = timeout(CLOSE_REPLY_WAIT, async {
            while let Some(Ok(msg)) = self.socket.next().await {
                if matches!(msg, WsMessage::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }

    /// After a read error the framing is lost and the peer may still be writing (the rest of
    /// a frame of any size, then its close reply). Dropping the connection now would leave
    /// unread bytes, so the kernel would answer with a reset, and a peer that gets the reset
    /// before reading our close frame never sees it. So: end our side (FIN, after the close
    /// frame already sent), then read and discard until the peer closes its side, for at most
    /// `limits.write_timeout_ms` — as long as we wait on a write of our own.
    async fn discard_until_peer_closes(&mut self) {
        let write_timeout = self.state.config.limits.write_timeout();
        let stream = self.socket.get_mut();
        let drained = timeout(write_timeout, async {
            stream.shutdown().await?;
            let mut buf = vec![0u8; DISCARD_BUFFER_BYTES];
            while stream.read(&mut buf).await? > 0 {}
            Ok::<(), std::io::Error>(())
        })
        .await;
        if drained.is_err() {
            tracing::debug!(session = %self.session_id, "peer still sending after the close: dropped");
        }
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
