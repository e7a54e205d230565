//! One server-log entry, whatever format it came from: what every format parser produces and the
//! classifier reads. Borrowed from the input where it can be (the hot path), owned otherwise.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

/// A complete log entry: the message with its DETAIL/HINT/QUERY/CONTEXT/STATEMENT follow-ups.
#[derive(Debug, Clone, Default)]
pub struct Entry<'a> {
    /// 1-based line (stderr, syslog) or record start line (csv, json) in its file.
    pub line: u64,
    pub at: Option<DateTime<Utc>>,
    pub pid: Option<i32>,
    pub session_id: Option<Cow<'a, str>>,
    pub user: Option<Cow<'a, str>>,
    pub database: Option<Cow<'a, str>>,
    pub application: Option<Cow<'a, str>>,
    pub host: Option<Cow<'a, str>>,
    pub backend_type: Option<Cow<'a, str>>,
    /// `LOG`, `ERROR`, …; empty for a raw (unprefixed) line.
    pub severity: &'static str,
    pub sqlstate: Option<Cow<'a, str>>,
    pub message: Cow<'a, str>,
    pub detail: Option<Cow<'a, str>>,
    pub hint: Option<Cow<'a, str>>,
    pub query: Option<Cow<'a, str>>,
    pub context: Option<Cow<'a, str>>,
    pub statement: Option<Cow<'a, str>>,
    /// A line without a prefix: a `restore_command`'s output, `pg_ctl`, a crash dump.
    pub raw: bool,
}

/// The severity words, as static strings (so an entry does not own them).
pub fn severity_name(word: &[u8]) -> &'static str {
    match word {
        b"LOG" => "LOG",
        b"ERROR" => "ERROR",
        b"FATAL" => "FATAL",
        b"PANIC" => "PANIC",
        b"WARNING" => "WARNING",
        b"NOTICE" => "NOTICE",
        b"INFO" => "INFO",
        b"DEBUG" | b"DEBUG1" | b"DEBUG2" | b"DEBUG3" | b"DEBUG4" | b"DEBUG5" => "DEBUG",
        b"STATEMENT" => "STATEMENT",
        b"DETAIL" => "DETAIL",
        b"HINT" => "HINT",
        b"QUERY" => "QUERY",
        b"CONTEXT" => "CONTEXT",
        b"LOCATION" => "LOCATION",
        b"BACKTRACE" => "BACKTRACE",
        _ => "UNKNOWN",
    }
}

/// Follow-up lines that belong to the entry before them (same process).
pub fn is_follow_up(severity: &str) -> bool {
    matches!(
        severity,
        "STATEMENT" | "DETAIL" | "HINT" | "QUERY" | "CONTEXT" | "LOCATION" | "BACKTRACE"
    )
}

/// Problems met while reading, reported in `Timeline.problems` (never silently dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProblemKind {
    NotUtf8,
    Binary,
    BadRecord,
    BadTimestamp,
    TruncatedLastLine,
    Orphan,
    CorruptStream,
    LongLine,
    LongEntry,
}

impl ProblemKind {
    pub fn describe(self) -> &'static str {
        match self {
            ProblemKind::NotUtf8 => "lines not valid UTF-8 (read with replacement characters)",
            ProblemKind::Binary => "lines of binary garbage (skipped)",
            ProblemKind::BadRecord => "records that do not parse in this format (skipped)",
            ProblemKind::BadTimestamp => {
                "entries with a timestamp that could not be read (kept without a time; give --log-timezone if the zone is unknown)"
            }
            ProblemKind::TruncatedLastLine => {
                "last line without a newline (file cut short; read as is)"
            }
            ProblemKind::CorruptStream => {
                "the compressed stream is corrupt from this line on: the rest of the file could not be read"
            }
            ProblemKind::LongLine => {
                "lines longer than 4 MiB (their first 4 MiB kept and marked `[pgtriage: line truncated, …]`, the rest not read)"
            }
            ProblemKind::LongEntry => {
                "entries of many lines longer than 4 MiB in all (their first 4 MiB of whole lines kept and marked `[pgtriage: entry truncated, …]`, the rest of their lines not read)"
            }
            ProblemKind::Orphan => {
                "continuation or follow-up lines with no entry before them (kept as raw lines)"
            }
        }
    }
}

