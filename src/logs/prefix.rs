//! The `log_line_prefix` compiler: turns a prefix such as `%m [%p] %q%u@%d ` into a matcher once,
//! then matches each stderr line against it on bytes, without a regex per line.
//!
//! Every escape PostgreSQL documents is understood (`%a %u %d %r %h %b %p %P %t %m %n %i %e %c %l
//! %s %v %x %q %Q %%`), with padding (`%-10u`, `%10p`). Free-text values (user, database,
//! application, host, command tag, backend type) may hold any character, the prefix's own
//! separators included: the matcher backtracks over each place the next literal occurs and keeps
//! the first reading after which the line goes on with a severity (`LOG:  `, `ERROR:  `, …).

use crate::error::UserError;

/// One `%` escape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Application,
    User,
    Database,
    RemoteHostPort,
    RemoteHost,
    BackendType,
    Pid,
    LeaderPid,
    Time,
    TimeMs,
    Epoch,
    CommandTag,
    SqlState,
    SessionId,
    LineNumber,
    SessionStart,
    VirtualXid,
    Xid,
    QueryId,
}

const ESCAPES: usize = 19;

impl Escape {
    fn from_letter(c: u8) -> Option<Escape> {
        Some(match c {
            b'a' => Escape::Application,
            b'u' => Escape::User,
            b'd' => Escape::Database,
            b'r' => Escape::RemoteHostPort,
            b'h' => Escape::RemoteHost,
            b'b' => Escape::BackendType,
            b'p' => Escape::Pid,
            b'P' => Escape::LeaderPid,
            b't' => Escape::Time,
            b'm' => Escape::TimeMs,
            b'n' => Escape::Epoch,
            b'i' => Escape::CommandTag,
            b'e' => Escape::SqlState,
            b'c' => Escape::SessionId,
            b'l' => Escape::LineNumber,
            b's' => Escape::SessionStart,
            b'v' => Escape::VirtualXid,
            b'x' => Escape::Xid,
            b'Q' => Escape::QueryId,
            _ => return None,
        })
    }

    pub fn letter(self) -> char {
        match self {
            Escape::Application => 'a',
            Escape::User => 'u',
            Escape::Database => 'd',
            Escape::RemoteHostPort => 'r',
            Escape::RemoteHost => 'h',
            Escape::BackendType => 'b',
            Escape::Pid => 'p',
            Escape::LeaderPid => 'P',
            Escape::Time => 't',
            Escape::TimeMs => 'm',
            Escape::Epoch => 'n',
            Escape::CommandTag => 'i',
            Escape::SqlState => 'e',
            Escape::SessionId => 'c',
            Escape::LineNumber => 'l',
            Escape::SessionStart => 's',
            Escape::VirtualXid => 'v',
            Escape::Xid => 'x',
            Escape::QueryId => 'Q',
        }
    }

    /// Values that can hold any character: matched by backtracking on the next literal.
    fn is_free_text(self) -> bool {
        matches!(
            self,
            Escape::Application
                | Escape::User
                | Escape::Database
                | Escape::RemoteHostPort
                | Escape::RemoteHost
                | Escape::BackendType
                | Escape::CommandTag
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Field {
        escape: Escape,
        padded: bool,
    },
    /// `%q`: non-session processes stop the prefix here.
    SessionOnly,
}

/// A compiled `log_line_prefix`.
#[derive(Debug, Clone)]
pub struct LinePrefix {
    text: String,
    pieces: Vec<Piece>,
    /// A searcher for each literal piece (by piece index), built once.
    finders: Vec<Option<memchr::memmem::Finder<'static>>>,
}

impl PartialEq for LinePrefix {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for LinePrefix {}

fn finders(pieces: &[Piece]) -> Vec<Option<memchr::memmem::Finder<'static>>> {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(lit) => Some(memchr::memmem::Finder::new(lit).into_owned()),
            _ => None,
        })
        .collect()
}

/// Where each escape's value lies in a matched line (byte ranges), and where the severity starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrefixMatch {
    /// Byte range of each escape's value; (0, 0) when absent. Prefixes live in a line's first
    /// bytes, so 16 bits are plenty (a value past 64 KiB is dropped, not misread).
    values: [(u16, u16); ESCAPES],
    /// Offset of the severity word (`LOG`, `ERROR`, …).
    pub rest: usize,
    /// The severity word's length and name (read once, where the match found it).
    pub severity_len: usize,
    pub severity: &'static str,
}

