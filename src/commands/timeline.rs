//! `pgtriage timeline`: server logs as a forensic timeline (terminal table, JSON or JSON Lines).

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::commands::LogArgs;
use crate::commands::time_flags::parse_time_flag;
use crate::error::{Result, UserError};
use crate::evidence::{EventKind, Timeline};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimelineFormat {
    Table,
    Json,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    #[command(flatten)]
    pub log: LogArgs,
    /// Only events at or after this time (RFC 3339, or `YYYY-MM-DD[ HH:MM[:SS]]`: UTC unless an
    /// offset is written — not the log's zone).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events at or before this time (same rule as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only events touching this table (`name` or `schema.name`; repeatable).
    #[arg(long = "table", value_name = "TABLE")]
    pub tables: Vec<String>,
    /// Only events of this kind (`truncate`, `delete_all`, `error`, …; repeatable).
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// List routine connection/disconnection lines in the terminal table too (by default they
    /// are counted, not listed; JSON and JSON Lines always hold every event).
    #[arg(long)]
    pub all: bool,
    /// Output: a terminal table, one JSON document, or JSON Lines (one event per line).
    #[arg(long, value_enum, default_value_t = TimelineFormat::Table)]
    pub format: TimelineFormat,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// `--table` matches `orders` against `orders` and `public.orders`, and `public.orders` exactly.
pub fn table_matches(wanted: &str, table: &str) -> bool {
    let w = wanted.trim_matches('"');
    table.eq_ignore_ascii_case(w)
        || (!w.contains('.')
            && table
                .rsplit('.')
                .next()
                .is_some_and(|t| t.eq_ignore_ascii_case(w)))
}

fn parse_kind(k: &str) -> Result<EventKind> {
    serde_json::from_value(serde_json::Value::String(k.to_string())).map_err(|_| {
        UserError::new(format!(
            "--kind {k:?}: unknown event kind (see the README's timeline section)"
        ))
    })
}

pub fn run(args: TimelineArgs) -> Result<ExitCode> {
    if args.log.paths.is_empty() {
        return Err(UserError::new(
            "timeline needs --log PATH (a log file, directory, glob, or -)",
        ));
    }
    // The same rule as every other command: UTC unless the value carries an offset, whatever
    // --log-timezone says about the log's own timestamps.
    let bound = |flag: &str, v: &Option<String>| -> Result<_> {
        v.as_deref().map(|t| parse_time_flag(flag, t)).transpose()
    };
    let kinds = args
        .kinds
        .iter()
        .map(|k| parse_kind(k))
        .collect::<Result<Vec<_>>>()?;
    let opts = crate::logs::LogOptions {
        paths: args.log.paths.clone(),
        format: args.log.log_format.clone(),
        line_prefix: args.log.log_line_prefix.clone(),
        timezone: args.log.log_timezone.clone(),
        since: bound("--since", &args.since)?,
        until: bound("--until", &args.until)?,
        progress: true,
        threads: args.threads,
        part_bytes: None,
        prefix_from_database: false,
        hash_all: args.log.hash_all,
    };
    let mut timeline = crate::logs::read_timeline(&opts)?;
    filter(&mut timeline, &args.tables, &kinds);
    let text = match args.format {
        TimelineFormat::Table => {
            // Asking for connection lines by --kind lists them without --all.
            let all = args.all
                || kinds
                    .iter()
                    .any(|k| matches!(k, EventKind::Connection | EventKind::Disconnection));
            crate::report::timeline_view::render_table(&timeline, all)
        }
        TimelineFormat::Json => crate::report::timeline_view::render_json(&timeline)?,
        TimelineFormat::Jsonl => {
            for p in &timeline.problems {
                eprintln!(
                    "pgtriage: {}",
                    crate::report::timeline_view::problem_line(p)
                );
            }
            crate::report::timeline_view::render_jsonl(&timeline)?
        }
    };
    crate::io::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn filter(t: &mut Timeline, tables: &[String], kinds: &[EventKind]) {
    if !tables.is_empty() {
        t.events.retain(|e| {
            e.tables
                .iter()
                .any(|x| tables.iter().any(|w| table_matches(w, x)))
        });
        t.counts.retain(|c| {
            c.table
                .as_deref()
                .is_some_and(|x| tables.iter().any(|w| table_matches(w, x)))
        });
    }
    if !kinds.is_empty() {
        t.events.retain(|e| kinds.contains(&e.kind));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_filter_matches_bare_and_qualified() {
        assert!(table_matches("orders", "public.orders"));
        assert!(table_matches("orders", "orders"));
        assert!(table_matches("public.orders", "public.orders"));
        assert!(!table_matches("public.orders", "audit.orders"));
        assert!(!table_matches("order", "public.orders"));
        assert_eq!(parse_kind("delete_all").ok(), Some(EventKind::DeleteAll));
        assert!(parse_kind("nope").is_err());
    }
}
