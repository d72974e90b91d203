//! The bot's established WebSocket sessions, by tenant: where inbound messages (and, later,
//! notifications) are pushed. Each session has a bounded queue (`conversations.session_queue`)
//! its connection task drains; a full queue is skipped, never waited on, so one slow bot
//! session cannot hold up the others. One of them gets each message, round robin.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

#[derive(Default)]
struct Tenant {
    open: Vec<(u64, mpsc::Sender<String>)>,
    /// Where the next round-robin pick starts.
    next: usize,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    by_tenant: Arc<Mutex<HashMap<String, Tenant>>>,
    ids: Arc<AtomicU64>,
    queue: usize,
    /// Signalled when a session opens or closes (the delivery loop re-plans).
    changed: Arc<Notify>,
}

/// A session's place in the registry; dropping it (the session ended) removes it.
pub struct Registration {
    sessions: Sessions,
    tenant: String,
    pub id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self.sessions.by_tenant.lock();
        if let Some(t) = map.get_mut(&self.tenant) {
            t.open.retain(|(id, _)| *id != self.id);
            if t.open.is_empty() {
                map.remove(&self.tenant);
            }
        }
        drop(map);
        self.sessions.changed.notify_one();
    }
}

impl Sessions {
    pub fn new(queue: usize, changed: Arc<Notify>) -> Sessions {
        Sessions { by_tenant: Arc::default(), ids: Arc::default(), queue: queue.max(1), changed }
    }

    /// Adds an established session of `tenant`'s bot: its registration and the queue to drain.
    pub fn register(&self, tenant: &str) -> (Registration, mpsc::Receiver<String>) {
        let id = self.ids.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = mpsc::channel(self.queue);
        self.by_tenant.lock().entry(tenant.to_owned()).or_default().open.push((id, tx));
        self.changed.notify_one();
        (Registration { sessions: self.clone(), tenant: tenant.to_owned(), id }, rx)
    }

    /// Queues `text` on one session of `tenant`, round robin, skipping full ones; the
    /// session's id, or `None` when no session could take it.
    pub fn send_any(&self, tenant: &str, text: &str) -> Option<u64> {
        let mut map = self.by_tenant.lock();
        let t = map.get_mut(tenant)?;
        let n = t.open.len();
        for i in 0..n {
            let at = (t.next + i) % n;
            let (id, tx) = &t.open[at];
            if tx.try_send(text.to_owned()).is_ok() {
                t.next = (at + 1) % n;
                return Some(*id);
            }
        }
        None
    }

    /// Queues `text` on session `id` of `tenant`; false when it is gone or full.
    pub fn send_to(&self, tenant: &str, id: u64, text: &str) -> bool {
        let map = self.by_tenant.lock();
        map.get(tenant)
            .and_then(|t| t.open.iter().find(|(i, _)| *i == id))
            .is_some_and(|(_, tx)| tx.try_send(text.to_owned()).is_ok())
    }

    pub fn is_open(&self, tenant: &str, id: u64) -> bool {
        self.by_tenant.lock().get(tenant).is_some_and(|t| t.open.iter().any(|(i, _)| *i == id))
    }

    /// Tenants with at least one session.
    pub fn tenants(&self) -> Vec<String> {
        self.by_tenant.lock().keys().cloned().collect()
    }

    pub fn count(&self, tenant: &str) -> usize {
        self.by_tenant.lock().get(tenant).map_or(0, |t| t.open.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_over_open_sessions_skipping_full_ones() {
        let s = Sessions::new(1, Arc::new(Notify::new()));
        let (a, mut ra) = s.register("t");
        let (b, mut rb) = s.register("t");
        assert_eq!(s.send_any("t", "1"), Some(a.id));
        assert_eq!(s.send_any("t", "2"), Some(b.id));
        // Both queues hold one message now (capacity 1): nobody can take a third.
        assert_eq!(s.send_any("t", "3"), None);
        assert_eq!(ra.try_recv().unwrap(), "1");
        assert_eq!(s.send_any("t", "3"), Some(a.id));
        assert_eq!(rb.try_recv().unwrap(), "2");
        assert_eq!(s.send_any("other", "x"), None);
        drop(a);
        assert!(!s.is_open("t", 1));
        assert_eq!(s.count("t"), 1);
        drop(b);
        assert!(s.tenants().is_empty());
    }
}
