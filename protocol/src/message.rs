//! Message envelopes: content sent to or from a user.

use serde::Serialize;
use serde_json::Value;

use crate::envelope::Metadata;
use crate::node::Node;

/// A message. `content` is a JSON value for JSON types and a JSON string otherwise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pp: Option<Node>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub content: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}
