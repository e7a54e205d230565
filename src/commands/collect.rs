//! `pgtriage collect`: gather every source given into one evidence file, with the chain of
//! custody (what was read, SHA-256 of every file). `build_evidence` does the gathering so other
//! sources (logs, a repository) plug in as one more field of `Sources` and one more step.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use clap::Args;

use super::DbArgs;
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
    /// A cheap scheduled baseline (cron): table counters, catalog and cluster facts only; no
    /// foreign keys or sequences (see the README for its measured cost).
    #[arg(long)]
    pub tables_only: bool,
    /// An earlier evidence file: its database snapshot becomes the baseline (exact expected rows).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

/// What to gather from. Every source is optional.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The database to snapshot (read-only).
    pub database: Option<ConnectionSettings>,
    /// An earlier evidence file whose database snapshot is the baseline.
    pub baseline: Option<PathBuf>,
    /// Take the tables-only snapshot (`collect --tables-only`).
    pub tables_only: bool,
}

/// Gathers `sources` into one evidence value. Inputs are listed in a fixed order: database,
/// baseline (then whatever sources are added later).
pub fn build_evidence(sources: &Sources) -> Result<Evidence> {
    let mut evidence = Evidence::new(Utc::now());
    if let Some(settings) = &sources.database {
        let mut session = Session::connect(settings)?;
        let snapshot = if sources.tables_only {
            session.snapshot_tables_only()?
        } else {
            session.snapshot()?
        };
        evidence.inputs.push(Input {
            kind: "database".to_string(),
            name: session.target().to_string(),
            sha256: None,
            bytes: None,
            revision: None,
        });
        evidence.database = Some(snapshot);
        if sources.tables_only {
            evidence.problems.push(
                "tables-only snapshot (collect --tables-only): foreign keys and sequences were not \
                 collected"
                    .to_string(),
            );
        }
    }
    if let Some(path) = &sources.baseline {
        let (input, baseline) = read_baseline(path)?;
        evidence.inputs.push(input);
        evidence.baseline = Some(baseline);
    }
    Ok(evidence)
}

fn read_baseline(path: &Path) -> Result<(Input, crate::evidence::DatabaseSnapshot)> {
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
    // Sources other than the database (logs, a repository) go here as they are added.
    let other_sources = false;
    let sources = Sources {
        database: database_wanted(&args.db, other_sources).then(|| args.db.settings()),
        baseline: args.baseline.clone(),
        tables_only: args.tables_only,
    };
    let evidence = build_evidence(&sources)?;
    evidence.save(&args.output)?;
    let tables = evidence.database.as_ref().map_or(0, |d| d.tables.len());
    eprintln!(
        "collect: wrote {} ({} inputs, {tables} tables)",
        args.output.display(),
        evidence.inputs.len()
    );
    Ok(ExitCode::SUCCESS)
}
