//! Envelopes on the wire: one JSON object, its kind told by which key it carries.
//!
//! There is no type tag. The kind is decided by key presence in the order lime.md gives:
//! `content` → message, `event` → notification, `method` → command, `state` → session.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::command::{Command, CommandStatus, Method};
use crate::message::Message;
use crate::node::Node;
use crate::notification::{Event, Notification};
use crate::reason::Reason;
use crate::session::{Session, SessionState};

/// `metadata`: free-form annotations that never change behaviour.
pub type Metadata = Map<String, Value>;

/// One envelope of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Envelope {
    Message(Message),
    Notification(Notification),
    Command(Command),
    Session(Session),
}

/// Why a text could not be read as an envelope.
#[derive(Debug)]
pub enum EnvelopeError {
    /// Not JSON at all (syntax, nesting too deep, number out of range, …).
    Json(serde_json::Error),
    /// JSON, but not an object.
    NotAnObject,
    /// An object with none of the keys that identify an envelope kind.
    UnknownKind,
    /// An object of a known kind with a field of the wrong type. `id` is the envelope's id
    /// when it could be read, so that the failure can be answered.
    InvalidField { id: Option<String>, kind: &'static str, method: Option<String>, field: String, message: String },
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::Json(e) => write!(f, "invalid JSON: {e}"),
            EnvelopeError::NotAnObject => f.write_str("an envelope must be a JSON object"),
            EnvelopeError::UnknownKind => {
                f.write_str("not an envelope: expected one of the keys content, event, method or state")
            }
            EnvelopeError::InvalidField { field, message, .. } => {
                write!(f, "field '{field}': {message}")
            }
        }
    }
}

impl std::error::Error for EnvelopeError {}

/// `Some(value)` whenever the key is present, even with `null`: presence decides the kind.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// `Some(None)` for a key present with `null`, so that presence still decides the kind.
fn present_nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Every key of every kind, read in one pass without building a JSON tree for the header.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    id: Option<String>,
    from: Option<Node>,
    to: Option<Node>,
    pp: Option<Node>,
    metadata: Option<Metadata>,
    #[serde(rename = "type")]
    media_type: Option<String>,
    #[serde(default, deserialize_with = "present")]
    content: Option<Value>,
    #[serde(default, deserialize_with = "present_nullable")]
    event: Option<Option<Event>>,
    reason: Option<Reason>,
    #[serde(default, deserialize_with = "present_nullable")]
    method: Option<Option<Method>>,
    uri: Option<String>,
    #[serde(default, deserialize_with = "present")]
    resource: Option<Value>,
    status: Option<CommandStatus>,
    #[serde(default, deserialize_with = "present_nullable")]
    state: Option<Option<SessionState>>,
    encryption_options: Option<Vec<String>>,
    encryption: Option<String>,
    compression_options: Option<Vec<String>>,
    compression: Option<String>,
    scheme_options: Option<Vec<String>>,
    scheme: Option<String>,
    authentication: Option<Value>,
}

impl Wire {
    fn into_envelope(self) -> Result<Envelope, EnvelopeError> {
        let null_kind = |id: Option<String>, kind: &'static str, field: &str| EnvelopeError::InvalidField {
            id,
            kind,
            method: None,
            field: field.to_owned(),
            message: "expected a string, not null".to_owned(),
        };
        let Wire { id, from, to, pp, metadata, .. } = self;
        if let Some(content) = self.content {
            return Ok(Envelope::Message(Message { id, from, to, pp, media_type: self.media_type, content, metadata }));
        }
        if let Some(event) = self.event {
            let Some(event) = event else {
                return Err(null_kind(id, "notification", "event"));
            };
            return Ok(Envelope::Notification(Notification { id, from, to, pp, event, reason: self.reason, metadata }));
        }
        if let Some(method) = self.method {
            let Some(method) = method else {
                return Err(null_kind(id, "command", "method"));
            };
            return Ok(Envelope::Command(Command {
                id,
                from,
                to,
                pp,
                method,
                uri: self.uri,
                status: self.status,
                media_type: self.media_type,
                resource: self.resource,
                reason: self.reason,
                metadata,
            }));
        }
        if let Some(state) = self.state {
            let Some(state) = state else {
                return Err(null_kind(id, "session", "state"));
            };
            return Ok(Envelope::Session(Session {
                id,
                from,
                to,
                pp,
                state,
                encryption_options: self.encryption_options,
                encryption: self.encryption,
                compression_options: self.compression_options,
                compression: self.compression,
                scheme_options: self.scheme_options,
                scheme: self.scheme,
                authentication: self.authentication,
                reason: self.reason,
                metadata,
            }));
        }
        Err(EnvelopeError::UnknownKind)
    }
}

