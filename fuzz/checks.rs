//! What each fuzz target asserts about one input, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/*.rs`) and the stable replay of the committed corpora
//! (`tests/fuzz_corpus.rs`), so that CI checks exactly what the fuzzer checked.
//!
//! Every check must hold for any bytes: no panic, and what the gateway writes it reads back.

use std::sync::OnceLock;

use irisgate::campaign::{Campaign, ChannelType, RecipientStatus};
use irisgate::catalog::{ChannelDef, CustomFieldDef, FieldType, TagDef, TemplateDef, TemplateStatus};
use irisgate::contact::Contact;
use irisgate::filter::Filters;
use irisgate::phone::PhoneNormalizer;
use irisgate::rest::campaign_input::{self, CampaignInput, Known};
use irisgate::rest::contacts::{self, ContactInput};
use irisgate::spec::RestSpec;
use irisgate::webhooks::{rbm, whatsapp};
use lime_protocol::{Envelope, LimeUri, MediaType, Node};

/// One target's assertion about one input; it panics when the input breaks it.
pub type Check = fn(&[u8]);

/// The targets by name: the corpus directory `fuzz/corpus/<name>/` belongs to its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("envelope", envelope),
    ("uri", uri),
    ("node", node),
    ("media_type", media_type),
    ("csv_audience", csv_audience),
    ("phone", phone),
    ("filter", filter),
    ("campaign_body", campaign_body),
    ("contact_body", contact_body),
    ("whatsapp_webhook", whatsapp_webhook),
    ("rbm_webhook", rbm_webhook),
];

/// Any bytes as an envelope: an error or an envelope whose JSON parses to the same JSON.
pub fn envelope(data: &[u8]) {
    if let Ok(envelope) = Envelope::parse_slice(data) {
        let json = envelope.to_json();
        let again = Envelope::parse(&json).unwrap_or_else(|e| panic!("{json} does not read back: {e}"));
        assert_eq!(again.to_json(), json);
    }
}

/// A URI: an error, or one whose decoded views and absolute form never panic and whose
/// text reads back to the same URI.
pub fn uri(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(uri) = text.parse::<LimeUri>() else { return };
    let _ = uri.segments();
    let _ = uri.query_pairs();
    let owner = "bot@msging.net".parse().unwrap_or_else(|n: std::convert::Infallible| match n {});
    let _ = uri.to_absolute(&owner);
    if uri.authority.is_none() {
        assert_eq!(uri.to_string().parse::<LimeUri>().ok(), Some(uri), "{text:?}");
    }
}

/// A node: always parses, and its text reads back to the same node.
pub fn node(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(node) = text.parse::<Node>();
    assert_eq!(node.to_string().parse::<Node>().ok(), Some(node), "{text:?}");
}

/// A media type: an error or one whose text reads back to the same type.
pub fn media_type(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(media) = text.parse::<MediaType>() else { return };
    let _ = media.is_json();
    assert_eq!(media.to_string().parse::<MediaType>().ok(), Some(media), "{text:?}");
}

pub fn normalizer() -> &'static PhoneNormalizer {
    static BR: OnceLock<PhoneNormalizer> = OnceLock::new();
    BR.get_or_init(|| PhoneNormalizer::new("55").expect("55 is a country code"))
}

/// A CSV audience upload: an error naming the header, or recipients each with its line.
pub fn csv_audience(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(audience) = irisgate::audience::csv(text, normalizer()) {
        assert_eq!(audience.recipients.len(), audience.lines.len());
    }
}

/// A recipient as written: invalid, or a number whose E.164 form normalises to itself.
pub fn phone(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(phone) = normalizer().normalize(text) {
        assert_eq!(normalizer().normalize(&phone.to_string()).ok(), Some(phone), "{text:?} → {phone}");
    }
}

/// The custom fields a REST workspace might define, one of each type.
pub fn custom_fields() -> &'static [CustomFieldDef] {
    static FIELDS: OnceLock<Vec<CustomFieldDef>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        [
            ("plan", FieldType::Text),
            ("score", FieldType::Number),
            ("since", FieldType::Date),
            ("vip", FieldType::Boolean),
        ]
        .into_iter()
        .map(|(key, field_type)| CustomFieldDef {
            id: key.to_owned(),
            key: key.to_owned(),
            name: key.to_owned(),
            field_type,
            is_required: false,
            is_visible: true,
            description: None,
            created: 0,
        })
        .collect()
    })
}

