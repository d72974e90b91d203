//! Campaign bodies of `/api/v1/campaigns` and their validation: create / update input applied
//! over a campaign (every rule of rest.md), and the body of `start`.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{bad, ApiResult, Workspace};
use crate::campaign::{Campaign, MessageSpec, Millis};
use crate::catalog::{ChannelDef, CustomFieldDef, TemplateDef};
use crate::datetime;
use crate::filter::Filters;
use crate::spec::{Content, MessageType, RestSpec};
use crate::state::AppState;
use crate::variables;
use crate::window::{self, SendWindow, WindowSpec};

/// Body of create (every field) and update (the fields to change).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub message_type: Option<MessageType>,
    pub content: Option<Content>,
    pub template_id: Option<String>,
    pub channel_id: Option<String>,
    pub filters: Option<Filters>,
    /// `template_variable_mapping` (`{"{{1}}": "nome", …}`) and free keys.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// 1–300 (default 300).
    pub rate_limit_per_minute: Option<u32>,
    /// ISO-8601, in the future; `start` then schedules instead of sending at once. With an
    /// offset (`2026-12-24T09:00:00-03:00`), or a local time read in `timezone`.
    pub scheduled_at: Option<String>,
    /// IANA zone of a `scheduled_at` given without an offset.
    #[schema(example = "America/Sao_Paulo")]
    pub timezone: Option<String>,
    /// Send also to contacts with an open conversation (else they fail with 1602).
    pub allow_open_conversation: Option<bool>,
    /// When it may send: local hours and days in an IANA zone. Absent on create: the
    /// workspace's default window (if any); `null`: any time.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<WindowSpec>)]
    pub send_window: Option<Option<WindowSpec>>,
}

/// A field that may be given as `null` (`Some(None)`), apart from absent (`None`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartInput {
    /// Overrides the campaign's `scheduled_at` (ISO-8601, future; with an offset, or a
    /// local time read in `timezone`).
    pub scheduled_at: Option<String>,
    /// IANA zone of a `scheduled_at` given without an offset.
    pub timezone: Option<String>,
}

/// `POST /campaigns/{id}/retry`: which failed recipients to send again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryInput {
    /// `failed` (every failure but invalid numbers and opt-outs) or `transient` (only
    /// failures that can succeed later). Required: a retry says what it retries.
    pub scope: RetryScopeInput,
    /// Only recipients failed with one of these codes (within the scope).
    pub reason_codes: Option<Vec<u32>>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetryScopeInput {
    Failed,
    Transient,
}

impl RetryInput {
    pub fn request(self) -> crate::engine::RetryRequest {
        use crate::engine::RetryScope;
        let scope = match self.scope {
            RetryScopeInput::Failed => RetryScope::Failed,
            RetryScopeInput::Transient => RetryScope::Transient,
        };
        crate::engine::RetryRequest { scope, reason_codes: self.reason_codes }
    }
}

/// What of a workspace a campaign body is checked against (read from the store by
/// [`build`]; fixed by the fuzz check of campaign bodies, which calls [`compose`]).
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    pub channels: &'a [ChannelDef],
    pub custom: &'a [CustomFieldDef],
    pub templates: &'a [TemplateDef],
}

/// Applies `input` over `base` (create: an empty draft) and checks every rule of rest.md,
/// against the workspace's channels, custom fields and templates as the store holds them.
pub(super) async fn build(state: &AppState, ws: &Workspace, c: Campaign, input: CampaignInput) -> ApiResult<Campaign> {
    let store = &state.engine.store;
    let tenant = ws.id();
    let now = state.engine.clock.now();
    if c.rest.is_none() {
        return compose(c, input, now, Known { channels: &[], custom: &[], templates: &[] });
    }
    let (channels, custom, templates) =
        (store.channels(tenant).await?, store.custom_fields(tenant).await?, store.templates(tenant).await?);
    compose(c, input, now, Known { channels: &channels, custom: &custom, templates: &templates })
}

