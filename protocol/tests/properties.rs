//! Property tests: what the protocol types write, they read back unchanged, for generated
//! values well beyond the fixtures (any Unicode in ids and names, any JSON resource).

use lime_protocol::{Command, Envelope, Event, LimeUri, MediaType, Message, Method, Node, Notification, Reason};
use proptest::prelude::*;
use serde_json::Value;

/// Names and domains as clients write them: no `@` or `/`, which separate a node's parts.
fn part() -> impl Strategy<Value = String> {
    "[^@/]{1,12}"
}

fn node() -> impl Strategy<Value = Node> {
    (proptest::option::of(part()), part(), proptest::option::of(".{0,12}")).prop_map(|(name, domain, instance)| {
        let text = match &name {
            Some(n) => format!("{n}@{domain}"),
            None => domain.clone(),
        };
        let text = match &instance {
            Some(i) => format!("{text}/{i}"),
            None => text,
        };
        text.parse().unwrap_or_else(|n: std::convert::Infallible| match n {})
    })
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,8}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![Just(Method::Get), Just(Method::Set), Just(Method::Delete), Just(Method::Observe)]
}

/// An RFC 2045 token without `+` (which separates a structured-syntax suffix).
const TOKEN: &str = "[A-Za-z0-9!#$%&'*.^_`|~-]{1,10}";

/// A media type's text from its parts: `kind/subtype[+suffix]` and parameters whose values
/// are tokens or quoted strings (no quote, backslash, `;` or control character inside).
fn media_type() -> impl Strategy<Value = (String, String, Option<String>, Vec<(String, String)>)> {
    let value = prop_oneof![TOKEN.prop_map(String::from), "[^\"\\\\;\\p{Cc}]{0,12}"];
    (TOKEN, TOKEN, proptest::option::of(TOKEN), proptest::collection::vec((TOKEN, value), 0..4))
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::Accepted),
        Just(Event::Validated),
        Just(Event::Authorized),
        Just(Event::Dispatched),
        Just(Event::Received),
        Just(Event::Consumed),
        Just(Event::Failed),
    ]
}

proptest! {
    #[test]
    fn media_types_read_back_from_their_text((kind, subtype, suffix, parameters) in media_type()) {
        let mut text = format!("{kind}/{subtype}");
        if let Some(s) = &suffix {
            text = format!("{text}+{s}");
        }
        for (k, v) in &parameters {
            text = format!("{text}; {k}=\"{v}\"");
        }
        let media: MediaType = text.parse().unwrap();
        prop_assert_eq!((&media.kind, &media.subtype, &media.suffix, &media.parameters), (&kind, &subtype, &suffix, &parameters));
        prop_assert_eq!(media.to_string().parse::<MediaType>().ok(), Some(media));
    }

    #[test]
    fn absolute_uris_read_back_from_their_text(
        name in "[^@/?#%\\s\\p{Cc}]{1,10}", domain in "[^@/?#%\\s\\p{Cc}]{1,10}",
        path in "(/[^/?#\\s\\p{Cc}%]{0,8}){1,4}", query in proptest::option::of("[^#\\s\\p{Cc}]{0,16}"),
    ) {
        let text = format!("lime://{name}@{domain}{path}{}", query.as_ref().map_or(String::new(), |q| format!("?{q}")));
        let uri: LimeUri = text.parse().unwrap();
        prop_assert_eq!(uri.to_string(), text.clone());
        prop_assert_eq!(uri.to_string().parse::<LimeUri>().ok(), Some(uri));
    }

    #[test]
    fn messages_read_back_from_their_json(
        id in proptest::option::of(".{1,40}"), to in proptest::option::of(node()), from in proptest::option::of(node()),
        text in ".{0,40}", resource in json(), is_json in any::<bool>(),
    ) {
        let (media, content) =
            if is_json { ("application/json", resource) } else { ("text/plain", Value::String(text)) };
        let envelope = Envelope::Message(Message {
            id, from, to, pp: None, media_type: Some(media.into()), content, metadata: None,
        });
        let json = envelope.to_json();
        prop_assert_eq!(Envelope::parse(&json).ok(), Some(envelope));
    }

    #[test]
    fn notifications_read_back_from_their_json(
        id in ".{1,40}", to in proptest::option::of(node()), event in event(),
        reason in proptest::option::of((any::<i64>(), proptest::option::of(".{0,40}"))),
    ) {
        let envelope = Envelope::Notification(Notification {
            id: Some(id), from: None, to, pp: None, event,
            reason: reason.map(|(code, description)| Reason { code, description }), metadata: None,
        });
        let json = envelope.to_json();
        prop_assert_eq!(Envelope::parse(&json).ok(), Some(envelope));
    }


    #[test]
    fn nodes_read_back_from_their_text(n in node()) {
        prop_assert_eq!(n.to_string().parse::<Node>().ok(), Some(n));
    }

    #[test]
    fn relative_uris_read_back_from_their_text(path in "(/[^/?#\\s\\p{Cc}%]{0,8}){1,4}", query in proptest::option::of("[^#\\s\\p{Cc}]{0,16}")) {
        let text = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
        let uri: LimeUri = text.parse().unwrap();
        prop_assert_eq!(uri.to_string(), text.clone());
        prop_assert_eq!(text.parse::<LimeUri>().ok(), Some(uri));
    }

    #[test]
    fn commands_read_back_from_their_json(
        id in ".{1,40}", method in method(), uri in "/[a-z/]{0,20}", to in node(),
        media in proptest::option::of("application/[a-z.+]{1,20}"), resource in proptest::option::of(json()),
    ) {
        let mut command = Command::request(id, method, uri);
        command.to = Some(to);
        command.media_type = media;
        command.resource = resource;
        let envelope = Envelope::Command(command);
        let json = envelope.to_json();
        let again = Envelope::parse(&json).unwrap();
        prop_assert_eq!(again, envelope);
    }
}
