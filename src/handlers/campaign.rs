//! Creating and dispatching campaigns: `set /campaign/full`, `set /campaign/v2`,
//! `set /dispatch/v2`.

use serde_json::Value;
use uuid::Uuid;

use crate::audience::{self, InvalidPhones};
use crate::caller::Caller;
use crate::campaign::{Campaign, CampaignKind, ChannelType, MessageSpec, NewRecipient};
use crate::catalog::{ChannelDef, TemplateDef};
use crate::datetime;
use crate::engine::{StartError, StartRequest};
use crate::error::{Error, Result};
use crate::fields::{same_word, Obj};
use crate::handlers::lime_view;
use crate::reply::Reply;
use crate::state::AppState;

/// Refuses writes for tenants whose plan lacks the campaigns feature (31).
pub fn require_feature(caller: &Caller) -> Result<()> {
    if caller.tenant.campaigns_enabled() {
        Ok(())
    } else {
        Err(Error::Forbidden("Campaigns feature is not available in your current plan".into()))
    }
}

/// A campaign id from the uri; malformed ids are simply not found.
pub fn campaign_id(text: &str) -> Result<Uuid> {
    Uuid::try_parse(text.trim()).map_err(|_| Error::NotFound(format!("The campaign {text} was not found")))
}

/// The caller's campaign of the uri's id.
pub async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<Campaign> {
    state.engine.campaign(&caller.tenant.id, campaign_id(id)?).await
}

/// `set /campaign/full`: campaign, audience(s) and message in one command; sending starts
/// at once (or at `scheduled`).
pub async fn full(state: &AppState, caller: &Caller, resource: &Value) -> Result<Reply> {
    require_feature(caller)?;
    let root = Obj::new(resource, "")?;
    let (campaign, _) = parse(state, caller, root, true).await?;
    let audience = full_audience(state, root, &campaign)?;
    let max = state.engine.settings.max_recipients_per_campaign;
    let distinct = {
        let mut phones = std::collections::HashSet::new();
        audience.iter().filter(|r| r.phone.is_none_or(|p| phones.insert(p))).count() as u64
    };
    if distinct > max {
        return Err(Error::InvalidArgument(format!(
            "audiences has {distinct} distinct recipients; the limit is {max} per campaign (campaigns.max_recipients_per_campaign)"
        )));
    }
    let campaign = state.engine.create_started(campaign, audience).await?;
    tracing::info!(campaign = %campaign.id, tenant = %campaign.tenant, status = campaign.status.lime(), "campaign created");
    Ok(Reply::with(lime_view::CAMPAIGN, lime_view::campaign(&campaign)))
}

/// `set /campaign/v2`: a campaign in status `new`, audience to be added.
pub async fn dynamic(state: &AppState, caller: &Caller, resource: &Value) -> Result<Reply> {
    require_feature(caller)?;
    let root = Obj::new(resource, "")?;
    let (campaign, _) = parse(state, caller, root, false).await?;
    state.engine.store.insert_campaign(campaign.clone(), Vec::new()).await?;
    tracing::info!(campaign = %campaign.id, tenant = %campaign.tenant, "dynamic campaign created");
    Ok(Reply::with(lime_view::CAMPAIGN, lime_view::campaign(&campaign)))
}

/// `set /dispatch/v2` with `{"id": …}`: `new` → `processing` (or `scheduling`).
pub async fn dispatch(state: &AppState, caller: &Caller, resource: &Value) -> Result<Reply> {
    require_feature(caller)?;
    let root = Obj::new(resource, "")?;
    let id = campaign_id(&root.required_text("id")?)?;
    let campaign = state.engine.start_campaign(&caller.tenant.id, id, StartRequest::default()).await.map_err(|e| {
        // BLiP answers 64 for a campaign that cannot be dispatched (activecampaign.md).
        match e {
            StartError::NotDraft(status) => {
                Error::InvalidArgument(format!("The campaign was already dispatched (status {})", status.lime()))
            }
            StartError::NoRecipients | StartError::NoMatch => {
                Error::InvalidArgument("The campaign has no audience: add recipients first".into())
            }
            StartError::Failed(Error::NotAllowed(m)) => Error::InvalidArgument(m),
            StartError::Failed(other) => other,
        }
    })?;
    Ok(Reply::with(lime_view::CAMPAIGN, lime_view::campaign(&campaign)))
}

