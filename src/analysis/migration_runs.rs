//! Did a migration file run? Re-judged from the evidence at report time, so an evidence file
//! collected by an older pgtriage is judged by this one: a tracking row (from the database or
//! from bookkeeping statements in the log, `UPDATE alembic_version SET version_num='086'`)
//! belongs to a file when the collector matched it, or when the row's version is the file's
//! revision — as the collector recorded it, or as the file name gives it (`086_slug.py`,
//! `0003_x.py`, `20240101_x.sql`: the part before the first `_`). Pure.

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
        || (row.tool == "schema_migrations"
            && matches!(
                file.framework.as_str(),
                "rails" | "golang-migrate" | "dbmate" | "sql"
            ))
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
    let revisions: Vec<String> = file
        .version
        .iter()
        .cloned()
        .chain(revision_from_name(path))
        .collect();
    history.applied.iter().find(|a| {
        a.path.is_none()
            && a.success != Some(false)
            && tool_matches(a, file)
            && revisions.contains(&a.version)
    })
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
}
