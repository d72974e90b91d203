//! What a bot may send a person (conversations.md, Outbound): the LIME contents read into one
//! typed [`Content`], checked before anything is stored, so that a channel only builds it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest text the gateway takes (WhatsApp's body limit; RBM takes more).
pub(super) const MAX_TEXT: usize = 4096;
/// Reply buttons / suggested replies of one select (WhatsApp's limit).
pub(super) const MAX_OPTIONS: usize = 3;
/// Longest option title (WhatsApp's button title limit; RBM's is 25).
pub(super) const MAX_OPTION_TEXT: usize = 20;

/// What a channel needs to send a bot's message (the `conversation` of a channel message).
#[derive(Debug, Clone, PartialEq)]
pub struct FreeForm {
    pub content: Content,
    /// The person's last inbound message (the contact's `lastMessageDate`), if any: WhatsApp
    /// takes free-form messages only within 24 h of it (the simulator enforces the same).
    pub last_inbound: Option<crate::campaign::Millis>,
}

/// The WhatsApp customer service window: free-form messages within 24 h of the person's
/// last inbound message.
const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

impl FreeForm {
    /// Whether WhatsApp refuses this message at `now`: free-form, and no inbound message from
    /// the person within [`WINDOW_MS`] (before the inbound half is merged, a person who never
    /// wrote is outside it).
    pub fn outside_window(&self, now: crate::campaign::Millis) -> bool {
        self.content.is_free_form() && self.last_inbound.is_none_or(|at| now - at >= WINDOW_MS)
    }
}

/// A bot message's content, as stored with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// `text/plain`.
    Text { text: String },
    /// `application/vnd.lime.media-link+json`.
    Media {
        media: MediaKind,
        uri: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// `application/vnd.lime.select+json`: a text with up to three replies.
    Select { text: String, options: Vec<Choice> },
    /// `application/json` `{"type":"template","template":{…}}`: a WhatsApp template, as given.
    Template { template: Value },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
}

impl MediaKind {
    /// The provider's name of the kind (WhatsApp's message `type`).
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
        }
    }

    /// From the media link's MIME type: `image/*`, `video/*`, `audio/*`, anything else a document.
    fn of(mime: &str) -> MediaKind {
        match mime.split('/').next().unwrap_or("").trim().to_ascii_lowercase().as_str() {
            "image" => MediaKind::Image,
            "video" => MediaKind::Video,
            "audio" => MediaKind::Audio,
            _ => MediaKind::Document,
        }
    }
}

/// One option of a select: what the person sees and what comes back when it is tapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub title: String,
    pub payload: String,
}

impl Content {
    /// Whether WhatsApp's 24 h window applies (every free-form message; templates are exempt).
    pub fn is_free_form(&self) -> bool {
        !matches!(self, Content::Template { .. })
    }

    /// Reads a LIME message's `type` and `content`; the error is the description of a
    /// `failed` 64, naming the type or the field at fault.
    pub fn parse(media_type: Option<&str>, content: &Value) -> Result<Content, String> {
        let media_type = media_type.unwrap_or("text/plain");
        let bare = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match bare.as_str() {
            "text/plain" => {
                let text = content.as_str().ok_or("A text/plain content must be a string")?;
                Ok(Content::Text { text: text_field("content", text)? })
            }
            "application/vnd.lime.media-link+json" => media(content),
            "application/vnd.lime.select+json" => select(content),
            "application/json" if content.get("type").and_then(Value::as_str) == Some("template") => template(content),
            _ => Err(format!("The message type '{media_type}' is not supported on this channel")),
        }
    }
}

fn text_field(field: &str, text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(format!("The {field} is empty"));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(format!("The {field} is over {MAX_TEXT} characters"));
    }
    Ok(text.to_owned())
}

fn optional_text(content: &Value, field: &str) -> Result<Option<String>, String> {
    match content.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => text_field(field, s).map(Some),
        Some(_) => Err(format!("The media link's '{field}' must be a string")),
    }
}