/// Reads `campaign` and `message` into a DRAFT campaign; checks the channel and, when the
/// template is registered, its parameter count.
async fn parse(
    state: &AppState,
    caller: &Caller,
    root: Obj<'_>,
    full: bool,
) -> Result<(Campaign, Option<TemplateDef>)> {
    let (c, c_path) = root.obj("campaign")?.ok_or_else(|| Error::InvalidArgument("campaign is required".into()))?;
    let c = c.at(&c_path);
    let (m, m_path) = root.obj("message")?.ok_or_else(|| Error::InvalidArgument("message is required".into()))?;
    let m = m.at(&m_path);
    let name = c.required_text("name")?;
    let kind = match c.text("campaignType")? {
        Some(t) if same_word(&t, "individual") => CampaignKind::Individual,
        Some(t) if same_word(&t, "batch") => CampaignKind::Batch,
        Some(t) => {
            return Err(Error::InvalidArgument(format!(
                "campaign.campaignType \"{t}\" is not valid (expected Individual or Batch)"
            )))
        }
        None if full && root.has("audience") && !root.has("audiences") => CampaignKind::Individual,
        None => CampaignKind::Batch,
    };
    let channel_type = match (channel_type(&c)?, channel_type(&m)?) {
        (Some(a), Some(b)) if a != b => {
            return Err(Error::InvalidArgument(format!(
                "message.channelType ({}) differs from campaign.channelType ({})",
                b.lime(),
                a.lime()
            )))
        }
        (a, b) => a.or(b).unwrap_or(ChannelType::WhatsApp),
    };
    let tenant = &caller.tenant.id;
    let channels = state.engine.store.channels(tenant).await?;
    let channel = default_channel(&channels, channel_type)?;
    let now = state.engine.clock.now();
    let scheduled = match c.get("scheduled") {
        None => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => {
            let at = datetime::parse(s).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "campaign.scheduled \"{s}\" is not a date (expected ISO-8601 or yyyy-MM-dd HH[:mm])"
                ))
            })?;
            if at < now {
                return Err(Error::InvalidArgument(format!("campaign.scheduled is in the past ({s})")));
            }
            Some(at)
        }
        Some(_) => return Err(Error::InvalidArgument("campaign.scheduled must be a string".into())),
    };
    let mut message = MessageSpec {
        template: m.text("messageTemplate")?,
        template_language: m.text("messageTemplateLanguage")?,
        param_keys: m.string_list("messageParams")?.unwrap_or_default(),
        content: m.text("messageContent")?,
    };
    let mut template = None;
    match channel_type {
        ChannelType::WhatsApp => {
            let name = message.template.as_ref().ok_or_else(|| {
                Error::InvalidArgument("message.messageTemplate is required for WhatsApp campaigns".into())
            })?;
            let templates = state.engine.store.templates(tenant).await?;
            template = templates.into_iter().find(|t| t.name == *name && t.channel_id == channel.id);
            if let Some(t) = &template {
                if message.param_keys.is_empty() {
                    message.param_keys = (1..=t.parameters).map(|n| n.to_string()).collect();
                } else if message.param_keys.len() != t.parameters {
                    return Err(Error::InvalidArgument(format!(
                        "message.messageParams has {} keys but template \"{}\" takes {}",
                        message.param_keys.len(),
                        t.name,
                        t.parameters
                    )));
                }
                if message.template_language.is_none() {
                    message.template_language = Some(t.language.clone());
                }
            }
        }
        ChannelType::GoogleRcs => {
            if message.content.is_none() {
                return Err(Error::InvalidArgument(
                    "message.messageContent is required for GoogleRcs campaigns".into(),
                ));
            }
        }
    }
    let campaign = Campaign {
        name,
        kind,
        channel_type,
        channel_id: channel.id.clone(),
        flow_id: c.text("flowId")?,
        state_id: c.text("stateId")?,
        master_state: c.text("masterState")?,
        attendance_redirect: c.text("attendanceRedirect")?,
        source_application: c.text("sourceApplication")?,
        tags: c.string_list("tags")?.unwrap_or_default(),
        scheduled,
        message,
        allow_open_ticket: c.bool("allowOpenTicket")?.unwrap_or(false),
        ..Campaign::draft(tenant, caller.tenant.default_send_window.as_ref(), caller.tenant.identity.to_string(), now)
    };
    Ok((campaign, template))
}

