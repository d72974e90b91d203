//! Dates and times as both faces write them: reading ISO-8601 (and BLiP's `yyyy-MM-dd HH:mm`)
//! into [`Millis`], and writing [`Millis`] back as ISO-8601.

use chrono::{NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

use crate::campaign::Millis;

/// `2026-01-16T03:36:28.750Z`, as BLiP writes timestamps; `None` for 0 ("not reached").
pub fn iso(ms: Millis) -> Option<String> {
    (ms != 0)
        .then(|| Utc.timestamp_millis_opt(ms).single().unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// ISO-8601 (offset optional, UTC when absent), or `yyyy-MM-dd HH` / `yyyy-MM-dd HH:mm` (UTC),
/// or a bare date (midnight UTC).
pub fn parse(s: &str) -> Option<Millis> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(&format!("{s}:00"), "%Y-%m-%d %H:%M") {
        return Some(t.and_utc().timestamp_millis());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis())
}

/// A local date-time without an offset (`2026-12-24T09:00:00`, `2026-12-24T09:00`,
/// `2026-12-24 09:00`): `None` for one with an offset, whose zone is already said.
pub fn parse_local(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_both_formats() {
        let iso = parse("2026-12-01T12:00:00Z").unwrap();
        assert_eq!(parse("2026-12-01 12"), Some(iso));
        assert_eq!(parse("2026-12-01 12:00"), Some(iso));
        assert_eq!(parse("2026-12-01T09:00:00-03:00"), Some(iso));
        assert_eq!(parse("2026-12-01T12:00:00"), Some(iso));
        assert_eq!(parse("tomorrow"), None);
        assert_eq!(parse("2026-13-01 12"), None);
    }

    #[test]
    fn iso_writes_milliseconds_in_utc_and_nothing_for_zero() {
        assert_eq!(iso(1_768_534_588_750).as_deref(), Some("2026-01-16T03:36:28.750Z"));
        assert_eq!(iso(0), None);
    }
}
