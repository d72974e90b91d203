//! The deliverer: a tracked worker that reads each webhook's pending deliveries from the outbox,
//! POSTs them signed, and writes what happened. A recipient's events go one after another (the
//! next waits until the previous one is delivered or failed); different recipients go at once
//! (`webhooks.concurrency`). A failure is retried with capped, jittered exponential backoff until
//! `webhooks.retry_for_ms` after the first attempt, then marked failed. Dispatch never waits for
//! it: the stores only add rows, this worker alone talks to receivers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::outbox::{Delivery, DeliveryState, Webhook};
use super::url_policy::{self, Checked};
use super::{body, signer};
use crate::clock::Clock;
use crate::config::WebhookSettings;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::reasons::Reasons;
use crate::shutdown::Background;
use crate::store::Store;

/// What the worker needs.
#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn Store>,
    pub settings: WebhookSettings,
    pub clock: Clock,
    pub metrics: Metrics,
    pub reasons: Arc<Reasons>,
}

/// The handle: wakes the worker before its next poll (a replay, a new webhook).
#[derive(Clone)]
pub struct Deliverer {
    wake: Arc<Notify>,
}

impl Deliverer {
    /// Spawns the worker among the engine's background tasks; it ends on the shutdown token,
    /// after writing what the attempts in flight did.
    pub fn spawn(ctx: Context, background: &Background) -> Deliverer {
        let wake = Arc::new(Notify::new());
        background.tasks.spawn(run(ctx, wake.clone(), background.shutdown.clone()));
        Deliverer { wake }
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// How often the outbox is trimmed to `webhooks.max_pending`. Trimming walks a webhook's
/// pending rows (up to that many), so doing it every round made a backlog cost as much as it
/// held (bench_callbacks); an outbox may run over by what arrives in this time.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// A client pinned to the addresses the policy checked, with that check.
type Pinned = (Checked, reqwest::Client);

/// What the worker keeps between rounds.
#[derive(Default)]
struct Rounds {
    /// Each webhook's client, kept while its URL resolves to the same checked addresses, so a
    /// busy webhook keeps its connections open (a new client per round reconnected each time).
    clients: HashMap<uuid::Uuid, Pinned>,
    trimmed: Option<tokio::time::Instant>,
}

async fn run(ctx: Context, wake: Arc<Notify>, shutdown: CancellationToken) {
    let every = Duration::from_millis(ctx.settings.poll_ms);
    let mut rounds = Rounds::default();
    loop {
        let busy = match pass(&ctx, &mut rounds, &shutdown).await {
            Ok(busy) => busy,
            Err(e) => {
                tracing::warn!(error = %e, "status callbacks: the outbox could not be read or written; retrying");
                false
            }
        };
        if shutdown.is_cancelled() {
            return;
        }
        if !busy {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
                _ = wake.notified() => {}
            }
        }
    }
}

/// One round over every webhook; true when something was attempted (more may be due).
async fn pass(ctx: &Context, rounds: &mut Rounds, shutdown: &CancellationToken) -> Result<bool> {
    let hooks = ctx.store.webhooks(None).await?;
    let now = tokio::time::Instant::now();
    let trim = rounds.trimmed.is_none_or(|at| now.duration_since(at) >= TRIM_EVERY);
    if trim {
        rounds.trimmed = Some(now);
    }
    let mut clients = std::mem::take(&mut rounds.clients);
    let results =
        futures_util::future::join_all(hooks.iter().map(|h| round(ctx, h, clients.remove(&h.id), trim, shutdown)))
            .await;
    // Webhooks deleted since are not put back; a failed round keeps nothing (built again).
    let mut busy = false;
    for (h, r) in hooks.iter().zip(results) {
        let (attempted, client) = r?;
        busy |= attempted;
        if let Some(client) = client {
            rounds.clients.insert(h.id, client);
        }
    }
    Ok(busy)
}

/// Where a webhook's POSTs go this round: a client pinned to the addresses the policy checked,
/// or why the URL is refused now (its host may resolve elsewhere than at creation).
type Target = std::result::Result<(reqwest::Client, reqwest::Url), String>;

async fn target(settings: &WebhookSettings, hook: &Webhook, cached: &mut Option<Pinned>) -> Target {
    let checked = url_policy::check(settings, &hook.url).await.map_err(|e| e.client_message())?;
    if let Some((before, client)) = cached.as_ref() {
        if *before == checked {
            return Ok((client.clone(), checked.url));
        }
    }
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy();
    if !checked.addrs.is_empty() {
        builder = builder.resolve_to_addrs(&checked.host, &checked.addrs);
    }
    let client = builder.build().map_err(|e| format!("HTTP client: {e}"))?;
    *cached = Some((checked.clone(), client.clone()));
    Ok((client, checked.url))
}

/// One webhook's round: the oldest drops past `max_pending` (when `trim`), then its due events.
/// Returns whether something was attempted, and the client to keep for the next round.
async fn round(
    ctx: &Context,
    hook: &Webhook,
    mut client: Option<Pinned>,
    trim: bool,
    shutdown: &CancellationToken,
) -> Result<(bool, Option<Pinned>)> {
    let dropped = if trim { ctx.store.trim_deliveries(hook.id, ctx.settings.max_pending).await? } else { 0 };
    if dropped > 0 {
        tracing::warn!(webhook = %hook.id, dropped, "status callbacks over webhooks.max_pending: the oldest dropped");
        ctx.metrics.callbacks(&hook.tenant, "dropped", dropped);
    }
    let due = ctx.store.pending_deliveries(hook.id, ctx.settings.batch).await?;
    let chains = chains(due, ctx.clock.now());
    if chains.is_empty() {
        return Ok((false, client));
    }
    let target = target(&ctx.settings, hook, &mut client).await;
    let done: Vec<Vec<Delivery>> = stream::iter(chains)
        .map(|chain| deliver_chain(ctx, hook, &target, chain, shutdown))
        .buffer_unordered(ctx.settings.concurrency)
        .collect()
        .await;
    let written: Vec<Delivery> = done.into_iter().flatten().collect();
    let attempted = !written.is_empty();
    // One transaction for the round: a crash before it sends these again (at least once).
    ctx.store.update_deliveries(&written).await?;
    Ok((attempted, client))
}

/// Groups due deliveries by recipient, in outbox order. A recipient whose earliest pending event
/// is not due yet gets nothing this round (its later events wait behind it).
fn chains(pending: Vec<Delivery>, now: i64) -> Vec<Vec<Delivery>> {
    let mut blocked = HashSet::new();
    let mut index: HashMap<_, usize> = HashMap::new();
    let mut chains: Vec<Vec<Delivery>> = Vec::new();
    for d in pending {
        let key = d.key();
        if blocked.contains(&key) {
            continue;
        }
        if d.next_at > now {
            blocked.insert(key);
            continue;
        }
        match index.get(&key) {
            Some(&i) => chains[i].push(d),
            None => {
                index.insert(key, chains.len());
                chains.push(vec![d]);
            }
        }
    }
    chains
}

/// A recipient's due events one after another, stopping at the first that is not delivered.
/// Returns the deliveries attempted, as they are now.
async fn deliver_chain(
    ctx: &Context,
    hook: &Webhook,
    target: &Target,
    chain: Vec<Delivery>,
    shutdown: &CancellationToken,
) -> Vec<Delivery> {
    let mut out = Vec::with_capacity(chain.len());
    for mut d in chain {
        let Some(delivered) = attempt(ctx, hook, target, &mut d, shutdown).await else { break };
        out.push(d);
        if !delivered {
            break;
        }
    }
    out
}

/// One POST. `None`: cut short by shutdown (nothing to record); else whether it was delivered.
async fn attempt(
    ctx: &Context,
    hook: &Webhook,
    target: &Target,
    d: &mut Delivery,
    shutdown: &CancellationToken,
) -> Option<bool> {
    if shutdown.is_cancelled() {
        return None;
    }
    let now = ctx.clock.now();
    let outcome: std::result::Result<u16, (Option<u16>, String)> = match target {
        Err(refused) => Err((None, refused.clone())),
        Ok((client, url)) => {
            let body = body::render(&d.event, &ctx.reasons);
            let signature = signer::signature(hook.secret.expose().as_bytes(), now.div_euclid(1000), &body);
            let send = client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("x-irisgate-event-id", d.event.id.to_string())
                .header("x-irisgate-signature", signature)
                .timeout(Duration::from_millis(ctx.settings.timeout_ms))
                .body(body)
                .send();
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                sent = send => match sent {
                    Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
                    Ok(r) => Err((Some(r.status().as_u16()), format!("HTTP {}", r.status().as_u16()))),
                    Err(e) if e.is_timeout() => Err((None, format!("no answer within {} ms", ctx.settings.timeout_ms))),
                    Err(e) if e.is_connect() => Err((None, "the connection failed".into())),
                    Err(_) => Err((None, "the request failed".into())),
                },
            }
        }
    };
    if d.first_at == 0 {
        d.first_at = now;
    }
    d.attempts += 1;
    match outcome {
        Ok(code) => {
            ctx.metrics.callback_attempt("ok");
            ctx.metrics.callbacks(&hook.tenant, "delivered", 1);
            d.state = DeliveryState::Delivered;
            d.last_code = Some(code);
            d.last_error = None;
            Some(true)
        }
        Err((code, error)) => {
            ctx.metrics.callback_attempt("error");
            d.last_code = code;
            d.last_error = Some(error);
            if now - d.first_at >= ctx.settings.retry_for_ms as i64 {
                d.state = DeliveryState::Failed;
                ctx.metrics.callbacks(&hook.tenant, "failed", 1);
                tracing::info!(webhook = %hook.id, event = %d.event.id, attempts = d.attempts, "status callback failed");
            } else {
                d.next_at = now + backoff(&ctx.settings, d.attempts) as i64;
            }
            Some(false)
        }
    }
}

