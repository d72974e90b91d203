//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{campaigns, contacts, resources, view};

#[derive(OpenApi)]
#[openapi(
    info(title = "Irisgate REST campaigns API", description = "Campaigns, audiences from contact filters, rate limits and statistics (rest.md)."),
    paths(
        campaigns::list, campaigns::create, campaigns::get, campaigns::update, campaigns::delete,
        campaigns::start, campaigns::pause, campaigns::resume, campaigns::cancel,
        campaigns::stats, campaigns::messages, campaigns::preview,
        resources::list_tags, resources::create_tag, resources::list_channels, resources::create_channel,
        resources::list_templates, resources::create_template, resources::list_custom_fields, resources::create_custom_field,
        contacts::list, contacts::create, contacts::get, contacts::update, contacts::delete, contacts::import,
    ),
    components(schemas(
        view::CampaignView, view::StatsView, view::MessageView, view::ContactView, view::TagView, view::ChannelView,
        view::TemplateView, view::CustomFieldView, campaigns::CampaignInput, campaigns::StartInput, campaigns::PreviewInput,
        campaigns::PreviewView, resources::TagInput, resources::ChannelInput, resources::TemplateInput,
        resources::CustomFieldInput, contacts::ContactInput, contacts::ImportResult, ErrorBody,
    )),
    modifiers(&Security),
)]
pub struct ApiDoc;

/// The body of every error: `{"error": <reason phrase>, "message": <what and why>}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: String,
    message: String,
}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
