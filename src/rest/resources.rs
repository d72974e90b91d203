//! Workspace resources: tags, channels, templates and custom fields (list and create).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::view::{self, ChannelView, CustomFieldView, TagView, TemplateView};
use super::{bad, created, json_body, ApiError, ApiResult, Workspace, Q};
use crate::campaign::ChannelType;
use crate::catalog::{
    numbered_placeholders, ChannelDef, CustomFieldDef, FieldType, ParameterFormat, TagDef, TemplateDef, TemplateStatus,
};
use crate::channel::whatsapp::sync::Asked;
use crate::channel::Health;
use crate::error::Error;
use crate::state::AppState;

fn conflict(m: impl Into<String>) -> ApiError {
    ApiError(Error::NotAllowed(m.into()))
}

/// A caller-chosen id, or a new one; ids are letters, digits, `-` and `_`.
fn id_or_new(id: Option<String>, prefix: &str) -> ApiResult<String> {
    match id.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        Some(id) if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') => Ok(id),
        Some(id) => Err(bad(format!("id \"{id}\" may hold only letters, digits, - and _"))),
        None => Ok(format!("{prefix}_{}", uuid::Uuid::new_v4().simple())),
    }
}

/// Tags of the workspace.
#[utoipa::path(get, path = "/api/v1/campaigns/tags", security(("api_key" = [])),
    responses((status = 200, description = "All tags", body = [TagView])))]
pub async fn list_tags(State(state): State<AppState>, ws: Workspace) -> ApiResult<Json<Vec<TagView>>> {
    Ok(Json(state.engine.store.tags(ws.id()).await?.iter().map(view::tag).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    pub id: Option<String>,
    pub name: String,
    pub color: Option<String>,
}

/// Create a tag.
#[utoipa::path(post, path = "/api/v1/campaigns/tags", request_body = TagInput, security(("api_key" = [])),
    responses((status = 201, description = "Created", body = TagView), (status = 400, description = "Invalid field"),
              (status = 409, description = "Name or id taken")))]
pub async fn create_tag(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    let input: TagInput = json_body(&state, body).await?;
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        return Err(bad("name is required"));
    }
    let id = id_or_new(input.id, "tag")?;
    let store = &state.engine.store;
    let tags = store.tags(ws.id()).await?;
    if tags.iter().any(|t| t.id == id || t.name.eq_ignore_ascii_case(&name)) {
        return Err(conflict(format!("A tag with id \"{id}\" or name \"{name}\" already exists")));
    }
    let tag = TagDef { id, name, color: input.color, created: state.engine.clock.now() };
    store.put_tag(ws.id(), tag.clone()).await?;
    Ok(created(view::tag(&tag)))
}

/// Channels of the workspace.
#[utoipa::path(get, path = "/api/v1/campaigns/channels", security(("api_key" = [])),
    responses((status = 200, description = "All channels", body = [ChannelView])))]
pub async fn list_channels(State(state): State<AppState>, ws: Workspace) -> ApiResult<Json<Vec<ChannelView>>> {
    let channels = &state.engine.channels;
    let health = |c: &ChannelDef| channels.live(ws.id(), &c.id).map_or(Health::Ready, |live| live.health());
    Ok(Json(state.engine.store.channels(ws.id()).await?.iter().map(|c| view::channel(c, health(c))).collect()))
}

/// Ask for a template sync of a WhatsApp Cloud API channel with a `waba_id`; it runs in the
/// background and its templates show in `GET /campaigns/templates`.
#[utoipa::path(post, path = "/api/v1/campaigns/channels/{id}/templates/sync", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 202, description = "Sync queued"), (status = 404, description = "No such channel"),
              (status = 400, description = "The channel has no template sync")))]
pub async fn sync_templates(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    ws.require_campaigns()?;
    if !state.engine.store.channels(ws.id()).await?.iter().any(|c| c.id == id) {
        return Err(ApiError(Error::NotFound(format!("Channel \"{id}\" not found"))));
    }
    match state.engine.template_sync.request(ws.id(), &id) {
        Asked::Queued => {
            Ok((StatusCode::ACCEPTED, Json(json!({"channel_id": id, "status": "queued"}))).into_response())
        }
        Asked::NotSynced => {
            Err(bad(format!("channel \"{id}\" has no template sync (a whatsapp_cloud channel with waba_id has)")))
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub id: Option<String>,
    pub name: String,
    /// `whatsapp` or `google_rcs`.
    #[serde(rename = "type")]
    pub channel_type: String,
    /// `simulator` (default; the only provider so far).
    pub provider: Option<String>,
    pub default: Option<bool>,
    pub delivered_after_ms: Option<u64>,
    pub read_after_ms: Option<u64>,
    pub max_per_second: Option<u32>,
}

/// Create a channel.
#[utoipa::path(post, path = "/api/v1/campaigns/channels", request_body = ChannelInput, security(("api_key" = [])),
    responses((status = 201, description = "Created", body = ChannelView), (status = 400, description = "Invalid field"),
              (status = 409, description = "Id taken")))]