/// [`build`] without the store: `input` applied over `c` at `now` (a `scheduled_at` must lie
/// after it), checked against `known`. Pure, so that the fuzz target can call it.
pub fn compose(mut c: Campaign, input: CampaignInput, now: Millis, known: Known<'_>) -> ApiResult<Campaign> {
    if c.rest.is_none() {
        return build_lime(now, c, input);
    }
    let mut spec = RestSpec::of(&c).unwrap_or_default();
    apply_pacing_and_schedule(now, &mut c, &input)?;
    // Switching the message type drops the other type's fields unless they are given anew.
    if input.message_type.is_some_and(|t| Some(t) != spec.message_type) {
        spec.content = None;
        spec.template_id = None;
    }
    if let Some(name) = input.name {
        c.name = name.trim().to_owned();
    }
    if c.name.is_empty() {
        return Err(bad("name is required"));
    }
    if input.description.is_some() {
        spec.description = input.description;
    }
    if let Some(t) = input.message_type {
        spec.message_type = Some(t);
    }
    if input.content.is_some() {
        spec.content = input.content;
    }
    if input.template_id.is_some() {
        spec.template_id = input.template_id;
    }
    if input.filters.is_some() {
        spec.filters = input.filters;
    }
    if input.metadata.is_some() {
        spec.metadata = input.metadata;
    }
    if let Some(channel) = input.channel_id {
        c.channel_id = channel;
    }
    if c.channel_id.is_empty() {
        return Err(bad("channel_id is required"));
    }
    let channel = known
        .channels
        .iter()
        .find(|ch| ch.id == c.channel_id)
        .ok_or_else(|| bad(format!("channel_id \"{}\" does not exist in this workspace", c.channel_id)))?;
    c.channel_type = channel.channel_type;
    let custom = known.custom;
    if let Some(f) = &spec.filters {
        f.compile(custom)?;
    }
    let message_type =
        spec.message_type.unwrap_or(if spec.template_id.is_some() { MessageType::Template } else { MessageType::Text });
    spec.message_type = Some(message_type);
    match message_type {
        MessageType::Text => {
            if spec.template_id.is_some() {
                return Err(bad("template_id is only for TEMPLATE campaigns (message_type is TEXT)"));
            }
            let content = spec.content.as_ref().ok_or_else(|| bad("content is required for TEXT campaigns"))?;
            if content.kind != "text" {
                return Err(bad(format!("content.type must be \"text\", not \"{}\"", content.kind)));
            }
            let body = content.text.as_ref().map(|t| t.body.trim()).filter(|b| !b.is_empty());
            let body = body.ok_or_else(|| bad("content.text.body is required for TEXT campaigns"))?;
            variables::of_text(body, custom)?;
            c.message = MessageSpec { content: Some(body.to_owned()), ..MessageSpec::default() };
        }
        MessageType::Template => {
            if spec.content.is_some() {
                return Err(bad("content is only for TEXT campaigns (message_type is TEMPLATE)"));
            }
            let id =
                spec.template_id.as_deref().ok_or_else(|| bad("template_id is required for TEMPLATE campaigns"))?;
            let t = known
                .templates
                .iter()
                .find(|t| t.id == id)
                .ok_or_else(|| bad(format!("template_id \"{id}\" does not exist in this workspace")))?;
            if !t.is_approved() {
                return Err(bad(format!("template_id \"{id}\" is {}, not APPROVED", t.status)));
            }
            if t.channel_id != c.channel_id {
                return Err(bad(format!(
                    "template_id \"{id}\" belongs to channel {}, not to channel_id {}",
                    t.channel_id, c.channel_id
                )));
            }
            variables::of_mapping(&spec.mapping()?, t.parameters, custom)?;
            c.message = MessageSpec {
                template: Some(t.name.clone()),
                template_language: Some(t.language.clone()),
                param_keys: (1..=t.parameters).map(|n| n.to_string()).collect(),
                content: None,
            };
        }
    }
    c.rest = Some(serde_json::to_value(&spec).expect("plain data"));
    Ok(c)
}

