//! Round trips of real envelopes through `lime_protocol::Envelope`, kind detection, and the
//! errors bad input must produce (never a panic).
//!
//! Fixtures live in the workspace's `tests/fixtures/` (`seed000`: the BLiP Active Campaign API
//! examples; `lime`: the envelopes of `lime.md`). Every `*.json` there is picked up.

use std::fs;
use std::path::{Path, PathBuf};

use lime_protocol::{Command, Envelope, EnvelopeError, Method, Reason};
use serde_json::{json, Value};

const SEED000_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/seed000");
const LIME_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/lime");

/// Every `*.json` file in `dir`, sorted, so that a new fixture is tested without editing this file.
fn json_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read fixture directory {dir}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The kind lime.md assigns to a JSON object, decided from its keys alone (independently of the
/// crate): `content` → message, `event` → notification, `method` → command, `state` → session.
fn kind_by_keys(value: &Value) -> &'static str {
    let map = value.as_object().expect("fixture is a JSON object");
    if map.contains_key("content") {
        "message"
    } else if map.contains_key("event") {
        "notification"
    } else if map.contains_key("method") {
        "command"
    } else if map.contains_key("state") {
        "session"
    } else {
        panic!("fixture has none of content/event/method/state: {value}")
    }
}

fn kind_of(envelope: &Envelope) -> &'static str {
    match envelope {
        Envelope::Message(_) => "message",
        Envelope::Notification(_) => "notification",
        Envelope::Command(_) => "command",
        Envelope::Session(_) => "session",
    }
}

/// Parses `text`, checks the kind against the keys and that both `to_json` and `Serialize`
/// give back a JSON value equal to the input. Returns the envelope.
fn assert_lossless(name: &str, text: &str) -> Envelope {
    let input: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: fixture is not JSON: {e}"));
    let envelope = Envelope::parse(text).unwrap_or_else(|e| panic!("{name}: does not parse: {e}"));
    assert_eq!(kind_of(&envelope), kind_by_keys(&input), "{name}: wrong kind");

    let back: Value = serde_json::from_str(&envelope.to_json()).expect("to_json emits JSON");
    assert_eq!(back, input, "{name}: to_json is not lossless");
    let via_serde = serde_json::to_value(&envelope).expect("envelope serialises");
    assert_eq!(via_serde, input, "{name}: Serialize is not lossless");

    // A second pass is stable too.
    let again = Envelope::parse(&envelope.to_json()).unwrap_or_else(|e| panic!("{name}: re-parse: {e}"));
    assert_eq!(again, envelope, "{name}: re-parsed envelope differs");
    envelope
}

fn check_directory(dir: &str, expected_at_least: usize) {
    let files = json_files(dir);
    assert!(
        files.len() >= expected_at_least,
        "{dir}: expected at least {expected_at_least} fixtures, found {}",
        files.len()
    );
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_lossless(&name, &read(&path));
    }
}

