//! Drives the parsers over one file: streamed in blocks (memory bounded by the kept events), or,
//! for large plain files, cut at entry boundaries into parts read on all cores; `--since/--until`
//! bisect a plain file on its timestamps so the lines outside the window are never parsed.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::error::UserError;
use crate::evidence::{LogEvent, LogProblem, LogSource};
use crate::logs::assemble::{Assembler, ChunkOutput};
use crate::logs::classify::CountKind;
use crate::logs::entry::{Entry, EntrySink, ProblemKind};
use crate::logs::format::{FormatParser, LogFormat};
use crate::logs::infer::{self, Detected};
use crate::logs::input::{self, Compression, InputFile};
use crate::logs::sessions;
use crate::logs::time::LogZone;

const BLOCK: usize = 1 << 20;
const SAMPLE: usize = 256 << 10;
/// Below this a plain file is read in one stream; above it, in parts of at least this size.
pub const DEFAULT_PART_BYTES: u64 = 8 << 20;

/// How to read the inputs (from `LogOptions`).
#[derive(Debug, Clone)]
pub struct ReadSettings {
    pub format: Option<LogFormat>,
    pub prefix: Option<String>,
    pub zone: LogZone,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Year for BSD syslog timestamps, which have none.
    pub syslog_year: i32,
    pub threads: usize,
    /// Size of the parts a plain file is cut into (a file smaller than two parts is streamed).
    pub part_bytes: u64,
    /// `prefix` came from the database, not the user: when it does not fit, infer instead.
    pub prefix_from_database: bool,
    /// Hash (and count the lines of) the whole file even when `since/until` read only a part.
    pub hash_all: bool,
}

/// One file's share of the timeline.
#[derive(Debug)]
pub struct FileResult {
    pub source: LogSource,
    pub events: Vec<LogEvent>,
    pub counts: HashMap<(i64, CountKind), HashMap<String, u64>>,
    pub problems: Vec<LogProblem>,
    /// What each part of the file left of its sessions, settled by [`settle_sessions`] together
    /// with the files rotated before and after it (a transaction can span a rotation).
    pub sessions: SessionParts,
}

/// A file's parts' session reports: (offset of the part's events, report, name of its lines).
#[derive(Default)]
pub struct SessionParts(pub Vec<(usize, sessions::ChunkSessions, sessions::SourceName)>);

impl std::fmt::Debug for SessionParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionParts({} parts)", self.0.len())
    }
}

/// Settles the sessions of files that are one server's log in time order (a rotated set):
/// what one file leaves open is carried into the next, so a BEGIN before a rotation and its
/// COMMIT after it make one committed transaction. A single file is settled on its own.
pub fn settle_sessions(files: &mut [&mut FileResult]) {
    // Sessions are keyed by `%c` (start and pid) where the format has it, else by pid. A set
    // that mixes both (a csvlog after rotated stderr files without `%c`) is keyed by pid alone,
    // which both name.
    let by_session_id = |f: &FileResult| {
        matches!(f.source.format.as_str(), "csvlog" | "jsonlog")
            || f.source
                .line_prefix
                .as_deref()
                .is_some_and(|p| p.contains("%c"))
    };
    let keyed: Vec<bool> = files
        .iter()
        .filter(|f| !f.sessions.0.is_empty())
        .map(|f| by_session_id(f))
        .collect();
    if keyed.iter().any(|k| *k) && keyed.iter().any(|k| !*k) {
        for f in files.iter_mut() {
            for (_, chunk, _) in &mut f.sessions.0 {
                chunk.heads.iter_mut().for_each(|(k, _)| *k &= 0xffff_ffff);
                chunk.tails.iter_mut().for_each(|(k, _)| *k &= 0xffff_ffff);
            }
        }
    }
    let mut events: Vec<LogEvent> = Vec::new();
    let mut parts = Vec::new();
    let mut lens = Vec::new();
    for f in files.iter_mut() {
        let base = events.len();
        lens.push(f.events.len());
        events.append(&mut f.events);
        for (off, chunk, name) in std::mem::take(&mut f.sessions.0) {
            parts.push((off + base, chunk, name));
        }
    }
    sessions::merge(parts, &mut events);
    let mut rest = events.into_iter();
    for (f, n) in files.iter_mut().zip(lens) {
        f.events = rest.by_ref().take(n).collect();
    }
    // Events settling made (a COMMIT or ROLLBACK closing a carried transaction): they cite
    // their own lines, and the timeline is sorted by time after this, so any file may hold them.
    if let Some(last) = files.last_mut() {
        last.events.extend(rest);
    }
}

