//! How the fake Cloud API compares a send with the template it serves: both written as a
//! list of `component:type[:index|:name]` (prefixed `cardN:` inside a carousel), the served
//! template's from Meta's components, the send's from its parameters.

use serde_json::Value;

/// The parameters a template's components call for, as `prefix + component:type[:index|name]`.
pub fn expected_shape(components: &[Value], named: bool, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for c in components {
        match c["type"].as_str().unwrap_or_default() {
            "HEADER" => match c["format"].as_str().unwrap_or("TEXT") {
                "TEXT" => out.extend(
                    names(c["text"].as_str().unwrap_or_default(), named)
                        .iter()
                        .map(|n| format!("{prefix}header:text{n}")),
                ),
                media => out.push(format!("{prefix}header:{}", media.to_ascii_lowercase())),
            },
            "BODY" => out.extend(
                names(c["text"].as_str().unwrap_or_default(), named).iter().map(|n| format!("{prefix}body:text{n}")),
            ),
            "BUTTONS" => {
                for (i, b) in c["buttons"].as_array().into_iter().flatten().enumerate() {
                    match b["type"].as_str().unwrap_or_default() {
                        "URL" if b["url"].as_str().is_some_and(|u| u.contains("{{")) => {
                            out.push(format!("{prefix}button:url:{i}"))
                        }
                        "COPY_CODE" => out.push(format!("{prefix}button:copy_code:{i}")),
                        "QUICK_REPLY" => out.push(format!("{prefix}button:quick_reply:{i}")),
                        _ => {}
                    }
                }
            }
            "CAROUSEL" => {
                for (k, card) in c["cards"].as_array().into_iter().flatten().enumerate() {
                    let inner = card["components"].as_array().map_or(&[][..], Vec::as_slice);
                    out.extend(expected_shape(inner, named, &format!("card{k}:")));
                }
            }
            _ => {}
        }
    }
    out
}

/// `:{name}` of each distinct placeholder (named templates) or `` per positional one.
fn names(text: &str, named: bool) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else { break };
        let name = rest[start + 2..start + end].trim().to_owned();
        if !seen.contains(&name) {
            seen.push(name);
        }
        rest = &rest[start + end + 2..];
    }
    seen.into_iter().map(|n| if named { format!(":{n}") } else { String::new() }).collect()
}

/// The parameters a send's components carry, in the same notation; a parameter of the wrong
/// shape (no link, no text) is refused as Meta does (132012).
pub fn given_shape(components: &[Value], prefix: &str) -> Result<Vec<String>, (i64, String)> {
    let bad = |what: &str| Err((132012, format!("{prefix}{what}")));
    let mut out = Vec::new();
    for c in components {
        match c["type"].as_str().unwrap_or_default() {
            kind @ ("header" | "body") => {
                for p in c["parameters"].as_array().into_iter().flatten() {
                    let t = p["type"].as_str().unwrap_or_default();
                    match t {
                        "text" if p["text"].is_string() => {
                            let name = p["parameter_name"].as_str().map(|n| format!(":{n}")).unwrap_or_default();
                            out.push(format!("{prefix}{kind}:text{name}"));
                        }
                        "image" | "video" | "document"
                            if kind == "header" && p[t]["link"].as_str().is_some_and(|l| !l.is_empty()) =>
                        {
                            out.push(format!("{prefix}header:{t}"))
                        }
                        _ => return bad(&format!("{kind} parameter {p}")),
                    }
                }
            }
            "button" => {
                let sub = c["sub_type"].as_str().unwrap_or_default();
                let Some(index) = c["index"].as_str() else { return bad("button index must be a string") };
                let p = &c["parameters"][0];
                let ok = match sub {
                    "url" => p["type"] == "text" && p["text"].is_string(),
                    "copy_code" => p["type"] == "coupon_code" && p["coupon_code"].is_string(),
                    "quick_reply" => p["type"] == "payload" && p["payload"].is_string(),
                    _ => false,
                };
                if !ok {
                    return bad(&format!("button {c}"));
                }
                out.push(format!("{prefix}button:{sub}:{index}"));
            }
            "carousel" => {
                for (k, card) in c["cards"].as_array().into_iter().flatten().enumerate() {
                    if card["card_index"].as_u64() != Some(k as u64) {
                        return bad("card_index out of order");
                    }
                    let inner = card["components"].as_array().map_or(&[][..], Vec::as_slice);
                    out.extend(given_shape(inner, &format!("card{k}:"))?);
                }
            }
            other => return bad(&format!("component type {other}")),
        }
    }
    Ok(out)
}
