//! `pgtriage migrations`: destructive operations in every version of every migration in git,
//! migrations edited after commit, and — with `--db` — which version ran and the cross-check
//! with the tables that exist now.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::commands::time_flags::parse_time_flag;
use crate::error::Result;
use crate::migrations::{self, HistoryOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MigrationsFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct MigrationsArgs {
    /// The application's git repository (a checkout, a bare or a shallow clone).
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// Database to read the migration tracking tables from, and to cross-check tables with.
    #[arg(long = "db", value_name = "URL")]
    pub db: Option<String>,
    /// Only versions committed at or after this time (RFC 3339, or `YYYY-MM-DD[ HH:MM[:SS]]`: UTC
    /// unless an offset is written).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// A revision or range to walk (`v1.0..main`); default HEAD.
    #[arg(long, value_name = "RANGE")]
    pub rev: Option<String>,
    /// Also treat paths matching this glob as migrations (repeatable), e.g. 'ops/sql/**/*.sql'.
    #[arg(long = "path", value_name = "GLOB")]
    pub paths: Vec<String>,
    /// Use only --path globs, not the built-in framework conventions.
    #[arg(long)]
    pub no_conventions: bool,
    /// List inactive operations too (commented out, down migrations).
    #[arg(long)]
    pub all: bool,
    /// `table` for people (active destructive operations; --all for every one), `json` for
    /// programs (everything, the `pgtriage-migrations/1` contract).
    #[arg(long, value_enum, default_value_t = MigrationsFormat::Table)]
    pub format: MigrationsFormat,
    /// Walk the history only (no parsing) and print counts: for the benchmark script.
    #[arg(long, hide = true)]
    pub walk_only: bool,
    /// Read every changed folder of every commit, not only the folders that can hold
    /// migrations (2–3× slower): also finds a migration that lived only between two sampled
    /// commits in a folder outside the frameworks' layouts (README, "Which history").
    #[arg(long)]
    pub exhaustive_walk: bool,
    /// Cancel any single query after this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub statement_timeout: u64,
}

pub fn run(args: MigrationsArgs) -> Result<ExitCode> {
    let since = args
        .since
        .as_deref()
        .map(|t| parse_time_flag("--since", t))
        .transpose()?;
    let opts = HistoryOptions {
        repo: args.repo.clone(),
        rev: args.rev.clone(),
        since,
        paths: args.paths.clone(),
        no_conventions: args.no_conventions,
        exhaustive: args.exhaustive_walk,
    };
    if args.walk_only {
        let (walked, commits, changes) = migrations::walk_only(&opts)?;
        crate::io::print_stdout(&format!(
            "{walked} commits walked, {commits} touch migrations, {changes} path changes\n"
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut history = migrations::scan_history(&opts)?;
    if let Some(url) = &args.db {
        let settings = crate::db::ConnectionSettings {
            url: Some(url.clone()),
            statement_timeout_ms: args.statement_timeout,
            lock_timeout_ms: 2_000,
            connect_timeout_s: 10,
        };
        let (applied, snapshot, gaps) = crate::db::tracking::read_for_migrations(&settings)?;
        history.problems.extend(gaps);
        migrations::match_applied(&mut history, applied);
        migrations::cross_check(&mut history, &snapshot);
    }
    let text = match args.format {
        MigrationsFormat::Json => crate::report::migrations_view::to_json(&history),
        MigrationsFormat::Table => {
            crate::report::migrations_view::render_terminal(&history, args.all)
        }
    };
    crate::io::print_stdout(&text)?;
    // A history with holes must not pass for a clean one in a script either.
    if let Some(p) = history
        .problems
        .iter()
        .find(|p| p.starts_with("history incomplete"))
    {
        eprintln!("pgtriage: {p}");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
