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
//! | 0005 | read, then the person replies `Quero saber mais` |
//! | 0006 | read, then the person replies `SAIR` (opts out) |
//! | 0007 | read, then the person replies with an image |
//! | 0008 | read, then the person taps the template's first quick-reply button |
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

use super::ledger::{open_ledger, read_ledger, RecentIds};
use super::{Channel, Outbound, ReceiptSink, SendResult};
use crate::campaign::RecipientStatus;
use crate::catalog::ChannelDef;
use crate::clock::Clock;
use crate::shutdown::Background;
use crate::store::Receipt;

pub const UNDELIVERABLE: u32 = 131026;
pub const UNREACHABLE: u32 = 1002;
/// WhatsApp's refusal of a free-form message outside the 24 h window, with its title.
pub const OUTSIDE_WINDOW: u32 = 131047;
const OUTSIDE_WINDOW_TITLE: &str =
    "Re-engagement message: more than 24 hours have passed since the customer last replied";

/// Message ids the simulator remembers as accepted (per channel), and, from the ledger, as
/// written by any process. A repeated id matters in one window: a send repeated by the
/// dispatcher (a retry, a re-send of SENDING recipients after a restart or a lease
/// take-over), which comes within one or two dispatch batches (`campaigns.dispatch_batch`,
/// 1,024 by default) per running campaign of the most recent sends. 65,536 covers that for
/// dozens of campaigns sending through one channel at once, at a few MB at most, instead of
/// growing with every send for the life of the process.
pub const REMEMBERED_IDS: usize = 65_536;

/// Receipts due later, in the order they fall due (latencies are constant, so FIFO is sorted).
struct Due {
    at: Instant,
    receipt: Receipt,
}

pub struct Simulator {
    delivered_after: Duration,
    read_after: Duration,
    max_per_second: Option<u32>,
    /// A WhatsApp channel (the 24 h window applies to free-form messages).
    whatsapp: bool,
    receipts: ReceiptSink,
    /// Receipts with a latency go to the timer task; immediate ones straight to the sink.
    later: Option<mpsc::Sender<(Duration, Receipt)>>,
    /// Transient failures handed out per message id (test number 0004).
    transient: DashMap<String, u32>,
    /// Message ids recently accepted: a repeated id is not sent again (like RBM's messageId).
    accepted: Mutex<RecentIds>,
    /// Ids recently in the ledger (written by this or another process).
    accepted_elsewhere: Mutex<RecentIds>,
    /// The ledger file and how much of it this process has read.
    ledger: Option<Mutex<(std::fs::File, u64)>>,
    clock: Clock,
    counted: Counted,
    /// Where the simulated people's replies go (numbers 0005–0008), with what they need.
    people: Option<super::people::People>,
}

/// Counts the receipts this simulator hands over (`irisgate_receipts_total`).
#[derive(Clone)]
pub struct Counted {
    pub metrics: crate::metrics::Metrics,
    pub tenant: String,
    pub channel: String,
}

impl Counted {
    fn count(&self, receipt: &Receipt) {
        let status = match receipt.status {
            RecipientStatus::Received => "received",
            RecipientStatus::Read => "read",
            RecipientStatus::Failed => "failed",
            _ => return,
        };
        self.metrics.receipt(&self.tenant, &self.channel, status);
    }
}

impl Simulator {
    /// A simulator for `def`; its timer task (receipts with a latency) runs on `background`.
    pub fn spawn(
        def: &ChannelDef,
        receipts: ReceiptSink,
        clock: Clock,
        background: &Background,
        counted: Counted,
    ) -> Simulator {
        Simulator::remembering(REMEMBERED_IDS, def, receipts, clock, background, counted)
    }

