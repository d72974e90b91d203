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
    /// `none`, `text`, `image`, `video` or `document` (of each card, in a carousel).
    #[serde(default)]
    pub header_type: Option<String>,
    /// Buttons (of each card, in a carousel) as an array of `{type, dynamic, text}`: as the
    /// configuration or template sync gave them, or as the REST API received them.
    #[serde(default)]
    pub buttons: Option<serde_json::Value>,
    /// Cards of a carousel template (0: not a carousel).
    #[serde(default)]
    pub cards: usize,
    /// The body text of each card of a carousel (its placeholders are slots of every card).
    #[serde(default)]
    pub card_body: Option<String>,
    /// How the provider names the parameters (`{{1}}` or `{{first_name}}`).
    #[serde(default)]
    pub parameter_format: ParameterFormat,
    /// Set by template sync: the provider listed it (a synced template that disappears from
    /// the provider's list becomes DELETED).
    #[serde(default)]
    pub synced: bool,
    pub created: Millis,
}

/// How a template's parameters are named: `{{1}}`, `{{2}}`… or `{{first_name}}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterFormat {
    #[default]
    Positional,
    Named,
}

impl ParameterFormat {
    /// `positional` / `named`, any case.
    pub fn parse(s: &str) -> Option<ParameterFormat> {
        match s.to_ascii_lowercase().as_str() {
            "positional" => Some(ParameterFormat::Positional),
            "named" => Some(ParameterFormat::Named),
            _ => None,
        }
    }
}

/// The kinds of header a template may have (the configuration's `header` keywords).
pub const HEADER_KINDS: [&str; 5] = ["none", "text", "image", "video", "document"];

/// What kind of button a template button is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonKind {
    Url,
    QuickReply,
    CopyCode,
    /// Phone number, flow, catalog…: takes no parameter from a campaign.
    Other,
}

impl ButtonKind {
    /// `url`, `quick_reply`, `copy_code` (any case, `-` or `_`); anything else is `Other`.
    pub fn parse(s: &str) -> ButtonKind {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "url" => ButtonKind::Url,
            "quick_reply" => ButtonKind::QuickReply,
            "copy_code" => ButtonKind::CopyCode,
            _ => ButtonKind::Other,
        }
    }
}

/// One button of a template, at its position (`index`) among the template's buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub index: usize,
    pub kind: ButtonKind,
    /// A URL button whose URL ends in a `{{1}}` suffix the campaign fills.
    pub dynamic: bool,
    pub text: Option<String>,
}

impl Button {
    /// Whether a campaign value goes into it: a dynamic URL button or a copy-code button.
    pub fn takes_value(&self) -> bool {
        match self.kind {
            ButtonKind::Url => self.dynamic,
            ButtonKind::CopyCode => true,
            ButtonKind::QuickReply | ButtonKind::Other => false,
        }
    }
}

/// A slot of a template: where one campaign value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A `{{name}}` of a text header.
    HeaderText(String),
    /// The media of an `image`, `video` or `document` header (the value is its link).
    HeaderMedia(String),
    /// A `{{name}}` of the body.
    Body(String),
    /// A dynamic URL or copy-code button.
    Button(Button),
}

/// A template's slots in the order campaign values fill them: header, body, buttons, then
/// each card of a carousel with its header, body and buttons.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Slots {
    pub message: Vec<Slot>,
    pub cards: Vec<Vec<Slot>>,
}

impl Slots {
    pub fn count(&self) -> usize {
        self.message.len() + self.cards.iter().map(Vec::len).sum::<usize>()
    }
}

impl TemplateDef {
    pub fn is_approved(&self) -> bool {
        self.status == TemplateStatus::Approved
    }

    /// The header kind: `none`, `text`, `image`, `video` or `document` (a header text alone
    /// is a text header).
    pub fn header_kind(&self) -> &str {
        match (&self.header_type, &self.header) {
            (Some(kind), _) => kind.as_str(),
            (None, Some(text)) if !text.is_empty() => "text",
            (None, _) => "none",
        }
    }

    /// The buttons (of each card, in a carousel), read leniently from [`TemplateDef::buttons`]:
    /// an entry without a known `type` is a button that takes nothing.
    pub fn button_list(&self) -> Vec<Button> {
        let Some(serde_json::Value::Array(items)) = &self.buttons else { return Vec::new() };
        items
            .iter()
            .enumerate()
            .map(|(index, b)| {
                let kind = b.get("type").and_then(|t| t.as_str()).map_or(ButtonKind::Other, ButtonKind::parse);
                let dynamic = b.get("dynamic").and_then(|d| d.as_bool()).unwrap_or(false);
                let text = b.get("text").and_then(|t| t.as_str()).map(str::to_owned);
                Button { index, kind, dynamic, text }
            })
            .collect()
    }

