//! The one error type of command handling, and its two mappings: LIME reasons and HTTP statuses.

use axum::http::StatusCode;
use lime_protocol::reason::codes;
use lime_protocol::Reason;

/// Everything a handler can fail with. Messages are for the client: they name the field or
/// the limit at fault. `Internal` carries details for the log only.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The envelope itself is invalid (missing id/uri, resource missing on set).
    #[error("{0}")]
    Validation(String),
    /// The uri cannot be parsed or the method is unknown.
    #[error("{0}")]
    InvalidUriOrMethod(String),
    /// The tenant may not do this (plan lacks the feature, foreign identity).
    #[error("{0}")]
    Forbidden(String),
    /// `to` names a node the gateway does not serve.
    #[error("{0}")]
    UnknownDestination(String),
    /// Served node, unknown URI.
    #[error("{0}")]
    UnsupportedResource(String),
    /// Known URI, method it does not take.
    #[error("{0}")]
    UnsupportedMethod(String),
    /// Bad resource or query.
    #[error("{0}")]
    InvalidArgument(String),
    /// The resource's state forbids the action.
    #[error("{0}")]
    NotAllowed(String),
    /// Unknown id, or another tenant's.
    #[error("{0}")]
    NotFound(String),
    /// A rate or capacity limit was reached.
    #[error("{0}")]
    LimitReached(String),
    /// A body or document over a size limit.
    #[error("{0}")]
    TooLarge(String),
    /// A temporary failure the caller may retry (storage unavailable, provider down).
    #[error("{0}")]
    Unavailable(String),
    /// A fault of ours. The text goes to the log; the client sees a generic description.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The LIME reason a client receives.
    pub fn to_reason(&self) -> Reason {
        let code = match self {
            Error::Validation(_) => codes::VALIDATION_ERROR,
            Error::InvalidUriOrMethod(_) => codes::VALIDATION_INVALID_METHOD,
            Error::Forbidden(_) => codes::AUTHORIZATION_ERROR,
            Error::UnknownDestination(_) => codes::ROUTING_DESTINATION_NOT_FOUND,
            Error::UnsupportedResource(_) => codes::COMMAND_RESOURCE_NOT_SUPPORTED,
            Error::UnsupportedMethod(_) => codes::COMMAND_METHOD_NOT_SUPPORTED,
            Error::InvalidArgument(_) => codes::COMMAND_INVALID_ARGUMENT,
            Error::NotAllowed(_) => codes::COMMAND_NOT_ALLOWED,
            Error::NotFound(_) => codes::COMMAND_RESOURCE_NOT_FOUND,
            Error::LimitReached(_) => codes::GATEWAY_REQUEST_LIMIT,
            Error::TooLarge(_) => codes::COMMAND_INVALID_ARGUMENT,
            Error::Unavailable(_) => codes::COMMAND_PROCESSING_ERROR,
            Error::Internal(_) => codes::GENERAL_ERROR,
        };
        Reason::new(code, self.client_message())
    }

    /// The HTTP status the REST face answers with.
    pub fn to_http_status(&self) -> StatusCode {
        match self {
            Error::Validation(_) | Error::InvalidUriOrMethod(_) | Error::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::UnknownDestination(_) | Error::UnsupportedResource(_) | Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::UnsupportedMethod(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::NotAllowed(_) => StatusCode::CONFLICT,
            Error::LimitReached(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told: everything but internal details.
    pub fn client_message(&self) -> String {
        match self {
            Error::Internal(_) => "An internal error occurred; it has been logged".to_owned(),
            other => other.to_string(),
        }
    }

    /// Whether the server log should record this at warn level rather than debug.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, Error::Internal(_) | Error::Unavailable(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_never_reach_the_client() {
        let e = Error::Internal("database password wrong at db.rs:42".into());
        let reason = e.to_reason();
        assert_eq!(reason.code, 1);
        assert!(!reason.description.unwrap().contains("db.rs"));
        assert_eq!(e.to_http_status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn each_kind_has_its_lime_code_and_http_status() {
        let cases = [
            (Error::InvalidArgument("x".into()), 64, 400),
            (Error::NotFound("x".into()), 67, 404),
            (Error::NotAllowed("x".into()), 66, 409),
            (Error::Forbidden("x".into()), 31, 403),
            (Error::UnsupportedResource("x".into()), 62, 404),
            (Error::UnsupportedMethod("x".into()), 63, 405),
            (Error::UnknownDestination("x".into()), 42, 404),
            (Error::LimitReached("x".into()), 85, 429),
        ];
        for (e, code, status) in cases {
            assert_eq!(e.to_reason().code, code, "{e:?}");
            assert_eq!(e.to_http_status().as_u16(), status, "{e:?}");
            assert_eq!(e.to_reason().description.as_deref(), Some("x"));
        }
    }
}
