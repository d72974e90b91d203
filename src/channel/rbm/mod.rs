//! The Google RBM channel (`provider = "google_rbm"`): RCS text messages through
//! `POST {api_base}/v1/phones/{E.164}/agentMessages`, with a service-account token (`auth`),
//! Google's answers mapped to outcomes (`errors`) and an error state with its probe
//! (`health`). Receipts arrive by webhook (`webhooks::rbm`), matched by the `messageId` this
//! channel returns as the provider id.

pub mod auth;
pub mod content;
pub mod errors;
pub mod health;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use self::auth::{ServiceAccount, TokenError, Tokens};
use self::errors::{classify, Answer, INVALID_ARGUMENT};
use super::settings::RbmSettings;
use super::throttle::Throttle;
use super::{Channel, Health, Outbound, SendResult};
use crate::catalog::ChannelDef;
use crate::phone::Phone;
use crate::secret::Secret;

/// A request to Google (token, send, probe) that has not answered in this time failed
/// transiently.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Sends of one batch in flight at once (unpaced campaigns hand over whole batches).
pub const CONCURRENT_SENDS: usize = 16;
/// Longest answer read from the API (its answers are an AgentMessage or an error).
const MAX_ANSWER: usize = 64 * 1024;

/// The namespace of the messageIds derived from the gateway's message ids. Never change it:
/// a re-send after an upgrade must carry the id the first send had.
const MESSAGE_ID_NAMESPACE: Uuid = Uuid::from_u128(0xa967_3d3e_60b7_48b1_b0df_dc3b_fd79_19b7);

/// RBM's `messageId` for the gateway's message id: a UUID (Google requires one), the same on
/// every retry and restart, so that Google drops a repeated send.
pub fn message_uuid(message_id: &str) -> Uuid {
    Uuid::new_v5(&MESSAGE_ID_NAMESPACE, message_id.as_bytes())
}

/// One RBM channel.
pub struct Rbm {
    shared: Arc<Shared>,
}

struct Shared {
    /// `tenant/channel`, for the logs.
    label: String,
    settings: Arc<RbmSettings>,
    http: reqwest::Client,
    /// `Err`: the key file could not be used (checked at start-up; a configuration built in
    /// code may still get here).
    tokens: Result<Tokens, String>,
    /// The configured ceiling, lowered for a while after a 429. None: no ceiling.
    throttle: Option<Throttle>,
    state: health::State,
    shutdown: CancellationToken,
}

impl Rbm {
    pub fn new(tenant: &str, def: &ChannelDef, settings: Arc<RbmSettings>, shutdown: CancellationToken) -> Rbm {
        let label = format!("{tenant}/{}", def.id);
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let tokens = ServiceAccount::load(&settings.service_account_key)
            .map(|account| Tokens::new(account, http.clone()))
            .map_err(|e| format!("service_account_key {e}"));
        let state = health::State::default();
        if let Err(why) = &tokens {
            tracing::error!(channel = %label, why, "the RBM channel cannot send");
            state.go_down(why, None);
        }
        let throttle = def.max_per_second.map(Throttle::new);
        Rbm { shared: Arc::new(Shared { label, settings, http, tokens, throttle, state, shutdown }) }
    }
}

#[async_trait]
impl Channel for Rbm {
    async fn send(&self, batch: &[Outbound]) -> Vec<SendResult> {
        // Owned messages and a shared handle: the futures must be `Send` for any lifetime.
        let sends = batch.iter().cloned().map(|m| {
            let shared = self.shared.clone();
            async move { shared.send_one(&m).await }
        });
        futures_util::stream::iter(sends).buffered(CONCURRENT_SENDS).collect().await
    }

    fn max_per_second(&self) -> Option<u32> {
        self.shared.throttle.as_ref().map(Throttle::per_second)
    }

    /// Google drops a send whose `messageId` it already took.
    fn deduplicates(&self) -> bool {
        true
    }

    fn provider_id(&self, message: &Outbound) -> Option<String> {
        Some(message_uuid(&message.message_id).to_string())
    }

    fn health(&self) -> Health {
        self.shared.state.health()
    }
}

impl Shared {
    async fn send_one(self: &Arc<Self>, m: &Outbound) -> SendResult {
        if let Some(why) = self.state.down_reason() {
            return SendResult::Down(why);
        }
        let tokens = match &self.tokens {
            Ok(t) => t,
            Err(why) => return SendResult::Down(why.clone()),
        };
        let body = match &m.conversation {
            Some(conversation) => match content::body(&conversation.content) {
                Ok(body) => body.to_string(),
                Err(description) => return SendResult::Failed { code: INVALID_ARGUMENT, description },
            },
            // The campaign model carries a text for RCS (no suggestions or cards yet).
            None => match m.text.as_deref().filter(|t| !t.is_empty()) {
                Some(text) => serde_json::json!({"contentMessage": {"text": text}}).to_string(),
                None => {
                    return SendResult::Failed {
                        code: INVALID_ARGUMENT,
                        description: "An RBM message needs a text".into(),
                    }
                }
            },
        };
        let id = message_uuid(&m.message_id).to_string();
        let mut token = match tokens.token().await {
            Ok(t) => t,
            Err(e) => return self.token_failure(e, m.phone),
        };
        let mut answer = self.post(m.phone, &id, &token, &body).await;
        if let Answer::Unauthenticated(why) = &answer {
            tracing::debug!(channel = %self.label, why, "RBM refused the token: refreshing it once");
            token = match tokens.refresh(&token).await {
                Ok(t) => t,
                Err(e) => return self.token_failure(e, m.phone),
            };
            answer = self.post(m.phone, &id, &token, &body).await;
        }
        match answer {
            Answer::Accepted => SendResult::Accepted { provider_id: id },
            Answer::Failed { code, description } => SendResult::Failed { code, description },
            Answer::Throttled(why) => {
                if let Some(t) = &self.throttle {
                    t.slow_down();
                    tracing::info!(channel = %self.label, per_second = t.per_second(), "RBM throttled: slowing down");
                }
                SendResult::Transient(format!("RBM throttled the channel: {why}"))
            }
            Answer::Transient(why) => SendResult::Transient(why),
            Answer::Unauthenticated(why) | Answer::Forbidden(why) => self.fail_channel(&why, Some(m.phone)),
        }
    }