fn parse_err(text: &str) -> EnvelopeError {
    match Envelope::parse(text) {
        Ok(e) => panic!("expected an error for {text:.80}, got {e:?}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures: kind and lossless round trip
// ---------------------------------------------------------------------------------------------

#[test]
fn every_seed000_fixture_parses_as_its_kind_and_round_trips_losslessly() {
    check_directory(SEED000_DIR, 15);
}

#[test]
fn every_lime_fixture_parses_as_its_kind_and_round_trips_losslessly() {
    check_directory(LIME_DIR, 14);
}

#[test]
fn fixtures_cover_all_four_kinds() {
    let mut kinds: Vec<&str> = json_files(SEED000_DIR)
        .into_iter()
        .chain(json_files(LIME_DIR))
        .map(|p| kind_by_keys(&serde_json::from_str(&read(&p)).unwrap()))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds, ["command", "message", "notification", "session"]);
}

#[test]
fn unknown_keys_nested_objects_numbers_and_booleans_survive_inside_resource_and_content() {
    let command = json!({
        "id": "c1",
        "to": "postmaster@activecampaign.msging.net",
        "method": "set",
        "uri": "/campaign/full",
        "type": "application/vnd.iris.activecampaign.full-campaign+json",
        "resource": {
            "notAField": {"deeper": {"deepest": [1, -2, 3.25, 1e300, 18446744073709551615u64, -9223372036854775808i64]}},
            "flag": true,
            "off": false,
            "nothing": null,
            "empty": {},
            "list": [],
            "unicode": "João ✓ \u{1F600} \"quoted\" \\ back\nslash",
            "zero": 0,
            "float": 0.1
        }
    });
    assert_lossless("synthetic command", &command.to_string());

    let message = json!({
        "id": "m1",
        "to": "5531998761234@wa.gw.msging.net",
        "type": "application/vnd.custom+json",
        "content": {"x-unknown": {"a": [true, false, null, {"b": 2.5}]}, "n": -17}
    });
    assert_lossless("synthetic message", &message.to_string());

    // Content that is a bare JSON value of each type.
    for content in [json!("text"), json!(42), json!(true), json!([1, "two"]), json!(null)] {
        let m = json!({"id": "m2", "type": "text/plain", "content": content});
        assert_lossless("bare content", &m.to_string());
    }

    // Session authentication keeps keys the crate does not know.
    let session = json!({"id": "s", "state": "authenticating", "scheme": "key",
        "authentication": {"key": "c2VjcmV0", "scheme": "key", "extra": {"n": 1}}});
    assert_lossless("session authentication", &session.to_string());
}

// ---------------------------------------------------------------------------------------------
// Kind detection order
// ---------------------------------------------------------------------------------------------

#[test]
fn content_wins_over_method_so_the_envelope_is_a_message() {
    let e = Envelope::parse(r#"{"id":"1","method":"get","content":"hi","type":"text/plain"}"#).unwrap();
    assert!(matches!(e, Envelope::Message(_)), "{e:?}");
}

#[test]
fn event_wins_over_method_so_the_envelope_is_a_notification() {
    let e = Envelope::parse(r#"{"id":"1","method":"get","event":"received"}"#).unwrap();
    assert!(matches!(e, Envelope::Notification(_)), "{e:?}");
}

#[test]
fn method_wins_over_state_so_the_envelope_is_a_command() {
    let e = Envelope::parse(r#"{"id":"1","state":"new","method":"get","uri":"/ping"}"#).unwrap();
    assert!(matches!(e, Envelope::Command(_)), "{e:?}");
}

#[test]
fn content_wins_over_event_method_and_state_together() {
    let e = Envelope::parse(r#"{"state":"new","method":"get","event":"received","content":{}}"#).unwrap();
    assert!(matches!(e, Envelope::Message(_)), "{e:?}");
}

#[test]
fn null_content_still_makes_a_message_and_round_trips() {
    let text = r#"{"id":"1","type":"text/plain","content":null}"#;
    let e = assert_lossless("null content", text);
    match e {
        Envelope::Message(m) => assert_eq!(m.content, Value::Null),
        other => panic!("expected a message, got {other:?}"),
    }
    // Even with a method next to it.
    let e = Envelope::parse(r#"{"id":"1","method":"get","content":null}"#).unwrap();
    assert!(matches!(e, Envelope::Message(_)), "{e:?}");
}

/// Key *presence* decides the kind (lime.md; the crate's own `present` doc and `explain` agree),
/// so a `null` event/method/state must not hand the envelope to the next kind in the order.
/// Compare `{"event":5,"method":"get"}`, which is reported as an invalid notification.
#[test]
fn a_null_event_method_or_state_key_still_decides_the_kind() {
    let not_command = Envelope::parse(r#"{"id":"n1","event":null,"method":"get","uri":"/ping"}"#);
    assert!(
        matches!(
            not_command,
            Ok(Envelope::Notification(_)) | Err(EnvelopeError::InvalidField { kind: "notification", .. })
        ),
        "event key present: expected a notification (or an invalid notification), got {not_command:?}"
    );
    let not_session = Envelope::parse(r#"{"id":"c1","method":null,"state":"new"}"#);
    assert!(
        matches!(not_session, Ok(Envelope::Command(_)) | Err(EnvelopeError::InvalidField { kind: "command", .. })),
        "method key present: expected a command (or an invalid command), got {not_session:?}"
    );
    let not_unknown = Envelope::parse(r#"{"id":"s1","state":null}"#);
    assert!(
        matches!(not_unknown, Ok(Envelope::Session(_)) | Err(EnvelopeError::InvalidField { kind: "session", .. })),
        "state key present: expected a session (or an invalid session), got {not_unknown:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_json_is_a_json_error() {
    for text in ["", "{", r#"{"id":"1","method":"get""#, r#"{"id":"1",}"#, "{'id':'1'}", "nul", r#"{"a":1} x"#] {
        assert!(matches!(parse_err(text), EnvelopeError::Json(_)), "{text:?}");
    }
}

#[test]
fn json_that_is_not_an_object_is_not_an_object_error() {
    for text in ["[1]", "\"x\"", "5", "null", "true", "[]"] {
        assert!(matches!(parse_err(text), EnvelopeError::NotAnObject), "{text:?}: {:?}", parse_err(text));
    }
}

#[test]
fn objects_without_a_kind_key_are_unknown_kind() {
    for text in ["{}", r#"{"id":"1"}"#, r#"{"id":"1","from":"a@b/c","uri":"/x","resource":{}}"#] {
        assert!(matches!(parse_err(text), EnvelopeError::UnknownKind), "{text:?}: {:?}", parse_err(text));
    }
}

#[test]
fn a_numeric_uri_is_an_invalid_field_naming_the_id_and_uri() {
    match parse_err(r#"{"id":"a","method":"get","uri":5}"#) {
        EnvelopeError::InvalidField { id, kind, method, field, .. } => {
            assert_eq!(id.as_deref(), Some("a"));
            assert_eq!(kind, "command");
            assert_eq!(method.as_deref(), Some("get"));
            assert_eq!(field, "uri");
        }
        other => panic!("expected InvalidField, got {other:?}"),
    }
}

#[test]
fn a_numeric_from_is_an_invalid_field_naming_from() {
    match parse_err(r#"{"id":"a","method":"get","from":7}"#) {
        EnvelopeError::InvalidField { id, field, .. } => {
            assert_eq!(id.as_deref(), Some("a"));
            assert_eq!(field, "from");
        }
        other => panic!("expected InvalidField, got {other:?}"),
    }
}

#[test]
fn invalid_fields_of_other_kinds_are_reported_with_their_kind() {
    match parse_err(r#"{"id":"s","state":"authenticating","schemeOptions":"key"}"#) {
        EnvelopeError::InvalidField { id, kind, field, .. } => {
            assert_eq!((id.as_deref(), kind, field.as_str()), (Some("s"), "session", "schemeOptions"));
        }
        other => panic!("expected InvalidField, got {other:?}"),
    }
    match parse_err(r#"{"id":"n","event":"failed","reason":{"code":"x"}}"#) {
        EnvelopeError::InvalidField { id, kind, field, .. } => {
            assert_eq!((id.as_deref(), kind, field.as_str()), (Some("n"), "notification", "reason"));
        }
        other => panic!("expected InvalidField, got {other:?}"),
    }
    match parse_err(r#"{"id":"m","content":"x","metadata":[]}"#) {
        EnvelopeError::InvalidField { id, kind, field, .. } => {
            assert_eq!((id.as_deref(), kind, field.as_str()), (Some("m"), "message", "metadata"));
        }
        other => panic!("expected InvalidField, got {other:?}"),
    }
}

#[test]
fn ten_thousand_deep_nesting_in_resource_is_an_error_not_a_crash() {
    const DEPTH: usize = 10_000;
    let arrays =
        format!(r#"{{"id":"a","method":"set","uri":"/x","resource":{}{}}}"#, "[".repeat(DEPTH), "]".repeat(DEPTH));
    let objects = format!(
        r#"{{"id":"a","method":"set","uri":"/x","resource":{}1{}}}"#,
        r#"{"k":"#.repeat(DEPTH),
        "}".repeat(DEPTH)
    );
    // Unbalanced too: the parser must stop on depth before it notices the missing closers.
    let unclosed = format!(r#"{{"id":"a","method":"set","resource":{}"#, "[".repeat(DEPTH));
    for text in [arrays, objects, unclosed] {
        assert!(matches!(parse_err(&text), EnvelopeError::Json(_)));
        assert!(matches!(Envelope::parse_slice(text.as_bytes()), Err(EnvelopeError::Json(_))));
    }
}

#[test]
fn a_number_out_of_range_in_resource_is_an_error() {
    for number in ["1e999", "-1e999", "1.5e400"] {
        let text = format!(r#"{{"id":"a","method":"set","uri":"/x","resource":{{"n":{number}}}}}"#);
        assert!(matches!(parse_err(&text), EnvelopeError::Json(_)), "{number}");
    }
    let text = r#"{"id":"a","content":[1e999]}"#;
    assert!(matches!(parse_err(text), EnvelopeError::Json(_)));
}

#[test]
fn invalid_utf8_bytes_are_a_json_error() {
    let inputs: [&[u8]; 4] = [
        b"{\"id\":\"\xff\",\"method\":\"get\",\"uri\":\"/ping\"}",
        b"{\"id\":\"1\",\"content\":\"caf\xc3\"}",
        b"\xfe\xff",
        b"{\"id\":\"1\",\"method\":\"get\"}\xff",
    ];
    for bytes in inputs {
        assert!(matches!(Envelope::parse_slice(bytes), Err(EnvelopeError::Json(_))), "{bytes:?}");
    }
}

#[test]
fn parse_slice_reads_valid_utf8_like_parse() {
    for path in json_files(LIME_DIR) {
        let text = read(&path);
        assert_eq!(
            Envelope::parse_slice(text.as_bytes()).unwrap(),
            Envelope::parse(&text).unwrap(),
            "{}",
            path.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Responses carry no key of another kind
// ---------------------------------------------------------------------------------------------

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().expect("object").keys().map(String::as_str).collect()
}

#[test]
fn the_success_response_serialises_with_no_key_of_another_kind() {
    let text = read(&Path::new(LIME_DIR).join("command-response-success.json"));
    let envelope = Envelope::parse(&text).unwrap();
    let out: Value = serde_json::from_str(&envelope.to_json()).unwrap();
    let keys = keys(&out);
    for foreign in ["state", "content", "event"] {
        assert!(!keys.contains(&foreign), "response carries '{foreign}': {out}");
    }
    assert_eq!(out["method"], "set");
    assert_eq!(out["status"], "success");
    assert!(out["resource"].is_object());
    assert_eq!(out["metadata"]["#command.uri"], "lime://mybot@msging.net/campaign/full");
}

#[test]
fn a_failure_built_with_command_failure_has_no_type_and_no_resource() {
    let mut request = Command::request("req-1", Method::Set, "/campaign/full");
    request.media_type = Some("application/vnd.iris.activecampaign.full-campaign+json".into());
    request.resource = Some(json!({"campaign": {"name": "x"}}));
    let failure = request.failure(Reason::new(67, "The requested resource was not found"));

    let out = serde_json::to_value(Envelope::from(failure.clone())).unwrap();
    let keys = keys(&out);
    for absent in ["type", "resource", "state", "content", "event", "uri"] {
        assert!(!keys.contains(&absent), "failure carries '{absent}': {out}");
    }
    assert_eq!(
        out,
        json!({
            "id": "req-1",
            "method": "set",
            "status": "failure",
            "reason": {"code": 67, "description": "The requested resource was not found"}
        })
    );
    // And it reads back as the same command.
    assert_eq!(Envelope::parse(&out.to_string()).unwrap(), Envelope::Command(failure));
}

#[test]
fn the_failure_response_of_lime_md_matches_what_command_failure_builds() {
    let text = read(&Path::new(LIME_DIR).join("command-response-failure.json"));
    let Envelope::Command(parsed) = Envelope::parse(&text).unwrap() else { panic!("not a command") };
    let mut built = Command::request("9b8c7d6e-5f4a-4b3c-8d2e-1f0a9b8c7d6e", Method::Get, "/campaigns/nope/summaries")
        .failure(Reason::new(67, "The requested resource was not found"));
    built.from = parsed.from.clone();
    built.to = parsed.to.clone();
    assert_eq!(built, parsed);
    assert!(parsed.is_response());
    assert!(parsed.media_type.is_none() && parsed.resource.is_none());
}
