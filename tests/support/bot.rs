//! A bot's side of the message plane over raw LIME: the next message envelope a session
//! receives (skipping notifications and commands) and its acknowledgement.

use std::time::Duration;

use serde_json::{json, Value};

use super::Ws;

/// Whether `v` is a message envelope (not a notification, command or session).
pub fn is_message(v: &Value) -> bool {
    v.get("content").is_some() && v.get("event").is_none() && v.get("method").is_none() && v.get("state").is_none()
}

/// The next message envelope, skipping anything else; panics after `WAIT`.
pub async fn next_message(ws: &mut Ws) -> Value {
    loop {
        let v = ws.recv().await;
        if is_message(&v) {
            return v;
        }
    }
}

/// Any message envelope within `within`, or `None`.
pub async fn message_within(ws: &mut Ws, within: Duration) -> Option<Value> {
    tokio::time::timeout(within, next_message(ws)).await.ok()
}

/// The bot's `event` notification (`received`, `consumed`, `failed`) for `message`.
pub async fn ack(ws: &mut Ws, message: &Value, event: &str) {
    ws.send(json!({"id": message["id"], "to": message["from"], "event": event})).await;
}
