//! Prometheus metrics: one typed function per metric of operations.md, so that the hot paths
//! call one function, and the scrape (`GET /metrics` on `[metrics] listen`).
//!
//! Each gateway has a recorder of its own (not the process-global one): several gateways in
//! one process (the tests) then count apart, and a gateway with `[metrics] listen = ""`
//! records nothing at all (every function returns at its first line).

use std::sync::Arc;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// The transport a LIME command came over (`irisgate_commands_total{transport}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Ws,
    Http,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::Http => "http",
        }
    }
}

/// What a provider said about one message of a send (`irisgate_sends_total{outcome}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Accepted,
    Failed,
    Transient,
    Throttled,
}

/// Buckets of the latency histograms, in seconds: 0.5 ms to 10 s.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A gateway's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics(Option<Arc<Inner>>);

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

impl Metrics {
    /// Recording metrics when `enabled` (`[metrics] listen` not empty), else a no-op.
    pub fn new(enabled: bool) -> Metrics {
        if !enabled {
            return Metrics(None);
        }
        let recorder =
            PrometheusBuilder::new().set_buckets(BUCKETS).expect("constant, non-empty buckets").build_recorder();
        let handle = recorder.handle();
        let process = metrics_process::Collector::default();
        let metrics = Metrics(Some(Arc::new(Inner { recorder, handle, process })));
        metrics.with(describe);
        if let Some(inner) = &metrics.0 {
            metrics.with(|| inner.process.describe());
        }
        metrics
    }

