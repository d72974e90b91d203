//! Load shedding: what may start now. The HTTP listener's in-flight cap
//! (`limits.max_http_inflight`, HTTP 503), each tenant's in-flight cap
//! (`limits.max_tenant_inflight`, HTTP 429 / LIME 85) and each tenant's command rate
//! (`[[tenants]] max_commands_per_second`, HTTP 429 / LIME 85). Refused work is refused
//! before it starts, at once, with when to try again.
//!
//! A permit lives as long as the work it admitted, not the request: a `POST /commands`
//! answered 504 keeps its permits until its command ends, so abandoned work counts against
//! the caps and cannot pile up behind them. Memory is fixed at start: one semaphore and one
//! rate cell per configured tenant.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::Limits;
use crate::error::Error;
use crate::problem::json_error;
use crate::tenant::{Tenant, Tenants};

/// `Retry-After` of a refusal by an in-flight cap. When a slot frees is unknown (it is when
/// some running request ends); a second is long enough not to be a busy loop and short
/// enough for work that takes milliseconds.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The caps and rates of one listener and its tenants.
pub struct Admission {
    listener: Arc<Semaphore>,
    max_http_inflight: usize,
    max_tenant_inflight: usize,
    tenants: HashMap<String, Gate>,
}

/// One tenant's cap and rate.
struct Gate {
    inflight: Arc<Semaphore>,
    rate: Rate,
}

/// Why work was not admitted; rendered as HTTP 503 / 429 with `Retry-After`, or LIME 85.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `limits.max_http_inflight` requests are running on the listener.
    Listener { max: usize },
    /// `limits.max_tenant_inflight` requests or commands of this tenant are running.
    Tenant { max: usize },
    /// Over `max_commands_per_second`; a command is admitted again after `retry_after`.
    Rate { per_second: u32, retry_after: Duration },
}

/// A slot of the listener's cap. Clones share it: the slot frees when the last is dropped
/// (the request's, and the task of a command still running after its 504).
#[derive(Clone)]
pub struct ListenerSlot {
    _permit: Arc<OwnedSemaphorePermit>,
}

/// A slot of a tenant's cap, held while the admitted work runs.
pub struct TenantSlot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Admission {
    pub fn new(limits: &Limits, tenants: &Tenants) -> Admission {
        let gates = tenants
            .iter()
            .map(|t| {
                let gate = Gate {
                    inflight: Arc::new(Semaphore::new(limits.max_tenant_inflight)),
                    rate: Rate::new(t.max_commands_per_second),
                };
                (t.id.clone(), gate)
            })
            .collect();
        Admission {
            listener: Arc::new(Semaphore::new(limits.max_http_inflight)),
            max_http_inflight: limits.max_http_inflight,
            max_tenant_inflight: limits.max_tenant_inflight,
            tenants: gates,
        }
    }

    /// A slot on the listener, or 503.
    pub fn enter_listener(&self) -> Result<ListenerSlot, Refusal> {
        self.listener
            .clone()
            .try_acquire_owned()
            .map(|p| ListenerSlot { _permit: Arc::new(p) })
            .map_err(|_| Refusal::Listener { max: self.max_http_inflight })
    }

    /// One command (or REST request) of `tenant`: a token of its rate and a slot of its cap.
    /// A command refused by the cap does not spend a token.
    pub fn admit(&self, tenant: &Tenant) -> Result<TenantSlot, Refusal> {
        let Some(gate) = self.tenants.get(&tenant.id) else {
            // Every authenticated tenant is configured; one that is not has nothing to count
            // against, and refusing it would be a fault of ours, not of the client.
            tracing::error!(tenant = %tenant.id, "admission asked for an unknown tenant");
            return Ok(TenantSlot { _permit: None });
        };
        let slot =
            gate.inflight.clone().try_acquire_owned().map_err(|_| Refusal::Tenant { max: self.max_tenant_inflight })?;
        gate.rate
            .take(Instant::now())
            .map_err(|retry_after| Refusal::Rate { per_second: tenant.max_commands_per_second, retry_after })?;
        Ok(TenantSlot { _permit: Some(slot) })
    }
}