/// What a parser hands its entries and problems to.
pub trait EntrySink {
    fn entry(&mut self, entry: Entry<'_>);
    fn problem(&mut self, kind: ProblemKind, line: u64);
    /// Whether an entry with this severity and (first line of its) message is worth building;
    /// when not, the parser only reports its time with `seen`.
    fn wants(&self, _severity: &'static str, _message: &[u8]) -> bool {
        true
    }
    fn seen(&mut self, _at: Option<DateTime<Utc>>) {}
    /// Whether an entry with this severity and (one-line) message comes to nothing whatever its
    /// other fields and follow-ups say, so that, when building it would report no problem either,
    /// the parser may report only its time with `seen`.
    fn ignores(&self, _severity: &'static str, _message: &[u8]) -> bool {
        false
    }
}

/// Text from log bytes: borrowed when valid UTF-8, else lossy (and counted).
pub fn text<'a>(b: &'a [u8], line: u64, sink: &mut dyn EntrySink) -> Cow<'a, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            sink.problem(ProblemKind::NotUtf8, line);
            String::from_utf8_lossy(b)
        }
    }
}

/// Text of a part spanning several physical lines: PostgreSQL writes an embedded newline as
/// `\n\t`; the TAB goes, a CR before the newline goes.
pub fn multiline_text<'a>(b: &'a [u8], line: u64, sink: &mut dyn EntrySink) -> Cow<'a, str> {
    if memchr::memchr(b'\n', b).is_none() {
        return text(trim_cr(b), line, sink);
    }
    let mut out = Vec::with_capacity(b.len());
    for (i, part) in b.split(|c| *c == b'\n').enumerate() {
        let part = trim_cr(part);
        if i > 0 {
            out.push(b'\n');
            out.extend_from_slice(part.strip_prefix(b"\t").unwrap_or(part));
        } else {
            out.extend_from_slice(part);
        }
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => {
            sink.problem(ProblemKind::NotUtf8, line);
            Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned())
        }
    }
}

/// The lines of `block`: each one's offset in the block, its bytes without the `\n`, and whether
/// a `\n` ended it (only the last line may lack one). A `\n` at the very end starts no line.
pub fn lines(block: &[u8]) -> impl Iterator<Item = (usize, &[u8], bool)> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let rest = block.get(pos..).filter(|r| !r.is_empty())?;
        let start = pos;
        let (line, ended) =
            match memchr::memchr(b'\n', rest).and_then(|nl| rest.split_at_checked(nl)) {
                Some((line, _)) => (line, true),
                None => (rest, false),
            };
        pos += line.len() + usize::from(ended);
        Some((start, line, ended))
    })
}

pub fn trim_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// A line that is mostly control bytes is garbage, not a log line.
pub fn looks_binary(b: &[u8]) -> bool {
    if memchr::memchr(0, b).is_some() {
        return true;
    }
    let control = b
        .iter()
        .filter(|c| **c < 0x20 && !matches!(**c, b'\t' | b'\r' | b'\n' | 0x1b))
        .count();
    control > 0 && control * 8 > b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_give_offsets_and_whether_a_newline_ended_them() {
        let got: Vec<_> = lines(b"a\r\n\nbc").collect();
        assert_eq!(
            got,
            vec![
                (0, &b"a\r"[..], true),
                (3, &b""[..], true),
                (4, &b"bc"[..], false)
            ]
        );
        // A final newline starts no empty line; an empty block has none.
        assert_eq!(
            lines(b"a\n").collect::<Vec<_>>(),
            vec![(0, &b"a"[..], true)]
        );
        assert_eq!(lines(b"").count(), 0);
    }
}
