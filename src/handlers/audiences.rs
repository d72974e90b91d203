//! Audiences: `set /audiences/v2/{id}` (a list), `set /audiences/v2/{id}/file` (CSV text or
//! a media link), `get /audiences/{id}`.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::audience::{self, Invalid, InvalidPhones};
use crate::caller::Caller;
use crate::campaign::{Campaign, CampaignStatus, NewRecipient, RecipientStatus};
use crate::error::{Error, Result};
use crate::fields::Obj;
use crate::handlers::campaign::{campaign_id, load, require_feature};
use crate::handlers::lime_view;
use crate::query::Query;
use crate::reply::Reply;
use crate::state::AppState;
use lime_protocol::{Collection, MediaType};

/// The campaign, which must exist for this tenant and still be `new`.
async fn draft(state: &AppState, caller: &Caller, id: &str) -> Result<Campaign> {
    let campaign = load(state, caller, id).await?;
    if campaign.status != CampaignStatus::Draft {
        return Err(Error::NotAllowed("The campaign was already dispatched".into()));
    }
    Ok(campaign)
}

/// `set /audiences/v2/{id}`: items of a collection, a bare array, or one audience object.
pub async fn add_list(state: &AppState, caller: &Caller, id: &str, resource: &Value) -> Result<Reply> {
    require_feature(caller)?;
    let campaign = draft(state, caller, id).await?;
    let (items, base): (Vec<&Value>, &str) = match resource {
        Value::Array(a) => (a.iter().collect(), "audiences"),
        Value::Object(_) => {
            let obj = Obj::new(resource, "")?;
            match obj.array("items")? {
                Some(items) => (items.iter().collect(), "items"),
                None => (vec![resource], ""),
            }
        }
        _ => {
            return Err(Error::InvalidArgument(
                "The resource must be a collection, an array or an audience object".into(),
            ))
        }
    };
    let phones = &state.engine.phones;
    let mut recipients = Vec::with_capacity(items.len());
    let mut invalid = Vec::new();
    for (i, v) in items.iter().enumerate() {
        let path = if base.is_empty() { "audience".to_owned() } else { format!("{base}[{i}]") };
        match audience::item(v, &path, phones, InvalidPhones::Refuse) {
            Ok(r) => match missing_key(&campaign, &r) {
                Some(k) => invalid.push(Invalid {
                    line: None,
                    recipient: r.given,
                    reason: format!("{path}.messageParams is missing key \"{k}\""),
                }),
                None => recipients.push(r),
            },
            Err(e) => invalid.push(e),
        }
    }
    add(state, caller, &campaign, items.len() as u64, recipients, invalid).await
}

/// `set /audiences/v2/{id}/file`: `text/csv` (the CSV as a JSON string) or a media link to
/// a CSV on an allowed host.
pub async fn add_file(
    state: &AppState,
    caller: &Caller,
    id: &str,
    media_type: Option<&str>,
    resource: &Value,
) -> Result<Reply> {
    require_feature(caller)?;
    let campaign = draft(state, caller, id).await?;
    let media_type: MediaType = media_type
        .ok_or_else(|| {
            Error::InvalidArgument("type is required: text/csv or application/vnd.lime.media-link+json".into())
        })?
        .parse()
        .map_err(|e: lime_protocol::media_type::InvalidMediaType| Error::InvalidArgument(e.to_string()))?;
    let text = if media_type.essence_eq(MediaType::TEXT_CSV) {
        match resource {
            Value::String(s) => s.clone(),
            _ => {
                return Err(Error::InvalidArgument("A text/csv resource must be the CSV text as a JSON string".into()))
            }
        }
    } else if media_type.essence_eq(MediaType::MEDIA_LINK) {
        fetch_media_link(state, resource).await?
    } else {
        return Err(Error::InvalidArgument(format!(
            "type {media_type} is not supported here: use text/csv or application/vnd.lime.media-link+json"
        )));
    };
    let phones = state.engine.phones.clone();
    // Parsing a large CSV is CPU work: keep it off the reactor threads.
    let parsed = tokio::task::spawn_blocking(move || audience::csv(&text, &phones))
        .await
        .map_err(|e| Error::Internal(format!("CSV parsing task failed: {e}")))?
        .map_err(|e| Error::InvalidArgument(format!("The CSV cannot be used: {e}")))?;
    let mut recipients = Vec::with_capacity(parsed.recipients.len());
    let mut invalid = parsed.invalid;
    for (r, line) in parsed.recipients.into_iter().zip(parsed.lines) {
        match missing_key(&campaign, &r) {
            Some(k) => invalid.push(Invalid {
                line: Some(line),
                recipient: r.given,
                reason: format!("column \"{k}\" (a key of message.messageParams) is missing"),
            }),
            None => recipients.push(r),
        }
    }
    add(state, caller, &campaign, parsed.received, recipients, invalid).await
}

fn missing_key<'a>(campaign: &'a Campaign, r: &NewRecipient) -> Option<&'a str> {
    campaign.message.param_keys.iter().find(|k| r.params.get(k).is_none()).map(String::as_str)
}

async fn add(
    state: &AppState,
    caller: &Caller,
    campaign: &Campaign,
    received: u64,
    recipients: Vec<NewRecipient>,
    invalid: Vec<Invalid>,
) -> Result<Reply> {
    let max = state.engine.settings.max_recipients_per_campaign;
    let added = state.engine.store.add_recipients(&caller.tenant.id, campaign.id, recipients, max).await?;
    Ok(Reply::with(
        lime_view::AUDIENCE_RESULT,
        json!({
            "campaignId": campaign.id.to_string(),
            "received": received,
            "added": added.added,
            "updated": added.updated,
            "invalid": invalid,
            "total": added.total,
        }),
    ))
}

/// Fetches `{"uri": "https://…/a.csv"}` under `crate::media_link`'s rules.
async fn fetch_media_link(state: &AppState, resource: &Value) -> Result<String> {
    let uri = Obj::new(resource, "")?.required_text("uri")?;
    crate::media_link::fetch(&state.engine.settings, &uri).await
}

/// `get /audiences/{id}?$skip&$take&status`.
pub async fn list(state: &AppState, caller: &Caller, id: &str, query: &Query) -> Result<Reply> {
    let id: Uuid = campaign_id(id)?;
    let page = query.page(100, 100)?;
    let status = match query.get("status") {
        None => None,
        Some(s) => Some(RecipientStatus::parse_any(s).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "status \"{s}\" is not valid (expected PENDING, PROCESSED, RECEIVED, READ or FAILED)"
            ))
        })?),
    };
    let store = &state.engine.store;
    let campaign = state.engine.campaign(&caller.tenant.id, id).await?;
    let (total, recipients) = store.recipients(&caller.tenant.id, id, status, page).await?;
    let items: Vec<Value> =
        recipients.iter().map(|r| lime_view::audience_item(&campaign, r, &state.engine.reasons)).collect();
    Ok(Reply::with(MediaType::COLLECTION, Collection::new(lime_view::AUDIENCE, total, items)))
}
