//! Template sync: the templates of a channel's WhatsApp Business Account (`waba_id`), read
//! with `GET {api_base}/{waba_id}/message_templates` (every page) at start-up, every
//! `template_sync_ms` and on demand (REST), and upserted as the channel's templates with
//! their status, category, language and structure. A synced template the account no longer
//! lists becomes DELETED. One tracked worker per channel, stopped by the shutdown token.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::catalog::{ParameterFormat, TemplateDef, TemplateStatus};
use crate::channel::settings::{Providers, WhatsAppSettings};
use crate::clock::Clock;
use crate::store::Store;

/// The fields asked for (providers.md).
const FIELDS: &str = "name,language,status,category,components,parameter_format";
/// Pages followed at most in one sync (100 templates each): a provider that pages forever
/// does not keep the worker busy forever.
const MAX_PAGES: usize = 1000;

/// The sync workers of every channel with a `waba_id`.
#[derive(Clone, Default)]
pub struct TemplateSync {
    triggers: Arc<HashMap<(String, String), mpsc::Sender<()>>>,
    tasks: TaskTracker,
}

/// What asking for a sync found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// A sync will run (or one already queued will).
    Queued,
    /// The channel has no template sync (not a WhatsApp Cloud API channel, or no `waba_id`).
    NotSynced,
}

impl TemplateSync {
    /// Starts one worker per WhatsApp channel with a `waba_id`; each syncs at once.
    pub fn spawn(
        store: Arc<dyn Store>,
        providers: &Providers,
        clock: Clock,
        shutdown: CancellationToken,
    ) -> TemplateSync {
        let tasks = TaskTracker::new();
        let mut triggers = HashMap::new();
        for c in providers.whatsapp().filter(|c| c.settings.waba_id.is_some()) {
            // One queued request is enough: a sync reads everything.
            let (tx, rx) = mpsc::channel(1);
            triggers.insert((c.tenant.clone(), c.channel.clone()), tx);
            let worker = Worker {
                store: store.clone(),
                client: super::client(),
                tenant: c.tenant,
                channel: c.channel,
                settings: c.settings,
                clock: clock.clone(),
            };
            tasks.spawn(worker.run(rx, shutdown.clone()));
        }
        tasks.close();
        TemplateSync { triggers: Arc::new(triggers), tasks }
    }

    /// Asks for a sync of `channel` of `tenant` now.
    pub fn request(&self, tenant: &str, channel: &str) -> Asked {
        match self.triggers.get(&(tenant.to_owned(), channel.to_owned())) {
            Some(tx) => {
                // Full: a sync is already queued, and it will read what this one would.
                let _ = tx.try_send(());
                Asked::Queued
            }
            None => Asked::NotSynced,
        }
    }

    /// Waits for the workers to end (after the shutdown token).
    pub async fn wait(&self) {
        self.tasks.wait().await;
    }
}

struct Worker {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    tenant: String,
    channel: String,
    settings: Arc<WhatsAppSettings>,
    clock: Clock,
}

