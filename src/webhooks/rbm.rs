//! `POST /webhooks/rbm`: Google RBM's webhook. One URL for every `google_rbm` channel: the
//! verification handshake (`{"clientToken","secret"}` → the secret, as plain text), and events
//! in a Pub/Sub-style envelope whose `message.data` is the base64 of the event; the header
//! `X-Goog-Signature` is the base64 HMAC-SHA512 of those decoded bytes keyed by the channel's
//! `client_token`. Delivery receipts and people's messages are written to the store before the 200 (Google retries
//! anything else for days).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha512;

use crate::campaign::{Millis, RecipientStatus};
use crate::problem::json_error;
use crate::state::AppState;
use crate::store::Receipt;

pub use super::MAX_BODY;
const SIGNATURE: &str = "x-goog-signature";

/// A body is either the verification handshake or an event envelope.
#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "clientToken")]
    client_token: Option<String>,
    secret: Option<String>,
    message: Option<PushMessage>,
}

#[derive(Deserialize)]
struct PushMessage {
    data: String,
}

/// The decoded `message.data` (UserEvent, or a user's message, which has no `eventType`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    event_type: Option<String>,
    sender_phone_number: Option<String>,
    event_id: Option<String>,
    message_id: Option<String>,
    send_time: Option<String>,
    text: Option<serde_json::Value>,
    suggestion_response: Option<serde_json::Value>,
}

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match super::raw_body(body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    // Bounded above; the envelope's JSON must be read to find what the signature covers.
    match request(&bytes) {
        Some(Request::Event { data }) => event(&state, &headers, &data).await,
        Some(Request::Verify { token, secret }) => verify(&state, &token, secret),
        None => json_error(StatusCode::BAD_REQUEST, "The body is not an RBM webhook request"),
    }
}

/// What a webhook body asks, read before any signature check (the handshake carries none;
/// an event's signature covers its decoded `message.data`).
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// An event: `message.data`, the base64 of the signed event.
    Event { data: String },
    /// The verification handshake.
    Verify { token: String, secret: String },
}

/// The request a webhook body makes; `None` when it is neither. Pure, so that the fuzz
/// target can call it.
pub fn request(body: &[u8]) -> Option<Request> {
    let incoming = serde_json::from_slice::<Incoming>(body).ok()?;
    match (incoming.message, incoming.client_token, incoming.secret) {
        (Some(message), _, _) => Some(Request::Event { data: message.data }),
        (None, Some(token), Some(secret)) => Some(Request::Verify { token, secret }),
        _ => None,
    }
}

/// What a signed event means for the campaigns.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// A DELIVERED or READ receipt of one of our messages.
    Receipt(Receipt),
    /// A receipt without a `messageId` (nothing to apply), with its `eventId`.
    Anonymous(Option<String>),
    /// UNSUBSCRIBE (`subscribed` false: onto the suppression list) or SUBSCRIBE (off it).
    Subscription { phone: u64, subscribed: bool },
    /// A person's message (conversations.md): to the inbox.
    Message(super::messages::Incoming),
    /// Typing, (UN)SUBSCRIBE, a message the gateway does not carry, …: `kind` says which.
    Ignored(String),
}

/// The meaning of a decoded, signed event; `None` when it is not JSON. A receipt without a
/// usable `sendTime` is stamped `now`. Pure, so that the fuzz target can call it.
pub fn action(decoded: &[u8], now: Millis) -> Option<Action> {
    let event = serde_json::from_slice::<Event>(decoded).ok()?;
    let status = match event.event_type.as_deref() {
        Some("DELIVERED") => RecipientStatus::Received,
        Some("READ") => RecipientStatus::Read,
        Some(kind @ ("UNSUBSCRIBE" | "SUBSCRIBE")) => {
            let phone = event.sender_phone_number.as_deref().and_then(|p| p.trim_start_matches('+').parse().ok());
            return Some(match phone {
                Some(phone) => Action::Subscription { phone, subscribed: kind == "SUBSCRIBE" },
                None => Action::Ignored(format!("{kind} without senderPhoneNumber")),
            });
        }
        None if event.text.is_some() || event.suggestion_response.is_some() || event.message_id.is_some() => {
            let value = serde_json::from_slice::<serde_json::Value>(decoded).ok()?;
            return Some(match super::messages::rbm(&value, now) {
                Some(m) => Action::Message(m),
                None => Action::Ignored("user message without content".into()),
            });
        }
        other => {
            let kind = match (other, &event.text, &event.suggestion_response) {
                (Some(t), _, _) => t,
                (None, Some(_), _) => "text",
                (None, None, Some(_)) => "suggestionResponse",
                (None, None, None) => "unknown",
            };
            return Some(Action::Ignored(kind.to_owned()));
        }
    };
    let Some(message_id) = event.message_id.as_deref().map(normalized) else {
        return Some(Action::Anonymous(event.event_id));
    };
    let at = event.send_time.as_deref().and_then(crate::datetime::parse).unwrap_or(now);
    Some(Action::Receipt(Receipt { message_id, status, at, reason: 0 }))
}

