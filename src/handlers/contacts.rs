//! Contacts of `postmaster@crm.{domain}`: `get /contacts/{identity}`, `get /contacts`,
//! `set /contacts` (replace) and `merge /contacts` (merge).

use serde_json::{Map, Value};

use crate::caller::Caller;
use crate::contact::{Contact, ContactKey, ContactPatch};
use crate::datetime::iso;
use crate::error::{Error, Result};
use crate::fields::{scalar_text, Obj};
use crate::phone::Phone;
use crate::query::Query;
use crate::reply::Reply;
use crate::state::AppState;
use lime_protocol::{Collection, MediaType};

/// The LIME contact document: extras are strings, as BLiP keeps them.
pub fn view(c: &Contact) -> Value {
    let mut m = Map::new();
    if let Some(i) = &c.identity {
        m.insert("identity".into(), i.clone().into());
    }
    if let Some(n) = &c.name {
        m.insert("name".into(), n.clone().into());
    }
    if let Some(p) = c.phone.and_then(Phone::from_u64) {
        m.insert("phoneNumber".into(), p.to_string().into());
    }
    if let Some(e) = &c.email {
        m.insert("email".into(), e.clone().into());
    }
    if !c.extras.is_empty() {
        let extras: Map<String, Value> = c
            .extras
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(scalar_text(v).unwrap_or_else(|| v.to_string()))))
            .collect();
        m.insert("extras".into(), Value::Object(extras));
    }
    if let Some(t) = iso(c.last_interaction_at) {
        m.insert("lastMessageDate".into(), t.into());
    }
    Value::Object(m)
}

pub async fn get(state: &AppState, caller: &Caller, identity: &str) -> Result<Reply> {
    let contact = state
        .engine
        .store
        .contact(&caller.tenant.id, &ContactKey::Identity(identity.to_owned()))
        .await?
        .ok_or_else(|| Error::NotFound(format!("The contact {identity} was not found")))?;
    Ok(Reply::with(MediaType::CONTACT, view(&contact)))
}

pub async fn list(state: &AppState, caller: &Caller, query: &Query) -> Result<Reply> {
    let page = query.page(20, 100)?;
    let (total, contacts) = state.engine.store.contacts(&caller.tenant.id, page).await?;
    let items: Vec<Value> = contacts.iter().map(view).collect();
    Ok(Reply::with(MediaType::COLLECTION, Collection::new(MediaType::CONTACT, total, items)))
}

/// Fields of a contact document, read leniently.
struct Fields {
    identity: String,
    phone: Option<u64>,
    name: Option<String>,
    email: Option<String>,
    extras: Option<Vec<(String, Value)>>,
}

fn read(state: &AppState, resource: &Value) -> Result<Fields> {
    let o = Obj::new(resource, "")?;
    let identity = o.required_text("identity")?;
    let phone_text = o.text("phoneNumber")?.or_else(|| {
        let name = identity.split('@').next().unwrap_or_default();
        name.bytes().all(|b| b.is_ascii_digit()).then(|| format!("+{name}"))
    });
    let phone = phone_text.and_then(|p| state.engine.phones.normalize(&p).ok()).map(|p| p.as_u64());
    let extras = match o.obj("extras")? {
        None => None,
        Some((e, path)) => Some(
            e.map()
                .iter()
                .map(|(k, v)| match scalar_text(v) {
                    Some(t) => Ok((k.clone(), Value::String(t))),
                    None if v.is_null() => Ok((k.clone(), Value::String(String::new()))),
                    None => Err(Error::InvalidArgument(format!("{path}.{k} must be a string"))),
                })
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    Ok(Fields { identity, phone, name: o.text("name")?, email: o.text("email")?, extras })
}

/// `set /contacts`: creates or replaces the contact with this identity.
pub async fn set(state: &AppState, caller: &Caller, resource: &Value) -> Result<Reply> {
    let f = read(state, resource)?;
    let store = &state.engine.store;
    let tenant = &caller.tenant.id;
    let existing = store.contact(tenant, &ContactKey::Identity(f.identity.clone())).await?;
    let mut contact =
        existing.unwrap_or_else(|| Contact { id: uuid::Uuid::now_v7().to_string(), ..Contact::default() });
    contact.identity = Some(f.identity);
    contact.phone = f.phone.or(contact.phone);
    contact.name = f.name;
    contact.email = f.email;
    contact.extras = f.extras.unwrap_or_default().into_iter().collect();
    store.put_contact(tenant, contact).await?;
    Ok(Reply::empty())
}

/// `merge /contacts`: changes only the fields given; extras are merged key by key.
pub async fn merge(state: &AppState, caller: &Caller, resource: &Value) -> Result<Reply> {
    let f = read(state, resource)?;
    let patch = ContactPatch {
        identity: Some(f.identity),
        phone: f.phone,
        name: f.name,
        email: f.email,
        merge_extras: f.extras.unwrap_or_default(),
        ..ContactPatch::default()
    };
    state.engine.store.patch_contacts(&caller.tenant.id, vec![patch]).await?;
    Ok(Reply::empty())
}
