//! The simulator's people (conversations.md, Simulator): numbers ending in 0005–0008 answer a
//! campaign message once it is read, and a 0005 person thanks a bot for its text.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Outbound;
use crate::catalog::{ButtonKind, ChannelDef};
use crate::clock::Clock;
use crate::conversation::envelope::Content;
use crate::conversation::inbound::{Inbound, InboundSink};
use crate::shutdown::Background;

/// A simulated person answers no sooner than this after the message was sent, so that the
/// send's outcome is recorded (and the reply attributed) before the reply arrives.
const REPLY_AFTER_MIN: Duration = Duration::from_millis(250);

/// The simulated people of one channel: who they are and where their replies go.
pub struct People {
    tenant: String,
    channel: String,
    channel_type: crate::campaign::ChannelType,
    sink: InboundSink,
    tasks: tokio_util::task::TaskTracker,
    shutdown: CancellationToken,
}

impl People {
    pub fn new(tenant: &str, def: &ChannelDef, sink: InboundSink, background: &Background) -> People {
        People {
            tenant: tenant.to_owned(),
            channel: def.id.clone(),
            channel_type: def.channel_type,
            sink,
            tasks: background.tasks.clone(),
            shutdown: background.shutdown.clone(),
        }
    }

    /// What the person of `m` says back, if anything.
    fn answer(m: &Outbound, last_four: u64) -> Option<Content> {
        if let Some(conversation) = m.conversation.as_deref() {
            // A bot's message: only a text to a 0005 person is answered (the opt-out reply,
            // media and the rest get no answer).
            return match (&conversation.content, last_four) {
                (crate::outbound::Content::Text { .. }, 5) => Some(Content::Text("Obrigado!".into())),
                _ => None,
            };
        }
        Some(match last_four {
            5 => Content::Text("Quero saber mais".into()),
            6 => Content::Text("SAIR".into()),
            7 => Content::Media {
                kind: "image".into(),
                uri: "https://simulator.irisgate.invalid/media/photo.jpg".into(),
                mime: Some("image/jpeg".into()),
                title: Some("photo.jpg".into()),
                text: None,
            },
            8 => {
                let button = m
                    .template_def
                    .as_ref()
                    .and_then(|t| t.button_list().into_iter().find(|b| b.kind == ButtonKind::QuickReply));
                // WhatsApp's payload of a template quick reply sent without one is its text.
                let text = button.and_then(|b| b.text).unwrap_or_else(|| "Sim".into());
                Content::Reply { payload: Some(text.clone()), id: Some("0".into()), text }
            }
            _ => return None,
        })
    }

    /// The person of `m` answers `after` it was sent (once it is read), if they answer at all.
    pub fn reply(&self, m: &Outbound, last_four: u64, after: Duration, clock: &Clock) {
        let Some(content) = Self::answer(m, last_four) else { return };
        let inbound = Inbound {
            tenant: self.tenant.clone(),
            channel: self.channel.clone(),
            channel_type: self.channel_type,
            phone: m.phone.as_u64(),
            provider_id: format!("sim.reply.{}", m.message_id),
            received_at: 0,
            content,
            name: None,
        };
        let (sink, clock, shutdown) = (self.sink.clone(), clock.clone(), self.shutdown.clone());
        let wait = after.max(REPLY_AFTER_MIN);
        self.tasks.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
            let _ = sink.send(Inbound { received_at: clock.now(), ..inbound }).await;
        });
    }
}