pub fn make_parser(d: &Detected, s: &ReadSettings) -> Box<dyn FormatParser> {
    use crate::logs::format::*;
    let prefix = d.prefix.clone();
    match d.format {
        LogFormat::Csvlog => Box::new(csvlog::CsvParser::new(s.zone)),
        LogFormat::Jsonlog => Box::new(jsonlog::JsonParser::new(s.zone)),
        LogFormat::CloudSql => Box::new(cloudsql::CloudSqlParser::new(s.zone, s.prefix.as_deref())),
        LogFormat::Syslog => Box::new(syslog::SyslogParser::new(
            prefix.unwrap_or_else(crate::logs::prefix::LinePrefix::empty),
            s.zone,
            s.syslog_year,
        )),
        LogFormat::Stderr | LogFormat::Rds => Box::new(stderr::StderrParser::new(
            prefix.unwrap_or_else(crate::logs::prefix::LinePrefix::empty),
            s.zone,
            d.leading_timestamp,
        )),
    }
}

/// The longest line kept whole. PostgreSQL logs statements of up to 1 GB on one line (any client
/// can send one); past this only the head is kept (what classifying it needs), the rest is read
/// and dropped, the line is marked and counted, so time is linear and memory bounded whatever
/// the line length, compressed or not.
pub const MAX_LINE: usize = 4 << 20;

/// What replaces the dropped part of an over-long line.
fn truncation_mark(dropped: u64) -> Vec<u8> {
    format!(" [pgtriage: line truncated, {dropped} more bytes not read]").into_bytes()
}

/// What replaces the dropped lines of an over-long entry of many lines (a TAB continuation, so
/// it stays part of the entry's text).
fn entry_truncation_mark(lines: u64, bytes: u64) -> Vec<u8> {
    format!("\t[pgtriage: entry truncated, {lines} more lines ({bytes} bytes) not read]\n")
        .into_bytes()
}

/// An entry of many lines being dropped after its head: the head is kept aside until the line
/// that starts the next entry is found, then handed to the parser, marked, as one whole entry.
/// Without this the parser is handed the growing entry again with every block (quadratic).
struct EntrySkip {
    head: Vec<u8>,
    /// Number of the head's first line.
    head_line: u64,
    /// Line breaks and bytes dropped so far.
    lines: u64,
    bytes: u64,
    /// Inside a dropped line too long to keep in the buffer: drop up to its line break.
    mid_line: bool,
}

impl EntrySkip {
    /// Drops the entry's lines at the start of `buf`; true when the next entry's first line (or
    /// the end of the input) was reached, which is then left at the start of `buf`.
    fn drop_lines(&mut self, buf: &mut Vec<u8>, parser: &dyn FormatParser, eof: bool) -> bool {
        let mut rest: &[u8] = buf;
        let done = loop {
            if self.mid_line {
                match split_line(rest) {
                    Some((_, next)) => {
                        rest = next;
                        self.lines += 1;
                        self.mid_line = false;
                    }
                    None => {
                        rest = &[];
                        break eof;
                    }
                }
                continue;
            }
            match split_line(rest) {
                Some((line, next)) => {
                    if parser.starts_entry(line) {
                        break true;
                    }
                    rest = next;
                    self.lines += 1;
                }
                None if eof => {
                    // An unterminated last line: the parser reads it if it begins an entry.
                    if !rest.is_empty() && !parser.starts_entry(rest) {
                        rest = &[];
                        self.lines += 1;
                    }
                    break true;
                }
                None => {
                    // A partial line: kept for the next block unless it is too long to keep, in
                    // which case its head tells whether it begins an entry.
                    if rest.len() > MAX_LINE {
                        if parser.starts_entry(head(rest, 4096)) {
                            break true;
                        }
                        rest = &[];
                        self.mid_line = true;
                    }
                    break false;
                }
            }
        };
        let pos = buf.len() - rest.len();
        self.bytes += pos as u64;
        buf.drain(..pos);
        done
    }

    /// Hands the head, marked, to the parser as one whole entry; returns the number of the line
    /// after the dropped ones.
    fn finish(&self, parser: &mut dyn FormatParser, sink: &mut dyn EntrySink) -> u64 {
        let mut entry = self.head.clone();
        entry.extend_from_slice(&entry_truncation_mark(self.lines, self.bytes));
        sink.problem(ProblemKind::LongEntry, self.head_line);
        parser.parse(&entry, self.head_line, true, sink);
        self.head_line + lines_in(&self.head) + self.lines
    }
}

