//! The RBM `contentMessage` of a bot's free-form message (conversations.md): a text with
//! suggested replies, or a file by URL. WhatsApp templates have no RCS equivalent.

use serde_json::{json, Value};

use crate::outbound::Content;

/// The request body, or the description of a `failed` 64.
pub fn body(content: &Content) -> Result<Value, String> {
    let message = match content {
        Content::Text { text } => json!({"text": text}),
        Content::Select { text, options } => {
            let suggestions: Vec<Value> =
                options.iter().map(|o| json!({"reply": {"text": o.title, "postbackData": o.payload}})).collect();
            json!({"text": text, "suggestions": suggestions})
        }
        Content::Media { uri, .. } => json!({"contentInfo": {"fileUrl": uri}}),
        Content::Template { .. } => return Err("A WhatsApp template cannot be sent on an RCS channel".into()),
    };
    Ok(json!({"contentMessage": message}))
}