fn media(content: &Value) -> Result<Content, String> {
    let uri = content.get("uri").and_then(Value::as_str).ok_or("A media link needs a 'uri' (string)")?;
    match reqwest::Url::parse(uri) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => return Err(format!("The media link's uri '{uri}' is not an http(s) URL")),
    }
    let mime = content.get("type").and_then(Value::as_str).map(str::to_owned);
    let media = MediaKind::of(mime.as_deref().unwrap_or(""));
    Ok(Content::Media {
        media,
        uri: uri.to_owned(),
        mime,
        title: optional_text(content, "title")?,
        text: optional_text(content, "text")?,
    })
}

fn select(content: &Value) -> Result<Content, String> {
    let text = content.get("text").and_then(Value::as_str).ok_or("A select needs a 'text' (string)")?;
    let text = text_field("select text", text)?;
    let options = content.get("options").and_then(Value::as_array).ok_or("A select needs 'options' (a list)")?;
    if options.is_empty() || options.len() > MAX_OPTIONS {
        return Err(format!("A select takes 1 to {MAX_OPTIONS} options; it has {}", options.len()));
    }
    let mut choices = Vec::with_capacity(options.len());
    for (i, o) in options.iter().enumerate() {
        let title = o.get("text").and_then(Value::as_str).ok_or(format!("options[{i}] needs a 'text' (string)"))?;
        if title.trim().is_empty() || title.chars().count() > MAX_OPTION_TEXT {
            return Err(format!("options[{i}].text must have 1 to {MAX_OPTION_TEXT} characters"));
        }
        // The payload: the option's value (its text when a string), else its order, else its text.
        let payload = match (o.get("value"), o.get("order")) {
            (Some(Value::String(s)), _) if !s.is_empty() => s.clone(),
            (Some(v), _) if !v.is_null() && !v.is_string() => v.to_string(),
            (_, Some(order)) if order.is_number() => order.to_string(),
            _ => title.to_owned(),
        };
        choices.push(Choice { title: title.to_owned(), payload });
    }
    Ok(Content::Select { text, options: choices })
}

fn template(content: &Value) -> Result<Content, String> {
    let t = content.get("template").filter(|t| t.is_object()).ok_or("A template message needs a 'template' object")?;
    if t.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err("template.name is required (string)".into());
    }
    if t.pointer("/language/code").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err("template.language.code is required (string)".into());
    }
    if t.get("components").is_some_and(|c| !c.is_array()) {
        return Err("template.components must be a list".into());
    }
    Ok(Content::Template { template: t.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_supported_type_is_read_and_anything_else_is_named() {
        assert_eq!(Content::parse(Some("text/plain"), &json!("oi")).unwrap(), Content::Text { text: "oi".into() });
        let m = Content::parse(
            Some("application/vnd.lime.media-link+json"),
            &json!({"type":"image/jpeg","uri":"https://x.test/a.jpg","text":"veja"}),
        )
        .unwrap();
        assert!(
            matches!(m, Content::Media { media: MediaKind::Image, ref text, .. } if text.as_deref() == Some("veja"))
        );
        let s = Content::parse(
            Some("application/vnd.lime.select+json"),
            &json!({"text":"Quer?","options":[{"text":"Sim","value":"yes"},{"text":"Não","order":2}]}),
        )
        .unwrap();
        let Content::Select { options, .. } = s else { panic!("{s:?}") };
        assert_eq!(options[0].payload, "yes");
        assert_eq!(options[1].payload, "2");
        let e = Content::parse(Some("application/vnd.lime.location+json"), &json!({})).unwrap_err();
        assert!(e.contains("application/vnd.lime.location+json"), "{e}");
        let four = json!({"text":"?","options":[{"text":"a"},{"text":"b"},{"text":"c"},{"text":"d"}]});
        assert!(Content::parse(Some("application/vnd.lime.select+json"), &four).unwrap_err().contains("1 to 3"));
        let t = json!({"type":"template","template":{"name":"promo","language":{"code":"pt_BR"},"components":[]}});
        assert!(matches!(Content::parse(Some("application/json"), &t).unwrap(), Content::Template { .. }));
        let bad = json!({"type":"template","template":{"name":"promo"}});
        assert!(Content::parse(Some("application/json"), &bad).unwrap_err().contains("language.code"));
        assert!(
            Content::parse(Some("application/vnd.lime.media-link+json"), &json!({"uri":"file:///etc/passwd"})).is_err()
        );
    }
}
