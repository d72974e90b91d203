//! The LIME message a bot receives for an inbound message (conversations.md step 5): its
//! type and content by kind, and the metadata a router bot routes on.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::campaign::Campaign;

/// What a person sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Content {
    Text(String),
    /// An image, video, audio or document, by `uri`.
    Media {
        kind: String,
        uri: String,
        mime: Option<String>,
        title: Option<String>,
        text: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        text: Option<String>,
    },
    /// A tapped button, quick reply or list row: the visible text with its payload and id.
    Reply {
        text: String,
        payload: Option<String>,
        id: Option<String>,
    },
}

impl Content {
    /// The text a keyword is looked for in (texts and the visible text of a reply).
    pub fn text(&self) -> Option<&str> {
        match self {
            Content::Text(t) | Content::Reply { text: t, .. } => Some(t),
            _ => None,
        }
    }
}

/// Everything the envelope carries besides the content.
pub struct Addressing<'a> {
    pub id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub provider_id: &'a str,
    pub channel: &'a str,
    pub received_at: &'a str,
    pub campaign: Option<&'a Campaign>,
    /// `#optOut` or `#optIn`.
    pub keyword: Option<&'static str>,
}

/// The message envelope as JSON text.
pub fn render(a: &Addressing<'_>, content: &Content) -> String {
    let mut meta = Map::new();
    let (media_type, body) = match content {
        Content::Text(t) => ("text/plain", Value::String(t.clone())),
        Content::Media { kind, uri, mime, title, text } => {
            let mut m = Map::new();
            m.insert("type".into(), Value::String(mime.clone().unwrap_or_else(|| default_mime(kind).to_owned())));
            m.insert("uri".into(), Value::String(uri.clone()));
            if let Some(t) = title {
                m.insert("title".into(), Value::String(t.clone()));
            }
            if let Some(t) = text {
                m.insert("text".into(), Value::String(t.clone()));
            }
            ("application/vnd.lime.media-link+json", Value::Object(m))
        }
        Content::Location { latitude, longitude, text } => {
            let mut m = Map::new();
            m.insert("latitude".into(), json!(latitude));
            m.insert("longitude".into(), json!(longitude));
            if let Some(t) = text {
                m.insert("text".into(), Value::String(t.clone()));
            }
            ("application/vnd.lime.location+json", Value::Object(m))
        }
        Content::Reply { text, payload, id } => {
            if let Some(p) = payload {
                meta.insert("#reply.payload".into(), Value::String(p.clone()));
            }
            if let Some(i) = id {
                meta.insert("#reply.id".into(), Value::String(i.clone()));
            }
            ("text/plain", Value::String(text.clone()))
        }
    };
    if let Some(c) = a.campaign {
        meta.insert("#activecampaign.campaignId".into(), Value::String(c.id.to_string()));
        for (key, value) in [
            ("#activecampaign.flowId", &c.flow_id),
            ("#activecampaign.stateId", &c.state_id),
            ("#activecampaign.masterState", &c.master_state),
        ] {
            if let Some(v) = value {
                meta.insert(key.into(), Value::String(v.clone()));
            }
        }
    }
    if let Some(k) = a.keyword {
        meta.insert(k.into(), Value::String("true".into()));
    }
    meta.insert("#provider.messageId".into(), Value::String(a.provider_id.to_owned()));
    meta.insert("#channel".into(), Value::String(a.channel.to_owned()));
    meta.insert("#receivedAt".into(), Value::String(a.received_at.to_owned()));
    json!({"id": a.id, "from": a.from, "to": a.to, "type": media_type, "content": body, "metadata": meta}).to_string()
}

fn default_mime(kind: &str) -> &'static str {
    match kind {
        "image" => "image/jpeg",
        "video" => "video/mp4",
        "audio" => "audio/ogg",
        _ => "application/octet-stream",
    }
}
