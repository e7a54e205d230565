//! `pgtriage recover`'s outside world: the only module that starts a PostgreSQL server. It
//! rehearses one recovery plan on a scratch server (`scratch`) — a copy of a base backup
//! recovered to the plan's target (paused), or a `pg_dump -Fc` restored into a fresh cluster —
//! copies the lost tables' rows out, and writes `restore.sql` (only the missing rows, one
//! transaction, idempotent, never an UPDATE or DELETE), one CSV per table and `recover.json`.
//! The investigated server is never contacted.

pub mod scratch;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::analysis::quote::{qualified, quote_literal};
use crate::analysis::recovery::{self as plans, Plan, Target};
use crate::error::{Result, UserError};
use scratch::Scratch;

pub const RECOVER_FORMAT: &str = "pgtriage-recover/1";

pub enum Source {
    /// A base backup and the WAL archive `cp` copies into; without an archive, the
    /// restore_command the directory carries (a pgBackRest restore writes its own).
    BaseBackup {
        dir: PathBuf,
        wal_archive: Option<PathBuf>,
    },
    Dump(PathBuf),
}

pub struct Request<'a> {
    pub plan: &'a Plan,
    /// The database the lost tables live in.
    pub database: String,
    /// Lost tables the live database did not have when the evidence was collected (dropped,
    /// not re-created): restore.sql creates them first (pg_dump of their definition costs a
    /// fraction of a second each, so only for these).
    pub absent_tables: Vec<String>,
    /// Roles of the investigated server to connect to a recovered copy as when it has no
    /// `postgres` (the evidence's connecting role); the copy's bootstrap superuser is used then.
    pub users: Vec<String>,
    /// The major version of the investigated server, when the evidence has it.
    pub server_major: Option<u32>,
    pub source: Source,
    pub out: PathBuf,
    pub scratch_parent: Option<PathBuf>,
    /// The evidence file, for the record.
    pub evidence_path: String,
}

