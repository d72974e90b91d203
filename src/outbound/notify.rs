//! Notifications of bots' messages (conversations.md): `accepted`, `dispatched`, `received`,
//! `consumed`, `failed` with a reason. Each goes over the WebSocket session that sent the
//! message while it is open; otherwise (or when that session's queue is full) it is POSTed to
//! the tenant's `notification_url`, if set, by one tracked task, in order, with capped,
//! jittered retries. Messages without an id get none.
//!
//! The session is known only for messages sent since this process started: after a restart
//! (or a closed session) notifications go to `notification_url`. "Any session of the bot"
//! needs the session registry of the inbound half (coordinator: after merge).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use lime_protocol::Event;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::message::{Moved, OutboundMessage};
use crate::config::{Config, OutboundSettings};
use crate::reasons::Reasons;
use crate::shutdown::Background;

/// A WebSocket session's outgoing queue (`limits.outbound_queue`): envelopes as JSON text.
pub type SessionSink = mpsc::Sender<String>;

/// Messages whose sending session is remembered at once; past it, new ones are reported
/// through `notification_url` (each entry ends with the message's last notification).
pub(super) const MAX_TRACKED_SESSIONS: usize = 100_000;

/// First wait before a notification POST is retried; doubled up to [`LAST_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(200);
const LAST_RETRY: Duration = Duration::from_secs(10);
/// Longest wait for a `notification_url` answer.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where one tenant's notifications go when no session takes them.
struct Target {
    url: String,
    /// `Key base64(identifier:secret)`; `None` when the config gives only the key's digest.
    authorization: Option<String>,
}

struct Post {
    tenant: String,
    body: String,
}

pub struct Notifier {
    sessions: DashMap<String, SessionSink>,
    targets: Arc<HashMap<String, Target>>,
    posts: mpsc::Sender<Post>,
    reasons: Arc<Reasons>,
}

impl Notifier {
    /// The notifier, with its poster task on `background`.
    pub fn spawn(config: &Config, reasons: Arc<Reasons>, background: &Background) -> Arc<Notifier> {
        let targets: HashMap<String, Target> = config
            .tenants
            .iter()
            .filter_map(|t| {
                let url = t.notification_url.clone()?;
                let authorization = crate::tenant::key_authorization(&t.identifier, &t.access_key);
                if authorization.is_none() {
                    tracing::warn!(
                        tenant = t.identifier,
                        "notification_url is POSTed without Authorization: the access key is given only as a digest"
                    );
                }
                Some((t.identifier.clone(), Target { url, authorization }))
            })
            .collect();
        let targets = Arc::new(targets);
        let (posts, rx) = mpsc::channel(config.outbound.notify_queue);
        background.tasks.spawn(poster(rx, targets.clone(), config.outbound.clone(), background.shutdown.clone()));
        Arc::new(Notifier { sessions: DashMap::new(), targets, posts, reasons })
    }

    /// Remembers the session that sent `key` (its notifications go there while it is open).
    pub fn track(&self, key: &str, session: SessionSink) {
        if self.sessions.len() < MAX_TRACKED_SESSIONS {
            self.sessions.insert(key.to_owned(), session);
        }
    }

    /// Tells the bot `event` about `m` (nothing for a message without id).
    pub fn tell(&self, m: &OutboundMessage, event: Event) {
        let Some(id) = &m.lime_id else { return };
        let mut n = json!({
            "id": id, "from": m.to, "to": m.bot, "event": event.as_str(),
            "metadata": {"#message.to": m.to},
        });
        if event == Event::Failed {
            let description = m.description.clone().unwrap_or_else(|| self.reasons.describe(m.reason).into_owned());
            n["reason"] = json!({"code": m.reason, "description": description});
        }
        let last = matches!(event, Event::Consumed | Event::Failed);
        self.deliver(&m.key, &m.tenant, n, last);
    }

    /// Tells every event of each move, in order.
    pub fn moved(&self, moves: &[Moved]) {
        for mv in moves {
            for event in mv.from.events_to(mv.message.status) {
                self.tell(&mv.message, event);
            }
        }
    }

    /// A `failed` for a message refused before it was stored (no key: nothing tracked).
    pub fn refused(
        &self,
        tenant: &str,
        to: Value,
        bot: String,
        id: &str,
        reason: &lime_protocol::Reason,
        session: Option<&SessionSink>,
    ) {
        let n = json!({
            "id": id, "from": to, "to": bot, "event": "failed",
            "reason": reason, "metadata": {"#message.to": to},
        });
        match session {
            Some(s) if s.try_send(n.to_string()).is_ok() => {}
            _ => self.post(tenant, n.to_string()),
        }
    }

    fn deliver(&self, key: &str, tenant: &str, n: Value, last: bool) {
        let text = n.to_string();
        let session =
            if last { self.sessions.remove(key).map(|(_, s)| s) } else { self.sessions.get(key).map(|s| s.clone()) };
        let text = match session {
            Some(s) => match s.try_send(text) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Closed(text)) => {
                    self.sessions.remove(key);
                    text
                }
                Err(mpsc::error::TrySendError::Full(text)) => text,
            },
            None => text,
        };
        self.post(tenant, text);
    }

    fn post(&self, tenant: &str, body: String) {
        if !self.targets.contains_key(tenant) {
            return;
        }
        if self.posts.try_send(Post { tenant: tenant.to_owned(), body }).is_err() {
            tracing::warn!(tenant, "a notification was dropped: outbound.notify_queue is full");
        }
    }
}

/// POSTs notifications one after the other (so they arrive in order), each retried up to
/// `notify_attempts` times; ends at shutdown, logging what it leaves.
async fn poster(
    mut rx: mpsc::Receiver<Post>,
    targets: Arc<HashMap<String, Target>>,
    settings: OutboundSettings,
    shutdown: CancellationToken,
) {
    let client = reqwest::Client::builder()
        .timeout(POST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    loop {
        let post = tokio::select! {
            _ = shutdown.cancelled() => break,
            post = rx.recv() => match post { Some(p) => p, None => return },
        };
        let Some(target) = targets.get(&post.tenant) else { continue };
        let mut wait = FIRST_RETRY;
        for attempt in 1..=settings.notify_attempts {
            let mut request = client
                .post(&target.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(post.body.clone());
            if let Some(auth) = &target.authorization {
                request = request.header(reqwest::header::AUTHORIZATION, auth);
            }
            let why = match request.send().await {
                Ok(r) if r.status().is_success() => break,
                Ok(r) => format!("HTTP {}", r.status().as_u16()),
                Err(e) => {
                    if e.is_timeout() {
                        "timed out".into()
                    } else {
                        "unreachable".into()
                    }
                }
            };
            if attempt == settings.notify_attempts {
                tracing::warn!(tenant = post.tenant, why, "a notification was dropped after every attempt");
                break;
            }
            tracing::debug!(tenant = post.tenant, why, attempt, "notification_url refused a notification: retrying");
            let half = wait / 2;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(half + half.mul_f64(fastrand::f64())) => {}
            }
            wait = (wait * 2).min(LAST_RETRY);
        }
    }
    if !rx.is_empty() {
        tracing::warn!(left = rx.len(), "notifications not POSTed at shutdown");
    }
}
