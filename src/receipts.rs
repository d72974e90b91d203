//! The receipt recorder: drains channel receipts in batches into the store.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::store::{Receipt, Store};

/// Spawns the worker; returns the sink channels send receipts to.
pub fn spawn(store: Arc<dyn Store>, capacity: usize, shutdown: CancellationToken) -> mpsc::Sender<Receipt> {
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
                        let _ = store.apply_receipts(&batch).await;
                    }
                    return;
                }
            };
            if n == 0 {
                return;
            }
            record(store.as_ref(), &batch, &shutdown).await;
            batch.clear();
        }
    });
    tx
}

/// Attempts per batch before its receipts are given up (and logged).
const ATTEMPTS: u32 = 5;

/// Records a batch, retrying a failed write (a PostgreSQL deadlock or a busy SQLite file
/// resolves on a second try) so that a transient error does not lose receipts.
async fn record(store: &dyn Store, batch: &[Receipt], shutdown: &CancellationToken) {
    let mut wait = Duration::from_millis(20);
    for attempt in 1..=ATTEMPTS {
        match store.apply_receipts(batch).await {
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
