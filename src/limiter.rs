//! Send pacing: a ceiling of so many sends per period, spread evenly (one every period/n),
//! never a burst at the top of a minute.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::{sleep_until, Instant};

const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Evenly spaced slots; clones share the schedule (a channel's ceiling over its campaigns).
#[derive(Debug, Clone)]
pub struct Pacer {
    interval: Duration,
    next: Arc<Mutex<Option<Instant>>>,
}

impl Pacer {
    /// `per_minute` sends a minute, one every 60/n seconds.
    pub fn per_minute(n: u32) -> Pacer {
        Pacer::with_interval(Duration::from_secs(60) / n.max(1))
    }

    pub fn per_second(n: u32) -> Pacer {
        Pacer::with_interval(Duration::from_secs(1) / n.max(1))
    }

    fn with_interval(interval: Duration) -> Pacer {
        Pacer { interval, next: Arc::new(Mutex::new(None)) }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Reserves the next free slot and waits for it. A pacer that sat idle does not build up
    /// credit: after a pause the next send is one interval after the last, at the earliest.
    pub async fn acquire(&self) {
        let slot = self.reserve();
        // Only a slot still ahead is waited for: a sleep lasts at least until the next
        // millisecond tick.
        if slot > Instant::now() {
            sleep_until(slot).await;
        }
    }

    /// Reserves the next free slot and returns when it starts, for a caller whose wait must
    /// give way to a pause or cancel (a slot given up that way is not reused).
    pub fn reserve(&self) -> Instant {
        self.reserve_every(self.interval)
    }

    /// [`Pacer::reserve`] with the slots `interval` apart from now on (a ceiling that
    /// changes: a channel slowed down by its provider).
    pub fn reserve_every(&self, interval: Duration) -> Instant {
        let mut next = self.next.lock();
        let now = Instant::now();
        // Below the timer's resolution (1 ms) a wake-up is late by up to a millisecond;
        // the slots missed meanwhile may still be used, or a ceiling of 50,000/s would
        // give two sends a millisecond. Coarser ceilings get no credit at all.
        let slack = if interval < TIMER_RESOLUTION { TIMER_RESOLUTION } else { Duration::ZERO };
        let earliest = now.checked_sub(slack).unwrap_or(now);
        let slot = next.map_or(now, |n| n.max(earliest));
        *next = Some(slot + interval);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_ceiling_above_the_timer_resolution_is_reached_not_exceeded() {
        let p = Pacer::per_second(50_000);
        let start = Instant::now();
        for _ in 0..50_000 {
            p.acquire().await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(999) && took <= Duration::from_millis(1010), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn sixty_per_minute_is_one_a_second_from_the_first() {
        let p = Pacer::per_minute(60);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..5 {
            p.acquire().await;
            times.push(start.elapsed().as_millis());
        }
        assert_eq!(times, vec![0, 1000, 2000, 3000, 4000]);
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_one_schedule() {
        let a = Pacer::per_second(10);
        let b = a.clone();
        let start = Instant::now();
        a.acquire().await;
        b.acquire().await;
        a.acquire().await;
        assert_eq!(start.elapsed().as_millis(), 200);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reserved_slot_is_taken_even_when_its_wait_is_given_up() {
        let p = Pacer::per_minute(1);
        let start = Instant::now();
        assert_eq!(p.reserve(), start);
        assert_eq!(p.reserve(), start + Duration::from_secs(60), "the second slot, not waited for");
        assert_eq!(p.reserve(), start + Duration::from_secs(120));
    }
}
