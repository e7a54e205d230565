//! Timestamps as PostgreSQL and log shippers write them, to UTC. Works on bytes and never panics.
//!
//! Zones: numeric offsets (`+02`, `-0330`, `+05:30`), `UTC`/`GMT`/`Z`, the common abbreviations
//! below, and named zones (`Europe/Berlin`) for `--log-timezone`. Ambiguous abbreviations take
//! the reading noted next to them; give `--log-timezone` and a prefix with an offset when that is
//! wrong. A timestamp without any zone is read in the `log_timezone` given (UTC by default).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};

/// The zone timestamps without their own zone are read in (`--log-timezone`, the database's
/// `log_timezone`, or UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LogZone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

impl Default for LogZone {
    fn default() -> Self {
        LogZone::Fixed(FixedOffset::east_opt(0).unwrap_or_else(|| Utc.fix()))
    }
}

impl LogZone {
    /// Reads a `log_timezone` value: a named zone, an abbreviation or a numeric offset.
    pub fn parse(text: &str) -> Option<LogZone> {
        let t = text.trim();
        if let Some(secs) = zone_offset(t.as_bytes()) {
            return FixedOffset::east_opt(secs).map(LogZone::Fixed);
        }
        t.parse::<chrono_tz::Tz>().ok().map(LogZone::Named)
    }

    fn to_utc(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self {
            LogZone::Fixed(off) => off
                .from_local_datetime(&local)
                .earliest()
                .map(|d| d.with_timezone(&Utc)),
            // In the hour a clock goes back, the first reading is taken (documented ambiguity).
            LogZone::Named(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .map(|d| d.with_timezone(&Utc)),
        }
    }
}

/// Offset in seconds east of UTC of a zone written after a timestamp, when it is one we know.
pub fn zone_offset(z: &[u8]) -> Option<i32> {
    let (sign, offset) = match z {
        [] => return None,
        [b'+', offset @ ..] => (1, offset),
        [b'-', offset @ ..] => (-1, offset),
        _ => return abbreviation_offset(z),
    };
    // `+02`, `+0530`, `+05:30`, `+053000`: the digits, colons left out.
    let d: Vec<i32> = offset
        .iter()
        .filter(|c| **c != b':')
        .map(|c| c.is_ascii_digit().then(|| i32::from(c - b'0')))
        .collect::<Option<_>>()?;
    let (h, m, s) = match *d.as_slice() {
        [h] => (h, 0, 0),
        [h1, h2] => (h1 * 10 + h2, 0, 0),
        [h, m1, m2] => (h, m1 * 10 + m2, 0),
        [h1, h2, m1, m2] => (h1 * 10 + h2, m1 * 10 + m2, 0),
        [h1, h2, m1, m2, s1, s2] => (h1 * 10 + h2, m1 * 10 + m2, s1 * 10 + s2),
        _ => return None,
    };
    if h > 15 || m > 59 || s > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + s))
}

