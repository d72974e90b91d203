//! The one error type of command handling, and its two mappings: LIME reasons and HTTP statuses.

use axum::http::StatusCode;
use lime_protocol::reason::codes;
use lime_protocol::Reason;

/// Everything a handler can fail with. Messages are for the client: they name the field or
/// the limit at fault. `Internal` carries details for the log only.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// The store failed (connection lost, disk full, a driver error). The driver's text
    /// names tables, files and hosts, so it goes to the log only; the client is told to
    /// retry, with a correlation id that finds the log line.
    #[error("storage error: {0}")]
    Storage(String),
    /// A fault of ours. The text goes to the log; the client sees a generic description.
    #[error("internal error: {0}")]
    Internal(String),
    /// An idempotency key sent again with another request than the one it was first used
    /// with.
    #[error("{0}")]
    KeyReused(String),
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
            Error::Unavailable(_) | Error::Storage(_) => codes::COMMAND_PROCESSING_ERROR,
            Error::Internal(_) => codes::GENERAL_ERROR,
            Error::KeyReused(_) => codes::COMMAND_INVALID_ARGUMENT,
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
            Error::Unavailable(_) | Error::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::KeyReused(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// What the client is told: everything but internal details. For storage and internal
    /// faults the detail is logged here, once, under a fresh correlation id that the
    /// message quotes, so an operator can find what a client saw.
    pub fn client_message(&self) -> String {
        let (detail, told) = match self {
            Error::Storage(detail) => (detail, "The storage is unavailable right now; retry later"),
            Error::Internal(detail) => (detail, "An internal error occurred"),
            other => return other.to_string(),
        };
        let correlation_id = correlation_id();
        tracing::error!(%correlation_id, %detail, kind = told, "request failed");
        format!("{told} (correlation id {correlation_id})")
    }

    /// Whether the face should log this at warn level rather than debug. Storage and
    /// internal faults are not: [`Error::client_message`] logs them, once, with the
    /// correlation id the client is given.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

/// 16 hex digits: short enough to read out, random enough not to collide in a log.
fn correlation_id() -> String {
    format!("{:016x}", fastrand::u64(..))
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
    fn storage_details_never_reach_the_client_but_a_correlation_id_does() {
        let e = Error::Storage("error returned from database: relation \"campaigns\" does not exist".into());
        let reason = e.to_reason();
        assert_eq!(reason.code, codes::COMMAND_PROCESSING_ERROR);
        let told = reason.description.unwrap();
        assert!(!told.contains("does not exist") && !told.contains("database"), "{told}");
        let id = told.rsplit_once("correlation id ").map(|(_, id)| id.trim_end_matches(')')).unwrap();
        assert_eq!(id.len(), 16, "{told}");
        assert_ne!(e.client_message(), e.client_message(), "each failure gets its own id");
        assert_eq!(e.to_http_status(), StatusCode::SERVICE_UNAVAILABLE);
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
