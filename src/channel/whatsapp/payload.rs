//! The Cloud API's send body for one message: a template whose components are filled from
//! the campaign's values in slot order (header, body, buttons, then each carousel card), or
//! a free-form text. `biz_opaque_callback_data` carries the gateway's message id, so that a
//! status is matched even when the wamid was never recorded.

use serde_json::{json, Map, Value};

use crate::catalog::{Button, ButtonKind, ParameterFormat, Slot, TemplateDef};
use crate::channel::Outbound;

/// The language of a template whose definition is not known and whose campaign named none.
const DEFAULT_LANGUAGE: &str = "pt_BR";

/// Why a message cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unbuildable {
    /// The template takes `expected` values and the message has `given`.
    Mismatch { template: String, expected: usize, given: usize },
    /// Neither a template nor a text.
    Empty,
}

impl std::fmt::Display for Unbuildable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unbuildable::Mismatch { template, expected, given } => {
                write!(f, "Template \"{template}\" takes {expected} parameters; the message has {given}")
            }
            Unbuildable::Empty => f.write_str("The message has neither a template nor a text"),
        }
    }
}

/// The JSON body of `POST /{phone_number_id}/messages` for `m`.
pub fn body(m: &Outbound) -> Result<Value, Unbuildable> {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": m.phone.digits(),
        "biz_opaque_callback_data": m.message_id,
    });
    if let Some(conversation) = &m.conversation {
        super::freeform::fill(&mut body, &conversation.content);
        return Ok(body);
    }
    match (&m.template, &m.text) {
        (Some((name, language)), _) => {
            let template = match m.template_def.as_deref() {
                Some(def) => template(def, &m.parameters)?,
                // Not registered here: the values go into the body, in order.
                None => json!({
                    "name": name,
                    "language": {"code": language.as_deref().unwrap_or(DEFAULT_LANGUAGE)},
                    "components": components_of_body(&m.parameters),
                }),
            };
            body["type"] = json!("template");
            body["template"] = template;
        }
        (None, Some(text)) => {
            body["type"] = json!("text");
            body["text"] = json!({"body": text});
        }
        (None, None) => return Err(Unbuildable::Empty),
    }
    Ok(body)
}

/// `{name, language, components}` of a template filled with `values`.
fn template(def: &TemplateDef, values: &[String]) -> Result<Value, Unbuildable> {
    let slots = def.slots();
    if slots.count() != values.len() {
        return Err(Unbuildable::Mismatch { template: def.name.clone(), expected: slots.count(), given: values.len() });
    }
    let format = def.parameter_format;
    let buttons = def.button_list();
    let mut values = values.iter().map(String::as_str);
    let mut components = fill(&slots.message, &mut values, format, if def.cards == 0 { &buttons } else { &[] });
    if !slots.cards.is_empty() {
        let cards: Vec<Value> = slots
            .cards
            .iter()
            .enumerate()
            .map(|(i, card)| json!({"card_index": i, "components": fill(card, &mut values, format, &buttons)}))
            .collect();
        components.push(json!({"type": "carousel", "cards": cards}));
    }
    let mut t = Map::new();
    t.insert("name".into(), json!(def.name));
    t.insert("language".into(), json!({"code": def.language}));
    if !components.is_empty() {
        t.insert("components".into(), Value::Array(components));
    }
    Ok(Value::Object(t))
}

/// The components of one message or card: its slots filled in order, and a quick-reply
/// button's payload (its own text) for each quick-reply button among `buttons`.
fn fill<'v>(
    slots: &[Slot],
    values: &mut impl Iterator<Item = &'v str>,
    format: ParameterFormat,
    buttons: &[Button],
) -> Vec<Value> {
    let (mut header, mut body, mut filled) = (Vec::new(), Vec::new(), Vec::new());
    for slot in slots {
        let value = values.next().unwrap_or_default();
        match slot {
            Slot::HeaderText(name) => header.push(text(value, name, format)),
            Slot::HeaderMedia(kind) => header.push(json!({"type": kind, kind.as_str(): {"link": value}})),
            Slot::Body(name) => body.push(text(value, name, format)),
            Slot::Button(b) => filled.push((b.index, button(b, value))),
        }
    }
    for b in buttons.iter().filter(|b| b.kind == ButtonKind::QuickReply) {
        if let Some(payload) = &b.text {
            filled.push((b.index, button(b, payload)));
        }
    }
    filled.sort_by_key(|(i, _)| *i);
    let mut out = Vec::new();
    if !header.is_empty() {
        out.push(json!({"type": "header", "parameters": header}));
    }
    if !body.is_empty() {
        out.push(json!({"type": "body", "parameters": body}));
    }
    out.extend(filled.into_iter().map(|(_, b)| b));
    out
}