    /// [`Simulator::spawn`], remembering `capacity` ids.
    fn remembering(
        capacity: usize,
        def: &ChannelDef,
        receipts: ReceiptSink,
        clock: Clock,
        background: &Background,
        counted: Counted,
    ) -> Simulator {
        let delivered_after = Duration::from_millis(def.delivered_after_ms);
        let read_after = Duration::from_millis(def.read_after_ms);
        let later = (!delivered_after.is_zero() || !read_after.is_zero()).then(|| {
            let (tx, rx) = mpsc::channel(receipts.max_capacity());
            background.tasks.spawn(timer(
                rx,
                receipts.clone(),
                clock.clone(),
                background.flush.clone(),
                counted.clone(),
            ));
            tx
        });
        let mut accepted = RecentIds::new(capacity);
        let ledger = def.ledger.as_ref().and_then(|path| match open_ledger(path, &mut accepted) {
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
            whatsapp: def.channel_type == crate::campaign::ChannelType::WhatsApp,
            receipts,
            later,
            transient: DashMap::new(),
            accepted_elsewhere: Mutex::new(accepted.clone()),
            accepted: Mutex::new(accepted),
            ledger,
            clock,
            counted,
            people: None,
        }
    }

    /// Lets the simulated people of `def` (numbers 0005–0008) reply into `sink`.
    pub fn with_people(
        mut self,
        tenant: &str,
        def: &ChannelDef,
        sink: crate::conversation::inbound::InboundSink,
        background: &Background,
    ) -> Simulator {
        self.people = Some(super::people::People::new(tenant, def, sink, background));
        self
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
            let mut elsewhere = self.accepted_elsewhere.lock();
            *offset = read_ledger(file, *offset, &mut elsewhere)?;
            let time = crate::datetime::iso(self.clock.now()).unwrap_or_default();
            let mut text = String::new();
            for m in sends {
                if elsewhere.contains(&m.message_id) {
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
                if later.send((after, receipt)).await.is_err() {
                    tracing::warn!("a simulated receipt was dropped: the channel's timer ended at shutdown");
                }
            }
            _ => {
                self.counted.count(&receipt);
                if self.receipts.send(Receipt { at: self.clock.now(), ..receipt }).await.is_err() {
                    tracing::warn!("a simulated receipt was dropped: the receipt recorder ended at shutdown");
                }
            }
        }
    }
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
            if m.conversation.as_deref().is_some_and(|c| self.whatsapp && c.outside_window(self.clock.now())) {
                results.push(SendResult::Failed { code: OUTSIDE_WINDOW, description: OUTSIDE_WINDOW_TITLE.into() });
                continue;
            }
            if last_four == 1 {
                results.push(SendResult::Failed {
                    code: UNREACHABLE,
                    description: "Recipient is not reachable on this channel".into(),
                });
                continue;
            }
            if last_four == 4 && !self.accepted.lock().contains(id) {
                let mut failures = self.transient.entry(id.to_owned()).or_insert(0);
                if *failures < 2 {
                    *failures += 1;
                    results.push(SendResult::Transient("Simulated transient provider error".into()));
                    continue;
                }
            }
            // A repeated id is acknowledged (and its receipts repeated) but not sent again.
            let new = self.accepted.lock().insert(id);
            if new {
                fresh.push(m);
                // Its transient failures are over: forget them (the map stays as small as
                // the sends being retried).
                self.transient.remove(id);
            }
            match last_four {
                0 => self.emit(delivered, receipt(id, RecipientStatus::Failed, UNDELIVERABLE)).await,
                2 => {}
                3 => self.emit(delivered, receipt(id, RecipientStatus::Received, 0)).await,
                _ => {
                    self.emit(delivered, receipt(id, RecipientStatus::Received, 0)).await;
                    self.emit(read, receipt(id, RecipientStatus::Read, 0)).await;
                    if let (true, Some(people)) = (new, &self.people) {
                        people.reply(m, last_four, read, &self.clock);
                    }
                }
            }
            results.push(accepted());
        }
        if let Err(e) = self.record(&fresh) {
            // Not acknowledged: the dispatcher retries these as transient failures.
            tracing::error!(error = %e, "the simulator ledger cannot be written");
            let mut accepted = self.accepted.lock();
            for m in &fresh {
                accepted.remove(&m.message_id);
            }
            drop(accepted);
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
///
/// At shutdown (`flush`, cancelled once the dispatcher's workers are done, so no send adds
/// more) every receipt still held is delivered at once, stamped with the time it falls due:
/// a real provider goes on delivering and reading while the gateway is down and reports it
/// afterwards, so the recipients end as they would have; dropping them would leave them
/// PROCESSED for good, since a restarted simulator does not know them.
async fn timer(
    mut rx: mpsc::Receiver<(Duration, Receipt)>,
    sink: ReceiptSink,
    clock: Clock,
    flush: CancellationToken,
    counted: Counted,
) {
    let mut queues: Vec<(Duration, VecDeque<Due>)> = Vec::new();
    let push = |queues: &mut Vec<(Duration, VecDeque<Due>)>, after: Duration, receipt: Receipt| {
        let due = Due { at: Instant::now() + after, receipt };
        match queues.iter_mut().find(|(d, _)| *d == after) {
            Some((_, q)) => q.push_back(due),
            None => queues.push((after, VecDeque::from([due]))),
        }
    };
    loop {
        let next = queues.iter().filter_map(|(_, q)| q.front().map(|d| d.at)).min();
        tokio::select! {
            _ = flush.cancelled() => break,
            msg = rx.recv() => match msg {
                Some((after, receipt)) => push(&mut queues, after, receipt),
                None => break,
            },
            _ = sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                let now = Instant::now();
                for (_, q) in queues.iter_mut() {
                    while q.front().is_some_and(|d| d.at <= now) {
                        let due = q.pop_front().expect("front checked");
                        let at = clock.now();
                        counted.count(&due.receipt);
                        if sink.send(Receipt { at, ..due.receipt }).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
    rx.close();
    while let Ok((after, receipt)) = rx.try_recv() {
        push(&mut queues, after, receipt);
    }
    let mut held: Vec<Due> = queues.into_iter().flat_map(|(_, q)| q).collect();
    held.sort_by_key(|d| d.at);
    if held.is_empty() {
        return;
    }
    tracing::info!(receipts = held.len(), "simulated receipts not due yet delivered at shutdown");
    let now = Instant::now();
    let wall = clock.now();
    for due in held {
        let at = wall + due.at.saturating_duration_since(now).as_millis() as i64;
        counted.count(&due.receipt);
        if sink.send(Receipt { at, ..due.receipt }).await.is_err() {
            tracing::warn!("simulated receipts dropped at shutdown: the receipt recorder ended first");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::ChannelType;
    use crate::phone::Phone;

    fn message(i: usize) -> Outbound {
        // Numbers ending in 5000..9999: none is a test number.
        let phone = Phone::from_u64(5531_9900_5000 + (i as u64 % 5000)).unwrap();
        Outbound {
            message_id: format!("m{i}"),
            campaign: uuid::Uuid::nil(),
            seq: i as u32,
            phone,
            identity: format!("{}@wa.gw.msging.net", phone.digits()),
            template: None,
            template_def: None,
            parameters: Vec::new(),
            text: Some("hi".into()),
            conversation: None,
        }
    }

    fn simulator(capacity: usize, ledger: &std::path::Path) -> Simulator {
        let def = ChannelDef {
            id: "c".into(),
            channel_type: ChannelType::WhatsApp,
            provider: "simulator".into(),
            default: true,
            name: "c".into(),
            delivered_after_ms: 0,
            read_after_ms: 0,
            max_per_second: None,
            ledger: Some(ledger.display().to_string()),
            created: 0,
        };
        let (sink, mut rx) = mpsc::channel(1024);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let counted = Counted { metrics: crate::metrics::Metrics::disabled(), tenant: "t".into(), channel: "c".into() };
        Simulator::remembering(capacity, &def, sink, Clock::new(), &Background::default(), counted)
    }

    fn lines(ledger: &std::path::Path) -> usize {
        std::fs::read_to_string(ledger).unwrap().lines().count()
    }

    /// Issue 14, point 10: the accepted-id sets grew with every send.
    #[tokio::test]
    async fn remembered_ids_stay_bounded_and_recent_ids_are_not_sent_twice() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger.jsonl");
        let (bound, sends) = (500, 20_000);
        let sim = simulator(bound, &ledger);
        let all: Vec<Outbound> = (0..sends).map(message).collect();
        for batch in all.chunks(250) {
            sim.send(batch).await;
        }
        assert_eq!(lines(&ledger), sends);
        let held = |s: &Simulator| (s.accepted.lock().len(), s.accepted_elsewhere.lock().len());
        let ((ids, order), (elsewhere, _)) = held(&sim);
        assert!(ids <= bound && order <= 2 * bound && elsewhere <= bound, "{ids} / {order} / {elsewhere}");
        // The last sends repeated (a crash re-send): acknowledged, not sent again.
        let recent = &all[sends - bound..];
        let again = sim.send(recent).await;
        assert!(again.iter().all(|r| matches!(r, SendResult::Accepted { .. })), "{again:?}");
        assert_eq!(lines(&ledger), sends, "a recent id is not sent twice");
        // After a restart the ledger's most recent ids are known, and only those.
        let restarted = simulator(bound, &ledger);
        assert_eq!(held(&restarted).0 .0, bound);
        restarted.send(recent).await;
        assert_eq!(lines(&ledger), sends, "a re-send after a restart is not sent twice");
    }
}
