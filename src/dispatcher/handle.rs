//! The handle the engine holds: which campaigns have a worker on this node, and the signals
//! that start, pause, resume and stop them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::{worker, Inner};
use crate::channel::Channels;
use crate::clock::Clock;
use crate::config::{CampaignSettings, SendingRecovery};
use crate::store::Store;

/// Handle to the running campaigns. Cheap to clone.
///
/// Workers stop on their own cancel token or the process's shutdown token, whichever comes
/// first.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
    /// A campaign's worker, from its start until it has returned: a stopped one stays until
    /// then, so that a new start waits for it instead of sending alongside it.
    running: Arc<DashMap<Uuid, Run>>,
    /// Numbers the workers, so that a worker that returns removes its own entry only.
    generations: Arc<AtomicU64>,
    /// Every worker, so that a drain can wait for them to have recorded what they sent.
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

/// The handle's side of one worker.
struct Run {
    generation: u64,
    paused: watch::Sender<bool>,
    cancel: CancellationToken,
    /// Cancelled once the worker has returned.
    finished: CancellationToken,
}

impl Run {
    /// Not asked to stop (a stopped worker may still be finishing its last send).
    fn is_live(&self) -> bool {
        !self.cancel.is_cancelled()
    }
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        channels: Channels,
        clock: Clock,
        settings: CampaignSettings,
        recovery: SendingRecovery,
        shutdown: CancellationToken,
        reasons: Arc<crate::reasons::Reasons>,
    ) -> Dispatcher {
        let inner = Inner { store, channels, clock, settings, channel_pacers: DashMap::new(), recovery, reasons };
        Dispatcher {
            inner: Arc::new(inner),
            running: Arc::new(DashMap::new()),
            generations: Arc::new(AtomicU64::new(0)),
            tasks: TaskTracker::new(),
            shutdown,
        }
    }

    /// Campaigns this node is sending right now.
    pub fn running(&self) -> Vec<Uuid> {
        self.running.iter().filter(|e| e.is_live()).map(|e| *e.key()).collect()
    }

    /// Starts sending a RUNNING campaign (no-op if a worker already runs it). A worker that
    /// was stopped and has not returned yet is waited for first.
    pub fn start(&self, tenant: &str, id: Uuid) {
        if self.shutdown.is_cancelled() {
            return; // draining: the next start-up picks the campaign up
        }
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let (paused, paused_rx) = watch::channel(false);
        let cancel = self.shutdown.child_token();
        let finished = CancellationToken::new();
        let run = Run { generation, paused, cancel: cancel.clone(), finished: finished.clone() };
        let predecessor = match self.running.entry(id) {
            dashmap::Entry::Occupied(e) if e.get().is_live() => return,
            dashmap::Entry::Occupied(mut e) => Some(e.insert(run).finished),
            dashmap::Entry::Vacant(e) => {
                e.insert(run);
                None
            }
        };
        let inner = self.inner.clone();
        let running = self.running.clone();
        let tenant = tenant.to_owned();
        // The worker's span is a child of the caller's: a start from a command (its span
        // carries the command's trace id) has the campaign's sends logged in that trace.
        let span = tracing::info_span!("dispatch", campaign = %id);
        self.tasks.spawn(tracing::Instrument::instrument(
            async move {
                let _finished = finished.drop_guard();
                if let Some(predecessor) = predecessor {
                    tokio::select! {
                        _ = predecessor.cancelled() => {}
                        _ = cancel.cancelled() => {}
                    }
                }
                let signals = Signals { paused: paused_rx, cancel };
                if let Err(e) = worker::run(&inner, &tenant, id, signals).await {
                    tracing::error!(campaign = %id, error = %e, "dispatch stopped by an error");
                }
                running.remove_if(&id, |_, run| run.generation == generation);
            },
            span,
        ));
    }

    /// Stops new sends within one send interval (the worker waits, keeping its place).
    pub fn pause(&self, id: Uuid) {
        if let Some(run) = self.running.get(&id) {
            run.paused.send_replace(true);
        }
    }

    /// Continues a paused campaign from its first PENDING recipient.
    pub fn resume(&self, tenant: &str, id: Uuid) {
        // The map's guard is gone before `start`, which locks the same shard.
        let resumed = self.running.get(&id).filter(|run| run.is_live()).map(|run| run.paused.send_replace(false));
        if resumed.is_none() {
            self.start(tenant, id);
        }
    }

    /// Stops a campaign for good.
    pub fn cancel(&self, id: Uuid) {
        self.stop(id);
    }

    /// Stops sending here without changing the campaign (its lease went elsewhere, or it
    /// is no longer running).
    pub fn stop(&self, id: Uuid) {
        if let Some(run) = self.running.get(&id) {
            run.cancel.cancel();
        }
    }

    pub fn is_running(&self, id: Uuid) -> bool {
        self.running.get(&id).is_some_and(|run| run.is_live())
    }

    /// Stops every worker (the shutdown token does too) and waits, up to `within`, for them
    /// to return, each having recorded what it sent. False when some had not by then; a
    /// send in progress (with its retries) is finished, not cut short, so that its outcome
    /// is recorded rather than left SENDING.
    pub async fn drain(&self, within: Duration) -> bool {
        for run in self.running.iter() {
            run.cancel.cancel();
        }
        self.tasks.close();
        let drained = tokio::time::timeout(within, self.tasks.wait()).await.is_ok();
        if !drained {
            tracing::warn!(workers = self.tasks.len(), "dispatch workers still running after the drain time");
        }
        drained
    }
}

/// The worker's side of its [`Run`]: what the handle asks of it.
pub(super) struct Signals {
    paused: watch::Receiver<bool>,
    cancel: CancellationToken,
}

impl Signals {
    pub(super) fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    pub(super) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Sleeps until `at`, giving way to a pause or cancel; false when one came first.
    pub(super) async fn sleep_until(&mut self, at: Instant) -> bool {
        if at > Instant::now() {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = self.cancel.cancelled() => return false,
                _ = self.paused.wait_for(|p| *p) => return false,
            }
        }
        !self.is_paused() && !self.is_cancelled()
    }

    /// Waits while paused; false when the run must stop.
    pub(super) async fn proceed(&mut self) -> bool {
        if self.cancel.is_cancelled() {
            return false;
        }
        if !self.is_paused() {
            return true;
        }
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            r = self.paused.wait_for(|p| !*p) => r.is_ok() && !self.cancel.is_cancelled(),
        }
    }
}
