//! Query strings of LIME command URIs: `$skip` / `$take` paging and named filters.

use crate::error::{Error, Result};
use crate::store::Page;

/// Decoded `key=value` pairs; keys compared case-insensitively.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn new(pairs: Vec<(String, String)>) -> Query {
        Query(pairs)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// `$skip` (default 0) and `$take` (default `default_take`, at most `max_take`).
    pub fn page(&self, default_take: u64, max_take: u64) -> Result<Page> {
        let number = |key: &str, name: &str| -> Result<Option<u64>> {
            match self.get(key) {
                None => Ok(None),
                Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                    Error::InvalidArgument(format!("The {name} parameter must be a non-negative integer, not \"{v}\""))
                }),
            }
        };
        let skip = number("$skip", "skip")?.unwrap_or(0);
        let take = number("$take", "take")?.unwrap_or(default_take);
        if take > max_take {
            return Err(Error::InvalidArgument(format!("The take parameter can not be greater than {max_take}")));
        }
        Ok(Page { skip, take })
    }
}
