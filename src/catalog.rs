//! Channel and template definitions of a workspace (config-seeded, REST-created).

use serde::{Deserialize, Serialize};

use crate::campaign::{ChannelType, Millis};
use crate::config::{ChannelConfig, TemplateConfig};

/// A channel as configured: type, provider and provider settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelDef {
    pub id: String,
    pub channel_type: ChannelType,
    /// `simulator` (the only provider so far).
    pub provider: String,
    /// The tenant's channel for this type on the LIME face.
    pub default: bool,
    pub name: String,
    pub delivered_after_ms: u64,
    pub read_after_ms: u64,
    /// Sends per second over all campaigns of this channel (`None` = no ceiling).
    pub max_per_second: Option<u32>,
    /// Simulator send ledger file (see the config's `ledger`).
    #[serde(default)]
    pub ledger: Option<String>,
    pub created: Millis,
}

impl ChannelDef {
    pub fn from_config(c: &ChannelConfig) -> ChannelDef {
        ChannelDef {
            id: c.id.clone(),
            channel_type: ChannelType::from_config(c.channel_type),
            provider: "simulator".into(),
            default: c.default,
            name: c.name.clone().unwrap_or_else(|| c.id.clone()),
            delivered_after_ms: c.delivered_after_ms,
            read_after_ms: c.read_after_ms,
            max_per_second: c.max_per_second,
            ledger: c.ledger.as_ref().map(|p| p.display().to_string()),
            created: 0,
        }
    }
}

/// A message template registered on a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateDef {
    pub id: String,
    pub channel_id: String,
    pub name: String,
    pub language: String,
    /// APPROVED, PENDING, REJECTED, PAUSED or DISABLED.
    pub status: String,
    pub category: Option<String>,
    pub header: Option<String>,
    pub body: String,
    /// Number of parameters `{{1}}…{{n}}`.
    pub parameters: usize,
    /// `none`, `text`, `image`, `video` or `document` (REST templates).
    #[serde(default)]
    pub header_type: Option<String>,
    /// Buttons as the REST API received them.
    #[serde(default)]
    pub buttons: Option<serde_json::Value>,
    pub created: Millis,
}

impl TemplateDef {
    pub fn from_config(t: &TemplateConfig) -> TemplateDef {
        let text = format!("{} {}", t.header.as_deref().unwrap_or(""), t.body);
        TemplateDef {
            id: t.id.clone(),
            channel_id: t.channel.clone(),
            name: t.name.clone(),
            language: t.language.clone(),
            status: t.status.to_ascii_uppercase(),
            category: t.category.clone(),
            header: t.header.clone(),
            body: t.body.clone(),
            parameters: t.parameters.unwrap_or_else(|| numbered_placeholders(&text)),
            header_type: t.header.as_ref().map(|_| "text".to_owned()),
            buttons: None,
            created: 0,
        }
    }

    pub fn is_approved(&self) -> bool {
        self.status.eq_ignore_ascii_case("APPROVED")
    }

    /// The body with `{{n}}` replaced by `values[n-1]`.
    pub fn render(&self, values: &[&str]) -> String {
        let text = match &self.header {
            Some(h) if !h.is_empty() => format!("{h}\n{}", self.body),
            _ => self.body.clone(),
        };
        replace_placeholders(&text, |name| {
            name.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| values.get(i)).map(|v| v.to_string())
        })
    }
}

/// A contact tag of a workspace (REST `GET /api/v1/campaigns/tags`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagDef {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
    pub created: Millis,
}

/// The type of a custom contact field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FieldType {
    Text,
    Number,
    Date,
    Boolean,
}

/// A custom contact field; contacts keep its value in `extras` under `key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldDef {
    pub id: String,
    pub key: String,
    pub name: String,
    pub field_type: FieldType,
    pub is_required: bool,
    pub is_visible: bool,
    pub description: Option<String>,
    pub created: Millis,
}

/// The highest `n` of the `{{n}}` placeholders in `text` (0 when there are none).
pub fn numbered_placeholders(text: &str) -> usize {
    placeholders(text).filter_map(|p| p.trim().parse::<usize>().ok()).max().unwrap_or(0)
}

/// The names between `{{` and `}}`, in order.
pub fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = rest.find("{{")?;
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        rest = &after[end + 2..];
        Some(after[..end].trim())
    })
}

/// Replaces every `{{name}}` for which `value` answers; others are left as written.
pub fn replace_placeholders(text: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push_str(&rest[..start]);
        match value(after[..end].trim()) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_numbered_placeholders() {
        assert_eq!(numbered_placeholders("Olá {{1}}, pedido {{2}} {{ 2 }}"), 2);
        assert_eq!(numbered_placeholders("sem variáveis"), 0);
        assert_eq!(numbered_placeholders("{{nome}}"), 0);
    }

    #[test]
    fn replaces_known_placeholders_only() {
        let out = replace_placeholders("Olá {{nome}}, {{x}}!", |n| (n == "nome").then(|| "Ana".to_owned()));
        assert_eq!(out, "Olá Ana, {{x}}!");
        assert_eq!(replace_placeholders("a {{b", |_| Some("z".into())), "a {{b");
    }
}
