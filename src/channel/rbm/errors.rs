//! What RBM's answers mean for a send: Google's error model (`{"error":{"code","message",
//! "status"}}`) and HTTP statuses turned into the gateway's outcomes (providers.md's table).

use serde::Deserialize;

use crate::reasons;

/// LIME's "invalid argument", which a 400 from Google becomes for that recipient.
pub const INVALID_ARGUMENT: u32 = 64;
/// The longest provider message kept (they are short; a proxy's HTML page is not).
const MAX_MESSAGE: usize = 300;

/// One send's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200, or 409 ALREADY_EXISTS: the messageId was taken (now or before a restart).
    Accepted,
    /// Refused for this recipient for good.
    Failed { code: u32, description: String },
    /// 429: too fast; the channel slows down and the send is retried.
    Throttled(String),
    /// 5xx, timeouts, a connection that failed: retried.
    Transient(String),
    /// 401: the token was refused (the send refreshes it once and retries).
    Unauthenticated(String),
    /// 403: the account may not use this agent.
    Forbidden(String),
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    status: Option<String>,
}

/// The answer an HTTP status and body make.
pub fn classify(status: u16, body: &[u8]) -> Answer {
    if (200..300).contains(&status) {
        return Answer::Accepted;
    }
    let detail = serde_json::from_slice::<ErrorBody>(body).ok().map(|b| b.error);
    let canonical = detail.as_ref().and_then(|d| d.status.clone()).unwrap_or_default();
    let message = detail
        .and_then(|d| d.message)
        .filter(|m| !m.trim().is_empty())
        .map(|m| bounded(&m))
        .unwrap_or_else(|| format!("HTTP {status}"));
    match status {
        // ABORTED (also 409) is a concurrency conflict, worth another try.
        409 if canonical == "ABORTED" => Answer::Transient(message),
        409 => Answer::Accepted,
        404 => Answer::Failed { code: reasons::UNREACHABLE, description: message },
        429 => Answer::Throttled(message),
        401 => Answer::Unauthenticated(message),
        403 => Answer::Forbidden(message),
        408 | 500..=599 => Answer::Transient(message),
        400..=499 => Answer::Failed { code: INVALID_ARGUMENT, description: message },
        _ => Answer::Transient(message),
    }
}

/// A failed request (connection refused, reset, timed out), without its URL.
pub fn transport(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let e = e.without_url();
    let mut text = e.to_string();
    // reqwest's own text is generic ("error sending request"): its causes say more.
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The body of a response, refused past `max` bytes.
pub async fn read_limited(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading the answer: {}", transport(e)))? {
        if body.len() + chunk.len() > max {
            return Err(format!("the answer is larger than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `text` cut to a length fit for a report and a log line.
pub fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google(code: u16, status: &str, message: &str) -> Vec<u8> {
        serde_json::json!({"error": {"code": code, "message": message, "status": status}}).to_string().into_bytes()
    }

    #[test]
    fn every_row_of_the_table() {
        assert_eq!(classify(200, b"{}"), Answer::Accepted);
        assert_eq!(classify(409, &google(409, "ALREADY_EXISTS", "exists")), Answer::Accepted);
        assert_eq!(classify(409, &google(409, "ABORTED", "retry")), Answer::Transient("retry".into()));
        assert_eq!(
            classify(404, &google(404, "NOT_FOUND", "Requested entity was not found.")),
            Answer::Failed { code: 1002, description: "Requested entity was not found.".into() }
        );
        assert_eq!(classify(429, &google(429, "RESOURCE_EXHAUSTED", "slow")), Answer::Throttled("slow".into()));
        assert_eq!(classify(503, b"<html>busy</html>"), Answer::Transient("HTTP 503".into()));
        assert_eq!(classify(401, &google(401, "UNAUTHENTICATED", "bad")), Answer::Unauthenticated("bad".into()));
        assert_eq!(classify(403, &google(403, "PERMISSION_DENIED", "no")), Answer::Forbidden("no".into()));
        assert_eq!(
            classify(400, &google(400, "INVALID_ARGUMENT", "check the phone number format")),
            Answer::Failed { code: 64, description: "check the phone number format".into() }
        );
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "é".repeat(1000);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_MESSAGE + 1);
        assert!(cut.ends_with('…'));
    }
}
