//! `pgtriage report`: load (or gather) the evidence, analyse it, render the report as
//! Markdown, JSON or a terminal summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::commands::time_flags::parse_time_flag;
use crate::commands::{DbArgs, LogArgs};
use crate::error::{Result, UserError};
use crate::evidence::Evidence;
use crate::gather;
use crate::report::model::{self, Window};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// GitHub-flavoured Markdown from the templates.
    Md,
    /// The `pgtriage-report/1` JSON contract.
    Json,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// An evidence file from `pgtriage collect`; without it, gather from --db/--log/--repo.
    #[arg(value_name = "EVIDENCE")]
    pub evidence: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub logs: LogArgs,
    /// The application's git repository (migration history).
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// An earlier evidence file of the same database: expected rows become exact.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// A directory of WAL segments (archive or a copy of pg_wal): the exact loss transactions.
    /// With an evidence file, replaces the WAL it holds.
    #[arg(long = "wal", value_name = "DIR")]
    pub wal: Option<PathBuf>,
    /// Write the report here (whole or not at all) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// `md`: the Markdown postmortem draft (on a terminal without -o: a short summary that ends
    /// with the top recovery step); `json`: the `pgtriage-report/1` contract (schemas/report.json).
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// A minijinja template replacing the embedded report.md.j2; partials next to it
    /// (partials/NAME.md.j2) replace the embedded ones.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Timeline entries from this time (RFC 3339, or `YYYY-MM-DD[ HH:MM[:SS]]`: UTC unless an
    /// offset is written); with --wal, the WAL read is bounded by the same window.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Timeline entries up to this time (same rule as --since).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// The JSON output of `pgtriage verify` run after recovery: adds a "Recovery verified"
    /// section (what passed, what still fails).
    #[arg(long, value_name = "VERIFY.json")]
    pub verify: Option<PathBuf>,
    /// For a postmortem shared outside the team: string and number literals in statements
    /// become $1, $2…; `--redact=all` also replaces user and host names. Writes Markdown even
    /// to a terminal.
    #[arg(long, value_enum, value_name = "WHAT", num_args = 0..=1, require_equals = true, default_missing_value = "literals")]
    pub redact: Option<Redact>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Redact {
    /// String and number literals in statements.
    Literals,
    /// Literals, and user and host names.
    All,
}

/// What `report` says when given nothing: connecting to libpq's defaults (`root@localhost:5432/
/// root` for root) would only fail with a message that hides what the command wants.
pub const NOTHING_TO_READ: &str = "report needs something to read: an evidence file (`pgtriage report evidence.json`, \
the usual input, written by `pgtriage collect`), or sources to gather: --db URL (or DATABASE_URL / PGHOST), \
--log PATH, --repo PATH; see `pgtriage report --help`";

/// Whether the environment names a database the way libpq users expect (then `report` with no
/// arguments gathers from it, as `psql` would connect).
fn database_named_by_environment() -> bool {
    [
        "DATABASE_URL",
        "PGHOST",
        "PGHOSTADDR",
        "PGDATABASE",
        "PGSERVICE",
        "PGPORT",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let window = Window {
        since: args
            .since
            .as_deref()
            .map(|t| parse_time_flag("--since", t))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| parse_time_flag("--until", t))
            .transpose()?,
    };
    if args.evidence.is_none()
        && args.db.url.is_none()
        && args.logs.paths.is_empty()
        && args.repo.is_none()
        && !database_named_by_environment()
    {
        return Err(UserError::new(NOTHING_TO_READ));
    }
    let evidence = match &args.evidence {
        Some(path) => {
            if args.db.url.is_some() || !args.logs.paths.is_empty() || args.repo.is_some() {
                return Err(UserError::new(
                    "give either an evidence file or sources to gather (--db/--log/--repo), not both; add sources with `pgtriage collect`",
                ));
            }
            let mut evidence = Evidence::load(path)?;
            gather::amend(
                &mut evidence,
                args.baseline.as_deref(),
                args.wal.as_deref(),
                &window,
            )?;
            evidence
        }
        None => {
            // Gather in one go, exactly as `collect` would (baseline included).
            let mut sources = gather::Sources::from_args(
                &args.db,
                &args.logs,
                args.repo.as_deref(),
                args.baseline.as_deref(),
            );
            if args.wal.is_some() {
                sources.database =
                    gather::database_wanted(&args.db, true).then(|| args.db.settings());
            }
            sources.wal = args.wal.clone();
            // The window of the report bounds the WAL read too.
            sources.wal_since = window.since;
            sources.wal_until = window.until;
            gather::build_evidence(&sources)?
        }
    };
    let mut report = model::build(&evidence, window);
    if let Some(path) = &args.verify {
        report.recovery_verified = Some(crate::report::verified::read(path)?);
    }
    let redact = args.redact.map(|r| match r {
        Redact::Literals => crate::report::redact::Mode::Literals,
        Redact::All => crate::report::redact::Mode::All,
    });
    let text = match (args.format, redact) {
        (format, Some(mode)) => {
            let value = serde_json::to_value(&report)
                .map_err(|e| UserError::new(format!("report: {e}")))?;
            let value = crate::report::redact::report(value, mode, &evidence);
            match format {
                Format::Json => {
                    let mut s = serde_json::to_string_pretty(&value)
                        .map_err(|e| UserError::new(format!("report: {e}")))?;
                    s.push('\n');
                    s
                }
                Format::Md => {
                    crate::report::markdown::render_value(&value, args.template.as_deref())?
                }
            }
        }
        (Format::Json, None) => report.to_json(),
        (Format::Md, None)
            if args.output.is_none()
                && args.template.is_none()
                && std::io::stdout().is_terminal() =>
        {
            crate::report::summary_view::render(&report)
        }
        (Format::Md, None) => crate::report::markdown::render(&report, args.template.as_deref())?,
    };
    match &args.output {
        Some(path) => crate::io::write_atomically(path, text.as_bytes())?,
        None => crate::io::print_stdout(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}
