//! The shared state handle every transport and handler receives: cheap to clone.

use std::sync::Arc;

use lime_protocol::{Identity, Node};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::engine::Engine;
use crate::tenant::Tenants;

/// A clone is a new reference to the same state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub tenants: Tenants,
    /// Store, dispatcher, scheduler: the engine under both faces.
    pub engine: Engine,
    /// The nodes the gateway answers as, with the configured instance.
    pub nodes: ServedNodes,
    /// In-flight caps and command rates (load shedding).
    pub admission: crate::admission::Admission,
    /// One permit per open WebSocket session (`limits.max_connections`).
    pub connections: Arc<Semaphore>,
    /// Cancelled once, when the process is asked to stop.
    pub shutdown: CancellationToken,
    /// The shared pollers of the campaigns watched over `GET /campaigns/{id}/events`.
    pub progress: crate::rest::progress::Progress,
    /// Recent LIME `set` ids per tenant with their first replies (`idempotency.lime_*`).
    pub repeats: crate::repeats::Repeats,
}

/// The three nodes of lime.md, precomputed once.
pub struct ServedNodes {
    /// `postmaster@{domain}`: server commands and contexts.
    pub server: Identity,
    /// `postmaster@activecampaign.{domain}`: the campaign extension.
    pub campaigns: Identity,
    /// `postmaster@crm.{domain}`: contacts.
    pub crm: Identity,
    instance: String,
}

impl ServedNodes {
    fn new(config: &Config) -> ServedNodes {
        ServedNodes {
            server: Identity::new("postmaster", config.domain.clone()),
            campaigns: Identity::new("postmaster", format!("activecampaign.{}", config.domain)),
            crm: Identity::new("postmaster", format!("crm.{}", config.domain)),
            instance: format!("#{}", config.instance),
        }
    }

    /// `identity` on the gateway's instance, as it appears in `from`.
    pub fn answering(&self, identity: &Identity) -> Node {
        identity.with_instance(Some(&self.instance))
    }
}

impl AppState {
    pub fn new(config: Config, engine: Engine, shutdown: CancellationToken) -> AppState {
        let tenants = Tenants::from_config(&config);
        let nodes = ServedNodes::new(&config);
        let connections = Arc::new(Semaphore::new(config.limits.max_connections));
        let admission = crate::admission::Admission::new(&config.limits, &tenants);
        let progress =
            crate::rest::progress::Progress::new(engine.clone(), config.limits.max_event_streams, shutdown.clone());
        let repeats = crate::repeats::Repeats::new(&config.idempotency);
        AppState(Arc::new(Inner {
            config,
            tenants,
            engine,
            nodes,
            admission,
            connections,
            shutdown,
            progress,
            repeats,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
