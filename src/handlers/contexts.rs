//! Context variables of `postmaster@{domain}`: `get /contexts/{identity}` (names) and
//! `get /contexts/{identity}/{name}` (one value).

use serde_json::Value;

use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::reply::Reply;
use crate::state::AppState;
use lime_protocol::{Collection, MediaType};

pub async fn names(state: &AppState, caller: &Caller, identity: &str) -> Result<Reply> {
    let names = state.engine.store.context_names(&caller.tenant.id, identity).await?;
    if names.is_empty() {
        return Err(Error::NotFound(format!("There is no context for {identity}")));
    }
    let total = names.len() as u64;
    Ok(Reply::with(MediaType::COLLECTION, Collection::new(MediaType::TEXT_PLAIN, total, names)))
}

/// Strings come back as `text/plain`, anything else as `application/json`.
pub async fn value(state: &AppState, caller: &Caller, identity: &str, name: &str) -> Result<Reply> {
    let value = state
        .engine
        .store
        .context_value(&caller.tenant.id, identity, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("The context variable {name} of {identity} was not found")))?;
    Ok(match value {
        Value::String(s) => Reply::with(MediaType::TEXT_PLAIN, s),
        other => Reply::with(MediaType::JSON, other),
    })
}
