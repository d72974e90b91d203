//! The scheduler: starts SCHEDULED campaigns at their time (within a second of it), and at
//! start-up those whose time passed while the server was down.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::campaign::{CampaignStatus, Millis};
use crate::clock::Clock;
use crate::dispatcher::Dispatcher;
use crate::store::Store;

/// Handle: hands schedules to the worker.
#[derive(Clone)]
pub struct Scheduler {
    tx: mpsc::Sender<(Millis, Uuid, String)>,
}

impl Scheduler {
    /// Spawns the worker on `background`, with a queue of `capacity` schedules waiting to be
    /// registered (`campaigns.schedule_queue`); it stops when the shutdown token is cancelled.
    pub fn spawn(
        store: Arc<dyn Store>,
        dispatcher: Dispatcher,
        clock: Clock,
        capacity: usize,
        background: &crate::shutdown::Background,
    ) -> Scheduler {
        let (tx, rx) = mpsc::channel(capacity);
        background.tasks.spawn(worker(rx, store, dispatcher, clock, background.shutdown.clone()));
        Scheduler { tx }
    }

    /// Starts campaign `id` of `tenant` at `at` (if it is still SCHEDULED then).
    /// Fails when the schedule queue is full.
    /// Schedules sent to the worker and not taken yet (`irisgate_queue_depth{queue="scheduler"}`).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub fn schedule(&self, tenant: &str, id: Uuid, at: Millis) -> Result<(), crate::error::Error> {
        self.tx.try_send((at, id, tenant.to_owned())).map_err(|_| {
            crate::error::Error::LimitReached(
                "Too many schedules waiting to be registered (campaigns.schedule_queue); retry shortly".into(),
            )
        })
    }
}

async fn worker(
    mut rx: mpsc::Receiver<(Millis, Uuid, String)>,
    store: Arc<dyn Store>,
    dispatcher: Dispatcher,
    clock: Clock,
    shutdown: CancellationToken,
) {
    let mut heap: BinaryHeap<Reverse<(Millis, Uuid, String)>> = BinaryHeap::new();
    loop {
        let next = heap.peek().map(|Reverse((at, _, _))| clock.instant_at(*at));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            item = rx.recv() => match item {
                Some(item) => heap.push(Reverse(item)),
                None => return,
            },
            _ = sleep_until(next.unwrap_or_else(tokio::time::Instant::now)), if next.is_some() => {
                let now = clock.now();
                // Once shutting down, a campaign due now is started by the next start-up.
                while !shutdown.is_cancelled() && heap.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
                    let Reverse((_, id, tenant)) = heap.pop().expect("peeked");
                    fire(&store, &dispatcher, &clock, &tenant, id).await;
                }
            }
        }
    }
}

/// SCHEDULED → RUNNING and start sending; a campaign deleted or changed meanwhile is skipped.
async fn fire(store: &Arc<dyn Store>, dispatcher: &Dispatcher, clock: &Clock, tenant: &str, id: Uuid) {
    let now = clock.now();
    let started = store
        .update_campaign(tenant, id, &mut |c| {
            if c.status != CampaignStatus::Scheduled {
                return Err(crate::error::Error::NotAllowed("no longer scheduled".into()));
            }
            c.status = CampaignStatus::Running;
            c.send_date = now;
            Ok(())
        })
        .await;
    match started {
        Ok(_) => {
            tracing::info!(campaign = %id, "scheduled campaign started");
            dispatcher.start(tenant, id);
        }
        Err(e) => tracing::debug!(campaign = %id, error = %e, "schedule skipped"),
    }
}
