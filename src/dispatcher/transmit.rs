//! Handing messages to the channel: retries of transient failures with capped, jittered
//! backoff, and waits while the channel is down (its provider refused the credentials).

use std::time::Duration;

use tokio::time::Instant;

use super::handle::Signals;
use super::prepare::Plan;
use super::send::Sent;
use super::Inner;
use crate::campaign::Recipient;
use crate::channel::{Channel, Health, Outbound, SendResult};
use crate::reasons;

/// Waits while the channel is down (its provider refused the credentials), giving way to a
/// pause or cancel; false when the run must stop. Nothing is marked SENDING meanwhile, so
/// the campaign's recipients stay PENDING.
pub(super) async fn ready(channel: &dyn Channel, signals: &mut Signals) -> bool {
    let mut logged = false;
    while let Health::Down(why) = channel.health() {
        if !logged {
            tracing::warn!(why, "the channel is in error state: sends wait until it recovers");
            logged = true;
        }
        if !signals.sleep_until(Instant::now() + HEALTH_RECHECK).await && !signals.proceed().await {
            return false;
        }
    }
    true
}

/// How often a run waiting for its channel looks at its health again (the channel's own
/// probe decides when it is back).
const HEALTH_RECHECK: Duration = Duration::from_secs(1);

/// Hands a batch to the channel, retrying transient failures with capped, jittered backoff.
/// A message the channel refused because it is down is not an attempt: it waits for the
/// channel (a shutdown or cancel meanwhile leaves it SENDING, as a crash would).
pub(super) async fn transmit(
    inner: &Inner,
    plan: &Plan,
    channel: &dyn Channel,
    signals: &mut Signals,
    batch: Vec<(Recipient, Outbound)>,
) -> Vec<Sent> {
    let (recipients, messages): (Vec<Recipient>, Vec<Outbound>) = batch.into_iter().unzip();
    let mut results: Vec<Option<SendResult>> = vec![None; messages.len()];
    let mut pending: Vec<usize> = (0..messages.len()).collect();
    let settings = &inner.settings;
    let mut backoff = Duration::from_millis(settings.retry_backoff_ms);
    let cap = Duration::from_millis(settings.retry_backoff_max_ms);
    let mut attempt = 1;
    while attempt <= settings.send_attempts && !pending.is_empty() {
        let to_send: Vec<Outbound> = pending.iter().map(|&i| messages[i].clone()).collect();
        let asked = std::time::Instant::now();
        let got = channel.send(&to_send).await;
        count(inner, plan, &got, asked.elapsed());
        let last = attempt == settings.send_attempts;
        let (mut still, mut down, mut wait) = (Vec::new(), false, Duration::ZERO);
        for (&i, result) in pending.iter().zip(got) {
            let id = &messages[i].message_id;
            match result {
                SendResult::Down(why) => {
                    tracing::debug!(message = %id, why, "the channel is down: the message waits for it");
                    down = true;
                    still.push(i);
                }
                SendResult::Transient(why) | SendResult::Later { why, .. } if last => {
                    tracing::warn!(message = %id, why, "send failed after every attempt");
                    results[i] = Some(SendResult::Failed { code: reasons::PROVIDER_UNAVAILABLE, description: why });
                }
                SendResult::Transient(why) => {
                    tracing::debug!(message = %id, attempt, why, "transient send failure, will retry");
                    still.push(i);
                }
                SendResult::Later { after, why } => {
                    tracing::debug!(message = %id, attempt, why, ?after, "provider asks to retry later");
                    wait = wait.max(after);
                    still.push(i);
                }
                other => results[i] = Some(other),
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if down {
            // Whatever else failed goes again with the held messages once the channel is back.
            if !ready(channel, signals).await {
                break;
            }
            continue;
        }
        tokio::time::sleep(wait.max(jittered(backoff))).await;
        backoff = (backoff * 2).min(cap);
        attempt += 1;
    }
    recipients
        .into_iter()
        .zip(messages)
        .zip(results)
        .filter_map(|((r, m), result)| match result {
            Some(result) => Some((r, m, result)),
            // Held for a channel that stayed down until the run stopped: left SENDING.
            None if attempt <= settings.send_attempts => None,
            None => Some((
                r,
                m,
                SendResult::Failed {
                    code: reasons::PROVIDER_UNAVAILABLE,
                    description: "The channel gave no answer".into(),
                },
            )),
        })
        .collect()
}

/// `irisgate_sends_total` for each answer of one provider round trip, and its duration.
fn count(inner: &Inner, plan: &Plan, got: &[SendResult], elapsed: Duration) {
    use crate::metrics::SendOutcome;
    let (tenant, channel) = (plan.tenant(), plan.channel.id.as_str());
    let (mut accepted, mut failed, mut transient, mut throttled) = (0, 0, 0, 0);
    for result in got {
        match result {
            SendResult::Accepted { .. } => accepted += 1,
            SendResult::Failed { .. } | SendResult::FailedAll { .. } => failed += 1,
            SendResult::Transient(_) | SendResult::Down(_) => transient += 1,
            SendResult::Later { .. } => throttled += 1,
        }
    }
    let metrics = inner.channels.metrics();
    metrics.sends(tenant, channel, SendOutcome::Accepted, accepted);
    metrics.sends(tenant, channel, SendOutcome::Failed, failed);
    metrics.sends(tenant, channel, SendOutcome::Transient, transient);
    metrics.sends(tenant, channel, SendOutcome::Throttled, throttled);
    metrics.send_duration(channel, elapsed);
}

/// A wait between half of `backoff` and all of it, so that retries of many messages that
/// failed together do not come back together.
pub(crate) fn jittered(backoff: Duration) -> Duration {
    let half = backoff / 2;
    half + half.mul_f64(fastrand::f64())
}
