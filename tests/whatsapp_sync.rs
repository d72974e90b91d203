//! Template sync from the WhatsApp Business Account against the fake's paged
//! `message_templates`: at start-up, on `POST /api/v1/campaigns/channels/{id}/templates/sync`
//! (202), synced templates listed by REST and used by campaigns (64 at creation, 1003 at send
//! for one that is gone), a template that disappears marked DELETED.

mod support;

use serde_json::{json, Value};
use support::client::*;
use support::fake_whatsapp::{self as fake, FakeWhatsApp};
use support::whatsapp_seed as seed;
use support::{poll, Gateway, Rest, WAIT};

const MARIA: &str = "5531998761234";

async fn templates(rest: &Rest) -> Vec<Value> {
    rest.ok_get("/campaigns/templates?channel_id=wa").await.as_array().unwrap().clone()
}

fn named<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("{name} not in {list:?}"))
}

#[tokio::test]
async fn templates_are_synced_with_paging_used_by_campaigns_and_marked_deleted_when_gone() {
    let fake = FakeWhatsApp::start(seed::seed_templates()).await;
    fake.set_page_size(3);
    let extra = "[[tenants.channels]]\nid = \"rcs\"\ntype = \"google_rcs\"\n";
    let config = seed::config_text(&fake, &format!("waba_id = \"{}\"", fake::WABA_ID), extra);
    let gw = Gateway::start_with(irisgate::Config::parse(&config).unwrap()).await;
    let rest = Rest::new(&gw);
    let synced = poll(WAIT, || templates(&rest), |l| l.len() == 7).await.expect("seven templates synced at start-up");
    assert!(fake.template_pages() >= 3, "every page read: {}", fake.template_pages());
    let carousel = named(&synced, "carrossel_aulas");
    assert_eq!(
        (carousel["status"].as_str(), carousel["variables"].as_u64()),
        (Some("APPROVED"), Some(4)),
        "{carousel}"
    );
    assert_eq!(carousel["category"], "MARKETING");
    assert_eq!(named(&synced, "botao_url_dinamica")["variables"], 2, "image header and the URL suffix");

    // A campaign on a synced template: validated against it at creation, sent as it says.
    let mut c = Client::connect(&gw, Transport::Http).await;
    let image = |params: Value, keys: Value| {
        json!({"campaign": {"name": "synced", "campaignType": "Individual"},
               "audience": {"recipient": format!("+{MARIA}"), "messageParams": params},
               "message": {"messageTemplate": "promo_imagem", "messageParams": keys}})
    };
    c.full_fails(image(json!({"image": "https://a/b.jpg"}), json!(["image"])), 64).await;
    let id = id_of(&c.full(image(json!({"image": "https://a/b.jpg", "u": "Ana"}), json!(["image", "u"]))).await);
    c.wait_report(&id, "processed", |r| r["audienceCounts"]["processed"] == 1).await;
    assert_eq!(
        fake.accepted_to(MARIA)[0].body["template"]["components"][0]["parameters"][0]["image"]["link"],
        "https://a/b.jpg"
    );

    // Meta drops one and pauses another; a sync on request sees it.
    let mut now = seed::seed_templates();
    now.retain(|t| t.name != "promo_video");
    now.iter_mut().filter(|t| t.name == "promo_imagem").for_each(|t| t.status = "PAUSED".into());
    fake.set_templates(now);
    let r = rest.call("POST", "/campaigns/channels/wa/templates/sync", None).await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let after = poll(
        WAIT,
        || templates(&rest),
        |l| {
            l.iter().any(|t| t["name"] == "promo_video" && t["status"] == "DELETED")
                && l.iter().any(|t| t["name"] == "promo_imagem" && t["status"] == "PAUSED")
        },
    )
    .await
    .expect("DELETED and PAUSED after the requested sync");
    assert_eq!(after.len(), 7, "a deleted template stays listed, as DELETED");
    let gone = json!({"campaign": {"name": "gone", "campaignType": "Individual"},
        "audience": {"recipient": format!("+{MARIA}"), "messageParams": {"v": "https://a/v.mp4", "u": "Ana"}},
        "message": {"messageTemplate": "promo_video", "messageParams": ["v", "u"]}});
    // Accepted at creation (the template is known), refused at send: 1003.
    let id = id_of(&c.full(gone).await);
    let report = c.wait_report(&id, "failed", |r| r["status"] == "failed").await;
    assert_eq!(entry(&report, &format!("{MARIA}@wa.gw.msging.net"))["reasonCode"], 1003, "{report}");
    assert_eq!(fake.accepted_to(MARIA).len(), 1, "nothing sent on the deleted template");

    assert_eq!(rest.call("POST", "/campaigns/channels/nope/templates/sync", None).await.status, 404);
    assert_eq!(rest.call("POST", "/campaigns/channels/rcs/templates/sync", None).await.status, 400, "no template sync");
    let anonymous = Rest::with_key(&gw, None);
    assert_eq!(anonymous.call("POST", "/campaigns/channels/wa/templates/sync", None).await.status, 401);
    gw.stop().await;
}
