//! LIME sessions over WebSocket: the handshake of lime.md, then commands until finishing.
//!
//! One task per connection owns the socket. Commands that complete at their first poll
//! (most do) are answered inline; the others run in their own task and send their reply
//! through a bounded queue. Replies are written in batches and flushed once per batch.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::{FutureExt, SinkExt};
use lime_protocol::reason::codes;
use lime_protocol::{Command, Envelope, EnvelopeError, Method, Node, Reason, Session, SessionState};
use serde_json::Value;
use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep_until, timeout, Instant};

use crate::caller::Caller;
use crate::router;
use crate::state::AppState;
use crate::transport::json_error;

/// Close codes used by the gateway (RFC 6455).
mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
}

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
    /// Send `failed` with this reason, then close.
    Fail(Reason),
}

struct Connection {
    socket: WebSocket,
    state: AppState,
    session_id: String,
}

/// State of an established session's command processing.
struct Established {
    caller: Arc<Caller>,
    tx: mpsc::Sender<String>,
    rx: mpsc::Receiver<String>,
    /// Commands running in their own task.
    inflight: Arc<AtomicUsize>,
    /// Signalled when a spawned command finishes (for draining) or the queue overflows.
    done: Arc<Notify>,
    overflowed: Arc<std::sync::atomic::AtomicBool>,
    last_heard: Instant,
    ping: Option<(String, Instant)>,
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
            Some(Err(_)) => End::Fail(Reason::new(
                codes::SESSION_ERROR,
                format!("The session handshake did not complete within {} ms", handshake_timeout.as_millis()),
            )),
            None => End::Close(close::GOING_AWAY, "The server is shutting down".into()),
        };
        self.finish(outcome).await;
    }

    async fn finish(&mut self, end: End) {
        let (code, reason) = match end {
            End::Gone => return,
            End::Close(code, reason) => (code, reason),
            End::Fail(reason) => {
                tracing::debug!(session = %self.session_id, code = reason.code, reason = ?reason.description, "session failed");
                let mut failed = Session::new(Some(self.session_id.clone()), SessionState::Failed);
                failed.from = Some(self.server_node());
                failed.reason = Some(reason);
                if self.send(&failed.into()).await.is_err() {
                    return;
                }
                (close::NORMAL, String::new())
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

    /// Reads the next envelope of the handshake; anything that is not one ends the session.
    async fn next_envelope(&mut self) -> Result<Envelope, End> {
        loop {
            let frame = self.socket.recv().await;
            match frame_text(frame)? {
                Some(text) => {
                    return Envelope::parse(&text).map_err(|e| {
                        End::Fail(Reason::new(codes::SESSION_ERROR, format!("Invalid session envelope: {e}")))
                    })
                }
                None => continue,
            }
        }
    }

    /// `new` → `authenticating` → `established`, as lime.md describes it step by step.
    async fn handshake(&mut self) -> Result<Arc<Caller>, End> {
        match self.next_envelope().await? {
            Envelope::Session(s) if s.state == SessionState::New => {}
            other => return Err(End::Fail(unexpected(&other, "a session envelope with state \"new\""))),
        }
        let mut authenticating = Session::new(Some(self.session_id.clone()), SessionState::Authenticating);
        authenticating.from = Some(self.server_node());
        authenticating.scheme_options = Some(vec!["plain".into(), "key".into()]);
        self.send(&authenticating.into()).await?;

        let session = match self.next_envelope().await? {
            Envelope::Session(s) => s,
            other => return Err(End::Fail(unexpected(&other, "a session envelope with state \"authenticating\""))),
        };
        if session.id.as_deref() != Some(self.session_id.as_str()) {
            return Err(End::Fail(Reason::new(
                codes::SESSION_ERROR,
                format!("Wrong session id {:?}: this session is {}", session.id.unwrap_or_default(), self.session_id),
            )));
        }
        match session.state {
            SessionState::Authenticating => {}
            SessionState::Finishing => {
                self.send_finished(None).await?;
                return Err(End::Close(close::NORMAL, String::new()));
            }
            other => {
                return Err(End::Fail(Reason::new(
                    codes::SESSION_ERROR,
                    format!("Unexpected session state \"{other}\": expected \"authenticating\""),
                )))
            }
        }
        let caller = self
            .authenticate(&session)
            .map_err(|msg| End::Fail(Reason::new(codes::SESSION_AUTHENTICATION_FAILED, msg)))?;
        let mut established = Session::new(Some(self.session_id.clone()), SessionState::Established);
        established.from = Some(self.server_node());
        established.to = Some(caller.node.clone());
        self.send(&established.into()).await?;
        tracing::info!(session = %self.session_id, node = %caller.node, "session established");
        Ok(Arc::new(caller))
    }

    /// Checks `key` or `plain` credentials against the tenants.
    fn authenticate(&self, session: &Session) -> Result<Caller, String> {
        let from = session.from.as_ref().ok_or("The authenticating envelope must carry from (name@domain)")?;
        let name = from.identity.name.as_deref().ok_or("The from node must be name@domain")?;
        let domain = &self.state.config.domain;
        if !from.identity.domain.eq_ignore_ascii_case(domain) {
            return Err(format!("Unknown identity {} (this gateway serves the domain {domain})", from.identity));
        }
        let auth = session.authentication.as_ref().and_then(Value::as_object);
        let field = |k: &str| auth.and_then(|a| a.get(k)).and_then(Value::as_str);
        let scheme = session.scheme.as_deref().or(field("scheme")).unwrap_or(if field("key").is_some() {
            "key"
        } else {
            "plain"
        });
        let secret = match scheme.to_ascii_lowercase().as_str() {
            "key" => field("key").ok_or("The key scheme needs authentication.key")?,
            "plain" => field("password").ok_or("The plain scheme needs authentication.password")?,
            other => return Err(format!("The authentication scheme \"{other}\" is not supported (use key or plain)")),
        };
        match self.state.tenants.by_identifier(name) {
            Some(tenant) if tenant.key_matches(secret) => Ok(Caller::new(tenant.clone(), from.instance.as_deref())),
            _ => Err("Authentication failed: unknown identifier or wrong key".into()),
        }
    }

    async fn send_finished(&mut self, to: Option<Node>) -> Result<(), End> {
        let mut finished = Session::new(Some(self.session_id.clone()), SessionState::Finished);
        finished.from = Some(self.server_node());
        finished.to = to;
        self.send(&finished.into()).await
    }

    /// The established session: commands in, responses out, pings both ways.
    async fn established(&mut self, caller: Arc<Caller>) -> End {
        let limits = self.state.config.limits.clone();
        let (tx, rx) = mpsc::channel(limits.outbound_queue);
        let mut s = Established {
            caller,
            tx,
            rx,
            inflight: Arc::new(AtomicUsize::new(0)),
            done: Arc::new(Notify::new()),
            overflowed: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            last_heard: Instant::now(),
            ping: None,
        };
        let shutdown = self.state.shutdown.clone();
        loop {
            let timer = match &s.ping {
                Some((_, sent)) => *sent + limits.ping_timeout(),
                None => s.last_heard + limits.idle_ping(),
            };
            let step = tokio::select! {
                biased;
                _ = shutdown.cancelled() => Err(self.drain_and_finish(&mut s, close::GOING_AWAY, "The server is shutting down").await),
                _ = s.done.notified(), if s.overflowed.load(Ordering::Relaxed) => Err(End::Close(
                    close::POLICY,
                    format!("Outbound queue full (limits.outbound_queue = {}): the client is not reading", limits.outbound_queue),
                )),
                Some(text) = s.rx.recv() => self.feed(text).await,
                frame = self.socket.recv() => self.on_frame(&mut s, frame).await,
                _ = sleep_until(timer) => self.on_timer(&mut s).await,
            };
            if let Err(end) = step {
                return end;
            }
            if let Err(end) = self.drain_ready(&mut s).await {
                return end;
            }
        }
    }

    /// Handles what is already readable without waiting, then flushes once.
    async fn drain_ready(&mut self, s: &mut Established) -> Result<(), End> {
        for _ in 0..256 {
            let mut progressed = false;
            while let Ok(text) = s.rx.try_recv() {
                self.feed(text).await?;
                progressed = true;
            }
            if let Some(frame) = self.socket.recv().now_or_never() {
                self.on_frame(s, frame).await?;
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        self.flush().await
    }

    async fn on_timer(&mut self, s: &mut Established) -> Result<(), End> {
        let limits = &self.state.config.limits;
        if s.ping.is_some() {
            return Err(End::Close(
                close::GOING_AWAY,
                format!("No answer to ping within {} ms", limits.ping_timeout_ms),
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut ping = Command::request(id.clone(), Method::Get, "/ping");
        ping.from = Some(self.server_node());
        ping.to = Some(s.caller.node.clone());
        s.ping = Some((id, Instant::now()));
        self.feed(Envelope::Command(ping).to_json()).await
    }

    async fn on_frame(
        &mut self,
        s: &mut Established,
        frame: Option<Result<WsMessage, axum::Error>>,
    ) -> Result<(), End> {
        let Some(text) = frame_text(frame)? else {
            return Ok(());
        };
        s.last_heard = Instant::now();
        s.ping = None;
        match Envelope::parse(&text) {
            Ok(Envelope::Command(command)) => self.on_command(s, command).await,
            Ok(Envelope::Session(session)) if session.state == SessionState::Finishing => {
                let to = Some(s.caller.node.clone());
                let end = self.drain_inflight(s).await;
                if let Some(end) = end {
                    return Err(end);
                }
                self.send_finished(to).await?;
                Err(End::Close(close::NORMAL, String::new()))
            }
            Ok(Envelope::Session(session)) => Err(End::Fail(Reason::new(
                codes::SESSION_ERROR,
                format!("Unexpected session state \"{}\" in an established session", session.state),
            ))),
            Ok(Envelope::Message(m)) => {
                tracing::debug!(id = ?m.id, to = ?m.to, "message accepted and dropped: no message routing");
                Ok(())
            }
            Ok(Envelope::Notification(n)) => {
                tracing::debug!(id = ?n.id, event = %n.event, "notification accepted and dropped");
                Ok(())
            }
            Err(EnvelopeError::InvalidField { id: Some(id), kind: "command", method, field, message }) => {
                let mut request = Command::request(id, Method::parse(method.as_deref().unwrap_or("get")), "");
                request.uri = None;
                let mut failure = request.failure(Reason::new(
                    codes::VALIDATION_ERROR,
                    format!("Invalid command: field '{field}': {message}"),
                ));
                failure.from = Some(self.server_node());
                failure.to = Some(s.caller.node.clone());
                self.feed(Envelope::Command(failure).to_json()).await
            }
            Err(e) => Err(End::Close(close::INVALID_PAYLOAD, format!("Invalid envelope: {e}"))),
        }
    }

    async fn on_command(&mut self, s: &mut Established, command: Command) -> Result<(), End> {
        if command.is_response() {
            // A reply to one of our pings (or another response): liveness was already noted.
            return Ok(());
        }
        if command.id.is_none() && command.method != Method::Observe {
            let mut failure = command.failure(Reason::new(codes::VALIDATION_ERROR, "The command id is required"));
            failure.from = Some(self.server_node());
            failure.to = Some(s.caller.node.clone());
            return self.feed(Envelope::Command(failure).to_json()).await;
        }
        let max = self.state.config.limits.max_inflight_per_session;
        if s.inflight.load(Ordering::Acquire) >= max {
            let mut failure = command.failure(Reason::new(
                codes::GATEWAY_REQUEST_LIMIT,
                format!("Too many commands in flight on this session (limits.max_inflight_per_session = {max})"),
            ));
            failure.from = Some(self.server_node());
            failure.to = Some(s.caller.node.clone());
            return self.feed(Envelope::Command(failure).to_json()).await;
        }
        let state = self.state.clone();
        let caller = s.caller.clone();
        let mut task = Box::pin(async move { router::route(&state, &caller, &command).await });
        // Most commands finish without waiting: answer those inline, without a task.
        let first_poll = task.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        match first_poll {
            Poll::Ready(Some(response)) => self.feed(Envelope::Command(response).to_json()).await,
            Poll::Ready(None) => Ok(()),
            Poll::Pending => {
                s.inflight.fetch_add(1, Ordering::AcqRel);
                let (tx, inflight, done, overflowed) =
                    (s.tx.clone(), s.inflight.clone(), s.done.clone(), s.overflowed.clone());
                tokio::spawn(async move {
                    if let Some(response) = task.await {
                        if tx.try_send(Envelope::Command(response).to_json()).is_err() {
                            overflowed.store(true, Ordering::Relaxed);
                        }
                    }
                    inflight.fetch_sub(1, Ordering::AcqRel);
                    done.notify_one();
                });
                Ok(())
            }
        }
    }

    /// Waits for spawned commands to finish, writing their replies. `Some` if the socket died.
    async fn drain_inflight(&mut self, s: &mut Established) -> Option<End> {
        let deadline = Instant::now() + self.state.config.limits.command_timeout();
        while s.inflight.load(Ordering::Acquire) > 0 {
            tokio::select! {
                Some(text) = s.rx.recv() => if let Err(end) = self.feed(text).await { return Some(end) },
                _ = s.done.notified() => {}
                _ = sleep_until(deadline) => {
                    tracing::warn!(session = %self.session_id, "commands still running at session end");
                    break;
                }
            }
        }
        while let Ok(text) = s.rx.try_recv() {
            if let Err(end) = self.feed(text).await {
                return Some(end);
            }
        }
        self.flush().await.err()
    }

    async fn drain_and_finish(&mut self, s: &mut Established, code: u16, reason: &str) -> End {
        if let Some(end) = self.drain_inflight(s).await {
            return end;
        }
        let to = Some(s.caller.node.clone());
        if let Err(end) = self.send_finished(to).await {
            return end;
        }
        End::Close(code, reason.to_owned())
    }
}

/// The text of a frame; `None` for frames to skip (pings, pongs). Other frames end the session.
fn frame_text(frame: Option<Result<WsMessage, axum::Error>>) -> Result<Option<axum::extract::ws::Utf8Bytes>, End> {
    match frame {
        None => Err(End::Gone),
        Some(Ok(WsMessage::Text(text))) => Ok(Some(text)),
        Some(Ok(WsMessage::Binary(_))) => Err(End::Close(
            close::UNSUPPORTED_DATA,
            "Binary frames are not supported: send one JSON envelope per text frame".into(),
        )),
        Some(Ok(WsMessage::Close(_))) => Err(End::Close(close::NORMAL, String::new())),
        Some(Ok(_)) => Ok(None),
        Some(Err(e)) => Err(read_error(e)),
    }
}

/// Maps a read error to the close the peer should see.
fn read_error(e: axum::Error) -> End {
    use tungstenite::error::{CapacityError, Error as WsError};
    match e.into_inner().downcast::<WsError>() {
        Ok(e) => match *e {
            WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => End::Close(
                close::TOO_BIG,
                format!("Envelope of {size} bytes is over the limit of {max_size} (limits.max_envelope_bytes)"),
            ),
            WsError::Capacity(c) => End::Close(close::TOO_BIG, c.to_string()),
            WsError::Utf8(_) => End::Close(close::INVALID_PAYLOAD, "Text frame is not valid UTF-8".into()),
            WsError::Protocol(p) => End::Close(close::POLICY, format!("WebSocket protocol error: {p}")),
            _ => End::Gone,
        },
        Err(_) => End::Gone,
    }
}

fn unexpected(envelope: &Envelope, expected: &str) -> Reason {
    let got = match envelope {
        Envelope::Session(s) => format!("a session envelope with state \"{}\"", s.state),
        Envelope::Command(_) => "a command".into(),
        Envelope::Message(_) => "a message".into(),
        Envelope::Notification(_) => "a notification".into(),
    };
    Reason::new(codes::SESSION_ERROR, format!("Expected {expected}, got {got}"))
}

/// Close reasons are limited to 123 bytes by RFC 6455.
fn truncate_reason(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}
