//! The WAL as a witness, read from a directory of segments (`--wal DIR`: an archive or a copy of
//! `pg_wal`). Owns finding the segments, checking they are one cluster's and contiguous (naming
//! each gap), decompressing archived copies, splitting the LSN range over the cores and reading
//! one part per core, natively (`decode`) or with the `pg_waldump` of the segments' own major
//! version; the records are folded into transactions by `group` (shared with pg_walinspect in
//! `db/wal.rs`).
//! Read-only: the directory is never written (compressed segments are expanded into a temporary
//! directory).

pub mod decode;
pub mod group;
pub mod segment;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::UserError;
use chrono::{DateTime, Utc};

use crate::evidence::{WalEvidence, WalGap, WalTransaction, WalWindow, format_lsn};
use group::{Grouper, Part, parse_waldump_line};
use segment::{Compression, SegmentFile, SegmentHeader, major_of_magic, parse_name};

/// How to scan a WAL directory.
#[derive(Debug, Clone, Default)]
pub struct WalScanOptions {
    pub dir: PathBuf,
    /// The database's `pg_control_system().system_identifier`: segments of another cluster are
    /// refused.
    pub expected_system_identifier: Option<String>,
    /// Parallel pg_waldump processes (default: the number of cores).
    pub threads: Option<usize>,
    /// Who decodes the records (default: `PGTRIAGE_WAL_READER`, else native).
    pub reader: Option<WalReader>,
    /// The incident window: only segments that can hold a transaction ending in
    /// `[since, until]` are decoded, only those transactions kept (`None`: read everything).
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Where the window comes from, for the evidence (`--since/--until`, `evidence: …`).
    pub window_basis: Option<String>,
    /// How far commit times may run out of WAL order when placing segments (default 60 s).
    pub window_slack: Option<chrono::Duration>,
}

/// Commit times follow WAL order only roughly (each is taken just before its record is
/// inserted, by concurrent sessions): segments are placed in the window with this slack.
const WINDOW_SLACK_SECONDS: i64 = 60;

/// How far a probe reads past a segment start looking for a timed record and a standby
/// snapshot (the bgwriter logs one every 15 s of activity, a checkpoint one each time).
const PROBE_SEGMENTS: u64 = 4;

/// The part of one contiguous run of segments a window needs: decode `run[lo..hi]`; every
/// transaction ending after `complete_from` has all its records in it.
struct Selection {
    lo: usize,
    hi: usize,
    complete_from: Option<u64>,
}

/// Places the window on a run by probing segment starts (binary searches: commit times and
/// xids grow with the LSN). The start is moved back until the standby snapshot it is
/// anchored to has no running transaction that began before it, so a long transaction that
/// ends inside the window is read whole.
fn select(
    run: &decode::Run<'_>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    slack: chrono::Duration,
) -> Selection {
    let n = run.files.len();
    let seg = run.segment_size;
    let start_of = |i: usize| (run.first_segno + i as u64) * seg;
    let mut cache: BTreeMap<usize, decode::Probe> = BTreeMap::new();
    let mut probe = |i: usize| -> decode::Probe {
        *cache
            .entry(i)
            .or_insert_with(|| decode::probe(run, start_of(i), PROBE_SEGMENTS * seg))
    };
    // Largest i in [lo, hi) with pred(i) (pred true then false); `lo` when none.
    fn last_true(lo: usize, hi: usize, mut pred: impl FnMut(usize) -> bool) -> Option<usize> {
        let (mut a, mut b) = (lo, hi);
        while a < b {
            let m = a + (b - a) / 2;
            if pred(m) {
                a = m + 1;
            } else {
                b = m;
            }
        }
        a.checked_sub(1).filter(|i| *i >= lo)
    }
    let mut lo = 0usize;
    let mut complete_from = None;
    if let Some(since) = since {
        let early = since - slack;
        // The last segment starting before the window (an unplaceable one counts as inside:
        // the read starts earlier, never later).
        let k = last_true(0, n, |i| probe(i).first_time.is_some_and(|t| t <= early));
        // Walking back one segment at a time (each read once, only its own records): the
        // first standby snapshot before every commit of the window is the anchor; the read
        // starts at the segment of the latest snapshot whose nextXid is at most the anchor's
        // oldest running xid, so every transaction running at the anchor began inside it.
        let mut anchor: Option<decode::RunningXacts> = None;
        let mut i = k;
        while let Some(at) = i {
            let p = decode::probe(run, start_of(at), seg);
            match (anchor, p.running) {
                (None, Some(r)) if p.last_time_before_running.is_none_or(|t| t < early) => {
                    anchor = Some(r);
                    complete_from = Some(r.lsn);
                    if r.next_xid == r.oldest_running_xid {
                        lo = at;
                        break;
                    }
                }
                (Some(a), Some(r))
                    if (a.oldest_running_xid.wrapping_sub(r.next_xid) as i32) >= 0 =>
                {
                    lo = at;
                    break;
                }
                _ => {}
            }
            lo = 0;
            i = at.checked_sub(1);
        }
    }
    let mut hi = n;
    if let Some(until) = until {
        let late = until + slack;
        // The first segment starting after the window ends: not needed.
        let after = last_true(lo, n, |i| probe(i).first_time.is_none_or(|t| t <= late));
        hi = after.map_or(lo, |i| i + 1).max(lo + 1).min(n);
    }
    Selection {
        lo,
        hi,
        complete_from,
    }
}

