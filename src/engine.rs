//! The engine under both faces: store, channels, dispatcher, scheduler, receipts — and the
//! campaign lifecycle operations the LIME and REST handlers share.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::campaign::{Campaign, CampaignStatus};
use crate::catalog::{ChannelDef, TemplateDef};
use crate::channel::Channels;
use crate::clock::Clock;
use crate::config::{CampaignSettings, Config};
use crate::dispatcher::Dispatcher;
use crate::error::{Error, Result};
use crate::phone::PhoneNormalizer;
use crate::scheduler::Scheduler;
use crate::store::Store;

/// Cheap to clone.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub dispatcher: Dispatcher,
    pub scheduler: Scheduler,
    pub clock: Clock,
    pub settings: CampaignSettings,
    pub phones: Arc<PhoneNormalizer>,
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
        let receipts = crate::receipts::spawn(store.clone(), settings.receipt_queue, shutdown.clone());
        let channels = Channels::new(receipts, clock.clone(), shutdown.clone());
        let dispatcher = Dispatcher::new(store.clone(), channels, clock.clone(), settings.clone(), shutdown.clone());
        let scheduler = Scheduler::spawn(store.clone(), dispatcher.clone(), clock.clone(), 65_536, shutdown.clone());
        let phones = PhoneNormalizer::new(&config.default_country_code)
            .map(Arc::new)
            .map_err(|e| Error::Internal(format!("default_country_code: {e}")))?;
        let engine = Engine(Arc::new(Inner { store, dispatcher, scheduler, clock, settings, phones }));
        for c in engine.store.campaigns_in(&[CampaignStatus::Scheduled, CampaignStatus::Running]).await? {
            match c.status {
                CampaignStatus::Scheduled => engine.scheduler.schedule(&c.tenant, c.id, c.scheduled.unwrap_or(0))?,
                _ => engine.dispatcher.start(&c.tenant, c.id),
            }
        }
        Ok(engine)
    }

    /// DRAFT → SCHEDULED (when it has a future `scheduled`) or RUNNING. Needs ≥ 1 recipient.
    pub async fn dispatch(&self, tenant: &str, id: Uuid) -> Result<Campaign> {
        let counts = self.store.counts(tenant, id).await?;
        let now = self.clock.now();
        let campaign = self
            .store
            .update_campaign(tenant, id, &mut |c| {
                if c.status != CampaignStatus::Draft {
                    return Err(Error::NotAllowed(format!(
                        "The campaign was already dispatched (status {})",
                        c.status.lime()
                    )));
                }
                if counts.total == 0 {
                    return Err(Error::InvalidArgument("The campaign has no audience: add recipients first".into()));
                }
                match c.scheduled {
                    Some(at) if at > now => c.status = CampaignStatus::Scheduled,
                    _ => {
                        c.status = CampaignStatus::Running;
                        c.send_date = now;
                    }
                }
                Ok(())
            })
            .await?;
        self.after_start(&campaign)?;
        Ok(campaign)
    }

    /// Hands a freshly started campaign to the scheduler or the dispatcher.
    pub fn after_start(&self, campaign: &Campaign) -> Result<()> {
        match campaign.status {
            CampaignStatus::Scheduled => {
                self.scheduler.schedule(&campaign.tenant, campaign.id, campaign.scheduled.unwrap_or(0))
            }
            CampaignStatus::Running => {
                self.dispatcher.start(&campaign.tenant, campaign.id);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// RUNNING → PAUSED: no new send after the one in progress.
    pub async fn pause(&self, tenant: &str, id: Uuid) -> Result<Campaign> {
        let campaign = self
            .store
            .update_campaign(tenant, id, &mut |c| {
                if c.status != CampaignStatus::Running {
                    return Err(conflict("paused", c.status, "RUNNING"));
                }
                c.status = CampaignStatus::Paused;
                Ok(())
            })
            .await?;
        self.dispatcher.pause(id);
        Ok(campaign)
    }

    /// PAUSED → RUNNING: continues from the first PENDING recipient.
    pub async fn resume(&self, tenant: &str, id: Uuid) -> Result<Campaign> {
        let campaign = self
            .store
            .update_campaign(tenant, id, &mut |c| {
                if c.status != CampaignStatus::Paused {
                    return Err(conflict("resumed", c.status, "PAUSED"));
                }
                c.status = CampaignStatus::Running;
                Ok(())
            })
            .await?;
        self.dispatcher.resume(tenant, id);
        Ok(campaign)
    }

    /// Any status but COMPLETED / CANCELLED → CANCELLED; unsent recipients stay PENDING.
    pub async fn cancel(&self, tenant: &str, id: Uuid) -> Result<Campaign> {
        let now = self.clock.now();
        let campaign = self
            .store
            .update_campaign(tenant, id, &mut |c| {
                if matches!(c.status, CampaignStatus::Completed | CampaignStatus::Cancelled) {
                    return Err(Error::NotAllowed(format!("A {} campaign cannot be cancelled", c.status.rest())));
                }
                c.status = CampaignStatus::Cancelled;
                c.completed_at = now;
                Ok(())
            })
            .await?;
        self.dispatcher.cancel(id);
        Ok(campaign)
    }
}

fn conflict(action: &str, status: CampaignStatus, needed: &str) -> Error {
    Error::NotAllowed(format!("Only {needed} campaigns can be {action}; this one is {}", status.rest()))
}
