//! Server logs → forensic timeline. Owns reading (decompression, format and prefix inference,
//! multi-line entries) and classification into `evidence::LogEvent`s. Knows nothing of
//! databases, git or hypotheses.
//!
//! The one entry point is [`read_timeline`]: paths in, `Timeline` out (events sorted by time,
//! counts of the statements not kept, problems met, and the SHA-256 of every input).

pub mod assemble;
pub mod classify;
pub mod entry;
pub mod fasthash;
pub mod format;
pub mod infer;
pub mod input;
pub mod prefix;
pub mod reader;
pub mod redact;
pub mod sessions;
pub mod sql;
pub mod time;

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use rayon::prelude::*;

use crate::error::UserError;
use crate::evidence::{LogEvent, LogProblem, StatementCount, Timeline};
use crate::logs::classify::CountKind;
use crate::logs::format::LogFormat;
use crate::logs::reader::{FileResult, ReadSettings};
use crate::logs::time::LogZone;

/// What to read and how. Only `paths` is required; the rest is inferred when absent.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Files, directories, globs, or `-` for stdin.
    pub paths: Vec<String>,
    /// `stderr`, `csvlog`, `jsonlog`, `syslog`, `rds`, `cloudsql`.
    pub format: Option<String>,
    /// The server's `log_line_prefix` (from `--log-line-prefix` or the database).
    pub line_prefix: Option<String>,
    /// The server's `log_timezone`, for timestamps that carry no zone.
    pub timezone: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// Size of the parts a large plain file is cut into for parallel reading (default 8 MiB).
    pub part_bytes: Option<u64>,
    /// `line_prefix` was read from the database (`with_database_settings`), not given: a log it
    /// does not fit is read by inference, with a note.
    pub prefix_from_database: bool,
    /// `--hash-all`: with `since/until`, hash the whole file too, not only the range read.
    pub hash_all: bool,
}

impl LogOptions {
    /// Fills what the user did not give from the database's own settings (`log_line_prefix`,
    /// `log_timezone`), as `collect`/`report` do when a connection is given too. A prefix given
    /// on the command line wins; an empty database prefix is left to inference.
    pub fn with_database_settings(
        mut self,
        settings: &std::collections::BTreeMap<String, String>,
    ) -> LogOptions {
        if self.line_prefix.is_none() {
            self.line_prefix = settings
                .get("log_line_prefix")
                .filter(|p| !p.is_empty())
                .cloned();
            self.prefix_from_database = self.line_prefix.is_some();
        }
        if self.timezone.is_none() {
            self.timezone = settings.get("log_timezone").cloned();
        }
        self
    }

    fn settings(&self) -> Result<ReadSettings, UserError> {
        let format = match &self.format {
            Some(f) => Some(LogFormat::parse(f).ok_or_else(|| {
                UserError::new(format!(
                    "--log-format {f:?}: unknown format; use stderr, csvlog, jsonlog, syslog, rds or cloudsql"
                ))
            })?),
            None => None,
        };
        let zone = match &self.timezone {
            Some(z) => LogZone::parse(z).ok_or_else(|| {
                UserError::new(format!(
                    "--log-timezone {z:?}: unknown zone; use a name like Europe/Berlin, UTC, or an offset like +02:00"
                ))
            })?,
            None => LogZone::default(),
        };
        if let Some(p) = &self.line_prefix {
            prefix::LinePrefix::compile(p)?;
        }
        Ok(ReadSettings {
            format,
            prefix: self.line_prefix.clone(),
            zone,
            since: self.since,
            until: self.until,
            syslog_year: Utc::now().year(),
            threads: self
                .threads
                .unwrap_or_else(rayon::current_num_threads)
                .clamp(1, available_cores()),
            part_bytes: self.part_bytes.unwrap_or(reader::DEFAULT_PART_BYTES),
            prefix_from_database: self.prefix_from_database,
            hash_all: self.hash_all,
        })
    }
}

/// The cores this process may use: `--threads` beyond them only adds contention (100000
/// threads on a small log once ran for ten minutes).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Reads every input into one timeline. An unreadable input or a log whose format cannot be
/// told is an error naming it; damaged lines inside a readable log are `problems`, not errors.
pub fn read_timeline(opts: &LogOptions) -> Result<Timeline, UserError> {
    let settings = opts.settings()?;
    let listed = input::expand_listed(&opts.paths)?;
    let from_dir: Vec<bool> = listed.iter().map(|(_, d)| *d).collect();
    let files: Vec<input::InputFile> = listed.into_iter().map(|(f, _)| f).collect();
    let progress = progress_bar(opts, &files);
    let run = || -> Vec<Result<FileResult, UserError>> {
        files
            .par_iter()
            .map(|f| reader::read_file(f, &settings, progress.as_ref()))
            .collect()
    };
    let results = match opts.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.clamp(1, available_cores()))
            .build()
            .map_err(|e| UserError::new(format!("cannot start {n} threads: {e}")))?
            .install(run),
        None => run(),
    };
    if let Some(p) = &progress {
        p.finish_and_clear();
    }
    let mut read = Vec::new();
    let mut skipped: Vec<LogProblem> = Vec::new();
    for ((r, in_dir), f) in results.into_iter().zip(&from_dir).zip(&files) {
        match r {
            Ok(x) => read.push((x, *in_dir)),
            // A README, a PgBouncer log or a half-written file beside the server's logs does
            // not abort the whole directory: it is skipped, and said.
            Err(e) if *in_dir => skipped.push(LogProblem {
                path: f.display.clone(),
                line: None,
                count: 0,
                message: format!("skipped: {e}"),
            }),
            Err(e) => return Err(e),
        }
    }
    if read.is_empty()
        && let Some(first) = skipped.first()
    {
        return Err(UserError::new(format!(
            "no file of the directory could be read as a PostgreSQL log; the first: {}",
            first.message
        )));
    }
    dedupe_formats(&mut read);
    let mut read: Vec<FileResult> = read.into_iter().map(|(r, _)| r).collect();
    // Rotated sets and directories: in the order of their first timestamp.
    read.sort_by_key(|r| (r.source.first_at.is_none(), r.source.first_at));
    settle_rotated_sets(&mut read);
    let mut timeline = combine(read);
    timeline.problems.extend(skipped);
    Ok(timeline)
}

