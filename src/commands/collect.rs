//! `pgtriage collect`: gather every source given into one evidence file, with the chain of
//! custody (what was read, SHA-256 of every file). `build_evidence` does the gathering so other
//! sources (logs, a repository) plug in as one more field of `Sources` and one more step.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use clap::Args;

use super::{DbArgs, LogArgs};
use crate::db::{ConnectionSettings, Session};
use crate::error::{Result, UserError};
use crate::evidence::{Evidence, Input};

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Where to write the evidence file (written whole or not at all).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub logs: LogArgs,
    /// The application's git repository: its migration history.
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// A cheap scheduled baseline (cron): table counters, catalog and cluster facts only; no
    /// foreign keys or sequences (see the README for its measured cost).
    #[arg(long)]
    pub tables_only: bool,
    /// An earlier evidence file: its database snapshot becomes the baseline (exact expected rows).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// A directory of WAL segments (the archive, or a copy of pg_wal; .gz/.zst/.lz4 too), read
    /// with the pg_waldump of their major version: the exact loss transactions.
    #[arg(long = "wal", value_name = "DIR")]
    pub wal: Option<PathBuf>,
    /// Also count(*) the tables, smallest first, until --exact-budget is spent: a baseline
    /// `verify` can trust (n_live_tup is an estimate).
    #[arg(long)]
    pub exact_counts: bool,
    /// Seconds --exact-counts may spend counting.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub exact_budget: u64,
}

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
}

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
        }
    }
}

/// Gathers `sources` into one evidence value. Inputs are listed in a fixed order: database,
/// logs, repository, baseline.
pub fn build_evidence(sources: &Sources) -> Result<Evidence> {
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
    let (database, logs, history) = std::thread::scope(|scope| {
        let repo = sources.repo.as_ref().map(|repo| {
            scope.spawn(move || {
                crate::migrations::scan_history(&crate::migrations::HistoryOptions {
                    repo: repo.clone(),
                    rev: None,
                    since: None,
                    paths: Vec::new(),
                    no_conventions: false,
                })
            })
        });
        let early_logs = sources
            .logs
            .as_ref()
            .filter(|_| !logs_need_settings)
            .map(|logs| scope.spawn(move || read_logs(logs, None)));
        let database = gather_database(sources);
        let logs = match (early_logs, &sources.logs) {
            (Some(handle), _) => Some(join(handle)),
            (None, Some(logs)) => Some(match &database {
                Ok(part) => read_logs(logs, part.evidence.database.as_ref()),
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
    if let Some(logs) = logs {
        let logs = logs?;
        evidence.inputs.extend(logs.inputs);
        evidence.timeline = logs.timeline;
    }
    if let (Some(repo), Some(history)) = (&sources.repo, history) {
        let mut history = history?;
        if let Some(tracking) = tracking {
            let (applied, gaps) = tracking?;
            history.problems.extend(gaps);
            crate::migrations::match_applied(&mut history, applied);
        }
        // The bookkeeping statements in the server log give apply times the tables lack.
        if let Some(timeline) = &evidence.timeline {
            crate::migrations::align_with_log(&mut history, timeline);
        }
        if let Some(snapshot) = &evidence.database {
            crate::migrations::cross_check(&mut history, snapshot);
        }
        evidence.inputs.push(Input {
            kind: "repository".to_string(),
            name: repo.display().to_string(),
            sha256: None,
            bytes: None,
            revision: history.head.clone(),
        });
        evidence.migrations = Some(history);
    }
    if let Some(path) = &sources.baseline {
        let (input, baseline) = read_baseline(path)?;
        evidence.inputs.push(input);
        evidence.baseline = Some(baseline);
    }
    Ok(evidence)
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
    /// Only `inputs`, `database`, `connection`, `problems` and `wal` are filled.
    evidence: Evidence,
    tracking: Option<Tracking>,
}

fn gather_database(sources: &Sources) -> Result<DatabasePart> {
    let mut evidence = Evidence::new(Utc::now());
    let mut session = None;
    if let Some(settings) = &sources.database {
        let mut s = Session::connect(settings)?;
        let snapshot = if sources.tables_only {
            s.snapshot_tables_only()?
        } else {
            s.snapshot()?
        };
        evidence.inputs.push(Input {
            kind: "database".to_string(),
            name: s.target().to_string(),
            sha256: None,
            bytes: None,
            revision: None,
        });
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
    read_wal(&mut evidence, sources, session.as_mut())?;
    let tracking = match (&sources.repo, session.as_mut()) {
        (Some(_), Some(s)) => Some(s.migration_tracking()),
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
    if let Some(dir) = &sources.wal {
        let opts = crate::wal::WalScanOptions {
            dir: dir.clone(),
            expected_system_identifier: evidence
                .database
                .as_ref()
                .and_then(|d| d.server.system_identifier.clone()),
            threads: None,
            reader: None,
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
        Err(gap) => evidence.problems.push(match gap.setting {
            Some(s) => format!("{}: {s}", gap.what),
            None => gap.what,
        }),
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

pub fn run(args: CollectArgs) -> Result<ExitCode> {
    let mut sources = Sources::from_args(
        &args.db,
        &args.logs,
        args.repo.as_deref(),
        args.baseline.as_deref(),
    );
    sources.tables_only = args.tables_only;
    if args.wal.is_some() {
        // The WAL is a source of its own: the database only when one is named.
        sources.database = database_wanted(&args.db, true).then(|| args.db.settings());
    }
    sources.wal = args.wal.clone();
    let mut evidence = build_evidence(&sources)?;
    if args.exact_counts {
        evidence.exact_counts = Some(exact_counts(&args, &evidence)?);
    }
    evidence.save(&args.output)?;
    let tables = evidence.database.as_ref().map_or(0, |d| d.tables.len());
    eprintln!(
        "collect: wrote {} ({}, {})",
        args.output.display(),
        crate::report::term::count(evidence.inputs.len() as u64, "input"),
        crate::report::term::count(tables as u64, "table")
    );
    Ok(ExitCode::SUCCESS)
}

/// `collect --exact-counts`: the snapshot's tables counted smallest first (by pages), so a
/// budget too small for everything still counts most tables.
fn exact_counts(
    args: &CollectArgs,
    evidence: &Evidence,
) -> Result<crate::evidence::ExactRowCounts> {
    let mut tables: Vec<(i64, String, String)> = evidence
        .database
        .iter()
        .flat_map(|d| d.tables.iter())
        .filter(|t| t.relkind != "p")
        .map(|t| (t.relpages.max(0), t.schema.clone(), t.name.clone()))
        .collect();
    tables.sort();
    let tables: Vec<(String, String)> = tables.into_iter().map(|(_, s, n)| (s, n)).collect();
    let mut session = Session::connect(&args.db.settings())?;
    let counts = session.exact_counts(
        &tables,
        std::time::Duration::from_secs(args.exact_budget),
        args.db.statement_timeout,
    )?;
    Ok(crate::evidence::ExactRowCounts {
        budget_ms: counts.budget_ms,
        spent_ms: counts.spent_ms,
        counted: counts.counted,
        not_counted: counts.not_counted,
    })
}
