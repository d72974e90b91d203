//! Lenient reading of request JSON: keys matched case-insensitively (`masterState` =
//! `masterstate`), unknown keys ignored, every error naming the field's path.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A JSON object and the path that names it in error messages (`campaign`, `audiences[3]`).
#[derive(Clone, Copy)]
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

fn bad(path: &str, what: &str) -> Error {
    Error::InvalidArgument(format!("{path} {what}"))
}

/// `parent.key`, or just `key` at the root.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl<'a> Obj<'a> {
    /// `value` must be an object; `path` names it.
    pub fn new(value: &'a Value, path: &'a str) -> Result<Obj<'a>> {
        match value {
            Value::Object(map) => Ok(Obj { map, path }),
            _ => Err(bad(if path.is_empty() { "resource" } else { path }, "must be a JSON object")),
        }
    }

    pub fn path(&self, key: &str) -> String {
        join(self.path, key)
    }

    /// The value of `key` (any case); `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        let found = match self.map.get(key) {
            Some(v) => Some(v),
            None => self.map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v),
        };
        found.filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad(&self.path(key), "must be a string")),
        }
    }

    /// A string with surrounding whitespace removed; empty counts as absent.
    pub fn text(&self, key: &str) -> Result<Option<String>> {
        Ok(self.str(key)?.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned))
    }

    pub fn required_text(&self, key: &str) -> Result<String> {
        self.text(key)?.ok_or_else(|| bad(&self.path(key), "is required"))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(bad(&self.path(key), "must be true or false")),
        }
    }

    pub fn obj(&self, key: &str) -> Result<Option<(Obj<'a>, String)>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some((Obj { map, path: self.path }, self.path(key)))),
            Some(_) => Err(bad(&self.path(key), "must be a JSON object")),
        }
    }

    pub fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(bad(&self.path(key), "must be an array")),
        }
    }

    /// An array of strings (numbers are taken as their text).
    pub fn string_list(&self, key: &str) -> Result<Option<Vec<String>>> {
        let Some(items) = self.array(key)? else { return Ok(None) };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| scalar_text(v).ok_or_else(|| bad(&format!("{}[{i}]", self.path(key)), "must be a string")))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    pub fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// Re-roots this object under another path (for nested objects read with [`Obj::obj`]).
    pub fn at(self, path: &'a str) -> Obj<'a> {
        Obj { map: self.map, path }
    }
}

/// Strings as they are; numbers and booleans as their JSON text; others `None`.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Case- and separator-insensitive enum matching: `GoogleRcs` = `GOOGLE_RCS` = `googlercs`.
pub fn same_word(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    norm(a) == norm(b)
}