fn abbreviation_offset(z: &[u8]) -> Option<i32> {
    let hours = |h: f32| Some((h * 3600.0) as i32);
    match z {
        b"UTC" | b"GMT" | b"Z" | b"UT" | b"WET" | b"Etc/UTC" | b"Universal" | b"Zulu" => Some(0),
        b"CET" | b"WEST" | b"BST" | b"WAT" => hours(1.0),
        b"CEST" | b"EET" | b"SAST" | b"CAT" => hours(2.0),
        b"EEST" | b"MSK" | b"EAT" | b"IDT" => hours(3.0),
        // IST: India (not Irish or Israel summer time).
        b"IST" => hours(5.5),
        b"PKT" => hours(5.0),
        b"WIB" | b"ICT" => hours(7.0),
        b"HKT" | b"SGT" | b"AWST" | b"PHT" | b"WITA" => hours(8.0),
        b"JST" | b"KST" | b"WIT" => hours(9.0),
        b"ACST" => hours(9.5),
        b"AEST" | b"ChST" => hours(10.0),
        b"ACDT" => hours(10.5),
        b"AEDT" => hours(11.0),
        b"NZST" => hours(12.0),
        b"NZDT" => hours(13.0),
        b"ADT" => hours(-3.0),
        b"AST" | b"EDT" => hours(-4.0),
        b"EST" | b"CDT" => hours(-5.0),
        // CST: US Central (not China Standard Time).
        b"CST" | b"MDT" => hours(-6.0),
        b"MST" | b"PDT" => hours(-7.0),
        b"PST" | b"AKDT" => hours(-8.0),
        b"AKST" => hours(-9.0),
        b"HST" => hours(-10.0),
        b"NST" => hours(-3.5),
        b"NDT" => hours(-2.5),
        b"BRT" | b"ART" => hours(-3.0),
        _ => None,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0')))
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`) at the start of `b`: the naive date-time (of its first 19
/// bytes).
pub fn parse_civil(b: &[u8]) -> Option<NaiveDateTime> {
    split_civil(b).map(|(civil, _)| civil)
}

/// The shape `0000-00-00 00:00:00` (`T` allowed for the space) at the start of `b`, calendar
/// unchecked: its 14 digits in order (year, month, day, hour, minute, second) and the bytes
/// after it. The prefix matcher needs the shape only; `split_civil` reads the calendar from it.
pub fn civil_shape(b: &[u8]) -> Option<([u8; 14], &[u8])> {
    let (
        &[
            y0,
            y1,
            y2,
            y3,
            b'-',
            mo0,
            mo1,
            b'-',
            d0,
            d1,
            b' ' | b'T',
            h0,
            h1,
            b':',
            mi0,
            mi1,
            b':',
            s0,
            s1,
        ],
        rest,
    ) = b.split_first_chunk::<19>()?
    else {
        return None;
    };
    let digits = [y0, y1, y2, y3, mo0, mo1, d0, d1, h0, h1, mi0, mi1, s0, s1];
    digits
        .iter()
        .all(u8::is_ascii_digit)
        .then_some((digits, rest))
}

/// `parse_civil`, and the bytes after the date-time.
fn split_civil(b: &[u8]) -> Option<(NaiveDateTime, &[u8])> {
    let ([y0, y1, y2, y3, mo0, mo1, d0, d1, h0, h1, mi0, mi1, s0, s1], rest) = civil_shape(b)?;
    let date = NaiveDate::from_ymd_opt(
        digits(&[y0, y1, y2, y3])? as i32,
        digits(&[mo0, mo1])?,
        digits(&[d0, d1])?,
    )?;
    let civil = date.and_hms_opt(digits(&[h0, h1])?, digits(&[mi0, mi1])?, digits(&[s0, s1])?)?;
    Some((civil, rest))
}

/// Fractional seconds `.fff…` at the start of `b`, as nanoseconds, and the bytes after them.
fn parse_fraction(b: &[u8]) -> (u32, &[u8]) {
    let Some(fraction) = b.strip_prefix(b".") else {
        return (0, b);
    };
    let (digits, rest) = split_while(fraction, u8::is_ascii_digit);
    // Nanoseconds: the digits past the ninth are read over, not rounded.
    let nanos = digits
        .iter()
        .zip([
            100_000_000,
            10_000_000,
            1_000_000,
            100_000,
            10_000,
            1_000,
            100,
            10,
            1,
        ])
        .map(|(c, scale)| u32::from(c - b'0') * scale)
        .sum();
    (nanos, rest)
}

/// `b` split after its leading bytes that are `keep`.
fn split_while(b: &[u8], keep: impl Fn(&u8) -> bool) -> (&[u8], &[u8]) {
    let n = b.iter().take_while(|c| keep(c)).count();
    b.split_at_checked(n).unwrap_or((b, &[]))
}

/// A PostgreSQL timestamp (`%t`, `%m`, `%s`, csvlog, jsonlog) or an RFC 3339 one:
/// `2026-11-23 12:09:26.463 UTC`, `2026-11-23T12:09:26.463+01:00`, `… CEST`. Returns the instant
/// and how many bytes it took, or `None` when the text is not one, or its zone is unknown.
pub fn parse_timestamp(b: &[u8], zone: LogZone) -> Option<(DateTime<Utc>, usize)> {
    let (civil, after) = split_civil(b)?;
    let (nanos, rest) = parse_fraction(after);
    let (offset, rest) = match rest {
        [b'Z', rest @ ..] => (Some(0), rest),
        [b'+' | b'-', ..] => {
            let (offset, rest) = split_while(rest, |c| {
                c.is_ascii_digit() || *c == b':' || *c == b'+' || *c == b'-'
            });
            (Some(zone_offset(offset)?), rest)
        }
        [b' ', token @ ..]
            if token
                .first()
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'+' || *c == b'-') =>
        {
            let (name, rest) = split_while(token, |c| *c != b' ');
            (Some(zone_offset(name)?), rest)
        }
        _ => (None, rest),
    };
    let used = b.len() - rest.len();
    let local = civil.checked_add_signed(chrono::Duration::nanoseconds(i64::from(nanos)))?;
    let at = match offset {
        Some(secs) => {
            let fixed = FixedOffset::east_opt(secs)?;
            fixed
                .from_local_datetime(&local)
                .single()?
                .with_timezone(&Utc)
        }
        None => zone.to_utc(local)?,
    };
    Some((at, used))
}

/// Parses many timestamps that share their second: the calendar work is done once per second
/// and zone, the fraction added on top (the hot path of every prefixed line).
#[derive(Debug, Default)]
pub struct TimestampCache {
    key: Vec<u8>,
    base: Option<DateTime<Utc>>,
    /// The last timestamp read, whole, and what it gave: a busy server writes dozens of lines
    /// in one millisecond (a pgbench log: about 50 a millisecond), which then cost one compare.
    last: Vec<u8>,
    last_zone: Option<LogZone>,
    last_at: Option<DateTime<Utc>>,
}

impl TimestampCache {
    pub fn parse(&mut self, b: &[u8], zone: LogZone) -> Option<DateTime<Utc>> {
        if b.len() < 19 {
            return None;
        }
        if self.last_zone == Some(zone) && self.last.as_slice() == b {
            return self.last_at;
        }
        let at = self.parse_new(b, zone);
        self.last.clear();
        self.last.extend_from_slice(b);
        self.last_zone = Some(zone);
        self.last_at = at;
        at
    }

    fn parse_new(&mut self, b: &[u8], zone: LogZone) -> Option<DateTime<Utc>> {
        let (second, after) = b.split_first_chunk::<19>()?;
        let (nanos, zone_part) = parse_fraction(after);
        let hit =
            self.base.is_some() && self.key.strip_prefix(second.as_slice()) == Some(zone_part);
        if !hit {
            self.key.clear();
            self.key.extend_from_slice(second);
            self.key.extend_from_slice(zone_part);
            self.base = parse_timestamp(&self.key, zone).map(|(at, _)| at);
        }
        self.base
            .map(|base| base + chrono::Duration::nanoseconds(i64::from(nanos)))
    }
}

/// `%n`: Unix epoch with milliseconds, `1700000000.123`.
pub fn parse_epoch(b: &[u8]) -> Option<DateTime<Utc>> {
    let (whole, fraction) = split_while(b, |c| *c != b'.');
    // At most 10 digits (year 2286), read as i64: past u32 they overflowed.
    if whole.is_empty() || whole.len() > 10 || !whole.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs = whole.iter().fold(0i64, |a, c| a * 10 + i64::from(c - b'0'));
    let (nanos, _) = parse_fraction(fraction);
    DateTime::from_timestamp(secs, nanos)
}

/// BSD syslog `Nov 23 12:09:26`: the year is not written; `year` supplies it.
pub fn parse_bsd_syslog(b: &[u8], year: i32, zone: LogZone) -> Option<DateTime<Utc>> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let &[
        m0,
        m1,
        m2,
        b' ',
        day0,
        day1,
        b' ',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
    ] = b.first_chunk::<15>()?
    else {
        return None;
    };
    let month = MONTHS.iter().position(|m| **m == [m0, m1, m2])? as u32 + 1;
    // The day is padded with a space: `Nov  3`.
    let day_text: Vec<u8> = [day0, day1].into_iter().filter(|c| *c != b' ').collect();
    let day = digits(&day_text)?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let local = date.and_hms_opt(digits(&[h0, h1])?, digits(&[mi0, mi1])?, digits(&[s0, s1])?)?;
    zone.to_utc(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn postgres_timestamps_with_zones() {
        let z = LogZone::default();
        let (t, n) = parse_timestamp(b"2026-11-23 12:09:26.463 UTC [1]", z).unwrap();
        assert_eq!(t, at("2026-11-23T12:09:26.463Z"));
        assert_eq!(n, 27);
        let (t, _) = parse_timestamp(b"2026-11-23 12:09:26 CEST x", z).unwrap();
        assert_eq!(t, at("2026-11-23T10:09:26Z"));
        let (t, _) = parse_timestamp(b"2026-11-23 12:09:26.5 +0530", z).unwrap();
        assert_eq!(t, at("2026-11-23T06:39:26.5Z"));
        let (t, _) = parse_timestamp(b"2026-11-23T12:09:26.463-03:00", z).unwrap();
        assert_eq!(t, at("2026-11-23T15:09:26.463Z"));
        let (t, _) = parse_timestamp(b"2026-11-23T12:09:26.463Z", z).unwrap();
        assert_eq!(t, at("2026-11-23T12:09:26.463Z"));
        assert!(parse_timestamp(b"2026-11-23 12:09:26 XYZT", z).is_none());
        assert!(parse_timestamp(b"2026-13-23 12:09:26 UTC", z).is_none());
    }

    #[test]
    fn named_zone_for_timestamps_without_one() {
        let z = LogZone::parse("Europe/Berlin").unwrap();
        let (t, _) = parse_timestamp(b"2026-07-01 12:00:00 ", z).unwrap();
        assert_eq!(t, at("2026-07-01T10:00:00Z"));
        assert_eq!(
            parse_epoch(b"1700000000.123").unwrap(),
            at("2023-11-14T22:13:20.123Z")
        );
        assert_eq!(
            parse_bsd_syslog(b"Nov  3 12:09:26", 2026, LogZone::default()).unwrap(),
            at("2026-11-03T12:09:26Z")
        );
    }

    #[test]
    fn offsets_fractions_and_cached_seconds() {
        assert_eq!(zone_offset(b"+2"), Some(7200));
        assert_eq!(zone_offset(b"-03"), Some(-3 * 3600));
        assert_eq!(zone_offset(b"+530"), Some(5 * 3600 + 30 * 60));
        assert_eq!(zone_offset(b"+05:30"), Some(5 * 3600 + 30 * 60));
        assert_eq!(zone_offset(b"-01:02:03"), Some(-3723));
        for bad in [
            &b"+"[..],
            b"+12345",
            b"+1234567",
            b"+1a",
            b"+16",
            b"+01:60",
            b"",
        ] {
            assert_eq!(zone_offset(bad), None, "{bad:?}");
        }
        // Digits past the ninth are read over; a bare dot is consumed.
        let z = LogZone::default();
        let (t, n) = parse_timestamp(b"2026-11-23 12:09:26.1234567891 UTC", z).unwrap();
        assert_eq!(t, at("2026-11-23T12:09:26.123456789Z"));
        assert_eq!(n, 34);
        assert_eq!(parse_timestamp(b"2026-11-23 12:09:26.[", z).unwrap().1, 20);
        // The cache gives what a fresh parse gives, across seconds and zones.
        let mut cache = TimestampCache::default();
        for ts in [
            &b"2026-11-23 12:09:26.5 UTC"[..],
            b"2026-11-23 12:09:26.7 UTC",
            b"2026-11-23 12:09:26.7 CET",
            b"2026-11-23 12:09:27 UTC",
            b"2026-11-23 12:09",
        ] {
            assert_eq!(cache.parse(ts, z), parse_timestamp(ts, z).map(|(t, _)| t));
        }
    }

    #[test]
    fn hostile_epochs_are_read_or_refused_without_overflow() {
        // Past u32: the seconds used to overflow (a panic in debug builds, a wrapped 2014 date
        // in release ones).
        assert_eq!(
            parse_epoch(b"9999999999.5").unwrap(),
            at("2286-11-20T17:46:39.5Z")
        );
        assert_eq!(
            parse_epoch(b"4294967296").unwrap(),
            at("2106-02-07T06:28:16Z")
        );
        // More than 10 digits, no digits, or a sign: not an epoch.
        assert!(parse_epoch(b"99999999999").is_none());
        assert!(parse_epoch(b"99999999999.1").is_none());
        assert!(parse_epoch(b".5").is_none());
        assert!(parse_epoch(b"+1700000000").is_none());
    }
}
