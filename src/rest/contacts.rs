//! `/api/v1/contacts`: CRUD and CSV import of the workspace's contacts (the same records the
//! CRM node of the LIME face serves, and campaign sends update).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::view::{self, ContactView};
use super::{bad, created, json_body, ApiError, ApiResult, PageOf, PageQuery, Paging, Workspace, Q};
use crate::catalog::{CustomFieldDef, FieldType, TagDef};
use crate::contact::{Contact, ContactKey};
use crate::datetime;
use crate::error::Error;
use crate::phone::PhoneNormalizer;
use crate::state::AppState;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub name: Option<String>,
    pub email: Option<String>,
    /// Any format; normalised to E.164 with the default country code.
    pub phone: Option<String>,
    /// Tag ids.
    pub tags: Option<Vec<String>>,
    /// Custom field key → value of the field's type.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Map<String, Value>>,
    pub last_interaction_at: Option<String>,
    pub has_open_conversation: Option<bool>,
}

/// Checks a custom field value against its type; returns the value to store.
fn typed(path: &str, field: &CustomFieldDef, v: &Value) -> ApiResult<Value> {
    let wrong = |what: &str| bad(format!("{path} must be {what} ({} field)", field.key));
    Ok(match (field.field_type, v) {
        (_, Value::Null) => Value::Null,
        (FieldType::Text, Value::String(_)) => v.clone(),
        (FieldType::Text, Value::Number(_) | Value::Bool(_)) => Value::String(v.to_string()),
        (FieldType::Number, Value::Number(_)) => v.clone(),
        (FieldType::Number, Value::String(s)) => {
            let s = s.trim();
            match s.parse::<i64>() {
                Ok(i) => Value::Number(i.into()),
                Err(_) => {
                    let n: f64 = s.parse().map_err(|_| wrong("a number"))?;
                    serde_json::Number::from_f64(n).map(Value::Number).ok_or_else(|| wrong("a finite number"))?
                }
            }
        }
        (FieldType::Boolean, Value::Bool(_)) => v.clone(),
        (FieldType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (FieldType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        (FieldType::Date, Value::String(s)) if datetime::parse(s).is_some() => v.clone(),
        (FieldType::Text, _) => return Err(wrong("a string")),
        (FieldType::Number, _) => return Err(wrong("a number")),
        (FieldType::Boolean, _) => return Err(wrong("true or false")),
        (FieldType::Date, _) => return Err(wrong("an ISO-8601 date")),
    })
}

/// Applies `input` over `contact`, checking tags, custom fields and the phone against the
/// workspace as the store holds it; a phone another contact has is a conflict (409).
async fn apply(
    state: &AppState,
    ws: &Workspace,
    contact: Contact,
    input: ContactInput,
    creating: bool,
) -> ApiResult<Contact> {
    let store = &state.engine.store;
    let phone_given = input.phone.is_some();
    let tags = if input.tags.is_some() { store.tags(ws.id()).await? } else { Vec::new() };
    let fields = store.custom_fields(ws.id()).await?;
    let contact = compose(contact, input, &state.engine.phones, &tags, &fields, creating)?;
    if let Some(phone) = contact.phone.filter(|_| phone_given) {
        if let Some(other) = store.contact(ws.id(), &ContactKey::Phone(phone)).await? {
            if other.id != contact.id {
                return Err(ApiError(Error::NotAllowed(format!(
                    "Contact {} already has the phone +{phone}",
                    other.id
                ))));
            }
        }
    }
    Ok(contact)
}

/// [`apply`] without the store: `input` over `contact`, checked against the workspace's
/// `tags` (needed only when the input has tags) and custom `fields`; `creating` also requires
/// the required custom fields. Pure, so that the fuzz target can call it.
pub fn compose(
    mut contact: Contact,
    input: ContactInput,
    phones: &PhoneNormalizer,
    tags: &[TagDef],
    fields: &[CustomFieldDef],
    creating: bool,
) -> ApiResult<Contact> {
    if let Some(name) = input.name {
        contact.name = Some(name.trim().to_owned()).filter(|s| !s.is_empty());
    }
    if let Some(email) = input.email {
        let email = email.trim().to_owned();
        if !email.is_empty() && !email.contains('@') {
            return Err(bad(format!("email \"{email}\" is not an e-mail address")));
        }
        contact.email = Some(email).filter(|s| !s.is_empty());
    }
    if let Some(phone) = input.phone {
        let normalized = phones
            .normalize(&phone)
            .map_err(|e| bad(format!("phone \"{phone}\" is not a valid phone number ({})", e.reason)))?;
        contact.phone = Some(normalized.as_u64());
        if contact.identity.is_none() {
            contact.identity = Some(crate::phone::identity(normalized, "wa.gw.msging.net"));
        }
    }
    if let Some(given) = input.tags {
        if let Some(t) = given.iter().find(|t| !tags.iter().any(|k| &k.id == *t)) {
            return Err(bad(format!("tags: \"{t}\" is not a tag id of this workspace")));
        }
        contact.tags = given;
    }
    if let Some(custom) = input.custom_fields {
        for (k, v) in custom {
            let field = fields
                .iter()
                .find(|f| f.key == k)
                .ok_or_else(|| bad(format!("custom_fields.{k}: unknown custom field key")))?;
            match typed(&format!("custom_fields.{k}"), field, &v)? {
                Value::Null => {
                    contact.extras.remove(&k);
                }
                value => {
                    contact.extras.insert(k, value);
                }
            }
        }
    }
    if creating {
        if let Some(f) = fields.iter().find(|f| f.is_required && !contact.extras.contains_key(&f.key)) {
            return Err(bad(format!("custom_fields.{} is required", f.key)));
        }
    }
    if let Some(at) = input.last_interaction_at {
        contact.last_interaction_at = datetime::parse(&at)
            .ok_or_else(|| bad(format!("last_interaction_at \"{at}\" is not an ISO-8601 date-time")))?;
    }
    if let Some(open) = input.has_open_conversation {
        contact.has_open_conversation = open;
    }
    Ok(contact)
}

/// List contacts in creation order.
#[utoipa::path(get, path = "/api/v1/contacts", params(PageQuery), security(("api_key" = [])),
    responses((status = 200, description = "A page of contacts", body = PageOf<ContactView>), (status = 400, description = "Bad query")))]
