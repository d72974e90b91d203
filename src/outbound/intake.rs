//! Group commit of accepted bot messages: one tracked worker takes what the faces handed over
//! and stores it in batches of up to `outbound.batch`, one transaction (one fsync) each, then
//! tells `accepted` in acceptance order. A bot's message is never told `accepted` before it is
//! on disk; what waits here is counted in `outbound.queue_max` like the rest of the queue.
//!
//! Why: a transaction per message made the store's fsync the ceiling of a session (about 700
//! messages a second, BENCHMARKS.md); many messages a commit lift it to the sender's speed.

use lime_protocol::Event;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{notify::SessionSink, OutboundMessage, Outbox};
use crate::error::{Error, Result};

/// A message checked by `accept`, waiting for its commit.
pub(super) struct Pending {
    pub message: OutboundMessage,
    /// The session that sent it: told `accepted` or `failed` there.
    pub session: Option<SessionSink>,
    /// Told when the commit is done (the HTTP face answers 202 then).
    pub done: Option<oneshot::Sender<Result<()>>>,
}

/// The faces' side: bounded by `outbound.queue_max` (the queue's counter is taken before a
/// message is handed over, so the channel never holds more than that).
pub(super) struct Intake {
    tx: mpsc::Sender<Pending>,
}

impl Intake {
    pub(super) fn new(queue_max: usize) -> (Intake, mpsc::Receiver<Pending>) {
        let (tx, rx) = mpsc::channel(queue_max.max(1));
        (Intake { tx }, rx)
    }

    /// Hands a message to the worker; refused when the worker has stopped (shutting down)
    /// or, which the queue's counter prevents, when the channel is full.
    pub(super) fn submit(&self, pending: Pending) -> Result<()> {
        self.tx.try_send(pending).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                Error::Unavailable("Too many messages waiting to be stored; retry later".into())
            }
            mpsc::error::TrySendError::Closed(_) => {
                Error::Unavailable("The gateway is shutting down; send the message again later".into())
            }
        })
    }
}

/// The worker: batches until shutdown, then commits what was handed over before it stops
/// (nothing a face was promised is dropped).
pub(super) async fn run(outbox: Outbox, rx: mpsc::Receiver<Pending>, shutdown: CancellationToken) {
    let max = outbox.0.settings.batch;
    crate::batches::run(rx, max, shutdown, |batch| commit(&outbox, batch)).await;
}

/// Stores the batch in one transaction, then tells each message's outcome in order.
async fn commit(outbox: &Outbox, batch: Vec<Pending>) {
    let s = &*outbox.0;
    let messages: Vec<OutboundMessage> = batch.iter().map(|p| p.message.clone()).collect();
    let stored = s.store.insert_outbound(&messages).await;
    if let Err(e) = &stored {
        tracing::warn!(messages = batch.len(), error = %e, "bot messages not stored: refused");
        super::sender::release(s, batch.len());
    }
    for p in batch {
        let m = &p.message;
        match &stored {
            Ok(()) => {
                if let (Some(session), Some(_)) = (p.session, &m.lime_id) {
                    s.notifier.track(&m.key, session);
                }
                // Told before the sender can tell `dispatched`: one queue per session, in order.
                s.notifier.tell(m, Event::Accepted);
            }
            Err(e) => {
                // A face that waits reports the error itself; a session is told `failed`.
                if p.done.is_none() {
                    if let Some(id) = &m.lime_id {
                        let reason = e.to_reason();
                        let to = Value::String(m.to.clone());
                        s.notifier.refused(&m.tenant, to, m.bot.clone(), id, &reason, p.session.as_ref());
                    }
                }
            }
        }
        if let Some(done) = p.done {
            let _ = done.send(stored.clone());
        }
    }
    if stored.is_ok() {
        s.wake.notify_one();
    }
}
