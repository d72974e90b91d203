//! The established session: commands in, responses out, pings both ways, until the client
//! finishes, the server shuts down or a limit is hit.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_util::{FutureExt, StreamExt};
use lime_protocol::reason::codes;
use lime_protocol::{Command, Envelope, EnvelopeError, Method, Reason, SessionState};
use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::frame::close;
use super::{Connection, End};
use crate::caller::Caller;
use crate::router;

/// State of an established session's command processing.
struct Established {
    caller: Arc<Caller>,
    tx: mpsc::Sender<String>,
    rx: mpsc::Receiver<String>,
    /// Commands running in their own task.
    inflight: Arc<AtomicUsize>,
    /// Signalled when a spawned command finishes (for draining) or the queue overflows.
    done: Arc<Notify>,
    overflowed: Arc<AtomicBool>,
    last_heard: Instant,
    ping: Option<(String, Instant)>,
}

impl Connection {
    /// The established session: commands in, responses out, pings both ways.
    pub(super) async fn established(&mut self, caller: Arc<Caller>) -> End {
        let limits = self.state.config.limits.clone();
        let (tx, rx) = mpsc::channel(limits.outbound_queue);
        let mut s = Established {
            caller,
            tx,
            rx,
            inflight: Arc::new(AtomicUsize::new(0)),
            done: Arc::new(Notify::new()),
            overflowed: Arc::new(AtomicBool::new(false)),
            last_heard: Instant::now(),
            ping: None,
        };
        let shutdown = self.state.shutdown.clone();
        // Inbound messages for the bot (conversations.md): this session is a candidate while
        // it is established; dropping the registration hands its unacknowledged ones on.
        let (_registration, mut inbox) = self.state.engine.conversations.sessions.register(&s.caller.tenant.id);
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
                Some(text) = inbox.recv() => self.feed(text).await,
                frame = self.socket.next() => self.on_frame(&mut s, frame).await,
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
            if let Some(frame) = self.socket.next().now_or_never() {
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

    async fn on_frame(&mut self, s: &mut Established, frame: Option<Result<WsMessage, WsError>>) -> Result<(), End> {
        let Some(text) = self.frame_text(frame)? else {
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
            Ok(Envelope::Session(session)) => Err(End::Fail(
                Reason::new(
                    codes::SESSION_ERROR,
                    format!("Unexpected session state \"{}\" in an established session", session.state),
                ),
                close::NORMAL,
            )),
            Ok(Envelope::Message(m)) => {
                // A bot's message to a person: `accepted` (or `failed`) comes back through the
                // session's own queue, so it precedes the later notifications.
                let outbox = &self.state.engine.outbound;
                let sink = s.tx.clone();
                if let Err(e) = outbox.submit(&s.caller.tenant, &s.caller.node, &m, sink.clone()).await {
                    tracing::debug!(id = ?m.id, to = ?m.to, error = %e, "bot message refused");
                    outbox.refused(&s.caller.tenant, &s.caller.node, &m, &e, Some(&sink));
                }
                Ok(())
            }
            Ok(Envelope::Notification(n)) => {
                // The bot's acknowledgement of an inbound message takes it off the inbox.
                let conversations = &self.state.engine.conversations;
                if let Err(e) = conversations.on_notification(&s.caller.tenant.id, &n).await {
                    tracing::warn!(id = ?n.id, event = %n.event, error = %e, "notification not applied");
                }
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
            // Bad input is always answered with an envelope naming the problem. A command whose
            // id can be read (a string) gets a failure with that id above, and the session goes
            // on. Without an id (malformed JSON, not an object, no envelope kind, an id that is
            // not a string) no failure can be matched to a request: the session fails with
            // the reason (21) and closes with 1007, as before, the reason repeated in the close.
            Err(e) => Err(End::Fail(
                Reason::new(codes::VALIDATION_ERROR, format!("Invalid envelope: {e}")),
                close::INVALID_PAYLOAD,
            )),
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
        // The tenant's in-flight cap and command rate, over all its sessions and HTTP requests.
        let slot = match self.state.admission.admit(&s.caller.tenant) {
            Ok(slot) => slot,
            Err(refusal) => {
                let mut failure = command.failure(refusal.to_error().to_reason());
                failure.from = Some(self.server_node());
                failure.to = Some(s.caller.node.clone());
                return self.feed(Envelope::Command(failure).to_json()).await;
            }
        };
        let state = self.state.clone();
        let caller = s.caller.clone();
        let mut task = Box::pin(async move {
            let _slot = slot;
            router::route(&state, &caller, &command).await
        });
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
