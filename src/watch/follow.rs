//! Following a server log as it grows, the way `tail -F` does: reopened by name when it is
//! rotated (a new file under the same name: the rest of the old one is read first), read from
//! the start again when it is truncated (copytruncate), waited for when it does not exist yet.
//! Then the statements it logs are picked out (stderr and jsonlog lines) and classified with the
//! log reader's own `classify_statement`, so a destructive one raises an event the moment it is
//! written. Memory is bounded: one partial line and a short tail of recent lines.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::evidence::EventKind;
use crate::logs::classify::{StatementVerdict, classify_statement};
use crate::logs::prefix::{Escape, LinePrefix};
use crate::logs::sql::split_statements;

/// Lines of each followed log kept for the capture's log tail.
pub const TAIL_LINES: usize = 200;
/// Longest line kept whole in the tail; longer ones are cut.
const TAIL_LINE_BYTES: usize = 4096;
/// At most this much is read per check, so one burst cannot take all the memory.
const READ_LIMIT: u64 = 16 * 1024 * 1024;
/// A line longer than this without a newline is cut (a binary file given by mistake).
const PARTIAL_LIMIT: usize = 4 * 1024 * 1024;

/// Statement kinds of the timeline that destroy rows or the evidence of them.
const DESTRUCTIVE: [EventKind; 10] = [
    EventKind::Truncate,
    EventKind::DeleteAll,
    EventKind::UpdateAll,
    EventKind::DropTable,
    EventKind::DropSchema,
    EventKind::DropType,
    EventKind::DropDatabase,
    EventKind::DropOwned,
    EventKind::DropColumn,
    EventKind::StatsReset,
];

/// A destructive statement seen in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedStatement {
    /// The timeline's spelling of the kind (`truncate`, `drop_table`, …).
    pub kind: String,
    pub statement: String,
    pub tables: Vec<String>,
    pub cascade: bool,
    pub pid: Option<i32>,
    /// `log:FILE:LINE`.
    pub source: String,
}

/// One followed file.
pub struct LogFollower {
    path: PathBuf,
    file: Option<File>,
    /// (device, inode) of the open file, to notice a new file under the same name.
    identity: Option<(u64, u64)>,
    offset: u64,
    partial: Vec<u8>,
    /// Line number (1-based) of the next complete line in the current file.
    line: u64,
    tail: VecDeque<String>,
    jsonlog: bool,
    started: bool,
}

fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