    /// `POST …/agentMessages?messageId=…&agentId=…` and what its answer means.
    async fn post(&self, phone: Phone, id: &str, token: &Secret, body: &str) -> Answer {
        let url = format!("{}/v1/phones/{phone}/agentMessages", self.settings.api_base);
        let request = self
            .http
            .post(url)
            .query(&[("messageId", id), ("agentId", self.settings.agent_id.as_str())])
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Answer::Transient(format!("RBM unreachable: {}", errors::transport(e))),
        };
        let status = response.status().as_u16();
        match errors::read_limited(response, MAX_ANSWER).await {
            Ok(body) => classify(status, &body),
            // The status alone decides, except for a 2xx whose body was lost: retried (the
            // same messageId makes that safe).
            Err(why) if (200..300).contains(&status) => Answer::Transient(why),
            Err(_) => classify(status, b""),
        }
    }

    fn token_failure(self: &Arc<Self>, e: TokenError, phone: Phone) -> SendResult {
        match e {
            TokenError::Unavailable(why) => SendResult::Transient(why),
            TokenError::Refused(why) => self.fail_channel(&why, Some(phone)),
        }
    }

    /// Enters the error state (the first time: logged as an error, and the probe started).
    fn fail_channel(self: &Arc<Self>, why: &str, phone: Option<Phone>) -> SendResult {
        if self.state.go_down(why, phone) {
            tracing::error!(
                channel = %self.label,
                why,
                "RBM refused the channel's credentials: nothing is sent through it until a probe succeeds"
            );
            tokio::spawn(probe_until_ready(self.clone()));
        }
        SendResult::Down(why.to_owned())
    }

    /// Whether Google takes the channel's credentials again: a new token, and a capability
    /// check of the number whose send was refused (it sends nothing to anybody).
    async fn probe(&self) -> Result<(), String> {
        let tokens = self.tokens.as_ref().map_err(Clone::clone)?;
        tokens.forget().await;
        let token = tokens.token().await.map_err(|e| match e {
            TokenError::Refused(why) | TokenError::Unavailable(why) => why,
        })?;
        let Some(phone) = self.state.probe_phone() else { return Ok(()) };
        let url = format!("{}/v1/phones/{phone}/capabilities", self.settings.api_base);
        let request_id = Uuid::new_v4().to_string();
        let response = self
            .http
            .get(url)
            .query(&[("requestId", request_id.as_str()), ("agentId", self.settings.agent_id.as_str())])
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| format!("probe: {}", errors::transport(e)))?;
        let status = response.status().as_u16();
        let body = errors::read_limited(response, MAX_ANSWER).await.unwrap_or_default();
        match classify(status, &body) {
            // A number that is not RCS-reachable still proves the credentials work.
            Answer::Accepted | Answer::Failed { .. } => Ok(()),
            Answer::Unauthenticated(why) | Answer::Forbidden(why) | Answer::Throttled(why) | Answer::Transient(why) => {
                Err(why)
            }
        }
    }
}

/// Probes every [`health::PROBE_EVERY`] until the credentials work again or the gateway
/// shuts down.
async fn probe_until_ready(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(health::PROBE_EVERY) => {}
        }
        match shared.probe().await {
            Ok(()) => {
                shared.state.recover();
                tracing::info!(channel = %shared.label, "RBM takes the channel's credentials again: sending resumes");
                return;
            }
            Err(why) => {
                tracing::warn!(channel = %shared.label, why, "RBM channel still in error state");
                shared.state.go_down(&why, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_uuids() {
        let a = message_uuid("ig.0123456789abcdef0123456789abcdef.7");
        assert_eq!(a, message_uuid("ig.0123456789abcdef0123456789abcdef.7"), "the same on every send");
        assert_ne!(a, message_uuid("ig.0123456789abcdef0123456789abcdef.8"));
        assert_eq!(a.get_version_num(), 5);
        // Pinned: a changed namespace would re-send what a restart finds SENDING under new ids.
        // (computed independently: Python's uuid.uuid5 with the same namespace)
        assert_eq!(a.to_string(), "b7738c11-fbb7-5d10-acae-4e6f893e0c98");
    }
}