/// REST audience filters as a client sends them: a JSON error, a compile error naming the
/// problem, or filters that match or miss any contact without panicking.
pub fn filter(data: &[u8]) {
    let Ok(filters) = serde_json::from_slice::<Filters>(data) else { return };
    let Ok(compiled) = filters.compile(custom_fields()) else { return };
    let mut contact = Contact { id: "c".into(), phone: Some(5531998761234), ..Contact::default() };
    let _ = compiled.matches(&contact);
    contact.extras.insert("score".into(), serde_json::json!(7));
    contact.extras.insert("since".into(), serde_json::json!("2026-01-02T03:04:05Z"));
    contact.extras.insert("plan".into(), serde_json::json!("gold"));
    let _ = compiled.matches(&contact);
}

/// "Now" of the body checks: a `scheduled_at` must lie after it.
pub const NOW: i64 = 1_780_000_000_000;

/// The workspace a REST body is checked against: one WhatsApp channel, the custom fields
/// above, and templates of each kind a body may name (approved with two parameters, pending,
/// approved on another channel).
pub fn known() -> Known<'static> {
    static CHANNELS: OnceLock<Vec<ChannelDef>> = OnceLock::new();
    static TEMPLATES: OnceLock<Vec<TemplateDef>> = OnceLock::new();
    let channels = CHANNELS.get_or_init(|| {
        vec![ChannelDef {
            id: "wa".into(),
            channel_type: ChannelType::WhatsApp,
            provider: "simulator".into(),
            default: true,
            name: "wa".into(),
            delivered_after_ms: 0,
            read_after_ms: 0,
            max_per_second: None,
            ledger: None,
            created: 0,
        }]
    });
    let templates = TEMPLATES.get_or_init(|| {
        let template = |id: &str, channel: &str, status| TemplateDef {
            id: id.into(),
            channel_id: channel.into(),
            name: id.into(),
            language: "pt_BR".into(),
            status,
            category: None,
            header: None,
            body: "Oi {{1}}, {{2}}".into(),
            parameters: 2,
            header_type: None,
            buttons: None,
            cards: 0,
            card_body: None,
            parameter_format: Default::default(),
            synced: false,
            created: 0,
        };
        vec![
            template("ok", "wa", TemplateStatus::Approved),
            template("pending", "wa", TemplateStatus::Pending),
            template("elsewhere", "rcs", TemplateStatus::Approved),
        ]
    });
    Known { channels, custom: custom_fields(), templates }
}

/// An empty REST draft, as `POST /api/v1/campaigns` starts from.
pub fn rest_draft() -> Campaign {
    static DRAFT: OnceLock<Campaign> = OnceLock::new();
    DRAFT
        .get_or_init(|| Campaign {
            rate_limit_per_minute: Some(300),
            rest: Some(serde_json::json!({})),
            ..Campaign::draft("t", None, "bot@msging.net".into(), 0)
        })
        .clone()
}

/// A REST campaign body (create): refused with a message, or a campaign that an empty update
/// leaves unchanged, and that what it stores, sent back as a body, rebuilds exactly (a client
/// that writes back what it read changes nothing).
pub fn campaign_body(data: &[u8]) {
    let Ok(input) = serde_json::from_slice::<CampaignInput>(data) else { return };
    let Ok(campaign) = campaign_input::compose(rest_draft(), input, NOW, known()) else { return };
    let again = campaign_input::compose(campaign.clone(), CampaignInput::default(), NOW, known());
    assert_eq!(again.as_ref().ok(), Some(&campaign), "an empty update changed or refused it: {again:?}");
    let spec = RestSpec::of(&campaign).expect("the stored REST spec reads back");
    let echoed = CampaignInput {
        name: Some(campaign.name.clone()),
        description: spec.description,
        message_type: spec.message_type,
        content: spec.content,
        template_id: spec.template_id,
        channel_id: Some(campaign.channel_id.clone()),
        filters: spec.filters,
        segment_id: spec.segment_id.map(|id| id.to_string()),
        metadata: spec.metadata,
        rate_limit_per_minute: campaign.rate_limit_per_minute,
        scheduled_at: campaign.scheduled.map(|at| irisgate::datetime::iso(at).expect("a stored time has a text")),
        allow_open_conversation: Some(campaign.allow_open_ticket),
        timezone: None,
        send_window: Some(campaign.send_window.clone().map(irisgate::window::WindowSpec::from)),
    };
    let rebuilt = campaign_input::compose(rest_draft(), echoed, NOW, known());
    assert_eq!(rebuilt.as_ref().ok(), Some(&campaign), "written back, it became {rebuilt:?}");
}