/// Who decodes the WAL records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalReader {
    /// pgtriage's own reader of the record types a loss leaves (`decode`): about as fast as
    /// `pg_waldump --stats`.
    Native,
    /// The segments' own `pg_waldump`, its text output parsed: the reference the native reader
    /// is tested against, and the fallback for a layout the native reader does not know.
    Waldump,
}

impl WalReader {
    fn from_env(major: u32) -> WalReader {
        match std::env::var("PGTRIAGE_WAL_READER").as_deref() {
            Ok("pg_waldump") => WalReader::Waldump,
            Ok("native") => WalReader::Native,
            // The record layouts the native reader knows (18's checked against pg_walinspect 18:
            // the npm builds of 18 ship no pg_waldump).
            _ if (13..=18).contains(&major) => WalReader::Native,
            _ => WalReader::Waldump,
        }
    }
}

/// The resource managers whose records make a loss transaction (pg_waldump 15+ takes several
/// `--rmgr`; older ones get no filter).
const RMGRS: &[&str] = &["Heap", "Heap2", "Transaction", "Standby", "Storage"];

/// Reads every segment of `opts.dir` into the loss transactions it shows.
pub fn scan_directory(opts: &WalScanOptions) -> Result<WalEvidence, UserError> {
    let dir = &opts.dir;
    let entries = std::fs::read_dir(dir).map_err(|e| {
        UserError::new(format!(
            "{}: cannot read the WAL directory: {e}; give --wal an archive directory or a copy of pg_wal",
            dir.display()
        ))
    })?;
    let mut files: Vec<SegmentFile> = Vec::new();
    let mut gaps: Vec<WalGap> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        match parse_name(&path) {
            Some(s) => files.push(s),
            None => {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.ends_with(".partial") {
                    gaps.push(WalGap {
                        what: format!(
                            "{name}: a partial segment (left by a timeline switch or pg_receivewal) was not read"
                        ),
                        setting: None,
                    });
                }
            }
        }
    }
    if files.is_empty() {
        return Err(UserError::new(format!(
            "{}: no WAL segment files (24-hex-digit names such as 000000010000000000000001, plain or .gz/.zst/.lz4); give --wal the WAL archive or a copy of pg_wal",
            dir.display()
        )));
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));

    // Headers: one cluster, one version, one segment size.
    let mut headers: Vec<(SegmentFile, SegmentHeader)> = Vec::new();
    for f in files {
        match f.header() {
            Ok(h) => headers.push((f, h)),
            Err(e) => gaps.push(WalGap {
                what: format!("{}; that segment was not read", e.message()),
                setting: None,
            }),
        }
    }
    let Some((first_file, first)) = headers.first().cloned() else {
        return Err(UserError::new(format!(
            "{}: no readable WAL segment ({})",
            dir.display(),
            gaps.first().map(|g| g.what.as_str()).unwrap_or("")
        )));
    };
    let major = major_of_magic(first.magic).ok_or_else(|| {
        UserError::new(format!(
            "{}: not a WAL segment of PostgreSQL 12–18 (page magic 0x{:04X})",
            first_file.path.display(),
            first.magic
        ))
    })?;
    for (f, h) in &headers {
        if h.system_identifier != first.system_identifier {
            return Err(UserError::new(format!(
                "{}: segments of two clusters: {} has system identifier {}, {} has {}; give --wal one cluster's WAL",
                dir.display(),
                first_file.name,
                first.system_identifier,
                f.name,
                h.system_identifier
            )));
        }
        if h.magic != first.magic {
            return Err(UserError::new(format!(
                "{}: segments of two major versions ({} is PostgreSQL {major}, {} has page magic 0x{:04X}); give --wal one cluster's WAL",
                dir.display(),
                first_file.name,
                f.name,
                h.magic
            )));
        }
    }
    if let Some(expected) = &opts.expected_system_identifier
        && expected != &first.system_identifier.to_string()
    {
        return Err(UserError::new(format!(
            "{}: these segments belong to another cluster (system identifier {} in {}; the database's is {expected}); give --wal this cluster's archive",
            dir.display(),
            first.system_identifier,
            first_file.name
        )));
    }
    let segment_size = first.segment_size;
    // PostgreSQL's limits (1 MB to 1 GB, a power of two): the native reader holds one segment
    // in memory, so a corrupt header must not size it.
    if !segment_size.is_power_of_two() || !(1 << 20..=1 << 30).contains(&segment_size) {
        return Err(UserError::new(format!(
            "{}: segment size {segment_size} in the header is not a WAL segment size (a power of two from 1 MB to 1 GB): a damaged segment; give --wal undamaged copies",
            first_file.path.display()
        )));
    }
    let reader = opts.reader.unwrap_or_else(|| WalReader::from_env(major));
    let block_size = u64::from(first.block_size);
    if reader == WalReader::Native && !(1024..=65536).contains(&block_size) {
        return Err(UserError::new(format!(
            "{}: WAL page size {block_size} in the header is not a WAL page size",
            first_file.path.display()
        )));
    }
    let waldump = match reader {
        WalReader::Waldump => find_waldump(major)?,
        WalReader::Native => PathBuf::new(),
    };

    // Expand compressed segments next to links to the plain ones: pg_waldump reads one directory.
    let needs_expanding = headers
        .iter()
        .any(|(f, _)| f.compression != Compression::None);
    let expanded = if needs_expanding {
        Some(
            tempfile::Builder::new()
                .prefix("pgtriage-wal-")
                .tempdir()
                .map_err(|e| {
                    UserError::new(format!(
                        "cannot create a temporary directory for the WAL: {e}"
                    ))
                })?,
        )
    } else {
        None
    };
    let work_dir: PathBuf = expanded
        .as_ref()
        .map(|t| t.path().to_path_buf())
        .unwrap_or_else(|| dir.clone());

    // Per timeline: the segments with their sizes, in order.
    let mut by_timeline: BTreeMap<u32, Vec<(u64, SegmentFile, u64)>> = BTreeMap::new();
    for (f, h) in headers {
        let segno = f.segno(segment_size);
        // checked: a hostile name (log FFFFFFFF) times the segment size overflows u64.
        if segno.checked_mul(u64::from(segment_size)) != Some(h.page_addr)
            || h.timeline != f.timeline
        {
            gaps.push(WalGap {
                what: format!(
                    "{}: its header says timeline {} LSN {}, its name says otherwise (a renamed copy?); not read",
                    f.name,
                    h.timeline,
                    format_lsn(h.page_addr)
                ),
                setting: None,
            });
            continue;
        }
        let size = match &expanded {
            Some(t) if f.compression != Compression::None => f.decompress_into(t.path())?,
            Some(t) => {
                let link = t.path().join(&f.name);
                std::os::unix::fs::symlink(&f.path, &link)
                    .map_err(|e| UserError::new(format!("{}: cannot link: {e}", link.display())))?;
                f.size()?
            }
            None => f.size()?,
        };
        by_timeline
            .entry(f.timeline)
            .or_default()
            .push((segno, f, size));
    }

    // A window is placed with the native reader's probes, whoever decodes the records.
    let windowed = (opts.since.is_some() || opts.until.is_some())
        && (13..=18).contains(&major)
        && (1024..=65536).contains(&block_size);
    if (opts.since.is_some() || opts.until.is_some()) && !windowed {
        gaps.push(WalGap {
            what: format!(
                "PostgreSQL {major}'s WAL cannot be placed in the incident window: every segment was read"
            ),
            setting: None,
        });
    }
    let mut segments_skipped = 0u64;
    let mut complete_from: Option<u64> = None;
    let mut cut_by_until = false;
    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let mut transactions: Vec<WalTransaction> = Vec::new();
    let mut files_out = Vec::new();
    let mut segments_read = Vec::new();
    let mut start_lsn: Option<u64> = None;
    let mut end_lsn: Option<u64> = None;
    for (timeline, segs) in &by_timeline {
        // Contiguous runs; a truncated segment ends its run.
        let mut runs: Vec<Vec<&(u64, SegmentFile, u64)>> = Vec::new();
        for s in segs {
            let continues = runs
                .last()
                .and_then(|r| r.last())
                .is_some_and(|prev| prev.0 + 1 == s.0 && prev.2 >= u64::from(segment_size));
            if !continues && let Some(prev) = runs.last().and_then(|r| r.last()) {
                if prev.2 < u64::from(segment_size) {
                    // Named below with the truncated file.
                } else {
                    gaps.push(WalGap {
                        what: format!(
                            "WAL segment {} is missing (after {}, before {}): WAL {}–{} was not read",
                            segment_name(*timeline, prev.0 + 1, segment_size),
                            prev.1.name,
                            s.1.name,
                            format_lsn((prev.0 + 1) * u64::from(segment_size)),
                            format_lsn(s.0 * u64::from(segment_size))
                        ),
                        setting: Some("archive_mode = on (and a retention longer than the time to notice a loss)".into()),
                    });
                }
            }
            if continues {
                if let Some(r) = runs.last_mut() {
                    r.push(s);
                }
            } else {
                runs.push(vec![s]);
            }
            if s.2 < u64::from(segment_size) {
                gaps.push(WalGap {
                    what: format!(
                        "{}: truncated ({} of {} bytes; an incomplete copy): WAL after {} in it was not read",
                        s.1.path.display(),
                        s.2,
                        segment_size,
                        format_lsn(s.0 * u64::from(segment_size) + s.2)
                    ),
                    setting: None,
                });
            }
        }
        let mut parts: Vec<Part> = Vec::new();
        for (run_index, run) in runs.iter().enumerate() {
            let Some(run_first) = run.first() else {
                continue;
            };
            let run: &[&(u64, SegmentFile, u64)] = if windowed {
                let files: Vec<PathBuf> = run.iter().map(|s| work_dir.join(&s.1.name)).collect();
                let native = decode::Run {
                    files: &files,
                    first_segno: run_first.0,
                    segment_size: u64::from(segment_size),
                    block_size,
                    major,
                };
                let slack = opts
                    .window_slack
                    .unwrap_or_else(|| chrono::Duration::seconds(WINDOW_SLACK_SECONDS));
                let sel = select(&native, opts.since, opts.until, slack);
                // select() keeps lo < hi <= the run's length; were it ever not so, the whole
                // run is read (more, never less).
                let chosen = run.get(sel.lo..sel.hi).unwrap_or(run);
                segments_skipped += (run.len() - chosen.len()) as u64;
                if let Some(c) = sel.complete_from {
                    complete_from = Some(complete_from.map_or(c, |p: u64| p.min(c)));
                }
                cut_by_until |= chosen.last().map(|s| s.0) != run.last().map(|s| s.0);
                chosen
            } else {
                run
            };
            let (Some(first_seg), Some(last_seg)) = (run.first(), run.last()) else {
                continue;
            };
            let run_start = first_seg.0 * u64::from(segment_size);
            start_lsn = Some(start_lsn.map_or(run_start, |s| s.min(run_start)));
            let run_end = (last_seg.0 + 1) * u64::from(segment_size);
            // One part per thread: [from, to) from the start of every (len/n)th segment.
            let n = threads.min(run.len());
            let starts = (0..n)
                .filter_map(|i| run.get(i * run.len() / n))
                .map(|s| s.0 * u64::from(segment_size));
            let bounds: Vec<u64> = starts.chain(std::iter::once(run_end)).collect();
            let ranges: Vec<(u64, u64)> = bounds
                .iter()
                .copied()
                .zip(bounds.iter().copied().skip(1))
                .collect();
            let results: Vec<Result<(Part, Option<String>), UserError>> =
                std::thread::scope(|scope| {
                    let handles: Vec<_> = ranges
                        .iter()
                        .enumerate()
                        .map(|(i, &(from, to))| {
                            let waldump = &waldump;
                            let work_dir = &work_dir;
                            let first_range = run_index == 0 && i == 0;
                            let files: Vec<PathBuf> =
                                run.iter().map(|s| work_dir.join(&s.1.name)).collect();
                            let first_segno = first_seg.0;
                            scope.spawn(move || {
                                if reader == WalReader::Native {
                                    let native = decode::Run {
                                        files: &files,
                                        first_segno,
                                        segment_size: u64::from(segment_size),
                                        block_size,
                                        major,
                                    };
                                    let mut grouper = Grouper::new(first_range);
                                    let stop = decode::decode_part(&native, from, to, &mut grouper);
                                    return Ok((grouper.finish(), stop));
                                }
                                run_part(
                                    waldump,
                                    work_dir,
                                    *timeline,
                                    major,
                                    from,
                                    to,
                                    run_end,
                                    first_range,
                                )
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join().unwrap_or_else(|_| {
                                Err(UserError::new("a pg_waldump reader thread failed"))
                            })
                        })
                        .collect()
                });
            for (i, (result, &(_, to))) in results.into_iter().zip(&ranges).enumerate() {
                let (part, error) = result?;
                let last_of_run = i + 1 == ranges.len();
                if let Some(message) = error {
                    if part.records == 0 && i == 0 && parts.is_empty() && runs.len() == 1 {
                        let who = match reader {
                            WalReader::Native => "pgtriage".to_string(),
                            WalReader::Waldump => waldump.display().to_string(),
                        };
                        return Err(UserError::new(format!(
                            "{}: {who} could not read the WAL: {message}",
                            dir.display()
                        )));
                    }
                    if !last_of_run {
                        gaps.push(WalGap {
                            what: format!(
                                "the WAL reader stopped before {} ({message}): WAL up to there was not read",
                                format_lsn(to)
                            ),
                            setting: None,
                        });
                    }
                }
                if let Some(l) = part.last_lsn {
                    end_lsn = Some(end_lsn.map_or(l, |s| s.max(l)));
                }
                parts.push(part);
            }
            segments_read.extend(run.iter().map(|s| s.1.name.clone()));
        }
        let (txs, files) = group::merge(parts, *timeline);
        transactions.extend(txs);
        files_out.extend(files);
    }
    // A later timeline's first segment repeats the WAL before the switch: keep one copy.
    transactions
        .sort_by(|a, b| (a.xid, &a.end_lsn, a.timeline).cmp(&(b.xid, &b.end_lsn, b.timeline)));
    transactions.dedup_by(|b, a| a.xid == b.xid && a.end_lsn == b.end_lsn);
    transactions.sort_by_key(|t| {
        (
            t.end_lsn
                .as_deref()
                .and_then(crate::evidence::parse_lsn)
                .unwrap_or(u64::MAX),
            t.xid,
        )
    });
    files_out.sort_by_key(|f| f.relfilenode);
    files_out.dedup_by_key(|f| f.relfilenode);
    let window = windowed.then(|| {
        // Only transactions ending inside the window: those are read whole. One still open at
        // the end of the WAL is kept unless the read stopped at --until.
        transactions.retain(|t| match t.end_at {
            Some(at) => opts.since.is_none_or(|s| at >= s) && opts.until.is_none_or(|u| at <= u),
            None => t.end_lsn.is_none() && !cut_by_until,
        });
        WalWindow {
            since: opts.since,
            until: opts.until,
            basis: opts
                .window_basis
                .clone()
                .unwrap_or_else(|| "--since/--until".into()),
            complete_from_lsn: complete_from.map(format_lsn),
            segments_skipped,
            segments_read: segments_read.len() as u64,
        }
    });
    Ok(WalEvidence {
        source: match reader {
            WalReader::Native => "wal_directory".into(),
            WalReader::Waldump => "pg_waldump".into(),
        },
        directory: Some(dir.display().to_string()),
        major_version: Some(major),
        system_identifier: Some(first.system_identifier.to_string()),
        start_lsn: format_lsn(start_lsn.unwrap_or(0)),
        end_lsn: format_lsn(end_lsn.unwrap_or(0)),
        segments: segments_read,
        transactions,
        files: files_out,
        gaps,
        window,
    })
}

/// `TTTTTTTTLLLLLLLLSSSSSSSS` of a segment number.
pub fn segment_name(timeline: u32, segno: u64, segment_size: u32) -> String {
    let per_log = 0x1_0000_0000u64 / u64::from(segment_size.max(1));
    format!(
        "{timeline:08X}{:08X}{:08X}",
        segno / per_log,
        segno % per_log
    )
}

/// Runs pg_waldump from `from` and folds the records that start before `to`. Returns the part
/// and, when pg_waldump ended with an error before `to`, its message.
#[allow(clippy::too_many_arguments)]
fn run_part(
    waldump: &Path,
    dir: &Path,
    timeline: u32,
    major: u32,
    from: u64,
    to: u64,
    run_end: u64,
    first_range: bool,
) -> Result<(Part, Option<String>), UserError> {
    let mut cmd = Command::new(waldump);
    cmd.arg("-p")
        .arg(dir)
        .arg("-t")
        .arg(timeline.to_string())
        .arg("-s")
        .arg(format_lsn(from))
        .arg("-e")
        .arg(format_lsn(run_end));
    if major >= 15 {
        for r in RMGRS {
            cmd.arg("-r").arg(r);
        }
    }
    // Commit times in UTC, whatever the machine's zone.
    cmd.env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| UserError::new(format!("{}: cannot run: {e}", waldump.display())))?;
    let mut grouper = Grouper::new(first_range);
    let mut stopped_early = false;
    if let Some(stdout) = child.stdout.take() {
        let mut reader = BufReader::with_capacity(1 << 20, stdout);
        let mut line = Vec::with_capacity(512);
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let Ok(text) = std::str::from_utf8(&line) else {
                continue;
            };
            let Some(record) = parse_waldump_line(text.trim_end()) else {
                continue;
            };
            if record.lsn >= to {
                stopped_early = true;
                break;
            }
            grouper.record(&record);
        }
    }
    if stopped_early {
        let _ = child.kill();
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let status = child
        .wait()
        .map_err(|e| UserError::new(format!("{}: {e}", waldump.display())))?;
    let error = (!stopped_early && !status.success()).then(|| {
        stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("exited with an error")
            .trim_start_matches("pg_waldump: error: ")
            .to_string()
    });
    Ok((grouper.finish(), error))
}

