//! Audience input: JSON audience items and CSV files turned into recipients, with the
//! problems of each bad entry named.

use serde::Serialize;
use serde_json::Value;

use crate::campaign::{NewRecipient, Params};
use crate::fields::{scalar_text, Obj};
use crate::phone::PhoneNormalizer;

/// Longest message parameter value, in characters (BLiP's limit).
pub const MAX_PARAM_CHARS: usize = 250;

/// An entry that was not added, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invalid {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub recipient: String,
    pub reason: String,
}

/// What to do with a number that is not a valid phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidPhones {
    /// Keep it as an INVALID recipient (fails with 1001 at send): `/campaign/full` Batch.
    Keep,
    /// Refuse the entry.
    Refuse,
}

/// Reads one audience item `{recipient, messageParams, contextVariables}`. The error names
/// the field by `path` (`audiences[3].recipient is required`).
pub fn item(
    value: &Value,
    path: &str,
    phones: &PhoneNormalizer,
    policy: InvalidPhones,
) -> Result<NewRecipient, Invalid> {
    let invalid = |recipient: String, reason: String| Invalid { line: None, recipient, reason };
    let obj = Obj::new(value, path).map_err(|e| invalid(String::new(), e.to_string()))?;
    let recipient = match obj.get("recipient") {
        Some(v) => {
            scalar_text(v).ok_or_else(|| invalid(String::new(), format!("{path}.recipient must be a string")))?
        }
        None => return Err(invalid(String::new(), format!("{path}.recipient is required"))),
    };
    let recipient = recipient.trim().to_owned();
    if recipient.is_empty() {
        return Err(invalid(recipient, format!("{path}.recipient is required")));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(params) = obj.get("messageParams") {
        let Value::Object(map) = params else {
            return Err(invalid(recipient, format!("{path}.messageParams must be a JSON object")));
        };
        for (k, v) in map {
            let text = match v {
                Value::Null => String::new(),
                other => scalar_text(other)
                    .ok_or_else(|| invalid(recipient.clone(), format!("{path}.messageParams.{k} must be a string")))?,
            };
            check_param(&text).map_err(|why| invalid(recipient.clone(), format!("{path}.messageParams.{k} {why}")))?;
            pairs.push((k.clone(), text));
        }
    }
    let context = match obj.get("contextVariables") {
        None => None,
        Some(v @ Value::Object(_)) => Some(v.to_string().into_boxed_str()),
        Some(_) => return Err(invalid(recipient, format!("{path}.contextVariables must be a JSON object"))),
    };
    build(recipient, pairs, context, phones, policy).map_err(|(r, why)| invalid(r, format!("{path}.recipient {why}")))
}

fn check_param(text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_PARAM_CHARS {
        return Err(format!("is longer than {MAX_PARAM_CHARS} characters"));
    }
    Ok(())
}

fn build(
    recipient: String,
    pairs: Vec<(String, String)>,
    context: Option<Box<str>>,
    phones: &PhoneNormalizer,
    policy: InvalidPhones,
) -> Result<NewRecipient, (String, String)> {
    let params =
        Params::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(|e| (recipient.clone(), e))?;
    let phone = match phones.normalize(&recipient) {
        Ok(p) => Some(p),
        Err(_) if policy == InvalidPhones::Keep => None,
        Err(e) => return Err((recipient, format!("is not a phone number ({})", e.reason))),
    };
    Ok(NewRecipient { given: recipient, phone, params, context, contact_id: None })
}

/// The recipients of a CSV text and its bad lines.
#[derive(Debug, Default)]
pub struct CsvAudience {
    pub recipients: Vec<NewRecipient>,
    /// The line of each recipient, in step with `recipients`.
    pub lines: Vec<u64>,
    pub invalid: Vec<Invalid>,
    /// Data lines read (blank lines excluded).
    pub received: u64,
}

/// Header names that mark the phone column (else the first column is the phone).
const PHONE_HEADERS: [&str; 4] = ["phone", "telephone", "telefone", "recipient"];
const CONTEXT_HEADER: &str = "#contextvariables#";

/// Parses a CSV audience: UTF-8 (BOM tolerated), `,` or `;` (detected from the header),
/// RFC 4180 quoting, header row required. Fails only when the header itself is unusable.
pub fn csv(text: &str, phones: &PhoneNormalizer) -> Result<CsvAudience, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header_line =
        text.lines().find(|l| !l.trim().is_empty()).ok_or("the CSV is empty: a header row is required")?;
    let delimiter = detect_delimiter(header_line);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the CSV header cannot be read: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    if headers.iter().all(|h| h.is_empty()) {
        return Err("the CSV header row is empty".into());
    }
    let phone_col = headers.iter().position(|h| PHONE_HEADERS.iter().any(|p| h.eq_ignore_ascii_case(p))).unwrap_or(0);
    let context_col = headers.iter().position(|h| h.eq_ignore_ascii_case(CONTEXT_HEADER));
    let mut out = CsvAudience::default();
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::default();
    loop {
        let before = reader.position().byte() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                out.received += 1;
                let line = lines.line_at(text.as_bytes(), before);
                out.invalid.push(Invalid {
                    line: Some(line),
                    recipient: String::new(),
                    reason: format!("unreadable line: {e}"),
                });
                continue;
            }
        }
        let line = lines.line_at(text.as_bytes(), record.position().map_or(before, |p| p.byte() as usize));
        if record.iter().all(str::is_empty) {
            continue;
        }
        out.received += 1;
        let recipient = record.get(phone_col).unwrap_or("").to_owned();
        let bad = |recipient: String, reason: String| Invalid { line: Some(line), recipient, reason };
        if record.len() > headers.len() {
            out.invalid.push(bad(recipient, format!("{} fields but the header has {}", record.len(), headers.len())));
            continue;
        }
        if recipient.is_empty() {
            out.invalid.push(bad(recipient, format!("the {} column is empty", headers[phone_col])));
            continue;
        }
        let mut pairs = Vec::with_capacity(headers.len().saturating_sub(1));
        let mut context = None;
        let mut problem = None;
        for (i, h) in headers.iter().enumerate() {
            if i == phone_col {
                continue;
            }
            let cell = record.get(i).unwrap_or("");
            if Some(i) == context_col {
                if cell.is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(cell) {
                    Ok(v @ Value::Object(_)) => context = Some(v.to_string().into_boxed_str()),
                    _ => problem = Some(format!("{CONTEXT_HEADER} is not a JSON object")),
                }
                continue;
            }
            if h.is_empty() {
                continue;
            }
            if let Err(why) = check_param(cell) {
                problem = Some(format!("{h} {why}"));
            }
            pairs.push((h.clone(), cell.to_owned()));
        }
        if let Some(reason) = problem {
            out.invalid.push(bad(recipient, reason));
            continue;
        }
        match build(recipient, pairs, context, phones, InvalidPhones::Refuse) {
            Ok(r) => {
                out.recipients.push(r);
                out.lines.push(line);
            }
            Err((recipient, why)) => out.invalid.push(bad(recipient, format!("{} {why}", headers[phone_col]))),
        }
    }
    Ok(out)
}

