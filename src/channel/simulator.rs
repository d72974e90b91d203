//! The simulator channel: behaves like a WhatsApp / RCS provider with configurable receipt
//! latencies and reserved test numbers (by the last four digits of the national number).
//!
//! | ends in | outcome |
//! |---|---|
//! | 0000 | accepted, then FAILED 131026 "Message undeliverable" |
//! | 0001 | refused: 1002 "Recipient is not reachable on this channel" |
//! | 0002 | accepted, never delivered |
//! | 0003 | delivered, never read |
//! | 0004 | transient provider error twice, then as any other number |
//! | other | accepted → delivered → read |

use std::collections::VecDeque;
use std::time::Duration;

use std::io::Write;

use async_trait::async_trait;
use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::{Channel, Outbound, ReceiptSink, SendResult};
use crate::campaign::RecipientStatus;
use crate::catalog::ChannelDef;
use crate::clock::Clock;
use crate::store::Receipt;

pub const UNDELIVERABLE: u32 = 131026;
pub const UNREACHABLE: u32 = 1002;

/// Receipts due later, in the order they fall due (latencies are constant, so FIFO is sorted).
struct Due {
    at: Instant,
    receipt: Receipt,
}

pub struct Simulator {
    delivered_after: Duration,
    read_after: Duration,
    max_per_second: Option<u32>,
    receipts: ReceiptSink,
    /// Receipts with a latency go to the timer task; immediate ones straight to the sink.
    later: Option<mpsc::Sender<(Duration, Receipt)>>,
    /// Transient failures handed out per message id (test number 0004).
    transient: DashMap<String, u32>,
    /// Message ids already accepted: a repeated id is not sent again (like RBM's messageId).
    accepted: DashMap<String, ()>,
    /// Ids in the ledger (written by this or another process).
    accepted_elsewhere: DashMap<String, ()>,
    /// The ledger file and how much of it this process has read.
    ledger: Option<Mutex<(std::fs::File, u64)>>,
    clock: Clock,
}

impl Simulator {
    pub fn spawn(def: &ChannelDef, receipts: ReceiptSink, clock: Clock, shutdown: CancellationToken) -> Simulator {
        let delivered_after = Duration::from_millis(def.delivered_after_ms);
        let read_after = Duration::from_millis(def.read_after_ms);
        let later = (!delivered_after.is_zero() || !read_after.is_zero()).then(|| {
            let (tx, rx) = mpsc::channel(receipts.max_capacity());
            tokio::spawn(timer(rx, receipts.clone(), clock.clone(), shutdown));
            tx
        });
        let accepted = DashMap::new();
        let ledger = def.ledger.as_ref().and_then(|path| match open_ledger(path, &accepted) {
            Ok(file_and_offset) => Some(Mutex::new(file_and_offset)),
            Err(e) => {
                tracing::error!(path, error = %e, "the simulator ledger cannot be opened; sends are not recorded");
                None
            }
        });
        Simulator {
            delivered_after,
            read_after,
            max_per_second: def.max_per_second,
            receipts,
            later,
            transient: DashMap::new(),
            accepted_elsewhere: accepted.clone(),
            accepted,
            ledger,
            clock,
        }
    }

    /// Records accepted sends (one JSON line each) before they are acknowledged. Several
    /// processes may share the file (nodes on one database): under an exclusive file lock,
    /// lines others appended are read first, and an id already there is not written again.
    fn record(&self, sends: &[&Outbound]) -> std::io::Result<()> {
        let Some(ledger) = &self.ledger else { return Ok(()) };
        let mut guard = ledger.lock();
        let (file, offset) = &mut *guard;
        file.lock()?;
        let result = (|| {
            *offset = read_ledger(file, *offset, &self.accepted_elsewhere)?;
            let time = crate::datetime::iso(self.clock.now()).unwrap_or_default();
            let mut text = String::new();
            for m in sends {
                if self.accepted_elsewhere.contains_key(&m.message_id) {
                    continue;
                }
                let line = serde_json::json!({
                    "message_id": m.message_id, "campaign_id": m.campaign.to_string(),
                    "recipient": m.identity, "time": time,
                });
                text.push_str(&line.to_string());
                text.push('\n');
            }
            file.write_all(text.as_bytes())?;
            file.flush()?;
            *offset = file.metadata()?.len();
            Ok(())
        })();
        let _ = file.unlock();
        result
    }

    async fn emit(&self, after: Duration, receipt: Receipt) {
        match (&self.later, after.is_zero()) {
            (Some(later), false) => {
                let _ = later.send((after, receipt)).await;
            }
            _ => {
                let _ = self.receipts.send(Receipt { at: self.clock.now(), ..receipt }).await;
            }
        }
    }
}

