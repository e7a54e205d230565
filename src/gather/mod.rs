//! Gathering: every source named (database, WAL, server logs, repository, baseline) read into
//! one `Evidence` value, with the chain of custody (what was read, SHA-256 of every file). No
//! judgement happens here: what the sources mean together is `analysis`'s work, so a saved
//! evidence file is re-judged by a newer pgtriage. `collect`, `report` and `watch` all gather
//! through `build_evidence`; the sources are read in parallel.

pub mod timing;

use std::path::{Path, PathBuf};

use crate::commands::{DbArgs, LogArgs};
use crate::db::{ConnectionSettings, Session};
use crate::error::{Result, UserError};
use crate::evidence::{Evidence, Input};
use chrono::Utc;

/// What to gather from. Every source is optional.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The database to snapshot (read-only).
    pub database: Option<ConnectionSettings>,
    /// Server logs to read into the timeline.
    pub logs: Option<LogArgs>,
    /// A git repository whose migration history to scan.
    pub repo: Option<PathBuf>,
    /// An earlier evidence file whose database snapshot is the baseline.
    pub baseline: Option<PathBuf>,
    /// Take the tables-only snapshot (`collect --tables-only`).
    pub tables_only: bool,
    /// A directory of WAL segments (`--wal DIR`); without it, pg_walinspect when the database
    /// has it and the role may use it.
    pub wal: Option<PathBuf>,
    /// The incident window the `--wal` read is bounded by (`--since/--until`).
    pub wal_since: Option<chrono::DateTime<Utc>>,
    pub wal_until: Option<chrono::DateTime<Utc>>,
    /// How long `count(*)` may run on the tables whose counters cannot say what they hold
    /// (`status::tables_to_count`); zero counts none.
    pub count_budget: std::time::Duration,
}

/// The default of [`Sources::count_budget`]: enough for tables of a few million rows, short
/// enough not to load a production server in the hour of an incident.
pub const COUNT_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

impl Sources {
    /// The sources named on a command line (`collect` and `report` share them).
    pub fn from_args(
        db: &DbArgs,
        logs: &LogArgs,
        repo: Option<&Path>,
        baseline: Option<&Path>,
    ) -> Self {
        let other_sources = !logs.paths.is_empty() || repo.is_some();
        Sources {
            database: database_wanted(db, other_sources).then(|| db.settings()),
            logs: (!logs.paths.is_empty()).then(|| logs.clone()),
            repo: repo.map(Path::to_path_buf),
            baseline: baseline.map(Path::to_path_buf),
            tables_only: false,
            wal: None,
            wal_since: None,
            wal_until: None,
            count_budget: COUNT_BUDGET,
        }
    }
}