/// The handshake: 200 with the secret when the token is some RBM channel's `client_token`.
fn verify(state: &AppState, token: &str, secret: String) -> Response {
    // Every channel is compared (constant time each), so the time says nothing about which.
    let known = state
        .engine
        .channels
        .providers()
        .rbm()
        .fold(false, |hit, c| hit | c.settings.client_token.matches(token.as_bytes()));
    if !known {
        tracing::warn!("RBM webhook verification with an unknown client token");
        return json_error(StatusCode::FORBIDDEN, "Unknown client token");
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], secret).into_response()
}

/// An event: its signature checked on the decoded bytes before they are parsed, then what it
/// says applied.
async fn event(state: &AppState, headers: &HeaderMap, data: &str) -> Response {
    let unsigned = || json_error(StatusCode::UNAUTHORIZED, "Missing or wrong X-Goog-Signature");
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(signature) = headers.get(SIGNATURE).and_then(|v| b64.decode(v.as_bytes()).ok()) else {
        return unsigned();
    };
    let Ok(decoded) = b64.decode(data.as_bytes()) else {
        return json_error(StatusCode::BAD_REQUEST, "message.data is not base64");
    };
    let signed_by = state.engine.channels.providers().rbm().find(|c| {
        let Ok(mut mac) = Hmac::<Sha512>::new_from_slice(c.settings.client_token.expose().as_bytes()) else {
            return false;
        };
        mac.update(&decoded);
        // verify_slice compares in constant time.
        mac.verify_slice(&signature).is_ok()
    });
    let Some(channel) = signed_by else {
        tracing::warn!("RBM webhook event with a missing or wrong signature: ignored");
        return unsigned();
    };
    let receipt = match action(&decoded, state.engine.clock.now()) {
        Some(Action::Receipt(receipt)) => receipt,
        Some(Action::Anonymous(event)) => {
            tracing::debug!(?event, "RBM receipt without a messageId: ignored");
            return ok();
        }
        Some(Action::Message(m)) => return message(state, &channel, m).await,
        Some(Action::Subscription { phone, subscribed }) => {
            let c = &state.engine.conversations;
            let done = if subscribed {
                c.unsuppress(&channel.tenant, phone).await.or_else(|e| match e {
                    crate::error::Error::NotFound(_) => Ok(()),
                    e => Err(e),
                })
            } else {
                let reason = Some("UNSUBSCRIBE".to_owned());
                c.suppress(&channel.tenant, phone, reason, Some(channel.channel.clone())).await.map(|_| ())
            };
            return match done {
                Ok(()) => ok(),
                Err(e) => {
                    tracing::error!(error = %e, "an RBM (UN)SUBSCRIBE could not be recorded: Google will retry it");
                    json_error(StatusCode::SERVICE_UNAVAILABLE, "The event could not be recorded; retry later")
                }
            };
        }
        Some(Action::Ignored(kind)) => {
            tracing::debug!(tenant = %channel.tenant, channel = %channel.channel, kind = %kind, "RBM event not handled yet");
            return ok();
        }
        None => {
            // Signed by Google, so answered 200: a refusal would only make it come back for days.
            tracing::warn!(tenant = %channel.tenant, channel = %channel.channel, "RBM event that is not JSON: ignored");
            return ok();
        }
    };
    // Unknown ids are ignored and repeated events change nothing (monotonic, counted once).
    match state.engine.outbound.apply_receipts(std::slice::from_ref(&receipt)).await {
        Ok(changed) => {
            tracing::debug!(message = %receipt.message_id, changed, "RBM receipt applied");
            let label = if receipt.status == RecipientStatus::Read { "read" } else { "received" };
            state.engine.metrics.receipt(&channel.tenant, &channel.channel, label);
            ok()
        }
        Err(e) => {
            tracing::error!(error = %e, "an RBM receipt could not be stored: Google will retry it");
            json_error(StatusCode::SERVICE_UNAVAILABLE, "The receipt could not be stored; retry later")
        }
    }
}

/// A person's message, in the inbox before the 200 (a repeat is recognised by its id).
async fn message(
    state: &AppState,
    channel: &crate::channel::settings::Configured<crate::channel::settings::RbmSettings>,
    m: super::messages::Incoming,
) -> Response {
    let inbound = crate::conversation::inbound::Inbound {
        tenant: channel.tenant.clone(),
        channel: channel.channel.clone(),
        channel_type: crate::campaign::ChannelType::GoogleRcs,
        phone: m.phone,
        provider_id: m.provider_id,
        received_at: m.at,
        content: m.content,
        name: m.name,
    };
    match state.engine.conversations.receive(inbound).await {
        Ok(_) => ok(),
        Err(e) => {
            tracing::error!(error = %e, "an inbound RBM message could not be recorded: Google will retry it");
            json_error(StatusCode::SERVICE_UNAVAILABLE, "The message could not be recorded; retry later")
        }
    }
}

/// The form the channel returned the id in (a UUID's hyphenated lower case), whatever case
/// Google echoes it in.
fn normalized(id: &str) -> String {
    uuid::Uuid::try_parse(id).map_or_else(|_| id.to_owned(), |u| u.to_string())
}

fn ok() -> Response {
    StatusCode::OK.into_response()
}
