//! Session envelopes: the handshake that opens, authenticates and closes a connection.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::envelope::Metadata;
use crate::node::Node;
use crate::reason::Reason;

/// Where a session is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    New,
    Negotiating,
    Authenticating,
    Established,
    Finishing,
    Finished,
    Failed,
    Other(String),
}

impl SessionState {
    pub fn parse(s: &str) -> SessionState {
        match s.to_ascii_lowercase().as_str() {
            "new" => SessionState::New,
            "negotiating" => SessionState::Negotiating,
            "authenticating" => SessionState::Authenticating,
            "established" => SessionState::Established,
            "finishing" => SessionState::Finishing,
            "finished" => SessionState::Finished,
            "failed" => SessionState::Failed,
            _ => SessionState::Other(s.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            SessionState::New => "new",
            SessionState::Negotiating => "negotiating",
            SessionState::Authenticating => "authenticating",
            SessionState::Established => "established",
            SessionState::Finishing => "finishing",
            SessionState::Finished => "finished",
            SessionState::Failed => "failed",
            SessionState::Other(s) => s,
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SessionState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SessionState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SessionState::parse(&std::borrow::Cow::<str>::deserialize(d)?))
    }
}

/// A session envelope. `authentication` is kept as JSON: its shape depends on `scheme`,
/// and clients add keys of their own.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pp: Option<Node>,
    pub state: SessionState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_options: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_options: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme_options: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

impl Session {
    /// A session envelope with only `state` (and optionally `id`) set.
    pub fn new(id: Option<String>, state: SessionState) -> Self {
        Session {
            id,
            from: None,
            to: None,
            pp: None,
            state,
            encryption_options: None,
            encryption: None,
            compression_options: None,
            compression: None,
            scheme_options: None,
            scheme: None,
            authentication: None,
            reason: None,
            metadata: None,
        }
    }
}