/// Gathers `sources` into one evidence value. Inputs are listed in a fixed order: database,
/// logs, repository, baseline.
pub fn build_evidence(sources: &Sources) -> Result<Evidence> {
    let clock = timing::Clock::start();
    let mut evidence = Evidence::new(Utc::now());
    // The three sources are read at the same time (std::thread::scope), each into its own part,
    // then merged in the fixed order database, WAL, logs, repository, baseline: the evidence is
    // byte for byte what reading them one after another gave. Only the logs may wait for the
    // database: without --log-line-prefix/--log-timezone they are parsed with the server's own
    // settings, which the snapshot reads. The session stays on the database thread (the
    // migration tracking tables are read there too), and when several sources fail, the error
    // reported is the one the sequential order would have met first.
    let logs_need_settings = sources.logs.as_ref().is_some_and(|l| {
        sources.database.is_some() && (l.log_line_prefix.is_none() || l.log_timezone.is_none())
    });
    // Without --since/--until, the logs may place the incident: the WAL directory is then read
    // after them, from the earliest destructive statement they recorded.
    let window_from_logs = sources.wal.is_some()
        && sources.logs.is_some()
        && sources.wal_since.is_none()
        && sources.wal_until.is_none();
    // The baseline is read first (the database thread uses it to choose which tables to count);
    // its error, if any, is still reported last, in the sequential order.
    let baseline = sources.baseline.as_ref().map(|path| read_baseline(path));
    let baseline_snapshot = baseline
        .as_ref()
        .and_then(|b| b.as_ref().ok())
        .map(|(_, snapshot)| snapshot);
    let (database, logs, history) = std::thread::scope(|scope| {
        let repo = sources.repo.as_ref().map(|repo| {
            scope.spawn(move || {
                clock.phase("repository", || {
                    crate::migrations::scan_history(&crate::migrations::HistoryOptions {
                        repo: repo.clone(),
                        rev: None,
                        since: None,
                        paths: Vec::new(),
                        no_conventions: false,
                        exhaustive: false,
                    })
                })
            })
        });
        let early_logs = sources
            .logs
            .as_ref()
            .filter(|_| !logs_need_settings)
            .map(|logs| scope.spawn(move || clock.phase("logs", || read_logs(logs, None))));
        let database = clock.phase("database", || {
            gather_database(sources, baseline_snapshot, window_from_logs, clock)
        });
        let logs = match (early_logs, &sources.logs) {
            (Some(handle), _) => Some(join(handle)),
            (None, Some(logs)) => Some(match &database {
                Ok(part) => clock.phase("logs (after the database's settings)", || {
                    read_logs(logs, part.evidence.database.as_ref())
                }),
                // The database error is reported first anyway.
                Err(_) => Ok(LogPart::default()),
            }),
            (None, None) => None,
        };
        (database, logs, repo.map(join))
    });

    let database = database?;
    let DatabasePart {
        evidence: part,
        tracking,
    } = database;
    evidence.inputs.extend(part.inputs);
    evidence.database = part.database;
    evidence.connection = part.connection;
    evidence.problems.extend(part.problems);
    evidence.wal = part.wal;
    evidence.wal_unavailable = part.wal_unavailable;
    evidence.exact_counts = part.exact_counts;
    if let Some(logs) = logs {
        let logs = logs?;
        evidence.inputs.extend(logs.inputs);
        evidence.timeline = logs.timeline;
    }
    if window_from_logs {
        let mut bounded = sources.clone();
        let basis = earliest_destructive(&evidence).map(|(at, what)| {
            bounded.wal_since = Some(at);
            format!("logs: from the earliest destructive statement they recorded ({what}) to now")
        });
        clock.phase("wal (from the logs' window)", || {
            read_wal_bounded(&mut evidence, &bounded, None, basis)
        })?;
    }
    if let (Some(repo), Some(history)) = (&sources.repo, history) {
        let mut history = history?;
        if let Some(tracking) = tracking {
            let (applied, gaps) = tracking?;
            history.problems.extend(gaps);
            crate::migrations::match_applied(&mut history, applied);
        }
        // Lining the history up with the log's bookkeeping and the tables that exist now is
        // judgement: `analysis::migration_check` does it at report time, from the evidence.
        evidence.inputs.push(Input {
            kind: "repository".to_string(),
            name: repo.display().to_string(),
            sha256: None,
            bytes: None,
            revision: history.head.clone(),
        });
        evidence.migrations = Some(history);
    }
    if let Some(baseline) = baseline {
        let (input, baseline) = baseline?;
        evidence.inputs.push(input);
        evidence.baseline = Some(baseline);
    }
    clock.total("gathered");
    Ok(evidence)
}

/// Adds sources to an evidence file loaded from disk (`report EVIDENCE --baseline F --wal D`):
/// a baseline replaces the one it holds, a WAL directory replaces its WAL.
pub fn amend(
    evidence: &mut Evidence,
    baseline: Option<&Path>,
    wal: Option<&Path>,
    window: &crate::report::model::Window,
) -> Result<()> {
    if let Some(path) = baseline {
        let (input, snapshot) = read_baseline(path)?;
        evidence.inputs.retain(|i| i.kind != "baseline");
        evidence.inputs.push(input);
        evidence.baseline = Some(snapshot);
    }
    if let Some(dir) = wal {
        let sources = Sources {
            wal: Some(dir.to_path_buf()),
            // The window of the report bounds the WAL read too.
            wal_since: window.since,
            wal_until: window.until,
            ..Default::default()
        };
        evidence.inputs.retain(|i| i.kind != "wal");
        evidence.wal = None;
        read_wal(evidence, &sources, None)?;
    }
    Ok(())
}

