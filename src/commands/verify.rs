//! `pgtriage verify`: after a restore, is everything back? Compares the live database with the
//! database snapshot of a baseline evidence file. Exit 0 when every check passes, 1 when any
//! fails (or could not be verified), 2 on usage or connection errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::checks::verify::{self as checks, LiveProbes, VerifyOptions};
use crate::commands::DbArgs;
use crate::db::Session;
use crate::error::{Result, UserError};
use crate::evidence::Evidence;
use crate::report::verify_view;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    Table,
    Json,
    Md,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Evidence file taken before the incident (`pgtriage collect -o FILE`, or `collect --tables-only`).
    #[arg(long, value_name = "EVIDENCE")]
    pub baseline: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    /// Only these tables (`schema.name` or `name`; comma-separated or repeated).
    #[arg(long, value_name = "TABLE", num_args = 1.., value_delimiter = ',')]
    pub tables: Vec<String>,
    /// Count rows with count(*) instead of estimating them (reads every table; see --exact-budget).
    #[arg(long)]
    pub exact: bool,
    /// Time budget for --exact, in seconds: tables not counted in time are listed and estimated.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub exact_budget: u64,
    /// A table fails when it has more than this many percent fewer rows than the baseline.
    #[arg(long, value_name = "PCT", default_value_t = checks::DEFAULT_TOLERANCE_PCT)]
    pub tolerance: f64,
    /// Output: a terminal table, JSON (`pgtriage-verify/2`), or the Markdown section of a postmortem.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Table)]
    pub format: VerifyFormat,
}

pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    if !(0.0..=100.0).contains(&args.tolerance) || args.tolerance.is_nan() {
        return Err(UserError::new(format!(
            "--tolerance {}: give a percentage between 0 and 100",
            args.tolerance
        )));
    }
    let evidence = Evidence::load(&args.baseline)?;
    let Some(baseline) = evidence.database else {
        return Err(UserError::new(format!(
            "{}: this evidence file has no database snapshot; take one with `pgtriage collect --db URL -o FILE`",
            args.baseline.display()
        )));
    };
    let options = VerifyOptions {
        tolerance_pct: args.tolerance,
        tables: args.tables.iter().map(|t| t.trim().to_string()).collect(),
    };
    for wanted in &options.tables {
        let single = VerifyOptions {
            tables: vec![wanted.clone()],
            ..options.clone()
        };
        if !baseline
            .tables
            .iter()
            .any(|t| single.selects(&t.schema, &t.name))
        {
            return Err(UserError::new(format!(
                "--tables {wanted}: no such table in the baseline {}",
                args.baseline.display()
            )));
        }
    }
    let mut session = Session::connect(&args.db.settings())?;
    let now = session.snapshot()?;
    let mut probes = LiveProbes::default();
    if let Some(counts) = &evidence.exact_counts {
        probes.baseline_counts = counts.counted.clone();
    }
    if args.exact {
        let tables = checks::tables_to_count(&baseline, &now, &options);
        probes.exact_counts = Some(session.exact_counts(
            &tables,
            Duration::from_secs(args.exact_budget),
            args.db.statement_timeout,
        )?);
    }
    let unknown = checks::tables_without_estimate(&baseline, &now, &options);
    if !unknown.is_empty() {
        probes.planner_estimates = session.planner_estimates(&unknown)?;
    }
    let edges = checks::foreign_key_edges(&baseline, &now, &options);
    probes.orphans = session.orphans(&edges)?;
    probes.sequences = session.sequence_probes()?;
    drop(session);
    let report = checks::verify(&baseline, &now, &probes, &options);
    let text = match args.format {
        VerifyFormat::Table => verify_view::terminal(&report),
        VerifyFormat::Json => verify_view::json(&report),
        VerifyFormat::Md => verify_view::markdown_section(&report),
    };
    crate::io::print_stdout(&text)?;
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