pub async fn create_channel(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    let input: ChannelInput = json_body(&state, body).await?;
    let channel_type = match input.channel_type.to_ascii_lowercase().as_str() {
        "whatsapp" => ChannelType::WhatsApp,
        "google_rcs" | "googlercs" => ChannelType::GoogleRcs,
        other => return Err(bad(format!("type \"{other}\" is not valid (whatsapp or google_rcs)"))),
    };
    if let Some(p) = input.provider.as_deref().filter(|p| !p.eq_ignore_ascii_case("simulator")) {
        return Err(bad(format!("provider \"{p}\" is not available (simulator)")));
    }
    if input.max_per_second == Some(0) {
        return Err(bad("max_per_second must be greater than 0"));
    }
    if input.name.trim().is_empty() {
        return Err(bad("name is required"));
    }
    let id = id_or_new(input.id, "channel")?;
    let store = &state.engine.store;
    let existing = store.channels(ws.id()).await?;
    if existing.iter().any(|c| c.id == id) {
        return Err(conflict(format!("A channel with id \"{id}\" already exists")));
    }
    let default = input.default.unwrap_or(false);
    if default {
        // One default per type: the new one takes over.
        for mut c in existing.into_iter().filter(|c| c.channel_type == channel_type && c.default) {
            c.default = false;
            store.put_channel(ws.id(), c).await?;
        }
    }
    let channel = ChannelDef {
        id,
        channel_type,
        provider: "simulator".into(),
        default,
        name: input.name.trim().to_owned(),
        delivered_after_ms: input.delivered_after_ms.unwrap_or(50),
        read_after_ms: input.read_after_ms.unwrap_or(200),
        max_per_second: input.max_per_second,
        ledger: None,
        created: state.engine.clock.now(),
    };
    store.put_channel(ws.id(), channel.clone()).await?;
    Ok(created(view::channel(&channel, Health::Ready)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplatesQuery {
    pub channel_id: Option<String>,
}

/// Templates of the workspace, optionally of one channel.
#[utoipa::path(get, path = "/api/v1/campaigns/templates", params(TemplatesQuery), security(("api_key" = [])),
    responses((status = 200, description = "Templates", body = [TemplateView])))]
pub async fn list_templates(
    State(state): State<AppState>,
    ws: Workspace,
    Q(q): Q<TemplatesQuery>,
) -> ApiResult<Json<Vec<TemplateView>>> {
    let templates = state.engine.store.templates(ws.id()).await?;
    let wanted = q.channel_id.as_deref().filter(|c| !c.is_empty());
    Ok(Json(templates.iter().filter(|t| wanted.is_none_or(|c| t.channel_id == c)).map(view::template).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateHeader {
    /// none, text, image, video or document.
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub id: Option<String>,
    pub name: String,
    pub language: Option<String>,
    pub channel_id: String,
    pub category: Option<String>,
    /// APPROVED (default), PENDING, REJECTED, PAUSED or DISABLED.
    pub status: Option<String>,
    pub header: Option<TemplateHeader>,
    pub body: String,
    #[schema(value_type = Option<Object>)]
    pub buttons: Option<Value>,
}

/// Register a template; its variables are the `{{n}}` of header and body.
#[utoipa::path(post, path = "/api/v1/campaigns/templates", request_body = TemplateInput, security(("api_key" = [])),
    responses((status = 201, description = "Created", body = TemplateView), (status = 400, description = "Invalid field"),
              (status = 409, description = "Id or name taken on the channel")))]
pub async fn create_template(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    let input: TemplateInput = json_body(&state, body).await?;
    let store = &state.engine.store;
    let channels = store.channels(ws.id()).await?;
    let Some(channel) = channels.iter().find(|c| c.id == input.channel_id) else {
        return Err(bad(format!("channel_id \"{}\" does not exist in this workspace", input.channel_id)));
    };
    let whatsapp_cloud = channel.provider == "whatsapp_cloud";
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        return Err(bad("name is required"));
    }
    if input.body.trim().is_empty() {
        return Err(bad("body is required"));
    }
    let given = input.status.unwrap_or_else(|| "APPROVED".into()).to_ascii_uppercase();
    let Some(status) = TemplateStatus::parse(&given) else {
        return Err(bad(format!("status \"{given}\" is not valid (APPROVED, PENDING, REJECTED, PAUSED, DISABLED)")));
    };
    let (header_type, header_text) = match input.header {
        None => (None, None),
        Some(h) => {
            let kind = h.kind.to_ascii_lowercase();
            if !["none", "text", "image", "video", "document"].contains(&kind.as_str()) {
                return Err(bad(format!("header.type \"{kind}\" is not valid (none, text, image, video, document)")));
            }
            if kind == "text" && h.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
                return Err(bad("header.text is required for a text header"));
            }
            (Some(kind), h.text)
        }
    };
    let id = id_or_new(input.id, "template")?;
    let templates = store.templates(ws.id()).await?;
    if templates.iter().any(|t| t.id == id || (t.name == name && t.channel_id == input.channel_id)) {
        return Err(conflict(format!("A template with id \"{id}\" or name \"{name}\" exists on this channel")));
    }
    let text = format!("{} {}", header_text.as_deref().unwrap_or(""), input.body);
    let mut template = TemplateDef {
        id,
        channel_id: input.channel_id,
        name,
        language: input.language.unwrap_or_else(|| "pt_BR".into()),
        status,
        category: input.category,
        header: header_text,
        body: input.body,
        parameters: numbered_placeholders(&text),
        header_type,
        buttons: input.buttons,
        cards: 0,
        card_body: None,
        parameter_format: ParameterFormat::Positional,
        synced: false,
        created: state.engine.clock.now(),
    };
    if whatsapp_cloud {
        // What the Cloud API will take: a media header and dynamic buttons are slots too.
        template.parameters = template.slot_count();
    }
    store.put_template(ws.id(), template.clone()).await?;
    Ok(created(view::template(&template)))
}