    /// Where campaign values go, in order.
    pub fn slots(&self) -> Slots {
        let format = self.parameter_format;
        let header: Vec<Slot> = match self.header_kind() {
            "none" => Vec::new(),
            "text" => {
                distinct_names(self.header.as_deref().unwrap_or(""), format).into_iter().map(Slot::HeaderText).collect()
            }
            media => vec![Slot::HeaderMedia(media.to_owned())],
        };
        let buttons: Vec<Slot> = self.button_list().into_iter().filter(Button::takes_value).map(Slot::Button).collect();
        let body = |text: &str| distinct_names(text, format).into_iter().map(Slot::Body).collect::<Vec<_>>();
        if self.cards == 0 {
            let mut message = header;
            message.extend(body(&self.body));
            message.extend(buttons);
            return Slots { message, cards: Vec::new() };
        }
        let mut card = header;
        card.extend(body(self.card_body.as_deref().unwrap_or("")));
        card.extend(buttons);
        Slots { message: body(&self.body), cards: vec![card; self.cards] }
    }

    /// The number of values a message of this template takes.
    pub fn slot_count(&self) -> usize {
        self.slots().count()
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
    /// A synced template the provider no longer lists.
    Deleted,
}

impl TemplateStatus {
    pub const ALL: [TemplateStatus; 6] = [
        TemplateStatus::Approved,
        TemplateStatus::Pending,
        TemplateStatus::Rejected,
        TemplateStatus::Paused,
        TemplateStatus::Disabled,
        TemplateStatus::Deleted,
    ];

    /// `APPROVED`, `PENDING`, …, as both faces and the store spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateStatus::Approved => "APPROVED",
            TemplateStatus::Pending => "PENDING",
            TemplateStatus::Rejected => "REJECTED",
            TemplateStatus::Paused => "PAUSED",
            TemplateStatus::Disabled => "DISABLED",
            TemplateStatus::Deleted => "DELETED",
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

/// The distinct placeholders of `text` in slot order: by number for positional templates
/// (`{{2}}` after `{{1}}`, whatever the text's order), by first appearance for named ones.
pub fn distinct_names(text: &str, format: ParameterFormat) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in placeholders(text) {
        if !p.is_empty() && !names.iter().any(|n| n == p) {
            names.push(p.to_owned());
        }
    }
    if format == ParameterFormat::Positional {
        names.sort_by_key(|n| n.parse::<u64>().unwrap_or(u64::MAX));
    }
    names
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
    fn slots_follow_the_structure_in_component_order() {
        let mut t = TemplateDef {
            id: "t".into(),
            channel_id: "c".into(),
            name: "n".into(),
            language: "pt_BR".into(),
            status: TemplateStatus::Approved,
            category: None,
            header: Some("{{1}}".into()),
            body: "Oi {{2}}, {{2}} de novo".into(),
            parameters: 0,
            header_type: None,
            buttons: None,
            cards: 0,
            card_body: None,
            parameter_format: ParameterFormat::Positional,
            synced: false,
            created: 0,
        };
        assert_eq!(t.slot_count(), 2, "a text header numbered globally, as configs wrote it before");
        t.header_type = Some("video".into());
        t.header = None;
        t.buttons = Some(serde_json::json!([{"type": "URL", "dynamic": true}, {"type": "quick_reply", "text": "Sim"},
                                             {"type": "copy_code"}, {"type": "URL"}]));
        let slots = t.slots();
        assert_eq!(slots.message.len(), 4, "video, body, dynamic URL, copy code: {slots:?}");
        assert!(matches!(&slots.message[3], Slot::Button(b) if b.index == 2 && b.kind == ButtonKind::CopyCode));
        t.cards = 3;
        t.card_body = Some("{{1}}".into());
        t.body = "Aulas".into();
        assert_eq!(t.slot_count(), 3 * 4, "each card: video, its body variable and two button values");
        assert_eq!(distinct_names("{{b}} {{a}} {{b}}", ParameterFormat::Named), ["b", "a"]);
        assert_eq!(distinct_names("{{10}} {{2}}", ParameterFormat::Positional), ["2", "10"]);
    }

    #[test]
    fn replaces_known_placeholders_only() {
        let out = replace_placeholders("Olá {{nome}}, {{x}}!", |n| (n == "nome").then(|| "Ana".to_owned()));
        assert_eq!(out, "Olá Ana, {{x}}!");
        assert_eq!(replace_placeholders("a {{b", |_| Some("z".into())), "a {{b");
    }
}
