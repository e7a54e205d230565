//! `pgtriage collect`: gather every source given into one evidence file (`gather` does the
//! reading), optionally with exact row counts.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{DbArgs, LogArgs};
use crate::db::Session;
use crate::error::Result;
use crate::evidence::Evidence;
// The gathering lived here before `gather` existed; callers of the old paths keep working.
pub use crate::gather::{Sources, build_evidence, database_wanted, read_baseline, read_wal};

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
    /// The incident window for --wal (RFC 3339, or `YYYY-MM-DD[ HH:MM[:SS]]`: UTC unless an offset
    /// is written): only the
    /// segments that can hold a transaction ending after this time are decoded. Without
    /// --since/--until and with --log, the window runs from the earliest destructive statement the logs recorded.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// The end of the incident window for --wal.
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Also count(*) the tables, smallest first, until --exact-budget is spent: a baseline
    /// `verify` can trust (n_live_tup is an estimate).
    #[arg(long)]
    pub exact_counts: bool,
    /// Seconds counting may take: --exact-counts (default 60), else the count of the tables
    /// whose counters restarted (default 10; 0 counts none).
    #[arg(long, value_name = "SECONDS")]
    pub exact_budget: Option<u64>,
}

pub fn run(args: CollectArgs) -> Result<ExitCode> {
    let mut sources = Sources::from_args(
        &args.db,
        &args.logs,
        args.repo.as_deref(),
        args.baseline.as_deref(),
    );
    sources.tables_only = args.tables_only;
    // --exact-counts counts every table after the snapshot; otherwise only the tables whose
    // counters cannot say what they hold are counted, during it.
    sources.count_budget = match (args.exact_counts, args.exact_budget) {
        (true, _) => std::time::Duration::ZERO,
        (false, Some(secs)) => std::time::Duration::from_secs(secs),
        (false, None) => crate::gather::COUNT_BUDGET,
    };
    if args.wal.is_some() {
        // The WAL is a source of its own: the database only when one is named.
        sources.database = database_wanted(&args.db, true).then(|| args.db.settings());
    }
    sources.wal = args.wal.clone();
    sources.wal_since = args
        .since
        .as_deref()
        .map(|t| crate::commands::time_flags::parse_time_flag("--since", t))
        .transpose()?;
    sources.wal_until = args
        .until
        .as_deref()
        .map(|t| crate::commands::time_flags::parse_time_flag("--until", t))
        .transpose()?;
    let mut evidence = build_evidence(&sources)?;
    if args.exact_counts {
        evidence.exact_counts = Some(exact_counts(&args, &evidence)?);
    }
    crate::gather::timing::Clock::start()
        .phase("write the evidence file", || evidence.save(&args.output))?;
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
        std::time::Duration::from_secs(args.exact_budget.unwrap_or(60)),
        args.db.statement_timeout,
    )?;
    Ok(crate::evidence::ExactRowCounts {
        budget_ms: counts.budget_ms,
        spent_ms: counts.spent_ms,
        counted: counts.counted,
        not_counted: counts.not_counted,
    })
}
