//! syslog: `Nov 23 12:09:26 host postgres[123]: [5-1] PREFIX LOG:  …` (BSD), the same with an
//! RFC 3339 timestamp (rsyslog's file format) or RFC 5424 (`<134>1 TS HOST APP PROCID MSGID SD`).
//! `[n-m]` numbers the chunks of entry n: a chunk that starts with a TAB (`#011` once rsyslog
//! escaped it) is a new line of the message, any other continues the line PostgreSQL split at
//! its syslog length limit. Lines are rewritten as stderr lines and read by the stderr parser.

use chrono::{DateTime, Utc};
use regex::bytes::Regex;

use crate::logs::entry::{EntrySink, ProblemKind, trim_cr};
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
        let mut pos = 0;
        let mut n = first_line;
        while pos < block.len() {
            let end = memchr::memchr(b'\n', &block[pos..]).map_or(block.len(), |i| pos + i);
            let line = trim_cr(&block[pos..end]);
            if let Some(c) = self.header.captures(line) {
                let rest = &line[c.get(0).map_or(0, |m| m.end())..];
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
            pos = end + 1;
            n += 1;
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
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"#011") {
            out.push(b'\t');
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}