impl LogFollower {
    /// Starts following `path` from its current end (what is already there is history for
    /// `collect`, not news).
    pub fn new(path: &Path) -> LogFollower {
        let name = path.to_string_lossy();
        LogFollower {
            path: path.to_path_buf(),
            file: None,
            identity: None,
            offset: 0,
            partial: Vec::new(),
            line: 1,
            tail: VecDeque::with_capacity(TAIL_LINES),
            jsonlog: name.ends_with(".json") || name.ends_with(".jsonl"),
            started: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last lines read, oldest first.
    pub fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    /// Reads what was appended since the last call; returns the complete new lines with their
    /// line numbers. A file that is missing for now is not an error (it may be mid-rotation).
    pub fn read_new_lines(&mut self) -> Vec<(u64, String)> {
        let mut lines = Vec::new();
        let by_name = std::fs::metadata(&self.path).ok();
        if self.file.is_none() {
            let Some(meta) = by_name.as_ref() else {
                self.started = true;
                return lines;
            };
            let Ok(file) = File::open(&self.path) else {
                return lines;
            };
            // The first file seen is followed from its end; a file that appears later (after
            // a rotation, or created after the watch began) from its start.
            self.offset = if self.started { 0 } else { meta.len() };
            self.line = if self.started {
                1
            } else {
                count_lines(&self.path)
            };
            self.identity = Some(identity(meta));
            self.file = Some(file);
            self.partial.clear();
            self.started = true;
        }
        // Truncated in place (copytruncate): start again from the top.
        if let Some(file) = &self.file
            && let Ok(meta) = file.metadata()
            && meta.len() < self.offset
        {
            self.offset = 0;
            self.line = 1;
            self.partial.clear();
        }
        self.drain(&mut lines);
        // Rotated: a different file now has the name. The old one was drained above.
        let rotated = match (&by_name, self.identity) {
            (Some(meta), Some(id)) => identity(meta) != id,
            (None, Some(_)) => true,
            _ => false,
        };
        if rotated {
            self.flush_partial(&mut lines);
            self.file = None;
            self.identity = None;
            if by_name.is_some() {
                let more = self.read_new_lines();
                lines.extend(more);
            }
        }
        lines
    }

    fn drain(&mut self, lines: &mut Vec<(u64, String)>) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut partial = std::mem::take(&mut self.partial);
        let kept = partial.len();
        // A failed read adds nothing: the next poll reads from the same offset.
        match file.take(READ_LIMIT).read_to_end(&mut partial) {
            Ok(read) => self.offset += read as u64,
            Err(_) => partial.truncate(kept),
        }
        // Complete lines are pushed; the unterminated rest waits for the next read.
        let complete = memchr::memrchr(b'\n', &partial).map_or(0, |nl| nl + 1);
        if let Some(done) = partial.get(..complete).and_then(|d| d.strip_suffix(b"\n")) {
            for line in done.split(|b| *b == b'\n') {
                let text = String::from_utf8_lossy(crate::logs::entry::trim_cr(line));
                self.push(lines, text.into_owned());
            }
        }
        partial.drain(..complete);
        self.partial = partial;
        if self.partial.len() > PARTIAL_LIMIT {
            self.flush_partial(lines);
        }
    }

    fn flush_partial(&mut self, lines: &mut Vec<(u64, String)>) {
        if !self.partial.is_empty() {
            let text = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            self.push(lines, text);
        }
    }

    fn push(&mut self, lines: &mut Vec<(u64, String)>, text: String) {
        lines.push((self.line, text));
        self.line += 1;
    }

    /// Keeps `line` in the tail (the scanner leaves out pgtriage's own statements).
    pub fn remember(&mut self, line: &str) {
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        let kept = line
            .split_at_checked(line.floor_char_boundary(TAIL_LINE_BYTES))
            .map_or(line, |(head, _)| head);
        self.tail.push_back(kept.to_string());
    }

    pub fn is_jsonlog(&self) -> bool {
        self.jsonlog
    }
}

fn count_lines(path: &Path) -> u64 {
    let Ok(mut f) = File::open(path) else {
        return 1;
    };
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 1;
    while let Ok(k) = f.read(&mut buf) {
        let Some(chunk) = buf.get(..k).filter(|c| !c.is_empty()) else {
            break;
        };
        n += memchr::memchr_iter(b'\n', chunk).count() as u64;
    }
    n
}

/// A statement being assembled from its first line and its tab-indented continuation lines.
struct Pending {
    text: String,
    pid: Option<i32>,
    source: String,
}

/// Picks statements out of log lines and keeps the destructive ones. Only lines of the
/// watched database are considered when the line says which database it is.
pub struct StatementScanner {
    prefix: Option<LinePrefix>,
    database: Option<String>,
    pending: Option<Pending>,
    /// The watch's own backend: its polling statements are not news and stay out of the tail.
    own_pid: Option<i32>,
    /// The last line read was the watch's own (its continuation lines are too).
    last_own: bool,
}

impl StatementScanner {
    /// `prefix` is the server's `log_line_prefix` (for the pid and the database of each line);
    /// `database` the watched database.
    pub fn new(prefix: Option<&str>, database: Option<&str>) -> StatementScanner {
        StatementScanner {
            prefix: prefix
                .filter(|p| !p.is_empty())
                .and_then(|p| LinePrefix::compile(p).ok()),
            database: database.map(str::to_string),
            pending: None,
            own_pid: None,
            last_own: false,
        }
    }

    pub fn own_pid(&self) -> Option<i32> {
        self.own_pid
    }

    pub fn set_own_pid(&mut self, pid: Option<i32>) {
        self.own_pid = pid;
    }