/// The files of one directory are one server's log rotated (the usual `log_directory`): their
/// sessions are settled across files, in time order. Files of different directories (a primary's
/// and a standby's logs) are settled apart.
fn settle_rotated_sets(read: &mut [FileResult]) {
    let dir_of = |r: &FileResult| {
        std::path::Path::new(&r.source.path)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
    };
    let mut sets: Vec<(std::path::PathBuf, Vec<&mut FileResult>)> = Vec::new();
    for r in read.iter_mut() {
        let dir = dir_of(r);
        match sets.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, set)) => set.push(r),
            None => sets.push((dir, vec![r])),
        }
    }
    for (_, mut set) in sets {
        reader::settle_sessions(&mut set);
    }
}

/// A file's name without its compression and log extensions (`postgresql.csv.gz` →
/// `postgresql`): the server writes one log under one name per destination.
fn log_stem(display: &str) -> String {
    let mut name = display.to_string();
    for ext in [".gz", ".zst", ".bz2", ".xz"] {
        if let Some(s) = name.strip_suffix(ext) {
            name = s.to_string();
        }
    }
    for ext in [".log", ".csv", ".json"] {
        if let Some(s) = name.strip_suffix(ext) {
            return s.to_string();
        }
    }
    name
}

/// `log_destination = 'stderr,csvlog,jsonlog'` writes every entry three times, under one name
/// with three extensions. In a directory, only one of them is read (csvlog, else jsonlog: they
/// carry every field; else stderr); the others stay listed as sources, with a note.
fn dedupe_formats(read: &mut [(FileResult, bool)]) {
    let rank = |f: &str| match f {
        "csvlog" => 0,
        "jsonlog" => 1,
        _ => 2,
    };
    let mut groups: HashMap<String, Vec<&mut FileResult>> = HashMap::new();
    for (r, in_dir) in read.iter_mut() {
        if *in_dir && matches!(r.source.format.as_str(), "stderr" | "csvlog" | "jsonlog") {
            groups.entry(log_stem(&r.source.path)).or_default().push(r);
        }
    }
    for (_, members) in groups {
        let formats: std::collections::BTreeSet<&str> =
            members.iter().map(|r| r.source.format.as_str()).collect();
        if formats.len() < 2 {
            continue;
        }
        let Some((kept_path, kept_format)) = members
            .iter()
            .map(|r| (r.source.path.clone(), r.source.format.clone()))
            .min_by(|(p1, f1), (p2, f2)| (rank(f1), p1).cmp(&(rank(f2), p2)))
        else {
            continue;
        };
        // The files of the kept format stay (the kept one is among them).
        for r in members {
            if r.source.format == kept_format {
                continue;
            }
            r.events.clear();
            r.sessions.0.clear();
            r.counts.clear();
            r.problems.retain(|p| p.line.is_none());
            r.problems.push(LogProblem {
                path: r.source.path.clone(),
                line: None,
                count: 0,
                message: format!(
                    "the same server log in another format (log_destination with several destinations): its events are read from {kept_path} ({kept_format}) only, not counted twice"
                ),
            });
        }
    }
}

fn progress_bar(opts: &LogOptions, files: &[input::InputFile]) -> Option<indicatif::ProgressBar> {
    if !opts.progress || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    let total: u64 = files
        .iter()
        .filter_map(|f| f.path.as_ref().and_then(|p| std::fs::metadata(p).ok()))
        .map(|m| m.len())
        .sum();
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

fn line_of(source: &str) -> u64 {
    source
        .rsplit(':')
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

fn combine(files: Vec<FileResult>) -> Timeline {
    let mut timeline = Timeline::default();
    let mut events: Vec<(usize, LogEvent)> = Vec::new();
    let mut counts: HashMap<(i64, CountKind, String), u64> = HashMap::new();
    for (i, f) in files.into_iter().enumerate() {
        timeline.sources.push(f.source);
        events.extend(f.events.into_iter().map(|e| (i, e)));
        for ((minute, kind), tables) in f.counts {
            for (t, n) in tables {
                *counts.entry((minute, kind, t)).or_insert(0) += n;
            }
        }
        timeline.problems.extend(f.problems);
    }
    // Ties (a server stop rolling back several sessions on one line) go by session, not by the
    // order settling happened to write them in, which depends on where a file was cut.
    events.sort_by_cached_key(|(i, e)| {
        (
            e.at,
            *i,
            line_of(&e.source),
            e.kind,
            e.session.pid,
            e.session.session_id.clone(),
        )
    });
    timeline.events = events.into_iter().map(|(_, e)| e).collect();
    let mut counts: Vec<StatementCount> = counts
        .into_iter()
        .filter_map(|((minute, kind, table), count)| {
            Some(StatementCount {
                minute: DateTime::from_timestamp(minute * 60, 0)?,
                table: (!table.is_empty()).then_some(table),
                kind: kind.name().to_string(),
                count,
            })
        })
        .collect();
    counts.sort_by(|a, b| (a.minute, &a.table, &a.kind).cmp(&(b.minute, &b.table, &b.kind)));
    timeline.counts = counts;
    timeline
}
