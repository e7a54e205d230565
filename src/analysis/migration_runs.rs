//! Did a migration file run? Re-judged from the evidence at report time, so an evidence file
//! collected by an older pgtriage is judged by this one: a tracking row (from the database or
//! from bookkeeping statements in the log, `UPDATE alembic_version SET version_num='086'`)
//! belongs to a file when the collector matched it, or when the row's version is the file's
//! revision — as the collector recorded it, or as the file name gives it (`086_slug.py`,
//! `0003_x.py`, `20240101_x.sql`: the part before the first `_`). Pure.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analysis::facts::Facts;
use crate::evidence::{AppliedMigration, MigrationFile, MigrationHistory};

/// The revision a file name gives: the part of the stem before the first `_`, when it is made
/// of letters and digits (Alembic's `<revision>_<slug>.py`, Django's `0003_x.py`, numbered SQL).
pub fn revision_from_name(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let stem = file.split('.').next()?;
    let head = stem.split('_').next()?;
    (!head.is_empty() && head != stem && head.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| head.to_string())
}

fn tool_matches(row: &AppliedMigration, file: &MigrationFile) -> bool {
    row.tool == file.framework
        || crate::migrations::frameworks::files_of(&row.tool).contains(&file.framework.as_str())
}

/// The tracking row saying the file at `path` ran, if any.
pub fn applied_for<'a>(history: &'a MigrationHistory, path: &str) -> Option<&'a AppliedMigration> {
    if let Some(row) = history
        .applied
        .iter()
        .find(|a| a.path.as_deref() == Some(path))
    {
        return Some(row);
    }
    let file = history.files.iter().find(|f| f.path == path)?;
    // The revision the collector read from the file (its content where the framework names it
    // there: `migrations::frameworks`); the file-name template only for a file the collector
    // recorded none for (evidence from a pgtriage that did not read revisions from content).
    let revisions: Vec<String> = match &file.version {
        Some(v) => vec![v.clone()],
        None => revision_from_name(path).into_iter().collect(),
    };
    history.applied.iter().find(|a| {
        a.path.is_none()
            && a.success != Some(false)
            && tool_matches(a, file)
            && revisions.contains(&a.version)
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationRow {
    pub kind: String,
    pub objects: Vec<String>,
    pub statement: String,
    pub source: String,
    pub path: String,
    pub commit: String,
    pub committed_at: DateTime<Utc>,
    pub author: String,
    pub active: bool,
    /// Tables it names that lost rows (or were dropped).
    pub affected_tables: Vec<String>,
    /// What the log or the tracking table says about it running.
    pub ran: Option<String>,
    pub note: Option<String>,
}
/// The report's migration rows: every destructive operation of the history, the tables it names
/// that lost rows (or a finding names), and whether it ran.
pub fn migration_rows(
    facts: &Facts,
    history: &MigrationHistory,
    affected: &BTreeSet<String>,
    named: &BTreeSet<&str>,
) -> Vec<MigrationRow> {
    history
        .operations
        .iter()
        .map(|op| {
            let affected_tables: Vec<String> = op
                .objects
                .iter()
                .filter_map(|o| {
                    let name = facts.table(o).map(|t| t.name.clone()).unwrap_or_else(|| {
                        if o.contains('.') {
                            o.to_lowercase()
                        } else {
                            format!("public.{}", o.to_lowercase())
                        }
                    });
                    (affected.contains(&name) || named.contains(name.as_str())).then_some(name)
                })
                .collect();
            let ran = applied_for(history, &op.path).map(|a| {
                format!(
                    "recorded as applied in {}{}{}",
                    a.table,
                    a.applied_at
                        .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                        .unwrap_or_default(),
                    match a.success {
                        Some(false) => " (failed)",
                        _ => "",
                    }
                )
            });
            MigrationRow {
                kind: op.kind.clone(),
                objects: op.objects.clone(),
                statement: op.statement.clone(),
                source: op.source.clone(),
                path: op.path.clone(),
                commit: op.commit.clone(),
                committed_at: op.committed_at,
                author: op.author.clone(),
                active: op.active,
                affected_tables,
                ran,
                note: op.note.clone(),
            }
        })
        .collect()
}

/// The migration history re-judged against the other sources of the evidence: the log's
/// bookkeeping statements give apply times and rows the tracking tables lack, and the tables
/// that exist now say which destructive migrations ran and which tables no migration manages.
/// Done here, not when gathering, so a saved evidence file is judged by this pgtriage.
pub fn judge(evidence: &crate::evidence::Evidence) -> Option<MigrationHistory> {
    let mut history = evidence.migrations.clone()?;
    if let Some(timeline) = &evidence.timeline {
        crate::analysis::migration_check::align_with_log(&mut history, timeline);
    }
    if let Some(snapshot) = &evidence.database {
        crate::analysis::migration_check::cross_check(&mut history, snapshot);
    }
    // An evidence file judged by an older pgtriage already holds its problems once.
    let mut seen = std::collections::HashSet::new();
    history.problems.retain(|p| seen.insert(p.clone()));
    Some(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> MigrationFile {
        MigrationFile {
            path: path.into(),
            framework: "alembic".into(),
            version: None,
            versions: Vec::new(),
        }
    }

    fn row(version: &str, table: &str) -> AppliedMigration {
        AppliedMigration {
            tool: "alembic".into(),
            table: table.into(),
            version: version.into(),
            applied_at: None,
            checksum: None,
            matched_commit: None,
            path: None,
            success: None,
            matched_by: None,
            note: None,
        }
    }

    /// Seed 002: `UPDATE alembic_version SET version_num='086'` in the log and a file
    /// `086_fix_collection_flow_status_adr012.py` (`revision = "086"`): it ran.
    #[test]
    fn a_short_alembic_revision_in_the_log_marks_its_file_as_ran() {
        let path = "backend/alembic/versions/086_fix_collection_flow_status_adr012.py";
        let history = MigrationHistory {
            files: vec![
                file(path),
                file("backend/alembic/versions/084_discovery.py"),
            ],
            applied: vec![row("084", "log"), row("086", "public.alembic_version")],
            ..MigrationHistory::default()
        };
        assert_eq!(
            applied_for(&history, path).map(|a| a.version.as_str()),
            Some("086")
        );
        assert_eq!(
            applied_for(&history, "backend/alembic/versions/084_discovery.py")
                .map(|a| a.version.as_str()),
            Some("084")
        );
        assert!(applied_for(&history, "backend/alembic/versions/090_later.py").is_none());
        assert_eq!(
            revision_from_name("db/x/0003_remove.py").as_deref(),
            Some("0003")
        );
        assert_eq!(revision_from_name("db/x/plain.sql"), None);
    }

    /// The cross-check is made at report time from the evidence as gathered: a saved evidence
    /// file whose history was never lined up with the database (or was, by an older
    /// pgtriage) is judged now — the table no migration creates is unmanaged, the one a
    /// migration drops and that exists is re-created, and judging twice says it once.
    #[test]
    fn a_saved_history_is_judged_at_report_time() {
        use crate::analysis::fixtures::{evidence, table};
        let mut ev = evidence(
            vec![table("orders", 16400, 10), table("audit_log", 16401, 5)],
            vec![],
        );
        let history: MigrationHistory = serde_json::from_value(serde_json::json!({
            "repo": "r", "commits_walked": 1, "files": [],
            "operations": [{"kind": "drop_table", "objects": ["orders"],
                "statement": "DROP TABLE orders", "source": "git:abc:m/001.sql:1",
                "path": "m/001.sql", "commit": "abcdef01", "line": 1,
                "committed_at": "2025-01-01T00:00:00Z", "author": "a", "active": true,
                "cascade": false, "framework": "sql", "found_by": "sql"}],
            "applied": [],
            "created_tables": ["orders"]
        }))
        .expect("history");
        ev.migrations = Some(history);
        let facts = Facts::new(&ev);
        let judged = facts.migrations.as_ref().expect("judged");
        assert_eq!(
            judged.unmanaged_tables,
            vec!["public.audit_log".to_string()]
        );
        assert_eq!(judged.recreated_tables, vec!["public.orders".to_string()]);
        assert!(
            judged
                .cross_check
                .iter()
                .any(|n| n.kind == "dropped_and_recreated" && n.table == "public.orders")
        );
        // The evidence itself is not rewritten; judging the judged history changes nothing.
        assert!(
            ev.migrations
                .as_ref()
                .is_some_and(|h| h.cross_check.is_empty())
        );
        let mut again = ev.clone();
        again.migrations = Some(judged.clone());
        assert_eq!(judge(&again).as_ref(), Some(judged));
    }

    /// The revision is what the file says (`revision = "086"`, read by the collector), not what
    /// its name looks like: a file named `2024_01_fix_status.py` whose revision is 086 ran; a
    /// file named `086_x.py` whose revision is `ae1027a6acf` did not.
    #[test]
    fn the_recorded_revision_beats_the_file_name() {
        let mut renamed = file("alembic/versions/2024_01_fix_status.py");
        renamed.version = Some("086".into());
        let mut misleading = file("alembic/versions/086_x.py");
        misleading.version = Some("ae1027a6acf".into());
        let history = MigrationHistory {
            files: vec![renamed, misleading],
            applied: vec![row("086", "log")],
            ..MigrationHistory::default()
        };
        assert!(applied_for(&history, "alembic/versions/2024_01_fix_status.py").is_some());
        assert!(applied_for(&history, "alembic/versions/086_x.py").is_none());
    }
}
