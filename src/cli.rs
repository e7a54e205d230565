//! The command line: one clap subcommand per job. Each subcommand's flags live beside the code
//! that runs it, in `commands/`.

#![deny(clippy::indexing_slicing, clippy::string_slice)]

use clap::{Parser, Subcommand};

use crate::commands;
use crate::report::term::ColorChoice;

#[derive(Debug, Parser)]
#[command(
    name = "pgtriage",
    version,
    about = "Triage for the hour after data went missing from a PostgreSQL database",
    long_about = "pgtriage reads a PostgreSQL database (read-only), its server logs and the \
                  application's git history, ranks what could have removed the rows, and writes \
                  a postmortem draft in which every claim cites its evidence."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour in terminal output: `auto` (a terminal, unless NO_COLOR is set), `always`, `never`.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

// Examples shown by `pgtriage SUBCOMMAND --help`. tests/cli_friendly.rs runs every `$ pgtriage`
// line exactly as printed, in a directory holding the files they name (evidence.json,
// baseline.json, postgresql.log, app/, before.dump) with DATABASE_URL set to a throwaway server.
const REPORT_EXAMPLES: &str = "\
Examples:
  An evidence file (from `pgtriage collect`) is the usual input:
  $ pgtriage report evidence.json -o report.md
  $ pgtriage report evidence.json --format json --since '2026-11-23 15:00' -o report.json
  Or gather and report in one go (read-only):
  $ pgtriage report --db \"$DATABASE_URL\" --log postgresql.log --repo app --baseline baseline.json -o live-report.md

--since/--until: RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]] read as UTC unless an offset is written.";

const COLLECT_EXAMPLES: &str = "\
Examples:
  $ pgtriage collect --db \"$DATABASE_URL\" --log postgresql.log --repo app -o evidence-now.json
  A baseline before risky work (later: report --baseline, verify --baseline):
  $ pgtriage collect --db \"$DATABASE_URL\" -o baseline-now.json";

const TABLES_EXAMPLES: &str = "\
Examples:
  $ pgtriage tables evidence.json
  $ pgtriage tables --db \"$DATABASE_URL\" --format json";

const TIMELINE_EXAMPLES: &str = "\
Examples:
  $ pgtriage timeline --log postgresql.log
  $ pgtriage timeline --log postgresql.log --kind truncate --kind delete_all --since '2026-11-23 15:00'
  Every event, connections included, one JSON object per line:
  $ pgtriage timeline --log postgresql.log --all --format jsonl

--since/--until: RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]] read as UTC unless an offset is written
(the log's own time zone is only for its timestamps, see --log-timezone).";

const MIGRATIONS_EXAMPLES: &str = "\
Examples:
  $ pgtriage migrations --repo app
  $ pgtriage migrations --repo app --db \"$DATABASE_URL\" --format json";

const VERIFY_EXAMPLES: &str = "\
Examples:
  After a restore, against the baseline collected before the loss (exit 0 pass, 1 fail):
  $ pgtriage verify --baseline baseline.json --db \"$DATABASE_URL\"";

const AUDIT_EXAMPLES: &str = "\
Examples:
  $ pgtriage audit --db \"$DATABASE_URL\"
  $ pgtriage audit --db \"$DATABASE_URL\" --format json";

const WATCH_EXAMPLES: &str = "\
Examples:
  One poll from cron (exit 1 when a loss is raised):
  $ pgtriage watch --db \"$DATABASE_URL\" --once --out pgtriage-watch";

const RECOVER_EXAMPLES: &str = "\
Examples:
  Rehearse plan 1 of the report from a pg_dump -Fc taken before the loss:
  $ pgtriage recover evidence.json --plan 1 --dump before.dump --out recovered";

// Parsed once per run: the size of the largest variant (report's flags) does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Gather, analyse and write the incident report (the main job).
    #[command(after_help = REPORT_EXAMPLES)]
    Report(commands::report::ReportArgs),
    /// Gather every source into one evidence file.
    #[command(after_help = COLLECT_EXAMPLES)]
    Collect(commands::collect::CollectArgs),
    /// Per-table inserts, deletes, live and dead rows, and a status.
    #[command(after_help = TABLES_EXAMPLES)]
    Tables(commands::tables::TablesArgs),
    /// Server logs as a forensic timeline.
    #[command(after_help = TIMELINE_EXAMPLES)]
    Timeline(commands::timeline::TimelineArgs),
    /// Destructive migrations in the git history, and which version ran.
    #[command(after_help = MIGRATIONS_EXAMPLES)]
    Migrations(commands::migrations::MigrationsArgs),
    /// After a restore: is everything back? Exit 0 pass, 1 fail.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(commands::verify::VerifyArgs),
    /// Before anything goes wrong: would we be able to tell, and what would a cascade empty?
    #[command(after_help = AUDIT_EXAMPLES)]
    Audit(commands::audit::AuditArgs),
    /// Notice a loss within seconds, capture the evidence it would destroy, keep baselines.
    #[command(after_help = WATCH_EXAMPLES)]
    Watch(commands::watch::WatchArgs),
    /// Rehearse a recovery plan on a scratch server; write restore.sql with the lost rows. Exit 0 all found, 1 some missing.
    #[command(after_help = RECOVER_EXAMPLES)]
    Recover(commands::recover::RecoverArgs),
}

impl Command {
    pub fn run(self) -> crate::error::Result<std::process::ExitCode> {
        match self {
            Command::Report(args) => commands::report::run(args),
            Command::Collect(args) => commands::collect::run(args),
            Command::Tables(args) => commands::tables::run(args),
            Command::Timeline(args) => commands::timeline::run(args),
            Command::Migrations(args) => commands::migrations::run(args),
            Command::Verify(args) => commands::verify::run(args),
            Command::Audit(args) => commands::audit::run(args),
            Command::Watch(args) => commands::watch::run(args),
            Command::Recover(args) => commands::recover::run(args),
        }
    }
}