/// The tags of the REST workspace.
pub fn tags() -> &'static [TagDef] {
    static TAGS: OnceLock<Vec<TagDef>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ["vip", "new"].map(|id| TagDef { id: id.into(), name: id.into(), color: None, created: 0 }).into()
    })
}

/// A REST contact body (create): refused with a message, or a contact that the same
/// workspace rebuilds exactly from what it stores sent back as a body (every normalisation
/// is idempotent: trimmed names, E.164 phones, typed custom fields, ISO-8601 times).
pub fn contact_body(data: &[u8]) {
    let Ok(input) = serde_json::from_slice::<ContactInput>(data) else { return };
    let fresh = Contact { id: "c".into(), created: 1, ..Contact::default() };
    let Ok(contact) = contacts::compose(fresh.clone(), input, normalizer(), tags(), custom_fields(), true) else {
        return;
    };
    let echoed = ContactInput {
        name: contact.name.clone(),
        email: contact.email.clone(),
        phone: contact.phone.map(|p| format!("+{p}")),
        tags: Some(contact.tags.clone()),
        custom_fields: Some(contact.extras.clone()),
        last_interaction_at: (contact.last_interaction_at != 0)
            .then(|| irisgate::datetime::iso(contact.last_interaction_at).expect("a stored time has a text")),
        has_open_conversation: Some(contact.has_open_conversation),
    };
    let rebuilt = contacts::compose(fresh, echoed, normalizer(), tags(), custom_fields(), true);
    assert_eq!(rebuilt.as_ref().ok(), Some(&contact), "written back, it became {rebuilt:?}");
}

/// A (verified) WhatsApp webhook body: not a payload, or one receipt or one `sent` per status
/// of each `messages` change, a failure always with a reason, other statuses without.
pub fn whatsapp_webhook(data: &[u8]) {
    let Some(changes) = whatsapp::parse(data, NOW) else { return };
    // serde skips the fields it ignores without checking their UTF-8: read the body as the
    // typed parse saw it (invalid bytes can only sit in strings it ignored).
    let json: serde_json::Value =
        serde_json::from_str(&String::from_utf8_lossy(data)).expect("a parsed payload is JSON");
    let statuses: Vec<usize> = json["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["changes"].as_array().into_iter().flatten())
        .filter(|c| c["field"] == "messages")
        .map(|c| c["value"]["statuses"].as_array().map_or(0, Vec::len))
        .collect();
    let counted: Vec<usize> = changes.iter().map(|c| c.receipts.len() + c.sent).collect();
    assert_eq!(counted, statuses, "one outcome per status of each messages change");
    for r in changes.iter().flat_map(|c| &c.receipts) {
        assert_eq!(r.status == RecipientStatus::Failed, r.reason != 0, "{r:?}");
        assert!(r.at == NOW || r.at % 1000 == 0, "a timestamp is in seconds: {r:?}");
    }
}

/// An RBM webhook body and (the same bytes as) a decoded event: neither panics; a request
/// carries exactly the body's `message.data` or handshake fields; a receipt names its
/// message as the channel returned it (a UUID in hyphenated lower case).
pub fn rbm_webhook(data: &[u8]) {
    if let Some(request) = rbm::request(data) {
        let json: serde_json::Value =
            serde_json::from_str(&String::from_utf8_lossy(data)).expect("a request is JSON (ignored strings aside)");
        match request {
            rbm::Request::Event { data } => assert_eq!(json["message"]["data"], data),
            rbm::Request::Verify { token, secret } => {
                assert!(json["message"].is_null(), "an event is never taken for a handshake");
                assert_eq!((&json["clientToken"], &json["secret"]), (&token.into(), &secret.into()));
            }
        }
    }
    if let Some(rbm::Action::Receipt(r)) = rbm::action(data, NOW) {
        assert!(matches!(r.status, RecipientStatus::Received | RecipientStatus::Read), "{r:?}");
        assert_eq!(r.reason, 0);
        if let Ok(id) = uuid::Uuid::try_parse(&r.message_id) {
            assert_eq!(r.message_id, id.to_string(), "a UUID id in its canonical form");
        }
    }
}
