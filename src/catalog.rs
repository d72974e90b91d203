//! Channel and template definitions of a workspace (config-seeded, REST-created). Those of
//! the configuration file are built at the config boundary (`src/config/conversion.rs`).

use serde::{Deserialize, Serialize};

use crate::campaign::{ChannelType, Millis};

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

/// A message template registered on a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateDef {
    pub id: String,
    pub channel_id: String,
    pub name: String,
    pub language: String,
    pub status: TemplateStatus,
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
    pub fn is_approved(&self) -> bool {
        self.status == TemplateStatus::Approved
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

/// Where a template is in the provider's review; only APPROVED templates may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TemplateStatus {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
}

impl TemplateStatus {
    pub const ALL: [TemplateStatus; 5] = [
        TemplateStatus::Approved,
        TemplateStatus::Pending,
        TemplateStatus::Rejected,
        TemplateStatus::Paused,
        TemplateStatus::Disabled,
    ];

    /// `APPROVED`, `PENDING`, …, as both faces and the store spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateStatus::Approved => "APPROVED",
            TemplateStatus::Pending => "PENDING",
            TemplateStatus::Rejected => "REJECTED",
            TemplateStatus::Paused => "PAUSED",
            TemplateStatus::Disabled => "DISABLED",
        }
    }

    /// Case-insensitive.
    pub fn parse(s: &str) -> Option<TemplateStatus> {
        TemplateStatus::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for TemplateStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    fn template_statuses_parse_in_any_case_and_serialise_upper_case() {
        assert_eq!(TemplateStatus::parse("approved"), Some(TemplateStatus::Approved));
        assert_eq!(TemplateStatus::parse("Paused"), Some(TemplateStatus::Paused));
        assert_eq!(TemplateStatus::parse("gone"), None);
        for t in TemplateStatus::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn replaces_known_placeholders_only() {
        let out = replace_placeholders("Olá {{nome}}, {{x}}!", |n| (n == "nome").then(|| "Ana".to_owned()));
        assert_eq!(out, "Olá Ana, {{x}}!");
        assert_eq!(replace_placeholders("a {{b", |_| Some("z".into())), "a {{b");
    }
}