/// A gathering thread's result; a panic in one (a bug, never input) becomes a one-line error
/// instead of taking the others down with a backtrace.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle.join().unwrap_or_else(|_| {
        Err(UserError::new(
            "internal error while gathering a source (please report it)",
        ))
    })
}

/// What the database thread gathers: the snapshot, the WAL read through it (or from `--wal`),
/// and the migration tracking tables when a repository is given.
type Tracking = Result<(Vec<crate::evidence::AppliedMigration>, Vec<String>)>;

struct DatabasePart {
    /// Only `inputs`, `database`, `connection`, `problems`, `wal` and `exact_counts` are filled.
    evidence: Evidence,
    tracking: Option<Tracking>,
}

fn gather_database(
    sources: &Sources,
    baseline: Option<&crate::evidence::DatabaseSnapshot>,
    wal_later: bool,
    clock: timing::Clock,
) -> Result<DatabasePart> {
    let mut evidence = Evidence::new(Utc::now());
    let mut session = None;
    if let Some(settings) = &sources.database {
        let mut s = clock.phase("database: connect", || Session::connect(settings))?;
        let snapshot = clock.phase("database: snapshot", || {
            if sources.tables_only {
                s.snapshot_tables_only()
            } else {
                s.snapshot()
            }
        })?;
        evidence.inputs.push(Input {
            kind: "database".to_string(),
            name: s.target().to_string(),
            sha256: None,
            bytes: None,
            revision: None,
        });
        // Counters that restarted (a crash, pg_stat_reset(), a restore) say nothing of the rows
        // a table holds: count those tables, as an engineer would, within the budget. A count
        // that cannot run is recorded (`not_counted`), never a failure of the collect.
        let to_count = crate::analysis::status::tables_to_count(&snapshot, baseline);
        if !to_count.is_empty() && !sources.count_budget.is_zero() {
            let timeout = settings.statement_timeout_ms;
            match clock.phase(
                "database: count the tables whose counters restarted",
                || s.exact_counts(&to_count, sources.count_budget, timeout),
            ) {
                Ok(counts) => {
                    evidence.exact_counts = Some(crate::evidence::ExactRowCounts {
                        budget_ms: counts.budget_ms,
                        spent_ms: counts.spent_ms,
                        counted: counts.counted,
                        not_counted: counts.not_counted,
                    })
                }
                Err(e) => evidence.problems.push(format!(
                    "the tables whose counters restarted were not counted: {e}"
                )),
            }
        }
        evidence.database = Some(snapshot);
        evidence.connection = Some(s.security().clone());
        if sources.tables_only {
            evidence.problems.push(
                "tables-only snapshot (collect --tables-only): foreign keys and sequences were not \
                 collected"
                    .to_string(),
            );
        }
        session = Some(s);
    }
    if !wal_later {
        clock.phase("database: wal", || {
            read_wal(&mut evidence, sources, session.as_mut())
        })?;
    }
    let tracking = match (&sources.repo, session.as_mut()) {
        (Some(_), Some(s)) => Some(clock.phase("database: migration tracking tables", || {
            s.migration_tracking()
        })),
        _ => None,
    };
    Ok(DatabasePart { evidence, tracking })
}

/// The WAL: `--wal DIR` through pg_waldump (refusing another cluster's segments), else
/// pg_walinspect over the session when it is installed and permitted; what kept either from
/// looking is recorded as a problem (a forensic gap), never a failure.
pub fn read_wal(
    evidence: &mut Evidence,
    sources: &Sources,
    session: Option<&mut Session>,
) -> Result<()> {
    read_wal_bounded(evidence, sources, session, None)
}

