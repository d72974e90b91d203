//! The loop of a group-commit worker, shared by the outbound and inbound intakes: take what is
//! queued (up to `max` at a time) and hand it to `commit`, one batch after another, until the
//! shutdown token; then commit everything still queued before returning, so nothing a face was
//! promised is dropped.

use std::future::Future;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Runs `commit` over batches of `rx` until shutdown, then drains `rx` (closed first, so
/// nothing new arrives) in batches of `max`.
pub async fn run<T, F, Fut>(mut rx: mpsc::Receiver<T>, max: usize, shutdown: CancellationToken, mut commit: F)
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = ()>,
{
    let max = max.max(1);
    loop {
        let first = tokio::select! {
            biased;
            p = rx.recv() => match p {
                Some(p) => p,
                None => return,
            },
            _ = shutdown.cancelled() => break,
        };
        let mut batch = vec![first];
        while batch.len() < max {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        commit(batch).await;
    }
    rx.close();
    let mut batch = Vec::new();
    while let Some(p) = rx.recv().await {
        batch.push(p);
        if batch.len() == max {
            commit(std::mem::take(&mut batch)).await;
        }
    }
    if !batch.is_empty() {
        commit(batch).await;
    }
}
