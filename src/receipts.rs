//! The receipt recorder: drains channel receipts in batches into the store.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::store::{Receipt, Store};

/// Spawns the worker; returns the sink channels send receipts to.
pub fn spawn(store: Arc<dyn Store>, capacity: usize, shutdown: CancellationToken) -> mpsc::Sender<Receipt> {
    spawn_until(store, capacity, shutdown)
}

fn spawn_until(store: impl Writer, capacity: usize, shutdown: CancellationToken) -> mpsc::Sender<Receipt> {
    let (tx, mut rx) = mpsc::channel::<Receipt>(capacity);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(4096);
        loop {
            let n = tokio::select! {
                n = rx.recv_many(&mut batch, 4096) => n,
                _ = shutdown.cancelled() => {
                    // Record what already arrived before stopping.
                    while let Ok(r) = rx.try_recv() {
                        batch.push(r);
                    }
                    if !batch.is_empty() {
                        let _ = store.write(&batch).await;
                    }
                    return;
                }
            };
            if n == 0 {
                return;
            }
            record(&store, &batch, &shutdown).await;
            batch.clear();
        }
    });
    tx
}

/// Where receipts are written: the store. A trait of its own so that the retries can be
/// tested against a writer that fails on demand.
#[async_trait]
trait Writer: Send + Sync + 'static {
    async fn write(&self, receipts: &[Receipt]) -> Result<u64>;
}

#[async_trait]
impl Writer for Arc<dyn Store> {
    async fn write(&self, receipts: &[Receipt]) -> Result<u64> {
        self.apply_receipts(receipts).await
    }
}

/// Attempts per batch before its receipts are given up (and logged).
const ATTEMPTS: u32 = 5;

/// Records a batch, retrying a failed write (a PostgreSQL deadlock or a busy SQLite file
/// resolves on a second try) so that a transient error does not lose receipts.
async fn record(store: &impl Writer, batch: &[Receipt], shutdown: &CancellationToken) {
    let mut wait = Duration::from_millis(20);
    for attempt in 1..=ATTEMPTS {
        match store.write(batch).await {
            Ok(_) => return,
            Err(e) if attempt < ATTEMPTS && !shutdown.is_cancelled() => {
                tracing::warn!(error = %e, attempt, receipts = batch.len(), "receipts not recorded yet; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => {
                tracing::error!(error = %e, receipts = batch.len(), "receipts could not be recorded");
                return;
            }
        }
    }
}