/// Where the WAL window starts when only the logs can place the incident: the earliest
/// destructive statement the logs recorded, as the log reader classified it (TRUNCATE, DELETE,
/// UPDATE without WHERE, DROP …), whatever became of its transaction. A plain reading of the
/// timeline, no hypothesis weighed: which statement lost the rows is `analysis`'s question,
/// and starting at the first candidate never cuts it off.
fn earliest_destructive(evidence: &Evidence) -> Option<(chrono::DateTime<Utc>, String)> {
    let timeline = evidence.timeline.as_ref()?;
    timeline
        .events
        .iter()
        .filter(|e| e.kind.is_destructive())
        // Sorted by (at, source) already; min_by_key keeps the first of equal times.
        .min_by_key(|e| e.at)
        .map(|e| {
            let kind = serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let tables = if e.tables.is_empty() {
                String::new()
            } else {
                format!(" of {}", e.tables.join(", "))
            };
            (
                e.at,
                format!(
                    "{kind}{tables} at {}, {}",
                    e.at.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
                    e.source
                ),
            )
        })
}

fn read_wal_bounded(
    evidence: &mut Evidence,
    sources: &Sources,
    session: Option<&mut Session>,
    basis: Option<String>,
) -> Result<()> {
    if let Some(dir) = &sources.wal {
        let opts = crate::wal::WalScanOptions {
            dir: dir.clone(),
            expected_system_identifier: evidence
                .database
                .as_ref()
                .and_then(|d| d.server.system_identifier.clone()),
            threads: None,
            reader: None,
            since: sources.wal_since,
            until: sources.wal_until,
            window_basis: basis,
            window_slack: None,
        };
        let wal = crate::wal::scan_directory(&opts)?;
        evidence.inputs.push(Input {
            kind: "wal".to_string(),
            name: dir.display().to_string(),
            sha256: None,
            bytes: None,
            revision: wal.segments.last().cloned(),
        });
        evidence.wal = Some(wal);
        return Ok(());
    }
    let Some(session) = session else {
        return Ok(());
    };
    if sources.tables_only {
        return Ok(());
    }
    match session.wal_transactions()? {
        Ok(wal) => {
            evidence.inputs.push(Input {
                kind: "wal".to_string(),
                name: format!("pg_walinspect:{}", session.target()),
                sha256: None,
                bytes: None,
                revision: None,
            });
            evidence.wal = Some(wal);
        }
        // Not a problem of the gathering: whether it matters depends on what the analysis
        // finds (`wal_join::gaps`).
        Err(gap) => evidence.wal_unavailable = Some(gap),
    }
    Ok(())
}

/// Reads the server logs into the timeline; each file is an input with its SHA-256. The
/// database's `log_line_prefix` and `log_timezone` are used when the flags do not give them.
/// The logs' part of the evidence: their input records and the timeline.
#[derive(Default)]
struct LogPart {
    inputs: Vec<Input>,
    timeline: Option<crate::evidence::Timeline>,
}

fn read_logs(
    logs: &LogArgs,
    database: Option<&crate::evidence::DatabaseSnapshot>,
) -> Result<LogPart> {
    let setting = |name: &str| database.and_then(|d| d.settings.get(name)).cloned();
    let opts = crate::logs::LogOptions {
        paths: logs.paths.clone(),
        format: logs.log_format.clone(),
        line_prefix: logs
            .log_line_prefix
            .clone()
            .or_else(|| setting("log_line_prefix")),
        timezone: logs
            .log_timezone
            .clone()
            .or_else(|| setting("log_timezone")),
        since: None,
        until: None,
        progress: true,
        threads: None,
        part_bytes: None,
        prefix_from_database: logs.log_line_prefix.is_none()
            && setting("log_line_prefix").is_some_and(|p| !p.is_empty()),
        hash_all: logs.hash_all,
    };
    let timeline = crate::logs::read_timeline(&opts)?;
    let inputs = timeline
        .sources
        .iter()
        .map(|source| Input {
            kind: "log".to_string(),
            name: source.path.clone(),
            sha256: source.sha256.clone(),
            bytes: Some(source.bytes),
            revision: None,
        })
        .collect();
    Ok(LogPart {
        inputs,
        timeline: Some(timeline),
    })
}

