//! Channels: where messages go. The [`Channel`] trait, the simulator that implements it, and
//! the registry that builds one instance per configured channel with its provider's
//! settings (`settings`); `throttle` is the adaptive slow-down providers share.

mod ledger;
pub mod people;
pub mod rbm;
pub mod settings;
pub mod simulator;
pub mod throttle;
pub mod whatsapp;

use std::sync::Arc;

use async_trait::async_trait;
use dashmap::DashMap;
use tokio::sync::mpsc;

use crate::catalog::{ChannelDef, TemplateDef};
use crate::clock::Clock;
use crate::phone::Phone;
use crate::store::Receipt;

/// One message to send.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The gateway's id for this send, stable across retries and restarts.
    pub message_id: String,
    pub campaign: uuid::Uuid,
    pub seq: u32,
    pub phone: Phone,
    /// `digits@wa.gw.msging.net` / `digits@googlercs.gw.msging.net`.
    pub identity: String,
    /// WhatsApp template name and language, when the message is a template.
    pub template: Option<(String, Option<String>)>,
    /// The template's definition (structure: header, buttons, cards), when it is known.
    pub template_def: Option<Arc<TemplateDef>>,
    /// Template parameter values in position order (`{{1}}` first).
    pub parameters: Vec<String>,
    /// Rendered text (RCS, REST TEXT campaigns; template preview otherwise).
    pub text: Option<String>,
    /// A bot's message to a person (conversations.md): its content, sent instead of the
    /// campaign fields above (`campaign` is nil, `seq` 0).
    pub conversation: Option<Arc<crate::outbound::FreeForm>>,
}

/// What the provider said about one send.
#[derive(Debug, Clone, PartialEq)]
pub enum SendResult {
    /// Taken; receipts will follow under `provider_id`.
    Accepted { provider_id: String },
    /// Refused for good (reason code and the provider's title).
    Failed { code: u32, description: String },
    /// Refused for a reason that holds for every recipient of the campaign (its template was
    /// paused or disabled): this one fails with `code`, so do the campaign's remaining
    /// recipients, and the campaign fails with `description`.
    FailedAll { code: u32, description: String },
    /// Failed in a way worth retrying.
    Transient(String),
    /// Not taken now; worth retrying no sooner than `after` (WhatsApp's pair rate limit).
    Later { after: std::time::Duration, why: String },
    /// Not taken: the channel cannot send at all (credentials refused). Not an attempt: the
    /// message goes again, with the same id, once [`Channel::health`] is ready again.
    Down(String),
}

/// Whether a channel can send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ready,
    /// In error state with the provider's message; the channel probes and recovers by itself.
    Down(String),
}

/// A provider of one channel. Receipts (delivered, read, failed) come back asynchronously
/// through the sink given at construction, matched by the provider id.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Sends a batch; one result per message, in order.
    async fn send(&self, batch: &[Outbound]) -> Vec<SendResult>;

    /// Sends per second this channel takes over all campaigns (`None` = unlimited).
    fn max_per_second(&self) -> Option<u32>;

    /// Whether a send repeated with the same message id is dropped by the provider (Google
    /// RBM's `messageId`): then a send whose outcome was lost in a crash is simply repeated.
    fn deduplicates(&self) -> bool;

    /// Ready unless the provider refused the channel's credentials (then nothing is sent
    /// through it until its own probe succeeds).
    fn health(&self) -> Health {
        Health::Ready
    }

    /// The provider's id of `message` when the channel knows it before sending (RBM's
    /// `messageId`, derived from ours). It is linked when the message is marked SENDING, so a
    /// receipt that comes before the send's outcome is recorded still finds its recipient.
    fn provider_id(&self, _message: &Outbound) -> Option<String> {
        None
    }
}

/// Where channels deliver receipts (bounded; a full queue makes the channel wait).
pub type ReceiptSink = mpsc::Sender<Receipt>;

/// One live channel instance per (tenant, channel id), built on first use.
#[derive(Clone)]
pub struct Channels {
    live: Arc<DashMap<(String, String), Arc<dyn Channel>>>,
    providers: Arc<settings::Providers>,
    receipts: ReceiptSink,
    clock: Clock,
    /// Where channel tasks run (tracked; the shutdown token is its `shutdown`).
    background: crate::shutdown::Background,
    metrics: crate::metrics::Metrics,
    /// Where the simulator's people send their replies (conversations.md).
    inbound: Option<crate::conversation::inbound::InboundSink>,
}

impl Channels {
    pub fn new(
        providers: Arc<settings::Providers>,
        receipts: ReceiptSink,
        clock: Clock,
        background: crate::shutdown::Background,
        metrics: crate::metrics::Metrics,
    ) -> Channels {
        Channels { live: Arc::new(DashMap::new()), providers, receipts, clock, background, metrics, inbound: None }
    }

    /// The gateway's metrics (the dispatcher counts sends with them).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// Simulator channels built from now on let their people reply into `sink`.
    pub fn with_inbound(mut self, sink: crate::conversation::inbound::InboundSink) -> Channels {
        self.inbound = Some(sink);
        self
    }

    /// The providers' settings of every configured channel (webhooks find theirs here).
    pub fn providers(&self) -> &settings::Providers {
        &self.providers
    }

    /// The instance for `def` of `tenant` if one was built (REST listings show its health).
    pub fn live(&self, tenant: &str, channel: &str) -> Option<Arc<dyn Channel>> {
        self.live.get(&(tenant.to_owned(), channel.to_owned())).map(|c| c.clone())
    }

    /// The instance for `def` of `tenant`, created when first needed.
    pub fn get(&self, tenant: &str, def: &ChannelDef) -> Arc<dyn Channel> {
        let key = (tenant.to_owned(), def.id.clone());
        if let Some(c) = self.live.get(&key) {
            return c.clone();
        }
        self.live
            .entry(key)
            .or_insert_with(|| match self.providers.of(tenant, &def.id) {
                settings::Provider::WhatsApp(settings) => {
                    Arc::new(whatsapp::WhatsApp::new(def, settings, self.background.shutdown.clone()))
                        as Arc<dyn Channel>
                }
                settings::Provider::Rbm(s) => {
                    Arc::new(rbm::Rbm::new(tenant, def, s, self.background.shutdown.clone())) as Arc<dyn Channel>
                }
                settings::Provider::Simulator => {
                    let sim = simulator::Simulator::spawn(
                        def,
                        self.receipts.clone(),
                        self.clock.clone(),
                        &self.background,
                        simulator::Counted {
                            metrics: self.metrics.clone(),
                            tenant: tenant.to_owned(),
                            channel: def.id.clone(),
                        },
                    );
                    let sim = match &self.inbound {
                        Some(sink) => sim.with_people(tenant, def, sink.clone(), &self.background),
                        None => sim,
                    };
                    Arc::new(sim) as Arc<dyn Channel>
                }
            })
            .clone()
    }
}
