//! Contacts of a tenant with their indexes by identity and phone, kept in step under the
//! tenant's one contacts lock.

use uuid::Uuid;

use super::{HashMap, MemoryStore};
use crate::campaign::now_millis;
use crate::contact::{Contact, ContactKey, ContactPatch};
use crate::error::Result;
use crate::store::rules::{apply_patch, phone_of_identity};
use crate::store::Page;

#[derive(Default)]
pub(super) struct Contacts {
    by_id: HashMap<String, Contact>,
    order: Vec<String>,
    by_identity: HashMap<String, String>,
    by_phone: HashMap<u64, String>,
}

impl Contacts {
    fn find(&self, key: &ContactKey) -> Option<&String> {
        match key {
            ContactKey::Id(id) => self.by_id.get_key_value(id).map(|(k, _)| k),
            ContactKey::Identity(identity) => self
                .by_identity
                .get(&identity.to_ascii_lowercase())
                .or_else(|| self.by_phone.get(&phone_of_identity(identity)?)),
            ContactKey::Phone(p) => self.by_phone.get(p),
        }
    }

    fn index(&mut self, c: &Contact) {
        if let Some(identity) = &c.identity {
            self.by_identity.insert(identity.to_ascii_lowercase(), c.id.clone());
        }
        if let Some(p) = c.phone {
            self.by_phone.insert(p, c.id.clone());
        }
    }

    fn unindex(&mut self, c: &Contact) {
        if let Some(identity) = &c.identity {
            self.by_identity.remove(&identity.to_ascii_lowercase());
        }
        if let Some(p) = c.phone {
            if self.by_phone.get(&p) == Some(&c.id) {
                self.by_phone.remove(&p);
            }
        }
    }

    fn insert(&mut self, c: Contact) {
        self.index(&c);
        self.order.push(c.id.clone());
        self.by_id.insert(c.id.clone(), c);
    }
}

pub(super) fn find(store: &MemoryStore, tenant: &str, key: &ContactKey) -> Result<Option<Contact>> {
    let t = store.tenant(tenant);
    let contacts = t.contacts.read();
    Ok(contacts.find(key).and_then(|id| contacts.by_id.get(id)).cloned())
}

pub(super) fn page(store: &MemoryStore, tenant: &str, page: Page) -> Result<(u64, Vec<Contact>)> {
    let t = store.tenant(tenant);
    let contacts = t.contacts.read();
    let total = contacts.order.len() as u64;
    let items = contacts
        .order
        .iter()
        .skip(page.skip as usize)
        .take(page.take as usize)
        .filter_map(|id| contacts.by_id.get(id).cloned())
        .collect();
    Ok((total, items))
}

pub(super) fn patch(store: &MemoryStore, tenant: &str, patches: Vec<ContactPatch>) -> Result<()> {
    let t = store.tenant(tenant);
    let mut contacts = t.contacts.write();
    let now = now_millis();
    for p in patches {
        let found = p
            .identity
            .as_ref()
            .and_then(|i| contacts.find(&ContactKey::Identity(i.clone())).cloned())
            .or_else(|| p.phone.and_then(|ph| contacts.find(&ContactKey::Phone(ph)).cloned()));
        let mut contact = match found.and_then(|id| contacts.by_id.get(&id).cloned()) {
            Some(c) => c,
            None => Contact { id: Uuid::now_v7().to_string(), created: now, ..Contact::default() },
        };
        contacts.unindex(&contact);
        apply_patch(&mut contact, p, now);
        if contacts.by_id.contains_key(&contact.id) {
            contacts.index(&contact);
            contacts.by_id.insert(contact.id.clone(), contact);
        } else {
            contacts.insert(contact);
        }
    }
    Ok(())
}

pub(super) fn put(store: &MemoryStore, tenant: &str, mut contact: Contact) -> Result<Contact> {
    let t = store.tenant(tenant);
    let mut contacts = t.contacts.write();
    let now = now_millis();
    contact.updated = now;
    match contacts.by_id.get(&contact.id).cloned() {
        Some(old) => {
            contacts.unindex(&old);
            contact.created = old.created;
            contacts.index(&contact);
            contacts.by_id.insert(contact.id.clone(), contact.clone());
        }
        None => {
            if contact.created == 0 {
                contact.created = now;
            }
            contacts.insert(contact.clone());
        }
    }
    Ok(contact)
}

pub(super) fn delete(store: &MemoryStore, tenant: &str, id: &str) -> Result<bool> {
    let t = store.tenant(tenant);
    let mut contacts = t.contacts.write();
    let Some(old) = contacts.by_id.remove(id) else { return Ok(false) };
    contacts.unindex(&old);
    contacts.order.retain(|x| x != id);
    Ok(true)
}

pub(super) fn scan(
    store: &MemoryStore,
    tenant: &str,
    visit: &mut (dyn for<'c> FnMut(&'c Contact) + Send),
) -> Result<()> {
    let t = store.tenant(tenant);
    let contacts = t.contacts.read();
    for id in &contacts.order {
        if let Some(c) = contacts.by_id.get(id) {
            visit(c);
        }
    }
    Ok(())
}

pub(super) fn open_conversations(store: &MemoryStore, tenant: &str, phones: &[u64]) -> Result<Vec<u64>> {
    let t = store.tenant(tenant);
    let contacts = t.contacts.read();
    if contacts.by_phone.is_empty() {
        return Ok(Vec::new());
    }
    Ok(phones
        .iter()
        .copied()
        .filter(|p| {
            contacts.by_phone.get(p).and_then(|id| contacts.by_id.get(id)).is_some_and(|c| c.has_open_conversation)
        })
        .collect())
}