/// Reads a baseline evidence file: its input record (with the SHA-256 of the bytes parsed) and
/// its database snapshot.
pub fn read_baseline(path: &Path) -> Result<(Input, crate::evidence::DatabaseSnapshot)> {
    // Hash the bytes that are parsed: read once, hash and parse the same buffer.
    let bytes = std::fs::read(path).map_err(|e| {
        UserError::new(format!("{}: cannot read the baseline: {e}", path.display()))
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        UserError::new(format!(
            "{}: the baseline is not UTF-8 text; pass an evidence file written by `pgtriage collect`",
            path.display()
        ))
    })?;
    let sha256 = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(text.as_bytes()))
    };
    let baseline = Evidence::from_json(&text, path)?;
    let snapshot = baseline.database.ok_or_else(|| {
        UserError::new(format!(
            "{}: the baseline holds no database snapshot; collect one with `pgtriage collect --db URL -o FILE`",
            path.display()
        ))
    })?;
    Ok((
        Input {
            kind: "baseline".to_string(),
            name: path.display().to_string(),
            sha256: Some(sha256),
            bytes: Some(text.len() as u64),
            revision: None,
        },
        snapshot,
    ))
}

/// A database is read when one is named (`--db`, `DATABASE_URL`, a `PG*` connection variable),
/// or, like psql, from the libpq defaults when nothing else is given to collect.
pub fn database_wanted(db: &DbArgs, other_sources: bool) -> bool {
    const NAMING: [&str; 5] = [
        "DATABASE_URL",
        "PGHOST",
        "PGHOSTADDR",
        "PGDATABASE",
        "PGPORT",
    ];
    db.url.is_some()
        || NAMING
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
        || !other_sources
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{EventKind, LogEvent, Timeline, TxOutcome};

    fn event(at: &str, kind: EventKind, tables: &[&str], line: u32) -> LogEvent {
        LogEvent {
            at: at.parse().expect("time"),
            kind,
            source: format!("log:pg.log:{line}"),
            session: Default::default(),
            severity: Some("LOG".into()),
            sqlstate: None,
            text: String::new(),
            tables: tables.iter().map(|t| t.to_string()).collect(),
            cascade: false,
            outcome: Some(TxOutcome::RolledBack),
            detail: None,
            rows: None,
            migration: None,
        }
    }

    /// The window starts at the first destructive statement the logs recorded, whatever came
    /// of it (rolled back here) and whatever else the log holds before it.
    #[test]
    fn the_window_starts_at_the_earliest_destructive_statement_of_the_logs() {
        let mut evidence = Evidence::new(Utc::now());
        assert_eq!(earliest_destructive(&evidence), None);
        evidence.timeline = Some(Timeline {
            events: vec![
                event("2024-05-01T10:00:00Z", EventKind::Connection, &[], 1),
                event("2024-05-01T10:00:01Z", EventKind::Ddl, &["public.t"], 2),
                event(
                    "2024-05-01T10:00:02Z",
                    EventKind::Delete,
                    &["public.orders"],
                    3,
                ),
                event(
                    "2024-05-01T10:00:03Z",
                    EventKind::Truncate,
                    &["public.users"],
                    4,
                ),
            ],
            ..Default::default()
        });
        let (at, what) = earliest_destructive(&evidence).expect("a destructive statement");
        assert_eq!(
            at,
            "2024-05-01T10:00:02Z"
                .parse::<chrono::DateTime<Utc>>()
                .expect("t")
        );
        assert_eq!(
            what,
            "delete of public.orders at 2024-05-01 10:00:02.000 UTC, log:pg.log:3"
        );
        if let Some(t) = evidence.timeline.as_mut() {
            t.events
                .retain(|e| e.kind != EventKind::Delete && e.kind != EventKind::Truncate);
        }
        assert_eq!(earliest_destructive(&evidence), None);
    }
}
