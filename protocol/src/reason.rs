//! Failure reasons: `{code, description}` and the LIME reference codes the gateway uses.

use serde::{Deserialize, Serialize};

/// Why a command, session or message failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Reason {
    pub fn new(code: i64, description: impl Into<String>) -> Self {
        Reason { code, description: Some(description.into()) }
    }
}

/// Reason codes of the LIME reference table (and BLiP's extension codes) used by the gateway.
pub mod codes {
    /// Unexpected internal fault; details only in the server log.
    pub const GENERAL_ERROR: i64 = 1;
    /// Bad session envelope or wrong session id.
    pub const SESSION_ERROR: i64 = 11;
    /// Session envelope arrived in a state that does not take it.
    pub const SESSION_INVALID_ACTION_FOR_STATE: i64 = 12;
    /// Bad identifier or key.
    pub const SESSION_AUTHENTICATION_FAILED: i64 = 13;
    /// Envelope fails validation.
    pub const VALIDATION_ERROR: i64 = 21;
    /// Unparseable uri or unknown method.
    pub const VALIDATION_INVALID_METHOD: i64 = 27;
    /// The caller may not do this (feature not in plan, foreign identity).
    pub const AUTHORIZATION_ERROR: i64 = 31;
    /// `to` names a node the gateway does not serve.
    pub const ROUTING_DESTINATION_NOT_FOUND: i64 = 42;
    /// The handler failed in a way the caller can retry.
    pub const COMMAND_PROCESSING_ERROR: i64 = 61;
    /// Served node, unknown URI.
    pub const COMMAND_RESOURCE_NOT_SUPPORTED: i64 = 62;
    /// Known URI, method it does not take.
    pub const COMMAND_METHOD_NOT_SUPPORTED: i64 = 63;
    /// Bad resource or query.
    pub const COMMAND_INVALID_ARGUMENT: i64 = 64;
    /// The resource's state forbids the action.
    pub const COMMAND_NOT_ALLOWED: i64 = 66;
    /// Unknown id (or one that belongs to someone else).
    pub const COMMAND_RESOURCE_NOT_FOUND: i64 = 67;
    /// Rate or capacity limit reached.
    pub const GATEWAY_REQUEST_LIMIT: i64 = 85;
}
