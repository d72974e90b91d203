//! The `application/vnd.lime.collection+json` document: a page of items and the full total.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A collection resource: `{"total", "itemType", "items"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Collection<T = Value> {
    /// Size of the whole result, not of this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Media type of each item.
    pub item_type: String,
    pub items: Vec<T>,
}

impl<T> Collection<T> {
    pub fn new(item_type: impl Into<String>, total: u64, items: Vec<T>) -> Self {
        Collection { total: Some(total), item_type: item_type.into(), items }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_wire_shape() {
        let text = r#"{"total":2,"itemType":"text/plain","items":["a","b"]}"#;
        let c: Collection = serde_json::from_str(text).unwrap();
        assert_eq!(c.total, Some(2));
        assert_eq!(c.item_type, "text/plain");
        assert_eq!(serde_json::to_string(&c).unwrap(), text);
    }
}
