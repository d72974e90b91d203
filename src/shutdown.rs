//! SIGINT / SIGTERM → the one shutdown token; [`Background`], where the engine's background
//! tasks run so that shutdown can wait for them.

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The engine's background tasks (scheduler, lease claimer, channel timers), tracked so that
/// shutdown drains them within a bounded time (`limits.shutdown_drain_ms`). They stop on the
/// shutdown token; those holding work for others (a channel's receipts not yet due) hand it
/// over and end when `flush` is cancelled, which shutdown does once the dispatcher's workers,
/// which feed them, are done.
#[derive(Clone, Default)]
pub struct Background {
    pub tasks: TaskTracker,
    /// The process's shutdown token.
    pub shutdown: CancellationToken,
    pub flush: CancellationToken,
}

/// Cancels `token` on the first SIGINT or SIGTERM. The handlers are installed before this
/// returns, so a signal that arrives right after cannot end the process ungracefully.
/// Must be called inside the runtime.
pub fn on_signals(token: CancellationToken) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
                _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
            }
            token.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("interrupt received, shutting down");
        token.cancel();
    });
    Ok(())
}