fn channel_type(o: &Obj<'_>) -> Result<Option<ChannelType>> {
    Ok(match o.text("channelType")? {
        None => None,
        Some(t) if same_word(&t, "whatsapp") => Some(ChannelType::WhatsApp),
        Some(t) if same_word(&t, "googlercs") || same_word(&t, "rcs") => Some(ChannelType::GoogleRcs),
        Some(t) => {
            return Err(Error::InvalidArgument(format!(
                "{} \"{t}\" is not valid (expected WhatsApp or GoogleRcs)",
                o.path("channelType")
            )))
        }
    })
}

/// The tenant's channel for a type: the one marked default, else the only one.
pub fn default_channel(channels: &[ChannelDef], t: ChannelType) -> Result<&ChannelDef> {
    let of_type: Vec<&ChannelDef> = channels.iter().filter(|c| c.channel_type == t).collect();
    of_type.iter().find(|c| c.default).or(of_type.first()).copied().ok_or_else(|| {
        let name = match t {
            ChannelType::WhatsApp => "WhatsApp",
            ChannelType::GoogleRcs => "GoogleRcs",
        };
        Error::InvalidArgument(format!("channelType {name}: this bot has no {name} channel configured"))
    })
}

/// The audience of `/campaign/full`: one item for Individual, ≥ 1 for Batch, all valid as
/// JSON (a malformed item rejects the campaign), every item carrying the message's keys.
fn full_audience(state: &AppState, root: Obj<'_>, campaign: &Campaign) -> Result<Vec<NewRecipient>> {
    let single = root.get("audience");
    let many = root.array("audiences")?;
    let items: Vec<(&Value, String)> = match (single, many) {
        (Some(v), None) => vec![(v, "audience".to_owned())],
        (_, Some(list)) => list.iter().enumerate().map(|(i, v)| (v, format!("audiences[{i}]"))).collect(),
        (None, None) => {
            return Err(Error::InvalidArgument(match campaign.kind {
                CampaignKind::Individual => "audience is required".into(),
                CampaignKind::Batch => "audiences is required".into(),
            }))
        }
    };
    match campaign.kind {
        CampaignKind::Individual if items.len() != 1 => {
            return Err(Error::InvalidArgument(format!(
                "audiences must hold exactly one item for an Individual campaign, not {}",
                items.len()
            )))
        }
        CampaignKind::Batch if items.is_empty() => {
            return Err(Error::InvalidArgument("audiences must hold at least one item".into()))
        }
        _ => {}
    }
    let policy = match campaign.kind {
        CampaignKind::Individual => InvalidPhones::Refuse,
        CampaignKind::Batch => InvalidPhones::Keep,
    };
    let phones = &state.engine.phones;
    let mut out = Vec::with_capacity(items.len());
    for (value, path) in items {
        let r = audience::item(value, &path, phones, policy).map_err(|i| Error::InvalidArgument(i.reason))?;
        if let Some(missing) = campaign.message.param_keys.iter().find(|k| r.params.get(k).is_none()) {
            return Err(Error::InvalidArgument(format!("{path}.messageParams is missing key \"{missing}\"")));
        }
        out.push(r);
    }
    Ok(out)
}