/// Feeds a stream to a parser in blocks of whole lines. Returns the lines read.
fn drive(
    reader: &mut dyn Read,
    parser: &mut dyn FormatParser,
    sink: &mut dyn EntrySink,
    limit: Option<u64>,
    progress: Option<&indicatif::ProgressBar>,
) -> u64 {
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK * 2);
    let mut line = 1u64;
    let mut lines = 0u64;
    let mut eof = false;
    let mut taken = 0u64;
    // Where the unterminated last line of `buf` starts (kept up to date, never searched for
    // again: a search over the whole buffer per block is what made long lines quadratic).
    let mut tail_start = 0usize;
    // Bytes of an over-long line dropped so far.
    let mut dropping: Option<u64> = None;
    let mut skipping: Option<EntrySkip> = None;
    while !eof {
        let room = limit.map_or(BLOCK as u64, |l| (l - taken).min(BLOCK as u64)) as usize;
        let old = buf.len();
        let got = match fill(reader, &mut buf, room) {
            Ok(got) => got,
            Err(got) => {
                // The line the stream broke in, not the first line of the block.
                sink.problem(ProblemKind::CorruptStream, line + lines_in(&buf));
                eof = true;
                got
            }
        };
        taken += got as u64;
        if let Some(p) = progress {
            p.inc(got as u64);
        }
        if got == 0 || limit.is_some_and(|l| taken >= l) {
            eof = true;
        }
        let mut old = old;
        if let Some(skip) = skipping.as_mut() {
            if !skip.drop_lines(&mut buf, parser, eof) {
                continue;
            }
            if let Some(skip) = skipping.take() {
                let head_lines = lines_in(&skip.head);
                line = skip.finish(parser, sink);
                lines += head_lines + skip.lines;
            }
            // All of the buffer is now unread lines, from the next entry's first line on.
            tail_start = 0;
            old = 0;
        }
        if let Some(dropped) = dropping {
            match memchr::memchr(b'\n', tail(&buf, old)) {
                None => {
                    dropping = Some(dropped + (buf.len() - old) as u64);
                    buf.truncate(old);
                    if !eof {
                        continue;
                    }
                    let mark = truncation_mark(dropped + got as u64);
                    buf.extend_from_slice(&mark);
                    dropping = None;
                }
                Some(i) => {
                    buf.drain(old..old + i);
                    let mark = truncation_mark(dropped + i as u64);
                    buf.splice(old..old, mark);
                    dropping = None;
                }
            }
        }
        let fresh = old.min(buf.len());
        let upto = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', tail(&buf, fresh)) {
                Some(i) => {
                    tail_start = fresh + i + 1;
                    tail_start
                }
                None => {
                    if buf.len() - tail_start > MAX_LINE {
                        sink.problem(
                            ProblemKind::LongLine,
                            line + lines_in(head(&buf, tail_start)),
                        );
                        let cut = tail_start + MAX_LINE;
                        // On a character boundary, so the head stays valid UTF-8.
                        let cut = (cut.saturating_sub(3)..=cut)
                            .rev()
                            .find(|&c| buf.get(c).is_none_or(|b| b & 0xC0 != 0x80))
                            .unwrap_or(cut);
                        dropping = Some((buf.len() - cut) as u64);
                        buf.truncate(cut);
                    }
                    continue;
                }
            }
        };
        let used = parser.parse(head(&buf, upto), line, eof, sink);
        let n = lines_in(head(&buf, used));
        line += n;
        lines += n;
        if eof && used < buf.len() {
            // The parser left an unterminated tail: count it as a line.
            lines += 1;
        } else if eof && used == buf.len() && !buf.is_empty() && buf.last() != Some(&b'\n') {
            lines += 1;
        }
        buf.drain(..used);
        tail_start = tail_start.saturating_sub(used);
        // The parser keeps an entry of many lines whole until its end: past the cap its head
        // (whole lines) is set aside and the rest of its lines dropped as they come.
        if !eof && parser.caps_long_entries() && upto - used > MAX_LINE {
            let kept = match memchr::memrchr(b'\n', head(&buf, MAX_LINE)) {
                Some(i) => i + 1,
                None => memchr::memchr(b'\n', &buf).map_or(buf.len(), |i| i + 1),
            };
            let head: Vec<u8> = buf.drain(..kept).collect();
            skipping = Some(EntrySkip {
                head,
                head_line: line,
                lines: 0,
                bytes: 0,
                mid_line: false,
            });
            tail_start = 0;
            if let Some(skip) = skipping.as_mut() {
                // What is already in the buffer is dropped now; the rest with the next blocks.
                let _ = skip.drop_lines(&mut buf, parser, false);
            }
        }
    }
    lines
}

