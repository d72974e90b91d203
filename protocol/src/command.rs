//! Command envelopes: requests (`method` + `uri`) and their responses (`status`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::envelope::Metadata;
use crate::node::Node;
use crate::reason::Reason;

/// What a command asks for. Unknown methods are kept so that the router can answer 27.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Set,
    Merge,
    Delete,
    Subscribe,
    Unsubscribe,
    Observe,
    Other(String),
}

impl Method {
    /// Case-insensitive, as clients send `GET` and `get` alike.
    pub fn parse(s: &str) -> Method {
        const KNOWN: [(&str, Method); 7] = [
            ("get", Method::Get),
            ("set", Method::Set),
            ("merge", Method::Merge),
            ("delete", Method::Delete),
            ("subscribe", Method::Subscribe),
            ("unsubscribe", Method::Unsubscribe),
            ("observe", Method::Observe),
        ];
        // No lowercased copy: this runs for every command.
        KNOWN
            .into_iter()
            .find(|(name, _)| s.eq_ignore_ascii_case(name))
            .map_or_else(|| Method::Other(s.to_owned()), |(_, m)| m)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "get",
            Method::Set => "set",
            Method::Merge => "merge",
            Method::Delete => "delete",
            Method::Subscribe => "subscribe",
            Method::Unsubscribe => "unsubscribe",
            Method::Observe => "observe",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Method {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Method::parse(&std::borrow::Cow::<str>::deserialize(d)?))
    }
}

/// Outcome carried by a command response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandStatus {
    Success,
    Failure,
    Pending,
    Other(String),
}

impl CommandStatus {
    pub fn parse(s: &str) -> CommandStatus {
        if s.eq_ignore_ascii_case("success") {
            CommandStatus::Success
        } else if s.eq_ignore_ascii_case("failure") {
            CommandStatus::Failure
        } else if s.eq_ignore_ascii_case("pending") {
            CommandStatus::Pending
        } else {
            CommandStatus::Other(s.to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            CommandStatus::Success => "success",
            CommandStatus::Failure => "failure",
            CommandStatus::Pending => "pending",
            CommandStatus::Other(s) => s,
        }
    }
}

impl Serialize for CommandStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CommandStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(CommandStatus::parse(&std::borrow::Cow::<str>::deserialize(d)?))
    }
}

/// A command request or response. `resource` is kept as JSON exactly as received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Command {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pp: Option<Node>,
    pub method: Method,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CommandStatus>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

impl Command {
    /// A request with only the essentials set.
    pub fn request(id: impl Into<String>, method: Method, uri: impl Into<String>) -> Self {
        Command {
            id: Some(id.into()),
            from: None,
            to: None,
            pp: None,
            method,
            uri: Some(uri.into()),
            status: None,
            media_type: None,
            resource: None,
            reason: None,
            metadata: None,
        }
    }

    /// True when this is a response (it carries `status`), not a request.
    pub fn is_response(&self) -> bool {
        self.status.is_some()
    }

    /// A success response to this request: same id and method, no from/to yet.
    pub fn success(&self, media_type: Option<String>, resource: Option<Value>) -> Command {
        Command {
            id: self.id.clone(),
            from: None,
            to: None,
            pp: None,
            method: self.method.clone(),
            uri: None,
            status: Some(CommandStatus::Success),
            media_type,
            resource,
            reason: None,
            metadata: None,
        }
    }

    /// A failure response to this request: same id and method, no type or resource.
    pub fn failure(&self, reason: Reason) -> Command {
        Command {
            status: Some(CommandStatus::Failure),
            media_type: None,
            resource: None,
            reason: Some(reason),
            ..self.success(None, None)
        }
    }
}
