//! What a handler returns on success: a typed resource, or nothing.

use serde::Serialize;
use serde_json::Value;

/// A successful handler result: `type` + `resource`, or an empty success.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub media_type: Option<String>,
    pub resource: Option<Value>,
}

impl Reply {
    /// Success with no resource (`set` commands that store something, `delete`).
    pub fn empty() -> Reply {
        Reply { media_type: None, resource: None }
    }

    /// Success carrying `resource` of type `media_type`.
    pub fn with(media_type: &str, resource: impl Serialize) -> Reply {
        let resource = serde_json::to_value(resource).expect("reply resources are plain data");
        Reply { media_type: Some(media_type.to_owned()), resource: Some(resource) }
    }
}
