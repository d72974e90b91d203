//! The receipt recorder: drains channel receipts in batches into the store. A receipt the
//! queue took is never given up: a failed write is retried until it succeeds (the queue
//! filling meanwhile makes the channels wait), and a drain at shutdown records what is
//! queued within a bounded time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, timeout_at, Instant};
use tokio_util::task::TaskTracker;

use crate::channel::ReceiptSink;
use crate::error::{Error, Result};
use crate::store::{Receipt, Store};

/// The first retry of a failed write waits this long (a PostgreSQL deadlock or a busy
/// SQLite file resolves on a second try), each next one twice as long…
const FIRST_RETRY: Duration = Duration::from_millis(20);

/// …up to this: a store that is down for minutes is tried every few seconds, not hammered.
const LAST_RETRY: Duration = Duration::from_secs(5);

/// The running recorder.
pub struct Receipts {
    sink: ReceiptSink,
    /// The drain's deadline, once one was asked for.
    drain: watch::Sender<Option<Instant>>,
    /// Set by the worker when it ends with everything recorded.
    recorded: Arc<AtomicBool>,
    tasks: TaskTracker,
}

impl Receipts {
    /// Spawns the recorder, with a queue of `capacity` receipts (`campaigns.receipt_queue`)
    /// written `batch` at a time (`campaigns.receipt_batch`).
    /// Receipts of bots' messages are applied to them too, and told to the bots by `notifier`.
    pub fn spawn(
        store: Arc<dyn Store>,
        notifier: Arc<crate::outbound::Notifier>,
        capacity: usize,
        batch: usize,
    ) -> Receipts {
        Receipts::spawn_writer(Routed { store, notifier }, capacity, batch)
    }

    fn spawn_writer(writer: impl Writer, capacity: usize, batch: usize) -> Receipts {
        let (sink, rx) = mpsc::channel(capacity);
        let (drain, deadline) = watch::channel(None);
        let recorded = Arc::new(AtomicBool::new(false));
        let tasks = TaskTracker::new();
        let done = recorded.clone();
        tasks.spawn(async move {
            let all = record(writer, rx, deadline, batch.max(1)).await;
            done.store(all, Ordering::Release);
        });
        tasks.close();
        Receipts { sink, drain, recorded, tasks }
    }

    /// Where channels send receipts. Bounded: a full queue (a store that does not take
    /// writes) makes them wait.
    pub fn sink(&self) -> ReceiptSink {
        self.sink.clone()
    }

    /// Receipts waiting to be written (`irisgate_queue_depth{queue="receipts"}`).
    pub fn queued(&self) -> usize {
        self.sink.max_capacity() - self.sink.capacity()
    }

    /// Stops taking receipts (a send to the sink fails from now on), records those already
    /// queued and returns true once they are; false when `within` passed first (what was
    /// left is logged with its count).
    pub async fn drain(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        // A second drain keeps the first one's deadline.
        self.drain.send_if_modified(|d| {
            let first = d.is_none();
            if first {
                *d = Some(deadline);
            }
            first
        });
        timeout_at(deadline, self.tasks.wait()).await.is_ok() && self.recorded.load(Ordering::Acquire)
    }
}

/// Where receipts are written: the store. A trait of its own so that the retries can be
/// tested against a writer that fails on demand.
#[async_trait]
trait Writer: Send + Sync + 'static {
    async fn write(&self, receipts: &[Receipt]) -> Result<u64>;
}

/// The store, for campaign recipients and bots' messages, and the bots' notifications.
struct Routed {
    store: Arc<dyn Store>,
    notifier: Arc<crate::outbound::Notifier>,
}

#[async_trait]
impl Writer for Routed {
    async fn write(&self, receipts: &[Receipt]) -> Result<u64> {
        let campaigns = self.store.apply_receipts(receipts).await?;
        // A retry after a failure here repeats the campaign part, which changes nothing.
        let moves = self.store.outbound_receipts(receipts).await?;
        self.notifier.moved(&moves);
        Ok(campaigns + moves.len() as u64)
    }
}

