//! The engine under both faces: store, channels, dispatcher, scheduler, receipts — built and
//! started here. The campaign operations both faces call are in `start` (a DRAFT starts, its
//! audience fixed; `selection` freezes a REST campaign's from the contacts) and `lifecycle`
//! (loading; pause, resume, cancel); `export` reads a whole audience in keyset pages; `retry`
//! sends failed recipients again; `preview` counts what filters reach; `segments` keeps the
//! saved segments; `clone` copies a campaign as a DRAFT.

mod clone;
pub mod export;
mod lifecycle;
mod preview;
mod retry;
mod segments;
mod selection;
mod start;

pub use clone::copy_name;
pub use lifecycle::Transition;
pub use preview::{Preview, PREVIEW_DETAILS};
pub use retry::{Retried, RetryRequest, RetryScope};
pub use segments::{Counted, SegmentChange};
pub use start::{Audience, StartError, StartRequest};

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::campaign::CampaignStatus;
use crate::catalog::{ChannelDef, TemplateDef};
use crate::channel::settings::Providers;
use crate::channel::Channels;
use crate::clock::Clock;
use crate::config::{CampaignSettings, Config};
use crate::dispatcher::Dispatcher;
use crate::error::{Error, Result};
use crate::phone::PhoneNormalizer;
use crate::reasons::Reasons;
use crate::receipts::Receipts;
use crate::scheduler::Scheduler;
use crate::shutdown::Background;
use crate::store::Store;

/// Cheap to clone.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub dispatcher: Dispatcher,
    pub scheduler: Scheduler,
    /// The live channel instances and the providers' settings (webhooks, channel health).
    pub channels: Channels,
    pub clock: Clock,
    pub settings: CampaignSettings,
    /// `[segments]`: bounds of saved segments.
    pub segment_settings: crate::config::SegmentSettings,
    pub phones: Arc<PhoneNormalizer>,
    /// Titles of provider reason codes, learned as sends fail.
    pub reasons: Arc<Reasons>,
    /// Template sync of the WhatsApp channels with a `waba_id` (REST asks it for a sync).
    pub template_sync: crate::channel::whatsapp::sync::TemplateSync,
    /// Bots' messages to people: acceptance, the sender, notifications.
    pub outbound: crate::outbound::Outbox,
    /// This gateway's metrics (a no-op when `[metrics] listen` is empty).
    pub metrics: crate::metrics::Metrics,
    /// The message plane: inbound messages, the inbox, the bots' sessions, suppressions.
    pub conversations: crate::conversation::inbound::Conversations,
    /// Status callbacks to the customers' webhooks (the outbox's deliverer, the REST operations).
    pub callbacks: crate::callbacks::Callbacks,
    /// The receipt recorder, drained at shutdown after the dispatcher's workers.
    receipts: Receipts,
    /// The scheduler, the lease claimer and the channels' timers, drained at shutdown
    /// between the dispatcher's workers and the receipts.
    background: Background,
}