impl PrefixMatch {
    // `values` has a slot per `Escape` (ESCAPES of them), so `get(escape as usize)` always hits.
    fn set(&mut self, escape: Escape, start: usize, end: usize) {
        if let Some(slot) = self.values.get_mut(escape as usize) {
            *slot = match (u16::try_from(start), u16::try_from(end)) {
                (Ok(s), Ok(e)) => (s, e),
                _ => (0, 0),
            };
        }
    }

    /// The value of an escape, without its padding, when the prefix has it and the line filled it.
    pub fn get<'a>(&self, line: &'a [u8], escape: Escape) -> Option<&'a [u8]> {
        let &(s, e) = self.values.get(escape as usize)?;
        let v = line.get(s as usize..e as usize)?;
        let v = trim_spaces(v);
        (!v.is_empty()).then_some(v)
    }
}

fn trim_spaces(mut v: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' '] = v {
        v = rest;
    }
    v
}

/// Severity words PostgreSQL writes after the prefix (English `lc_messages`).
pub const SEVERITIES: [&[u8]; 19] = [
    b"LOG",
    b"ERROR",
    b"STATEMENT",
    b"DETAIL",
    b"HINT",
    b"CONTEXT",
    b"FATAL",
    b"WARNING",
    b"NOTICE",
    b"INFO",
    b"PANIC",
    b"QUERY",
    b"LOCATION",
    b"BACKTRACE",
    b"DEBUG1",
    b"DEBUG2",
    b"DEBUG3",
    b"DEBUG4",
    b"DEBUG5",
];

/// The length of the severity word at the start of `rest` when it is followed by `:  `.
pub fn severity_at(rest: &[u8]) -> Option<usize> {
    severity_word_at(rest).map(|(n, _)| n)
}

/// The severity word at the start of `rest` when it is followed by `:  `: its length and its
/// name (as `entry::severity_name` gives it). The words of `SEVERITIES`, told by their first
/// byte: this runs on every line.
pub fn severity_word_at(rest: &[u8]) -> Option<(usize, &'static str)> {
    let word = |w: &'static str| rest.starts_with(w.as_bytes()).then_some((w.len(), w));
    let (len, name) = match rest.first()? {
        b'L' => word("LOG").or_else(|| word("LOCATION"))?,
        b'E' => word("ERROR")?,
        b'S' => word("STATEMENT")?,
        b'D' => word("DETAIL").or_else(|| {
            (rest.starts_with(b"DEBUG") && matches!(rest.get(5), Some(b'1'..=b'5')))
                .then_some((6, "DEBUG"))
        })?,
        b'H' => word("HINT")?,
        b'C' => word("CONTEXT")?,
        b'F' => word("FATAL")?,
        b'W' => word("WARNING")?,
        b'N' => word("NOTICE")?,
        b'I' => word("INFO")?,
        b'P' => word("PANIC")?,
        b'Q' => word("QUERY")?,
        b'B' => word("BACKTRACE")?,
        _ => return None,
    };
    (rest.get(len..len + 3) == Some(b":  ".as_slice())).then_some((len, name))
}