/// The `pg_waldump` of `major`: `PGTRIAGE_PG_WALDUMP`, the Debian/Ubuntu and RHEL install
/// paths, `pg_config --bindir`, then `PATH`; each is asked its version.
pub fn find_waldump(major: u32) -> Result<PathBuf, UserError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("PGTRIAGE_PG_WALDUMP") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(PathBuf::from(format!(
        "/usr/lib/postgresql/{major}/bin/pg_waldump"
    )));
    candidates.push(PathBuf::from(format!("/usr/pgsql-{major}/bin/pg_waldump")));
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        candidates
            .push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("pg_waldump"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("pg_waldump")));
    }
    let mut found: Vec<String> = Vec::new();
    for c in candidates {
        if !c.is_file() {
            continue;
        }
        let Some(version) = waldump_major(&c) else {
            continue;
        };
        if version == major {
            return Ok(c);
        }
        found.push(format!("{} is version {version}", c.display()));
    }
    Err(UserError::new(format!(
        "the WAL is PostgreSQL {major}'s and needs pg_waldump {major}{}: install it (Debian/Ubuntu: apt-get install postgresql-{major}; RHEL: postgresql{major}-server) or set PGTRIAGE_PG_WALDUMP to its path",
        if found.is_empty() {
            String::from(", none was found")
        } else {
            format!(" ({})", found.join(", "))
        }
    )))
}

/// `pg_waldump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → 15.
fn waldump_major(path: &Path) -> Option<u32> {
    let out = Command::new(path).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split(')').nth(1)?.split_whitespace().next()?;
    version.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_follow_the_lsn() {
        assert_eq!(
            segment_name(1, 0x1_05, 16 * 1024 * 1024),
            "000000010000000100000005"
        );
    }
}