impl std::ops::Deref for Engine {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Engine {
    /// Seeds the config's channels and templates, starts the workers, and picks up campaigns
    /// that were running or scheduled.
    pub async fn start(
        config: &Config,
        store: Arc<dyn Store>,
        clock: Clock,
        shutdown: CancellationToken,
    ) -> Result<Engine> {
        // The config is the source of truth for the channels and templates it defines.
        for tenant in &config.tenants {
            let known = store.channels(&tenant.identifier).await?;
            for c in &tenant.channels {
                let created = known.iter().find(|k| k.id == c.id).map_or(clock.now(), |k| k.created);
                store.put_channel(&tenant.identifier, ChannelDef { created, ..ChannelDef::from_config(c) }).await?;
            }
            let known = store.templates(&tenant.identifier).await?;
            for t in &tenant.templates {
                let created = known.iter().find(|k| k.id == t.id).map_or(clock.now(), |k| k.created);
                store.put_template(&tenant.identifier, TemplateDef { created, ..TemplateDef::from_config(t) }).await?;
            }
        }
        let settings = config.campaigns.clone();
        let metrics = crate::metrics::Metrics::new(config.metrics.listen.is_some());
        let reasons = Arc::new(Reasons::new());
        let background = Background { shutdown: shutdown.clone(), ..Background::default() };
        // Receipts of bots' messages become notifications (the recorder tells the notifier).
        let notifier = crate::outbound::Notifier::spawn(config, reasons.clone(), &background);
        let receipts = Receipts::spawn(store.clone(), notifier.clone(), settings.receipt_queue, settings.receipt_batch);
        let providers = Arc::new(Providers::from_config(config));
        let template_sync = crate::channel::whatsapp::sync::TemplateSync::spawn(
            store.clone(),
            &providers,
            clock.clone(),
            shutdown.clone(),
        );
        let (inbound_sink, inbound_rx) = tokio::sync::mpsc::channel(config.conversations.inbound_queue.max(1));
        let channels = Channels::new(providers, receipts.sink(), clock.clone(), background.clone(), metrics.clone())
            .with_inbound(inbound_sink);
        let conversations =
            crate::conversation::inbound::Conversations::new(config, store.clone(), clock.clone(), channels.clone());
        conversations.spawn_intake(&background);
        conversations.spawn_delivery(&background);
        conversations.spawn_message_url(config, &background);
        background.tasks.spawn(crate::conversation::inbound::record_simulated(
            conversations.clone(),
            inbound_rx,
            background.flush.clone(),
        ));
        let dispatcher = Dispatcher::new(
            store.clone(),
            channels.clone(),
            clock.clone(),
            settings.clone(),
            config.storage.sending_recovery,
            shutdown.clone(),
            reasons.clone(),
        );
        let scheduler =
            Scheduler::spawn(store.clone(), dispatcher.clone(), clock.clone(), settings.schedule_queue, &background);
        let phones = PhoneNormalizer::new(&config.default_country_code)
            .map(Arc::new)
            .map_err(|e| Error::Internal(format!("default_country_code: {e}")))?;
        let outbound = crate::outbound::Outbox::start(
            config,
            store.clone(),
            channels.clone(),
            clock.clone(),
            notifier,
            &background,
        )
        .await?;
        let callbacks = crate::callbacks::Callbacks::start(
            config,
            crate::callbacks::deliverer::Context {
                store: store.clone(),
                settings: config.webhooks.clone(),
                clock: clock.clone(),
                metrics: metrics.clone(),
                reasons: reasons.clone(),
            },
            &background,
        )
        .await?;
        let engine = Engine(Arc::new(Inner {
            store,
            dispatcher,
            scheduler,
            channels,
            clock,
            settings,
            segment_settings: config.segments.clone(),
            phones,
            reasons,
            template_sync,
            outbound,
            metrics,
            conversations,
            callbacks,
            receipts,
            background: background.clone(),
        }));
        // Schedules missed while the server was down fire at once.
        for c in engine.store.campaigns_in(&[CampaignStatus::Scheduled]).await? {
            engine.scheduler.schedule(&c.tenant, c.id, c.scheduled.unwrap_or(0))?;
        }
        let node = config.storage.node_id.clone().unwrap_or_else(node_name);
        let lease_ms = config.storage.lease_ms as i64;
        engine.claim_once(&node, lease_ms).await?;
        background.tasks.spawn(claimer(engine.clone(), node, lease_ms, shutdown));
        Ok(engine)
    }
}

impl Engine {
    /// After shutdown was signalled: waits for the dispatcher's workers to record their
    /// last sends, then for the background tasks (scheduler, claimer; the channels' timers
    /// hand over the receipts they hold), then writes every receipt accepted. False when
    /// `within` (for each of the three) passed first; what was left is logged.
    pub async fn drain(&self, within: std::time::Duration) -> bool {
        let workers = self.dispatcher.drain(within).await;
        let tasks = &self.background.tasks;
        self.background.flush.cancel();
        tasks.close();
        let background = tokio::time::timeout(within, tasks.wait()).await.is_ok();
        if !background {
            tracing::warn!(tasks = tasks.len(), "background tasks still running after the drain time");
        }
        let receipts = self.receipts.drain(within).await;
        workers && background && receipts
    }

    /// Receipts accepted from the channels and not written yet.
    pub fn receipts_queued(&self) -> usize {
        self.receipts.queued()
    }

    /// Runs `task` among the background tasks the drain waits for; it must end on the shutdown
    /// token (the REST face's progress pollers do).
    pub fn spawn_background(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.background.tasks.spawn(task);
    }

    /// Background tasks (scheduler, claimer, channel timers) not finished yet: 0 after a
    /// drain that returned true.
    pub fn background_tasks(&self) -> usize {
        self.background.tasks.len()
    }

    /// Takes (or renews) the leases of running campaigns and starts dispatching those this
    /// node got; stops those whose lease went to another node. Also fires schedules that
    /// another (possibly dead) node registered.
    async fn claim_once(&self, node: &str, lease_ms: i64) -> Result<()> {
        let now = self.clock.now();
        let claimed = self.store.claim(node, now, lease_ms).await?;
        let mine: std::collections::HashSet<Uuid> = claimed.iter().map(|c| c.id).collect();
        for c in &claimed {
            if !self.dispatcher.is_running(c.id) {
                tracing::info!(campaign = %c.id, node, "dispatching (claimed)");
                self.dispatcher.start(&c.tenant, c.id);
            }
        }
        for id in self.dispatcher.running() {
            if !mine.contains(&id) {
                // Paused, cancelled, finished, or leased to another node: stop sending here.
                self.dispatcher.stop(id);
            }
        }
        for c in self.store.campaigns_in(&[CampaignStatus::Scheduled]).await? {
            if c.scheduled.is_some_and(|at| at <= now) {
                self.scheduler.schedule(&c.tenant, c.id, c.scheduled.unwrap_or(0))?;
            }
        }
        Ok(())
    }
}

/// Renews leases every third of their length.
async fn claimer(engine: Engine, node: String, lease_ms: i64, shutdown: CancellationToken) {
    let every = std::time::Duration::from_millis((lease_ms / 3).max(100) as u64);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = engine.claim_once(&node, lease_ms).await {
            tracing::warn!(error = %e, "claiming campaigns failed; retrying");
        }
    }
}

/// `host-pid-random`: unique per process, readable in the database.
fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "node".into());
    format!("{host}-{}-{:04x}", std::process::id(), fastrand::u16(..))
}
