//! The receipt recorder: drains channel receipts in batches into the store.

use std::sync::Arc;

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
            if let Err(e) = store.apply_receipts(&batch).await {
                tracing::error!(error = %e, receipts = batch.len(), "receipts could not be recorded");
            }
            batch.clear();
        }
    });
    tx
}
