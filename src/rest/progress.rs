//! Live progress of watched campaigns, for `GET /campaigns/{id}/events`: one shared poller per
//! watched campaign however many watch it, so that 200 open dashboards cost the store what one
//! does.
//!
//! A poller reads the campaign and its counts every [`POLL`] and publishes a [`Snapshot`] on a
//! `watch` channel only when the status or a count changed (the estimated completion time,
//! which moves with the clock alone, is not a change). A watcher sees the latest snapshot, never
//! a backlog: a slow reader skips what it missed instead of holding memory. The poller is a
//! tracked background task; it ends when its last watcher leaves (checked under the map's lock,
//! so a watcher arriving at that moment starts a new one), when the campaign is deleted, or at
//! shutdown. Watchers are bounded by `limits.max_event_streams`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::campaign::CampaignStatus;
use crate::engine::Engine;
use crate::error::Error;
use crate::recipient::Counts;

/// How often a watched campaign is read: also the shortest time between two `progress` events.
pub const POLL: Duration = Duration::from_millis(500);

/// What a watcher knows of a campaign.
#[derive(Debug, Clone)]
pub enum Snapshot {
    /// The poller has not read it yet.
    Unknown,
    /// Its status, its counts and the stats object of `GET /stats`, serialized once for all.
    Now { status: CampaignStatus, counts: Counts, stats: Arc<str> },
    /// Deleted (or no longer found): the watchers' streams end.
    Gone,
}

impl Snapshot {
    /// Whether `next` is worth telling watchers about.
    fn differs(&self, next: &Snapshot) -> bool {
        match (self, next) {
            (Snapshot::Now { status: a, counts: x, .. }, Snapshot::Now { status: b, counts: y, .. }) => {
                a != b || x != y
            }
            (Snapshot::Unknown, Snapshot::Unknown) | (Snapshot::Gone, Snapshot::Gone) => false,
            _ => true,
        }
    }
}

type Key = (String, Uuid);

/// The pollers of the watched campaigns. Cheap to clone.
#[derive(Clone)]
pub struct Progress(Arc<Shared>);

struct Shared {
    engine: Engine,
    pollers: Mutex<HashMap<Key, watch::Sender<Snapshot>>>,
    /// One permit per open stream (`limits.max_event_streams`).
    streams: Arc<Semaphore>,
    limit: usize,
    shutdown: CancellationToken,
}

/// One watcher: the latest snapshot of its campaign, and its place under the limit.
pub struct Watch {
    pub snapshots: watch::Receiver<Snapshot>,
    _permit: OwnedSemaphorePermit,
}

impl Progress {
    pub fn new(engine: Engine, max_streams: usize, shutdown: CancellationToken) -> Progress {
        Progress(Arc::new(Shared {
            engine,
            pollers: Mutex::new(HashMap::new()),
            streams: Arc::new(Semaphore::new(max_streams)),
            limit: max_streams,
            shutdown,
        }))
    }

    /// Watches campaign `id` of `tenant` (whose existence the caller checked), starting its
    /// poller if nobody watched it. Fails fast with [`Error::Unavailable`] when
    /// `limits.max_event_streams` streams are open.
    pub fn watch(&self, tenant: &str, id: Uuid) -> Result<Watch, Error> {
        let permit = self.0.streams.clone().try_acquire_owned().map_err(|_| {
            Error::Unavailable(format!(
                "Too many event streams are open ({}, limits.max_event_streams); retry later",
                self.0.limit
            ))
        })?;
        let key = (tenant.to_owned(), id);
        let mut pollers = self.0.pollers.lock();
        let snapshots = match pollers.get(&key) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = watch::channel(Snapshot::Unknown);
                pollers.insert(key.clone(), tx.clone());
                self.0.engine.spawn_background(poll(self.0.clone(), key, tx));
                rx
            }
        };
        Ok(Watch { snapshots, _permit: permit })
    }

    /// Campaigns with a running poller (for tests and the benchmark).
    pub fn pollers(&self) -> usize {
        self.0.pollers.lock().len()
    }
}

/// The poller of one campaign: reads it every [`POLL`] while someone watches.
async fn poll(shared: Arc<Shared>, key: Key, tx: watch::Sender<Snapshot>) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        if leave_if_unwatched(&shared, &key, &tx) {
            return;
        }
        let next = match read(&shared.engine, &key).await {
            Ok(next) => next,
            Err(e) => {
                // Watchers keep the last snapshot; the next tick tries again.
                tracing::warn!(campaign = %key.1, error = %e, "reading a watched campaign failed");
                continue;
            }
        };
        let gone = matches!(next, Snapshot::Gone);
        tx.send_if_modified(|current| {
            let changed = current.differs(&next);
            if changed {
                *current = next;
            }
            changed
        });
        if gone {
            break;
        }
    }
    let mut pollers = shared.pollers.lock();
    if pollers.get(&key).is_some_and(|t| t.same_channel(&tx)) {
        pollers.remove(&key);
    }
}

/// True (and the poller unregistered) when nobody watches any more.
fn leave_if_unwatched(shared: &Shared, key: &Key, tx: &watch::Sender<Snapshot>) -> bool {
    let mut pollers = shared.pollers.lock();
    if tx.receiver_count() > 0 {
        return false;
    }
    if pollers.get(key).is_some_and(|t| t.same_channel(tx)) {
        pollers.remove(key);
    }
    true
}

async fn read(engine: &Engine, (tenant, id): &Key) -> Result<Snapshot, Error> {
    let c = match engine.campaign(tenant, *id).await {
        Ok(c) => c,
        Err(Error::NotFound(_)) => return Ok(Snapshot::Gone),
        Err(e) => return Err(e),
    };
    let counts = engine.store.counts(tenant, *id).await?;
    let view = super::view::stats(&c, &counts, engine.clock.now());
    let stats = serde_json::to_string(&view).map_err(|e| Error::Internal(format!("stats view: {e}")))?;
    Ok(Snapshot::Now { status: c.status, counts, stats: stats.into() })
}
