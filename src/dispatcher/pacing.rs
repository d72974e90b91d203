//! Pacing of a run: the campaign's ceiling and its channel's, shared by the channel's
//! campaigns (and, through the store, by the nodes), and the campaign's send window, with
//! waits that give way to a pause or cancel.

use std::time::Duration;

use super::handle::Signals;
use super::prepare::Plan;
use super::Inner;
use crate::channel::Channel;
use crate::error::Result;
use crate::limiter::Pacer;
use crate::window::local_iso;

/// Whether the campaign's send window (if it has one) is open now.
pub(super) fn window_open(inner: &Inner, plan: &Plan) -> bool {
    plan.campaign.send_window.as_ref().is_none_or(|w| w.is_open(inner.clock.now()))
}

/// Sleeps until the next opening of the campaign's send window, giving way to a pause or
/// cancel (shutdown included). Nothing is kept about the wait: after a restart the worker
/// finds the window closed again and waits anew.
pub(super) async fn wait_for_window(inner: &Inner, plan: &Plan, signals: &mut Signals) {
    let Some(window) = &plan.campaign.send_window else { return };
    let now = inner.clock.now();
    let next = window.next_open(now);
    if next <= now {
        return;
    }
    tracing::info!(
        campaign = %plan.campaign.id,
        next_window_at = %local_iso(window.zone(), next),
        "outside its send window: nothing is sent until it opens"
    );
    signals.sleep_until(inner.clock.instant_at(next)).await;
}

/// The pacers of a run: the campaign's own ceiling and its channel's shared one.
pub(super) struct Pacing {
    campaign: Option<Pacer>,
    channel: Option<Pacer>,
}

impl Pacing {
    /// `None` when neither has a ceiling.
    pub(super) fn of(inner: &Inner, plan: &Plan, channel: &dyn Channel) -> Option<Pacing> {
        let campaign = plan.campaign.rate_limit_per_minute.map(Pacer::per_minute);
        let channel = channel.max_per_second().map(|n| {
            let key = (plan.tenant().to_owned(), plan.channel.id.clone());
            inner.channel_pacers.entry(key).or_insert_with(|| Pacer::per_second(n)).clone()
        });
        (campaign.is_some() || channel.is_some()).then_some(Pacing { campaign, channel })
    }

    /// The time between two sends under both ceilings.
    fn interval(&self) -> Duration {
        let a = self.campaign.as_ref().map_or(Duration::ZERO, Pacer::interval);
        let b = self.channel.as_ref().map_or(Duration::ZERO, Pacer::interval);
        a.max(b)
    }

    /// Sends of the next ~100 ms, at least one and at most 256.
    pub(super) fn lookahead(&self) -> usize {
        (Duration::from_millis(100).as_micros() / self.interval().as_micros().max(1)).clamp(1, 256) as usize
    }

    /// Waits for a slot of both ceilings; false when a pause or cancel came first. The
    /// channel's is reserved in the store when several nodes share it, so that the ceiling
    /// holds across them.
    pub(super) async fn acquire(
        &self,
        inner: &Inner,
        plan: &Plan,
        channel: &dyn Channel,
        signals: &mut Signals,
    ) -> Result<bool> {
        if let Some(p) = &self.campaign {
            if !signals.sleep_until(p.reserve()).await {
                return Ok(false);
            }
        }
        if let Some(p) = &self.channel {
            // The channel's ceiling now: lower than configured while its provider slows it down.
            let every = channel.max_per_second().map_or(p.interval(), |n| Duration::from_secs(1) / n.max(1));
            let interval = every.as_millis().max(1) as i64;
            let slot =
                match inner.store.reserve_slot(plan.tenant(), &plan.channel.id, inner.clock.now(), interval).await? {
                    Some(slot) => inner.clock.instant_at(slot),
                    None => p.reserve_every(every),
                };
            if !signals.sleep_until(slot).await {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
