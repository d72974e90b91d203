//! `POST /campaigns/preview`: how many contacts (with a phone) filters match, before a
//! campaign uses them.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::view::{self, ContactView};
use super::{bad, json_body, ApiResult, Workspace};
use crate::contact::Contact;
use crate::filter::Filters;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    pub filters: Option<Filters>,
    pub channel_id: Option<String>,
    /// Include the first 50 matching contacts.
    #[serde(rename = "includeDetails", alias = "include_details")]
    pub include_details: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    pub total: u64,
    /// Of `total`, contacts on the suppression list: a campaign leaves them FAILED 1008
    /// (conversations.md).
    pub suppressed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<ContactView>>,
}

/// How many contacts (with a phone) the filters match.
#[utoipa::path(post, path = "/api/v1/campaigns/preview", tag = "campaigns", request_body = PreviewInput, security(("api_key" = [])),
    responses((status = 200, description = "Count and optional first 50", body = PreviewView),
              (status = 400, description = "Invalid filter")))]
pub async fn preview(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    let input: PreviewInput = json_body(&state, body).await?;
    let store = &state.engine.store;
    if let Some(channel) = &input.channel_id {
        if !store.channels(ws.id()).await?.iter().any(|c| &c.id == channel) {
            return Err(bad(format!("channel_id \"{channel}\" does not exist in this workspace")));
        }
    }
    let custom = store.custom_fields(ws.id()).await?;
    let compiled = input.filters.unwrap_or_default().compile(&custom)?;
    let details = input.include_details.unwrap_or(false);
    let mut total = 0u64;
    let mut first = Vec::new();
    let mut phones = Vec::new();
    store
        .scan_contacts(ws.id(), &mut |c: &Contact| {
            if c.phone.is_some() && compiled.matches(c) {
                total += 1;
                phones.extend(c.phone);
                if details && first.len() < 50 {
                    first.push(view::contact(c));
                }
            }
        })
        .await?;
    let mut suppressed = 0u64;
    for chunk in phones.chunks(1000) {
        suppressed += store.suppressed_among(ws.id(), chunk).await?.len() as u64;
    }
    Ok(Json(PreviewView { total, suppressed, contacts: details.then_some(first) }).into_response())
}