#[derive(Debug, Serialize)]
pub struct TableResult {
    pub table: String,
    /// Rows in the recovered copy.
    pub rows_found: Option<i64>,
    pub expected_rows: Option<i64>,
    pub rows_expected_back: Option<i64>,
    /// Expected − found, when positive: rows not in the copy.
    pub rows_still_missing: Option<i64>,
    /// The columns restore.sql matches on: the primary key, or every column (no key).
    pub match_on: Vec<String>,
    pub has_primary_key: bool,
    pub csv: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FileRecord {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct Timings {
    pub total_seconds: f64,
    /// From the scratch server's start until it paused at the target (PostgreSQL's replay),
    /// or the dump restore.
    pub server_seconds: f64,
    /// Everything else: copying the base backup, extracting rows, writing files, cleaning up.
    pub pgtriage_seconds: f64,
    pub copy_seconds: f64,
    /// Reading the archive with pg_waldump for an LSN target (DROP DATABASE only).
    pub wal_scan_seconds: f64,
    pub extract_seconds: f64,
    /// Stopping the scratch server and removing its directory.
    pub cleanup_seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct RecoverReport {
    pub format: &'static str,
    pub evidence: String,
    pub plan: usize,
    pub event: String,
    /// `base_backup` or `dump`.
    pub source: &'static str,
    pub source_path: String,
    pub wal_archive: Option<String>,
    pub target: Option<Target>,
    /// Where replay stopped: the last replayed transaction's commit time.
    pub reached: Option<String>,
    pub tables: Vec<TableResult>,
    pub all_found: bool,
    pub files: Vec<FileRecord>,
    pub notes: Vec<String>,
    pub timings: Timings,
}

fn progress() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// `--out` must be empty or absent: recover never overwrites an earlier run's files.
pub fn check_out_dir(out: &Path) -> Result<()> {
    if out.exists() {
        let mut entries = fs::read_dir(out)
            .map_err(|e| UserError::new(format!("{}: cannot read --out: {e}", out.display())))?;
        if entries.next().is_some() {
            return Err(UserError::new(format!(
                "{}: --out is not empty: give a new directory (recover never overwrites an earlier run)",
                out.display()
            )));
        }
    }
    fs::create_dir_all(out)
        .map_err(|e| UserError::new(format!("{}: cannot create --out: {e}", out.display())))
}

/// The major version of a base backup, from its PG_VERSION.
fn backup_major(dir: &Path) -> Result<u32> {
    let path = dir.join("PG_VERSION");
    let text = fs::read_to_string(&path).map_err(|_| {
        UserError::new(format!(
            "{}: no PG_VERSION: --base-backup must be a plain-format base backup directory (pg_basebackup -Fp; extract a tar backup first)",
            dir.display()
        ))
    })?;
    text.trim().parse().map_err(|_| {
        UserError::new(format!(
            "{}: unreadable version {:?}",
            path.display(),
            text.trim()
        ))
    })
}

/// The name of the WAL segment after `name` (16 MB segments).
fn next_segment(name: &str) -> Option<String> {
    // The name comes from the scratch server's log: 24 bytes are not 24 ASCII digits, so each
    // field is read with `get` (a name cut inside a character is no segment).
    if name.len() != 24 {
        return None;
    }
    let tli = name.get(..8)?;
    let log = u32::from_str_radix(name.get(8..16)?, 16).ok()?;
    let seg = u32::from_str_radix(name.get(16..24)?, 16).ok()?;
    let (log, seg) = if seg >= 0xFF {
        (log + 1, 0)
    } else {
        (log, seg + 1)
    };
    Some(format!("{tli}{log:08X}{seg:08X}"))
}

/// The last segment the restore_command delivered, from the scratch server's log.
fn last_restored(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .filter_map(|l| l.split_once("restored log file \""))
        .filter_map(|(_, rest)| rest.split('"').next())
        .find(|s| s.len() == 24)
        .map(str::to_string)
}

pub fn recover(req: &Request) -> Result<RecoverReport> {
    let started = Instant::now();
    check_out_dir(&req.out)?;
    let bar = progress();
    let mut notes = Vec::new();
    let (major, source_kind, source_path, wal) = match &req.source {
        Source::BaseBackup { dir, wal_archive } => {
            let major = backup_major(dir)?;
            if let Some(server) = req.server_major.filter(|s| *s != major) {
                return Err(UserError::new(format!(
                    "{}: the base backup is PostgreSQL {major}, the investigated server is {server}: give a base backup of this server",
                    dir.display()
                )));
            }
            if let Some(wal_archive) = wal_archive.as_ref().filter(|w| !w.is_dir()) {
                return Err(UserError::new(format!(
                    "{}: --wal-archive is not a directory: give the directory archive_command copies WAL into",
                    wal_archive.display()
                )));
            }
            if wal_archive.is_none() && directory_restore_command(dir).is_none() {
                return Err(UserError::new(format!(
                    "{}: no restore_command in its postgresql.auto.conf or postgresql.conf: give --wal-archive DIR (where archive_command copies WAL), or a directory restored by the archiver's own tool (pgbackrest restore writes one)",
                    dir.display()
                )));
            }
            (
                major,
                "base_backup",
                dir.display().to_string(),
                wal_archive.clone(),
            )
        }
        Source::Dump(path) => {
            if !path.is_file() {
                return Err(UserError::new(format!(
                    "{}: --dump is not a file: give a pg_dump -Fc archive",
                    path.display()
                )));
            }
            dump_list(path)?;
            (
                req.server_major.unwrap_or(0),
                "dump",
                path.display().to_string(),
                None,
            )
        }
    };
    let bindir = if major == 0 {
        // No version to match: the newest local server.
        (12..=30)
            .rev()
            .find_map(|m| scratch::bindir(m).ok())
            .ok_or_else(|| {
                UserError::new(
                    "no PostgreSQL server binaries found: install a postgresql server package or set PGTRIAGE_PG_BINDIR",
                )
            })?
    } else {
        scratch::bindir(major)?
    };
    let mut server = Scratch::create(bindir, req.scratch_parent.as_deref())?;
    server.also_try_users(&req.users);

    let copy_started = Instant::now();
    let mut copy_seconds = 0.0;
    let mut wal_scan_seconds = 0.0;
    let server_started;
    let mut reached = None;
    let mut used_target = req.plan.target.clone();
    match &req.source {
        Source::BaseBackup { dir, wal_archive } => {
            bar.set_message(format!("copying the base backup {}", dir.display()));
            server.copy_base_backup(dir)?;
            copy_seconds = copy_started.elapsed().as_secs_f64();
            let target = req.plan.target.as_ref().ok_or_else(|| {
                UserError::new(format!(
                    "plan {} has no recovery target (the evidence does not pin when the rows were removed): use --dump, or give the log that covers the loss",
                    req.plan.id
                ))
            })?;
            let archive = wal_archive
                .as_ref()
                .map(|w| fs::canonicalize(w).unwrap_or_else(|_| w.clone()));
            let (restore_command, refined, archive_name) = match &archive {
                Some(archive) => {
                    let restore_command = format!(
                        "cp {}/%f %p",
                        crate::analysis::quote::shell(&archive.to_string_lossy())
                    );
                    bar.set_message("finding the last commit before the loss in the WAL archive");
                    let scan_started = Instant::now();
                    let refined = refine_target(target, dir, archive, &server.bindir, &mut notes);
                    wal_scan_seconds = scan_started.elapsed().as_secs_f64();
                    (restore_command, refined, archive.display().to_string())
                }
                None => {
                    // pgBackRest resolves a relative %p against its --pg1-path: the restored
                    // directory's own path there would put the WAL beside the original, not
                    // into the scratch copy that is recovering.
                    let mut rc = directory_restore_command(dir).unwrap_or_default();
                    let scratch_data = server.data.to_string_lossy().to_string();
                    for original in [
                        fs::canonicalize(dir)
                            .ok()
                            .map(|d| d.to_string_lossy().to_string()),
                        Some(dir.to_string_lossy().trim_end_matches('/').to_string()),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        rc = rc.replace(
                            &format!("--pg1-path={original}"),
                            &format!(
                                "--pg1-path={}",
                                crate::analysis::quote::shell(&scratch_data)
                            ),
                        );
                    }
                    notes.push(format!(
                        "WAL comes from the restore_command the directory carries: {rc}"
                    ));
                    if target.needs_lsn && target.lsn.is_none() {
                        notes.push("the archive is not a directory pg_waldump can read: the recovery stops at the time target, which for DROP DATABASE is too late (give --wal-archive)".into());
                    }
                    (rc.clone(), target.clone(), format!("restore_command {rc}"))
                }
            };
            server.configure(&plans::recovery_settings(&refined, &restore_command))?;
            server.signal_recovery()?;
            server_started = Instant::now();
            bar.set_message("starting the scratch server");
            server.start()?;
            reached = Some(wait_for_target(&server, &refined, &archive_name, &bar)?);
            used_target = Some(refined);
        }
        Source::Dump(path) => {
            bar.set_message("initdb of the scratch server");
            server.initdb()?;
            server.configure(&[])?;
            server_started = Instant::now();
            server.start()?;
            server.wait_ready()?;
            restore_dump(&server, req, path, &bar, &mut notes)?;
        }
    }
    let server_seconds = server_started.elapsed().as_secs_f64();

    let extract_started = Instant::now();
    bar.set_message("copying the lost rows out");
    let tables = extract(&server, req, &bar)?;
    let extract_seconds = extract_started.elapsed().as_secs_f64();
    bar.set_message("stopping the scratch server");
    let cleanup_started = Instant::now();
    drop(server);
    let cleanup_seconds = cleanup_started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let mut files = Vec::new();
    let mut names: Vec<String> = vec!["restore.sql".into()];
    names.extend(tables.iter().filter_map(|t| t.csv.clone()));
    for name in names {
        let (sha256, bytes) = crate::io::sha256_file(&req.out.join(&name))?;
        files.push(FileRecord {
            name,
            sha256,
            bytes,
        });
    }
    let all_found = tables
        .iter()
        .all(|t| t.rows_found.is_some() && t.rows_still_missing.unwrap_or(0) == 0);
    let total = started.elapsed().as_secs_f64();
    Ok(RecoverReport {
        format: RECOVER_FORMAT,
        evidence: req.evidence_path.clone(),
        plan: req.plan.id,
        event: req.plan.event.clone(),
        source: source_kind,
        source_path,
        wal_archive: wal.map(|w| w.display().to_string()),
        target: used_target,
        reached,
        tables,
        all_found,
        files,
        notes,
        timings: Timings {
            total_seconds: total,
            server_seconds,
            pgtriage_seconds: total - server_seconds,
            copy_seconds,
            wal_scan_seconds,
            extract_seconds,
            cleanup_seconds,
        },
    })
}

/// The `restore_command` a data directory carries (the last one set in postgresql.auto.conf,
/// else postgresql.conf), as the server would read it: a directory restored by pgBackRest has
/// its `archive-get` there.
pub fn directory_restore_command(dir: &Path) -> Option<String> {
    ["postgresql.auto.conf", "postgresql.conf"]
        .iter()
        .find_map(|f| {
            let text = fs::read_to_string(dir.join(f)).ok()?;
            text.lines().rev().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                if k.trim() != "restore_command" {
                    return None;
                }
                let v = v.trim();
                let inner = v.strip_prefix('\'')?;
                let (quoted, _) = inner.rsplit_once('\'')?;
                let value = quoted.replace("''", "'").replace("\\\\", "\\");
                (!value.trim().is_empty()).then_some(value)
            })
        })
}

/// The WAL location to stop at: just after the last transaction that ended before the loss,
/// read from the archive with pg_waldump (from the base backup's start). A time target stops
/// only at commit records, but some statements change data before their commit: DROP DATABASE
/// marks the database invalid and removes its files first, so a copy recovered to the drop's
/// time has no database left. Falls back to the time target when the WAL cannot be read.
fn refine_target(
    target: &Target,
    base: &Path,
    archive: &Path,
    bindir: &Path,
    notes: &mut Vec<String>,
) -> Target {
    let Some(at) = target.time else {
        return target.clone();
    };
    // Reading the archive costs about as long as replaying it: only where a time target fails.
    if target.lsn.is_some() || !target.needs_lsn {
        return target.clone();
    }
    let label = fs::read_to_string(base.join("backup_label")).unwrap_or_default();
    let start = label
        .lines()
        .find_map(|l| l.strip_prefix("START WAL LOCATION: "))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_string);
    let Some(start) = start else {
        notes.push(
            "the base backup has no backup_label: the recovery stops at the time target".into(),
        );
        return target.clone();
    };
    let out = std::process::Command::new(bindir.join("pg_waldump"))
        .arg("-p")
        .arg(archive)
        .args(["-s", &start, "-r", "Transaction"])
        .stdin(std::process::Stdio::null())
        .output();
    let Ok(out) = out else {
        return target.clone();
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut last = None;
    for line in text.lines() {
        let Some((_, desc)) = line.split_once("desc: ") else {
            continue;
        };
        let rest = desc
            .strip_prefix("COMMIT ")
            .or_else(|| desc.strip_prefix("ABORT "));
        let Some(rest) = rest else { continue };
        let stamp: String = rest
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let Ok(ts) = chrono::NaiveDateTime::parse_from_str(&stamp, "%Y-%m-%d %H:%M:%S%.f") else {
            continue;
        };
        if ts.and_utc() >= at {
            break;
        }
        let lsn = line
            .split_once("lsn: ")
            .and_then(|(_, r)| r.split(',').next())
            .map(str::to_string);
        if let Some(lsn) = lsn {
            last = Some((lsn, ts.and_utc()));
        }
    }
    match last {
        Some((lsn, ts)) => {
            notes.push(format!(
                "recovery stops just after the last transaction that ended before the loss: LSN {lsn} (committed {}), read from the archive with pg_waldump",
                ts.format("%Y-%m-%d %H:%M:%S%.6f UTC")
            ));
            let mut t = target.clone();
            t.lsn = Some(lsn);
            t.inclusive = true;
            t
        }
        None => {
            notes.push("no transaction ended between the base backup and the loss in the archive's WAL: the recovery stops at the time target".into());
            target.clone()
        }
    }
}

/// Polls the recovering server until it pauses at the target (or, without a time target,
/// finishes replaying the timeline); turns a server that gave up into a one-line error.
fn wait_for_target(
    server: &Scratch,
    target: &Target,
    archive: &str,
    bar: &ProgressBar,
) -> Result<String> {
    loop {
        let log = server.log_text();
        let segment = last_restored(&log);
        bar.set_message(format!(
            "replaying WAL{}",
            segment
                .as_ref()
                .map(|s| format!(": restored {s}"))
                .unwrap_or_default()
        ));
        let state = server.query(
            "template1",
            "SELECT pg_is_in_recovery(), CASE WHEN NOT pg_is_in_recovery() THEN 'promoted' WHEN pg_is_wal_replay_paused() THEN 'paused' ELSE 'replaying' END, coalesce(pg_last_xact_replay_timestamp()::text, '')",
        );
        if let Ok(text) = state {
            let parts: Vec<&str> = text.split('|').collect();
            if let [in_recovery, replay, replayed_until] = parts.as_slice() {
                let done = match (*in_recovery, *replay) {
                    ("t", "paused") => true,
                    // Replayed the whole timeline (no time target) and promoted.
                    ("f", _) => target.time.is_none() && target.lsn.is_none(),
                    _ => false,
                };
                if done {
                    if *in_recovery == "t" {
                        // Paused before the destructive commit, the startup process still holds
                        // that transaction's AccessExclusiveLock (replayed from its lock
                        // record): reading the table would wait forever. Ending recovery on the
                        // scratch copy aborts it and frees the lock; archiving is off, so the
                        // new timeline never leaves the scratch directory.
                        bar.set_message("target reached; ending recovery on the scratch copy");
                        server.query("template1", "SELECT pg_promote(true, 600)")?;
                    }
                    return Ok(replayed_until.to_string());
                }
                if *in_recovery == "f" {
                    return Err(UserError::new(
                        "the scratch server finished recovery without pausing at the target: the target is after the archive's last transaction",
                    ));
                }
            }
        }
        if !server.alive() {
            let log = server.log_text();
            let fatal = server.last_fatal().unwrap_or_else(|| {
                format!(
                    "the server exited; its last words: {}",
                    log.lines().last().unwrap_or("(none)").trim()
                )
            });
            if fatal.contains("before configured recovery target was reached") {
                let last = last_restored(&log);
                return Err(UserError::new(
                    match (&last, last.as_deref().and_then(next_segment)) {
                        (Some(l), Some(n)) => format!(
                            "{archive}: WAL segment {n} is missing (replay ended after {l}) before the target {}: copy the missing segments into the archive, or choose an earlier target",
                            target
                                .time
                                .map(plans::target_time_text)
                                .unwrap_or_else(|| "end of timeline".into())
                        ),
                        _ => format!(
                            "{archive}: the archive does not reach the target {} ({fatal}): give the archive that covers it",
                            target
                                .time
                                .map(plans::target_time_text)
                                .unwrap_or_else(|| "end of timeline".into())
                        ),
                    },
                ));
            }
            if fatal.contains("incompatible") || fatal.contains("was initialized by") {
                return Err(UserError::new(format!(
                    "the base backup does not match the local server binaries: {fatal}"
                )));
            }
            return Err(UserError::new(format!(
                "the scratch server stopped during recovery: {fatal}"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Restores the dump's schema (pre-data), then only the lost tables' data, so no table gets
/// rows without its schema, types and sequences.
fn restore_dump(
    server: &Scratch,
    req: &Request,
    dump: &Path,
    bar: &ProgressBar,
    notes: &mut Vec<String>,
) -> Result<()> {
    let list = dump_list(dump)?;
    if let (Some(created), Some(at)) = (dump_created(&list), req.plan.at)
        && created >= at
    {
        {
            notes.push(format!(
                "the dump was made at {created}, after the loss at {at}: it may not hold the lost rows"
            ));
        }
    }
    server.query(
        "postgres",
        &format!(
            "CREATE DATABASE {}",
            crate::analysis::quote::quote_ident(&req.database)
        ),
    )?;
    bar.set_message("restoring the dump's schema (pre-data)");
    let conn = server.conninfo(&req.database);
    let out = server
        .tool("pg_restore")
        .args(["--section=pre-data", "--no-owner", "--no-privileges", "-d"])
        .arg(&conn)
        .arg(dump)
        .output()
        .map_err(|e| UserError::new(format!("pg_restore: cannot run: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        notes.push(format!(
            "pg_restore --section=pre-data reported errors (ignored where the lost tables did not need them): {}",
            err.lines().find(|l| l.contains("error")).unwrap_or("").trim()
        ));
    }
    for t in &req.plan.tables {
        let (schema, name) = t.table.split_once('.').unwrap_or(("public", &t.table));
        bar.set_message(format!("restoring the data of {}", t.table));
        let out = server
            .tool("pg_restore")
            .args(["--section=data", "--no-owner", "--no-privileges", "-n"])
            .arg(schema)
            .arg("-t")
            .arg(name)
            .arg("-d")
            .arg(&conn)
            .arg(dump)
            .output()
            .map_err(|e| UserError::new(format!("pg_restore: cannot run: {e}")))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            notes.push(format!(
                "pg_restore of {}'s data: {}",
                t.table,
                err.lines()
                    .find(|l| l.contains("error"))
                    .unwrap_or("")
                    .trim()
            ));
        }
    }
    // Keys and indexes (post-data) after the rows: restore.sql matches on the primary key, and
    // a dump only declares it there. Foreign keys to tables whose data was not restored fail
    // their validation and are skipped — the scratch copy needs none of them.
    bar.set_message("restoring the dump's keys and indexes (post-data)");
    let _ = server
        .tool("pg_restore")
        .args(["--section=post-data", "--no-owner", "--no-privileges", "-d"])
        .arg(&conn)
        .arg(dump)
        .output();
    Ok(())
}

/// The dump's table of contents (`pg_restore -l`): proves the file is a custom-format archive.
fn dump_list(dump: &Path) -> Result<String> {
    let pg_restore = (12..=30)
        .rev()
        .find_map(|m| scratch::bindir(m).ok())
        .map(|d| d.join("pg_restore"))
        .unwrap_or_else(|| PathBuf::from("pg_restore"));
    match std::process::Command::new(pg_restore)
        .arg("-l")
        .arg(dump)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).to_string()),
        Ok(o) => Err(UserError::new(format!(
            "{}: not a pg_dump custom-format archive ({}): give a file made by pg_dump -Fc",
            dump.display(),
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
        ))),
        Err(e) => Err(UserError::new(format!("pg_restore: cannot run: {e}"))),
    }
}

/// `; Archive created at 2026-11-23 15:25:30 UTC` from `pg_restore -l`.
fn dump_created(list: &str) -> Option<DateTime<Utc>> {
    let line = list.lines().find(|l| l.contains("Archive created at"))?;
    let text = line.split_once("Archive created at")?.1.trim();
    let text = text.trim_end_matches(" UTC");
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|n| n.and_utc())
}

struct TableShape {
    name: String,
    sql: String,
    columns: Vec<String>,
    key: Vec<String>,
    serials: Vec<String>,
}

fn write_err(path: &Path, e: std::io::Error) -> UserError {
    UserError::new(format!(
        "{}: cannot write: {e}{}",
        path.display(),
        if e.to_string().contains("No space") {
            " (the disk is full: free space or give --out on a larger disk)"
        } else {
            ""
        }
    ))
}

/// Reads each lost table's shape and rows from the scratch server; writes the CSVs and
/// restore.sql (the rows streamed from psql into the file, never held in memory).
fn extract(server: &Scratch, req: &Request, bar: &ProgressBar) -> Result<Vec<TableResult>> {
    let db = &req.database;
    let mut shapes = Vec::new();
    let mut results = BTreeMap::new();
    let mut csv_jobs: Vec<(String, PathBuf)> = Vec::new();
    for t in &req.plan.tables {
        let sql = qualified(&t.table);
        let reg = quote_literal(&sql);
        let exists = server.query(db, &format!("SELECT to_regclass({reg}) IS NOT NULL"))?;
        let mut result = TableResult {
            table: t.table.clone(),
            rows_found: None,
            expected_rows: t.expected_rows,
            rows_expected_back: t.rows_expected_back,
            rows_still_missing: t.rows_expected_back.filter(|n| *n > 0),
            match_on: vec![],
            has_primary_key: false,
            csv: None,
            note: None,
        };
        if exists != "t" {
            result.note = Some(format!(
                "{} does not exist in the recovered copy: the target is before it was created, or the source lacks it",
                t.table
            ));
            results.insert(t.table.clone(), result);
            continue;
        }
        // One round trip for the table's shape and row count: the columns, the primary key and
        // the serial/identity columns, each list joined by U+001F, the four fields by U+001E.
        let shape = server.query(
            db,
            &format!(
                "SELECT concat_ws(chr(30), \
                   coalesce((SELECT string_agg(quote_ident(attname), chr(31) ORDER BY attnum) FROM pg_attribute WHERE attrelid = {reg}::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''), ''), \
                   coalesce((SELECT string_agg(quote_ident(a.attname), chr(31) ORDER BY k.n) FROM pg_index i JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n) ON true JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE i.indrelid = {reg}::regclass AND i.indisprimary), ''), \
                   coalesce((SELECT string_agg(quote_ident(attname), chr(31) ORDER BY attnum) FROM pg_attribute WHERE attrelid = {reg}::regclass AND attnum > 0 AND NOT attisdropped AND pg_get_serial_sequence({reg}, attname) IS NOT NULL), ''), \
                   (SELECT count(*) FROM {sql}))"
            ),
        )?;
        let fields: Vec<&str> = shape.split('\u{1e}').collect();
        let list = |n: usize| -> Vec<String> {
            fields
                .get(n)
                .filter(|f| !f.is_empty())
                .map(|f| f.split('\u{1f}').map(str::to_string).collect())
                .unwrap_or_default()
        };
        let (columns, key, serials) = (list(0), list(1), list(2));
        let count: i64 = fields
            .get(3)
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(0);
        result.rows_found = Some(count);
        // The copy must hold at least as many rows as are missing (it also holds the survivors
        // of a partial loss, so this is a lower bound, not a row-by-row match).
        result.rows_still_missing = t.rows_expected_back.map(|e| (e - count).max(0));
        result.has_primary_key = !key.is_empty();
        result.match_on = if key.is_empty() {
            columns.clone()
        } else {
            key.clone()
        };
        if key.is_empty() {
            result.note = Some("no primary key: restore.sql compares whole rows (EXCEPT ALL), so a row updated since the target comes back as a second, older row".into());
        }
        let csv = format!("{}.csv", t.table.replace(['/', '\\'], "_"));
        // Written by a thread of its own while restore.sql is (below): two COPYs at once.
        csv_jobs.push((
            format!(
                "COPY (SELECT {} FROM {sql}) TO STDOUT WITH (FORMAT csv, HEADER)",
                columns.join(", ")
            ),
            req.out.join(&csv),
        ));
        result.csv = Some(csv);
        results.insert(t.table.clone(), result);
        shapes.push(TableShape {
            name: t.table.clone(),
            sql,
            columns,
            key,
            serials,
        });
    }

    bar.set_message("writing restore.sql and the CSV files");
    std::thread::scope(|scope| {
        let csvs = scope.spawn(|| -> Result<()> {
            for (copy, path) in &csv_jobs {
                server.copy_out(db, copy, path)?;
            }
            Ok(())
        });
        let script = (|| -> Result<()> {
            // Parents before children: a child's rows need their parent's keys.
            let order = fk_order(server, db, &shapes)?;
            let path = req.out.join("restore.sql");
            let mut file = fs::File::create(&path).map_err(|e| write_err(&path, e))?;
            let mut script = String::new();
            let _ = writeln!(
                script,
                "-- pgtriage recover: plan {} ({})\n-- Puts back only the rows missing from the lost tables: one transaction, never an UPDATE or\n-- DELETE; a row whose key (or, without a key, the whole row) is already there is skipped, so\n-- running it twice changes nothing.\n\\set ON_ERROR_STOP on\nBEGIN;",
                req.plan.id,
                req.plan.event.replace('\n', " ")
            );
            // A lost table the live database no longer has (dropped, not re-created) is created first,
            // from the recovered copy's own definition, in the same transaction: parents first, so a
            // foreign key finds its table.
            for (n, s) in order
                .iter()
                .enumerate()
                .filter(|(_, s)| req.absent_tables.contains(&s.name))
            {
                let mut ddl = table_definition(server, db, &s.sql)?;
                if let Source::Dump(dump) = &req.source {
                    // The scratch copy of a dump lacks the foreign keys whose parents' rows were not
                    // restored (their validation failed): the dump itself has them.
                    ddl.push_str(&dump_foreign_keys(dump, &s.name, &ddl));
                }
                let flag = format!("pgtriage_create_{}", n + 1);
                let schema = s
                    .sql
                    .rsplit_once('.')
                    .map(|(schema, _)| schema.to_string())
                    .unwrap_or_else(|| "public".into());
                let _ = writeln!(
                    script,
                    "\n-- {}: created from the recovered copy's definition only when the live database has no such table (dropped, not re-created)\nSELECT to_regclass({}) IS NULL AS {flag} \\gset\n\\if :{flag}\nCREATE SCHEMA IF NOT EXISTS {schema};\n{ddl}\\endif",
                    s.name,
                    quote_literal(&s.sql)
                );
            }
            for (n, s) in order.iter().enumerate() {
                let tmp = format!("pgtriage_restore_{}", n + 1);
                let cols = s.columns.join(", ");
                let _ = writeln!(
                    script,
                    "\n-- {}: {} rows in the recovered copy; matched on {}",
                    s.name,
                    results.get(&s.name).and_then(|r| r.rows_found).unwrap_or(0),
                    if s.key.is_empty() {
                        "every column (no primary key)".to_string()
                    } else {
                        format!("the primary key ({})", s.key.join(", "))
                    }
                );
                let _ = writeln!(
                    script,
                    "CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {cols} FROM {} WITH NO DATA;\nCOPY {tmp} ({cols}) FROM stdin;",
                    s.sql
                );
                file.write_all(script.as_bytes())
                    .and_then(|_| file.flush())
                    .map_err(|e| write_err(&path, e))?;
                script.clear();
                let into = file.try_clone().map_err(|e| write_err(&path, e))?;
                server.copy_into(
                    db,
                    &format!("COPY (SELECT {cols} FROM {}) TO STDOUT", s.sql),
                    into,
                )?;
                script.push_str("\\.\n");
                let select: Vec<String> = s.columns.iter().map(|c| format!("s.{c}")).collect();
                if s.key.is_empty() {
                    let _ = writeln!(
                        script,
                        "INSERT INTO {} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM {tmp} EXCEPT ALL SELECT {cols} FROM {} ON CONFLICT DO NOTHING;",
                        s.sql, s.sql
                    );
                } else {
                    let on: Vec<String> = s.key.iter().map(|k| format!("l.{k} = s.{k}")).collect();
                    let _ = writeln!(
                        script,
                        "INSERT INTO {} ({cols}) OVERRIDING SYSTEM VALUE SELECT {} FROM {tmp} s WHERE NOT EXISTS (SELECT 1 FROM {} l WHERE {}) ON CONFLICT DO NOTHING;",
                        s.sql,
                        select.join(", "),
                        s.sql,
                        on.join(" AND ")
                    );
                }
                for col in &s.serials {
                    let reg = quote_literal(&s.sql);
                    let colname = quote_literal(col.trim_matches('"'));
                    let _ = writeln!(
                        script,
                        "SELECT setval(x.seq, x.m) FROM (SELECT pg_get_serial_sequence({reg}, {colname}) AS seq, (SELECT max({col}) FROM {}) AS m) x WHERE x.seq IS NOT NULL AND x.m IS NOT NULL AND x.m > coalesce(pg_sequence_last_value(x.seq::regclass), 0);",
                        s.sql
                    );
                }
            }
            script.push_str("\nCOMMIT;\n");
            file.write_all(script.as_bytes())
                .and_then(|_| file.sync_all())
                .map_err(|e| write_err(&path, e))?;
            Ok(())
        })();
        let csvs = csvs
            .join()
            .unwrap_or_else(|_| Err(UserError::new("writing the CSV files failed")));
        script.and(csvs)
    })?;
    let tables = req
        .plan
        .tables
        .iter()
        .filter_map(|t| results.remove(&t.table))
        .collect();
    Ok(tables)
}

/// The foreign keys of `table` (`schema.name`) as the dump declares them, leaving out those
/// `ddl` already has (by constraint name).
fn dump_foreign_keys(dump: &Path, table: &str, ddl: &str) -> String {
    let Some((schema, name)) = table.split_once('.') else {
        return String::new();
    };
    let Ok(list) = dump_list(dump) else {
        return String::new();
    };
    let prefix = format!("FK CONSTRAINT {schema} {name} ");
    let wanted: Vec<&str> = list
        .lines()
        .filter(|l| !l.starts_with(';'))
        .filter(|l| {
            l.split_once(' ')
                .map(|(_, rest)| rest.split_once(' ').map(|x| x.1).unwrap_or(""))
                .and_then(|rest| rest.split_once(' ').map(|x| x.1))
                .is_some_and(|rest| rest.starts_with(&prefix))
        })
        .filter(|l| {
            let constraint = l
                .split_once(&prefix)
                .map_or("", |(_, after)| after)
                .split_whitespace()
                .next()
                .unwrap_or("");
            !ddl.contains(&format!(
                "ADD CONSTRAINT {} ",
                crate::analysis::quote::quote_ident(constraint)
            ))
        })
        .collect();
    if wanted.is_empty() {
        return String::new();
    }
    let Ok(dir) = tempfile::tempdir() else {
        return String::new();
    };
    let list_path = dir.path().join("fk.list");
    if fs::write(&list_path, wanted.join("\n")).is_err() {
        return String::new();
    }
    let pg_restore = (12..=30)
        .rev()
        .find_map(|m| scratch::bindir(m).ok())
        .map(|d| d.join("pg_restore"))
        .unwrap_or_else(|| PathBuf::from("pg_restore"));
    let out = std::process::Command::new(pg_restore)
        .arg("-L")
        .arg(&list_path)
        .args(["--no-owner", "-f", "-"])
        .arg(dump)
        .stdin(std::process::Stdio::null())
        .output();
    let Ok(out) = out else { return String::new() };
    keep_statements(&String::from_utf8_lossy(&out.stdout))
}

/// A pg_dump/pg_restore script without its comments, session settings and psql meta-commands.
fn keep_statements(text: &str) -> String {
    let mut ddl = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.is_empty()
            || t.starts_with("--")
            || t.starts_with('\\')
            || t.starts_with("SET ")
            || t.starts_with("SELECT pg_catalog.set_config(")
        {
            continue;
        }
        ddl.push_str(line);
        ddl.push('\n');
    }
    ddl
}

/// The table's definition in the recovered copy (`pg_dump --schema-only -t`: columns, owned
/// sequences, defaults, keys, indexes, constraints), without the session settings, ownership and
/// grants, so it can run inside restore.sql's transaction. pg_dump names every object with its
/// schema.
fn table_definition(server: &Scratch, db: &str, table_sql: &str) -> Result<String> {
    let mut c = server.tool("pg_dump");
    c.args([
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "--no-tablespaces",
        "--no-security-labels",
        "--no-publications",
        "--no-subscriptions",
        "-t",
        table_sql,
        "-d",
        &server.conninfo(db),
    ]);
    let out = c
        .output()
        .map_err(|e| UserError::new(format!("pg_dump: cannot run: {e}")))?;
    if !out.status.success() {
        return Err(UserError::new(format!(
            "reading the definition of {table_sql} from the recovered copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
        )));
    }
    Ok(keep_statements(&String::from_utf8_lossy(&out.stdout)))
}

/// `shapes` with referenced tables first (foreign keys among them, from the copy).
fn fk_order<'s>(
    server: &Scratch,
    db: &str,
    shapes: &'s [TableShape],
) -> Result<Vec<&'s TableShape>> {
    let mut edges = Vec::new();
    for (i, child) in shapes.iter().enumerate() {
        let parents = server.query(
            db,
            &format!(
                "SELECT DISTINCT confrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND conrelid = {}::regclass AND confrelid <> conrelid",
                quote_literal(&child.sql)
            ),
        )?;
        for p in parents.lines() {
            if let Some(j) = shapes
                .iter()
                .position(|s| s.sql == p || s.sql.split_once('.').map(|x| x.1) == Some(p))
            {
                edges.push((j, i));
            }
        }
    }
    let mut order = Vec::new();
    let mut placed = vec![false; shapes.len()];
    while order.len() < shapes.len() {
        let before = order.len();
        for i in 0..shapes.len() {
            // Every parent of `i` (other than itself) already placed; the edges are positions in
            // `shapes`, so `get` always finds them.
            let ready = edges
                .iter()
                .all(|(p, c)| *c != i || *p == i || placed.get(*p).copied().unwrap_or(true));
            if let Some(slot) = placed.get_mut(i)
                && !*slot
                && ready
            {
                *slot = true;
                order.push(i);
            }
        }
        if order.len() == before {
            // A cycle: keep the remaining ones in name order.
            for (i, p) in placed.iter_mut().enumerate() {
                if !*p {
                    *p = true;
                    order.push(i);
                }
            }
        }
    }
    Ok(order.into_iter().filter_map(|i| shapes.get(i)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_segment_rolls_over() {
        assert_eq!(
            next_segment("000000010000000000000003").as_deref(),
            Some("000000010000000000000004")
        );
        assert_eq!(
            next_segment("0000000100000000000000FF").as_deref(),
            Some("000000010000000100000000")
        );
        // 24 bytes from a server log that are not 24 ASCII characters: no segment (this cut
        // `é` in half and panicked), nor a name that is not hexadecimal.
        let cut = format!("{}é{}", "0".repeat(7), "0".repeat(15));
        assert_eq!(cut.len(), 24);
        assert_eq!(next_segment(&cut), None);
        assert_eq!(next_segment("00000001000000000000000Z"), None);
        assert_eq!(next_segment("0000000100000000000003"), None);
        let log = format!("LOG:  restored log file \"{cut}\" from archive\n");
        assert_eq!(last_restored(&log).and_then(|s| next_segment(&s)), None);
    }

    #[test]
    fn the_dump_time_is_read_from_the_list() {
        let t = dump_created(";\n; Archive created at 2026-11-23 15:25:30 UTC\n");
        assert_eq!(
            t.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-23T15:25:30+00:00")
        );
    }
}
