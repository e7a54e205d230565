//! The stderr format (and RDS/Aurora, which is stderr with its own prefix): lines that start with
//! the `log_line_prefix`, TAB-led continuation lines, DETAIL/HINT/… follow-up lines of the same
//! process, and unprefixed foreign lines kept as raw entries of their own.

use std::borrow::Cow;

use crate::logs::entry::{
    self, Entry, EntrySink, ProblemKind, is_follow_up, multiline_text, trim_cr,
};
use crate::logs::format::FormatParser;
use crate::logs::prefix::{Escape, LinePrefix, PrefixMatch};
use crate::logs::time::{LogZone, TimestampCache, parse_epoch};

pub struct StderrParser {
    prefix: LinePrefix,
    zone: LogZone,
    /// CloudWatch exports put their own RFC 3339 timestamp and a space before each line.
    leading_timestamp: bool,
    times: TimestampCache,
}

const MAX_FOLLOW_UPS: usize = 8;

/// An entry being assembled: byte ranges into the block, nothing copied.
#[derive(Clone, Copy)]
struct Pending {
    start: usize,
    line: u64,
    head: (usize, usize),
    m: PrefixMatch,
    severity: &'static str,
    pid: Option<i32>,
    message: (usize, usize),
    follow_ups: [(u8, usize, usize); MAX_FOLLOW_UPS],
    n_follow_ups: usize,
    raw: bool,
}

impl Pending {
    fn follow_ups(&self) -> &[(u8, usize, usize)] {
        self.follow_ups.get(..self.n_follow_ups).unwrap_or_default()
    }

    fn last_follow_up(&mut self) -> Option<&mut (u8, usize, usize)> {
        self.follow_ups.get_mut(..self.n_follow_ups)?.last_mut()
    }

    /// Adds a follow-up; one past `MAX_FOLLOW_UPS` is dropped (callers check for room first).
    fn push_follow_up(&mut self, follow_up: (u8, usize, usize)) {
        if let Some(slot) = self.follow_ups.get_mut(self.n_follow_ups) {
            *slot = follow_up;
            self.n_follow_ups += 1;
        }
    }
}

/// The bytes of a range of the block that `Pending` recorded (ranges of lines already read, so
/// always inside it; an empty slice otherwise rather than a panic).
fn span(block: &[u8], (start, end): (usize, usize)) -> &[u8] {
    block.get(start..end).unwrap_or_default()
}

impl StderrParser {
    pub fn new(prefix: LinePrefix, zone: LogZone, leading_timestamp: bool) -> StderrParser {
        StderrParser {
            prefix,
            zone,
            leading_timestamp,
            times: TimestampCache::default(),
        }
    }

    /// The line from where the prefix starts (after a CloudWatch timestamp).
    fn prefixed_part<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        if !self.leading_timestamp {
            return line;
        }
        match memchr::memchr(b' ', line).and_then(|sp| Some((sp, line.get(sp + 1..)?))) {
            Some((sp, rest)) if sp >= 19 && crate::logs::time::parse_civil(line).is_some() => rest,
            _ => line,
        }
    }

    fn emit(&mut self, block: &[u8], p: &Pending, sink: &mut dyn EntrySink) {
        if p.raw {
            let t = entry::text(trim_cr(span(block, p.head)), p.line, sink);
            sink.entry(Entry {
                line: p.line,
                message: t,
                raw: true,
                ..Entry::default()
            });
            return;
        }
        let line = span(block, p.head);
        let m = &p.m;
        if p.n_follow_ups == 0 && !sink.wants(p.severity, span(block, p.message)) {
            let at = match m.get(line, Escape::TimeMs).or(m.get(line, Escape::Time)) {
                Some(ts) => self.times.parse(ts, self.zone),
                None => m.get(line, Escape::Epoch).and_then(parse_epoch),
            };
            sink.seen(at);
            return;
        }
        if self.comes_to_nothing(block, p, line, sink) {
            return;
        }
        let field = |e: Escape, sink: &mut dyn EntrySink| -> Option<Cow<'_, str>> {
            m.get(line, e).map(|v| entry::text(v, p.line, sink))
        };
        let at = if let Some(ts) = m.get(line, Escape::TimeMs).or(m.get(line, Escape::Time)) {
            self.times.parse(ts, self.zone)
        } else {
            m.get(line, Escape::Epoch).and_then(parse_epoch)
        };
        if at.is_none() {
            sink.problem(ProblemKind::BadTimestamp, p.line);
        }
        let host = field(Escape::RemoteHost, sink).or_else(|| {
            // `%r` is `host(port)`.
            field(Escape::RemoteHostPort, sink).map(|hp| {
                match hp.strip_suffix(')').and_then(|h| h.rsplit_once('(')) {
                    Some((host, _port)) => Cow::Owned(host.to_string()),
                    None => hp,
                }
            })
        });
        let mut e = Entry {
            line: p.line,
            at,
            pid: p.pid,
            session_id: field(Escape::SessionId, sink),
            user: field(Escape::User, sink).filter(|u| u != "[unknown]"),
            database: field(Escape::Database, sink).filter(|d| d != "[unknown]"),
            application: field(Escape::Application, sink).filter(|a| a != "[unknown]"),
            host,
            backend_type: field(Escape::BackendType, sink),
            severity: p.severity,
            sqlstate: field(Escape::SqlState, sink).filter(|s| s != "00000"),
            message: multiline_text(span(block, p.message), p.line, sink),
            ..Entry::default()
        };
        for &(kind, start, end) in p.follow_ups() {
            let t = multiline_text(span(block, (start, end)), p.line, sink);
            let slot = match kind {
                1 => &mut e.detail,
                2 => &mut e.hint,
                3 => &mut e.query,
                4 => &mut e.context,
                5 => &mut e.statement,
                _ => continue,
            };
            *slot = Some(match slot.take() {
                Some(prev) => Cow::Owned(format!("{prev}\n{t}")),
                None => t,
            });
        }
        sink.entry(e);
    }
}

