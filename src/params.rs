//! A recipient's template parameters, packed in one string so that a million recipients cost
//! one allocation each.

/// Parameters of one recipient: `key → value` in the order given, packed in one string
/// (`key US value RS key US value …`) so that a million recipients cost one allocation each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Box<str>);

const UNIT: char = '\u{1f}';
const RECORD: char = '\u{1e}';

impl Params {
    /// Fails when a key or value holds the two separator control characters.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Params, String> {
        let mut text = String::new();
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            if k.contains([UNIT, RECORD]) || v.contains([UNIT, RECORD]) {
                return Err(format!("parameter \"{k}\" contains a control character"));
            }
            if i > 0 {
                text.push(RECORD);
            }
            text.push_str(k);
            text.push(UNIT);
            text.push_str(v);
        }
        Ok(Params(text.into_boxed_str()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.split(RECORD).filter(|r| !r.is_empty()).map(|r| r.split_once(UNIT).unwrap_or((r, "")))
    }

    /// The packed text, for storage.
    pub fn packed(&self) -> &str {
        &self.0
    }

    /// From [`Params::packed`] text.
    pub fn from_packed(text: String) -> Params {
        Params(text.into_boxed_str())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bytes of key and value text (for memory accounting).
    pub fn text_len(&self) -> usize {
        self.0.len()
    }

    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.iter().map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned()))).collect()
    }
}
