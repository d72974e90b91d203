//! The simulator's memory of accepted message ids: a bounded set of the most recent ones and
//! the ledger file (one JSON line per accepted send) that several processes may share.

use std::collections::{HashMap, VecDeque};

/// The most recent ids, at most `capacity`; the oldest is forgotten first.
#[derive(Clone)]
pub(super) struct RecentIds {
    /// Each id with the number of its insertion…
    ids: HashMap<String, u64>,
    /// …and the insertions in order; an entry whose id was removed (or inserted again) is
    /// skipped when it comes out.
    order: VecDeque<(u64, String)>,
    inserted: u64,
    capacity: usize,
}

impl RecentIds {
    pub(super) fn new(capacity: usize) -> RecentIds {
        RecentIds { ids: HashMap::new(), order: VecDeque::new(), inserted: 0, capacity: capacity.max(1) }
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    /// True when `id` was not there.
    pub(super) fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains_key(id) {
            return false;
        }
        self.inserted += 1;
        self.ids.insert(id.to_owned(), self.inserted);
        self.order.push_back((self.inserted, id.to_owned()));
        while self.ids.len() > self.capacity {
            let Some((n, oldest)) = self.order.pop_front() else { break };
            if self.ids.get(&oldest) == Some(&n) {
                self.ids.remove(&oldest);
            }
        }
        if self.order.len() > 2 * self.capacity {
            // Removed ids left their entries behind: drop those.
            let ids = &self.ids;
            self.order.retain(|(n, id)| ids.get(id) == Some(n));
        }
        true
    }

    pub(super) fn remove(&mut self, id: &str) {
        self.ids.remove(id);
    }

    /// Entries held (ids and their order).
    #[cfg(test)]
    pub(super) fn len(&self) -> (usize, usize) {
        (self.ids.len(), self.order.len())
    }
}

/// Opens (creating) the ledger and loads the ids it already holds; returns the file and the
/// length read.
pub(super) fn open_ledger(path: &str, accepted: &mut RecentIds) -> std::io::Result<(std::fs::File, u64)> {
    let mut file = std::fs::OpenOptions::new().create(true).read(true).append(true).open(path)?;
    // Under the lock other writers (nodes sharing the file) hold while they write.
    file.lock()?;
    let result = (|| -> std::io::Result<u64> {
        let offset = read_ledger(&mut file, 0, accepted)?;
        if file.metadata()?.len() > offset {
            // A line cut short by a crash was never acknowledged: drop it.
            file.set_len(offset)?;
        }
        Ok(offset)
    })();
    let _ = file.unlock();
    Ok((file, result?))
}

/// Reads whole lines from `offset` on, adding their ids; returns the offset after the last
/// whole line.
pub(super) fn read_ledger(file: &mut std::fs::File, offset: u64, ids: &mut RecentIds) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len <= offset {
        return Ok(offset);
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::with_capacity((len - offset) as usize);
    Read::by_ref(file).take(len - offset).read_to_end(&mut bytes)?;
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    for line in bytes[..whole].split(|b| *b == b'\n') {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) {
            if let Some(id) = v["message_id"].as_str() {
                ids.insert(id);
            }
        }
    }
    Ok(offset + whole as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_forget_the_oldest_first_and_stay_bounded() {
        let mut ids = RecentIds::new(3);
        for id in ["a", "b", "c", "d"] {
            assert!(ids.insert(id));
        }
        assert!(!ids.contains("a") && ids.contains("b") && ids.contains("d"));
        assert!(!ids.insert("d"), "a recent id is known");
        ids.remove("c");
        assert!(ids.insert("c"), "a removed id is new again");
        // Removals leave entries in the order; they never pile up.
        for i in 0..1000 {
            let id = format!("x{i}");
            ids.insert(&id);
            ids.remove(&id);
        }
        let (held, order) = ids.len();
        assert!(held <= 3 && order <= 6, "{held} ids, {order} entries");
    }
}
