//! Status callbacks (campaign-features.md): the customer's webhooks told of recipients' and
//! campaigns' status changes. The stores write an outbox row per (webhook, event) with the
//! status change itself ([`outbox`]); [`deliverer`] POSTs them, signed by [`signer`], with the
//! body of [`body`], to URLs [`url_policy`] allows. This file holds the operations the REST
//! face calls and the start-up sync of the webhooks declared in the file.

pub mod body;
pub mod deliverer;
pub mod outbox;
pub mod signer;
pub mod url_policy;

use std::sync::Arc;

use uuid::Uuid;

use crate::clock::Clock;
use crate::config::{Config, WebhookSettings};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::store::{Page, Store};
use deliverer::{Context, Deliverer};
use outbox::{Delivery, DeliveryState, EventKind, Webhook};

/// Ids of webhooks declared in the file: stable across restarts, so their outbox survives.
const CONFIG_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f2a8e_49d1_4b0e_9a1c_160000000001);

/// What a new webhook is made of (REST body or file).
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub secret: Secret,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Callbacks(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    settings: WebhookSettings,
    clock: Clock,
    deliverer: Deliverer,
}

impl Callbacks {
    /// Writes the webhooks of `[[tenants.webhooks]]` (the file is their source of truth) and
    /// starts the deliverer. A webhook of the file with a refused URL stops the start.
    pub async fn start(config: &Config, ctx: Context, background: &crate::shutdown::Background) -> Result<Callbacks> {
        for tenant in &config.tenants {
            for (i, w) in tenant.webhooks.iter().enumerate() {
                let new = NewWebhook { url: w.url.clone(), events: w.events.clone(), secret: w.secret.clone() };
                let id = Uuid::new_v5(&CONFIG_NAMESPACE, format!("{}\n{}", tenant.identifier, w.url).as_bytes());
                let hook = validated(&config.webhooks, &tenant.identifier, id, new, ctx.clock.now())
                    .map_err(|e| Error::Validation(format!("tenants.webhooks[{i}] of {}: {e}", tenant.identifier)))?;
                url_policy::parse(&config.webhooks, &hook.url)?;
                let known = ctx.store.webhooks(Some(&tenant.identifier)).await?;
                let created = known.iter().find(|k| k.id == id).map_or(hook.created, |k| k.created);
                ctx.store.put_webhook(Webhook { created, ..hook }).await?;
            }
        }
        let (store, settings, clock) = (ctx.store.clone(), ctx.settings.clone(), ctx.clock.clone());
        let deliverer = Deliverer::spawn(ctx, background);
        Ok(Callbacks(Arc::new(Inner { store, settings, clock, deliverer })))
    }

    /// `POST /webhooks`: the URL checked against the policy on its resolved addresses.
    pub async fn create(&self, tenant: &str, new: NewWebhook) -> Result<Webhook> {
        let hook = validated(&self.0.settings, tenant, Uuid::now_v7(), new, self.0.clock.now())?;
        url_policy::check(&self.0.settings, &hook.url).await?;
        self.0.store.put_webhook(hook.clone()).await?;
        self.0.deliverer.wake();
        Ok(hook)
    }

    pub async fn list(&self, tenant: &str) -> Result<Vec<Webhook>> {
        self.0.store.webhooks(Some(tenant)).await
    }

    /// `NotFound` for another tenant's webhook like a missing one.
    pub async fn get(&self, tenant: &str, id: Uuid) -> Result<Webhook> {
        let hooks = self.0.store.webhooks(Some(tenant)).await?;
        hooks.into_iter().find(|w| w.id == id).ok_or_else(|| not_found(id))
    }

    pub async fn delete(&self, tenant: &str, id: Uuid) -> Result<()> {
        if self.0.store.delete_webhook(tenant, id).await? {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }

    pub async fn deliveries(
        &self,
        tenant: &str,
        id: Uuid,
        state: Option<DeliveryState>,
        page: Page,
    ) -> Result<(u64, Vec<Delivery>)> {
        self.get(tenant, id).await?;
        self.0.store.deliveries(id, state, page).await
    }

    /// Sends an event again (same id), from a new retry window.
    pub async fn replay(&self, tenant: &str, id: Uuid, event: Uuid) -> Result<()> {
        self.get(tenant, id).await?;
        if !self.0.store.replay_delivery(id, event).await? {
            return Err(Error::NotFound(format!("Event {event} was not found for webhook {id}")));
        }
        self.0.deliverer.wake();
        Ok(())
    }
}

fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("Webhook {id} was not found"))
}

/// The checks that need no network: URL shape and scheme, known events, a secret.
fn validated(settings: &WebhookSettings, tenant: &str, id: Uuid, new: NewWebhook, now: i64) -> Result<Webhook> {
    url_policy::parse(settings, &new.url)?;
    if new.events.is_empty() {
        return Err(Error::InvalidArgument("events must name at least one event".into()));
    }
    let mut events = Vec::new();
    for name in &new.events {
        let kind = EventKind::parse(name).ok_or_else(|| {
            Error::InvalidArgument(format!("events: unknown event \"{name}\" (recipient.status, campaign.status)"))
        })?;
        if !events.contains(&kind) {
            events.push(kind);
        }
    }
    if new.secret.expose().is_empty() {
        return Err(Error::InvalidArgument("secret must not be empty".into()));
    }
    if new.secret.expose().len() > 1024 {
        return Err(Error::InvalidArgument("secret must be at most 1024 bytes".into()));
    }
    Ok(Webhook {
        id,
        tenant: tenant.to_owned(),
        url: new.url.trim().to_owned(),
        events,
        secret: new.secret,
        created: now,
    })
}
