//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    campaign_input, campaigns, contacts, export, preview, resources, results, simulator, suppressions, view, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Irisgate REST campaigns API",
        description = "Campaigns, audiences from contact filters, rate limits and statistics (rest.md)."
    ),
    paths(
        campaigns::list,
        campaigns::create,
        campaigns::get,
        campaigns::update,
        campaigns::delete,
        campaigns::start,
        campaigns::pause,
        campaigns::resume,
        campaigns::cancel,
        results::stats,
        results::messages,
        super::events::events,
        export::messages_csv,
        preview::preview,
        resources::list_tags,
        resources::create_tag,
        resources::list_channels,
        resources::create_channel,
        resources::sync_templates,
        resources::list_templates,
        resources::create_template,
        resources::list_custom_fields,
        resources::create_custom_field,
        contacts::list,
        contacts::create,
        contacts::get,
        contacts::update,
        contacts::delete,
        contacts::import,
        simulator::inbound,
        suppressions::list,
        suppressions::create,
        suppressions::delete,
        webhooks::create,
        webhooks::list,
        webhooks::get,
        webhooks::delete,
        webhooks::deliveries,
        webhooks::replay,
        super::retry::retry,
        super::segments::create,
        super::segments::list,
        super::segments::get,
        super::segments::update,
        super::segments::delete,
        super::segments::preview,
        super::clone::clone,
    ),
    components(schemas(
        view::CampaignView,
        view::StatsView,
        view::MessageView,
        view::ContactView,
        view::TagView,
        view::ChannelView,
        view::TemplateView,
        view::CustomFieldView,
        campaign_input::CampaignInput,
        campaign_input::StartInput,
        crate::window::WindowSpec,
        preview::PreviewInput,
        preview::PreviewView,
        resources::TagInput,
        resources::ChannelInput,
        resources::TemplateInput,
        resources::CustomFieldInput,
        contacts::ContactInput,
        contacts::ImportResult,
        simulator::InboundInput,
        simulator::InboundView,
        suppressions::SuppressionInput,
        suppressions::SuppressionView,
        webhooks::WebhookInput,
        webhooks::WebhookView,
        webhooks::DeliveryView,
        campaign_input::RetryInput,
        campaign_input::RetryScopeInput,
        campaign_input::CloneInput,
        super::segments::SegmentInput,
        super::segments::SegmentPreviewInput,
        super::segments::SegmentView,
        ErrorBody,
    ))
)]
pub struct ApiDoc;

/// The document as served: the derived one with [`Security`] applied.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    Security.modify(&mut doc);
    doc
}

/// The body of every error: `{"error": <reason phrase>, "message": <what and why>}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: String,
    message: String,
}

struct Security;

impl Modify for Security {
    /// Declares the API key scheme and, on every operation, the 401 every route can answer
    /// and the `{error, message}` body of every error response.
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = doc.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        let error_body = || ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses.entry("401".to_owned()).or_insert_with(|| {
                    ResponseBuilder::new().description("Missing or unknown X-API-Key").build().into()
                });
                for (status, response) in responses.iter_mut() {
                    if !(status.starts_with('4') || status.starts_with('5')) {
                        continue;
                    }
                    if let utoipa::openapi::RefOr::T(r) = response {
                        r.content.insert("application/json".to_owned(), error_body());
                    }
                }
            }
        }
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(api_doc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_401_and_error_bodies() {
        let doc = serde_json::to_value(api_doc()).unwrap();
        let op = &doc["paths"]["/api/v1/contacts/{id}"]["get"]["responses"];
        assert!(op.get("401").is_some(), "{op}");
        assert!(op["404"].pointer("/content/application~1json/schema").is_some(), "{op}");
    }
}
