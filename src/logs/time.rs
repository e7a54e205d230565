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
    if z.is_empty() {
        return None;
    }
    if z[0] == b'+' || z[0] == b'-' {
        let sign = if z[0] == b'-' { -1 } else { 1 };
        let digits: Vec<u8> = z[1..].iter().copied().filter(|c| *c != b':').collect();
        if digits.is_empty() || digits.len() > 6 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let num = |s: &[u8]| s.iter().fold(0i32, |a, c| a * 10 + i32::from(c - b'0'));
        let (h, m, s) = match digits.len() {
            1 | 2 => (num(&digits), 0, 0),
            3 => (num(&digits[..1]), num(&digits[1..]), 0),
            4 => (num(&digits[..2]), num(&digits[2..]), 0),
            6 => (num(&digits[..2]), num(&digits[2..4]), num(&digits[4..])),
            _ => return None,
        };
        if h > 15 || m > 59 || s > 59 {
            return None;
        }
        return Some(sign * (h * 3600 + m * 60 + s));
    }
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

/// `YYYY-MM-DD HH:MM:SS` (or with `T`) at the start of `b`: the naive date-time and the bytes
/// used (19).
pub fn parse_civil(b: &[u8]) -> Option<NaiveDateTime> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b' ' && b[10] != b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        digits(&b[0..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?;
    date.and_hms_opt(
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    )
}

/// Fractional seconds `.fff…` at the start of `b`, as nanoseconds, and the bytes used.
fn parse_fraction(b: &[u8]) -> (u32, usize) {
    if b.first() != Some(&b'.') {
        return (0, 0);
    }
    let mut n = 0u32;
    let mut used = 1;
    let mut scale = 100_000_000u32;
    while used < b.len() && b[used].is_ascii_digit() {
        if scale > 0 {
            n += u32::from(b[used] - b'0') * scale;
            scale /= 10;
        }
        used += 1;
    }
    (n, used)
}

/// A PostgreSQL timestamp (`%t`, `%m`, `%s`, csvlog, jsonlog) or an RFC 3339 one:
/// `2026-11-23 12:09:26.463 UTC`, `2026-11-23T12:09:26.463+01:00`, `… CEST`. Returns the instant
/// and how many bytes it took, or `None` when the text is not one, or its zone is unknown.
pub fn parse_timestamp(b: &[u8], zone: LogZone) -> Option<(DateTime<Utc>, usize)> {
    let civil = parse_civil(b)?;
    let (nanos, frac) = parse_fraction(&b[19..]);
    let mut used = 19 + frac;
    let rest = &b[used..];
    let offset: Option<i32>;
    if rest.first() == Some(&b'Z') {
        offset = Some(0);
        used += 1;
    } else if matches!(rest.first(), Some(b'+') | Some(b'-')) {
        let end = rest
            .iter()
            .position(|c| !(c.is_ascii_digit() || *c == b':' || *c == b'+' || *c == b'-'))
            .unwrap_or(rest.len());
        offset = Some(zone_offset(&rest[..end])?);
        used += end;
    } else if rest.first() == Some(&b' ')
        && rest
            .get(1)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'+' || *c == b'-')
    {
        let token = &rest[1..];
        let end = token.iter().position(|c| *c == b' ').unwrap_or(token.len());
        offset = Some(zone_offset(&token[..end])?);
        used += 1 + end;
    } else {
        offset = None;
    }
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
        let (nanos, flen) = parse_fraction(&b[19..]);
        let zone_part = &b[19 + flen..];
        let hit = self.base.is_some()
            && self.key.len() == 19 + zone_part.len()
            && self.key[..19] == b[..19]
            && self.key[19..] == *zone_part;
        if !hit {
            self.key.clear();
            self.key.extend_from_slice(&b[..19]);
            self.key.extend_from_slice(zone_part);
            self.base = parse_timestamp(&self.key, zone).map(|(at, _)| at);
        }
        self.base
            .map(|base| base + chrono::Duration::nanoseconds(i64::from(nanos)))
    }
}

/// `%n`: Unix epoch with milliseconds, `1700000000.123`.
pub fn parse_epoch(b: &[u8]) -> Option<DateTime<Utc>> {
    let dot = b.iter().position(|c| *c == b'.').unwrap_or(b.len());
    let secs = i64::from(digits(&b[..dot.min(10)])?);
    if dot > 10 {
        return None;
    }
    let (nanos, _) = parse_fraction(&b[dot..]);
    DateTime::from_timestamp(secs, nanos)
}

/// BSD syslog `Nov 23 12:09:26`: the year is not written; `year` supplies it.
pub fn parse_bsd_syslog(b: &[u8], year: i32, zone: LogZone) -> Option<DateTime<Utc>> {
    if b.len() < 15 {
        return None;
    }
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == &b[0..3])? as u32 + 1;
    let day_text: Vec<u8> = b[4..6].iter().copied().filter(|c| *c != b' ').collect();
    let day = digits(&day_text)?;
    if b[3] != b' ' || b[6] != b' ' || b[9] != b':' || b[12] != b':' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let local = date.and_hms_opt(digits(&b[7..9])?, digits(&b[10..12])?, digits(&b[13..15])?)?;
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
}
