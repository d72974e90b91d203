//! MIME media types of resources and contents (`type/subtype+suffix; params`).

use std::fmt;
use std::str::FromStr;

/// A parsed media type. Comparison of type, subtype and suffix is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    pub kind: String,
    pub subtype: String,
    pub suffix: Option<String>,
    /// Parameters after `;`, in order, as written.
    pub parameters: Vec<(String, String)>,
}

/// A string that is not `type/subtype`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidMediaType(pub String);

impl fmt::Display for InvalidMediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" is not a media type (expected type/subtype)", self.0)
    }
}

impl std::error::Error for InvalidMediaType {}

impl MediaType {
    pub const COLLECTION: &'static str = "application/vnd.lime.collection+json";
    pub const PING: &'static str = "application/vnd.lime.ping+json";
    pub const PRESENCE: &'static str = "application/vnd.lime.presence+json";
    pub const RECEIPT: &'static str = "application/vnd.lime.receipt+json";
    pub const CONTACT: &'static str = "application/vnd.lime.contact+json";
    pub const MEDIA_LINK: &'static str = "application/vnd.lime.media-link+json";
    pub const TEXT_PLAIN: &'static str = "text/plain";
    pub const TEXT_CSV: &'static str = "text/csv";
    pub const JSON: &'static str = "application/json";

    /// True for `application/json` and any `…+json` type: its content is a JSON value,
    /// not a JSON string.
    pub fn is_json(&self) -> bool {
        self.subtype.eq_ignore_ascii_case("json")
            || self.suffix.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("json"))
    }

    /// Same type, subtype and suffix as `other` (parameters ignored).
    pub fn essence_eq(&self, other: &str) -> bool {
        match other.parse::<MediaType>() {
            Ok(o) => {
                self.kind.eq_ignore_ascii_case(&o.kind)
                    && self.subtype.eq_ignore_ascii_case(&o.subtype)
                    && match (&self.suffix, &o.suffix) {
                        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                        (None, None) => true,
                        _ => false,
                    }
            }
            Err(_) => false,
        }
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

impl FromStr for MediaType {
    type Err = InvalidMediaType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidMediaType(s.to_owned());
        let mut parts = s.split(';');
        let essence = parts.next().unwrap_or_default().trim();
        let (kind, rest) = essence.split_once('/').ok_or_else(bad)?;
        let (subtype, suffix) = match rest.rsplit_once('+') {
            Some((sub, suffix)) => (sub, Some(suffix)),
            None => (rest, None),
        };
        if !is_token(kind) || !is_token(subtype) || suffix.is_some_and(|x| !is_token(x)) {
            return Err(bad());
        }
        let mut parameters = Vec::new();
        for p in parts {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let (k, v) = p.split_once('=').ok_or_else(bad)?;
            let (k, v) = (k.trim(), v.trim());
            // A value is a token or a quoted string; quoted strings holding `;`, quotes,
            // escapes or control characters are refused rather than misread, so that what
            // is accepted is written back unchanged.
            let value = match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(quoted) if quoted.chars().all(|c| c != '"' && c != '\\' && !c.is_control()) => quoted,
                Some(_) => return Err(bad()),
                None if is_token(v) => v,
                None => return Err(bad()),
            };
            if !is_token(k) {
                return Err(bad());
            }
            parameters.push((k.to_owned(), value.to_owned()));
        }
        Ok(MediaType {
            kind: kind.to_owned(),
            subtype: subtype.to_owned(),
            suffix: suffix.map(str::to_owned),
            parameters,
        })
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.subtype)?;
        if let Some(suffix) = &self.suffix {
            write!(f, "+{suffix}")?;
        }
        for (k, v) in &self.parameters {
            if is_token(v) {
                write!(f, "; {k}={v}")?;
            } else {
                write!(f, "; {k}=\"{v}\"")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vendor_json_types() {
        let t: MediaType = "application/vnd.iris.activecampaign.full-campaign+json".parse().unwrap();
        assert_eq!(t.kind, "application");
        assert_eq!(t.subtype, "vnd.iris.activecampaign.full-campaign");
        assert_eq!(t.suffix.as_deref(), Some("json"));
        assert!(t.is_json());
        assert_eq!(t.to_string(), "application/vnd.iris.activecampaign.full-campaign+json");
    }

    #[test]
    fn plain_text_is_not_json_and_keeps_parameters() {
        let t: MediaType = "text/plain; charset=utf-8".parse().unwrap();
        assert!(!t.is_json());
        assert_eq!(t.parameters, vec![("charset".to_owned(), "utf-8".to_owned())]);
        assert!(t.essence_eq("TEXT/PLAIN"));
        assert!("application/json".parse::<MediaType>().unwrap().is_json());
    }

    #[test]
    fn rejects_strings_without_a_slash_or_with_spaces() {
        assert!("json".parse::<MediaType>().is_err());
        assert!("text/".parse::<MediaType>().is_err());
        assert!("te xt/plain".parse::<MediaType>().is_err());
    }

    #[test]
    fn parameters_read_back_as_written_or_are_refused() {
        let t: MediaType = "text/plain; title=\"a b\"; charset=utf-8".parse().unwrap();
        assert_eq!(t.parameters[0], ("title".to_owned(), "a b".to_owned()));
        assert_eq!(t.to_string(), "text/plain; title=\"a b\"; charset=utf-8");
        // Found by fuzzing: a quote or a NUL inside a value used to be kept and written back
        // as a different type.
        for bad in ["tet/p ;!t=\" p\0/", "text/plain; a=\"x\"y\"", "text/plain; a b=c", "text/plain; a=b c"] {
            assert!(bad.parse::<MediaType>().is_err(), "{bad:?}");
        }
    }
}