pub async fn list(
    State(state): State<AppState>,
    ws: Workspace,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<PageOf<ContactView>>> {
    let paging = Paging::from_query(q.page.as_deref(), q.limit.as_deref())?;
    let (total, contacts) = state.engine.store.contacts(ws.id(), paging.store_page()).await?;
    Ok(Json(PageOf::new(views(&state, ws.id(), &contacts).await?, paging, total)))
}

/// Create a contact.
#[utoipa::path(post, path = "/api/v1/contacts", request_body = ContactInput, security(("api_key" = [])),
    responses((status = 201, description = "Created", body = ContactView), (status = 400, description = "Invalid field"),
              (status = 409, description = "Phone already used")))]
pub async fn create(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Response> {
    let input: ContactInput = json_body(&state, body).await?;
    let now = state.engine.clock.now();
    let fresh = Contact { id: uuid::Uuid::now_v7().to_string(), created: now, ..Contact::default() };
    let contact = apply(&state, &ws, fresh, input, true).await?;
    let saved = state.engine.store.put_contact(ws.id(), contact).await?;
    Ok(created(views(&state, ws.id(), std::slice::from_ref(&saved)).await?.remove(0)))
}

/// The contacts' views with `opted_out_at` from the suppression list.
async fn views(state: &AppState, tenant: &str, contacts: &[Contact]) -> ApiResult<Vec<ContactView>> {
    let phones: Vec<u64> = contacts.iter().filter_map(|c| c.phone).collect();
    let at = state.engine.conversations.opted_out_at(tenant, &phones).await?;
    Ok(contacts
        .iter()
        .map(|c| ContactView {
            opted_out_at: c.phone.and_then(|p| at.get(&p)).and_then(|t| crate::datetime::iso(*t)),
            ..view::contact(c)
        })
        .collect())
}

async fn load(state: &AppState, ws: &Workspace, id: &str) -> ApiResult<Contact> {
    state
        .engine
        .store
        .contact(ws.id(), &ContactKey::Id(id.to_owned()))
        .await?
        .ok_or_else(|| ApiError(Error::NotFound(format!("Contact {id} not found"))))
}

/// One contact.
#[utoipa::path(get, path = "/api/v1/contacts/{id}", params(("id" = String, Path)), security(("api_key" = [])),
    responses((status = 200, description = "The contact", body = ContactView), (status = 404, description = "Not found")))]
pub async fn get(State(state): State<AppState>, ws: Workspace, Path(id): Path<String>) -> ApiResult<Json<ContactView>> {
    let contact = load(&state, &ws, &id).await?;
    Ok(Json(views(&state, ws.id(), std::slice::from_ref(&contact)).await?.remove(0)))
}

/// Change the fields given.
#[utoipa::path(put, path = "/api/v1/contacts/{id}", params(("id" = String, Path)), request_body = ContactInput,
    security(("api_key" = [])),
    responses((status = 200, description = "Updated", body = ContactView), (status = 400, description = "Invalid field"),
              (status = 404, description = "Not found"), (status = 409, description = "Phone already used")))]