impl StderrParser {
    /// An entry the sink ignores whatever it holds (`EntrySink::ignores`) is not built when
    /// building it would have no other effect: its time reads, it names no application (a
    /// tool's session is announced on its first entry), and every field and line that building
    /// converts is valid UTF-8 (so no problem would be counted). Only its time is reported then.
    fn comes_to_nothing(
        &mut self,
        block: &[u8],
        p: &Pending,
        line: &[u8],
        sink: &mut dyn EntrySink,
    ) -> bool {
        let message = span(block, p.message);
        if memchr::memchr(b'\n', message).is_some() || !sink.ignores(p.severity, trim_cr(message)) {
            return false;
        }
        let m = &p.m;
        if m.get(line, Escape::Application).is_some() {
            return false;
        }
        let utf8 = |b: &[u8]| std::str::from_utf8(b).is_ok();
        let fields_ok = [
            Escape::SessionId,
            Escape::User,
            Escape::Database,
            Escape::RemoteHost,
            Escape::RemoteHostPort,
            Escape::BackendType,
            Escape::SqlState,
        ]
        .into_iter()
        .all(|e| m.get(line, e).is_none_or(utf8));
        if !fields_ok
            || !utf8(message)
            || !p
                .follow_ups()
                .iter()
                .all(|&(_, start, end)| utf8(span(block, (start, end))))
        {
            return false;
        }
        let at = match m.get(line, Escape::TimeMs).or(m.get(line, Escape::Time)) {
            Some(ts) => self.times.parse(ts, self.zone),
            None => m.get(line, Escape::Epoch).and_then(parse_epoch),
        };
        if at.is_none() {
            return false;
        }
        sink.seen(at);
        true
    }
}

/// Follow-ups by number, to keep `Pending` small (it is moved once per line).
fn follow_up_index(severity: &str) -> u8 {
    match severity {
        "DETAIL" => 1,
        "HINT" => 2,
        "QUERY" => 3,
        "CONTEXT" => 4,
        "STATEMENT" => 5,
        _ => 0,
    }
}

