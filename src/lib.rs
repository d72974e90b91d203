//! Irisgate: a campaign gateway that speaks BLiP's LIME protocol over WebSocket and HTTP.
//!
//! Module map:
//! - [`config`]: the TOML configuration, its defaults and validation.
//! - [`tenant`]: workspaces and their credentials; [`secret`]: provider secrets, redacted.
//! - [`state`]: the shared, cheap-to-clone state handle; [`admission`]: load shedding.
//! - [`campaign`], [`recipient`], [`contact`], [`catalog`]: the model both faces share;
//!   [`draft`]: the one constructor of a new campaign; [`params`]: a recipient's packed
//!   template parameters; [`window`]: send windows in IANA time zones; [`segment`]: saved
//!   segments (named filters a campaign resolves when it starts).
//! - [`store`]: the storage trait and its backends.
//! - [`engine`]: the campaign operations both faces call — load, start (the audience frozen
//!   there), pause / resume / cancel, retry failed, clone, segments, previews — and the
//!   reason table; [`dispatcher`], [`scheduler`],
//!   [`receipts`] are its background workers; [`channel`] the providers (the simulator);
//!   [`limiter`] pacing.
//! - [`audience`], [`phone`]: audience input (JSON items, CSV) and phone normalisation;
//!   [`media_link`]: fetching a CSV from a media link safely.
//! - [`fields`], [`query`]: lenient request JSON and LIME query strings.
//! - [`reasons`]: recipient failure reason codes and the engine's table of provider titles.
//! - [`clock`]: wall-clock time that follows tokio's (paused) clock; [`datetime`]: reading and
//!   writing ISO-8601 times.
//! - [`rest`]: the REST face (`/api/v1`); [`spec`]: its part of a campaign, typed; [`filter`],
//!   [`variables`]: its audience filters and personalisation.
//! - [`app`]: the HTTP application (every path of the port); [`problem`]: the JSON error body
//!   all of them answer with.
//! - [`transport`]: WebSocket sessions (`ws`) and `POST /commands` (`http`).
//! - [`router`]: the one routing table both transports call; [`repeats`]: a repeated LIME
//!   `set` (same id, same tenant, within the window) gets its first reply again.
//! - [`outbound`]: bots' messages to people (conversations.md): accepted durably, sent in
//!   order with the crash-safe protocol, reported with LIME notifications.
//! - [`conversation`]: the message plane's way back — inbound messages, attribution of
//!   replies, the bot's inbox, opt-out.
//! - [`webhooks`]: the routes real providers call back (statuses, inbound messages);
//!   [`callbacks`]: status callbacks to the workspace's own webhooks (signed, durable).
//! - [`handlers`]: command handlers, one file per URI family.
//! - [`caller`], [`reply`], [`error`]: what handlers take and return.
//! - [`trace`]: `traceparent` metadata.
//! - [`metrics`]: the Prometheus metrics, one typed function each; [`scrape`]: the metrics
//!   port; [`readiness`]: `GET /ready`; [`layers`]: the HTTP middleware every face shares
//!   (trace, body limits, request metrics); [`logging`]: text or JSON logs.
//! - [`shutdown`]: turning SIGINT/SIGTERM into the shutdown token; [`batches`]: the loop of
//!   the group-commit workers (inbound and outbound intakes).
//! - [`ui`]: the dashboard's embedded assets (`/ui/`).

// Axum responses are the natural error type of HTTP extraction helpers.
#![allow(clippy::result_large_err)]

pub mod admission;
pub mod app;
pub mod audience;
pub mod batches;
pub mod callbacks;
pub mod caller;
pub mod campaign;
pub mod catalog;
pub mod channel;
pub mod clock;
pub mod config;
pub mod contact;
pub mod conversation;
pub mod datetime;
pub mod dispatcher;
pub mod draft;
pub mod engine;
pub mod error;
pub mod fields;
pub mod filter;
pub mod handlers;
pub mod layers;
pub mod limiter;
pub mod logging;
pub mod media_link;
pub mod metrics;
pub mod outbound;
pub mod params;
pub mod phone;
pub mod problem;
pub mod query;
pub mod readiness;
pub mod reasons;
pub mod receipts;
pub mod recipient;
pub mod repeats;
pub mod reply;
pub mod rest;
pub mod router;
pub mod scheduler;
pub mod scrape;
pub mod secret;
pub mod segment;
pub mod shutdown;
pub mod spec;
pub mod state;
pub mod store;
pub mod tenant;
pub mod trace;
pub mod transport;
pub mod ui;
pub mod variables;
pub mod webhooks;
pub mod window;

use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use state::AppState;

/// Serves `config` on `listener` until `shutdown` is cancelled, then stops accepting,
/// lets in-flight commands finish and closes every session with `finished`. The metrics port
/// (`[metrics] listen`) is bound here; failing to bind it fails the start.
pub async fn run(listener: TcpListener, config: Config, shutdown: CancellationToken) -> std::io::Result<()> {
    let metrics = match config.metrics.listen {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {addr} for metrics ([metrics] listen): {e}"))
        })?),
        None => None,
    };
    run_with(listener, metrics, config, shutdown).await
}

/// [`run`] with the metrics port already bound (`None`: metrics off, whatever the config says).
pub async fn run_with(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    mut config: Config,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    if metrics.is_none() {
        config.metrics.listen = None;
    }
    let addr = listener.local_addr()?;
    let store = store::open(&config.storage).await.map_err(|e| std::io::Error::other(e.to_string()))?;
    let engine = engine::Engine::start(&config, store, clock::Clock::new(), shutdown.clone())
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let state = AppState::new(config, engine, shutdown.clone());
    let app = app::router(state.clone());
    let scraper = match metrics {
        Some(metrics) => {
            let metrics_addr = metrics.local_addr()?;
            tracing::info!(metrics = %metrics_addr, "serving metrics");
            let serve = axum::serve(metrics, scrape::router(state.clone()))
                .with_graceful_shutdown(shutdown.clone().cancelled_owned());
            Some(tokio::spawn(async move { serve.await }))
        }
        None => None,
    };
    tracing::info!(%addr, "irisgate listening");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned()).await?;
    // Upgraded WebSocket connections are not tracked by the HTTP server: wait for the
    // sessions to close themselves (each holds one connection permit).
    let all = state.config.limits.max_connections as u32;
    let grace = state.config.limits.command_timeout() + Duration::from_secs(2);
    if tokio::time::timeout(grace, state.connections.acquire_many(all)).await.is_err() {
        tracing::warn!("some sessions did not close in time");
    }
    if !state.engine.drain(state.config.limits.shutdown_drain()).await {
        tracing::warn!("some sends, background tasks or receipts were not finished before the drain deadline");
    }
    if let Some(scraper) = scraper {
        if let Err(e) = scraper.await.map_err(std::io::Error::other).and_then(|r| r) {
            tracing::warn!(error = %e, "the metrics port ended with an error");
        }
    }
    tracing::info!("irisgate stopped");
    Ok(())
}
