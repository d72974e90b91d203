//! Send pacing: a ceiling of so many sends per period, spread evenly (one every period/n),
//! never a burst at the top of a minute.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::{sleep_until, Instant};

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
        let slot = {
            let mut next = self.next.lock();
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
