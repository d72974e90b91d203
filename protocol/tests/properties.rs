//! Property tests: what the protocol types write, they read back unchanged, for generated
//! values well beyond the fixtures (any Unicode in ids and names, any JSON resource).

use lime_protocol::{Command, Envelope, LimeUri, Method, Node};
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

proptest! {
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
