//! `pgtriage audit`: before anything goes wrong, would we be able to tell what happened, and
//! what would a cascade empty? Exit 1 when any high-severity finding exists (for CI), 2 on usage
//! or connection errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::checks::audit::{self as checks, Severity};
use crate::commands::DbArgs;
use crate::db::Session;
use crate::error::Result;
use crate::migrations::repo_scan::{self, SqlHit};
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
    /// Output: a terminal table, or JSON (`pgtriage-audit/1`).
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,
}

fn hit(op: crate::migrations::sql::FoundOperation) -> SqlHit {
    SqlHit {
        line: op.line,
        kind: op.kind.to_string(),
        cascade: op.cascade,
        objects: op.objects,
        statement: op.statement,
        active: op.active,
        note: op.note,
    }
}

/// The SQL scanner `audit` shares with `migrations`, so both agree on what is destructive.
fn scan_sql(text: &str) -> Vec<SqlHit> {
    crate::migrations::sql::destructive_statements(text)
        .into_iter()
        .map(hit)
        .collect()
}

/// A file the migration conventions recognise, read the way `migrations` reads it (ORM calls,
/// SQL in strings, down migrations inert).
fn scan_migration(path: &str, text: &str) -> Option<Vec<SqlHit>> {
    let framework = crate::migrations::detect::framework_of(path)?;
    Some(
        crate::migrations::scan_text(path, framework, text)
            .operations
            .into_iter()
            .map(hit)
            .collect(),
    )
}

pub fn run(args: AuditArgs) -> Result<ExitCode> {
    let repo = match &args.repo {
        Some(root) => Some(repo_scan::scan_repository(
            root,
            &repo_scan::Scanners {
                migration: &scan_migration,
                sql: &scan_sql,
            },
        )?),
        None => None,
    };
    let with_database = repo.is_none() || crate::gather::database_wanted(&args.db, true);
    let report = if with_database {
        let mut session = Session::connect(&args.db.settings())?;
        let facts = session.audit_facts()?;
        let snapshot = session.snapshot()?;
        drop(session);
        checks::audit(&facts, &snapshot.foreign_keys, repo.as_deref())
    } else {
        // `audit --repo` alone: the repository's destructive statements need no database.
        let mut r = checks::audit(&checks::ServerFacts::default(), &[], repo.as_deref());
        r.findings.retain(|f| f.category == "repository");
        r.passed.clear();
        r.worst = r.findings.iter().map(|f| f.severity).min();
        r.problems = vec![
            "no database given (--db, DATABASE_URL or PG* variables): only the repository was audited, not the server's settings or foreign keys".to_string(),
        ];
        r
    };
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
