//! Rendering of `pgtriage migrations`: the terminal table of destructive operations over time,
//! the edits that changed a migration's meaning, what the tracking table says ran, the
//! cross-check with the database, and the JSON document (`"format": "pgtriage-migrations/1"`).

use comfy_table::{Cell, Color};
use serde::Serialize;

use crate::evidence::MigrationHistory;

pub const MIGRATIONS_FORMAT: &str = "pgtriage-migrations/1";

/// What `pgtriage migrations --format json` prints: the evidence's `migrations` value with a
/// format tag. Field names are the evidence contract (`evidence::MigrationHistory`).
#[derive(Debug, Serialize)]
pub struct MigrationsDocument<'a> {
    pub format: &'static str,
    #[serde(flatten)]
    pub history: &'a MigrationHistory,
}

pub fn to_json(history: &MigrationHistory) -> String {
    let doc = MigrationsDocument {
        format: MIGRATIONS_FORMAT,
        history,
    };
    let mut s =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

fn kind_cell(kind: &str, cascade: bool, active: bool) -> Cell {
    let text = if cascade {
        format!("{kind} CASCADE")
    } else {
        kind.to_string()
    };
    let cell = Cell::new(text);
    if !active {
        return cell.fg(Color::DarkGrey);
    }
    match kind {
        "drop_table" | "truncate" | "drop_schema" | "drop_database" | "drop_owned"
        | "delete_all" => cell.fg(Color::Red),
        _ => cell.fg(Color::Yellow),
    }
}

/// The terminal rendering. Inert operations (commented out, down migrations) are listed only
/// with `all`.
pub fn render_terminal(history: &MigrationHistory, all: bool) -> String {
    let mut out = String::new();
    let files = history.files.len();
    let versions: usize = history.files.iter().map(|f| f.versions.len()).sum();
    out.push_str(&format!(
        "{}: {} walked, {}, {}\n",
        history.repo,
        crate::report::term::count(history.commits_walked, "commit"),
        crate::report::term::count(files as u64, "migration file"),
        crate::report::term::count(versions as u64, "version")
    ));
    if let Some(s) = &history.shallow {
        out.push_str(&format!("warning: {s}\n"));
    }

    let shown: Vec<_> = history
        .operations
        .iter()
        .filter(|o| all || o.active)
        .collect();
    let hidden = history.operations.len() - shown.len();
    if shown.is_empty() {
        out.push_str("\nNo destructive operation found in any version of any migration.\n");
    } else {
        let mut table = super::term::new_table(&[
            "committed (UTC)",
            "operation",
            "objects",
            "found by",
            "author",
            "source",
        ]);
        for op in &shown {
            let mut objects = op.objects.join(", ");
            if !op.active {
                objects.push_str(" (inactive)");
            }
            table.add_row(vec![
                Cell::new(op.committed_at.format("%Y-%m-%d %H:%M").to_string()),
                kind_cell(&op.kind, op.cascade, op.active),
                Cell::new(objects),
                Cell::new(&op.found_by),
                Cell::new(&op.author),
                Cell::new(&op.source),
            ]);
        }
        out.push('\n');
        out.push_str(&table.to_string());
        out.push('\n');
    }
    if hidden > 0 {
        out.push_str(&format!(
            "{hidden} inactive operations (commented out, down migrations, Django state-only) not shown; --all lists them\n"
        ));
    }

    if !history.edits.is_empty() {
        out.push_str(&format!(
            "\nMigrations whose meaning changed after they were committed ({}):\n",
            history.edits.len()
        ));
        for e in &history.edits {
            out.push_str(&format!(
                "  {} {} (first committed in {})\n",
                e.edited_at.format("%Y-%m-%d %H:%M"),
                e.source,
                crate::migrations::short(&e.first_commit),
            ));
            for b in e.before.iter().take(3) {
                out.push_str(&format!("    - {b}\n"));
            }
            for a in e.after.iter().take(3) {
                out.push_str(&format!("    + {a}\n"));
            }
        }
    }

    if !history.applied.is_empty() {
        let mut table = super::term::new_table(&[
            "tracking table",
            "version",
            "applied (UTC)",
            "git version",
            "matched by",
            "path",
        ]);
        for a in &history.applied {
            table.add_row(vec![
                Cell::new(&a.table),
                Cell::new(&a.version),
                Cell::new(a.applied_at.map_or("-".to_string(), |t| {
                    t.format("%Y-%m-%d %H:%M:%S").to_string()
                })),
                Cell::new(
                    a.matched_commit
                        .as_deref()
                        .map_or("-", crate::migrations::short),
                ),
                Cell::new(a.matched_by.as_deref().unwrap_or("-")),
                Cell::new(a.path.as_deref().unwrap_or("-")),
            ]);
        }
        out.push_str("\nWhat the tracking table says ran:\n");
        out.push_str(&table.to_string());
        out.push('\n');
    }

    if !history.cross_check.is_empty() {
        out.push_str("\nCross-check with the database:\n");
        for n in &history.cross_check {
            out.push_str(&format!("  [{}] {}\n", n.kind, n.text));
        }
    }

    if !history.problems.is_empty() {
        out.push_str(&format!("\nNotes ({}):\n", history.problems.len()));
        for p in history.problems.iter().take(20) {
            out.push_str(&format!("  {p}\n"));
        }
        if history.problems.len() > 20 {
            out.push_str(&format!(
                "  … {} more in --format json\n",
                history.problems.len() - 20
            ));
        }
    }
    out
}
