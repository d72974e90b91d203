//! The JSON body of one event, rendered from its outbox row (so a replay sends the same bytes
//! but for the signature's time).

use serde_json::{json, Value};

use super::outbox::{Event, EventKind};
use crate::datetime::iso;
use crate::reasons::Reasons;

/// The domain of recipients' identities (`digits@wa.gw.msging.net`), as the LIME face names them.
const IDENTITY_DOMAIN: &str = "wa.gw.msging.net";

pub fn render(event: &Event, reasons: &Reasons) -> Vec<u8> {
    let at = iso(event.at);
    let data = match event.kind {
        EventKind::RecipientStatus => {
            let (code, description): (Value, Value) = if event.reason == 0 {
                (Value::Null, Value::Null)
            } else {
                (json!(event.reason), json!(reasons.describe(event.reason)))
            };
            json!({
                "campaign_id": event.campaign,
                "recipient": format!("+{}", event.phone),
                "identity": format!("{}@{IDENTITY_DOMAIN}", event.phone),
                "status": event.status,
                "reason_code": code,
                "reason_description": description,
                "at": at,
            })
        }
        EventKind::CampaignStatus => json!({"campaign_id": event.campaign, "status": event.status, "at": at}),
    };
    let body = json!({"id": event.id, "type": event.kind.name(), "created_at": at, "data": data});
    serde_json::to_vec(&body).expect("plain data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::RecipientStatus;

    #[test]
    fn a_failed_recipient_carries_its_reason() {
        let c = uuid::Uuid::nil();
        let e = Event::recipient(c, 3, 5531998765432, RecipientStatus::Failed, 1001, 1_700_000_000_000).unwrap();
        let v: Value = serde_json::from_slice(&render(&e, &Reasons::new())).unwrap();
        assert_eq!(v["type"], "recipient.status");
        assert_eq!(v["id"], e.id.to_string());
        assert_eq!(v["data"]["recipient"], "+5531998765432");
        assert_eq!(v["data"]["identity"], "5531998765432@wa.gw.msging.net");
        assert_eq!(v["data"]["status"], "FAILED");
        assert_eq!(v["data"]["reason_code"], 1001);
        assert!(v["data"]["reason_description"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(v["data"]["at"], "2023-11-14T22:13:20.000Z");
    }
}