fn lines_in(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

/// At most the first `n` bytes of `b`.
fn head(b: &[u8], n: usize) -> &[u8] {
    b.get(..n).unwrap_or(b)
}

/// The bytes of `b` from `at` on (none past its end).
fn tail(b: &[u8], at: usize) -> &[u8] {
    b.get(at..).unwrap_or_default()
}

/// `b` cut at its first line break: the line (without it) and what follows it.
fn split_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (line, rest) = b.split_at_checked(memchr::memchr(b'\n', b)?)?;
    Some((line, rest.strip_prefix(b"\n")?))
}

/// Appends up to `room` bytes read from `reader` to `buf` and says how many; `Err` with that
/// number when the stream broke (what was read before stays).
fn fill(reader: &mut dyn Read, buf: &mut Vec<u8>, room: usize) -> Result<usize, usize> {
    let old = buf.len();
    buf.resize(old + room, 0);
    let mut got = 0;
    let read = loop {
        let Some(space) = buf.get_mut(old + got..).filter(|s| !s.is_empty()) else {
            break Ok(got);
        };
        match reader.read(space) {
            Ok(0) => break Ok(got),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break Err(got),
        }
    };
    buf.truncate(old + got);
    read
}

/// The next block of `f` read into `buf` (empty at the end), retried when interrupted.
fn read_block<'b>(f: &mut impl Read, buf: &'b mut [u8]) -> std::io::Result<&'b [u8]> {
    loop {
        match f.read(buf) {
            Ok(n) => {
                let block: &'b [u8] = buf;
                return Ok(head(block, n));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The first timestamp of an entry that starts in `bytes` (after its first line break).
fn first_time_in(bytes: &[u8], d: &Detected, s: &ReadSettings) -> Option<DateTime<Utc>> {
    struct First(Option<DateTime<Utc>>);
    impl EntrySink for First {
        fn entry(&mut self, e: Entry<'_>) {
            if self.0.is_none() {
                self.0 = e.at;
            }
        }
        fn problem(&mut self, _: ProblemKind, _: u64) {}
    }
    let (_, entries) = split_line(bytes)?;
    let mut sink = First(None);
    let mut parser = make_parser(d, s);
    parser.parse(entries, 1, true, &mut sink);
    sink.0
}

/// Offset of the first entry boundary at or after `offset`.
fn boundary_after(
    file: &mut File,
    offset: u64,
    size: u64,
    parser: &dyn FormatParser,
) -> std::io::Result<u64> {
    if offset == 0 {
        return Ok(0);
    }
    let mut pos = offset;
    while pos < size {
        let window = input::read_at(file, pos, 256 << 10)?;
        if window.is_empty() {
            break;
        }
        let Some((_, mut rest)) = split_line(&window) else {
            pos += window.len() as u64;
            continue;
        };
        // Whole lines only: an unterminated last one is read again at the next window's start.
        while let Some((line, next)) = split_line(rest) {
            if parser.starts_entry(line) {
                return Ok(pos + (window.len() - rest.len()) as u64);
            }
            rest = next;
        }
        pos += (window.len() - rest.len()) as u64;
    }
    Ok(size)
}

/// Timestamps of different processes are written slightly out of order: bisecting allows this
/// much (seconds) on each side of the window.
const BISECT_MARGIN_S: i64 = 10;

/// Bisects a plain file for the first entry at or after `t` (with a margin for the small
/// disorder of timestamps written by different processes, `BISECT_MARGIN_S`).
fn bisect(
    file: &mut File,
    size: u64,
    t: DateTime<Utc>,
    d: &Detected,
    s: &ReadSettings,
) -> std::io::Result<u64> {
    let target = t - chrono::Duration::seconds(BISECT_MARGIN_S);
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > (256 << 10) {
        let mid = lo + (hi - lo) / 2;
        let window = input::read_at(file, mid, 256 << 10)?;
        match first_time_in(&window, d, s) {
            Some(at) if at < target => lo = mid,
            Some(_) => hi = mid,
            None => break,
        }
    }
    Ok(lo)
}

/// Reads one input into its share of the timeline.
pub fn read_file(
    file: &InputFile,
    s: &ReadSettings,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<FileResult, UserError> {
    let mut opened = input::open(file)?;
    let compression = opened.compression;
    let mut sample = Vec::with_capacity(SAMPLE);
    let mut problems: Vec<LogProblem> = Vec::new();
    if let Err(e) = (&mut opened.reader)
        .take(SAMPLE as u64)
        .read_to_end(&mut sample)
    {
        let read = lines_in(&sample);
        problems.push(LogProblem {
            path: file.display.clone(),
            line: Some(read + 1),
            count: 1,
            message: format!(
                "{} stream is cut short or corrupt after {read} complete lines ({e}); those were read (and a cut-off last line, if any), the rest could not be",
                opened.compression.name()
            ),
        });
    }
    if sample.is_empty() {
        // Normal right after rotation: nothing to read, and nothing wrong.
        let detected = Detected {
            format: s.format.unwrap_or(LogFormat::Stderr),
            prefix: None,
            leading_timestamp: false,
            warning: None,
        };
        let mut result = assemble_file(file, None, &detected, compression, Vec::new(), 0);
        let (sha, bytes) = {
            let d = std::mem::take(
                &mut *opened
                    .digest
                    .lock()
                    .map_err(|_| UserError::new("digest lock poisoned"))?,
            );
            let bytes = d.bytes;
            (d.hex(), bytes)
        };
        result.source.sha256 = Some(sha);
        result.source.bytes = bytes;
        problems.push(LogProblem {
            path: file.display.clone(),
            line: None,
            count: 0,
            message: "empty file (normal right after log rotation): nothing to read".into(),
        });
        result.problems = problems;
        return Ok(result);
    }
    // A full sample may end inside a line: only its whole lines are read.
    let sample_lines = match memchr::memrchr(b'\n', &sample) {
        Some(i) if sample.len() >= SAMPLE => head(&sample, i + 1),
        _ => &sample,
    };
    let detected = match infer::detect(sample_lines, &file.display, s.format, s.prefix.as_deref()) {
        Ok(d) => d,
        // The database's own setting is a hint: a log from another server, or written before
        // the setting changed, is read by inference instead, and that is said.
        Err(e) if s.prefix_from_database => {
            let d = infer::detect(sample_lines, &file.display, s.format, None).map_err(|_| e)?;
            problems.push(LogProblem {
                path: file.display.clone(),
                line: None,
                count: 0,
                message: format!(
                    "the database's log_line_prefix {:?} does not fit this log (from another server, or the setting changed since); read with the inferred {:?} instead",
                    s.prefix.as_deref().unwrap_or(""),
                    d.prefix.as_ref().map(|p| p.text()).unwrap_or("")
                ),
            });
            d
        }
        Err(e) => return Err(e),
    };
    if let Some(w) = &detected.warning {
        problems.push(LogProblem {
            path: file.display.clone(),
            line: None,
            count: 0,
            message: w.clone(),
        });
    }
    let split = match (&file.path, opened.size) {
        (Some(p), Some(size))
            if detected.format.splittable()
                && ((size >= 2 * s.part_bytes && s.threads > 1)
                    || s.since.is_some()
                    || s.until.is_some()) =>
        {
            Some((p.clone(), size))
        }
        _ => None,
    };
    let mut read_range = None;
    let mut cite = None;
    let (chunks, sha, bytes, lines, line_base) = match split {
        Some((path, size)) => {
            drop(opened);
            let parts = plan_parts(&path, size, &detected, s)?;
            let lo = parts.first().map_or(0, |p| p.0);
            let hi = parts.last().map_or(size, |p| p.1);
            // A window that skips part of the file hashes what it read, not what it skipped
            // (chain of custody: the hash of what was examined), unless `--hash-all`.
            let windowed = lo > 0 || hi < size;
            let whole = !windowed || s.hash_all;
            let (counted, outs) = rayon::join(
                || {
                    if whole {
                        hash_and_count(&path, lo, windowed.then_some(hi))
                    } else {
                        hash_range(&path, lo, hi)
                    }
                },
                || {
                    parts
                        .par_iter()
                        .map(|&(a, b)| parse_part(&path, a, b, &detected, s, progress))
                        .collect::<Vec<_>>()
                },
            );
            let cannot =
                |e: std::io::Error| UserError::new(format!("{}: cannot read: {e}", file.display));
            let counted = counted.map_err(cannot)?;
            let mut chunks = Vec::new();
            for o in outs {
                chunks.push(o.map_err(cannot)?);
            }
            read_range = counted
                .range
                .map(|(sha256, lines)| crate::evidence::ReadRange {
                    start: lo,
                    end: hi,
                    sha256,
                    lines,
                });
            if !whole {
                // Lines before the range were not read: places are counted from its start.
                cite = Some(format!("{}@{lo}", file.display));
            }
            (
                chunks,
                counted.sha256,
                size,
                counted.lines,
                counted.lines_before,
            )
        }
        None => {
            // A regular file is hashed by a second reader on its own thread (I/O and SHA-256
            // off the parsing thread), as the split path does; stdin and pipes are hashed as
            // they stream, since they can be read only once.
            let regular = file
                .path
                .as_ref()
                .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()));
            let hashing = regular.and_then(|p| {
                let p = p.clone();
                let h = std::thread::Builder::new()
                    .name("sha256".into())
                    .spawn(move || input::hash_file(&p))
                    .ok()?;
                if let Ok(mut d) = opened.digest.lock() {
                    d.hashed_elsewhere = true;
                }
                Some(h)
            });
            let mut parser = make_parser(&detected, s);
            let mut sink = Assembler::new(s.since, s.until);
            let mut stream = std::io::Cursor::new(sample).chain(opened.reader);
            let lines = drive(&mut stream, parser.as_mut(), &mut sink, None, progress);
            let out = sink.finish();
            let digest = std::mem::take(
                &mut *opened
                    .digest
                    .lock()
                    .map_err(|_| UserError::new("digest lock poisoned"))?,
            );
            let (sha, bytes) = match hashing {
                Some(h) => h
                    .join()
                    .map_err(|_| UserError::new(format!("{}: hashing failed", file.display)))??,
                None => {
                    let bytes = digest.bytes;
                    (digest.hex(), bytes)
                }
            };
            (vec![(out, lines)], Some(sha), bytes, lines, 0)
        }
    };
    let mut result = assemble_file(file, cite, &detected, compression, chunks, line_base);
    result.source.sha256 = sha;
    result.source.bytes = bytes;
    result.source.lines = lines;
    result.source.read_range = read_range;
    problems.append(&mut result.problems);
    result.problems = problems;
    Ok(result)
}

/// Byte ranges to parse: the `--since/--until` window, cut at entry boundaries.
fn plan_parts(
    path: &Path,
    size: u64,
    d: &Detected,
    s: &ReadSettings,
) -> Result<Vec<(u64, u64)>, UserError> {
    let err = |e: std::io::Error| UserError::new(format!("{}: cannot read: {e}", path.display()));
    let mut f = File::open(path).map_err(err)?;
    let parser = make_parser(d, s);
    let mut lo = 0;
    let mut hi = size;
    if let Some(t) = s.since {
        lo = bisect(&mut f, size, t, d, s).map_err(err)?;
        lo = boundary_after(&mut f, lo, size, parser.as_ref()).map_err(err)?;
    }
    if let Some(t) = s.until {
        let at = bisect(
            &mut f,
            size,
            t + chrono::Duration::seconds(2 * BISECT_MARGIN_S),
            d,
            s,
        )
        .map_err(err)?;
        // `bisect` gives a place before the first entry at t + margin; the window of 256 KiB
        // after it holds that entry, so everything up to t is before the cut.
        let end = boundary_after(&mut f, at + (256 << 10), size, parser.as_ref()).map_err(err)?;
        hi = end.max(lo);
    }
    let span = hi - lo;
    // Up to 4 parts a thread: 16 measured no faster (bench-logs.sh, 257 MB, 2 cores, 3 rounds:
    // 0.78 s against 0.79 s on 2 threads, 0.90 against 0.91 on 1). Any number of parts gives
    // the streamed timeline (tests/logs_samples.rs cuts logs into up to 64).
    let n = ((span / s.part_bytes.max(1)) as usize).clamp(1, s.threads.max(1) * 4);
    let mut cuts = vec![lo];
    for k in 1..n {
        let at = lo + span * k as u64 / n as u64;
        let b = boundary_after(&mut f, at, hi, parser.as_ref()).map_err(err)?;
        if b > *cuts.last().unwrap_or(&0) && b < hi {
            cuts.push(b);
        }
    }
    cuts.push(hi);
    Ok(cuts
        .iter()
        .copied()
        .zip(cuts.iter().copied().skip(1))
        .collect())
}

fn parse_part(
    path: &Path,
    start: u64,
    end: u64,
    d: &Detected,
    s: &ReadSettings,
    progress: Option<&indicatif::ProgressBar>,
) -> std::io::Result<(ChunkOutput, u64)> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(start))?;
    let mut parser = make_parser(d, s);
    let mut sink = Assembler::new(s.since, s.until);
    let lines = drive(
        &mut f,
        parser.as_mut(),
        &mut sink,
        Some(end - start),
        progress,
    );
    Ok((sink.finish(), lines))
}

