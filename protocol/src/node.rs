//! Node addresses: `name@domain/instance`, and identities (`name@domain`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `name@domain`: who someone is, without the connection (instance) part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    /// Part before `@`; absent for bare domains such as `msging.net`.
    pub name: Option<String>,
    pub domain: String,
}

/// `name@domain/instance`: an identity plus the instance (connection) that speaks for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    pub identity: Identity,
    pub instance: Option<String>,
}

impl Identity {
    pub fn new(name: impl Into<String>, domain: impl Into<String>) -> Self {
        Identity { name: Some(name.into()), domain: domain.into() }
    }

    /// The node of this identity on the given instance.
    pub fn with_instance(&self, instance: Option<&str>) -> Node {
        Node { identity: self.clone(), instance: instance.map(str::to_owned) }
    }

    /// Case-insensitive comparison, as LIME addresses are case-insensitive.
    pub fn eq_ignore_case(&self, other: &Identity) -> bool {
        self.domain.eq_ignore_ascii_case(&other.domain)
            && match (&self.name, &other.name) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            }
    }
}

impl Identity {
    /// Appends `name@domain` (what `Display` writes) without going through `fmt`.
    pub fn write_to(&self, out: &mut String) {
        if let Some(name) = &self.name {
            out.push_str(name);
            out.push('@');
        }
        out.push_str(&self.domain);
    }

    fn render(&self) -> String {
        let mut out = String::with_capacity(self.name.as_ref().map_or(0, |n| n.len() + 1) + self.domain.len());
        self.write_to(&mut out);
        out
    }
}

impl Node {
    fn render(&self) -> String {
        let identity_len = self.identity.name.as_ref().map_or(0, |n| n.len() + 1) + self.identity.domain.len();
        let mut out = String::with_capacity(identity_len + self.instance.as_ref().map_or(0, |i| i.len() + 1));
        self.identity.write_to(&mut out);
        if let Some(instance) = &self.instance {
            out.push('/');
            out.push_str(instance);
        }
        out
    }

    pub fn new(name: impl Into<String>, domain: impl Into<String>, instance: Option<&str>) -> Self {
        Identity::new(name, domain).with_instance(instance)
    }
}

impl FromStr for Identity {
    type Err = std::convert::Infallible;

    /// Everything before the first `@` is the name; a string without `@` is a bare domain.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.split_once('@') {
            Some((name, domain)) => Identity { name: Some(name.to_owned()), domain: domain.to_owned() },
            None => Identity { name: None, domain: s.to_owned() },
        })
    }
}

impl FromStr for Node {
    type Err = std::convert::Infallible;

    /// Splits at the first `/` after the `@` (names may not contain `/`, instances may).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, domain_and_instance) = match s.split_once('@') {
            Some((name, rest)) => (Some(name), rest),
            None => (None, s),
        };
        let (domain, instance) = match domain_and_instance.split_once('/') {
            Some((domain, instance)) => (domain, Some(instance.to_owned())),
            None => (domain_and_instance, None),
        };
        let identity = Identity { name: name.map(str::to_owned), domain: domain.to_owned() };
        Ok(Node { identity, instance })
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name}@{}", self.domain),
            None => f.write_str(&self.domain),
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.identity, f)?;
        if let Some(instance) = &self.instance {
            write!(f, "/{instance}")?;
        }
        Ok(())
    }
}

macro_rules! string_serde {
    ($ty:ty, $what:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                // One allocation instead of `collect_str`'s `fmt` round trip (hot: every reply).
                s.serialize_str(&self.render())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        Ok(v.parse().unwrap_or_else(|never| match never {}))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

string_serde!(Identity, "an identity string such as \"name@domain\"");
string_serde!(Node, "a node string such as \"name@domain/instance\"");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_round_trips_every_shape() {
        for text in [
            "mybot@msging.net/default",
            "postmaster@activecampaign.msging.net/#irisgate1",
            "mybot@msging.net",
            "msging.net",
            "5531999990000@wa.gw.msging.net",
            "a@b/with/slashes",
        ] {
            let node: Node = text.parse().unwrap();
            assert_eq!(node.to_string(), text);
        }
    }

    #[test]
    fn node_parts_are_split_at_the_right_places() {
        let node: Node = "postmaster@activecampaign.msging.net/#irisgate1".parse().unwrap();
        assert_eq!(node.identity.name.as_deref(), Some("postmaster"));
        assert_eq!(node.identity.domain, "activecampaign.msging.net");
        assert_eq!(node.instance.as_deref(), Some("#irisgate1"));
        let bare: Node = "msging.net".parse().unwrap();
        assert_eq!(bare.identity.name, None);
        assert_eq!(bare.instance, None);
    }

    #[test]
    fn identities_compare_without_case() {
        let a: Identity = "MyBot@Msging.NET".parse().unwrap();
        let b: Identity = "mybot@msging.net".parse().unwrap();
        assert!(a.eq_ignore_case(&b));
        assert!(!a.eq_ignore_case(&"other@msging.net".parse().unwrap()));
    }

    #[test]
    fn node_serialises_as_a_json_string() {
        let node: Node = serde_json::from_str("\"mybot@msging.net/default\"").unwrap();
        assert_eq!(serde_json::to_string(&node).unwrap(), "\"mybot@msging.net/default\"");
        assert!(serde_json::from_str::<Node>("5").is_err());
    }
}