/// The worker: batch by batch, each written until it is; after a drain request, what is
/// queued until the deadline. True when it ends with everything recorded.
async fn record(
    writer: impl Writer,
    mut rx: mpsc::Receiver<Receipt>,
    mut drain: watch::Receiver<Option<Instant>>,
    most: usize,
) -> bool {
    let mut batch = Vec::with_capacity(most);
    let mut deadline: Option<Instant> = None;
    // Dropped without a drain (the recorder's handle is gone): the worker ends when every
    // sink has.
    let mut drainable = true;
    let mut retry = FIRST_RETRY;
    loop {
        if deadline.is_none() {
            if let Some(at) = *drain.borrow_and_update() {
                deadline = Some(at);
                rx.close();
            }
        }
        if batch.is_empty() {
            let n = match deadline {
                // Closed: what is queued, then 0.
                Some(_) => rx.recv_many(&mut batch, most).await,
                None => tokio::select! {
                    n = rx.recv_many(&mut batch, most) => n,
                    changed = drain.changed(), if drainable => {
                        drainable = changed.is_ok();
                        continue;
                    }
                },
            };
            if n == 0 {
                return true;
            }
        }
        let written = match deadline {
            Some(at) => timeout_at(at, writer.write(&batch))
                .await
                .unwrap_or_else(|_| Err(Error::Unavailable("the drain time ran out".into()))),
            None => writer.write(&batch).await,
        };
        let e = match written {
            Ok(_) => {
                batch.clear();
                retry = FIRST_RETRY;
                continue;
            }
            Err(e) => e,
        };
        // Applying a receipt twice is harmless (statuses only move forward), so a write
        // whose answer was lost is simply repeated.
        let again = Instant::now() + retry;
        retry = (retry * 2).min(LAST_RETRY);
        if deadline.is_some_and(|at| again >= at) {
            let left = batch.len() + rx.len();
            tracing::error!(error = %e, receipts = left, "receipts not recorded before the drain time ran out");
            return false;
        }
        tracing::warn!(error = %e, receipts = batch.len(), "receipts not recorded yet; retrying");
        // A drain asked for meanwhile ends the wait: its deadline then bounds the retries.
        tokio::select! {
            _ = sleep_until(again) => {}
            changed = drain.changed(), if drainable && deadline.is_none() => drainable = changed.is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use parking_lot::Mutex;

    use super::*;
    use crate::campaign::RecipientStatus;

    const BATCH: usize = 4096;

    /// Fails its first `failures` writes, then records.
    #[derive(Clone, Default)]
    struct Flaky(Arc<FlakyState>);

    #[derive(Default)]
    struct FlakyState {
        failures: AtomicU32,
        written: Mutex<Vec<Receipt>>,
    }

    impl Flaky {
        fn failing(n: u32) -> Flaky {
            let f = Flaky::default();
            f.0.failures.store(n, Ordering::Relaxed);
            f
        }

        fn written(&self) -> usize {
            self.0.written.lock().len()
        }
    }

    #[async_trait]
    impl Writer for Flaky {
        async fn write(&self, receipts: &[Receipt]) -> Result<u64> {
            let left = self.0.failures.load(Ordering::Relaxed);
            if left > 0 {
                self.0.failures.store(left - 1, Ordering::Relaxed);
                return Err(Error::Unavailable("database is locked".into()));
            }
            self.0.written.lock().extend_from_slice(receipts);
            Ok(receipts.len() as u64)
        }
    }

    fn receipt(i: usize) -> Receipt {
        Receipt { message_id: format!("m{i}"), status: RecipientStatus::Received, at: i as i64, reason: 0 }
    }

    /// Issue 14, point 6: a batch used to be given up after five failed writes.
    #[tokio::test(start_paused = true)]
    async fn a_batch_is_retried_until_the_store_takes_it() {
        let store = Flaky::failing(12);
        let receipts = Receipts::spawn_writer(store.clone(), 1024, BATCH);
        let sink = receipts.sink();
        for i in 0..100 {
            sink.send(receipt(i)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(store.written(), 100, "every receipt, after twelve failed writes");
    }

    /// Issue 14, point 6: at shutdown the queued receipts used to be written once, the
    /// error ignored.
    #[tokio::test(start_paused = true)]
    async fn at_shutdown_the_queued_receipts_are_recorded_through_failed_writes() {
        let store = Flaky::failing(3);
        let receipts = Receipts::spawn_writer(store.clone(), 1024, BATCH);
        let sink = receipts.sink();
        for i in 0..50 {
            sink.send(receipt(i)).await.unwrap();
        }
        // What `run` does at shutdown (through `Engine::drain`).
        assert!(receipts.drain(Duration::from_secs(30)).await);
        assert_eq!(store.written(), 50, "every receipt queued before the shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn while_the_store_fails_a_full_queue_makes_the_channels_wait() {
        let store = Flaky::failing(u32::MAX);
        let receipts = Receipts::spawn_writer(store.clone(), 16, BATCH);
        let sink = receipts.sink();
        let mut taken = 0;
        for i in 0..10_000 {
            match tokio::time::timeout(Duration::from_secs(1), sink.send(receipt(i))).await {
                Ok(sent) => sent.unwrap(),
                Err(_) => break,
            }
            taken += 1;
        }
        assert!(taken <= BATCH + 16, "{taken} receipts taken by a recorder that writes none");
        store.0.failures.store(0, Ordering::Relaxed);
        sink.send(receipt(taken)).await.unwrap();
        assert!(receipts.drain(Duration::from_secs(30)).await);
        assert_eq!(store.written(), taken + 1, "every receipt taken is written once the store is back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_records_what_is_queued_through_failed_writes() {
        let store = Flaky::failing(3);
        let receipts = Receipts::spawn_writer(store.clone(), 1024, BATCH);
        for i in 0..50 {
            receipts.sink().send(receipt(i)).await.unwrap();
        }
        assert!(receipts.drain(Duration::from_secs(10)).await);
        assert_eq!(store.written(), 50);
        assert!(receipts.sink().send(receipt(50)).await.is_err(), "a drained recorder takes nothing more");
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_gives_up_at_its_deadline() {
        let store = Flaky::failing(u32::MAX);
        let receipts = Receipts::spawn_writer(store.clone(), 1024, BATCH);
        receipts.sink().send(receipt(0)).await.unwrap();
        let started = Instant::now();
        assert!(!receipts.drain(Duration::from_secs(3)).await);
        assert!(started.elapsed() <= Duration::from_secs(3), "{:?}", started.elapsed());
        assert_eq!(store.written(), 0);
    }
}
