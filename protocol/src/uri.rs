//! Command URIs: relative `/path?query` and absolute `lime://identity/path?query`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::node::Identity;

/// A parsed command URI. The path keeps its percent-encoding; [`LimeUri::segments`] and
/// [`LimeUri::query_pairs`] decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimeUri {
    /// The owner named by an absolute URI (`lime://owner/...`); `None` for relative URIs.
    pub authority: Option<Identity>,
    /// Always starts with `/`.
    pub path: String,
    /// Text after `?`, without it.
    pub query: Option<String>,
}

/// Why a URI string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUri {
    pub uri: String,
    pub why: &'static str,
}

impl fmt::Display for InvalidUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid uri \"{}\": {}", self.uri, self.why)
    }
}

impl std::error::Error for InvalidUri {}

const SCHEME: &str = "lime://";

impl FromStr for LimeUri {
    type Err = InvalidUri;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why| InvalidUri { uri: s.to_owned(), why };
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("whitespace is not allowed"));
        }
        let (authority, rest) = if let Some(after) = strip_scheme(s) {
            // Splitting at a found character (never slicing at a computed offset) keeps
            // every multi-byte character whole, whatever the input.
            let (authority, rest) = match after.find('/') {
                Some(slash) => after.split_at(slash),
                None => (after, ""),
            };
            if authority.is_empty() {
                return Err(bad("an absolute uri needs an identity after lime://"));
            }
            let identity = Identity::from_str(&percent_decode(authority)).unwrap_or_else(|n| match n {});
            (Some(identity), rest)
        } else if s.split_once("://").is_some_and(|(scheme, _)| !scheme.contains(['/', '?'])) {
            // Only a `scheme://` before any path or query is a scheme: `/x?next=https://…`
            // is a relative URI whose query holds a link.
            return Err(bad("only the lime:// scheme is supported"));
        } else {
            (None, s)
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (rest, None),
        };
        let path = if path.is_empty() && authority.is_some() { "/" } else { path };
        if !path.starts_with('/') {
            return Err(bad("the path must start with /"));
        }
        if path.contains('#') || query.as_deref().is_some_and(|q| q.contains('#')) {
            return Err(bad("fragments are not allowed"));
        }
        Ok(LimeUri { authority, path: path.to_owned(), query })
    }
}

/// The text after a `lime://` prefix in any letter case, or `None` without one.
fn strip_scheme(s: &str) -> Option<&str> {
    let (head, rest) = s.split_at_checked(SCHEME.len())?;
    head.eq_ignore_ascii_case(SCHEME).then_some(rest)
}

impl LimeUri {
    /// Decoded path segments, empty ones (from `//` or a trailing `/`) dropped.
    pub fn segments(&self) -> Vec<Cow<'_, str>> {
        self.path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect()
    }

    /// Decoded `key=value` pairs of the query, in order. `+` is kept as is (RFC 3986),
    /// so `created=2026-01-01T00:00:00+00:00` survives.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let Some(q) = &self.query else {
            return Vec::new();
        };
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (percent_decode(k).into_owned(), percent_decode(v).into_owned()),
                None => (percent_decode(p).into_owned(), String::new()),
            })
            .collect()
    }

    /// The absolute form `lime://owner/path?query`, as BLiP echoes it in `#command.uri`.
    pub fn to_absolute(&self, owner: &Identity) -> String {
        let owner = self.authority.as_ref().unwrap_or(owner);
        let query_len = self.query.as_ref().map_or(0, |q| q.len() + 1);
        let mut out = String::with_capacity(SCHEME.len() + 64 + self.path.len() + query_len);
        out.push_str(SCHEME);
        owner.write_to(&mut out);
        out.push_str(&self.path);
        if let Some(q) = &self.query {
            out.push('?');
            out.push_str(q);
        }
        out
    }
}

impl fmt::Display for LimeUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(a) = &self.authority {
            write!(f, "{SCHEME}{a}")?;
        }
        f.write_str(&self.path)?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        Ok(())
    }
}

/// Decodes `%XX` escapes; malformed escapes and invalid UTF-8 are kept literally.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(_) => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_uri_with_query() {
        let u: LimeUri = "/campaigns/summaries?$skip=0&$take=10&created=2026-01-01T00:00:00+00:00".parse().unwrap();
        assert_eq!(u.authority, None);
        assert_eq!(u.segments(), vec!["campaigns", "summaries"]);
        assert_eq!(
            u.query_pairs(),
            vec![
                ("$skip".into(), "0".into()),
                ("$take".into(), "10".into()),
                ("created".into(), "2026-01-01T00:00:00+00:00".into())
            ]
        );
    }

    #[test]
    fn absolute_uri_keeps_owner_and_round_trips() {
        let text = "lime://mybot@msging.net/campaign/full";
        let u: LimeUri = text.parse().unwrap();
        assert_eq!(u.authority.as_ref().unwrap().to_string(), "mybot@msging.net");
        assert_eq!(u.path, "/campaign/full");
        assert_eq!(u.to_string(), text);
    }

    #[test]
    fn relative_uri_becomes_absolute_under_its_owner() {
        let u: LimeUri = "/ping".parse().unwrap();
        assert_eq!(u.to_absolute(&"mybot@msging.net".parse().unwrap()), "lime://mybot@msging.net/ping");
    }

    #[test]
    fn segments_are_percent_decoded() {
        let u: LimeUri = "/contexts/5531999990000%40wa.gw.msging.net/stateid%40abc".parse().unwrap();
        assert_eq!(u.segments(), vec!["contexts", "5531999990000@wa.gw.msging.net", "stateid@abc"]);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn rejects_what_is_not_a_lime_uri() {
        for bad in ["campaigns", "http://x/y", "lime:///x", "/a b", "/a#frag", ""] {
            assert!(bad.parse::<LimeUri>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn multi_byte_characters_anywhere_never_panic() {
        // "/aaaaaé" put é across byte 7, where the scheme check used to slice.
        assert_eq!("/aaaaaé".parse::<LimeUri>().unwrap().path, "/aaaaaé");
        for text in ["/aaaaaé", "lime://é/x", "LIME://bot@é.net/ç?q=ü", "limé://x/y", "/é?é=é", "éééé"] {
            for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                let _ = text[..end].parse::<LimeUri>();
                let _ = text[..end].parse::<crate::node::Node>();
            }
        }
        assert_eq!("LiMe://bot@msging.net/x".parse::<LimeUri>().unwrap().path, "/x");
    }

    #[test]
    fn a_link_in_the_query_is_not_a_scheme() {
        let u: LimeUri = "/campaigns?callback=https://example.com/hook".parse().unwrap();
        assert_eq!(u.query_pairs(), vec![("callback".into(), "https://example.com/hook".into())]);
        assert!("https://example.com/x".parse::<LimeUri>().is_err());
    }
}
