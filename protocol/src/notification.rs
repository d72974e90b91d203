//! Notification envelopes: events about a message (accepted, dispatched, received, …).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::envelope::Metadata;
use crate::node::Node;
use crate::reason::Reason;

/// What happened to the message the notification is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Accepted,
    Validated,
    Authorized,
    Dispatched,
    Received,
    Consumed,
    Failed,
    Other(String),
}

impl Event {
    pub fn parse(s: &str) -> Event {
        match s.to_ascii_lowercase().as_str() {
            "accepted" => Event::Accepted,
            "validated" => Event::Validated,
            "authorized" => Event::Authorized,
            "dispatched" => Event::Dispatched,
            "received" => Event::Received,
            "consumed" => Event::Consumed,
            "failed" => Event::Failed,
            _ => Event::Other(s.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Event::Accepted => "accepted",
            Event::Validated => "validated",
            Event::Authorized => "authorized",
            Event::Dispatched => "dispatched",
            Event::Received => "received",
            Event::Consumed => "consumed",
            Event::Failed => "failed",
            Event::Other(s) => s,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Event::parse(&std::borrow::Cow::<str>::deserialize(d)?))
    }
}

/// A notification; `id` is the id of the message it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pp: Option<Node>,
    pub event: Event,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}
