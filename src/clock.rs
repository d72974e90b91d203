//! Wall-clock milliseconds that follow tokio's clock, so that tests with a paused clock see
//! schedules fire and timestamps move when they advance time.

use std::sync::Arc;

use tokio::time::Instant;

use crate::campaign::Millis;

/// Cheap to clone; all clones read the same base.
#[derive(Debug, Clone)]
pub struct Clock(Arc<(Millis, Instant)>);

impl Clock {
    pub fn new() -> Clock {
        Clock(Arc::new((chrono::Utc::now().timestamp_millis(), Instant::now())))
    }

    /// A clock that reads `wall` now and moves on from there: a gateway living at another
    /// time than the machine's (a simulation, a test that jumps days ahead on SQLite, whose
    /// blocking threads rule out tokio's paused clock).
    pub fn at(wall: Millis) -> Clock {
        Clock(Arc::new((wall, Instant::now())))
    }

    /// Milliseconds since the Unix epoch.
    pub fn now(&self) -> Millis {
        let (wall, base) = *self.0;
        wall + base.elapsed().as_millis() as Millis
    }

    /// The tokio instant at which the wall clock reads `at` (now, if `at` is past).
    pub fn instant_at(&self, at: Millis) -> Instant {
        let ahead = (at - self.now()).max(0) as u64;
        Instant::now() + std::time::Duration::from_millis(ahead)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
