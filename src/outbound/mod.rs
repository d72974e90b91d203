//! Bots' messages to people (conversations.md, Outbound): accepted durably, sent through the
//! person's channel with the campaigns' crash-safe protocol, reported with notifications.
//!
//! - `content`: the LIME contents a bot may send, typed and checked.
//! - `message`: the stored message and its forward-only status ladder.
//! - `sender`: the tracked worker that sends accepted messages in order (SENDING first,
//!   re-sent or reconciled after a crash).
//! - `notify`: notifications to the sending session or `notification_url`.
//! - `intake`: the group commit between the faces and the store.
//!
//! Faces call [`Outbox::accept`] (waits for the commit) or [`Outbox::submit`] (a session:
//! told `accepted` once committed); receipts reach the messages through
//! [`Outbox::apply_receipts`] (webhooks) and the receipt recorder.

mod content;
mod intake;
mod message;
mod notify;
mod sender;

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use lime_protocol::{Message, Node};
use serde_json::Value;
use tokio::sync::Notify;

pub use content::{Choice, Content, FreeForm, MediaKind};
pub use message::{Moved, OutboundChange, OutboundMessage, OutboundStatus};
pub use notify::{Notifier, SessionSink};

use crate::campaign::ChannelType;
use crate::catalog::ChannelDef;
use crate::channel::Channels;
use crate::clock::Clock;
use crate::config::{CampaignSettings, Config, OutboundSettings, SendingRecovery};
use crate::error::{Error, Result};
use crate::phone::Phone;
use crate::shutdown::Background;
use crate::store::{Receipt, Store};
use crate::tenant::Tenant;
use intake::{Intake, Pending};

/// Cheap to clone.
#[derive(Clone)]
pub struct Outbox(Arc<Shared>);

struct Shared {
    store: Arc<dyn Store>,
    channels: Channels,
    clock: Clock,
    settings: OutboundSettings,
    /// Retries and backoff of transient provider errors (the campaigns' settings).
    sends: CampaignSettings,
    recovery: SendingRecovery,
    notifier: Arc<Notifier>,
    /// Accepted and not yet handed to a channel (bounded by `outbound.queue_max`).
    queued: AtomicUsize,
    /// Rung when a message is accepted.
    wake: Notify,
    /// The last acceptance seq given.
    seq: AtomicI64,
    /// Checked messages on their way to the store.
    intake: Intake,
}

/// What acceptance gave a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The gateway's id of the message.
    pub key: String,
}

impl Outbox {
    /// Starts the sender (it first reconciles what a crash left SENDING).
    pub async fn start(
        config: &Config,
        store: Arc<dyn Store>,
        channels: Channels,
        clock: Clock,
        notifier: Arc<Notifier>,
        background: &Background,
    ) -> Result<Outbox> {
        let queued = store.count_outbound(OutboundStatus::Accepted).await? as usize;
        let (intake, intake_rx) = Intake::new(config.outbound.queue_max);
        let outbox = Outbox(Arc::new(Shared {
            store,
            channels,
            clock,
            settings: config.outbound.clone(),
            sends: config.campaigns.clone(),
            recovery: config.storage.sending_recovery,
            notifier,
            queued: AtomicUsize::new(queued),
            wake: Notify::new(),
            seq: AtomicI64::new(0),
            intake,
        }));
        background.tasks.spawn(intake::run(outbox.clone(), intake_rx, background.shutdown.clone()));
        background.tasks.spawn(sender::run(outbox.clone(), background.shutdown.clone()));
        Ok(outbox)
    }

    /// Accepts a bot's message for sending and waits until it is stored (the HTTP face
    /// answers 202 then); its notifications go to `notification_url`. Errors are the
    /// `failed` reason to tell (nothing was stored): 42 unknown destination, 64 bad content
    /// (naming the type), 61 (HTTP 503) when the queue is full or the store fails.
    pub async fn accept(&self, tenant: &Tenant, bot: &Node, message: &Message) -> Result<Accepted> {
        let m = self.check(tenant, bot, message).await?;
        let key = m.key.clone();
        let (done, stored) = tokio::sync::oneshot::channel();
        self.hand_over(Pending { message: m, session: None, done: Some(done) })?;
        match stored.await {
            Ok(result) => result.map(|()| Accepted { key }),
            Err(_) => Err(Error::Unavailable("The gateway is shutting down; send the message again later".into())),
        }
    }

    /// Accepts a message from a session without waiting for the store: `accepted` (or
    /// `failed`, when the commit fails) is told over `session` once the batch holding it is
    /// committed, in the session's order. The error is a refusal before anything was queued,
    /// as for [`Outbox::accept`].
    pub async fn submit(&self, tenant: &Tenant, bot: &Node, message: &Message, session: SessionSink) -> Result<()> {
        let m = self.check(tenant, bot, message).await?;
        self.hand_over(Pending { message: m, session: Some(session), done: None })
    }

