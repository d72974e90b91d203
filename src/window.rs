//! Send windows: the local hours and weekdays, in an IANA time zone, when a campaign may send
//! (`{"start": "09:00", "end": "20:00", "days": ["MON", …], "timezone": "America/Sao_Paulo"}`),
//! and the arithmetic the dispatcher and the stats read: is it open at an instant, and when
//! does it open next.
//!
//! An `end` before `start` spans midnight; the part after midnight belongs to the day the
//! window opened (`22:00`–`06:00` on `["MON"]` is Monday 22:00 to Tuesday 06:00). `start`
//! equal to `end` is a whole day from `start`. A local time a DST change skips opens at the
//! first minute after the gap; one it repeats counts at its first occurrence.
//!
//! The zone database is compiled in (`chrono-tz`), so the machine's `/usr/share/zoneinfo`
//! plays no part.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::campaign::Millis;

/// A send window as clients and the configuration write it (strings, checked by
/// [`SendWindow::parse`], which names the field that is wrong).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Local opening time, `HH:MM` (24 h).
    #[schema(example = "09:00")]
    pub start: String,
    /// Local closing time, `HH:MM`; before `start`: the window spans midnight.
    #[schema(example = "20:00")]
    pub end: String,
    /// Days the window opens on: `MON` … `SUN` (default every day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<String>>,
    /// IANA time zone name.
    #[schema(example = "America/Sao_Paulo")]
    pub timezone: String,
}

/// A checked send window. Serialized as its [`WindowSpec`] (how the campaign document keeps it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WindowSpec", into = "WindowSpec")]
pub struct SendWindow {
    start: NaiveTime,
    end: NaiveTime,
    /// Monday first, no repeats, never empty.
    days: Vec<Weekday>,
    zone: Tz,
}

const DAY_NAMES: [(&str, Weekday); 7] = [
    ("MON", Weekday::Mon),
    ("TUE", Weekday::Tue),
    ("WED", Weekday::Wed),
    ("THU", Weekday::Thu),
    ("FRI", Weekday::Fri),
    ("SAT", Weekday::Sat),
    ("SUN", Weekday::Sun),
];

fn day_name(d: Weekday) -> &'static str {
    DAY_NAMES.iter().find(|(_, w)| *w == d).map_or("MON", |(n, _)| n)
}

/// `HH:MM`, two digits each.
fn parse_time(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// An IANA zone name, as the bundled database spells it.
pub fn parse_zone(s: &str) -> Option<Tz> {
    s.parse::<Tz>().ok()
}

impl SendWindow {
    /// Checks `spec`; the error is the field that is wrong (`start`, `end`, `days`,
    /// `timezone`) and what is wrong with it, the value quoted.
    pub fn parse(spec: &WindowSpec) -> Result<SendWindow, (&'static str, String)> {
        let time = |field: &'static str, v: &str| {
            parse_time(v).ok_or_else(|| (field, format!("\"{v}\" is not a time of day (HH:MM, 00:00–23:59)")))
        };
        let start = time("start", &spec.start)?;
        let end = time("end", &spec.end)?;
        let zone = parse_zone(&spec.timezone).ok_or_else(|| {
            ("timezone", format!("\"{}\" is not an IANA time zone (e.g. America/Sao_Paulo)", spec.timezone))
        })?;
        let days = match &spec.days {
            None => DAY_NAMES.iter().map(|(_, d)| *d).collect(),
            Some(given) => {
                let mut days = Vec::new();
                for g in given {
                    let day =
                        DAY_NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(g.trim())).map(|(_, d)| *d).ok_or_else(
                            || ("days", format!("\"{g}\" is not a day (MON, TUE, WED, THU, FRI, SAT, SUN)")),
                        )?;
                    if !days.contains(&day) {
                        days.push(day);
                    }
                }
                if days.is_empty() {
                    return Err(("days", "must name at least one day".into()));
                }
                days.sort_by_key(Weekday::num_days_from_monday);
                days
            }
        };
        Ok(SendWindow { start, end, days, zone })
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The opening on local date `day` and its close, when the window opens that day.
    fn occurrence(&self, day: NaiveDate) -> Option<(Millis, Millis)> {
        if !self.days.contains(&day.weekday()) {
            return None;
        }
        let open = NaiveDateTime::new(day, self.start);
        let close_day = if self.end > self.start { day } else { day.succ_opt()? };
        let close = NaiveDateTime::new(close_day, self.end);
        Some((local_instant(self.zone, open)?, local_instant(self.zone, close)?))
    }

    fn local_date(&self, at: Millis) -> Option<NaiveDate> {
        Some(DateTime::<Utc>::from_timestamp_millis(at)?.with_timezone(&self.zone).date_naive())
    }

    /// Whether sending is allowed at `at`.
    pub fn is_open(&self, at: Millis) -> bool {
        let Some(today) = self.local_date(at) else { return false };
        // Today's opening, or yesterday's reaching past midnight.
        [today.pred_opt(), Some(today)]
            .into_iter()
            .flatten()
            .filter_map(|d| self.occurrence(d))
            .any(|(open, close)| open <= at && at < close)
    }

    /// `at` when the window is open then, else its next opening.
    pub fn next_open(&self, at: Millis) -> Millis {
        if self.is_open(at) {
            return at;
        }
        let Some(today) = self.local_date(at) else { return at };
        (0..=8)
            .filter_map(|n| today.checked_add_signed(Duration::days(n)))
            .filter_map(|d| self.occurrence(d))
            .map(|(open, _)| open)
            .find(|open| *open > at)
            .unwrap_or(at)
    }

    /// The next opening in the window's zone, ISO-8601 with its offset
    /// (`2026-12-28T09:00:00-03:00`); `None` while it is open.
    pub fn next_open_iso(&self, at: Millis) -> Option<String> {
        let next = self.next_open(at);
        (next > at).then(|| local_iso(self.zone, next))
    }
}

