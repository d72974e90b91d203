//! Group commit of inbound messages: one tracked worker takes what the sources handed over
//! and writes it in batches of up to `conversations.write_batch`, one transaction (one fsync)
//! each (`Store::record_inbound`), then answers each source in arrival order. No source is
//! answered before its message is on disk; past `conversations.write_queue` waiting messages
//! a new one is refused at once (503, the source retries).
//!
//! Why: a transaction per effect per message (contact, reply, suppression, inbox row) made
//! the store's fsync the ceiling, about 380 messages a second (BENCHMARKS.md).

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{InboundWrite, InboxAdded};
use crate::error::{Error, Result};
use crate::store::Store;

/// A message's writes, waiting for their commit.
pub(super) struct Pending {
    pub write: InboundWrite,
    pub done: oneshot::Sender<Result<InboxAdded>>,
}

/// The sources' side, bounded by `conversations.write_queue`.
pub(super) struct Intake {
    tx: mpsc::Sender<Pending>,
}

impl Intake {
    pub(super) fn new(queue: usize) -> (Intake, mpsc::Receiver<Pending>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        (Intake { tx }, rx)
    }

    /// Hands a message to the worker and waits for its commit.
    pub(super) async fn write(&self, write: InboundWrite) -> Result<InboxAdded> {
        let (done, answer) = oneshot::channel();
        self.tx.try_send(Pending { write, done }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                Error::Unavailable("Too many inbound messages waiting to be stored; retry later".into())
            }
            mpsc::error::TrySendError::Closed(_) => {
                Error::Unavailable("The gateway is shutting down; send the message again later".into())
            }
        })?;
        answer
            .await
            .map_err(|_| Error::Unavailable("The gateway is shutting down; send the message again later".into()))?
    }
}

/// The worker: batches until shutdown, then commits what was handed over before it stops.
pub(super) async fn run(
    store: std::sync::Arc<dyn Store>,
    settings: (usize, u64),
    rx: mpsc::Receiver<Pending>,
    shutdown: CancellationToken,
) {
    let (max, inbox_max) = settings;
    crate::batches::run(rx, max, shutdown, |batch| commit(&*store, batch, inbox_max)).await;
}

/// Writes the batch in one transaction, then answers each source: its outcome, or the
/// batch's error for all (each source retries its own message).
async fn commit(store: &dyn Store, batch: Vec<Pending>, inbox_max: u64) {
    let writes: Vec<InboundWrite> = batch.iter().map(|p| p.write.clone()).collect();
    match store.record_inbound(&writes, inbox_max).await {
        Ok(added) => {
            for (p, a) in batch.into_iter().zip(added) {
                let _ = p.done.send(Ok(a));
            }
        }
        Err(e) => {
            tracing::warn!(messages = batch.len(), error = %e, "inbound messages not stored: refused");
            for p in batch {
                let _ = p.done.send(Err(e.clone()));
            }
        }
    }
}
