//! Personalisation of REST campaigns: `{{nome}}`-style variables in TEXT bodies and the
//! `template_variable_mapping` of TEMPLATE campaigns, resolved per contact.

use std::collections::BTreeMap;

use crate::catalog::{placeholders, CustomFieldDef};
use crate::contact::Contact;
use crate::error::{Error, Result};
use crate::fields::scalar_text;
use crate::phone::Phone;

/// A contact field a variable names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Name,
    Email,
    Phone,
    Custom(String),
}

/// Standard names (Portuguese and English) or a custom field key; `None` if neither.
pub fn source(name: &str, custom: &[CustomFieldDef]) -> Option<Source> {
    match name.trim().to_lowercase().as_str() {
        "nome" | "name" => Some(Source::Name),
        "email" => Some(Source::Email),
        "telefone" | "phone" => Some(Source::Phone),
        _ => custom.iter().find(|f| f.key == name.trim()).map(|f| Source::Custom(f.key.clone())),
    }
}

/// The value of a field for a contact; empty when the contact has none.
pub fn value(contact: &Contact, source: &Source) -> String {
    match source {
        Source::Name => contact.name.clone().unwrap_or_default(),
        Source::Email => contact.email.clone().unwrap_or_default(),
        Source::Phone => contact.phone.and_then(Phone::from_u64).map(|p| p.to_string()).unwrap_or_default(),
        Source::Custom(k) => contact.extras.get(k).and_then(scalar_text).unwrap_or_default(),
    }
}

/// The variables of a TEXT body, each checked (unknown → 400 naming it).
pub fn of_text(body: &str, custom: &[CustomFieldDef]) -> Result<Vec<(String, Source)>> {
    let mut out: Vec<(String, Source)> = Vec::new();
    for name in placeholders(body) {
        let source = source(name, custom).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "content.text.body uses the unknown variable {{{{{name}}}}} (known: nome, email, telefone and custom field keys)"
            ))
        })?;
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_owned(), source));
        }
    }
    Ok(out)
}

/// A `template_variable_mapping` checked against a template of `count` parameters: it must
/// cover exactly `{{1}}…{{count}}`, each mapped to a known field. Returns sources by position.
pub fn of_mapping(mapping: &BTreeMap<String, String>, count: usize, custom: &[CustomFieldDef]) -> Result<Vec<Source>> {
    let mut by_position: Vec<Option<Source>> = vec![None; count];
    for (key, field) in mapping {
        let n = key
            .trim()
            .trim_start_matches("{{")
            .trim_end_matches("}}")
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=count).contains(n))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "metadata.template_variable_mapping: \"{key}\" is not a variable of the template (it takes {{{{1}}}}..{{{{{count}}}}})"
                ))
            })?;
        let source = source(field, custom).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "metadata.template_variable_mapping.{key}: \"{field}\" is neither a standard field (nome, email, telefone) nor a custom field key"
            ))
        })?;
        by_position[n - 1] = Some(source);
    }
    by_position
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "metadata.template_variable_mapping must map {{{{{}}}}} (the template takes {count} variables)",
                    i + 1
                ))
            })
        })
        .collect()
}
