//! The people's messages webhooks carry (providers.md, conversations.md step 5), read into the
//! conversations' [`Content`]: WhatsApp's `messages[]` items and RBM's user messages. Pure, so
//! that the fuzz targets reach them through `whatsapp::parse` and `rbm::action`.

use serde_json::Value;

use crate::campaign::Millis;
use crate::conversation::envelope::Content;

/// One message a person sent, as a webhook gives it (before it is tied to a tenant).
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The provider's message id (deduplication key).
    pub provider_id: String,
    /// E.164 digits of the sender.
    pub phone: u64,
    pub at: Millis,
    pub content: Content,
    /// The sender's profile name, when given.
    pub name: Option<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Digits of a phone as providers write it (`5531…`, `+5531…`).
fn digits(s: &str) -> Option<u64> {
    s.trim().trim_start_matches('+').parse::<u64>().ok().filter(|d| *d > 0)
}

/// A WhatsApp `messages[]` item; `media_base` is where a media id is fetched with the
/// channel's token (`{api_base}/{media id}`, the Cloud API's media endpoint). `None` for a
/// message without sender or id, or of a type the gateway does not carry (reactions, …).
pub fn whatsapp(item: &Value, names: &[(String, String)], media_base: &str, now: Millis) -> Option<Incoming> {
    let from = item.get("from").and_then(Value::as_str)?;
    let phone = digits(from)?;
    let provider_id = text(item, "id")?;
    let at = item
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| t.checked_mul(1000))
        .unwrap_or(now);
    let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
    let body = item.get(kind).cloned().unwrap_or(Value::Null);
    let content = match kind {
        "text" => Content::Text(text(&body, "body")?),
        "image" | "video" | "audio" | "document" | "sticker" => {
            let id = text(&body, "id")?;
            Content::Media {
                kind: if kind == "sticker" { "image".into() } else { kind.to_owned() },
                uri: format!("{}/{id}", media_base.trim_end_matches('/')),
                mime: text(&body, "mime_type"),
                title: text(&body, "filename"),
                text: text(&body, "caption"),
            }
        }
        "location" => Content::Location {
            latitude: body.get("latitude").and_then(Value::as_f64)?,
            longitude: body.get("longitude").and_then(Value::as_f64)?,
            text: text(&body, "name").or_else(|| text(&body, "address")),
        },
        // A template's quick-reply button.
        "button" => Content::Reply { text: text(&body, "text")?, payload: text(&body, "payload"), id: None },
        "interactive" => {
            let reply = body.get("button_reply").or_else(|| body.get("list_reply"))?;
            let id = text(reply, "id");
            Content::Reply { text: text(reply, "title")?, payload: id.clone(), id }
        }
        _ => return None,
    };
    let name = names.iter().find(|(wa_id, _)| digits(wa_id) == Some(phone)).map(|(_, n)| n.clone());
    Some(Incoming { provider_id, phone, at, content, name })
}

/// An RBM user message (decoded `message.data` without `eventType`): a text, a suggestion
/// tapped, a location or a file. `None` when it has no sender, id or content the gateway
/// carries.
pub fn rbm(event: &Value, now: Millis) -> Option<Incoming> {
    let phone = event.get("senderPhoneNumber").and_then(Value::as_str).and_then(digits)?;
    let provider_id = text(event, "messageId")?;
    let at = event.get("sendTime").and_then(Value::as_str).and_then(crate::datetime::parse).unwrap_or(now);
    let content = if let Some(t) = text(event, "text") {
        Content::Text(t)
    } else if let Some(s) = event.get("suggestionResponse") {
        let payload = text(s, "postbackData");
        Content::Reply { text: text(s, "text").or_else(|| payload.clone())?, payload: payload.clone(), id: payload }
    } else if let Some(l) = event.get("location") {
        Content::Location {
            latitude: l.get("latitude").and_then(Value::as_f64)?,
            longitude: l.get("longitude").and_then(Value::as_f64)?,
            text: None,
        }
    } else if let Some(f) = event.get("userFile").and_then(|f| f.get("payload")) {
        let mime = text(f, "mimeType");
        let kind = match mime.as_deref().and_then(|m| m.split('/').next()) {
            Some(k @ ("image" | "video" | "audio")) => k.to_owned(),
            _ => "document".to_owned(),
        };
        Content::Media { kind, uri: text(f, "fileUri")?, mime, title: text(f, "fileName"), text: None }
    } else {
        return None;
    };
    Some(Incoming { provider_id, phone, at, content, name: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whatsapp_items_become_contents() {
        let names = vec![("5531998761234".to_owned(), "Maria".to_owned())];
        let base = "https://graph.example/v21.0";
        let item = |v: Value| whatsapp(&v, &names, base, 7).unwrap();
        let t = item(
            json!({"from": "5531998761234", "id": "wamid.1", "timestamp": "10", "type": "text", "text": {"body": "oi"}}),
        );
        assert_eq!(
            (t.phone, t.at, t.content, t.name.as_deref()),
            (5531998761234, 10_000, Content::Text("oi".into()), Some("Maria"))
        );
        let i = item(
            json!({"from": "5531998761234", "id": "w2", "type": "image", "image": {"id": "M1", "mime_type": "image/png", "caption": "olha"}}),
        );
        assert_eq!(
            i.content,
            Content::Media {
                kind: "image".into(),
                uri: format!("{base}/M1"),
                mime: Some("image/png".into()),
                title: None,
                text: Some("olha".into())
            }
        );
        let b = item(
            json!({"from": "5531998761234", "id": "w3", "type": "button", "button": {"payload": "SIM", "text": "Sim"}}),
        );
        assert_eq!(b.content, Content::Reply { text: "Sim".into(), payload: Some("SIM".into()), id: None });
        let r = item(json!({"from": "5531998761234", "id": "w4", "type": "interactive",
                            "interactive": {"type": "button_reply", "button_reply": {"id": "opt-1", "title": "Quero"}}}));
        assert_eq!(
            r.content,
            Content::Reply { text: "Quero".into(), payload: Some("opt-1".into()), id: Some("opt-1".into()) }
        );
        let reaction = json!({"from": "5531998761234", "id": "w5", "type": "reaction", "reaction": {"emoji": "👍"}});
        assert_eq!(whatsapp(&reaction, &names, base, 7), None);
        assert_eq!(whatsapp(&json!({"id": "w6", "type": "text", "text": {"body": "x"}}), &names, base, 7), None);
    }

    #[test]
    fn rbm_user_messages_become_contents() {
        let t = rbm(&json!({"senderPhoneNumber": "+5531998761234", "messageId": "m1", "text": "oi"}), 5).unwrap();
        assert_eq!((t.phone, t.at, t.content), (5531998761234, 5, Content::Text("oi".into())));
        let s = rbm(
            &json!({"senderPhoneNumber": "+5531998761234", "messageId": "m2",
                            "suggestionResponse": {"postbackData": "yes", "text": "Sim"}}),
            5,
        )
        .unwrap();
        assert_eq!(
            s.content,
            Content::Reply { text: "Sim".into(), payload: Some("yes".into()), id: Some("yes".into()) }
        );
        assert_eq!(rbm(&json!({"senderPhoneNumber": "+5531998761234", "messageId": "m3"}), 5), None);
    }
}