/// What was hashed and counted of a file.
struct Counted {
    /// Of the whole file, when it was all read.
    sha256: Option<String>,
    /// Lines of what was read (the whole file, or the range).
    lines: u64,
    /// Lines before the first byte parsed (0 when only the range was read).
    lines_before: u64,
    /// SHA-256 and lines of the range parsed, when it is not the whole file.
    range: Option<(String, u64)>,
}

/// SHA-256 and line count of the whole file, the lines before `mark`, and the SHA-256 and lines
/// of `mark..range_end` when a range is given (`--hash-all` with a window).
fn hash_and_count(path: &Path, mark: u64, range_end: Option<u64>) -> std::io::Result<Counted> {
    use sha2::{Digest, Sha256};
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut part = Sha256::new();
    let mut buf = vec![0u8; BLOCK];
    let (mut bytes, mut lines, mut before, mut in_range) = (0u64, 0u64, 0u64, 0u64);
    let mut last = b'\n';
    loop {
        let block = read_block(&mut f, &mut buf)?;
        let Some(&last_byte) = block.last() else {
            break;
        };
        let n = block.len();
        h.update(block);
        let nl = memchr::memchr_iter(b'\n', block).count() as u64;
        if bytes + n as u64 <= mark {
            before += nl;
        } else if bytes < mark {
            before += lines_in(head(block, (mark - bytes) as usize));
        }
        if let Some(end) = range_end {
            // The overlap of this block with mark..end.
            let a = mark.clamp(bytes, bytes + n as u64) - bytes;
            let b = end.clamp(bytes, bytes + n as u64) - bytes;
            if a < b
                && let Some(slice) = block.get(a as usize..b as usize)
            {
                part.update(slice);
                in_range += lines_in(slice);
            }
        }
        lines += nl;
        bytes += n as u64;
        last = last_byte;
    }
    if last != b'\n' {
        lines += 1;
    }
    Ok(Counted {
        sha256: Some(hex::encode(h.finalize())),
        lines,
        lines_before: before,
        range: range_end.map(|_| (hex::encode(part.finalize()), in_range)),
    })
}

