//! Reading and deleting campaigns: `get /campaigns`, `get /campaigns/{id}`,
//! `delete /campaigns/{id}`, summaries, reports and `get /messages/{id}`.

use serde_json::Value;

use crate::caller::Caller;
use crate::campaign::{Campaign, CampaignStatus};
use crate::datetime;
use crate::error::{Error, Result};
use crate::handlers::campaign::{campaign_id, load, require_feature};
use crate::handlers::lime_view;
use crate::query::Query;
use crate::reply::Reply;
use crate::state::AppState;
use crate::store::{CampaignFilter, Page};
use lime_protocol::{Collection, MediaType};

/// Filters of `get /campaigns` and summaries: `created`, `CampaignSender`,
/// `sourceApplication`, `status`.
fn filter(query: &Query) -> Result<CampaignFilter> {
    let created_from = match query.get("created") {
        None => None,
        Some(s) => Some(datetime::parse(s).ok_or_else(|| {
            Error::InvalidArgument(format!("created \"{s}\" is not a date (expected ISO-8601 date or date-time)"))
        })?),
    };
    let statuses = match query.get("status") {
        None => None,
        Some(s) => Some(CampaignStatus::parse_any(s).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "status \"{s}\" is not valid (expected new, scheduling, processing, executed, failed or canceled)"
            ))
        })?),
    };
    Ok(CampaignFilter {
        created_from,
        sender: query.get("campaignSender").map(str::to_owned),
        source_application: query.get("sourceApplication").map(str::to_owned),
        statuses,
        ..CampaignFilter::default()
    })
}

/// `get /campaigns`: newest first.
pub async fn list(state: &AppState, caller: &Caller, query: &Query) -> Result<Reply> {
    let page = query.page(20, 100)?;
    let (total, campaigns) = state.engine.store.campaigns(&caller.tenant.id, &filter(query)?, page).await?;
    let items: Vec<Value> = campaigns.iter().map(lime_view::campaign).collect();
    Ok(Reply::with(MediaType::COLLECTION, Collection::new(lime_view::CAMPAIGN, total, items)))
}

/// `get /campaigns/{id}`.
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> Result<Reply> {
    let campaign = load(state, caller, id).await?;
    Ok(Reply::with(lime_view::CAMPAIGN, lime_view::campaign(&campaign)))
}

/// `delete /campaigns/{id}`: only `new` and `scheduling` campaigns (the schedule is dropped).
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<Reply> {
    require_feature(caller)?;
    let id = campaign_id(id)?;
    state
        .engine
        .store
        .delete_campaign(&caller.tenant.id, id, &[CampaignStatus::Draft, CampaignStatus::Scheduled])
        .await
        .map_err(|e| match e {
            Error::NotAllowed(m) => {
                Error::InvalidArgument(format!("{m}: only new or scheduling campaigns can be deleted"))
            }
            other => other,
        })?;
    tracing::info!(campaign = %id, tenant = %caller.tenant.id, "campaign deleted");
    Ok(Reply::empty())
}

async fn summary_of(state: &AppState, caller: &Caller, c: &Campaign) -> Result<Value> {
    let store = &state.engine.store;
    let counts = store.counts(&caller.tenant.id, c.id).await?;
    let take = state.engine.settings.summary_audience_items as u64;
    let (_, audience) = store.recipients(&caller.tenant.id, c.id, None, Page { skip: 0, take }).await?;
    Ok(lime_view::summary(c, &counts, &audience, &state.engine.reasons))
}

/// `get /campaigns/summaries`.
pub async fn summaries(state: &AppState, caller: &Caller, query: &Query) -> Result<Reply> {
    let page = query.page(20, 100)?;
    let (total, campaigns) = state.engine.store.campaigns(&caller.tenant.id, &filter(query)?, page).await?;
    let mut items = Vec::with_capacity(campaigns.len());
    for c in &campaigns {
        // A campaign deleted after the page was read is left out rather than failing the
        // whole list with an id the client never asked for.
        match summary_of(state, caller, c).await {
            Err(Error::NotFound(_)) => {}
            other => items.push(other?),
        }
    }
    Ok(Reply::with(MediaType::COLLECTION, Collection::new(lime_view::SUMMARY, total, items)))
}

/// `get /campaigns/{id}/summaries`: a collection with one summary.
pub async fn summary(state: &AppState, caller: &Caller, id: &str) -> Result<Reply> {
    let campaign = load(state, caller, id).await?;
    let item = summary_of(state, caller, &campaign).await?;
    Ok(Reply::with(MediaType::COLLECTION, Collection::new(lime_view::SUMMARY, 1, vec![item])))
}

/// `get /campaigns/{id}/reports`: `statusAudience` paged (default 100, at most 10,000).
pub async fn report(state: &AppState, caller: &Caller, id: &str, query: &Query) -> Result<Reply> {
    let page = query.page(100, 10_000)?;
    let campaign = load(state, caller, id).await?;
    let store = &state.engine.store;
    let counts = store.counts(&caller.tenant.id, campaign.id).await?;
    let (_, audience) = store.recipients(&caller.tenant.id, campaign.id, None, page).await?;
    Ok(Reply::with(lime_view::REPORT, lime_view::report(&campaign, &counts, &audience, &state.engine.reasons)))
}

/// `get /messages/{id}`: the campaign's message.
pub async fn messages(state: &AppState, caller: &Caller, id: &str) -> Result<Reply> {
    let campaign = load(state, caller, id).await?;
    let item = lime_view::message(&campaign);
    Ok(Reply::with(MediaType::COLLECTION, Collection::new(lime_view::MESSAGE, 1, vec![item])))
}
