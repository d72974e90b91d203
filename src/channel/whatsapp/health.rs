//! A WhatsApp channel's error state: entered when the Cloud API refuses the token (190,
//! HTTP 401), left only by the probe, which asks `GET {api_base}/{phone_number_id}` with the
//! token every 30 s until it is taken again. Meanwhile nothing is sent: recipients stay
//! PENDING and campaigns RUNNING.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::channel::settings::WhatsAppSettings;
use crate::channel::Health;

/// Time between two probes of a channel in error state.
pub const PROBE_EVERY: Duration = Duration::from_secs(30);

/// Shared by a channel and its probe.
#[derive(Debug, Default)]
pub struct State {
    /// The provider's message while in error state.
    down: Mutex<Option<String>>,
}

impl State {
    pub fn health(&self) -> Health {
        match &*self.down.lock() {
            Some(why) => Health::Down(why.clone()),
            None => Health::Ready,
        }
    }

    /// Enters the error state (once: a second refusal while down only updates the message)
    /// and starts the probe. `channel` names the channel in the log.
    pub fn go_down(
        self: &Arc<Self>,
        why: &str,
        channel: &str,
        client: &reqwest::Client,
        settings: &Arc<WhatsAppSettings>,
        shutdown: &CancellationToken,
    ) {
        let first = {
            let mut down = self.down.lock();
            let first = down.is_none();
            *down = Some(why.to_owned());
            first
        };
        if !first {
            return;
        }
        tracing::error!(
            channel,
            why,
            "the Cloud API refused the channel's access token: sending stops until the probe succeeds"
        );
        let (state, client, settings, shutdown) = (self.clone(), client.clone(), settings.clone(), shutdown.clone());
        let channel = channel.to_owned();
        tokio::spawn(async move { probe(state, client, settings, channel, shutdown).await });
    }
}

/// Asks the Cloud API every [`PROBE_EVERY`] whether the token is taken again; ends when it
/// is (the channel is ready) or at shutdown.
async fn probe(
    state: Arc<State>,
    client: reqwest::Client,
    settings: Arc<WhatsAppSettings>,
    channel: String,
    shutdown: CancellationToken,
) {
    let url = format!("{}/{}", settings.api_base, settings.phone_number_id);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PROBE_EVERY) => {}
        }
        let answer = client.get(&url).bearer_auth(settings.access_token.expose()).send().await;
        match answer {
            Ok(r) if r.status().is_success() => {
                *state.down.lock() = None;
                tracing::info!(channel, "the Cloud API takes the channel's token again: sending resumes");
                return;
            }
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.bytes().await.unwrap_or_default();
                let why = super::errors::GraphError::parse(&body)
                    .map_or_else(|| format!("HTTP {status} from the Cloud API"), |e| e.message);
                tracing::warn!(channel, status, why, "probe: the channel is still in error state");
                *state.down.lock() = Some(why);
            }
            Err(e) => tracing::warn!(channel, error = %e.without_url(), "probe failed; trying again later"),
        }
    }
}
