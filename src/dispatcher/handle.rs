//! The handle the engine holds: which campaigns have a worker on this node, and the signals
//! that start, pause, resume and stop them.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
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
    running: Arc<DashMap<Uuid, Run>>,
    shutdown: CancellationToken,
}

/// The handle's side of one worker.
struct Run {
    paused: watch::Sender<bool>,
    cancel: CancellationToken,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        channels: Channels,
        clock: Clock,
        settings: CampaignSettings,
        recovery: SendingRecovery,
        shutdown: CancellationToken,
    ) -> Dispatcher {
        let inner = Inner { store, channels, clock, settings, channel_pacers: DashMap::new(), recovery };
        Dispatcher { inner: Arc::new(inner), running: Arc::new(DashMap::new()), shutdown }
    }

    /// Campaigns this node is sending right now.
    pub fn running(&self) -> Vec<Uuid> {
        self.running.iter().map(|e| *e.key()).collect()
    }

    /// Starts sending a RUNNING campaign (no-op if a worker already runs it).
    pub fn start(&self, tenant: &str, id: Uuid) {
        let entry = self.running.entry(id);
        if let dashmap::Entry::Occupied(_) = entry {
            return;
        }
        let (paused, paused_rx) = watch::channel(false);
        let cancel = self.shutdown.child_token();
        entry.insert(Run { paused, cancel: cancel.clone() });
        let inner = self.inner.clone();
        let running = self.running.clone();
        let tenant = tenant.to_owned();
        tokio::spawn(async move {
            let signals = Signals { paused: paused_rx, cancel };
            if let Err(e) = worker::run(&inner, &tenant, id, signals).await {
                tracing::error!(campaign = %id, error = %e, "dispatch stopped by an error");
            }
            running.remove(&id);
        });
    }

    /// Stops new sends within one send interval (the worker waits, keeping its place).
    pub fn pause(&self, id: Uuid) {
        if let Some(run) = self.running.get(&id) {
            run.paused.send_replace(true);
        }
    }

    /// Continues a paused campaign from its first PENDING recipient.
    pub fn resume(&self, tenant: &str, id: Uuid) {
        match self.running.get(&id) {
            Some(run) => {
                run.paused.send_replace(false);
            }
            None => self.start(tenant, id),
        }
    }

    /// Stops a campaign for good.
    pub fn cancel(&self, id: Uuid) {
        if let Some((_, run)) = self.running.remove(&id) {
            run.cancel.cancel();
        }
    }

    /// Stops sending here without changing the campaign (its lease went elsewhere, or it
    /// is no longer running).
    pub fn stop(&self, id: Uuid) {
        if let Some((_, run)) = self.running.remove(&id) {
            run.cancel.cancel();
        }
    }

    pub fn is_running(&self, id: Uuid) -> bool {
        self.running.contains_key(&id)
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
