//! `/webhooks/whatsapp`: the Cloud API's subscription handshake (`GET`) and its signed
//! webhooks (`POST`: statuses and people's messages), one URL for every WhatsApp channel
//! (providers.md).
//!
//! The signature is checked on the raw body before any of it is parsed: the body's
//! HMAC-SHA256 is computed with each distinct `app_secret` of the configured channels (a few
//! at most; channels of one Meta app share it) rather than with the secret of the
//! `phone_number_id` the body names, because finding that id means parsing JSON nobody has
//! vouched for yet. A body that verifies is then applied only for the channels whose
//! `app_secret` verified it. Statuses and inbound messages are written through the store before
//! the 200, so what Meta was told we have is durable.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::campaign::{parse_message_id, ChannelType, Millis, RecipientStatus};
use crate::channel::settings::{Configured, WhatsAppSettings};
use crate::conversation::inbound::Inbound;
use crate::problem::json_error;
use crate::state::AppState;
use crate::store::Receipt;

/// The Cloud API's generic error (a `failed` status that says no code).
const SOMETHING_WENT_WRONG: u32 = 131000;

pub use super::MAX_BODY;

/// `GET /webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`: 200 with
/// `C` when `T` is the `verify_token` of some WhatsApp channel; 403 otherwise.
pub async fn verify(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let given = q.get("hub.verify_token").map(String::as_bytes).unwrap_or_default();
    // Every channel's token is compared, so the time says nothing about which one matched.
    let matched =
        state.engine.channels.providers().whatsapp().fold(false, |m, c| m | c.settings.verify_token.matches(given));
    match (q.get("hub.mode").map(String::as_str), q.get("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) if matched && !given.is_empty() => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
            challenge.clone(),
        )
            .into_response(),
        _ => json_error(StatusCode::FORBIDDEN, "The verify token does not match"),
    }
}

/// `POST /webhooks/whatsapp`: statuses of sent messages, signed with the app secret.
pub async fn statuses(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match super::raw_body(body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let channels: Vec<Configured<WhatsAppSettings>> = state.engine.channels.providers().whatsapp().collect();
    let signature =
        headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("sha256="));
    let Some(signature) = signature.and_then(|hex_sig| hex::decode(hex_sig.trim()).ok()) else {
        return json_error(StatusCode::UNAUTHORIZED, "X-Hub-Signature-256 is missing or malformed");
    };
    let verified: Vec<&Configured<WhatsAppSettings>> =
        channels.iter().filter(|c| signed_by(&bytes, c.settings.app_secret.expose().as_bytes(), &signature)).collect();
    if verified.is_empty() {
        return json_error(StatusCode::UNAUTHORIZED, "X-Hub-Signature-256 does not match the body");
    }
    let Some(changes) = parse(&bytes, state.engine.clock.now()) else {
        return json_error(StatusCode::BAD_REQUEST, "The body is not a WhatsApp webhook payload");
    };
    let mut receipts = Vec::new();
    // (tenant, channel) of each receipt, counted once they are recorded.
    let mut of = Vec::new();
    let (mut sent, mut skipped, mut foreign) = (0usize, 0usize, 0usize);
    let mut inbound = Vec::new();
    for change in changes {
        let Some(channel) = verified.iter().find(|c| c.settings.phone_number_id == change.phone_number_id) else {
            // Signed with a secret of ours, about a number that secret does not speak for.
            foreign += change.receipts.len() + change.sent + change.messages.len();
            continue;
        };
        let now = state.engine.clock.now();
        for item in &change.messages {
            let Some(m) = super::messages::whatsapp(item, &change.names, &channel.settings.api_base, now) else {
                skipped += 1;
                continue;
            };
            inbound.push(Inbound {
                tenant: channel.tenant.clone(),
                channel: channel.channel.clone(),
                channel_type: ChannelType::WhatsApp,
                phone: m.phone,
                provider_id: m.provider_id,
                received_at: m.at,
                content: m.content,
                name: m.name,
            });
        }
        sent += change.sent;
        for (code, title) in &change.errors {
            state.engine.reasons.remember(*code, title);
        }
        of.extend(std::iter::repeat_n(*channel, change.receipts.len()));
        receipts.extend(change.receipts);
    }
    if skipped > 0 {
        tracing::debug!(skipped, "inbound WhatsApp messages of a type the gateway does not carry: ignored");
    }
    // People's messages are in the inbox before the 200 (a repeat is recognised by its wamid).
    for m in inbound {
        if let Err(e) = state.engine.conversations.receive(m).await {
            tracing::error!(error = %e, "an inbound WhatsApp message could not be recorded");
            return json_error(StatusCode::SERVICE_UNAVAILABLE, "The messages could not be recorded; send them again");
        }
    }
    if foreign > 0 {
        tracing::warn!(foreign, "webhook items for a number whose app secret did not sign the body: ignored");
    }
    let applied = match state.engine.outbound.apply_receipts(&receipts).await {
        Ok(n) => n,
        Err(e) => {
            // Not 200: Meta sends it again later.
            tracing::error!(error = %e, "webhook statuses could not be recorded");
            return json_error(StatusCode::SERVICE_UNAVAILABLE, "The statuses could not be recorded; send them again");
        }
    };
    for (r, c) in receipts.iter().zip(of) {
        let label = match r.status {
            RecipientStatus::Read => "read",
            RecipientStatus::Failed => "failed",
            _ => "received",
        };
        state.engine.metrics.receipt(&c.tenant, &c.channel, label);
    }
    let ignored = receipts.len() as u64 - applied.min(receipts.len() as u64);
    tracing::debug!(
        statuses = receipts.len(),
        applied,
        ignored,
        sent,
        "WhatsApp statuses recorded (ignored: duplicate, stale or unknown id)"
    );
    StatusCode::OK.into_response()
}

