//! The inbound pipeline, the one operation every source calls (simulator, WhatsApp and RBM
//! webhooks, the simulator inject route): contact, attribution, opt-out, then the inbox.
//!
//! The side effects come before the inbox row and are idempotent (a contact patch with the
//! same time, a reply counted once per recipient, a suppression replaced): a source whose
//! message could not be recorded retries it, and the repeat finds the inbox row only once
//! everything else is done. Only the `opt_out_reply` is sent once, by the call that recorded
//! the message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

use super::envelope::{self, Addressing, Content};
use super::intake::{self, Intake};
use super::keywords::{Keyword, Keywords};
use super::sessions::Sessions;
use super::{InboundWrite, InboxEntry, Suppression, SuppressionChange};
use crate::campaign::{ChannelType, Millis};
use crate::channel::{Channels, Outbound};
use crate::clock::Clock;
use crate::config::{Config, ConversationSettings};
use crate::contact::ContactPatch;
use crate::error::{Error, Result};
use crate::store::Store;

/// One message a person sent, as a source hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub tenant: String,
    /// The channel id it came on.
    pub channel: String,
    pub channel_type: ChannelType,
    /// E.164 digits of the sender.
    pub phone: u64,
    /// The provider's message id (deduplication key).
    pub provider_id: String,
    pub received_at: Millis,
    pub content: Content,
    /// The sender's profile name, when the provider gives it.
    pub name: Option<String>,
}

/// Where sources that run inside the engine (the simulator's people) hand inbound messages.
pub type InboundSink = mpsc::Sender<Inbound>;

/// What [`Conversations::receive`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The gateway's id of the message (the LIME message id).
    pub id: String,
    /// False: a repeat of a message already recorded.
    pub new: bool,
}

/// Per-tenant settings of the message plane.
struct TenantPlane {
    bot: String,
    keywords: Keywords,
    opt_out_reply: Option<String>,
}

/// The message plane of every tenant. Cheap to clone.
#[derive(Clone)]
pub struct Conversations(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub settings: ConversationSettings,
    /// The bots' established sessions.
    pub sessions: Sessions,
    pub(super) clock: Clock,
    pub(super) channels: Channels,
    tenants: HashMap<String, TenantPlane>,
    /// Signalled when a message is recorded or acknowledged, or a session opens or closes.
    pub(super) wake: Arc<Notify>,
    /// Signalled when a message is recorded (the `message_url` poster looks).
    pub(super) posted: Notify,
    /// Waiting messages dropped (over `inbox_max` or past `inbox_ttl_ms`).
    pub(super) dropped: AtomicU64,
    /// Delivery state of the loop (which session holds which message).
    pub(super) flights: parking_lot::Mutex<super::delivery::Flights>,
    /// The group commit's side of the sources (`receive`).
    intake: Intake,
    /// Its worker's side, until [`Conversations::spawn_intake`] takes it.
    intake_rx: parking_lot::Mutex<Option<mpsc::Receiver<intake::Pending>>>,
}

impl std::ops::Deref for Conversations {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Conversations {
    pub fn new(config: &Config, store: Arc<dyn Store>, clock: Clock, channels: Channels) -> Conversations {
        let settings = config.conversations.clone();
        let wake = Arc::new(Notify::new());
        let (intake, intake_rx) = Intake::new(settings.write_queue);
        let tenants = config
            .tenants
            .iter()
            .map(|t| {
                let plane = TenantPlane {
                    bot: format!("{}@{}", t.identifier, config.domain),
                    keywords: Keywords::of(t),
                    opt_out_reply: t.opt_out_reply.clone().filter(|r| !r.trim().is_empty()),
                };
                (t.identifier.clone(), plane)
            })
            .collect();
        Conversations(Arc::new(Inner {
            store,
            sessions: Sessions::new(settings.session_queue, wake.clone()),
            settings,
            clock,
            channels,
            tenants,
            wake,
            posted: Notify::new(),
            dropped: AtomicU64::new(0),
            flights: Default::default(),
            intake,
            intake_rx: parking_lot::Mutex::new(Some(intake_rx)),
        }))
    }

