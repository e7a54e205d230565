//! Rendering of `pgtriage tables`: the terminal table and the JSON document.

use comfy_table::{Cell, CellAlignment, Color};
use serde::Serialize;

use crate::analysis::status::{TableRow, TableStatus};
use crate::evidence::NotVisible;

/// What `pgtriage tables --format json` prints (`"format": "pgtriage-tables/2"`; schema in
/// `schemas/tables.json`).
#[derive(Debug, Serialize)]
pub struct TablesDocument<'a> {
    pub format: &'static str,
    /// `user@host:port/db` or the evidence file it was read from. Not `source`: in every JSON
    /// contract `source` is a citation (`log:FILE:LINE`, `stats:…`), and this is an input.
    pub read_from: &'a str,
    pub tables: &'a [TableRow],
    pub not_visible: &'a [NotVisible],
}

/// `/2`: `source` (the input read) became `read_from`.
pub const TABLES_FORMAT: &str = "pgtriage-tables/2";

pub fn to_json(doc: &TablesDocument<'_>) -> String {
    let mut s =
        serde_json::to_string_pretty(doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

fn number(v: Option<i64>) -> Cell {
    Cell::new(v.map_or_else(|| "-".to_string(), |n| n.to_string()))
        .set_alignment(CellAlignment::Right)
}

fn when(v: Option<chrono::DateTime<chrono::Utc>>) -> Cell {
    Cell::new(v.map_or_else(
        || "-".to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    ))
}

fn status_cell(status: TableStatus) -> Cell {
    let cell = Cell::new(status.as_str());
    // Colour only shows on a terminal: `new_table` turns styling off in a pipe.
    match status {
        TableStatus::Wiped => cell.fg(Color::Red),
        TableStatus::Partial => cell.fg(Color::Yellow),
        TableStatus::Unknown => cell.fg(Color::Magenta),
        TableStatus::Intact | TableStatus::NeverPopulated => cell,
    }
}

/// The terminal table, then one line per thing the role could not see.
pub fn render_terminal(source: &str, rows: &[TableRow], not_visible: &[NotVisible]) -> String {
    let mut table = super::term::new_table(&[
        "schema",
        "table",
        "inserts",
        "updates",
        "deletes",
        "live",
        "dead",
        "expected",
        "status",
        "last vacuum (UTC)",
        "last analyze (UTC)",
    ]);
    for r in rows {
        table.add_row(vec![
            Cell::new(&r.schema),
            Cell::new(&r.name),
            number(r.inserts),
            number(r.updates),
            number(r.deletes),
            number(r.live_rows),
            number(r.dead_rows),
            number(r.expected_rows),
            status_cell(r.status),
            when(r.last_vacuum),
            when(r.last_analyze),
        ]);
    }
    let mut out = format!(
        "{source}: {}\n{table}\n",
        super::term::count(rows.len() as u64, "table")
    );
    for gap in not_visible {
        out.push_str(&format!("not visible: {}: {}\n", gap.what, gap.reason));
    }
    out
}