/// Opens (creating) the ledger and loads the ids it already holds; returns the file and the
/// length read.
fn open_ledger(path: &str, accepted: &DashMap<String, ()>) -> std::io::Result<(std::fs::File, u64)> {
    let mut file = std::fs::OpenOptions::new().create(true).read(true).append(true).open(path)?;
    // Under the lock other writers (nodes sharing the file) hold while they write.
    file.lock()?;
    let result = (|| -> std::io::Result<u64> {
        let offset = read_ledger(&mut file, 0, accepted)?;
        if file.metadata()?.len() > offset {
            // A line cut short by a crash was never acknowledged: drop it.
            file.set_len(offset)?;
        }
        Ok(offset)
    })();
    let _ = file.unlock();
    Ok((file, result?))
}

/// Reads whole lines from `offset` on, adding their ids; returns the offset after the last
/// whole line.
fn read_ledger(file: &mut std::fs::File, offset: u64, ids: &DashMap<String, ()>) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len <= offset {
        return Ok(offset);
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::with_capacity((len - offset) as usize);
    Read::by_ref(file).take(len - offset).read_to_end(&mut bytes)?;
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    for line in bytes[..whole].split(|b| *b == b'\n') {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) {
            if let Some(id) = v["message_id"].as_str() {
                ids.insert(id.to_owned(), ());
            }
        }
    }
    Ok(offset + whole as u64)
}

fn receipt(message_id: &str, status: RecipientStatus, reason: u32) -> Receipt {
    Receipt { message_id: message_id.to_owned(), status, at: 0, reason }
}

#[async_trait]
impl Channel for Simulator {
    async fn send(&self, batch: &[Outbound]) -> Vec<SendResult> {
        let mut results = Vec::with_capacity(batch.len());
        let mut fresh: Vec<&Outbound> = Vec::new();
        for m in batch {
            let id = m.message_id.as_str();
            let accepted = || SendResult::Accepted { provider_id: id.to_owned() };
            let (delivered, read) = (self.delivered_after, self.read_after.max(self.delivered_after));
            let last_four = m.phone.national_number() % 10_000;
            if last_four == 1 {
                results.push(SendResult::Failed {
                    code: UNREACHABLE,
                    description: "Recipient is not reachable on this channel".into(),
                });
                continue;
            }
            if last_four == 4 {
                let mut failures = self.transient.entry(id.to_owned()).or_insert(0);
                if *failures < 2 {
                    *failures += 1;
                    results.push(SendResult::Transient("Simulated transient provider error".into()));
                    continue;
                }
            }
            // A repeated id is acknowledged (and its receipts repeated) but not sent again.
            if self.accepted.insert(id.to_owned(), ()).is_none() {
                fresh.push(m);
            }
            match last_four {
                0 => self.emit(delivered, receipt(id, RecipientStatus::Failed, UNDELIVERABLE)).await,
                2 => {}
                3 => self.emit(delivered, receipt(id, RecipientStatus::Received, 0)).await,
                _ => {
                    self.emit(delivered, receipt(id, RecipientStatus::Received, 0)).await;
                    self.emit(read, receipt(id, RecipientStatus::Read, 0)).await;
                }
            }
            results.push(accepted());
        }
        if let Err(e) = self.record(&fresh) {
            // Not acknowledged: the dispatcher retries these as transient failures.
            tracing::error!(error = %e, "the simulator ledger cannot be written");
            for m in &fresh {
                self.accepted.remove(&m.message_id);
            }
            let failed: std::collections::HashSet<&str> = fresh.iter().map(|m| m.message_id.as_str()).collect();
            for (m, r) in batch.iter().zip(results.iter_mut()) {
                if failed.contains(m.message_id.as_str()) {
                    *r = SendResult::Transient(format!("ledger write failed: {e}"));
                }
            }
        }
        results
    }

    fn max_per_second(&self) -> Option<u32> {
        self.max_per_second
    }

    fn deduplicates(&self) -> bool {
        true
    }
}

/// Emits delayed receipts when due. Two FIFO queues (one per latency) stay sorted by due time.
async fn timer(
    mut rx: mpsc::Receiver<(Duration, Receipt)>,
    sink: ReceiptSink,
    clock: Clock,
    shutdown: CancellationToken,
) {
    let mut queues: Vec<(Duration, VecDeque<Due>)> = Vec::new();
    loop {
        let next = queues.iter().filter_map(|(_, q)| q.front().map(|d| d.at)).min();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            msg = rx.recv() => match msg {
                Some((after, receipt)) => {
                    let due = Due { at: Instant::now() + after, receipt };
                    match queues.iter_mut().find(|(d, _)| *d == after) {
                        Some((_, q)) => q.push_back(due),
                        None => queues.push((after, VecDeque::from([due]))),
                    }
                }
                None => return,
            },
            _ = sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                let now = Instant::now();
                for (_, q) in queues.iter_mut() {
                    while q.front().is_some_and(|d| d.at <= now) {
                        let due = q.pop_front().expect("front checked");
                        let at = clock.now();
                        if sink.send(Receipt { at, ..due.receipt }).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}