impl LinePrefix {
    /// Compiles a `log_line_prefix`. Unknown escapes are an error naming them.
    pub fn compile(text: &str) -> Result<LinePrefix, UserError> {
        let mut pieces: Vec<Piece> = Vec::new();
        let mut literal = Vec::new();
        let mut rest = text.as_bytes();
        while let [c, tail @ ..] = rest {
            rest = tail;
            if *c != b'%' {
                literal.push(*c);
                continue;
            }
            match rest {
                // A trailing lone `%` is printed as nothing by PostgreSQL.
                [] => break,
                [b'%', tail @ ..] => {
                    literal.push(b'%');
                    rest = tail;
                    continue;
                }
                _ => {}
            }
            // Padding: an optional `-`, then digits (`%-10u`, `%10p`).
            let before_padding = rest.len();
            if let [b'-', tail @ ..] = rest {
                rest = tail;
            }
            while let [d, tail @ ..] = rest
                && d.is_ascii_digit()
            {
                rest = tail;
            }
            let padded = rest.len() != before_padding;
            let Some((&letter, tail)) = rest.split_first() else {
                return Err(UserError::new(format!(
                    "log_line_prefix {text:?} ends inside an escape: finish it (e.g. %-10u) or remove it"
                )));
            };
            rest = tail;
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            if letter == b'q' {
                pieces.push(Piece::SessionOnly);
                continue;
            }
            match Escape::from_letter(letter) {
                Some(escape) => pieces.push(Piece::Field { escape, padded }),
                None => {
                    return Err(UserError::new(format!(
                        "log_line_prefix {text:?}: unknown escape %{} (PostgreSQL prints nothing for it; check the value)",
                        letter as char
                    )));
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(LinePrefix {
            text: text.to_string(),
            finders: finders(&pieces),
            pieces,
        })
    }

    /// The empty prefix (syslog setups often log none).
    pub fn empty() -> LinePrefix {
        LinePrefix {
            text: String::new(),
            pieces: Vec::new(),
            finders: Vec::new(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The escapes this prefix has.
    pub fn escapes(&self) -> Vec<Escape> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Field { escape, .. } => Some(*escape),
                _ => None,
            })
            .collect()
    }

    pub fn has(&self, escape: Escape) -> bool {
        self.escapes().contains(&escape)
    }

    /// Matches the prefix at the start of `line`; `None` when the line does not carry it.
    pub fn matches(&self, line: &[u8]) -> Option<PrefixMatch> {
        let mut m = PrefixMatch::default();
        if let Some((rest, (len, name))) = self.match_first_reading(line, &mut m) {
            m.rest = rest;
            m.severity_len = len;
            m.severity = name;
            return Some(m);
        }
        // Backtracking from a clean slate, as if the first reading had not been tried.
        let mut m = PrefixMatch::default();
        let rest = self.match_from(0, line, 0, &mut m)?;
        // Every reading `match_from` accepts ends before a severity.
        let (len, name) = line.get(rest..).and_then(severity_word_at)?;
        m.rest = rest;
        m.severity_len = len;
        m.severity = name;
        Some(m)
    }

    /// The reading `match_from` tries first (each free-text value ends at the first place its
    /// next literal occurs), without recursion: nearly every line is read this way. `None` when
    /// that reading fails or a free-text value is not followed by a literal; the caller then
    /// backtracks with `match_from`, whose first try is this same reading, so the result is the
    /// same either way.
    fn match_first_reading(
        &self,
        line: &[u8],
        m: &mut PrefixMatch,
    ) -> Option<(usize, (usize, &'static str))> {
        let mut pos = 0;
        for (idx, piece) in self.pieces.iter().enumerate() {
            match piece {
                Piece::Literal(lit) => {
                    let rest = line.get(pos..)?;
                    if rest.len() >= lit.len() && lit.iter().zip(rest).all(|(a, b)| a == b) {
                        pos += lit.len();
                    } else {
                        return None;
                    }
                }
                Piece::SessionOnly => {
                    if let Some(sev) = line.get(pos..).and_then(severity_word_at) {
                        return Some((pos, sev));
                    }
                }
                Piece::Field { escape, padded } => {
                    let (escape, padded) = (*escape, *padded);
                    if escape.is_free_text() {
                        let value = line.get(pos..line.len().min(pos + 512))?;
                        let found = match self.pieces.get(idx + 1) {
                            Some(Piece::Literal(lit)) => {
                                match (lit.as_slice(), self.finders.get(idx + 1)) {
                                    (&[sep], _) => find_byte(sep, value)?,
                                    (_, Some(Some(finder))) => finder.find(value)?,
                                    _ => return None,
                                }
                            }
                            _ => return None,
                        };
                        m.set(escape, pos, pos + found);
                        pos += found;
                        continue;
                    }
                    let mut start = pos;
                    if padded {
                        start += spaces_at(line, start);
                    }
                    let len = fixed_value_len(escape, line.get(start..)?)?;
                    let mut end = start + len;
                    if padded {
                        end += spaces_at(line, end);
                        if let Some(Piece::Literal(lit)) = self.pieces.get(idx + 1) {
                            let lead = lit.iter().take_while(|c| **c == b' ').count();
                            end = end.saturating_sub(lead).max(start + len);
                        }
                    }
                    m.set(escape, start, start + len);
                    pos = end;
                }
            }
        }
        line.get(pos..)
            .and_then(severity_word_at)
            .map(|sev| (pos, sev))
    }

    fn match_from(
        &self,
        idx: usize,
        line: &[u8],
        pos: usize,
        m: &mut PrefixMatch,
    ) -> Option<usize> {
        let rest = line.get(pos..)?;
        let Some(piece) = self.pieces.get(idx) else {
            return severity_at(rest).map(|_| pos);
        };
        match piece {
            Piece::Literal(lit) => {
                // Literals are a few bytes: a plain loop beats a memcmp call.
                if rest.len() >= lit.len() && lit.iter().zip(rest).all(|(a, b)| a == b) {
                    self.match_from(idx + 1, line, pos + lit.len(), m)
                } else {
                    None
                }
            }
            Piece::SessionOnly => {
                if severity_at(rest).is_some() {
                    return Some(pos);
                }
                self.match_from(idx + 1, line, pos, m)
            }
            Piece::Field { escape, padded } => {
                let (escape, padded) = (*escape, *padded);
                // Padding puts spaces before (right-aligned) or after the value.
                let mut start = pos;
                if padded {
                    start += spaces_at(line, start);
                }
                if escape.is_free_text() {
                    return self.match_free_text(idx, escape, line, pos, m);
                }
                let len = fixed_value_len(escape, line.get(start..)?)?;
                let mut end = start + len;
                if padded {
                    end += spaces_at(line, end);
                    // The spaces may belong to the next literal: give back what it needs.
                    if let Some(Piece::Literal(lit)) = self.pieces.get(idx + 1) {
                        let lead = lit.iter().take_while(|c| **c == b' ').count();
                        end = end.saturating_sub(lead).max(start + len);
                    }
                }
                m.set(escape, start, start + len);
                self.match_from(idx + 1, line, end, m)
            }
        }
    }

    fn match_free_text(
        &self,
        idx: usize,
        escape: Escape,
        line: &[u8],
        pos: usize,
        m: &mut PrefixMatch,
    ) -> Option<usize> {
        let limit = line.len().min(pos + 512);
        let value = line.get(pos..limit)?;
        match self.pieces.get(idx + 1) {
            Some(Piece::Literal(lit)) if let &[sep] = lit.as_slice() => {
                // One-byte separators (`@`, ` `, `:`): memchr is fastest.
                for found in memchr::memchr_iter(sep, value) {
                    let end = pos + found;
                    m.set(escape, pos, end);
                    if let Some(r) = self.match_from(idx + 1, line, end, m) {
                        return Some(r);
                    }
                }
                None
            }
            Some(Piece::Literal(_)) => {
                let Some(Some(finder)) = self.finders.get(idx + 1) else {
                    return None;
                };
                for found in finder.find_iter(value) {
                    let end = pos + found;
                    m.set(escape, pos, end);
                    if let Some(r) = self.match_from(idx + 1, line, end, m) {
                        return Some(r);
                    }
                }
                None
            }
            _ => {
                // Followed by another escape or by the severity: try every split point.
                for end in pos..=limit {
                    m.set(escape, pos, end);
                    if let Some(r) = self.match_from(idx + 1, line, end, m) {
                        return Some(r);
                    }
                }
                None
            }
        }
    }
}

/// The first `needle` in `hay`. Values such as a user or database name are a few bytes: a
/// plain loop over the first ones beats a `memchr` call's setup; longer ones go to `memchr`.
fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    let (head, tail) = hay.split_at_checked(24).unwrap_or((hay, &[]));
    match head.iter().position(|c| *c == needle) {
        Some(i) => Some(i),
        None => memchr::memchr(needle, tail).map(|i| head.len() + i),
    }
}

/// How many spaces `line` has from `at` on (padding).
fn spaces_at(line: &[u8], at: usize) -> usize {
    line.get(at..)
        .map_or(0, |r| r.iter().take_while(|c| **c == b' ').count())
}

/// Length of a value of fixed shape at the start of `b`: timestamps, numbers, ids.
fn fixed_value_len(escape: Escape, b: &[u8]) -> Option<usize> {
    let digits = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_digit()).count();
    match escape {
        Escape::Time | Escape::TimeMs | Escape::SessionStart => {
            // The shape only: the calendar is checked when the time is read.
            crate::logs::time::civil_shape(b)?;
            let mut n = 19;
            if let Some([b'.', fraction @ ..]) = b.get(n..) {
                n += 1 + digits(fraction);
            }
            // The zone: ` UTC`, ` CEST`, ` +02`, or none.
            if let Some([b' ', tok @ ..]) = b.get(n..) {
                // An abbreviation (`UTC`, `CEST`) or a numeric offset (`+02`, `-03:30`).
                let len = match tok {
                    [c, ..] if c.is_ascii_alphabetic() => {
                        tok.iter().take_while(|c| c.is_ascii_alphabetic()).count()
                    }
                    [b'+' | b'-', offset @ ..] => {
                        1 + offset
                            .iter()
                            .take_while(|c| c.is_ascii_digit() || **c == b':')
                            .count()
                    }
                    _ => 0,
                };
                if len > 0 {
                    n += 1 + len;
                }
            }
            Some(n)
        }
        Escape::Epoch => {
            let n = digits(b);
            if n == 0 {
                return None;
            }
            match b.get(n..) {
                Some([b'.', fraction @ ..]) => Some(n + 1 + digits(fraction)),
                _ => Some(n),
            }
        }
        Escape::Pid | Escape::LineNumber | Escape::Xid => {
            let n = digits(b);
            (n > 0).then_some(n)
        }
        // Empty outside parallel workers.
        Escape::LeaderPid => Some(digits(b)),
        Escape::QueryId => {
            let (sign, unsigned) = match b {
                [b'-', unsigned @ ..] => (1, unsigned),
                _ => (0, b),
            };
            let n = digits(unsigned);
            (n > 0).then_some(sign + n)
        }
        Escape::SqlState => {
            let n = b.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
            (n == 5).then_some(5)
        }
        Escape::SessionId => {
            let hex = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_hexdigit()).count();
            let a = hex(b);
            let Some([b'.', pid @ ..]) = b.get(a..).filter(|_| a > 0) else {
                return None;
            };
            let c = hex(pid);
            (c > 0).then_some(a + 1 + c)
        }
        Escape::VirtualXid => {
            // `3/12`, or empty for processes without one.
            let a = digits(b);
            match b.get(a..) {
                Some([b'/', local @ ..]) if a > 0 => Some(a + 1 + digits(local)),
                _ => Some(0),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(p: &LinePrefix, line: &'a str, e: Escape) -> Option<&'a str> {
        let m = p.matches(line.as_bytes())?;
        m.get(line.as_bytes(), e)
            .map(|v| std::str::from_utf8(v).unwrap())
    }

    #[test]
    fn harness_prefix_with_q() {
        let p = LinePrefix::compile("%m [%p] %q%u@%d ").unwrap();
        let l = "2026-11-23 12:09:26.463 UTC [23485] postgres@s01 LOG:  statement: DELETE FROM t;";
        let m = p.matches(l.as_bytes()).unwrap();
        assert_eq!(l.get(m.rest..m.rest + 4), Some("LOG:"));
        assert_eq!(get(&p, l, Escape::Pid), Some("23485"));
        assert_eq!(get(&p, l, Escape::User), Some("postgres"));
        assert_eq!(get(&p, l, Escape::Database), Some("s01"));
        assert_eq!(
            get(&p, l, Escape::TimeMs),
            Some("2026-11-23 12:09:26.463 UTC")
        );
        // A background process stops at %q.
        let bg = "2026-11-23 12:10:29.615 UTC [26400] LOG:  automatic vacuum of table \"a.b.c\"";
        assert_eq!(get(&p, bg, Escape::Pid), Some("26400"));
        assert_eq!(get(&p, bg, Escape::User), None);
        assert!(p.matches(b"cp: cannot stat 'x': No such file").is_none());
    }

    #[test]
    fn first_reading_gives_what_backtracking_gives() {
        let cases = [
            (
                "%m [%p] %q%u@%d ",
                "2026-11-23 12:09:26.463 UTC [1] us er@my-db.v2 @x ERROR:  boom",
            ),
            (
                "%m [%p] %q%u@%d ",
                "2026-11-23 12:09:26.463 UTC [1] a@b@c d LOG:  x",
            ),
            (
                "%m [%p] %q%u@%d ",
                "2026-11-23 12:09:26.463 UTC [1] LOG:  checkpoint starting",
            ),
            (
                "%m [%p] %q%u@%d ",
                "2026-11-23 12:09:26.463 UTC [1] no severity here",
            ),
            ("%m [%p] %q%u@%d ", "\tcontinued"),
            (
                "%t:%r:%u@%d:[%p]:",
                "2026-11-23 12:09:26 UTC:10.1.2.3(51000):app@prod:[777]:LOG:  x",
            ),
            (
                "%t:%r:%u@%d:[%p]:",
                "2026-11-23 12:09:26 UTC:h:1:a@b:c@d:[7]:LOG:  x",
            ),
            ("%-10u|%5p %d ", "bob       |   42 shop LOG:  x"),
            ("%u%d ", "bobshop LOG:  x"),
            ("%a :: %u ", "my :: app :: bob LOG:  x"),
        ];
        for (prefix, line) in cases {
            let p = LinePrefix::compile(prefix).unwrap();
            let fast = p.matches(line.as_bytes());
            let mut m = PrefixMatch::default();
            let slow = p.match_from(0, line.as_bytes(), 0, &mut m).map(|rest| {
                m.rest = rest;
                m
            });
            assert_eq!(
                fast.map(|m| (m.values, m.rest)),
                slow.map(|m| (m.values, m.rest)),
                "{prefix:?} on {line:?}"
            );
        }
    }

    #[test]
    fn names_with_any_characters() {
        let p = LinePrefix::compile("%m [%p] %q%u@%d ").unwrap();
        let l = "2026-11-23 12:09:26.463 UTC [1] us er@my-db.v2 @x ERROR:  boom";
        assert_eq!(get(&p, l, Escape::User), Some("us er"));
        // The first reading that leaves a severity wins: database may hold '@' and spaces.
        assert_eq!(get(&p, l, Escape::Database), Some("my-db.v2 @x"));
    }

    #[test]
    fn every_escape() {
        let p =
            LinePrefix::compile("%t|%m|%n|%s|%p|%P|%l|%x|%v|%c|%e|%Q|%a|%u|%d|%r|%h|%b|%i|100%% ")
                .unwrap();
        let l = "2026-11-23 12:09:26 CET|2026-11-23 12:09:26.463 CET|1700000000.123|\
                 2026-11-23 12:00:00 CET|42|41|7|735|3/12|655f3a1b.a4|23505|-123456789|\
                 my app|alice|shop|10.0.0.1(5432)|10.0.0.1|client backend|INSERT|100% ERROR:  x";
        for (e, v) in [
            (Escape::Time, "2026-11-23 12:09:26 CET"),
            (Escape::TimeMs, "2026-11-23 12:09:26.463 CET"),
            (Escape::Epoch, "1700000000.123"),
            (Escape::SessionStart, "2026-11-23 12:00:00 CET"),
            (Escape::Pid, "42"),
            (Escape::LeaderPid, "41"),
            (Escape::LineNumber, "7"),
            (Escape::Xid, "735"),
            (Escape::VirtualXid, "3/12"),
            (Escape::SessionId, "655f3a1b.a4"),
            (Escape::SqlState, "23505"),
            (Escape::QueryId, "-123456789"),
            (Escape::Application, "my app"),
            (Escape::User, "alice"),
            (Escape::Database, "shop"),
            (Escape::RemoteHostPort, "10.0.0.1(5432)"),
            (Escape::RemoteHost, "10.0.0.1"),
            (Escape::BackendType, "client backend"),
            (Escape::CommandTag, "INSERT"),
        ] {
            assert_eq!(get(&p, l, e), Some(v), "escape %{}", e.letter());
        }
        // %P empty outside parallel workers, %v empty without a backend id.
        let p = LinePrefix::compile("[%p-%P] %v ").unwrap();
        assert!(p.matches(b"[42-] LOG:  x").is_none());
        assert!(p.matches(b"[42-]  LOG:  x").is_some());
    }

    #[test]
    fn padding() {
        let p = LinePrefix::compile("%-10u|%5p %d ").unwrap();
        let l = "bob       |   42 shop LOG:  x";
        assert_eq!(get(&p, l, Escape::User), Some("bob"));
        assert_eq!(get(&p, l, Escape::Pid), Some("42"));
        assert_eq!(get(&p, l, Escape::Database), Some("shop"));
        let p = LinePrefix::compile("%-8p %u ").unwrap();
        assert_eq!(get(&p, "42       ann LOG:  x", Escape::User), Some("ann"));
    }

    #[test]
    fn rds_prefix_and_errors() {
        let p = LinePrefix::compile("%t:%r:%u@%d:[%p]:").unwrap();
        let l = "2026-11-23 12:09:26 UTC:10.1.2.3(51000):app@prod:[777]:LOG:  statement: SELECT 1";
        assert_eq!(get(&p, l, Escape::RemoteHostPort), Some("10.1.2.3(51000)"));
        assert_eq!(get(&p, l, Escape::Pid), Some("777"));
        assert!(LinePrefix::compile("%m %z ").is_err());
        assert!(LinePrefix::compile("%m %-1").is_err());
    }
}
