//! `"${NAME}"` values: any string of the configuration written so is replaced by the
//! environment variable `NAME` before the file is read into settings, so that secrets
//! (access tokens, app secrets, keys) need not sit in the file.

use toml::{Table, Value};

/// Replaces every string value that is exactly `${NAME}` by the variable `NAME` of `lookup`.
/// The error names the key (dotted path, as the other configuration errors do) and the
/// variable that is missing.
pub(super) fn expand(table: &mut Table, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), (String, String)> {
    for (key, value) in table.iter_mut() {
        expand_value(value, key.clone(), lookup)?;
    }
    Ok(())
}

fn expand_value(
    value: &mut Value,
    path: String,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), (String, String)> {
    match value {
        Value::String(s) => {
            if let Some(name) = reference(s) {
                match lookup(name) {
                    Some(v) => *s = v,
                    None => {
                        return Err((
                            path,
                            format!("the environment variable {name} (from \"${{{name}}}\") is not set"),
                        ))
                    }
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_value(item, format!("{path}[{i}]"), lookup)?;
            }
        }
        Value::Table(t) => {
            for (key, item) in t.iter_mut() {
                expand_value(item, format!("{path}.{key}"), lookup)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `NAME` of a value written `${NAME}` (letters, digits and `_`, not starting with a digit).
fn reference(s: &str) -> Option<&str> {
    let name = s.strip_prefix("${")?.strip_suffix('}')?;
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    (first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, vars: &[(&str, &str)]) -> Result<Table, (String, String)> {
        let mut table: Table = text.parse().unwrap();
        let lookup = |n: &str| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string());
        expand(&mut table, &lookup)?;
        Ok(table)
    }

    #[test]
    fn whole_values_are_replaced_at_any_depth() {
        let t = run(
            "a = \"${A}\"\n[[tenants]]\nkeys = [\"x\", \"${B}\"]\n[[tenants.channels]]\ntoken = \"${A}\"\n",
            &[("A", "one"), ("B", "two")],
        )
        .unwrap();
        assert_eq!(t["a"].as_str(), Some("one"));
        assert_eq!(t["tenants"][0]["keys"][1].as_str(), Some("two"));
        assert_eq!(t["tenants"][0]["channels"][0]["token"].as_str(), Some("one"));
    }

    #[test]
    fn a_missing_variable_names_key_and_variable() {
        let (key, msg) = run("[[tenants]]\n[[tenants.channels]]\naccess_token = \"${WA_TOKEN}\"\n", &[]).unwrap_err();
        assert_eq!(key, "tenants[0].channels[0].access_token");
        assert!(msg.contains("WA_TOKEN"), "{msg}");
    }

    #[test]
    fn text_that_only_looks_like_a_reference_is_kept() {
        let t = run("a = \"$A\"\nb = \"x${A}\"\nc = \"${1A}\"\nd = \"${}\"\n", &[("A", "no")]).unwrap();
        for (k, v) in [("a", "$A"), ("b", "x${A}"), ("c", "${1A}"), ("d", "${}")] {
            assert_eq!(t[k].as_str(), Some(v));
        }
    }
}