fn parse_pid(b: Option<&[u8]>) -> Option<i32> {
    let b = b?;
    // Every line has one: digits are read directly (what `str::parse` gives for them, overflow
    // included); anything else takes the general path.
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
        return b.iter().try_fold(0i32, |n, c| {
            n.checked_mul(10)?.checked_add(i32::from(c - b'0'))
        });
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

impl FormatParser for StderrParser {
    fn starts_entry(&self, line: &[u8]) -> bool {
        let line = trim_cr(line);
        if line.first().is_none_or(|c| *c == b'\t') {
            return false;
        }
        match self.prefix.matches(self.prefixed_part(line)) {
            Some(m) => !is_follow_up(m.severity),
            None => true,
        }
    }

    fn caps_long_entries(&self) -> bool {
        true
    }

    fn parse(
        &mut self,
        block: &[u8],
        first_line: u64,
        last: bool,
        sink: &mut dyn EntrySink,
    ) -> usize {
        let mut cur: Option<Pending> = None;
        for ((pos, line, ended), line_no) in entry::lines(block).zip(first_line..) {
            let line = trim_cr(line);
            let line_end = pos + line.len();
            if line.first() == Some(&b'\t') {
                match cur.as_mut() {
                    Some(p) if !p.raw => match p.last_follow_up() {
                        Some(f) => f.2 = line_end,
                        None => p.message.1 = line_end,
                    },
                    _ => {
                        if let Some(p) = cur.as_ref() {
                            self.emit(block, p, sink);
                        }
                        sink.problem(ProblemKind::Orphan, line_no);
                        cur = Some(raw_pending(pos, line_end, line_no));
                    }
                }
            } else if line.is_empty() {
                // Blank lines carry nothing.
            } else {
                let prefixed = self.prefixed_part(line);
                match self.prefix.matches(prefixed) {
                    Some(m) => {
                        // Ranges relative to the block.
                        let base = pos + (line.len() - prefixed.len());
                        let (sev_len, severity) = (m.severity_len, m.severity);
                        let msg_start = base + m.rest + sev_len + 3;
                        let pid = parse_pid(m.get(prefixed, Escape::Pid));
                        let attach = is_follow_up(severity)
                            && cur.as_ref().is_some_and(|p| {
                                !p.raw
                                    && (p.pid == pid || p.pid.is_none() || pid.is_none())
                                    && p.n_follow_ups < MAX_FOLLOW_UPS
                            });
                        if attach {
                            if let Some(p) = cur.as_mut() {
                                p.push_follow_up((follow_up_index(severity), msg_start, line_end));
                            }
                        } else {
                            if let Some(p) = cur.as_ref() {
                                self.emit(block, p, sink);
                            }
                            cur = Some(Pending {
                                start: pos,
                                line: line_no,
                                head: (base, line_end),
                                m,
                                severity,
                                pid,
                                message: (msg_start.min(line_end), line_end),
                                follow_ups: [(0, 0, 0); MAX_FOLLOW_UPS],
                                n_follow_ups: 0,
                                raw: false,
                            });
                        }
                    }
                    None => {
                        if let Some(p) = cur.as_ref() {
                            self.emit(block, p, sink);
                        }
                        // Only a line without the prefix can be garbage worth a look.
                        if entry::looks_binary(line) {
                            sink.problem(ProblemKind::Binary, line_no);
                            cur = None;
                        } else {
                            cur = Some(raw_pending(pos, line_end, line_no));
                        }
                    }
                }
            }
            if !ended && last && !line.is_empty() {
                sink.problem(ProblemKind::TruncatedLastLine, line_no);
            }
        }
        match cur {
            Some(p) if !last => p.start,
            Some(p) => {
                self.emit(block, &p, sink);
                block.len()
            }
            None => block.len(),
        }
    }
}

fn raw_pending(start: usize, end: usize, line: u64) -> Pending {
    Pending {
        start,
        line,
        head: (start, end),
        m: PrefixMatch::default(),
        severity: "",
        pid: None,
        message: (start, end),
        follow_ups: [(0, 0, 0); MAX_FOLLOW_UPS],
        n_follow_ups: 0,
        raw: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::entry::ProblemKind;

    type Row = (u64, String, String, Option<String>, Option<String>, bool);

    #[derive(Default)]
    struct Collect {
        entries: Vec<Row>,
        problems: Vec<(ProblemKind, u64)>,
    }
    impl EntrySink for Collect {
        fn entry(&mut self, e: Entry<'_>) {
            self.entries.push((
                e.line,
                e.severity.to_string(),
                e.message.into_owned(),
                e.detail.map(|d| d.into_owned()),
                e.statement.map(|d| d.into_owned()),
                e.raw,
            ));
        }
        fn problem(&mut self, kind: ProblemKind, line: u64) {
            self.problems.push((kind, line));
        }
    }

    #[test]
    fn groups_continuations_follow_ups_and_raw_lines() {
        let log = "2026-11-23 12:10:17.869 UTC [25776] postgres@s06 LOG:  statement: SELECT 1,\n\
                   \t2\r\n\
                   2026-11-23 12:10:17.869 UTC [25776] postgres@s06 ERROR:  boom\n\
                   2026-11-23 12:10:17.869 UTC [25776] postgres@s06 DETAIL:  Key (id)=(1).\n\
                   2026-11-23 12:10:17.869 UTC [25776] postgres@s06 STATEMENT:  INSERT\n\
                   \tINTO t\n\
                   cp: cannot stat 'x': No such file or directory\n\
                   2026-11-23 12:10:29.615 UTC [26400] LOG:  automatic vacuum";
        let mut p = StderrParser::new(
            LinePrefix::compile("%m [%p] %q%u@%d ").unwrap(),
            LogZone::default(),
            false,
        );
        let mut c = Collect::default();
        let used = p.parse(log.as_bytes(), 1, true, &mut c);
        assert_eq!(used, log.len());
        assert_eq!(c.entries.len(), 4);
        assert_eq!(c.entries[0].2, "statement: SELECT 1,\n2");
        assert_eq!(c.entries[1].1, "ERROR");
        assert_eq!(c.entries[1].3.as_deref(), Some("Key (id)=(1)."));
        assert_eq!(c.entries[1].4.as_deref(), Some("INSERT\nINTO t"));
        assert!(c.entries[2].5, "cp line is raw");
        assert_eq!(c.entries[2].0, 7);
        assert_eq!(c.entries[3].0, 8);
        assert_eq!(c.problems, vec![(ProblemKind::TruncatedLastLine, 8)]);

        // Not last: the final entry waits for its possible follow-ups.
        let mut c = Collect::default();
        let used = p.parse(log.as_bytes(), 1, false, &mut c);
        assert_eq!(c.entries.len(), 3);
        assert_eq!(log.get(used..used + 10), Some("2026-11-23"));
    }
}
