//! `pgtriage audit`: before anything goes wrong, would we be able to tell what happened, and
//! what would a cascade empty? Exit 1 when any high-severity finding exists (for CI), 2 on usage
//! or connection errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::checks::audit::{self as checks, Severity};
use crate::checks::repo_scan::{self, SqlHit};
use crate::commands::DbArgs;
use crate::db::Session;
use crate::error::Result;
use crate::report::audit_view;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The application's working tree: destructive statements in its migrations and code.
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,
}

/// The SQL scanner `audit` shares with `migrations` (lands with the migrations work; until
/// then `--repo` says so instead of pretending the tree is clean).
fn scan_sql(_text: &str) -> Vec<SqlHit> {
    Vec::new()
}

const SCANNER_READY: bool = false;

pub fn run(args: AuditArgs) -> Result<ExitCode> {
    let repo = match &args.repo {
        Some(_) if !SCANNER_READY => {
            return Err(crate::error::UserError::new(
                "--repo: the SQL scanner is not in this build yet; run `pgtriage migrations --repo PATH` instead",
            ));
        }
        Some(root) => Some(repo_scan::scan_repository(root, &scan_sql)?),
        None => None,
    };
    let mut session = Session::connect(&args.db.settings())?;
    let facts = session.audit_facts()?;
    let snapshot = session.snapshot()?;
    drop(session);
    let report = checks::audit(&facts, &snapshot.foreign_keys, repo.as_deref());
    let text = match args.format {
        AuditFormat::Table => audit_view::terminal(&report),
        AuditFormat::Json => audit_view::json(&report),
    };
    crate::io::print_stdout(&text)?;
    Ok(if report.worst == Some(Severity::High) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
