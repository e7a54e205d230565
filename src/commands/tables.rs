//! `pgtriage tables`: per-table inserts, updates, deletes, live and dead rows, expected rows and
//! status, from a live database or from a saved evidence file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::DbArgs;
use crate::analysis::status::table_rows;
use crate::db::Session;
use crate::error::{Result, UserError};
use crate::evidence::Evidence;
use crate::report::tables_view::{self, TablesDocument};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TablesFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct TablesArgs {
    /// An evidence file written by `pgtriage collect`, read instead of a live database.
    #[arg(value_name = "EVIDENCE_FILE", conflicts_with = "url")]
    pub evidence: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
    /// `table` for people, `json` for programs.
    #[arg(long, value_enum, default_value_t = TablesFormat::Table)]
    pub format: TablesFormat,
}

pub fn run(args: TablesArgs) -> Result<ExitCode> {
    let (source, snapshot, baseline) = match &args.evidence {
        Some(path) => {
            let evidence = Evidence::load(path)?;
            let snapshot = evidence.database.ok_or_else(|| {
                UserError::new(format!(
                    "{}: the evidence file holds no database snapshot; collect one with `pgtriage collect --db URL -o FILE`",
                    path.display()
                ))
            })?;
            (path.display().to_string(), snapshot, evidence.baseline)
        }
        None => {
            let mut session = Session::connect(&args.db.settings())?;
            let snapshot = session.snapshot()?;
            (session.target().to_string(), snapshot, None)
        }
    };
    let rows = table_rows(&snapshot, baseline.as_ref());
    let text = match args.format {
        TablesFormat::Table => tables_view::render_terminal(&source, &rows, &snapshot.not_visible),
        TablesFormat::Json => tables_view::to_json(&TablesDocument {
            format: tables_view::TABLES_FORMAT,
            read_from: &source,
            tables: &rows,
            not_visible: &snapshot.not_visible,
        }),
    };
    crate::io::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
