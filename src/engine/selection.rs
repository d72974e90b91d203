//! The audience a REST campaign freezes at start: every contact with a phone that its filters
//! match, with the values its message's variables take from that contact.

use crate::campaign::{Campaign, NewRecipient, Params};
use crate::contact::Contact;
use crate::error::Result;
use crate::phone::Phone;
use crate::spec::{MessageType, RestSpec};
use crate::store::Store;
use crate::variables::{self, Source};

/// The recipients of `c` (made on the REST face, `spec` its part) among the contacts now.
pub(super) async fn from_contacts(
    store: &dyn Store,
    tenant: &str,
    c: &Campaign,
    spec: &RestSpec,
) -> Result<Vec<NewRecipient>> {
    let custom = store.custom_fields(tenant).await?;
    // A segment is resolved here, at start: its filters as they are now.
    let compiled = super::segments::filters_of(store, tenant, spec).await?.compile(&custom)?;
    let sources: Vec<(String, Source)> = match spec.message_type {
        Some(MessageType::Template) => {
            let templates = store.templates(tenant).await?;
            let count = spec
                .template_id
                .as_ref()
                .and_then(|id| templates.iter().find(|t| &t.id == id))
                .map(|t| t.parameters)
                .unwrap_or(0);
            let by_position = variables::of_mapping(&spec.mapping()?, count, &custom)?;
            by_position.into_iter().enumerate().map(|(i, s)| ((i + 1).to_string(), s)).collect()
        }
        _ => {
            let body = c.message.content.clone().unwrap_or_default();
            variables::of_text(&body, &custom)?
        }
    };
    let mut out = Vec::new();
    let mut problem = None;
    store
        .scan_contacts(tenant, &mut |contact: &Contact| {
            let Some(phone) = contact.phone.and_then(Phone::from_u64) else { return };
            if !compiled.matches(contact) {
                return;
            }
            // The two control characters the parameter packing reserves cannot be sent anyway.
            let clean = |v: String| v.replace(['\u{1e}', '\u{1f}'], " ");
            let values: Vec<(String, String)> =
                sources.iter().map(|(k, s)| (k.clone(), clean(variables::value(contact, s)))).collect();
            match Params::from_pairs(values.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                Ok(params) => out.push(NewRecipient {
                    given: phone.to_string(),
                    phone: Some(phone),
                    params,
                    context: None,
                    contact_id: Some(contact.id.clone().into_boxed_str()),
                }),
                Err(e) => problem = Some(e),
            }
        })
        .await?;
    if let Some(e) = problem {
        tracing::warn!(campaign = %c.id, error = %e, "a contact value could not be used");
    }
    Ok(out)
}
