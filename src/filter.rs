//! Audience filters of the REST face: which contacts a campaign reaches. All kinds are ANDed;
//! `tag_ids` matches any tag; strings compare case-insensitively, numbers by value.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::campaign::Millis;
use crate::catalog::CustomFieldDef;
use crate::contact::Contact;
use crate::datetime;
use crate::error::{Error, Result};
use crate::phone::Phone;

/// Filters as the REST API takes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Contacts having any of these tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_ids: Option<Vec<String>>,
    /// Last interaction within `[from, to]` (inclusive, ISO-8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_interaction: Option<Interval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_open_conversation: Option<bool>,
    /// Custom field key → value, exact (case-insensitive for strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_filters: Option<Vec<FieldFilter>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldFilter {
    /// `name`, `email`, `phone`, or a custom field key.
    pub field: String,
    pub operator: Operator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub value: Option<Value>,
    #[serde(default)]
    pub is_custom_field: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Equals,
    NotEquals,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    IsEmpty,
    IsNotEmpty,
}

impl Operator {
    fn needs_value(self) -> bool {
        !matches!(self, Operator::IsEmpty | Operator::IsNotEmpty)
    }
}

#[derive(Debug, Clone)]
enum Field {
    Name,
    Email,
    Phone,
    Custom(String),
}

/// Filters checked against the workspace's custom fields, ready to test contacts.
#[derive(Debug, Clone)]
pub struct Compiled {
    tags: Option<HashSet<String>>,
    from: Option<Millis>,
    to: Option<Millis>,
    open: Option<bool>,
    equal: Vec<(String, Value)>,
    /// (field, operator, value, the value's text lowercased once).
    fields: Vec<(Field, Operator, Option<Value>, String)>,
}

fn bad(message: String) -> Error {
    Error::InvalidArgument(message)
}

fn parse_time(path: &str, s: &str) -> Result<Millis> {
    datetime::parse(s).ok_or_else(|| bad(format!("{path} \"{s}\" is not an ISO-8601 date-time")))
}

impl Filters {
    /// Validates against the custom fields and compiles. Errors name the field
    /// (`filters.field_filters[1].value is required for operator contains`).
    pub fn compile(&self, custom: &[CustomFieldDef]) -> Result<Compiled> {
        let known = |key: &str| custom.iter().any(|f| f.key == key);
        let mut equal = Vec::new();
        for (k, v) in self.custom_fields.iter().flatten() {
            if !known(k) {
                return Err(bad(format!("filters.custom_fields.{k}: unknown custom field key")));
            }
            equal.push((k.clone(), v.clone()));
        }
        let mut fields = Vec::new();
        for (i, f) in self.field_filters.iter().flatten().enumerate() {
            let path = format!("filters.field_filters[{i}]");
            let field = if f.is_custom_field {
                if !known(&f.field) {
                    return Err(bad(format!("{path}.field \"{}\" is not a custom field key", f.field)));
                }
                Field::Custom(f.field.clone())
            } else {
                match f.field.to_ascii_lowercase().as_str() {
                    "name" | "nome" => Field::Name,
                    "email" => Field::Email,
                    "phone" | "telefone" => Field::Phone,
                    other => {
                        return Err(bad(format!(
                            "{path}.field \"{other}\" is not a standard field (name, email, phone); set is_custom_field for custom fields"
                        )))
                    }
                }
            };
            let value = f.value.clone().filter(|v| !v.is_null());
            if f.operator.needs_value() && value.is_none() {
                return Err(bad(format!("{path}.value is required for operator {}", op_name(f.operator))));
            }
            if let Some(v) = &value {
                if v.is_object() || v.is_array() {
                    return Err(bad(format!("{path}.value must be a string, number or boolean")));
                }
            }
            let wanted = value.as_ref().and_then(text).map(|s| s.to_lowercase()).unwrap_or_default();
            fields.push((field, f.operator, value, wanted));
        }
        let (from, to) = match &self.last_interaction {
            None => (None, None),
            Some(i) => (
                i.from.as_deref().map(|s| parse_time("filters.last_interaction.from", s)).transpose()?,
                i.to.as_deref().map(|s| parse_time("filters.last_interaction.to", s)).transpose()?,
            ),
        };
        Ok(Compiled {
            tags: self.tag_ids.as_ref().map(|t| t.iter().cloned().collect()),
            from,
            to,
            open: self.has_open_conversation,
            equal,
            fields,
        })
    }
}

fn op_name(op: Operator) -> String {
    serde_json::to_value(op).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The text of a value for string comparisons; `None` for absent / null.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Equality: numbers by value, everything else as case-insensitive text.
fn same(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        if a.is_number() || b.is_number() {
            return x == y;
        }
    }
    match (text(a), text(b)) {
        (Some(x), Some(y)) => x.to_lowercase() == y.to_lowercase(),
        _ => false,
    }
}

impl Compiled {
    fn field_value(c: &Contact, f: &Field) -> Option<Value> {
        match f {
            Field::Name => c.name.clone().map(Value::String),
            Field::Email => c.email.clone().map(Value::String),
            Field::Phone => c.phone.and_then(Phone::from_u64).map(|p| Value::String(p.to_string())),
            Field::Custom(k) => c.extras.get(k).cloned(),
        }
    }

