//! Repeated LIME `set` commands (campaign-features.md, "Idempotent creation"): a `set` whose
//! id repeats one of the same tenant's within `idempotency.lime_window_ms` gets the first
//! reply again instead of running twice — a client retrying a timed-out `POST /commands`
//! creates one campaign, not two. [`crate::router::route`] asks it, so both transports do.
//!
//! Only successful replies are remembered: a refused `set` may be corrected and sent again
//! with its id. A repeat that comes while the first is still being answered waits for it.
//! The memory is per tenant and bounded (`idempotency.lime_max_ids`, the oldest forgotten
//! first); it does not survive a restart.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;

use dashmap::DashMap;
use lime_protocol::{Command, CommandStatus, Method};
use parking_lot::Mutex;
use tokio::sync::OnceCell;

use crate::campaign::Millis;
use crate::config::IdempotencySettings;

type Reply = Arc<OnceCell<Command>>;

/// The recent `set` ids of every tenant with their replies.
pub struct Repeats {
    window_ms: i64,
    max_ids: usize,
    tenants: DashMap<String, Mutex<Recent>>,
}

#[derive(Default)]
struct Recent {
    /// Ids in arrival order, with when they came.
    order: VecDeque<(Millis, String)>,
    replies: HashMap<String, Reply>,
}

impl Recent {
    fn forget_before(&mut self, before: Millis) {
        while self.order.front().is_some_and(|(at, _)| *at < before) {
            if let Some((_, id)) = self.order.pop_front() {
                self.replies.remove(&id);
            }
        }
    }

    /// The reply cell of `id`, new when it is not remembered.
    fn cell(&mut self, id: &str, now: Millis, max_ids: usize) -> Reply {
        if let Some(cell) = self.replies.get(id) {
            return cell.clone();
        }
        while self.order.len() >= max_ids {
            if let Some((_, oldest)) = self.order.pop_front() {
                self.replies.remove(&oldest);
            }
        }
        let cell = Reply::default();
        self.order.push_back((now, id.to_owned()));
        self.replies.insert(id.to_owned(), cell.clone());
        cell
    }
}

impl Repeats {
    pub fn new(settings: &IdempotencySettings) -> Repeats {
        Repeats {
            window_ms: settings.lime_window_ms.min(i64::MAX as u64) as i64,
            max_ids: settings.lime_max_ids.max(1),
            tenants: DashMap::new(),
        }
    }

    /// Answers `command` of `tenant` with `answer`, unless it is a `set` whose id was answered
    /// successfully within the window: then with that reply.
    pub async fn once<F>(&self, tenant: &str, command: &Command, now: Millis, answer: F) -> Option<Command>
    where
        F: Future<Output = Option<Command>>,
    {
        let id = command.id.as_deref().filter(|id| !id.is_empty());
        let Some(id) = id.filter(|_| command.method == Method::Set) else { return answer.await };
        let cell = self.cell(tenant, id, now);
        let first = cell
            .get_or_try_init(|| async {
                match answer.await {
                    Some(reply) if reply.status == Some(CommandStatus::Success) => Ok(reply),
                    other => Err(other),
                }
            })
            .await;
        match first {
            Ok(reply) => Some(reply.clone()),
            Err(refused) => refused,
        }
    }

    fn cell(&self, tenant: &str, id: &str, now: Millis) -> Reply {
        let recent = self.tenants.entry(tenant.to_owned()).or_default();
        let mut recent = recent.lock();
        recent.forget_before(now - self.window_ms);
        recent.cell(id, now, self.max_ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(id: &str) -> Command {
        Command::request(id, Method::Set, "/campaign/full")
    }

    fn repeats(window_ms: u64, max_ids: usize) -> Repeats {
        Repeats::new(&IdempotencySettings { lime_window_ms: window_ms, lime_max_ids: max_ids, ..Default::default() })
    }

    async fn count(r: &Repeats, tenant: &str, command: &Command, now: Millis, runs: &mut u32) -> Option<Command> {
        *runs += 1;
        let ran = *runs;
        r.once(tenant, command, now, async move { Some(command.success(None, Some(serde_json::json!(ran)))) }).await
    }

    #[tokio::test]
    async fn a_repeated_set_gets_the_first_reply_within_the_window_per_tenant() {
        let r = repeats(1_000, 2);
        let mut runs = 0;
        let first = count(&r, "t1", &set("a"), 0, &mut runs).await.unwrap();
        let again = count(&r, "t1", &set("a"), 999, &mut runs).await.unwrap();
        assert_eq!(again.resource, first.resource, "the first reply, not a second run");
        let other = count(&r, "t2", &set("a"), 999, &mut runs).await.unwrap();
        assert_ne!(other.resource, first.resource, "ids are per tenant");
        let late = count(&r, "t1", &set("a"), 1_001, &mut runs).await.unwrap();
        assert_ne!(late.resource, first.resource, "forgotten after the window");
        // Bounded: a third id pushes the oldest out.
        count(&r, "t1", &set("b"), 1_002, &mut runs).await;
        count(&r, "t1", &set("c"), 1_003, &mut runs).await;
        let a = count(&r, "t1", &set("a"), 1_004, &mut runs).await.unwrap();
        assert_ne!(a.resource, late.resource, "the oldest id was forgotten");
    }

    #[tokio::test]
    async fn gets_and_refused_sets_run_every_time() {
        let r = repeats(1_000, 10);
        let get = Command::request("g", Method::Get, "/campaigns");
        let mut runs = 0;
        let a = count(&r, "t", &get, 0, &mut runs).await.unwrap();
        let b = count(&r, "t", &get, 1, &mut runs).await.unwrap();
        assert_ne!(a.resource, b.resource);
        let refused = set("x");
        let failure = refused.failure(lime_protocol::Reason::new(67, "no"));
        let first = r.once("t", &refused, 2, async { Some(failure.clone()) }).await.unwrap();
        assert_eq!(first.status, Some(CommandStatus::Failure));
        let mut runs = 0;
        let second = count(&r, "t", &refused, 3, &mut runs).await.unwrap();
        assert_eq!(second.status, Some(CommandStatus::Success), "a refused set runs again");
    }
}
