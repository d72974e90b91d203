//! Contacts of a workspace (BLiP CRM contacts and REST contacts are the same records) and
//! the per-identity context variables a campaign send leaves behind.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::campaign::Millis;

/// A contact. `extras` are BLiP's contact extras and the REST face's custom fields alike.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    /// LIME identity, e.g. `5531999990001@wa.gw.msging.net`.
    pub identity: Option<String>,
    /// E.164 digits.
    pub phone: Option<u64>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub extras: Map<String, Value>,
    pub tags: Vec<String>,
    pub last_interaction_at: Millis,
    pub has_open_conversation: bool,
    pub created: Millis,
    pub updated: Millis,
}

/// How to find a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactKey {
    Id(String),
    /// Matched case-insensitively; an identity whose name is a phone number also finds the
    /// contact with that phone.
    Identity(String),
    Phone(u64),
}

/// A change to apply to a contact, creating it when missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactPatch {
    pub identity: Option<String>,
    pub phone: Option<u64>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Merged into `extras` (keys replaced one by one, others kept).
    pub merge_extras: Vec<(String, Value)>,
    pub tags: Option<Vec<String>>,
    pub last_interaction_at: Option<Millis>,
    pub has_open_conversation: Option<bool>,
}

/// Context variables to store for one identity (a send's `contextVariables` and redirect).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextWrite {
    pub identity: String,
    pub variables: Vec<(String, Value)>,
}
