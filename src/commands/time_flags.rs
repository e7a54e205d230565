//! The one reader of `--since`/`--until` for every command (`report`, `timeline`, `migrations`).
//!
//! One rule, documented in the README: a value that carries an offset (`Z`, `+02:00`, `-0500`)
//! means that instant; a value without one is UTC — never the log's zone nor the machine's,
//! so the same flag selects the same events whichever command reads it.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};

use crate::error::{Result, UserError};

/// Forms accepted after the date, with `T` or a space between date and time.
const NAIVE: [&str; 3] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
];
/// The same with an offset written after the time (`+02:00`, `+0200`, `+02`).
const WITH_OFFSET: [&str; 6] = [
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M%:z",
    "%Y-%m-%d %H:%M%z",
    "%Y-%m-%d %H:%M%#z",
];

/// Reads one `--since`/`--until` value (`flag` names it in the error).
///
/// Accepted: RFC 3339 (`2026-11-23T12:09:55Z`, `2026-11-23T14:09:55+02:00`), the same with a space
/// for the `T`, with or without seconds and fractions, a trailing ` UTC`, and a bare date
/// (midnight). Without an offset the value is UTC.
pub fn parse_time_flag(flag: &str, text: &str) -> Result<DateTime<Utc>> {
    parse_instant(text).ok_or_else(|| {
        UserError::new(format!(
            "{flag} {text:?}: not a time; use RFC 3339 (2026-11-23T12:09:55Z, or +02:00 for a zone) \
             or `YYYY-MM-DD[ HH:MM[:SS]]`, which is read as UTC"
        ))
    })
}

fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    // `T` between date and time only (not the one in a trailing `UTC`).
    let trimmed = text.trim();
    let mut t = match (
        trimmed.get(..10),
        trimmed.get(10..).and_then(|r| r.strip_prefix('T')),
    ) {
        (Some(date), Some(time)) => format!("{date} {time}"),
        _ => trimmed.to_string(),
    };
    if let Some(rest) = t.strip_suffix(" UTC").or_else(|| t.strip_suffix('Z')) {
        t = rest.trim_end().to_string();
        return naive(&t).map(|n| n.and_utc());
    }
    if let Some(n) = naive(&t) {
        return Some(n.and_utc());
    }
    // `2026-11-23 14:00:00 +02:00`: the offset may stand apart from the time.
    let compact = match t.split_once(' ') {
        Some((date, rest)) => format!("{date} {}", rest.replace(' ', "")),
        None => t.clone(),
    };
    for f in WITH_OFFSET {
        if let Ok(d) = DateTime::<FixedOffset>::parse_from_str(&compact, f) {
            return Some(d.with_timezone(&Utc));
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(text.trim()) {
        return Some(d.with_timezone(&Utc));
    }
    None
}

fn naive(t: &str) -> Option<NaiveDateTime> {
    for f in NAIVE {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return Some(n);
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_value_without_an_offset_is_utc_and_an_offset_is_honoured() {
        let noon = utc("2026-11-23T12:00:00Z");
        for v in [
            "2026-11-23T12:00:00Z",
            "2026-11-23 12:00:00",
            "2026-11-23 12:00",
            "2026-11-23T12:00",
            "2026-11-23 12:00:00 UTC",
            "2026-11-23T14:00:00+02:00",
            "2026-11-23 14:00:00+02:00",
            "2026-11-23 14:00+02",
            "2026-11-23 07:00:00-0500",
            " 2026-11-23 12:00:00.000 ",
            "2026-11-23 14:00:00 +02:00",
        ] {
            assert_eq!(parse_time_flag("--since", v).ok(), Some(noon), "{v}");
        }
        assert_eq!(
            parse_time_flag("--since", "2026-11-23").ok(),
            Some(utc("2026-11-23T00:00:00Z"))
        );
        assert_eq!(
            parse_time_flag("--until", "2026-11-23 12:00:00.250").ok(),
            Some(utc("2026-11-23T12:00:00.250Z"))
        );
    }

    #[test]
    fn a_bad_value_names_the_flag_and_the_rule() {
        for v in ["yesterday", "2026-13-01", "12:00", "", "2026-11-23 25:00"] {
            let e = parse_time_flag("--until", v).unwrap_err().to_string();
            assert!(e.contains("--until") && e.contains("UTC"), "{v}: {e}");
        }
    }
}
