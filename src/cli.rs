//! The command line: one clap subcommand per job. Each subcommand's flags live beside the code
//! that runs it, in `commands/`.

use clap::{Parser, Subcommand};

use crate::commands;

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
}

// Parsed once per run: the size of the largest variant (report's flags) does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Gather, analyse and write the incident report (the main job).
    Report(commands::report::ReportArgs),
    /// Gather every source into one evidence file.
    Collect(commands::collect::CollectArgs),
    /// Per-table inserts, deletes, live and dead rows, and a status.
    Tables(commands::tables::TablesArgs),
    /// Server logs as a forensic timeline.
    Timeline(commands::timeline::TimelineArgs),
    /// Destructive migrations in the git history, and which version ran.
    Migrations(commands::migrations::MigrationsArgs),
    /// After a restore: is everything back? Exit 0 pass, 1 fail.
    Verify(commands::verify::VerifyArgs),
    /// Before anything goes wrong: would we be able to tell, and what would a cascade empty?
    Audit(commands::audit::AuditArgs),
    /// Notice a loss within seconds, capture the evidence it would destroy, keep baselines.
    Watch(commands::watch::WatchArgs),
    /// Rehearse a recovery plan on a scratch server; write restore.sql with the lost rows. Exit 0 all found, 1 some missing.
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