impl Worker {
    async fn run(self, mut asked: mpsc::Receiver<()>, shutdown: CancellationToken) {
        loop {
            match self.sync().await {
                Ok((upserted, deleted)) => {
                    tracing::info!(tenant = self.tenant, channel = self.channel, upserted, deleted, "templates synced")
                }
                Err(why) => tracing::warn!(tenant = self.tenant, channel = self.channel, why, "template sync failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.settings.template_sync) => {}
                got = asked.recv() => if got.is_none() { return },
            }
        }
    }

    /// One sync: every page read first, then the store updated. Returns (upserted, deleted).
    async fn sync(&self) -> Result<(usize, usize), String> {
        let Some(waba) = &self.settings.waba_id else { return Ok((0, 0)) };
        let base = &self.settings.api_base;
        let mut url = format!("{base}/{waba}/message_templates?fields={FIELDS}&limit=100");
        let mut listed = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.page(&url).await?;
            listed.extend(page.get("data").and_then(Value::as_array).cloned().unwrap_or_default());
            match page.pointer("/paging/next").and_then(Value::as_str) {
                Some(next) if same_origin(next, base) => url = next.to_owned(),
                Some(_) => return Err("paging.next points outside api_base: not followed".into()),
                None => break,
            }
        }
        let known: Vec<TemplateDef> = self
            .store
            .templates(&self.tenant)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|t| t.channel_id == self.channel)
            .collect();
        let now = self.clock.now();
        let mut seen = HashSet::new();
        let mut upserted = 0;
        for item in &listed {
            let Some(mut def) = template_of(&self.channel, item) else { continue };
            if !seen.insert((def.name.clone(), def.language.clone())) {
                continue;
            }
            match known.iter().find(|k| k.name == def.name && k.language == def.language) {
                Some(k) => {
                    def.id = k.id.clone();
                    def.created = k.created;
                }
                None => def.created = now,
            }
            self.store.put_template(&self.tenant, def).await.map_err(|e| e.to_string())?;
            upserted += 1;
        }
        let mut deleted = 0;
        for mut gone in known.into_iter().filter(|k| {
            k.synced && k.status != TemplateStatus::Deleted && !seen.contains(&(k.name.clone(), k.language.clone()))
        }) {
            gone.status = TemplateStatus::Deleted;
            self.store.put_template(&self.tenant, gone).await.map_err(|e| e.to_string())?;
            deleted += 1;
        }
        Ok((upserted, deleted))
    }

    async fn page(&self, url: &str) -> Result<Value, String> {
        let r = self
            .client
            .get(url)
            .bearer_auth(self.settings.access_token.expose())
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = r.status().as_u16();
        let body = r.bytes().await.map_err(|e| e.without_url().to_string())?;
        if !(200..300).contains(&status) {
            let why = super::errors::GraphError::parse(&body).map_or_else(|| "no error body".into(), |e| e.message);
            return Err(format!("HTTP {status}: {why}"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("unreadable page: {e}"))
    }
}

/// Whether `url` has the scheme, host and port of `base` (the token goes nowhere else).
fn same_origin(url: &str, base: &str) -> bool {
    match (reqwest::Url::parse(url), reqwest::Url::parse(base)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// A listed template as the channel's template (`created` 0: the caller sets it).
fn template_of(channel: &str, item: &Value) -> Option<TemplateDef> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let name = s(item, "name").filter(|n| !n.is_empty())?;
    let language = s(item, "language").unwrap_or_else(|| "pt_BR".into());
    let components = item.get("components").and_then(Value::as_array).cloned().unwrap_or_default();
    let part = |list: &[Value], kind: &str| {
        list.iter()
            .find(|c| c.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(kind)))
            .cloned()
    };
    let carousel = part(&components, "CAROUSEL");
    let cards: Vec<Value> =
        carousel.as_ref().and_then(|c| c.get("cards")).and_then(Value::as_array).cloned().unwrap_or_default();
    // A carousel's header and buttons are its cards' (every card has the same components).
    let first_card: Vec<Value> =
        cards.first().and_then(|c| c.get("components")).and_then(Value::as_array).cloned().unwrap_or_default();
    let shaped = if cards.is_empty() { &components } else { &first_card };
    let header = part(shaped, "HEADER");
    let header_type = header.as_ref().map(|h| {
        let format = s(h, "format").unwrap_or_else(|| "TEXT".into()).to_ascii_lowercase();
        if ["text", "image", "video", "document"].contains(&format.as_str()) {
            format
        } else {
            "none".into()
        }
    });
    let header_text = header.as_ref().filter(|_| header_type.as_deref() == Some("text")).and_then(|h| s(h, "text"));
    let buttons =
        part(shaped, "BUTTONS").and_then(|b| b.get("buttons").and_then(Value::as_array).cloned()).map(|list| {
            Value::Array(
                list.iter()
                    .map(|b| {
                        let kind = s(b, "type").unwrap_or_default().to_ascii_lowercase();
                        let dynamic = s(b, "url").is_some_and(|u| u.contains("{{"));
                        json!({"type": kind, "dynamic": dynamic, "text": s(b, "text")})
                    })
                    .collect(),
            )
        });
    let body = part(&components, "BODY").and_then(|b| s(&b, "text")).unwrap_or_default();
    let card_body =
        (!cards.is_empty()).then(|| part(&first_card, "BODY").and_then(|b| s(&b, "text")).unwrap_or_default());
    let parameter_format = s(item, "parameter_format").as_deref().and_then(ParameterFormat::parse).unwrap_or_default();
    let mut def = TemplateDef {
        id: sync_id(channel, &name, &language),
        channel_id: channel.to_owned(),
        name,
        language,
        status: status_of(s(item, "status").as_deref().unwrap_or("")),
        category: s(item, "category"),
        header: header_text,
        body,
        parameters: 0,
        header_type,
        buttons,
        cards: cards.len(),
        card_body,
        parameter_format,
        synced: true,
        created: 0,
    };
    def.parameters = def.slot_count();
    Some(def)
}

/// Meta's status as ours; statuses this gateway does not know cannot be sent.
fn status_of(meta: &str) -> TemplateStatus {
    match meta.to_ascii_uppercase().as_str() {
        "IN_APPEAL" => TemplateStatus::Pending,
        "PENDING_DELETION" | "DELETED" | "ARCHIVED" => TemplateStatus::Deleted,
        other => TemplateStatus::parse(other).unwrap_or(TemplateStatus::Disabled),
    }
}

/// The id of a template first seen by sync: letters, digits, `-` and `_` (as REST ids).
fn sync_id(channel: &str, name: &str, language: &str) -> String {
    let clean =
        |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect::<String>();
    format!("wa_{}_{}_{}", clean(channel), clean(name), clean(language))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_carousel_becomes_a_template_with_its_cards_structure() {
        let item = json!({"name": "aulas", "language": "pt_BR", "status": "APPROVED", "category": "MARKETING",
            "components": [{"type": "BODY", "text": "Conheça"},
                {"type": "CAROUSEL", "cards": [
                    {"components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "{{1}}"},
                                    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Quero"}]}]},
                    {"components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "{{1}}"},
                                    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Quero"}]}]}]}]});
        let t = template_of("wa", &item).unwrap();
        assert_eq!((t.cards, t.parameters, t.header_kind()), (2, 4, "image"));
        assert_eq!(t.status, TemplateStatus::Approved);
        assert!(t.synced);
        assert_eq!(status_of("PENDING_DELETION"), TemplateStatus::Deleted);
        assert_eq!(status_of("paused"), TemplateStatus::Paused);
    }

    #[test]
    fn paging_is_followed_only_on_the_api_base_origin() {
        assert!(same_origin("http://127.0.0.1:9/v21.0/1/message_templates?after=X", "http://127.0.0.1:9/v21.0"));
        assert!(!same_origin("http://evil.example/steal", "http://127.0.0.1:9/v21.0"));
    }
}
