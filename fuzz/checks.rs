//! What each fuzz target asserts about one input, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/*.rs`) and the stable replay of the committed corpora
//! (`tests/fuzz_corpus.rs`), so that CI checks exactly what the fuzzer checked.
//!
//! Every check must hold for any bytes: no panic, and what the gateway writes it reads back.

use std::sync::OnceLock;

use irisgate::catalog::{CustomFieldDef, FieldType};
use irisgate::contact::Contact;
use irisgate::filter::Filters;
use irisgate::phone::PhoneNormalizer;
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

fn normalizer() -> &'static PhoneNormalizer {
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
fn custom_fields() -> &'static [CustomFieldDef] {
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
