//! The RBM channel's error state: entered when Google refuses its credentials (a 401 that a
//! fresh token did not cure, a 403, a token endpoint that refuses the service account), left
//! when the probe, every 30 s, finds them accepted again. Meanwhile nothing is sent, so the
//! campaigns' recipients stay PENDING.

use std::time::Duration;

use parking_lot::Mutex;

use crate::channel::Health;
use crate::phone::Phone;

/// Time between two probes of a channel in error state.
pub const PROBE_EVERY: Duration = Duration::from_secs(30);

/// Ready, or down with the provider's message and the number whose send found it so (the
/// probe asks about that number).
#[derive(Debug, Default)]
pub struct State {
    down: Mutex<Option<(String, Option<Phone>)>>,
}

impl State {
    pub fn health(&self) -> Health {
        match &*self.down.lock() {
            None => Health::Ready,
            Some((why, _)) => Health::Down(why.clone()),
        }
    }

    /// The provider's message while down.
    pub fn down_reason(&self) -> Option<String> {
        self.down.lock().as_ref().map(|(why, _)| why.clone())
    }

    /// The number the probe asks about.
    pub fn probe_phone(&self) -> Option<Phone> {
        self.down.lock().as_ref().and_then(|(_, phone)| *phone)
    }

    /// Enters the error state (or updates its message); true when it was ready until now,
    /// so that the caller starts the one probe.
    pub fn go_down(&self, why: &str, phone: Option<Phone>) -> bool {
        let mut down = self.down.lock();
        let was_ready = down.is_none();
        let phone = phone.or_else(|| down.as_ref().and_then(|(_, p)| *p));
        *down = Some((why.to_owned(), phone));
        was_ready
    }

    pub fn recover(&self) {
        *self.down.lock() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_once_then_updated_then_ready() {
        let s = State::default();
        assert_eq!(s.health(), Health::Ready);
        let phone = Phone::from_u64(5531998761234);
        assert!(s.go_down("revoked", phone), "the first refusal starts the probe");
        assert!(!s.go_down("still revoked", None), "a second one does not start another");
        assert_eq!(s.health(), Health::Down("still revoked".into()));
        assert_eq!(s.probe_phone(), phone, "the number is kept for the probe");
        s.recover();
        assert_eq!(s.health(), Health::Ready);
        assert_eq!(s.down_reason(), None);
    }
}