/// Update of a campaign created on the LIME face: its message and audience came from LIME,
/// so only what does not touch them can change here.
fn build_lime(now: Millis, mut c: Campaign, input: CampaignInput) -> ApiResult<Campaign> {
    let lime_owned = [
        ("description", input.description.is_some()),
        ("message_type", input.message_type.is_some()),
        ("content", input.content.is_some()),
        ("template_id", input.template_id.is_some()),
        ("channel_id", input.channel_id.is_some()),
        ("filters", input.filters.is_some()),
        ("metadata", input.metadata.is_some()),
    ];
    if let Some((field, _)) = lime_owned.iter().find(|(_, given)| *given) {
        return Err(bad(format!(
            "{field} cannot be changed on a campaign created on the LIME face (name, rate_limit_per_minute, scheduled_at, allow_open_conversation and send_window can)"
        )));
    }
    apply_pacing_and_schedule(now, &mut c, &input)?;
    if let Some(name) = input.name {
        c.name = name.trim().to_owned();
        if c.name.is_empty() {
            return Err(bad("name is required"));
        }
    }
    Ok(c)
}

/// `rate_limit_per_minute`, `allow_open_conversation` and `scheduled_at`, which campaigns of
/// both faces take.
fn apply_pacing_and_schedule(now: Millis, c: &mut Campaign, input: &CampaignInput) -> ApiResult<()> {
    if let Some(r) = input.rate_limit_per_minute {
        if !(1..=300).contains(&r) {
            return Err(bad(format!("rate_limit_per_minute must be between 1 and 300, not {r}")));
        }
        c.rate_limit_per_minute = Some(r);
    }
    if let Some(open) = input.allow_open_conversation {
        c.allow_open_ticket = open;
    }
    match (&input.scheduled_at, &input.timezone) {
        (Some(at), zone) => c.scheduled = Some(after(now, at, zone.as_deref())?),
        (None, Some(_)) => return Err(bad("timezone is the zone of scheduled_at: give scheduled_at with it")),
        (None, None) => {}
    }
    if let Some(window) = &input.send_window {
        c.send_window = window.as_ref().map(send_window).transpose()?;
    }
    Ok(())
}

/// A checked `send_window`; the error names its field.
fn send_window(spec: &WindowSpec) -> ApiResult<SendWindow> {
    SendWindow::parse(spec).map_err(|(field, why)| bad(format!("send_window.{field} {why}")))
}

impl StartInput {
    /// The start time it asks for (`None`: now, or the campaign's own `scheduled_at`).
    pub(super) fn scheduled(&self, state: &AppState) -> ApiResult<Option<Millis>> {
        match (&self.scheduled_at, &self.timezone) {
            (Some(at), zone) => after(state.engine.clock.now(), at, zone.as_deref()).map(Some),
            (None, Some(_)) => Err(bad("timezone is the zone of scheduled_at: give scheduled_at with it")),
            (None, None) => Ok(None),
        }
    }
}

/// An ISO-8601 `scheduled_at` that lies after `now`: with an offset (or UTC), or without
/// one and read as a local time of `zone`.
fn after(now: Millis, at: &str, zone: Option<&str>) -> ApiResult<i64> {
    let ms = match zone {
        None => {
            datetime::parse(at).ok_or_else(|| bad(format!("scheduled_at \"{at}\" is not an ISO-8601 date-time")))?
        }
        Some(zone) => {
            let tz = window::parse_zone(zone)
                .ok_or_else(|| bad(format!("timezone \"{zone}\" is not an IANA time zone (e.g. America/Sao_Paulo)")))?;
            let local = datetime::parse_local(at).ok_or_else(|| {
                bad(format!(
                    "scheduled_at \"{at}\" is not a local date-time (2026-12-24T09:00:00, no offset, with timezone)"
                ))
            })?;
            window::local_instant(tz, local)
                .ok_or_else(|| bad(format!("scheduled_at \"{at}\" does not exist in {zone}")))?
        }
    };
    if ms <= now {
        return Err(bad(format!("scheduled_at must be in the future ({at})")));
    }
    Ok(ms)
}