/// Custom contact fields; use their `key` in filters and variables.
#[utoipa::path(get, path = "/api/v1/campaigns/custom-fields", security(("api_key" = [])),
    responses((status = 200, description = "All custom fields", body = [CustomFieldView])))]
pub async fn list_custom_fields(State(state): State<AppState>, ws: Workspace) -> ApiResult<Json<Vec<CustomFieldView>>> {
    Ok(Json(state.engine.store.custom_fields(ws.id()).await?.iter().map(view::custom_field).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldInput {
    pub id: Option<String>,
    /// Letters, digits and `_`; how contacts, filters and variables refer to it.
    pub key: String,
    pub name: String,
    /// TEXT, NUMBER, DATE or BOOLEAN.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub field_type: FieldType,
    #[serde(default)]
    pub is_required: bool,
    #[serde(default = "yes")]
    pub is_visible: bool,
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

/// Names that variables already give a meaning to.
const RESERVED_KEYS: [&str; 6] = ["nome", "name", "email", "telefone", "phone", "id"];

/// Create a custom contact field.
#[utoipa::path(post, path = "/api/v1/campaigns/custom-fields", request_body = CustomFieldInput, security(("api_key" = [])),
    responses((status = 201, description = "Created", body = CustomFieldView), (status = 400, description = "Invalid field"),
              (status = 409, description = "Key taken")))]
pub async fn create_custom_field(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    let input: CustomFieldInput = json_body(&state, body).await?;
    let key = input.key.trim().to_owned();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(bad(format!("key \"{key}\" may hold only letters, digits and _")));
    }
    if RESERVED_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
        return Err(bad(format!("key \"{key}\" is a standard field name")));
    }
    if input.name.trim().is_empty() {
        return Err(bad("name is required"));
    }
    let store = &state.engine.store;
    let id = id_or_new(input.id, "field")?;
    if store.custom_fields(ws.id()).await?.iter().any(|f| f.key == key || f.id == id) {
        return Err(conflict(format!("A custom field with key \"{key}\" or id \"{id}\" already exists")));
    }
    let field = CustomFieldDef {
        id,
        key,
        name: input.name.trim().to_owned(),
        field_type: input.field_type,
        is_required: input.is_required,
        is_visible: input.is_visible,
        description: input.description,
        created: state.engine.clock.now(),
    };
    store.put_custom_field(ws.id(), field.clone()).await?;
    Ok(created(view::custom_field(&field)))
}