/// What one `messages` change of a webhook body says about one business number.
#[derive(Debug, Default, PartialEq)]
pub struct Statuses {
    /// `metadata.phone_number_id`: the channel it is about (empty when absent).
    pub phone_number_id: String,
    /// `delivered`, `read` and `failed` statuses, in the order of the body.
    pub receipts: Vec<Receipt>,
    /// The error code and title of each failure that gave one (for the reasons table).
    pub errors: Vec<(u32, String)>,
    /// `sent` (and unknown) statuses: they change nothing.
    pub sent: usize,
    /// Inbound messages (`messages[]` items, read with `webhooks::messages::whatsapp`).
    pub messages: Vec<serde_json::Value>,
    /// `contacts[]`: (`wa_id`, profile name).
    pub names: Vec<(String, String)>,
}

/// The statuses of a (verified) webhook body, one entry per `messages` change; `None` when
/// the body is not a WhatsApp webhook payload. A status without a usable `timestamp` is
/// stamped `now`. Pure, so that the fuzz target can call it.
pub fn parse(body: &[u8], now: Millis) -> Option<Vec<Statuses>> {
    let payload = serde_json::from_slice::<Payload>(body).ok()?;
    let mut out = Vec::new();
    for value in payload.entry.into_iter().flat_map(|e| e.changes).filter(|c| c.field == "messages").map(|c| c.value) {
        let mut change = Statuses {
            phone_number_id: value.metadata.map(|m| m.phone_number_id).unwrap_or_default(),
            names: value
                .contacts
                .iter()
                .filter_map(|c| {
                    let wa_id = c.get("wa_id")?.as_str()?;
                    let name = c.get("profile")?.get("name")?.as_str()?;
                    Some((wa_id.to_owned(), name.to_owned()))
                })
                .collect(),
            messages: value.messages,
            ..Statuses::default()
        };
        for s in value.statuses {
            let Some(status) = status_of(&s.status) else {
                change.sent += 1;
                continue;
            };
            let reason = match (status, s.errors.first()) {
                (RecipientStatus::Failed, Some(e)) => {
                    let code = u32::try_from(e.code).ok().filter(|c| *c > 0).unwrap_or(SOMETHING_WENT_WRONG);
                    let title = e.title.as_deref().or(e.message.as_deref()).unwrap_or("WhatsApp error");
                    change.errors.push((code, title.to_owned()));
                    code
                }
                (RecipientStatus::Failed, None) => SOMETHING_WENT_WRONG,
                _ => 0,
            };
            // Our id echoed back matches even a send whose wamid a crash kept us from recording.
            let ours = s.biz_opaque_callback_data.filter(|d| parse_message_id(d).is_some() || d.starts_with("ob."));
            let message_id = ours.unwrap_or(s.id);
            let at = s
                .timestamp
                .as_deref()
                .and_then(|t| t.parse::<i64>().ok())
                .and_then(|t| t.checked_mul(1000))
                .unwrap_or(now);
            change.receipts.push(Receipt { message_id, status, at, reason });
        }
        out.push(change);
    }
    Some(out)
}

/// Whether `signature` is the HMAC-SHA256 of `body` under `secret` (compared in constant time).
fn signed_by(body: &[u8], secret: &[u8], signature: &[u8]) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(body);
    mac.verify_slice(signature).is_ok()
}

/// `delivered` → RECEIVED, `read` → READ, `failed` → FAILED; `sent` (and anything else)
/// changes nothing: the recipient is PROCESSED already.
fn status_of(s: &str) -> Option<RecipientStatus> {
    match s {
        "delivered" => Some(RecipientStatus::Received),
        "read" => Some(RecipientStatus::Read),
        "failed" => Some(RecipientStatus::Failed),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: ChangeValue,
}

#[derive(Debug, Default, Deserialize)]
struct ChangeValue {
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    statuses: Vec<StatusItem>,
    #[serde(default)]
    messages: Vec<serde_json::Value>,
    #[serde(default)]
    contacts: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    #[serde(default)]
    phone_number_id: String,
}

#[derive(Debug, Deserialize)]
struct StatusItem {
    #[serde(default)]
    id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    errors: Vec<StatusError>,
}

#[derive(Debug, Deserialize)]
struct StatusError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_and_body() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(b"{\"a\":1}");
        let sig = mac.finalize().into_bytes().to_vec();
        assert!(signed_by(b"{\"a\":1}", b"app-secret", &sig));
        assert!(!signed_by(b"{\"a\":2}", b"app-secret", &sig));
        assert!(!signed_by(b"{\"a\":1}", b"other", &sig));
        assert!(!signed_by(b"{\"a\":1}", b"", &sig), "an empty secret verifies nothing");
    }
}