    /// Starts the group commit of inbound messages on `background` (once; it drains what it
    /// was handed when the shutdown token is cancelled).
    pub fn spawn_intake(&self, background: &crate::shutdown::Background) {
        let Some(rx) = self.intake_rx.lock().take() else { return };
        let settings = (self.settings.write_batch, self.settings.inbox_max);
        background.tasks.spawn(intake::run(self.store.clone(), settings, rx, background.shutdown.clone()));
    }

    /// Every configured tenant's id.
    pub(super) fn tenant_ids(&self) -> Vec<String> {
        self.tenants.keys().cloned().collect()
    }

    /// Waiting messages dropped since start (over `inbox_max` or past `inbox_ttl_ms`).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records an inbound message and everything it implies; returns once it is durable.
    pub async fn receive(&self, m: Inbound) -> Result<Received> {
        self.record(m, false).await
    }

    /// [`receive`](Self::receive) through the group commit, or (`direct`) in a transaction of
    /// its own: the simulator's people, recorded until after the group commit has stopped.
    async fn record(&self, m: Inbound, direct: bool) -> Result<Received> {
        let plane = self.tenants.get(&m.tenant).ok_or_else(|| Error::NotFound("Unknown tenant".into()))?;
        let id = gateway_id(&m.tenant, &m.provider_id);
        let identity = format!("{}@{}", m.phone, m.channel_type.identity_domain());
        let since = m.received_at - self.settings.reply_window_ms.min(i64::MAX as u64) as i64;
        let attributed = match self.store.last_sent_to(&m.tenant, m.phone, since).await? {
            Some((campaign, seq)) => self.store.campaign(&m.tenant, campaign).await?.map(|c| (c, seq)),
            None => None,
        };
        let keyword = m.content.text().and_then(|t| plane.keywords.classify(t));
        let received_at = crate::datetime::iso(m.received_at).unwrap_or_default();
        let text = envelope::render(
            &Addressing {
                id: &id,
                from: &identity,
                to: &plane.bot,
                provider_id: &m.provider_id,
                channel: &m.channel,
                received_at: &received_at,
                campaign: attributed.as_ref().map(|(c, _)| c),
                keyword: keyword.map(|k| if k == Keyword::OptOut { "#optOut" } else { "#optIn" }),
            },
            &m.content,
        );
        let entry = InboxEntry {
            id: id.clone(),
            provider_id: m.provider_id.clone(),
            person: identity,
            received_at: m.received_at,
            envelope: text,
        };
        let suppression = match keyword {
            Some(Keyword::OptOut) => {
                let reason = m.content.text().map(|t| t.trim().to_owned());
                let entry = Suppression { phone: m.phone, at: m.received_at, reason, channel: Some(m.channel.clone()) };
                Some(SuppressionChange::Suppress(entry))
            }
            Some(Keyword::OptIn) => Some(SuppressionChange::Unsuppress(m.phone)),
            None => None,
        };
        let write = InboundWrite {
            tenant: m.tenant.clone(),
            contact: ContactPatch {
                identity: Some(entry.person.clone()),
                phone: Some(m.phone),
                name: m.name.clone(),
                last_interaction_at: Some(m.received_at),
                ..ContactPatch::default()
            },
            replied: attributed.as_ref().map(|(c, seq)| (c.id, *seq, m.received_at)),
            suppression,
            entry,
        };
        let added = if direct {
            let mut added = self.store.record_inbound(std::slice::from_ref(&write), self.settings.inbox_max).await?;
            added.pop().unwrap_or_default()
        } else {
            self.intake.write(write).await?
        };
        if added.dropped > 0 {
            self.dropped.fetch_add(added.dropped, Ordering::Relaxed);
            self.channels.metrics().inbox_dropped(&m.tenant, added.dropped);
            tracing::warn!(tenant = %m.tenant, dropped = added.dropped, "inbox full (conversations.inbox_max): oldest messages dropped");
        }
        if added.new {
            self.channels.metrics().inbound_message(&m.tenant, &m.channel);
            if keyword == Some(Keyword::OptOut) {
                self.channels.metrics().opt_out(&m.tenant, &m.channel);
            }
            self.wake.notify_one();
            self.posted.notify_one();
            if keyword == Some(Keyword::OptOut) {
                if let Some(reply) = &plane.opt_out_reply {
                    self.send_opt_out_reply(&m, reply).await;
                }
            }
        }
        Ok(Received { id, new: added.new })
    }