/// The wait after the `attempts`-th failure: `first_backoff_ms` doubled per attempt, capped at
/// `max_backoff_ms`, jittered between half and all of it (receivers that fail together do not
/// retry together).
fn backoff(settings: &WebhookSettings, attempts: u32) -> u64 {
    let doubled = settings.first_backoff_ms.saturating_mul(1u64 << attempts.saturating_sub(1).min(40));
    let cap = doubled.min(settings.max_backoff_ms);
    cap / 2 + fastrand::u64(0..=cap - cap / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::outbox::Event;
    use crate::campaign::RecipientStatus;
    use uuid::Uuid;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let s = WebhookSettings { first_backoff_ms: 100, max_backoff_ms: 1_000, ..WebhookSettings::default() };
        for _ in 0..100 {
            assert!((50..=100).contains(&backoff(&s, 1)));
            assert!((100..=200).contains(&backoff(&s, 2)));
            assert!((500..=1_000).contains(&backoff(&s, 5)));
            assert!((500..=1_000).contains(&backoff(&s, 500)));
        }
    }

    #[test]
    fn a_recipient_waits_behind_its_earlier_event() {
        let c = Uuid::nil();
        let d = |order, seq, next_at| {
            let mut d =
                Delivery::new(order, c, Event::recipient(c, seq, 1, RecipientStatus::Processed, 0, 0).expect("told"));
            d.next_at = next_at;
            d
        };
        // Recipient 1: first event not due → its second waits. Recipient 2: both go, in order.
        let got = chains(vec![d(1, 1, 500), d(2, 2, 0), d(3, 1, 0), d(4, 2, 0)], 100);
        let orders: Vec<Vec<i64>> = got.iter().map(|c| c.iter().map(|d| d.order).collect()).collect();
        assert_eq!(orders, vec![vec![2, 4]]);
    }
}
