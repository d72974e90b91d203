//! `POST /api/v1/simulator/{channel_id}/inbound`'s rule (conversations.md, Simulator): a bot
//! developer injects a message from any number into a simulator channel of their tenant; the
//! message then goes through the one inbound pipeline like any provider's.

use super::envelope::Content;
use super::inbound::{Conversations, Inbound, Received};
use crate::channel::settings::Provider;
use crate::error::{Error, Result};

/// What the inject route was given.
#[derive(Debug, Clone)]
pub struct Injected {
    /// E.164 digits of the sender.
    pub phone: u64,
    pub text: String,
    /// The message's provider id (repeats are one message); a new one when not given.
    pub message_id: Option<String>,
    pub name: Option<String>,
}

impl Conversations {
    /// Records `m` as a message from a person on simulator channel `channel` of `tenant`;
    /// a channel that is not the tenant's or not a simulator is not found.
    pub async fn inject(&self, tenant: &str, channel: &str, m: Injected) -> Result<Received> {
        let not_found = || Error::NotFound(format!("No simulator channel \"{channel}\" in this workspace"));
        let def = self.store.channels(tenant).await?.into_iter().find(|c| c.id == channel).ok_or_else(not_found)?;
        if !matches!(self.channels.providers().of(tenant, channel), Provider::Simulator) {
            return Err(not_found());
        }
        let provider_id = match m.message_id {
            Some(id) => format!("sim.inject.{id}"),
            None => format!("sim.inject.{}", uuid::Uuid::new_v4().simple()),
        };
        self.receive(Inbound {
            tenant: tenant.to_owned(),
            channel: def.id,
            channel_type: def.channel_type,
            phone: m.phone,
            provider_id,
            received_at: self.clock.now(),
            content: Content::Text(m.text),
            name: m.name,
        })
        .await
    }
}