    /// Whether a line comes from the watch's own session (by the prefix's `%p`, or jsonlog's
    /// `pid`); continuation lines follow their first line.
    pub fn is_own(&mut self, jsonlog: bool, line: &str) -> bool {
        let Some(own) = self.own_pid else {
            return false;
        };
        let own_line = if jsonlog {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("pid").and_then(|p| p.as_i64()))
                == Some(i64::from(own))
        } else if line.starts_with('\t') {
            self.last_own
        } else {
            self.prefix
                .as_ref()
                .and_then(|p| p.matches(line.as_bytes()))
                .and_then(|m| m.get(line.as_bytes(), Escape::Pid))
                .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i32>().ok())
                == Some(own)
        };
        self.last_own = own_line;
        own_line
    }

    /// Feeds the new lines of one file; returns the destructive statements completed by them.
    pub fn scan(
        &mut self,
        path: &Path,
        jsonlog: bool,
        lines: &[(u64, String)],
    ) -> Vec<LoggedStatement> {
        let mut found = Vec::new();
        for (n, line) in lines {
            let source = format!("log:{}:{n}", path.display());
            if jsonlog {
                if let Some(p) = self.json_statement(line, source) {
                    classify_into(&p, &mut found);
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix('\t')
                && let Some(p) = self.pending.as_mut()
            {
                p.text.push('\n');
                p.text.push_str(rest);
                continue;
            }
            self.finish_into(&mut found);
            self.pending = self.stderr_statement(line, source);
        }
        // The server writes a whole message at once: nothing more will join it.
        self.finish_into(&mut found);
        found
    }

    fn finish_into(&mut self, found: &mut Vec<LoggedStatement>) {
        if let Some(p) = self.pending.take() {
            classify_into(&p, found);
        }
    }

    fn stderr_statement(&self, line: &str, source: String) -> Option<Pending> {
        let (pid, database, rest) = match self.prefix.as_ref().and_then(|p| {
            let m = p.matches(line.as_bytes())?;
            Some((m, p))
        }) {
            Some((m, _)) => {
                let field = |e: Escape| {
                    m.get(line.as_bytes(), e)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                };
                (
                    field(Escape::Pid).and_then(|p| p.parse::<i32>().ok()),
                    field(Escape::Database),
                    line.get(m.rest..).unwrap_or(""),
                )
            }
            None => (None, None, line),
        };
        if let (Some(want), Some(got)) = (&self.database, &database)
            && want != got
        {
            return None;
        }
        let text = statement_of_message(rest.strip_prefix("LOG:").map(str::trim_start)?)?;
        Some(Pending {
            text: text.to_string(),
            pid,
            source,
        })
    }

    fn json_statement(&self, line: &str, source: String) -> Option<Pending> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        if v.get("error_severity").and_then(|s| s.as_str()) != Some("LOG") {
            return None;
        }
        if let (Some(want), Some(got)) = (&self.database, v.get("dbname").and_then(|d| d.as_str()))
            && want != got
        {
            return None;
        }
        let message = v.get("message").and_then(|m| m.as_str())?;
        let text = statement_of_message(message)?;
        Some(Pending {
            text: text.to_string(),
            pid: v
                .get("pid")
                .and_then(|p| p.as_i64())
                .and_then(|p| i32::try_from(p).ok()),
            source,
        })
    }
}

/// The statement of a `statement: …`, `duration: … ms  statement: …` or `execute NAME: …`
/// message (what `log_statement` and `log_min_duration_statement` write).
fn statement_of_message(message: &str) -> Option<&str> {
    if let Some(s) = message.strip_prefix("statement: ") {
        return Some(s);
    }
    let after_duration = message
        .strip_prefix("duration: ")
        .and_then(|m| m.split_once("  "))
        .map(|(_, rest)| rest)
        .unwrap_or(message);
    if let Some(s) = after_duration.strip_prefix("statement: ") {
        return Some(s);
    }
    let exec = after_duration.strip_prefix("execute ")?;
    exec.split_once(": ").map(|(_, s)| s)
}