/// SHA-256 and line count of bytes `start..end` only (the rest of the file is not read).
fn hash_range(path: &Path, start: u64, end: u64) -> std::io::Result<Counted> {
    use sha2::{Digest, Sha256};
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(start))?;
    let mut f = f.take(end - start);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; BLOCK];
    let mut lines = 0u64;
    loop {
        let block = read_block(&mut f, &mut buf)?;
        if block.is_empty() {
            break;
        }
        h.update(block);
        lines += lines_in(block);
    }
    Ok(Counted {
        sha256: None,
        lines,
        lines_before: 0,
        range: Some((hex::encode(h.finalize()), lines)),
    })
}

/// Puts a file's parts together: absolute `log:FILE:LINE` sources, transactions settled across
/// parts, counts and problems summed.
fn assemble_file(
    file: &InputFile,
    cite: Option<String>,
    d: &Detected,
    compression: Compression,
    chunks: Vec<(ChunkOutput, u64)>,
    line_base: u64,
) -> FileResult {
    // The name places are cited under: `FILE@START` when only a range was read.
    let display = cite.unwrap_or_else(|| file.display.clone());
    let mut events: Vec<LogEvent> = Vec::new();
    let mut counts: HashMap<(i64, CountKind), HashMap<String, u64>> = HashMap::new();
    let mut problem_map: BTreeMap<ProblemKind, (u64, u64)> = BTreeMap::new();
    let mut session_parts = Vec::new();
    let (mut first_at, mut last_at): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    let mut base = line_base;
    // Sessions connected in an earlier part, as that part last knew them.
    let mut carried: crate::logs::fasthash::FastMap<u64, crate::evidence::SessionInfo> =
        Default::default();
    for (mut out, lines) in chunks {
        let off = events.len();
        for (i, key) in std::mem::take(&mut out.unresolved) {
            if let (Some(known), Some(e)) = (carried.get(&key), out.events.get_mut(i)) {
                let s = &mut e.session;
                for (own, from) in [
                    (&mut s.user, &known.user),
                    (&mut s.database, &known.database),
                    (&mut s.application, &known.application),
                    (&mut s.host, &known.host),
                ] {
                    if own.is_none() {
                        own.clone_from(from);
                    }
                }
            }
        }
        let host_before = |key: &u64| carried.get(key).and_then(|k| k.host.clone());
        for (i, key) in std::mem::take(&mut out.host_from_before) {
            if let (Some(host), Some(e)) = (host_before(&key), out.events.get_mut(i)) {
                e.session.host = Some(host);
            }
        }
        for key in std::mem::take(&mut out.host_before_at_end) {
            if let (Some(host), Some(k)) = (host_before(&key), out.known_at_end.get_mut(&key)) {
                k.host = Some(host);
            }
        }
        for key in std::mem::take(&mut out.touched) {
            carried.remove(&key);
        }
        carried.extend(std::mem::take(&mut out.known_at_end));
        for e in &mut out.events {
            let rel: u64 = e.source.parse().unwrap_or(0);
            e.source = format!("log:{display}:{}", rel + base);
        }
        events.append(&mut out.events);
        for (key, tables) in out.counts {
            let slot = counts.entry(key).or_default();
            for (t, n) in tables {
                *slot.entry(t).or_insert(0) += n;
            }
        }
        for (kind, (line, n)) in out.problems {
            let slot = problem_map.entry(kind).or_insert((line + base, 0));
            slot.0 = slot.0.min(line + base);
            slot.1 += n;
        }
        let mut sess = out.sessions;
        for (_, head) in &mut sess.heads {
            if let Some(m) = head.first.as_mut() {
                m.line += base;
            }
            if let Some(b) = head.group.begin.as_mut() {
                b.1 += base;
            }
            if let Some((g, end)) = head.opened.as_mut() {
                end.line += base;
                if let Some(b) = g.begin.as_mut() {
                    b.1 += base;
                }
            }
        }
        if let Some(m) = sess.reset.as_mut() {
            m.line += base;
        }
        for (_, tail) in &mut sess.tails {
            if let Some(b) = tail.begin.as_mut() {
                b.1 += base;
            }
        }
        let name = display.clone();
        session_parts.push((
            off,
            sess,
            Box::new(move |l: u64| format!("log:{name}:{l}")) as sessions::SourceName,
        ));
        first_at = match (first_at, out.first_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        last_at = match (last_at, out.last_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        base += lines;
    }
    let problems = problem_map
        .into_iter()
        .map(|(kind, (line, count))| LogProblem {
            path: display.clone(),
            line: Some(line),
            count,
            message: kind.describe().to_string(),
        })
        .collect();
    FileResult {
        source: LogSource {
            path: file.display.clone(),
            format: d.format.name().to_string(),
            line_prefix: d.prefix.as_ref().map(|p| p.text().to_string()),
            compression: compression.name().to_string(),
            sha256: None,
            bytes: 0,
            lines: 0,
            first_at,
            last_at,
            read_range: None,
        },
        events,
        counts,
        problems,
        sessions: SessionParts(session_parts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_and_until_bisect_instead_of_parsing_everything() {
        let start = chrono::DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        let mut text = String::new();
        for i in 0..60_000i64 {
            let at = start + chrono::Duration::milliseconds(i * 100);
            text.push_str(&format!(
                "{} [{}] app@shop LOG:  statement: UPDATE t SET v = {i} WHERE id = 1\n",
                at.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
                1000 + i % 7
            ));
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("big.log");
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        let size = text.len() as u64;
        let detected = infer::detect(&text.as_bytes()[..4096], "big.log", None, None)
            .unwrap_or_else(|e| panic!("{e}"));
        let since = start + chrono::Duration::seconds(4800); // 80 % in
        let until = start + chrono::Duration::seconds(5400); // 90 % in
        let settings = ReadSettings {
            format: None,
            prefix: None,
            zone: LogZone::default(),
            since: Some(since),
            until: Some(until),
            syslog_year: 2026,
            threads: 2,
            part_bytes: DEFAULT_PART_BYTES,
            prefix_from_database: false,
            hash_all: false,
        };
        let parts = plan_parts(&path, size, &detected, &settings).unwrap_or_else(|e| panic!("{e}"));
        let (lo, hi) = (parts[0].0, parts[parts.len() - 1].1);
        // Only the window (with a minute's margin and one probe window) is parsed.
        assert!(lo > size * 7 / 10, "starts at {lo} of {size}");
        assert!(hi < size * 95 / 100, "ends at {hi} of {size}");
        let first = first_time_in(&text.as_bytes()[lo as usize - 1..], &detected, &settings);
        assert!(first.is_some_and(|t| t <= since));
        // And the events of the window are all there.
        let file = InputFile {
            display: "big.log".into(),
            path: Some(path.clone()),
        };
        let r = read_file(&file, &settings, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.counts
                .values()
                .map(|m| m.values().sum::<u64>())
                .sum::<u64>(),
            6001
        );
    }
}