impl Refusal {
    /// What the client is told: the limit and the setting that sets it.
    pub fn description(&self) -> String {
        match self {
            Refusal::Listener { max } => format!(
                "The gateway is busy: {max} HTTP requests are in progress (limits.max_http_inflight); retry shortly"
            ),
            Refusal::Tenant { max } => format!(
                "Too many requests of this tenant in progress at once ({max}, limits.max_tenant_inflight); retry shortly"
            ),
            Refusal::Rate { per_second, retry_after } => format!(
                "Command rate over the tenant's limit of {per_second} a second (tenants.max_commands_per_second); \
                 retry in {} ms",
                retry_after.as_millis().max(1)
            ),
        }
    }

    /// The error both faces render: LIME 85 / HTTP 429 for a tenant's limits, HTTP 503 for
    /// the listener's (no one client is at fault there).
    pub fn to_error(&self) -> Error {
        match self {
            Refusal::Listener { .. } => Error::Unavailable(self.description()),
            Refusal::Tenant { .. } | Refusal::Rate { .. } => Error::LimitReached(self.description()),
        }
    }

    /// Whole seconds, rounded up, at least 1 (`Retry-After` has no fractions).
    pub fn retry_after_secs(&self) -> u64 {
        let wait = match self {
            Refusal::Rate { retry_after, .. } => *retry_after,
            Refusal::Listener { .. } | Refusal::Tenant { .. } => BUSY_RETRY_AFTER,
        };
        wait.as_nanos().div_ceil(1_000_000_000).max(1) as u64
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let error = self.to_error();
        let mut response = json_error(error.to_http_status(), error.client_message());
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after_secs()));
        response
    }
}

/// A token bucket of `per_second` tokens a second holding at most one second's worth, kept
/// as one atomic (the generic cell rate algorithm): the time at which the bucket would be
/// full again, in nanoseconds from `origin`. Lock-free, so the WebSocket face can ask it for
/// every command.
struct Rate {
    origin: Instant,
    /// Time one token is worth.
    interval: u64,
    /// How far ahead of now the full time may run: the burst less one token.
    tolerance: u64,
    full_at: AtomicU64,
}

impl Rate {
    fn new(per_second: u32) -> Rate {
        let interval = 1_000_000_000 / u64::from(per_second.max(1));
        let burst = u64::from(per_second.max(1));
        Rate { origin: Instant::now(), interval, tolerance: interval * (burst - 1), full_at: AtomicU64::new(0) }
    }

    /// Takes a token at `now`, or says how long until one is there.
    fn take(&self, now: Instant) -> Result<(), Duration> {
        let now = u64::try_from(now.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX);
        let mut current = self.full_at.load(Ordering::Acquire);
        loop {
            let start = current.max(now);
            let ahead = start - now;
            if ahead > self.tolerance {
                return Err(Duration::from_nanos(ahead - self.tolerance));
            }
            match self.full_at.compare_exchange_weak(
                current,
                start + self.interval,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(seen) => current = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_second_worth_at_once_then_the_rate() {
        let rate = Rate::new(5);
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(rate.take(t0).is_ok(), "token {i} of the burst");
        }
        let wait = rate.take(t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(200), "one token comes back every 200 ms");
        assert!(rate.take(t0 + Duration::from_millis(199)).is_err());
        assert!(rate.take(t0 + Duration::from_millis(200)).is_ok());
        assert!(rate.take(t0 + Duration::from_millis(200)).is_err(), "one token, not a new burst");
        let idle = t0 + Duration::from_secs(60);
        for _ in 0..5 {
            assert!(rate.take(idle).is_ok());
        }
        assert!(rate.take(idle).is_err(), "idle time buys one second's worth, no more");
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let rate = |ms| Refusal::Rate { per_second: 1, retry_after: Duration::from_millis(ms) };
        assert_eq!(rate(1).retry_after_secs(), 1);
        assert_eq!(rate(1000).retry_after_secs(), 1);
        assert_eq!(rate(1001).retry_after_secs(), 2);
        assert_eq!(Refusal::Listener { max: 1 }.retry_after_secs(), 1);
        assert_eq!(Refusal::Tenant { max: 1 }.to_error().to_reason().code, 85);
        assert_eq!(Refusal::Listener { max: 1 }.to_error().to_http_status(), 503);
    }
}
