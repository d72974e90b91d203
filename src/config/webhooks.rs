//! `[webhooks]` and `[[tenants.webhooks]]`: status callbacks to the customer's URLs
//! (campaign-features.md, "Status callbacks"). Every field is in the README's configuration table.

use serde::Deserialize;

use crate::secret::Secret;

/// How status callbacks are delivered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// How long an event is retried after its first attempt before it is marked `failed`
    /// (default 3 days).
    pub retry_for_ms: u64,
    /// Pending deliveries kept per webhook; past it the oldest pending are dropped (and counted in
    /// `irisgate_callbacks_total{result="dropped"}`), so a dead receiver cannot fill the disk.
    pub max_pending: u64,
    /// Webhook URLs may be `http` (default: `https` only).
    pub allow_http: bool,
    /// Webhook URLs may resolve to private, loopback, link-local or unique-local addresses.
    pub allow_private: bool,
    /// One attempt's time limit: a 2xx within it is a delivery, anything else a retry.
    pub timeout_ms: u64,
    /// The wait before the first retry; doubled for each next one (jittered between half and
    /// all of it) up to `max_backoff_ms`.
    pub first_backoff_ms: u64,
    /// The longest wait between two attempts of one event.
    pub max_backoff_ms: u64,
    /// How often the deliverer looks for due events.
    pub poll_ms: u64,
    /// Events of one webhook read from the outbox at once.
    pub batch: usize,
    /// Attempts in flight at once per webhook (distinct recipients; one recipient's events go
    /// one after another).
    pub concurrency: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            retry_for_ms: 3 * 24 * 3_600_000,
            max_pending: 1_000_000,
            allow_http: false,
            allow_private: false,
            timeout_ms: 10_000,
            first_backoff_ms: 1_000,
            max_backoff_ms: 3_600_000,
            poll_ms: 200,
            batch: 512,
            concurrency: 16,
        }
    }
}

impl WebhookSettings {
    /// The rules serde cannot express, as (key, message).
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        super::validation::at_least_one(
            "webhooks",
            &[
                ("retry_for_ms", self.retry_for_ms),
                ("max_pending", self.max_pending),
                ("timeout_ms", self.timeout_ms),
                ("first_backoff_ms", self.first_backoff_ms),
                ("max_backoff_ms", self.max_backoff_ms),
                ("poll_ms", self.poll_ms),
                ("batch", self.batch as u64),
                ("concurrency", self.concurrency as u64),
            ],
        )?;
        if self.batch > 10_000 {
            return Err(("webhooks.batch".into(), "must be at most 10000".into()));
        }
        if self.concurrency > 1_000 {
            return Err(("webhooks.concurrency".into(), "must be at most 1000".into()));
        }
        if self.first_backoff_ms > self.max_backoff_ms {
            return Err(("webhooks.first_backoff_ms".into(), "must not be over webhooks.max_backoff_ms".into()));
        }
        Ok(())
    }
}

/// A webhook a tenant declares in the file (the same as `POST /api/v1/webhooks`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantWebhookConfig {
    pub url: String,
    /// `recipient.status`, `campaign.status` (default: both).
    #[serde(default = "all_events")]
    pub events: Vec<String>,
    /// The HMAC key of `X-Irisgate-Signature`; may be `${VAR}`.
    pub secret: Secret,
}

fn all_events() -> Vec<String> {
    vec!["recipient.status".into(), "campaign.status".into()]
}
