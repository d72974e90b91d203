//! The Cloud API's body for a bot's free-form message (conversations.md): text, media by
//! link, reply buttons (`interactive` of type `button`), or a template given as is.

use serde_json::{json, Value};

use crate::outbound::{Content, MediaKind};

/// The `type` and its object for `content`, merged into the send body by `payload::body`.
pub fn fill(body: &mut Value, content: &Content) {
    match content {
        Content::Text { text } => {
            body["type"] = json!("text");
            body["text"] = json!({"body": text});
        }
        Content::Media { media, uri, title, text, .. } => {
            let mut object = json!({"link": uri});
            // Audio takes no caption; a document shows its file name.
            if let (Some(caption), false) = (text, *media == MediaKind::Audio) {
                object["caption"] = json!(caption);
            }
            if let (Some(name), MediaKind::Document) = (title, media) {
                object["filename"] = json!(name);
            }
            body["type"] = json!(media.as_str());
            body[media.as_str()] = object;
        }
        Content::Select { text, options } => {
            let buttons: Vec<Value> = options
                .iter()
                .map(|o| json!({"type": "reply", "reply": {"id": o.payload, "title": o.title}}))
                .collect();
            body["type"] = json!("interactive");
            body["interactive"] = json!({"type": "button", "body": {"text": text}, "action": {"buttons": buttons}});
        }
        Content::Template { template } => {
            body["type"] = json!("template");
            body["template"] = template.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Choice;

    #[test]
    fn select_becomes_reply_buttons() {
        let mut body = json!({});
        let options = vec![Choice { title: "Sim".into(), payload: "yes".into() }];
        fill(&mut body, &Content::Select { text: "Quer?".into(), options });
        assert_eq!(
            body,
            json!({"type":"interactive","interactive":{"type":"button","body":{"text":"Quer?"},
                "action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Sim"}}]}}})
        );
    }
}
