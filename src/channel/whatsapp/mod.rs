//! The WhatsApp Cloud API channel (providers.md): `POST {api_base}/{phone_number_id}/messages`
//! with the Bearer token, one request per message. `payload` builds the body from the
//! template's structure, `errors` turns the answer into what the gateway does, `health` is
//! the error state with its probe, `sync` the template sync from the WhatsApp Business
//! Account. Statuses come back by webhook (`crate::webhooks::whatsapp`).

pub mod errors;
pub mod freeform;
pub mod health;
pub mod payload;
pub mod sync;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use self::errors::Verdict;
use self::payload::Unbuildable;
use super::settings::{WhatsAppSettings, WHATSAPP_DEFAULT_PER_SECOND};
use super::throttle::Throttle;
use super::{Channel, Health, Outbound, SendResult};
use crate::catalog::ChannelDef;
use crate::reasons;

/// Longest wait for the Cloud API's answer to one request (then the send is retried).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for a connection to the Cloud API.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One WhatsApp number of a tenant.
pub struct WhatsApp {
    channel: String,
    settings: Arc<WhatsAppSettings>,
    client: reqwest::Client,
    /// `{api_base}/{phone_number_id}/messages`.
    url: String,
    throttle: Throttle,
    /// When the throttle last halved the rate: refusals within [`SAME_BURST`] of it answer
    /// sends of the same overload and do not halve it again.
    slowed: parking_lot::Mutex<Option<tokio::time::Instant>>,
    health: Arc<health::State>,
    shutdown: CancellationToken,
}

/// An HTTP client for the Cloud API (timeouts bounded, no redirects: a token is never
/// sent anywhere else).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

impl WhatsApp {
    pub fn new(def: &ChannelDef, settings: Arc<WhatsAppSettings>, shutdown: CancellationToken) -> WhatsApp {
        let url = format!("{}/{}/messages", settings.api_base, settings.phone_number_id);
        WhatsApp {
            channel: def.id.clone(),
            client: client(),
            url,
            throttle: Throttle::new(def.max_per_second.unwrap_or(WHATSAPP_DEFAULT_PER_SECOND)),
            slowed: parking_lot::Mutex::new(None),
            health: Arc::new(health::State::default()),
            settings,
            shutdown,
        }
    }

    async fn send_one(&self, m: &Outbound) -> SendResult {
        if let Health::Down(why) = self.health.health() {
            return SendResult::Down(why);
        }
        let body = match payload::body(m) {
            Ok(body) => body,
            Err(e @ (Unbuildable::Mismatch { .. } | Unbuildable::Empty)) => {
                return SendResult::Failed { code: reasons::MISSING_PARAMETER, description: e.to_string() };
            }
        };
        let answer = self
            .client
            .post(&self.url)
            .bearer_auth(self.settings.access_token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await;
        let (status, bytes) = match answer {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(b) => (status, b),
                    Err(e) => return SendResult::Transient(transport_error(&e)),
                }
            }
            Err(e) => return SendResult::Transient(transport_error(&e)),
        };
        match errors::classify(status, &bytes) {
            Verdict::Accepted(wamid) => SendResult::Accepted { provider_id: wamid },
            Verdict::Throttled(why) => {
                self.slow_down(&why);
                // Not sooner than the provider's window: a retry within the same second is
                // refused again (and after `send_attempts` of those the recipient would fail).
                SendResult::Later { after: errors::THROUGHPUT_WINDOW, why }
            }
            Verdict::PairLimited(why) => SendResult::Later { after: errors::PAIR_RATE_WAIT, why },
            Verdict::Transient(why) => SendResult::Transient(why),
            Verdict::Unauthorized(why) => {
                self.health.go_down(&why, &self.channel, &self.client, &self.settings, &self.shutdown);
                SendResult::Down(why)
            }
            Verdict::TemplateUnusable { code, title } => SendResult::FailedAll { code, description: title },
            Verdict::Failed { code, title } => SendResult::Failed { code, description: title },
        }
    }
}

impl WhatsApp {
    /// Halves the rate, unless it was halved less than [`SAME_BURST`] ago: the provider
    /// counts over a second, so the refusals of one overload come together, and each of
    /// them halving again would take the rate far below what the number can do.
    fn slow_down(&self, why: &str) {
        let now = tokio::time::Instant::now();
        {
            let mut slowed = self.slowed.lock();
            if slowed.is_some_and(|at| now.duration_since(at) < SAME_BURST) {
                return;
            }
            *slowed = Some(now);
        }
        self.throttle.slow_down();
        tracing::warn!(
            channel = self.channel,
            why,
            per_second = self.throttle.per_second(),
            "throughput limit: slowing down"
        );
    }
}

/// Refusals this close to the last halving belong to the same overload.
const SAME_BURST: Duration = Duration::from_secs(1);

/// A failed request, said without its URL (which holds nothing secret, but is noise).
fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "The Cloud API did not answer in time".into()
    } else {
        format!(
            "The Cloud API could not be reached ({})",
            std::error::Error::source(e).map_or_else(|| e.to_string(), ToString::to_string)
        )
    }
}

#[async_trait]
impl Channel for WhatsApp {
    async fn send(&self, batch: &[Outbound]) -> Vec<SendResult> {
        futures_util::future::join_all(batch.iter().map(|m| self.send_one(m))).await
    }

    fn max_per_second(&self) -> Option<u32> {
        Some(self.throttle.per_second())
    }

    /// The Cloud API has no idempotency key: a send lost in a crash follows
    /// `storage.sending_recovery`.
    fn deduplicates(&self) -> bool {
        false
    }

    fn health(&self) -> Health {
        self.health.health()
    }
}
