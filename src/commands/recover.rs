//! `pgtriage recover`: rehearse a recovery plan on a scratch server and hand back the lost rows
//! (restore.sql, CSVs, recover.json). Exit 0 when every lost row was found, 1 when some were
//! not (listed in recover.json and on stderr), 2 on bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::analysis::analyze;
use crate::error::{Result, UserError};
use crate::evidence::Evidence;
use crate::recovery::{self, Request, Source};

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The evidence file the report was made from.
    #[arg(value_name = "EVIDENCE")]
    pub evidence: PathBuf,
    /// The plan to rehearse (the report's `recovery[].id`; default: the first).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub plan: usize,
    /// A plain-format base backup (pg_basebackup -Fp) taken before the loss, or a data
    /// directory the archiver's own tool restored (pgbackrest restore): without --wal-archive,
    /// its restore_command is used.
    #[arg(long, value_name = "DIR", conflicts_with = "dump")]
    pub base_backup: Option<PathBuf>,
    /// The WAL archive directory archive_command copies into.
    #[arg(long, value_name = "DIR", requires = "base_backup")]
    pub wal_archive: Option<PathBuf>,
    /// A pg_dump -Fc archive taken before the loss, instead of a base backup.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Where restore.sql, the CSVs and recover.json go: a new or empty directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Where the scratch server's directory is made (default: the temp directory); it needs
    /// room for a copy of the base backup.
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
}

pub fn run(args: RecoverArgs) -> Result<ExitCode> {
    let evidence = Evidence::load(&args.evidence)?;
    // One analysis, facts derived once: its plans are the report's, rehearsed as printed.
    let analysis = analyze(&evidence);
    let all = &analysis.recovery;
    let plan = all.iter().find(|p| p.id == args.plan).ok_or_else(|| {
        UserError::new(if all.is_empty() {
            format!(
                "{}: the evidence shows no loss event, so there is no plan to rehearse",
                args.evidence.display()
            )
        } else {
            format!(
                "--plan {}: the report has plans 1 to {}",
                args.plan,
                all.len()
            )
        })
    })?;
    let source = match (&args.base_backup, &args.wal_archive, &args.dump) {
        (Some(dir), wal, None) => Source::BaseBackup {
            dir: dir.clone(),
            wal_archive: wal.clone(),
        },
        (None, None, Some(dump)) => Source::Dump(dump.clone()),
        _ => {
            return Err(UserError::new(
                "give --base-backup DIR [--wal-archive DIR], or --dump FILE",
            ));
        }
    };
    let db = evidence.database.as_ref();
    let request = Request {
        plan,
        database: db
            .map(|d| d.server.database.clone())
            .unwrap_or_else(|| "postgres".into()),
        users: db.map(|d| vec![d.server.user.clone()]).unwrap_or_default(),
        absent_tables: plan
            .tables
            .iter()
            .filter(|t| db.is_some_and(|d| !d.tables.iter().any(|l| l.qualified_name() == t.table)))
            .map(|t| t.table.clone())
            .collect(),
        server_major: db.map(|d| (d.server.version_num / 10000) as u32),
        source,
        out: args.out.clone(),
        scratch_parent: args.scratch.clone(),
        evidence_path: args.evidence.display().to_string(),
    };
    let report = recovery::recover(&request)?;
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| UserError::new(format!("recover.json: {e}")))?;
    crate::io::write_atomically(
        &args.out.join("recover.json"),
        format!("{json}\n").as_bytes(),
    )?;
    for t in &report.tables {
        let line = match (t.rows_found, t.rows_still_missing) {
            (None, _) => format!(
                "{}: not in the recovered copy{}",
                t.table,
                t.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
            (Some(found), Some(m)) if m > 0 => format!(
                "{}: {found} rows in the copy, {m} still missing (expected {})",
                t.table,
                t.expected_rows.unwrap_or(0)
            ),
            (Some(found), _) => format!("{}: {found} rows in the copy", t.table),
        };
        eprintln!("{line}");
    }
    eprintln!(
        "wrote {} (restore.sql, {} CSV files, recover.json) in {:.1}s, {:.1}s of it PostgreSQL's",
        args.out.display(),
        report.tables.iter().filter(|t| t.csv.is_some()).count(),
        report.timings.total_seconds,
        report.timings.server_seconds
    );
    Ok(if report.all_found {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
