//! Provider settings of the configured channels: what a real provider needs to send and to
//! check its webhooks (ids, API base, secrets). Built from the configuration at start-up
//! and never stored: the store's channel rows hold no secret.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::secret::Secret;

/// The Cloud API's public base.
pub const WHATSAPP_API_BASE: &str = "https://graph.facebook.com/v21.0";
/// RBM's public base.
pub const RBM_API_BASE: &str = "https://rcsbusinessmessaging.googleapis.com";
/// The Cloud API's default throughput (messages per second per number).
pub const WHATSAPP_DEFAULT_PER_SECOND: u32 = 80;
/// Time between two template syncs when `template_sync_ms` is not set.
pub const TEMPLATE_SYNC_DEFAULT: Duration = Duration::from_millis(900_000);

/// The provider of one channel with its settings.
#[derive(Debug, Clone)]
pub enum Provider {
    Simulator,
    WhatsApp(Arc<WhatsAppSettings>),
    Rbm(Arc<RbmSettings>),
}

/// `provider = "whatsapp_cloud"`.
#[derive(Debug)]
pub struct WhatsAppSettings {
    pub phone_number_id: String,
    pub waba_id: Option<String>,
    pub access_token: Secret,
    pub app_secret: Secret,
    pub verify_token: Secret,
    /// Without a trailing `/`.
    pub api_base: String,
    pub template_sync: Duration,
}

/// `provider = "google_rbm"`.
#[derive(Debug)]
pub struct RbmSettings {
    pub agent_id: String,
    pub service_account_key: PathBuf,
    pub client_token: Secret,
    /// Without a trailing `/`.
    pub api_base: String,
}

/// A configured channel of a real provider, as webhooks look it up.
#[derive(Debug, Clone)]
pub struct Configured<S> {
    pub tenant: String,
    pub channel: String,
    pub settings: Arc<S>,
}

/// Every configured channel's provider, by (tenant, channel id). Channels created through
/// the REST API are simulator channels.
#[derive(Debug, Default)]
pub struct Providers {
    by_channel: HashMap<(String, String), Provider>,
}

impl Providers {
    pub fn new(entries: impl IntoIterator<Item = ((String, String), Provider)>) -> Providers {
        Providers { by_channel: entries.into_iter().collect() }
    }

    /// The provider of a channel (the simulator for one the configuration does not define).
    pub fn of(&self, tenant: &str, channel: &str) -> Provider {
        self.by_channel.get(&(tenant.to_owned(), channel.to_owned())).cloned().unwrap_or(Provider::Simulator)
    }

    /// Every WhatsApp Cloud API channel of every tenant.
    pub fn whatsapp(&self) -> impl Iterator<Item = Configured<WhatsAppSettings>> + '_ {
        self.by_channel.iter().filter_map(|((tenant, channel), p)| match p {
            Provider::WhatsApp(s) => {
                Some(Configured { tenant: tenant.clone(), channel: channel.clone(), settings: s.clone() })
            }
            _ => None,
        })
    }

    /// Every Google RBM channel of every tenant.
    pub fn rbm(&self) -> impl Iterator<Item = Configured<RbmSettings>> + '_ {
        self.by_channel.iter().filter_map(|((tenant, channel), p)| match p {
            Provider::Rbm(s) => {
                Some(Configured { tenant: tenant.clone(), channel: channel.clone(), settings: s.clone() })
            }
            _ => None,
        })
    }
}