    /// Checks destination and content and takes a place in `outbound.queue_max`.
    async fn check(&self, tenant: &Tenant, bot: &Node, message: &Message) -> Result<OutboundMessage> {
        let s = &self.0;
        let to = message.to.as_ref().ok_or_else(|| Error::Validation("The message has no 'to'".into()))?;
        let domain = to.identity.domain.to_ascii_lowercase();
        let (wa, rcs) = (ChannelType::WhatsApp, ChannelType::GoogleRcs);
        let channel_type = match domain.as_str() {
            d if d == wa.identity_domain() => wa,
            d if d == rcs.identity_domain() => rcs,
            _ => {
                return Err(Error::UnknownDestination(format!(
                    "'{}' is not a person the gateway reaches: use <digits>@{} or <digits>@{}",
                    to.identity,
                    wa.identity_domain(),
                    rcs.identity_domain()
                )))
            }
        };
        let name = to.identity.name.as_deref().unwrap_or_default();
        let phone = name
            .parse::<u64>()
            .ok()
            .and_then(Phone::from_u64)
            .ok_or_else(|| Error::InvalidArgument(format!("'{name}' is not a phone number in E.164 digits")))?;
        let content =
            Content::parse(message.media_type.as_deref(), &message.content).map_err(Error::InvalidArgument)?;
        let named = message.metadata.as_ref().and_then(|m| m.get("#channel")).and_then(Value::as_str);
        let channel = channel_of(&s.store.channels(&tenant.id).await?, channel_type, named)?;
        if s.queued.fetch_add(1, Ordering::AcqRel) >= s.settings.queue_max {
            s.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::Unavailable(format!(
                "Too many messages waiting to be sent (outbound.queue_max = {}); retry later",
                s.settings.queue_max
            )));
        }
        let now = s.clock.now();
        Ok(OutboundMessage {
            key: format!("ob.{}", uuid::Uuid::new_v4().simple()),
            tenant: tenant.id.clone(),
            seq: self.next_seq(now),
            lime_id: message.id.clone(),
            bot: bot.to_string(),
            to: format!("{}@{}", phone.digits(), channel_type.identity_domain()),
            phone: phone.digits().parse().unwrap_or_default(),
            channel: channel.id,
            content,
            status: OutboundStatus::Accepted,
            reason: 0,
            description: None,
            provider_id: None,
            created: now,
        })
    }

    /// Gives the checked message to the intake, giving its place back when refused.
    fn hand_over(&self, pending: Pending) -> Result<()> {
        self.0.intake.submit(pending).inspect_err(|_| {
            self.0.queued.fetch_sub(1, Ordering::AcqRel);
        })
    }

    /// Tells a `failed` for a message that was refused at acceptance (nothing stored).
    pub fn refused(&self, tenant: &Tenant, bot: &Node, message: &Message, e: &Error, session: Option<&SessionSink>) {
        let Some(id) = &message.id else { return };
        let to = message.to.as_ref().map_or(Value::Null, |t| Value::String(t.to_string()));
        let reason = e.to_reason();
        self.0.notifier.refused(&tenant.id, to, bot.to_string(), id, &reason, session);
    }

    /// Applies provider receipts (webhooks) to campaign recipients and bots' messages alike,
    /// telling the bots; returns how many changed something.
    pub async fn apply_receipts(&self, receipts: &[Receipt]) -> Result<u64> {
        let campaigns = self.0.store.apply_receipts(receipts).await?;
        let moves = self.0.store.outbound_receipts(receipts).await?;
        self.0.notifier.moved(&moves);
        Ok(campaigns + moves.len() as u64)
    }

    /// Strictly increasing, and above any seq given before a restart (time-based).
    fn next_seq(&self, now: i64) -> i64 {
        let floor = now.saturating_mul(1000);
        let mut current = self.0.seq.load(Ordering::Acquire);
        loop {
            let next = (current + 1).max(floor);
            match self.0.seq.compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return next,
                Err(seen) => current = seen,
            }
        }
    }
}

/// The channel a message goes through: the one `#channel` names (of the right type), or
/// the tenant's default of the type.
fn channel_of(channels: &[ChannelDef], kind: ChannelType, named: Option<&str>) -> Result<ChannelDef> {
    let found = match named {
        Some(id) => channels.iter().find(|c| c.id == id && c.channel_type == kind),
        None => channels.iter().find(|c| c.default && c.channel_type == kind),
    };
    found.cloned().ok_or_else(|| match named {
        Some(id) => Error::UnknownDestination(format!("The tenant has no {} channel '{id}' (#channel)", kind.lime())),
        None => Error::UnknownDestination(format!("The tenant has no default {} channel", kind.lime())),
    })
}