    /// Off: nothing is recorded (`[metrics] listen = ""`).
    pub fn disabled() -> Metrics {
        Metrics(None)
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Runs `record` against this gateway's recorder (the `metrics` macros inside it see it).
    fn with(&self, record: impl FnOnce()) {
        if let Some(inner) = &self.0 {
            metrics::with_local_recorder(&inner.recorder, record);
        }
    }

    /// One answered LIME command: `route` is the pattern of the routing table (`/campaigns/{id}`),
    /// `reason` the LIME reason code of a failure.
    pub fn command(
        &self,
        transport: Transport,
        node: &'static str,
        method: &'static str,
        route: &'static str,
        reason: Option<i64>,
        elapsed: Duration,
    ) {
        self.with(|| {
            let (status, reason) = match reason {
                None => ("success", String::new()),
                Some(code) => ("failure", code.to_string()),
            };
            counter!("irisgate_commands_total", "transport" => transport.label(), "node" => node, "method" => method,
                "route" => route, "status" => status, "reason" => reason)
            .increment(1);
            histogram!("irisgate_command_duration_seconds", "transport" => transport.label(), "route" => route)
                .record(elapsed.as_secs_f64());
        });
    }

    /// One HTTP request of a face (`rest`, `commands`, `webhook`, `ui`, `other`), by the
    /// route pattern axum matched (`/api/v1/campaigns/{id}`), never the raw path.
    pub fn http_request(&self, face: &'static str, route: &str, status: u16, elapsed: Duration) {
        self.with(|| {
            let (route, status) = (route.to_owned(), status.to_string());
            counter!("irisgate_http_requests_total", "face" => face, "route" => route.clone(), "status" => status.clone())
                .increment(1);
            histogram!("irisgate_http_request_duration_seconds", "face" => face, "route" => route, "status" => status)
                .record(elapsed.as_secs_f64());
        });
    }

    /// A WebSocket session reached `established`.
    pub fn session_opened(&self) {
        self.with(|| {
            counter!("irisgate_sessions_opened_total", "reason" => "established").increment(1);
            gauge!("irisgate_sessions").increment(1.0);
        });
    }

    /// An established session ended.
    pub fn session_closed(&self) {
        self.with(|| gauge!("irisgate_sessions").decrement(1.0));
    }

    /// A session that ended before `established` (`reason`: `authentication`, `negotiation`, …).
    pub fn session_failed(&self, reason: &'static str) {
        self.with(|| counter!("irisgate_sessions_failed_total", "reason" => reason).increment(1));
    }

    /// `n` messages of one provider answer with the same outcome.
    pub fn sends(&self, tenant: &str, channel: &str, outcome: SendOutcome, n: u64) {
        if n == 0 {
            return;
        }
        let outcome = match outcome {
            SendOutcome::Accepted => "accepted",
            SendOutcome::Failed => "failed",
            SendOutcome::Transient => "transient",
            SendOutcome::Throttled => "throttled",
        };
        self.with(|| {
            counter!("irisgate_sends_total", "tenant" => tenant.to_owned(), "channel" => channel.to_owned(),
                "outcome" => outcome)
            .increment(n);
        });
    }

    /// One provider round trip of a send (a batch).
    pub fn send_duration(&self, channel: &str, elapsed: Duration) {
        self.with(|| {
            histogram!("irisgate_send_duration_seconds", "channel" => channel.to_owned()).record(elapsed.as_secs_f64())
        });
    }

    /// A receipt from a provider; `status` is `received`, `read` or `failed`.
    pub fn receipt(&self, tenant: &str, channel: &str, status: &'static str) {
        self.with(|| {
            counter!("irisgate_receipts_total", "tenant" => tenant.to_owned(), "channel" => channel.to_owned(),
                "status" => status)
            .increment(1)
        });
    }

    /// A provider webhook call; `result` is `ok`, `bad_signature`, `unknown_channel` or `malformed`.
    pub fn webhook(&self, provider: &'static str, result: &'static str) {
        self.with(|| counter!("irisgate_webhooks_total", "provider" => provider, "result" => result).increment(1));
    }

    /// An inbound (user to business) message of a channel.
    pub fn inbound_message(&self, tenant: &str, channel: &str) {
        self.with(|| {
            counter!("irisgate_inbound_messages_total", "tenant" => tenant.to_owned(), "channel" => channel.to_owned())
                .increment(1)
        });
    }

    /// A contact that opted out through a channel.
    pub fn opt_out(&self, tenant: &str, channel: &str) {
        self.with(|| {
            counter!("irisgate_opt_outs_total", "tenant" => tenant.to_owned(), "channel" => channel.to_owned())
                .increment(1)
        });
    }

    /// Waiting inbound messages dropped (over `conversations.inbox_max` or past `inbox_ttl_ms`).
    pub fn inbox_dropped(&self, tenant: &str, n: u64) {
        self.with(|| counter!("irisgate_inbox_dropped_total", "tenant" => tenant.to_owned()).increment(n));
    }

    /// Status callbacks that ended: `result` is `delivered` (a 2xx), `failed` (no 2xx within
    /// `webhooks.retry_for_ms`) or `dropped` (over `webhooks.max_pending`).
    pub fn callbacks(&self, tenant: &str, result: &'static str, n: u64) {
        self.with(|| {
            counter!("irisgate_callbacks_total", "tenant" => tenant.to_owned(), "result" => result).increment(n)
        });
    }

    /// One POST of a status callback; `result` is `ok` (2xx) or `error` (anything else).
    pub fn callback_attempt(&self, result: &'static str) {
        self.with(|| counter!("irisgate_callback_attempts_total", "result" => result).increment(1));
    }

    /// How long one store operation took (`op`: `ready`, …).
    pub fn store_duration(&self, op: &'static str, elapsed: Duration) {
        self.with(|| histogram!("irisgate_store_duration_seconds", "op" => op).record(elapsed.as_secs_f64()));
    }

    /// The gauges read at scrape time: campaigns by tenant and status, PENDING recipients of
    /// RUNNING campaigns, queue depths, the campaigns this node dispatches.
    pub fn gauges(&self, now: &Gauges) {
        self.with(|| {
            for (tenant, status, n) in &now.campaigns {
                gauge!("irisgate_campaigns", "tenant" => tenant.clone(), "status" => *status).set(*n as f64);
            }
            for (tenant, n) in &now.pending {
                gauge!("irisgate_recipients_pending", "tenant" => tenant.clone()).set(*n as f64);
            }
            for (queue, n) in &now.queues {
                gauge!("irisgate_queue_depth", "queue" => *queue).set(*n as f64);
            }
            gauge!("irisgate_lease_campaigns").set(now.leased as f64);
        });
    }

    /// The exposition text (Prometheus text format 0.0.4), process metrics refreshed first.
    pub fn render(&self) -> Option<String> {
        let inner = self.0.as_ref()?;
        metrics::with_local_recorder(&inner.recorder, || inner.process.collect());
        inner.handle.run_upkeep();
        Some(inner.handle.render())
    }
}

/// What the scrape reads from the engine (see [`Metrics::gauges`]).
#[derive(Debug, Default)]
pub struct Gauges {
    pub campaigns: Vec<(String, &'static str, u64)>,
    pub pending: Vec<(String, u64)>,
    pub queues: Vec<(&'static str, u64)>,
    pub leased: u64,
}

/// HELP lines of every metric of operations.md (those not recorded yet still document
/// themselves to whoever reads the code; the exporter prints HELP for metrics with a value).
fn describe() {
    describe_counter!(
        "irisgate_commands_total",
        "LIME commands answered, by transport, node, method, route pattern, status and failure reason"
    );
    describe_histogram!("irisgate_command_duration_seconds", Unit::Seconds, "Time to answer a LIME command");
    describe_counter!("irisgate_http_requests_total", "HTTP requests by face, route pattern and status");
    describe_histogram!("irisgate_http_request_duration_seconds", Unit::Seconds, "Time to answer an HTTP request");
    describe_gauge!("irisgate_sessions", "Established WebSocket sessions");
    describe_counter!("irisgate_sessions_opened_total", "WebSocket sessions that reached established");
    describe_counter!("irisgate_sessions_failed_total", "WebSocket sessions that ended before established, by reason");
    describe_counter!("irisgate_sends_total", "Messages handed to a provider, by outcome of each answer");
    describe_histogram!("irisgate_send_duration_seconds", Unit::Seconds, "Provider round trip of one send");
    describe_counter!("irisgate_receipts_total", "Receipts from providers (received, read, failed)");
    describe_gauge!("irisgate_recipients_pending", "PENDING recipients of RUNNING campaigns");
    describe_gauge!("irisgate_campaigns", "Campaigns by tenant and status");
    describe_gauge!("irisgate_queue_depth", "Items waiting in a bounded queue");
    describe_histogram!("irisgate_store_duration_seconds", Unit::Seconds, "Time of a store operation");
    describe_counter!("irisgate_webhooks_total", "Provider webhook calls by result");
    describe_counter!("irisgate_inbound_messages_total", "Inbound messages from users");
    describe_counter!("irisgate_opt_outs_total", "Contacts who opted out");
    describe_counter!("irisgate_inbox_dropped_total", "Waiting inbound messages dropped (inbox full or expired)");
    describe_counter!("irisgate_callbacks_total", "Status callbacks delivered, failed or dropped");
    describe_counter!("irisgate_callback_attempts_total", "POSTs of status callbacks by result");
    describe_gauge!("irisgate_lease_campaigns", "Campaigns this node dispatches");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_exact_and_labels_bounded_to_what_was_given() {
        let m = Metrics::new(true);
        for _ in 0..3 {
            m.command(Transport::Ws, "server", "get", "/ping", None, Duration::from_millis(1));
        }
        m.command(Transport::Http, "campaigns", "get", "/campaigns/{id}", Some(67), Duration::from_millis(1));
        let text = m.render().unwrap();
        assert!(
            text.contains(r#"irisgate_commands_total{transport="ws",node="server",method="get",route="/ping",status="success",reason=""} 3"#),
            "{text}"
        );
        assert!(text.contains(r#"route="/campaigns/{id}",status="failure",reason="67"} 1"#), "{text}");
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
    }

    #[test]
    fn disabled_records_and_renders_nothing() {
        let m = Metrics::disabled();
        m.command(Transport::Ws, "server", "get", "/ping", None, Duration::from_millis(1));
        assert!(m.render().is_none());
    }
}
