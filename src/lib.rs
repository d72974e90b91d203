//! Irisgate: a campaign gateway that speaks BLiP's LIME protocol over WebSocket and HTTP.
//!
//! Module map:
//! - [`config`]: the TOML configuration, its defaults and validation.
//! - [`tenant`]: workspaces and their credentials.
//! - [`state`]: the shared, cheap-to-clone state handle.
//! - [`app`]: the HTTP application (every path of the port).
//! - [`transport`]: WebSocket sessions (`ws`) and `POST /commands` (`http`).
//! - [`router`]: the one routing table both transports call.
//! - [`handlers`]: command handlers, one file per URI family.
//! - [`caller`], [`reply`], [`error`]: what handlers take and return.
//! - [`trace`]: `traceparent` metadata.
//! - [`phone`]: recipient phone numbers → E.164 (libphonenumber), channel identities.
//! - [`shutdown`]: turning SIGINT/SIGTERM into the shutdown token.

// Axum responses are the natural error type of HTTP extraction helpers.
#![allow(clippy::result_large_err)]

pub mod app;
pub mod caller;
pub mod config;
pub mod error;
pub mod handlers;
pub mod phone;
pub mod reply;
pub mod router;
pub mod shutdown;
pub mod state;
pub mod tenant;
pub mod trace;
pub mod transport;

use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use state::AppState;

/// Serves `config` on `listener` until `shutdown` is cancelled, then stops accepting,
/// lets in-flight commands finish and closes every session with `finished`.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let state = AppState::new(config, shutdown.clone());
    let app = app::router(state.clone());
    tracing::info!(%addr, "irisgate listening");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await?;
    // Upgraded WebSocket connections are not tracked by the HTTP server: wait for the
    // sessions to close themselves (each holds one connection permit).
    let all = state.config.limits.max_connections as u32;
    let grace = state.config.limits.command_timeout() + Duration::from_secs(2);
    if tokio::time::timeout(grace, state.connections.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("some sessions did not close in time");
    }
    tracing::info!("irisgate stopped");
    Ok(())
}