/// A text parameter (named templates say which placeholder it fills).
fn text(value: &str, name: &str, format: ParameterFormat) -> Value {
    match format {
        ParameterFormat::Positional => json!({"type": "text", "text": value}),
        ParameterFormat::Named => json!({"type": "text", "text": value, "parameter_name": name}),
    }
}

/// A button component with its one parameter.
fn button(b: &Button, value: &str) -> Value {
    let (sub_type, parameter) = match b.kind {
        ButtonKind::Url | ButtonKind::Other => ("url", json!({"type": "text", "text": value})),
        ButtonKind::CopyCode => ("copy_code", json!({"type": "coupon_code", "coupon_code": value})),
        ButtonKind::QuickReply => ("quick_reply", json!({"type": "payload", "payload": value})),
    };
    json!({"type": "button", "sub_type": sub_type, "index": b.index.to_string(), "parameters": [parameter]})
}

fn components_of_body(values: &[String]) -> Vec<Value> {
    if values.is_empty() {
        return Vec::new();
    }
    let parameters: Vec<Value> = values.iter().map(|v| json!({"type": "text", "text": v})).collect();
    vec![json!({"type": "body", "parameters": parameters})]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::TemplateStatus;
    use crate::phone::Phone;
    use std::sync::Arc;

    fn def(header: Option<&str>, header_text: Option<&str>, body: &str, buttons: Value, cards: usize) -> TemplateDef {
        TemplateDef {
            id: "t".into(),
            channel_id: "wa".into(),
            name: "promo".into(),
            language: "pt_BR".into(),
            status: TemplateStatus::Approved,
            category: None,
            header: header_text.map(str::to_owned),
            body: body.into(),
            parameters: 0,
            header_type: header.map(str::to_owned),
            buttons: Some(buttons),
            cards,
            card_body: (cards > 0).then(|| "{{1}}".to_owned()),
            parameter_format: ParameterFormat::Positional,
            synced: false,
            created: 0,
        }
    }

    fn message(def: TemplateDef, values: &[&str]) -> Outbound {
        Outbound {
            message_id: "ig.x.1".into(),
            campaign: uuid::Uuid::nil(),
            seq: 1,
            phone: Phone::from_u64(5531998761234).unwrap(),
            identity: "5531998761234@wa.gw.msging.net".into(),
            template: Some((def.name.clone(), None)),
            template_def: Some(Arc::new(def)),
            parameters: values.iter().map(|v| v.to_string()).collect(),
            text: None,
            conversation: None,
        }
    }

    #[test]
    fn image_header_body_and_url_button_in_component_order() {
        let d = def(Some("image"), None, "Oi {{1}}", json!([{"type": "url", "dynamic": true}]), 0);
        let b = body(&message(d, &["https://x/a.jpg", "Maria", "pedido-1234"])).unwrap();
        assert_eq!(b["to"], "5531998761234");
        assert_eq!(b["biz_opaque_callback_data"], "ig.x.1");
        assert_eq!(
            b["template"]["components"],
            json!([
                {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x/a.jpg"}}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Maria"}]},
                {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "pedido-1234"}]}
            ])
        );
    }

    #[test]
    fn a_carousel_fills_each_card_and_quick_replies_carry_their_text() {
        let d = def(Some("image"), None, "Aulas", json!([{"type": "quick_reply", "text": "Quero"}]), 2);
        let b = body(&message(d, &["u1", "Yoga", "u2", "Boxe"])).unwrap();
        let c = &b["template"]["components"];
        assert_eq!(c.as_array().unwrap().len(), 1, "no body component: the body has no slot: {c}");
        let cards = &c[0]["cards"];
        assert_eq!(cards[1]["card_index"], 1);
        assert_eq!(cards[1]["components"][0]["parameters"][0]["image"]["link"], "u2");
        assert_eq!(cards[1]["components"][1]["parameters"][0]["text"], "Boxe");
        assert_eq!(cards[0]["components"][2]["parameters"][0], json!({"type": "payload", "payload": "Quero"}));
    }

    #[test]
    fn named_parameters_say_their_names_and_a_count_mismatch_is_refused() {
        let mut d = def(None, None, "Oi {{nome}}, pedido {{pedido}}", json!([]), 0);
        d.parameter_format = ParameterFormat::Named;
        let b = body(&message(d.clone(), &["Ana", "A1"])).unwrap();
        assert_eq!(b["template"]["components"][0]["parameters"][1]["parameter_name"], "pedido");
        assert_eq!(
            body(&message(d, &["Ana"])),
            Err(Unbuildable::Mismatch { template: "promo".into(), expected: 2, given: 1 })
        );
    }
}
