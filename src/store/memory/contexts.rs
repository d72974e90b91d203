//! Context variables of a tenant, by identity.

use serde_json::Value;

use super::MemoryStore;
use crate::contact::ContextWrite;
use crate::error::Result;

/// Context variables of one identity, sorted by name.
pub(super) type Variables = Vec<(Box<str>, Value)>;

pub(super) fn write(store: &MemoryStore, tenant: &str, writes: Vec<ContextWrite>) -> Result<()> {
    let t = store.tenant(tenant);
    let mut contexts = t.contexts.write();
    for w in writes {
        let vars = contexts.entry(w.identity.to_ascii_lowercase().into_boxed_str()).or_default();
        for (k, v) in w.variables {
            let k = k.to_ascii_lowercase();
            match vars.binary_search_by(|(n, _)| n.as_ref().cmp(k.as_str())) {
                Ok(i) => vars[i].1 = v,
                Err(i) => vars.insert(i, (k.into_boxed_str(), v)),
            }
        }
    }
    Ok(())
}

pub(super) fn names(store: &MemoryStore, tenant: &str, identity: &str) -> Result<Vec<String>> {
    let t = store.tenant(tenant);
    let contexts = t.contexts.read();
    let vars = contexts.get(identity.to_ascii_lowercase().as_str());
    Ok(vars.map(|v| v.iter().map(|(n, _)| n.to_string()).collect()).unwrap_or_default())
}

pub(super) fn value(store: &MemoryStore, tenant: &str, identity: &str, name: &str) -> Result<Option<Value>> {
    let t = store.tenant(tenant);
    let contexts = t.contexts.read();
    let Some(vars) = contexts.get(identity.to_ascii_lowercase().as_str()) else { return Ok(None) };
    let name = name.to_ascii_lowercase();
    Ok(vars.binary_search_by(|(n, _)| n.as_ref().cmp(name.as_str())).ok().map(|i| vars[i].1.clone()))
}
