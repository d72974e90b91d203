//! W3C `traceparent` values for response metadata: a caller's trace is continued, else one starts.

/// A new `traceparent` in the caller's trace when `incoming` is a valid one, else in a new trace.
pub fn traceparent(incoming: Option<&str>) -> String {
    let mut out = String::with_capacity(55);
    out.push_str("00-");
    match incoming.and_then(trace_id_of) {
        Some(trace_id) => out.push_str(trace_id),
        None => push_hex(&mut out, fastrand::u128(1..), 32),
    }
    out.push('-');
    push_hex(&mut out, fastrand::u64(1..) as u128, 16);
    out.push_str("-01");
    out
}

/// The trace id (32 hex digits) of a traceparent this module made, for log spans.
pub fn trace_id(traceparent: &str) -> &str {
    traceparent.get(3..35).unwrap_or_default()
}

/// Appends the low `digits` nibbles of `v` in lowercase hex, zero-padded (no `fmt`: hot path).
fn push_hex(out: &mut String, v: u128, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(HEX[((v >> (i * 4)) & 0xf) as usize] as char);
    }
}

/// The trace id of a well-formed version-00 traceparent.
fn trace_id_of(tp: &str) -> Option<&str> {
    let parts: Vec<&str> = tp.split('-').collect();
    let [version, trace, span, flags] = parts.as_slice() else {
        return None;
    };
    let is_hex =
        |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    (is_hex(version, 2)
        && *version != "ff"
        && is_hex(trace, 32)
        && is_hex(span, 16)
        && is_hex(flags, 2)
        && nonzero(trace)
        && nonzero(span))
    .then_some(*trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_traceparent_is_well_formed() {
        let tp = traceparent(None);
        assert_eq!(tp.len(), 55, "{tp}");
        assert!(trace_id_of(&tp).is_some(), "{tp}");
        assert_ne!(traceparent(None), tp);
    }

    #[test]
    fn continues_the_callers_trace_with_a_new_span() {
        let incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let tp = traceparent(Some(incoming));
        assert!(tp.starts_with("00-0af7651916cd43dd8448eb211c80319c-"));
        assert_ne!(tp, incoming);
        assert!(!traceparent(Some("garbage")).contains("garbage"));
    }

    #[test]
    fn hex_is_zero_padded_lowercase() {
        let mut s = String::new();
        push_hex(&mut s, 0xab, 4);
        push_hex(&mut s, u128::MAX, 32);
        assert_eq!(s, format!("00ab{}", "f".repeat(32)));
    }
}
