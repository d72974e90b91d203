//! The Cloud API's answers to a send, classified by the error's `code` (not the HTTP status,
//! as Meta asks), into what the gateway does: providers.md's error table.

use std::time::Duration;

use serde_json::Value;

use crate::reasons;

/// How long a recipient hit by the pair rate limit (131056) waits before its next try.
pub const PAIR_RATE_WAIT: Duration = Duration::from_secs(6);

/// The Cloud API counts throughput over a second: a refused send is retried no sooner.
pub const THROUGHPUT_WINDOW: Duration = Duration::from_secs(1);

/// What one answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Taken; statuses will carry this wamid.
    Accepted(String),
    /// A throughput limit (130429, 4, 80007, 130472): slow the channel down and retry.
    Throttled(String),
    /// The pair rate limit (131056): retry this recipient after [`PAIR_RATE_WAIT`].
    PairLimited(String),
    /// Worth retrying with backoff (131000, 131016, 5xx, timeouts, unreadable answers).
    Transient(String),
    /// The token was refused (190, HTTP 401): the channel goes into error state.
    Unauthorized(String),
    /// The template cannot be sent to anybody (132015 paused, 132016 disabled): this
    /// recipient fails with `code` and so does the campaign.
    TemplateUnusable { code: u32, title: String },
    /// Refused for good for this recipient.
    Failed { code: u32, title: String },
}

/// The Graph API error object of an answer, if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub code: i64,
    pub message: String,
    pub details: Option<String>,
}

impl GraphError {
    /// Reads `{"error":{"code","message","error_data":{"details"}}}`.
    pub fn parse(body: &[u8]) -> Option<GraphError> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let e = v.get("error")?;
        Some(GraphError {
            code: e.get("code")?.as_i64()?,
            message: e.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
            details: e.pointer("/error_data/details").and_then(Value::as_str).map(str::to_owned),
        })
    }

    /// The title Meta gives the code: its `message` without the `(#code) ` prefix.
    pub fn title(&self) -> String {
        let m = self.message.trim();
        let stripped = m.strip_prefix(&format!("(#{}) ", self.code)).unwrap_or(m);
        if stripped.is_empty() {
            format!("WhatsApp error {}", self.code)
        } else {
            stripped.to_owned()
        }
    }
}

/// The verdict on an HTTP answer (`status`, `body`).
pub fn classify(status: u16, body: &[u8]) -> Verdict {
    if (200..300).contains(&status) {
        let id = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.pointer("/messages/0/id").and_then(Value::as_str).map(str::to_owned));
        return match id {
            Some(id) if !id.is_empty() => Verdict::Accepted(id),
            _ => Verdict::Transient(format!("HTTP {status} without a message id")),
        };
    }
    let Some(e) = GraphError::parse(body) else {
        return match status {
            401 => Verdict::Unauthorized("HTTP 401 from the Cloud API".into()),
            429 => Verdict::Throttled("HTTP 429 from the Cloud API".into()),
            _ => Verdict::Transient(format!("HTTP {status} from the Cloud API")),
        };
    };
    let title = e.title();
    match e.code {
        130429 | 4 | 80007 | 130472 => Verdict::Throttled(title),
        131056 => Verdict::PairLimited(title),
        131000 | 131016 => Verdict::Transient(title),
        190 => Verdict::Unauthorized(e.message.clone()),
        132000 | 132012 => Verdict::Failed { code: reasons::MISSING_PARAMETER, title },
        132001 => Verdict::Failed { code: reasons::TEMPLATE_NOT_APPROVED, title },
        132015 | 132016 => Verdict::TemplateUnusable { code: reasons::TEMPLATE_NOT_APPROVED, title },
        _ if status == 401 => Verdict::Unauthorized(e.message.clone()),
        _ if status >= 500 => Verdict::Transient(title),
        code => match u32::try_from(code) {
            Ok(code) if code > 0 => Verdict::Failed { code, title },
            _ => Verdict::Transient(title),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error(code: i64, message: &str) -> Vec<u8> {
        json!({"error": {"message": message, "type": "OAuthException", "code": code,
                         "error_data": {"messaging_product": "whatsapp", "details": "d"}, "fbtrace_id": "A"}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_code_decides_not_the_http_status() {
        for code in [130429, 4, 80007, 130472] {
            assert!(matches!(classify(400, &error(code, "x")), Verdict::Throttled(_)), "{code}");
        }
        assert_eq!(
            classify(400, &error(131056, "(#131056) Pair rate limit hit")),
            Verdict::PairLimited("Pair rate limit hit".into())
        );
        assert!(matches!(classify(400, &error(131000, "x")), Verdict::Transient(_)));
        assert!(matches!(classify(400, &error(131016, "x")), Verdict::Transient(_)));
        assert!(
            matches!(classify(400, &error(190, "Invalid OAuth access token")), Verdict::Unauthorized(m) if m.contains("Invalid"))
        );
        assert!(matches!(classify(401, b"nope"), Verdict::Unauthorized(_)));
        assert!(matches!(classify(503, b"<html>"), Verdict::Transient(_)));
        assert_eq!(
            classify(400, &error(132000, "(#132000) Number of parameters does not match")),
            Verdict::Failed { code: 1004, title: "Number of parameters does not match".into() }
        );
        assert!(matches!(classify(400, &error(132001, "x")), Verdict::Failed { code: 1003, .. }));
        assert!(matches!(classify(400, &error(132012, "x")), Verdict::Failed { code: 1004, .. }));
        for code in [132015, 132016] {
            assert!(matches!(classify(400, &error(code, "x")), Verdict::TemplateUnusable { code: 1003, .. }), "{code}");
        }
        for code in [131047, 131026, 131049, 131051, 131008, 131009, 133010, 368, 100, 131042] {
            assert!(
                matches!(classify(400, &error(code, "t")), Verdict::Failed { code: c, .. } if c == code as u32),
                "{code}"
            );
        }
        let ok = json!({"messaging_product": "whatsapp", "messages": [{"id": "wamid.A"}]}).to_string();
        assert_eq!(classify(200, ok.as_bytes()), Verdict::Accepted("wamid.A".into()));
    }
}