/// Line numbers from byte offsets (the csv crate's own line count is off after CRLF and
/// blank lines). Offsets only grow, so each byte is scanned once.
#[derive(Default)]
struct LineCounter {
    pos: usize,
    line: u64,
}

impl LineCounter {
    /// The 1-based line of the record starting at `byte` (line terminators before it skipped).
    fn line_at(&mut self, text: &[u8], mut byte: usize) -> u64 {
        while byte < text.len() && matches!(text[byte], b'\n' | b'\r') {
            byte += 1;
        }
        if byte >= self.pos {
            self.line += text[self.pos..byte].iter().filter(|&&b| b == b'\n').count() as u64;
            self.pos = byte;
        }
        self.line + 1
    }
}

/// `;` when the header has more semicolons than commas outside quotes, else `,`.
fn detect_delimiter(header: &str) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas {
        b';'
    } else {
        b','
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phones() -> PhoneNormalizer {
        PhoneNormalizer::new("55").unwrap()
    }

    #[test]
    fn csv_with_semicolons_bom_quotes_and_context() {
        let text = "\u{feff}telefone;nome;#contextvariables#\n\
                    +5531998761234;\"Silva; Ana\";\"{\"\"cpf\"\":\"\"1\"\"}\"\n\
                    \n\
                    31998765678;João;\n";
        let a = csv(text, &phones()).unwrap();
        assert_eq!(a.received, 2);
        assert!(a.invalid.is_empty(), "{:?}", a.invalid);
        assert_eq!(a.recipients[0].params.get("nome"), Some("Silva; Ana"));
        assert_eq!(a.recipients[0].context.as_deref(), Some(r#"{"cpf":"1"}"#));
        assert_eq!(a.recipients[1].params.get("nome"), Some("João"));
        assert!(a.recipients[1].phone.is_some());
    }

    #[test]
    fn csv_bad_lines_are_reported_with_line_numbers() {
        let text = "phone,name\n+5531998761234,Ana\nnot-a-phone,Bia\n+5531998765678,x,extra\n";
        let a = csv(text, &phones()).unwrap();
        assert_eq!(a.recipients.len(), 1);
        let lines: Vec<_> = a.invalid.iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![Some(3), Some(4)]);
        assert_eq!(a.invalid[0].recipient, "not-a-phone");
    }

    #[test]
    fn line_numbers_hold_with_crlf_and_blank_lines() {
        let text = "phone,name\r\n+5531998761234,Ana\r\nbad,Bia\r\n\r\n\r\nworse,Cid\r\n";
        let a = csv(text, &phones()).unwrap();
        let lines: Vec<_> = a.invalid.iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![Some(3), Some(6)]);
        let lf = csv("phone\n+5531998761234\n\nbad\n", &phones()).unwrap();
        assert_eq!(lf.invalid[0].line, Some(4));
    }

    #[test]
    fn phone_column_is_found_by_name_anywhere() {
        let a = csv("name,recipient\nAna,+5531998761234\n", &phones()).unwrap();
        assert_eq!(a.recipients[0].params.get("name"), Some("Ana"));
        assert_eq!(a.recipients[0].params.iter().count(), 1);
    }

    #[test]
    fn long_parameter_is_refused() {
        let long = "x".repeat(251);
        let v = serde_json::json!({"recipient": "+5531998761234", "messageParams": {"1": long}});
        let e = item(&v, "audiences[0]", &phones(), InvalidPhones::Refuse).unwrap_err();
        assert!(e.reason.contains("audiences[0].messageParams.1 is longer than 250"), "{}", e.reason);
    }
}
