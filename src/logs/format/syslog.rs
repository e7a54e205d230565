//! syslog: `Nov 23 12:09:26 host postgres[123]: [5-1] PREFIX LOG:  …` (BSD), the same with an
//! RFC 3339 timestamp (rsyslog's file format) or RFC 5424 (`<134>1 TS HOST APP PROCID MSGID SD`).
//! `[n-m]` numbers the chunks of entry n: a chunk that starts with a TAB (`#011` once rsyslog
//! escaped it) is a new line of the message, any other continues the line PostgreSQL split at
//! its syslog length limit. Lines are rewritten as stderr lines and read by the stderr parser.

use chrono::{DateTime, Utc};
use regex::bytes::Regex;

use crate::logs::entry::{self, EntrySink, ProblemKind, trim_cr};
use crate::logs::format::FormatParser;
use crate::logs::format::stderr::StderrParser;
use crate::logs::format::synthetic::Rewritten;
use crate::logs::prefix::LinePrefix;
use crate::logs::time::{LogZone, parse_bsd_syslog, parse_timestamp};

pub struct SyslogParser {
    inner: StderrParser,
    zone: LogZone,
    year: i32,
    header: Regex,
}

impl SyslogParser {
    pub fn new(prefix: LinePrefix, zone: LogZone, year: i32) -> SyslogParser {
        // The header's time and pid come first, then the server's own prefix.
        let composite = LinePrefix::compile(&format!("%m [%p] {}", prefix.text()))
            .unwrap_or_else(|_| LinePrefix::empty());
        SyslogParser {
            inner: StderrParser::new(composite, LogZone::default(), false),
            zone,
            year,
            header: Regex::new(
                r"^(?:<\d+>)?(?:1 (?P<ts5424>\S+) \S+ \S+ (?P<pid5424>\d+) \S+ (?:-|\[.*?\]) |(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ [^\s\[]+\[(?P<pid>\d+)\]: )\[(?P<seq>\d+)(?:-(?P<chunk>\d+))?\] ?",
            )
            .unwrap_or_else(|_| unreachable!()),
        }
    }

    fn time(&self, ts: &[u8]) -> Option<DateTime<Utc>> {
        if ts.get(4) == Some(&b'-') {
            parse_timestamp(ts, self.zone).map(|(at, _)| at)
        } else {
            parse_bsd_syslog(ts, self.year, self.zone)
        }
    }
}

impl FormatParser for SyslogParser {
    fn parse(
        &mut self,
        block: &[u8],
        first_line: u64,
        last: bool,
        sink: &mut dyn EntrySink,
    ) -> usize {
        let mut out = Rewritten::default();
        for ((pos, line, _), n) in entry::lines(block).zip(first_line..) {
            let line = trim_cr(line);
            if let Some(c) = self.header.captures(line) {
                let rest = c.get(0).and_then(|h| line.get(h.end()..)).unwrap_or(line);
                let chunk = c.name("chunk").map_or(1, |m| {
                    std::str::from_utf8(m.as_bytes())
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(1)
                });
                let (tab, body) = if let Some(b) = rest.strip_prefix(b"#011") {
                    (true, b)
                } else if let Some(b) = rest.strip_prefix(b"\t") {
                    (true, b)
                } else {
                    (false, rest)
                };
                let body = replace_tabs(body);
                if chunk > 1 && !tab && !out.text.is_empty() {
                    // The same line, split at the syslog length limit.
                    out.text.pop();
                    out.text.extend_from_slice(&body);
                    out.text.push(b'\n');
                } else if chunk > 1 || tab {
                    out.start_line(pos, n);
                    out.text.push(b'\t');
                    out.text.extend_from_slice(&body);
                    out.text.push(b'\n');
                } else {
                    let ts = c
                        .name("ts")
                        .or(c.name("ts5424"))
                        .map(|m| m.as_bytes())
                        .unwrap_or(b"");
                    let pid = c
                        .name("pid")
                        .or(c.name("pid5424"))
                        .map(|m| m.as_bytes())
                        .unwrap_or(b"0");
                    out.start_line(pos, n);
                    match self.time(ts) {
                        Some(at) => out.text.extend_from_slice(
                            at.format("%Y-%m-%d %H:%M:%S%.6f UTC")
                                .to_string()
                                .as_bytes(),
                        ),
                        None => {
                            sink.problem(ProblemKind::BadTimestamp, n);
                            out.text.extend_from_slice(b"1970-01-01 00:00:00 UTC");
                        }
                    }
                    out.text.extend_from_slice(b" [");
                    out.text.extend_from_slice(pid);
                    out.text.extend_from_slice(b"] ");
                    out.text.extend_from_slice(&body);
                    out.text.push(b'\n');
                }
            } else if !line.is_empty() {
                // Not from PostgreSQL (another program's syslog line): kept raw.
                out.start_line(pos, n);
                out.text
                    .extend_from_slice(line.strip_prefix(b"\t").unwrap_or(line));
                out.text.push(b'\n');
            }
        }
        out.parse_with(&mut self.inner, block.len(), last, sink)
    }

