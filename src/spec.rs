//! The REST face's part of a campaign, kept as JSON in `Campaign::rest`: description, message
//! type and body, template id, contact filters and metadata (the variable mapping). Typed here
//! so that the REST handlers and the engine (which freezes the audience from the filters at
//! start) read it the same way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::campaign::Campaign;
use crate::error::{Error, Result};
use crate::filter::Filters;

/// TEXT or TEMPLATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum MessageType {
    Text,
    Template,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Content {
    /// Always `text`.
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<TextBody>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    /// May use `{{nome}}`, `{{email}}`, `{{telefone}}` and custom field keys.
    pub body: String,
}

/// What the REST face keeps beside the shared campaign model (in `Campaign::rest`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RestSpec {
    pub description: Option<String>,
    pub message_type: Option<MessageType>,
    pub content: Option<Content>,
    pub template_id: Option<String>,
    pub filters: Option<Filters>,
    /// A saved segment whose filters the audience is frozen from at start, instead of
    /// `filters` (campaign-features.md, "Saved segments").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_id: Option<uuid::Uuid>,
    pub metadata: Option<Map<String, Value>>,
}

impl RestSpec {
    /// The spec of a campaign made on the REST face; `None` for one made on the LIME face.
    pub fn of(c: &Campaign) -> Option<RestSpec> {
        c.rest.clone().and_then(|v| serde_json::from_value(v).ok())
    }

    /// `metadata.template_variable_mapping` (`{"{{1}}": "nome", …}`); empty when absent.
    pub fn mapping(&self) -> Result<BTreeMap<String, String>> {
        let Some(m) = self.metadata.as_ref().and_then(|m| m.get("template_variable_mapping")) else {
            return Ok(BTreeMap::new());
        };
        serde_json::from_value(m.clone()).map_err(|_| {
            Error::InvalidArgument(
                "metadata.template_variable_mapping must map \"{{n}}\" to field names (strings)".into(),
            )
        })
    }
}