    /// The field's text as [`text`] gives it, borrowed from the contact where possible.
    fn field_text<'c>(c: &'c Contact, f: &Field) -> Option<std::borrow::Cow<'c, str>> {
        use std::borrow::Cow;
        match f {
            Field::Name => c.name.as_deref().map(Cow::Borrowed),
            Field::Email => c.email.as_deref().map(Cow::Borrowed),
            Field::Phone => c.phone.and_then(Phone::from_u64).map(|p| Cow::Owned(p.to_string())),
            Field::Custom(k) => match c.extras.get(k) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(Cow::Borrowed(s)),
                Some(other) => Some(Cow::Owned(other.to_string())),
            },
        }
    }

    pub fn matches(&self, c: &Contact) -> bool {
        if let Some(tags) = &self.tags {
            if !c.tags.iter().any(|t| tags.contains(t)) {
                return false;
            }
        }
        if self.from.is_some() || self.to.is_some() {
            if c.last_interaction_at == 0 {
                return false;
            }
            if self.from.is_some_and(|f| c.last_interaction_at < f)
                || self.to.is_some_and(|t| c.last_interaction_at > t)
            {
                return false;
            }
        }
        if self.open.is_some_and(|o| o != c.has_open_conversation) {
            return false;
        }
        for (k, v) in &self.equal {
            if !c.extras.get(k).is_some_and(|x| same(x, v)) {
                return false;
            }
        }
        for (field, op, value, wanted_text) in &self.fields {
            // Texts are borrowed from the contact where they can be: a preview of a million
            // contacts ran four allocations per filter and contact before.
            let actual_text = Compiled::field_text(c, field).map(|s| s.to_lowercase());
            let actual = || Compiled::field_value(c, field).filter(|v| !v.is_null());
            let ok = match op {
                Operator::IsEmpty => actual_text.as_deref().is_none_or(str::is_empty),
                Operator::IsNotEmpty => actual_text.as_deref().is_some_and(|s| !s.is_empty()),
                Operator::Equals => actual().as_ref().zip(value.as_ref()).is_some_and(|(a, b)| same(a, b)),
                Operator::NotEquals => !actual().as_ref().zip(value.as_ref()).is_some_and(|(a, b)| same(a, b)),
                Operator::Contains => actual_text.is_some_and(|s| s.contains(wanted_text.as_str())),
                Operator::NotContains => !actual_text.is_some_and(|s| s.contains(wanted_text.as_str())),
                Operator::StartsWith => actual_text.is_some_and(|s| s.starts_with(wanted_text.as_str())),
                Operator::EndsWith => actual_text.is_some_and(|s| s.ends_with(wanted_text.as_str())),
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(key: &str) -> CustomFieldDef {
        CustomFieldDef {
            id: key.into(),
            key: key.into(),
            name: key.into(),
            field_type: crate::catalog::FieldType::Text,
            is_required: false,
            is_visible: true,
            description: None,
            created: 0,
        }
    }

    fn contact(name: &str, city: Value, age: Value) -> Contact {
        let mut c = Contact { name: Some(name.into()), phone: Some(5531998761234), ..Contact::default() };
        if !city.is_null() {
            c.extras.insert("city".into(), city);
        }
        if !age.is_null() {
            c.extras.insert("age".into(), age);
        }
        c
    }

    fn compile(v: Value) -> Result<Compiled> {
        serde_json::from_value::<Filters>(v).unwrap().compile(&[field("city"), field("age")])
    }

    #[test]
    fn operators_are_case_insensitive_and_numbers_compare_by_value() {
        let sp = contact("João Silva", json!("São Paulo"), json!(25));
        let rio = contact("Ana", json!("Rio"), json!("25"));
        let none = contact("Bia", Value::Null, Value::Null);
        let f = |op: &str, field: &str, value: Value, custom: bool| {
            compile(
                json!({"field_filters": [{"field": field, "operator": op, "value": value, "is_custom_field": custom}]}),
            )
            .unwrap()
        };
        assert!(f("contains", "city", json!("são"), true).matches(&sp));
        assert!(!f("contains", "city", json!("são"), true).matches(&rio));
        assert!(f("equals", "age", json!(25), true).matches(&rio), "\"25\" equals 25");
        assert!(f("not_equals", "city", json!("rio"), true).matches(&none), "missing is not Rio");
        assert!(f("starts_with", "name", json!("joão"), false).matches(&sp));
        assert!(f("ends_with", "name", json!("SILVA"), false).matches(&sp));
        assert!(f("not_contains", "city", json!("x"), true).matches(&none));
        let empty =
            compile(json!({"field_filters": [{"field": "city", "operator": "is_empty", "is_custom_field": true}]}))
                .unwrap();
        assert!(empty.matches(&none) && !empty.matches(&sp));
    }

    #[test]
    fn bad_filters_name_the_field() {
        let e = compile(json!({"field_filters": [{"field": "city", "operator": "contains", "is_custom_field": true}]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("filters.field_filters[0].value is required for operator contains"), "{e}");
        let e = compile(json!({"custom_fields": {"planet": "Mars"}})).unwrap_err().to_string();
        assert!(e.contains("planet"), "{e}");
        assert!(
            serde_json::from_value::<Filters>(json!({"field_filters": [{"field": "x", "operator": "near"}]})).is_err()
        );
    }
}