    /// A notification from the bot: `received`, `consumed` or `failed` for an inbound
    /// message's id takes it off the inbox; other events change nothing.
    pub async fn on_notification(&self, tenant: &str, n: &lime_protocol::Notification) -> Result<bool> {
        use lime_protocol::Event;
        match (&n.event, &n.id) {
            (Event::Received | Event::Consumed | Event::Failed, Some(id)) => self.acknowledge(tenant, id).await,
            _ => Ok(false),
        }
    }

    /// The bot acknowledged message `id` (`received`, `consumed` or `failed`): off the inbox.
    pub async fn acknowledge(&self, tenant: &str, id: &str) -> Result<bool> {
        let removed = self.store.inbox_remove(tenant, id).await?;
        self.flights.lock().forget(tenant, id);
        self.wake.notify_one();
        Ok(removed)
    }

    /// `opt_out_reply` on the channel the opt-out came on; a failure is logged (the opt-out
    /// itself is recorded either way).
    async fn send_opt_out_reply(&self, m: &Inbound, reply: &str) {
        let defs = match self.store.channels(&m.tenant).await {
            Ok(defs) => defs,
            Err(e) => {
                tracing::warn!(error = %e, "opt-out reply not sent: channels unreadable");
                return;
            }
        };
        let Some(def) = defs.into_iter().find(|d| d.id == m.channel) else { return };
        let Some(phone) = crate::phone::Phone::from_u64(m.phone) else { return };
        let outbound = Outbound {
            message_id: format!("optout.{}", gateway_id(&m.tenant, &m.provider_id)),
            campaign: uuid::Uuid::nil(),
            seq: 0,
            phone,
            identity: format!("{}@{}", m.phone, m.channel_type.identity_domain()),
            template: None,
            template_def: None,
            parameters: Vec::new(),
            text: Some(reply.to_owned()),
            // The person just wrote: within WhatsApp's 24 h window.
            conversation: Some(Arc::new(crate::outbound::FreeForm {
                content: crate::outbound::Content::Text { text: reply.to_owned() },
                last_inbound: Some(m.received_at),
            })),
        };
        let channel = self.channels.get(&m.tenant, &def);
        let results = channel.send(std::slice::from_ref(&outbound)).await;
        tracing::info!(tenant = %m.tenant, channel = %m.channel, result = ?results.first(), "opt-out reply sent");
    }
}

/// Records what the simulator's people send, until `flush` is cancelled at shutdown (after
/// the channels that feed it are done); what is queued then is still recorded.
pub async fn record_simulated(
    plane: Conversations,
    mut rx: mpsc::Receiver<Inbound>,
    flush: tokio_util::sync::CancellationToken,
) {
    loop {
        let m = tokio::select! {
            m = rx.recv() => m,
            _ = flush.cancelled() => {
                rx.close();
                rx.recv().await
            }
        };
        let Some(m) = m else { return };
        if let Err(e) = plane.record(m, true).await {
            tracing::warn!(error = %e, "a simulated reply could not be recorded");
        }
    }
}

/// The gateway's id of an inbound message: derived from the provider's id, so a repeat
/// (recorded or not) always has the same one.
pub fn gateway_id(tenant: &str, provider_id: &str) -> String {
    let name = format!("{tenant}\u{0}{provider_id}");
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string()
}