    fn starts_entry(&self, line: &[u8]) -> bool {
        self.header
            .captures(line)
            .and_then(|c| c.name("chunk").map(|m| m.as_bytes() == b"1"))
            .unwrap_or(true)
    }
}

fn replace_tabs(b: &[u8]) -> Vec<u8> {
    if memchr::memmem::find(b, b"#011").is_none() {
        return b.to_vec();
    }
    let mut out = Vec::with_capacity(b.len());
    let mut rest = b;
    while let [c, tail @ ..] = rest {
        if let Some(after) = rest.strip_prefix(b"#011") {
            out.push(b'\t');
            rest = after;
        } else {
            out.push(*c);
            rest = tail;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::entry::Entry;

    #[derive(Default)]
    struct Collect(Vec<(u64, Option<i32>, String, Option<String>)>);
    impl EntrySink for Collect {
        fn entry(&mut self, e: Entry<'_>) {
            self.0.push((
                e.line,
                e.pid,
                e.message.into_owned(),
                e.at.map(|a| a.to_rfc3339()),
            ));
        }
        fn problem(&mut self, _: ProblemKind, _: u64) {}
    }

    #[test]
    fn bsd_rfc3339_and_rfc5424_headers_with_chunks() {
        let log = "Nov 23 12:09:26 db1 postgres[123]: [5-1] app@shop LOG:  statement: SELECT 1,\n\
                   Nov 23 12:09:26 db1 postgres[123]: [5-2] #0112\n\
                   2026-11-23T12:09:27.250+01:00 db1 postgres[124]: [6-1] app@shop LOG:  statement: SELECT 'a\n\
                   2026-11-23T12:09:27.250+01:00 db1 postgres[124]: [6-2] bc'\n\
                   <134>1 2026-11-23T12:09:28.000Z db1 postgres 125 - - [7-1] LOG:  checkpoint starting: time\n";
        let mut p = SyslogParser::new(
            LinePrefix::compile("%q%u@%d ").unwrap_or_else(|_| LinePrefix::empty()),
            LogZone::default(),
            2026,
        );
        let mut c = Collect::default();
        p.parse(log.as_bytes(), 1, true, &mut c);
        assert_eq!(c.0.len(), 3, "{:?}", c.0);
        assert_eq!(c.0[0].2, "statement: SELECT 1,\n2");
        assert_eq!(c.0[0].3.as_deref(), Some("2026-11-23T12:09:26+00:00"));
        assert_eq!(c.0[1].2, "statement: SELECT 'abc'");
        assert_eq!(c.0[1].3.as_deref(), Some("2026-11-23T11:09:27.250+00:00"));
        assert_eq!((c.0[2].0, c.0[2].1), (5, Some(125)));
    }
}