pub async fn update(
    State(state): State<AppState>,
    ws: Workspace,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<ContactView>> {
    let input: ContactInput = json_body(&state, body).await?;
    let current = load(&state, &ws, &id).await?;
    let contact = apply(&state, &ws, current, input, false).await?;
    let saved = state.engine.store.put_contact(ws.id(), contact).await?;
    Ok(Json(views(&state, ws.id(), std::slice::from_ref(&saved)).await?.remove(0)))
}

/// Delete a contact.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}", params(("id" = String, Path)), security(("api_key" = [])),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found")))]
pub async fn delete(State(state): State<AppState>, ws: Workspace, Path(id): Path<String>) -> ApiResult<StatusCode> {
    if state.engine.store.delete_contact(ws.id(), &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError(Error::NotFound(format!("Contact {id} not found"))))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportLineError {
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub created: u64,
    pub updated: u64,
    pub invalid: Vec<ImportLineError>,
}

/// Import contacts from CSV (header `name,email,phone,tags,<custom keys>`; tags separated by
/// `|`); a contact with the same phone is updated.
#[utoipa::path(post, path = "/api/v1/contacts/import", request_body(content = String, content_type = "text/csv"),
    security(("api_key" = [])),
    responses((status = 200, description = "What was imported", body = ImportResult),
              (status = 400, description = "Unusable header"), (status = 413, description = "Body too large")))]
pub async fn import(State(state): State<AppState>, ws: Workspace, body: Body) -> ApiResult<Json<ImportResult>> {
    let bytes = super::read_body(body).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("The CSV is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let delimiter = if text.lines().next().unwrap_or("").matches(';').count()
        > text.lines().next().unwrap_or("").matches(',').count()
    {
        b';'
    } else {
        b','
    };
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| bad(format!("The CSV header cannot be read: {e}")))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    if !headers.iter().any(|h| h == "phone" || h == "telefone") {
        return Err(bad("The CSV header needs a phone column"));
    }
    let fields = state.engine.store.custom_fields(ws.id()).await?;
    for h in &headers {
        if !["name", "nome", "email", "phone", "telefone", "tags"].contains(&h.as_str())
            && !fields.iter().any(|f| f.key.eq_ignore_ascii_case(h))
        {
            return Err(bad(format!("Column \"{h}\" is neither a standard field nor a custom field key")));
        }
    }
    let mut result = ImportResult { created: 0, updated: 0, invalid: Vec::new() };
    let mut record = csv::StringRecord::new();
    let mut seen: HashMap<u64, String> = HashMap::new();
    loop {
        let line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                result.invalid.push(ImportLineError { line, message: format!("unreadable line: {e}") });
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let mut input = ContactInput::default();
        let mut custom = Map::new();
        for (h, cell) in headers.iter().zip(record.iter()) {
            // An empty cell changes nothing (an import never erases what a contact has).
            if cell.is_empty() {
                continue;
            }
            let cell = cell.to_owned();
            match h.as_str() {
                "name" | "nome" => input.name = Some(cell),
                "email" => input.email = Some(cell),
                "phone" | "telefone" => input.phone = Some(cell),
                "tags" => {
                    input.tags = Some(
                        cell.split(['|', ';']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect(),
                    )
                }
                key => {
                    if !cell.is_empty() {
                        let key = fields
                            .iter()
                            .find(|f| f.key.eq_ignore_ascii_case(key))
                            .map(|f| f.key.clone())
                            .unwrap_or_default();
                        custom.insert(key, Value::String(cell));
                    }
                }
            }
        }
        input.custom_fields = (!custom.is_empty()).then_some(custom);
        let phone = match input.phone.as_deref().map(|p| state.engine.phones.normalize(p)) {
            Some(Ok(p)) => p.as_u64(),
            _ => {
                result.invalid.push(ImportLineError {
                    line,
                    message: format!("phone \"{}\" is not a valid phone number", input.phone.unwrap_or_default()),
                });
                continue;
            }
        };
        let existing = match seen.get(&phone) {
            Some(id) => state.engine.store.contact(ws.id(), &ContactKey::Id(id.clone())).await?,
            None => state.engine.store.contact(ws.id(), &ContactKey::Phone(phone)).await?,
        };
        let is_new = existing.is_none();
        let base = existing.unwrap_or_else(|| Contact {
            id: uuid::Uuid::now_v7().to_string(),
            created: state.engine.clock.now(),
            ..Contact::default()
        });
        match apply(&state, &ws, base, input, is_new).await {
            Ok(contact) => {
                seen.insert(phone, contact.id.clone());
                state.engine.store.put_contact(ws.id(), contact).await?;
                if is_new {
                    result.created += 1;
                } else {
                    result.updated += 1;
                }
            }
            Err(ApiError(e)) => result.invalid.push(ImportLineError { line, message: e.client_message() }),
        }
    }
    Ok(Json(result))
}
