//! Inbound messages to a tenant's `message_url` (conversations.md step 6): while the bot has
//! no WebSocket session, waiting messages are POSTed one after the other, in arrival order,
//! with the envelope as body and `Authorization: Key <the tenant's HTTP key>`. A 2xx takes a
//! message off the inbox; any other answer (or none) stops the tenant's pass and it is tried
//! again after a capped, jittered backoff, until the message expires (`inbox_ttl_ms`).

use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use super::inbound::Conversations;
use crate::config::Config;
use crate::shutdown::Background;

/// First wait after a refused POST; doubled up to `conversations.message_url_retry_max_ms`.
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// Longest wait for an answer.
const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a tenant is looked at when nothing wakes the poster (a session closed, …).
const IDLE: Duration = Duration::from_secs(1);

struct Target {
    tenant: String,
    url: String,
    authorization: Option<String>,
    /// Not before this (after a refusal), and the wait of the next refusal.
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl Conversations {
    /// Starts the poster on `background` when some tenant has a `message_url`.
    pub fn spawn_message_url(&self, config: &Config, background: &Background) {
        let targets: Vec<Target> = config
            .tenants
            .iter()
            .filter_map(|t| {
                let url = t.message_url.clone()?;
                let authorization = crate::tenant::key_authorization(&t.identifier, &t.access_key);
                Some(Target { tenant: t.identifier.clone(), url, authorization, retry_at: None, backoff: FIRST_RETRY })
            })
            .collect();
        if targets.is_empty() {
            return;
        }
        let plane = self.clone();
        let shutdown = background.shutdown.clone();
        background.tasks.spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(POST_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default();
            let mut targets = targets;
            loop {
                let mut wake_at = Instant::now() + IDLE;
                for t in &mut targets {
                    if let Some(at) = t.retry_at.filter(|at| *at > Instant::now()) {
                        wake_at = wake_at.min(at);
                        continue;
                    }
                    let shutdown = shutdown.clone();
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        () = plane.post_waiting(&client, t) => {}
                    }
                    if let Some(at) = t.retry_at {
                        wake_at = wake_at.min(at);
                    }
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = plane.posted.notified() => {}
                    _ = sleep_until(wake_at) => {}
                }
            }
        });
    }

    /// One pass over `t`'s waiting messages while the bot has no session.
    async fn post_waiting(&self, client: &reqwest::Client, t: &mut Target) {
        if self.sessions.count(&t.tenant) > 0 {
            return;
        }
        let waiting = match self.store.inbox_waiting(&t.tenant, self.settings.delivery_batch).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(tenant = t.tenant, error = %e, "inbox unreadable for message_url");
                return;
            }
        };
        for e in &waiting {
            if self.sessions.count(&t.tenant) > 0 {
                return; // a session connected: the delivery loop takes over
            }
            let mut request =
                client.post(&t.url).header(reqwest::header::CONTENT_TYPE, "application/json").body(e.envelope.clone());
            if let Some(auth) = &t.authorization {
                request = request.header(reqwest::header::AUTHORIZATION, auth);
            }
            let why = match request.send().await {
                Ok(r) if r.status().is_success() => {
                    if let Err(err) = self.acknowledge(&t.tenant, &e.id).await {
                        tracing::warn!(tenant = t.tenant, error = %err, "a POSTed message stays in the inbox");
                    }
                    t.retry_at = None;
                    t.backoff = FIRST_RETRY;
                    continue;
                }
                Ok(r) => format!("HTTP {}", r.status().as_u16()),
                Err(err) if err.is_timeout() => "timed out".to_owned(),
                Err(_) => "unreachable".to_owned(),
            };
            // Stop here: later messages (of this person and others) keep their order.
            let half = t.backoff / 2;
            t.retry_at = Some(Instant::now() + half + half.mul_f64(fastrand::f64()));
            let cap = Duration::from_millis(self.settings.message_url_retry_max_ms.max(1));
            t.backoff = (t.backoff * 2).min(cap);
            tracing::debug!(tenant = t.tenant, why, id = %e.id, "message_url refused an inbound message: retrying");
            return;
        }
    }
}