fn classify_into(p: &Pending, found: &mut Vec<LoggedStatement>) {
    for stmt in split_statements(&p.text) {
        if let StatementVerdict::Keep(c) = classify_statement(stmt, None)
            && DESTRUCTIVE.contains(&c.kind)
        {
            let kind = serde_json::to_value(c.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            found.push(LoggedStatement {
                kind,
                statement: stmt.trim().to_string(),
                tables: c.tables,
                cascade: c.cascade,
                pid: p.pid,
                source: p.source.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const PREFIX: &str = "%m [%p] %q%u@%d ";

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn follows_appends_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("postgresql.log");
        append(&log, "old line\n");
        let mut f = LogFollower::new(&log);
        assert!(f.read_new_lines().is_empty(), "history is not news");
        append(&log, "one\ntw");
        assert_eq!(f.read_new_lines(), vec![(2, "one".to_string())]);
        append(&log, "o\n");
        assert_eq!(f.read_new_lines(), vec![(3, "two".to_string())]);
        // Rotation: the old file gets one more line, then a new file takes the name.
        append(&log, "last of old\n");
        std::fs::rename(&log, dir.path().join("postgresql.log.1")).unwrap();
        assert_eq!(f.read_new_lines(), vec![(4, "last of old".to_string())]);
        append(&log, "first of new\n");
        assert_eq!(f.read_new_lines(), vec![(1, "first of new".to_string())]);
        // Truncation in place.
        std::fs::write(&log, "").unwrap();
        assert!(f.read_new_lines().is_empty());
        append(&log, "after truncate\n");
        assert_eq!(f.read_new_lines(), vec![(1, "after truncate".to_string())]);
        for i in 0..TAIL_LINES + 5 {
            f.remember(&format!("line {i}"));
        }
        let tail = f.tail();
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail.first().map(String::as_str), Some("line 5"));
    }

    #[test]
    fn the_watch_s_own_lines_are_told_apart() {
        let mut s = StatementScanner::new(Some(PREFIX), Some("app"));
        s.set_own_pid(Some(9));
        assert!(s.is_own(
            false,
            "2026-01-01 10:00:00.000 UTC [9] u@app LOG:  execute s1: SELECT"
        ));
        assert!(s.is_own(false, "\t  FROM pg_class"));
        assert!(!s.is_own(
            false,
            "2026-01-01 10:00:00.000 UTC [10] u@app LOG:  statement: TRUNCATE a"
        ));
        assert!(!s.is_own(false, "\tcontinued"));
        assert!(s.is_own(true, r#"{"pid":9,"message":"statement: x"}"#));
    }

    #[test]
    fn rotation_noticed_after_the_new_file_already_has_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("pg.log");
        append(&log, "");
        let mut f = LogFollower::new(&log);
        f.read_new_lines();
        std::fs::rename(&log, dir.path().join("pg.log.1")).unwrap();
        append(&log, "new a\nnew b\n");
        let got: Vec<String> = f.read_new_lines().into_iter().map(|(_, l)| l).collect();
        assert_eq!(got, vec!["new a", "new b"]);
    }

    #[test]
    fn a_missing_file_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("later.log");
        let mut f = LogFollower::new(&log);
        assert!(f.read_new_lines().is_empty());
        append(&log, "hello\n");
        assert_eq!(f.read_new_lines(), vec![(1, "hello".to_string())]);
    }

    fn lines(text: &str) -> Vec<(u64, String)> {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l.to_string()))
            .collect()
    }

    #[test]
    fn destructive_statements_of_the_watched_database() {
        let mut s = StatementScanner::new(Some(PREFIX), Some("app"));
        let text = "\
2026-01-01 10:00:00.000 UTC [42] bob@app LOG:  statement: TRUNCATE orders CASCADE
2026-01-01 10:00:00.100 UTC [43] bob@other LOG:  statement: TRUNCATE orders
2026-01-01 10:00:00.200 UTC [44] bob@app LOG:  statement: DELETE FROM t WHERE id = 1
2026-01-01 10:00:00.300 UTC [45] bob@app LOG:  statement: DROP TABLE
\tpublic.invoices
2026-01-01 10:00:00.400 UTC [46] bob@app LOG:  duration: 1.0 ms  statement: SELECT pg_stat_reset()
2026-01-01 10:00:00.500 UTC [47] bob@app LOG:  execute <unnamed>: DELETE FROM items
";
        let found = s.scan(Path::new("/l/pg.log"), false, &lines(text));
        let got: Vec<(&str, Option<i32>, &str)> = found
            .iter()
            .map(|f| (f.kind.as_str(), f.pid, f.source.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("truncate", Some(42), "log:/l/pg.log:1"),
                ("drop_table", Some(45), "log:/l/pg.log:4"),
                ("stats_reset", Some(46), "log:/l/pg.log:6"),
                ("delete_all", Some(47), "log:/l/pg.log:7"),
            ]
        );
        assert!(found[0].cascade);
        assert_eq!(found[1].tables, vec!["public.invoices".to_string()]);
    }

    #[test]
    fn jsonlog_statements() {
        let mut s = StatementScanner::new(None, Some("app"));
        let text = r#"{"error_severity":"LOG","pid":7,"dbname":"app","message":"statement: DROP TABLE a"}
{"error_severity":"LOG","pid":8,"dbname":"x","message":"statement: DROP TABLE b"}
not json"#;
        let found = s.scan(Path::new("pg.json"), true, &lines(text));
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].kind.as_str(), found[0].pid),
            ("drop_table", Some(7))
        );
    }
}