/// `at` written in `zone` with its offset, to the second.
pub fn local_iso(zone: Tz, at: Millis) -> String {
    let t = DateTime::<Utc>::from_timestamp_millis(at).unwrap_or_default().with_timezone(&zone);
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The instant a local time names in `zone`: the earlier of a repeated one, the first
/// minute after a skipped one.
pub fn local_instant(zone: Tz, local: NaiveDateTime) -> Option<Millis> {
    for shift in 0..=180 {
        let t = local.checked_add_signed(Duration::minutes(shift))?;
        if let Some(found) = zone.from_local_datetime(&t).earliest() {
            return Some(found.timestamp_millis());
        }
    }
    None
}

impl TryFrom<WindowSpec> for SendWindow {
    type Error = String;

    fn try_from(spec: WindowSpec) -> Result<SendWindow, String> {
        SendWindow::parse(&spec).map_err(|(field, why)| format!("send_window.{field} {why}"))
    }
}

impl From<SendWindow> for WindowSpec {
    fn from(w: SendWindow) -> WindowSpec {
        WindowSpec {
            start: w.start.format("%H:%M").to_string(),
            end: w.end.format("%H:%M").to_string(),
            days: Some(w.days.iter().map(|d| day_name(*d).to_owned()).collect()),
            timezone: w.zone.name().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: &str, end: &str, days: &[&str], zone: &str) -> SendWindow {
        let spec = WindowSpec {
            start: start.into(),
            end: end.into(),
            days: Some(days.iter().map(|d| d.to_string()).collect()),
            timezone: zone.into(),
        };
        SendWindow::parse(&spec).unwrap()
    }

    /// `2026-12-04T19:59:30-03:00` → millis.
    fn at(s: &str) -> Millis {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    const WEEKDAYS: [&str; 5] = ["MON", "TUE", "WED", "THU", "FRI"];

    #[test]
    fn weekday_hours_close_on_friday_evening_and_open_on_monday_morning() {
        let w = window("09:00", "20:00", &WEEKDAYS, "America/Sao_Paulo");
        // 2026-12-04 is a Friday.
        assert!(w.is_open(at("2026-12-04T19:59:59-03:00")));
        assert!(!w.is_open(at("2026-12-04T20:00:00-03:00")));
        assert!(!w.is_open(at("2026-12-05T12:00:00-03:00")), "Saturday");
        assert_eq!(w.next_open(at("2026-12-04T20:00:00-03:00")), at("2026-12-07T09:00:00-03:00"));
        assert_eq!(w.next_open_iso(at("2026-12-05T12:00:00-03:00")).as_deref(), Some("2026-12-07T09:00:00-03:00"));
        assert_eq!(w.next_open(at("2026-12-07T08:59:00-03:00")), at("2026-12-07T09:00:00-03:00"));
        let open = at("2026-12-07T10:00:00-03:00");
        assert_eq!(w.next_open(open), open, "open now");
        assert_eq!(w.next_open_iso(open), None);
    }

    #[test]
    fn a_window_across_midnight_belongs_to_the_day_it_opened() {
        let w = window("22:00", "06:00", &["MON"], "America/Sao_Paulo");
        // Monday 2026-12-07 22:00 to Tuesday 06:00.
        assert!(!w.is_open(at("2026-12-07T21:59:00-03:00")));
        assert!(w.is_open(at("2026-12-07T22:00:00-03:00")));
        assert!(w.is_open(at("2026-12-08T05:59:59-03:00")), "Monday's window after midnight");
        assert!(!w.is_open(at("2026-12-08T06:00:00-03:00")));
        assert!(!w.is_open(at("2026-12-07T03:00:00-03:00")), "Sunday opened no window");
        assert!(!w.is_open(at("2026-12-08T23:00:00-03:00")), "Tuesday opens none");
        assert_eq!(w.next_open(at("2026-12-08T06:00:00-03:00")), at("2026-12-14T22:00:00-03:00"));
    }

    #[test]
    fn start_equal_to_end_is_a_whole_day() {
        let w = window("00:00", "00:00", &["SAT", "SUN"], "UTC");
        assert!(w.is_open(at("2026-12-05T00:00:00Z")));
        assert!(w.is_open(at("2026-12-06T23:59:00Z")));
        assert!(!w.is_open(at("2026-12-07T00:00:00Z")));
        assert_eq!(w.next_open(at("2026-12-07T00:00:00Z")), at("2026-12-12T00:00:00Z"));
    }

    #[test]
    fn next_opening_follows_daylight_saving_time_in_new_york() {
        let w = window("09:00", "17:00", &WEEKDAYS, "America/New_York");
        // DST began 2026-03-08 (Sunday): Friday 9:00 is -05:00, Monday 9:00 is -04:00.
        assert_eq!(w.next_open(at("2026-03-06T18:00:00-05:00")), at("2026-03-09T09:00:00-04:00"));
        assert_eq!(w.next_open_iso(at("2026-03-06T18:00:00-05:00")).as_deref(), Some("2026-03-09T09:00:00-04:00"));
        // And ended 2026-11-01.
        assert_eq!(w.next_open(at("2026-10-30T18:00:00-04:00")), at("2026-11-02T09:00:00-05:00"));
    }

    #[test]
    fn a_skipped_local_time_opens_after_the_gap_and_a_repeated_one_at_its_first_occurrence() {
        // New York skipped 02:00–03:00 on 2026-03-08 and repeated 01:00–02:00 on 2026-11-01.
        let w = window("02:30", "04:00", &["SUN"], "America/New_York");
        assert_eq!(w.next_open(at("2026-03-08T00:00:00-05:00")), at("2026-03-08T03:00:00-04:00"));
        let w = window("01:30", "03:00", &["SUN"], "America/New_York");
        assert_eq!(w.next_open(at("2026-11-01T00:00:00-04:00")), at("2026-11-01T01:30:00-04:00"));
    }

    #[test]
    fn invalid_fields_are_named() {
        let spec = |start: &str, end: &str, days: Option<Vec<&str>>, zone: &str| WindowSpec {
            start: start.into(),
            end: end.into(),
            days: days.map(|d| d.into_iter().map(str::to_owned).collect()),
            timezone: zone.into(),
        };
        let err = |s: WindowSpec| {
            let (field, why) = SendWindow::parse(&s).unwrap_err();
            format!("{field} {why}")
        };
        assert!(err(spec("9:00", "20:00", None, "UTC")).starts_with("start \"9:00\""));
        assert!(err(spec("09:00", "24:00", None, "UTC")).starts_with("end \"24:00\""));
        assert!(err(spec("09:00", "20:00", Some(vec!["MON", "FUN"]), "UTC")).starts_with("days \"FUN\""));
        assert!(err(spec("09:00", "20:00", Some(vec![]), "UTC")).starts_with("days must"));
        assert!(err(spec("09:00", "20:00", None, "Mars/Olympus")).starts_with("timezone \"Mars/Olympus\""));
        let w = SendWindow::parse(&spec("09:00", "20:00", Some(vec!["fri", "mon", "MON"]), "Europe/Lisbon")).unwrap();
        let back = WindowSpec::from(w);
        assert_eq!(back.days, Some(vec!["MON".to_owned(), "FRI".to_owned()]), "sorted, repeats dropped");
        assert_eq!(back.timezone, "Europe/Lisbon");
    }
}
