//! Adaptive slow-down after a provider's throughput refusal (WhatsApp 130429, RBM 429): the
//! channel's rate is halved for a while and then restored step by step, so that a gateway
//! that hit the provider's ceiling settles below it instead of hammering it.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// How long a halving holds before the rate starts to climb back.
pub const HOLD: Duration = Duration::from_secs(60);
/// Each step back up adds this share of the configured rate.
const STEP_PERCENT: u32 = 10;
/// Time between two steps back up.
const STEP_EVERY: Duration = Duration::from_secs(5);

/// The current ceiling of a channel whose configured one is `full` per second.
#[derive(Debug)]
pub struct Throttle {
    full: u32,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
struct State {
    /// The ceiling right after the last halving.
    low: u32,
    /// When the last halving happened (`None`: at full rate).
    since: Option<Instant>,
}

impl Throttle {
    pub fn new(full_per_second: u32) -> Throttle {
        let full = full_per_second.max(1);
        Throttle { full, state: Mutex::new(State { low: full, since: None }) }
    }

    /// The provider refused for throughput: halve what the ceiling is now (at least 1/s).
    pub fn slow_down(&self) {
        let now = Instant::now();
        let current = self.per_second_at(now);
        let mut s = self.state.lock();
        *s = State { low: (current / 2).max(1), since: Some(now) };
    }

    /// Sends per second allowed now.
    pub fn per_second(&self) -> u32 {
        self.per_second_at(Instant::now())
    }

    fn per_second_at(&self, now: Instant) -> u32 {
        let s = *self.state.lock();
        let Some(since) = s.since else { return self.full };
        let elapsed = now.saturating_duration_since(since);
        if elapsed < HOLD {
            return s.low;
        }
        let steps = ((elapsed - HOLD).as_millis() / STEP_EVERY.as_millis()) as u64 + 1;
        let step = u64::from((self.full * STEP_PERCENT / 100).max(1));
        (u64::from(s.low) + steps * step).min(u64::from(self.full)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn halved_for_a_minute_then_restored_step_by_step() {
        let t = Throttle::new(80);
        assert_eq!(t.per_second(), 80);
        t.slow_down();
        assert_eq!(t.per_second(), 40);
        t.slow_down();
        assert_eq!(t.per_second(), 20, "a second refusal halves again");
        tokio::time::advance(HOLD - Duration::from_millis(1)).await;
        assert_eq!(t.per_second(), 20, "held for the whole minute");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(t.per_second(), 28, "one step of 10 % of 80");
        tokio::time::advance(STEP_EVERY * 20).await;
        assert_eq!(t.per_second(), 80, "back to the configured rate, not above");
    }

    #[tokio::test(start_paused = true)]
    async fn never_below_one_per_second() {
        let t = Throttle::new(1);
        t.slow_down();
        assert_eq!(t.per_second(), 1);
    }
}
