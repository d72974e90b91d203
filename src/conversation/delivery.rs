//! The delivery loop: messages waiting in an inbox go to one of the bot's sessions, at least
//! once and in arrival order per person. A person's next message waits until the bot has
//! acknowledged the previous one; an unacknowledged message goes to another session after
//! `conversations.redeliver_ms`, or as soon as its session closes (the same id both times).
//! Messages for a bot with no session wait in the inbox; expired ones are dropped (counted).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use super::inbound::Conversations;
use crate::shutdown::Background;

/// How often expired inbox messages are looked for.
const EXPIRY_EVERY: Duration = Duration::from_secs(60);

/// Which session holds which message, and until when.
#[derive(Default)]
pub struct Flights {
    by_message: HashMap<(String, String), Flight>,
    /// Messages acknowledged, with the `reads` count when they were: an inbox read begun
    /// before the acknowledgement may still list one, and it must not go out again.
    acked: HashMap<(String, String), u64>,
    /// Inbox reads begun by the delivery loop.
    reads: u64,
}

struct Flight {
    session: u64,
    deadline: Instant,
}

impl Flights {
    /// Message `id` was acknowledged (its removal is durable): never sent again.
    pub(super) fn forget(&mut self, tenant: &str, id: &str) {
        let key = (tenant.to_owned(), id.to_owned());
        self.by_message.remove(&key);
        self.acked.insert(key, self.reads);
    }
}

impl Conversations {
    /// Starts the delivery loop on `background` (it stops on the shutdown token).
    pub fn spawn_delivery(&self, background: &Background) {
        let plane = self.clone();
        let shutdown = background.shutdown.clone();
        background.tasks.spawn(async move {
            let mut next_expiry = Instant::now();
            loop {
                if Instant::now() >= next_expiry {
                    plane.expire().await;
                    next_expiry = Instant::now() + EXPIRY_EVERY;
                }
                let due = match plane.deliver_once().await {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::warn!(error = %e, "inbox delivery failed; retrying");
                        Some(Instant::now() + Duration::from_secs(1))
                    }
                };
                let wake_at = due.map_or(next_expiry, |d| d.min(next_expiry));
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = plane.wake.notified() => {}
                    _ = sleep_until(wake_at) => {}
                }
            }
        });
    }

    /// Drops messages past `inbox_ttl_ms` in every tenant with an inbox.
    async fn expire(&self) {
        let before = self.clock.now() - self.settings.inbox_ttl_ms.min(i64::MAX as u64) as i64;
        for tenant in self.tenant_ids() {
            match self.store.inbox_expire(&tenant, before).await {
                Ok(0) => {}
                Ok(n) => {
                    self.dropped.fetch_add(n, Ordering::Relaxed);
                    self.channels.metrics().inbox_dropped(&tenant, n);
                    tracing::warn!(%tenant, dropped = n, "inbox messages expired (conversations.inbox_ttl_ms)");
                }
                Err(e) => tracing::warn!(%tenant, error = %e, "inbox expiry failed"),
            }
        }
    }

    /// One pass over the tenants with a session: hands out what can go now; returns the
    /// earliest redelivery deadline.
    async fn deliver_once(&self) -> crate::error::Result<Option<Instant>> {
        let mut earliest: Option<Instant> = None;
        for tenant in self.sessions.tenants() {
            let read = {
                let mut flights = self.flights.lock();
                flights.reads += 1;
                flights.reads
            };
            let waiting = self.store.inbox_waiting(&tenant, self.settings.delivery_batch).await?;
            let now = Instant::now();
            let mut busy: HashSet<&str> = HashSet::new();
            let mut flights = self.flights.lock();
            let present: HashSet<&str> = waiting.iter().map(|e| e.id.as_str()).collect();
            // Acknowledged (or dropped) elsewhere: no longer held by anyone.
            flights.by_message.retain(|(t, id), _| t != &tenant || present.contains(id.as_str()));
            // Acknowledged before this read began: this read no longer lists it.
            flights.acked.retain(|(t, _), at| t != &tenant || *at >= read);
            for e in &waiting {
                if flights.acked.contains_key(&(tenant.clone(), e.id.clone())) {
                    continue; // acknowledged after this read began
                }
                if !busy.insert(e.person.as_str()) {
                    continue; // an earlier message of this person is not acknowledged yet
                }
                let key = (tenant.clone(), e.id.clone());
                if let Some(f) = flights.by_message.get(&key) {
                    if f.deadline > now && self.sessions.is_open(&tenant, f.session) {
                        earliest = Some(earliest.map_or(f.deadline, |x| x.min(f.deadline)));
                        continue;
                    }
                }
                match self.sessions.send_any(&tenant, &e.envelope) {
                    Some(session) => {
                        let deadline = now + self.settings.redeliver();
                        if flights.by_message.contains_key(&key) {
                            tracing::debug!(%tenant, id = %e.id, session, "inbound message redelivered");
                        }
                        flights.by_message.insert(key, Flight { session, deadline });
                        earliest = Some(earliest.map_or(deadline, |x| x.min(deadline)));
                    }
                    // Every session's queue is full: try again shortly.
                    None => {
                        let soon = now + Duration::from_millis(50);
                        earliest = Some(earliest.map_or(soon, |x| x.min(soon)));
                        break;
                    }
                }
            }
        }
        Ok(earliest)
    }
}