impl Envelope {
    /// Reads one envelope from JSON text.
    pub fn parse(text: &str) -> Result<Envelope, EnvelopeError> {
        match serde_json::from_str::<Wire>(text) {
            Ok(wire) => wire.into_envelope(),
            Err(e) => Err(explain(text, e)),
        }
    }

    /// Reads one envelope from JSON bytes (HTTP bodies). Invalid UTF-8 is a JSON error.
    pub fn parse_slice(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Envelope::parse(text),
            Err(_) => Err(EnvelopeError::Json(
                serde_json::from_slice::<Value>(bytes)
                    .err()
                    .unwrap_or_else(|| <serde_json::Error as serde::de::Error>::custom("invalid UTF-8")),
            )),
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Envelope::Message(m) => m.id.as_deref(),
            Envelope::Notification(n) => n.id.as_deref(),
            Envelope::Command(c) => c.id.as_deref(),
            Envelope::Session(s) => s.id.as_deref(),
        }
    }

    pub fn to_json(&self) -> String {
        // serde_json::to_string starts at 128 bytes; a reply with metadata is ~330, so that
        // would grow (and copy) twice.
        let mut out = Vec::with_capacity(512);
        serde_json::to_writer(&mut out, self).expect("envelopes always serialise");
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }
}

/// Turns a failed typed parse into an error that names the problem, and the envelope's id
/// where there is one. Only runs on bad input, so it may re-read the text.
fn explain(text: &str, original: serde_json::Error) -> EnvelopeError {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return EnvelopeError::Json(e),
    };
    let Value::Object(map) = value else {
        return EnvelopeError::NotAnObject;
    };
    let kind = ["content", "event", "method", "state"].into_iter().find(|k| map.contains_key(*k)).map(|k| match k {
        "content" => "message",
        "event" => "notification",
        "method" => "command",
        _ => "session",
    });
    let Some(kind) = kind else {
        return EnvelopeError::UnknownKind;
    };
    let id = map.get("id").and_then(Value::as_str).map(str::to_owned);
    let method = map.get("method").and_then(Value::as_str).map(str::to_owned);
    for (key, v) in &map {
        if let Some(expected) = expected_type(key, v) {
            return EnvelopeError::InvalidField { id, kind, method, field: key.clone(), message: expected.to_owned() };
        }
    }
    EnvelopeError::InvalidField { id, kind, method, field: "(envelope)".into(), message: original.to_string() }
}

/// What a known key must hold, when `v` does not hold it.
fn expected_type(key: &str, v: &Value) -> Option<&'static str> {
    let string_list = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    let ok = match key {
        "id" | "from" | "to" | "pp" | "type" | "event" | "method" | "uri" | "status" | "state" | "encryption"
        | "compression" | "scheme" => v.is_string() || v.is_null(),
        "metadata" => v.is_object() || v.is_null(),
        "reason" => v.is_null() || serde_json::from_value::<Reason>(v.clone()).is_ok(),
        "encryptionOptions" | "compressionOptions" | "schemeOptions" => v.is_null() || string_list(v),
        _ => true,
    };
    if ok {
        return None;
    }
    Some(match key {
        "metadata" => "expected an object",
        "reason" => "expected {\"code\": <integer>, \"description\": <string>}",
        "encryptionOptions" | "compressionOptions" | "schemeOptions" => "expected an array of strings",
        _ => "expected a string",
    })
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Envelope::Message(m) => m.serialize(s),
            Envelope::Notification(n) => n.serialize(s),
            Envelope::Command(c) => c.serialize(s),
            Envelope::Session(x) => x.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Wire::deserialize(d)?.into_envelope().map_err(serde::de::Error::custom)
    }
}

impl From<Command> for Envelope {
    fn from(c: Command) -> Self {
        Envelope::Command(c)
    }
}

impl From<Session> for Envelope {
    fn from(s: Session) -> Self {
        Envelope::Session(s)
    }
}

impl From<Message> for Envelope {
    fn from(m: Message) -> Self {
        Envelope::Message(m)
    }
}

impl From<Notification> for Envelope {
    fn from(n: Notification) -> Self {
        Envelope::Notification(n)
    }
}
