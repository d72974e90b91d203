//! The soak's tally: every answer by kind as ok, an expected failure (one that was asked for)
//! or unexpected; the first unexpected ones quoted; what the campaigns sent.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// Unexpected answers quoted in the summary.
const QUOTED_ERRORS: usize = 30;

#[derive(Default, Clone, Copy)]
pub(crate) struct Count {
    pub(crate) ok: u64,
    pub(crate) expected: u64,
    pub(crate) unexpected: u64,
}

#[derive(Default, Clone, Copy)]
pub(crate) struct CampaignCount {
    pub(crate) completed: u64,
    pub(crate) sent: u64,
    pub(crate) read: u64,
    pub(crate) failed: u64,
}

/// Every answer by kind, the first unexpected ones, and what the campaigns did.
#[derive(Default)]
pub(crate) struct Tally {
    kinds: Mutex<BTreeMap<String, Count>>,
    pub(crate) errors: Mutex<Vec<String>>,
    pub(crate) campaigns: Mutex<BTreeMap<&'static str, CampaignCount>>,
}

impl Tally {
    pub(crate) fn ok(&self, kind: &str) {
        self.kinds.lock().entry(kind.to_owned()).or_default().ok += 1;
    }

    pub(crate) fn expected(&self, kind: &str) {
        self.kinds.lock().entry(kind.to_owned()).or_default().expected += 1;
    }

    pub(crate) fn fail(&self, kind: &str, what: String) {
        self.kinds.lock().entry(kind.to_owned()).or_default().unexpected += 1;
        let mut errors = self.errors.lock();
        if errors.len() < QUOTED_ERRORS {
            errors.push(format!("{kind}: {what}"));
        }
    }

    /// Tallies `answer` as ok (`Ok(true)`), expected failure (`Ok(false)`) or unexpected.
    pub(crate) fn record(&self, kind: &str, answer: Result<bool, String>) {
        match answer {
            Ok(true) => self.ok(kind),
            Ok(false) => self.expected(kind),
            Err(e) => self.fail(kind, e),
        }
    }

    pub(crate) fn snapshot(&self) -> BTreeMap<String, Count> {
        self.kinds.lock().clone()
    }

    pub(crate) fn answers(&self) -> u64 {
        self.kinds.lock().values().map(|c| c.ok + c.expected + c.unexpected).sum()
    }

    pub(crate) fn unexpected(&self) -> u64 {
        self.kinds.lock().values().map(|c| c.unexpected).sum()
    }
}
