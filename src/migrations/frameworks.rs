//! The one registry of migration frameworks: for each tool, the table it keeps its bookkeeping
//! in, the column holding the version it records, the detected file frameworks whose files its
//! rows describe, how a file names its revision, and the other tables the tool creates. Read by
//! detection (`detect::version_of`'s callers), the log classifier (bookkeeping statements), the
//! database reader (`db::tracking`) and the cross-check (`analysis::migration_check`), so the
//! four agree by construction (tests check the readers' own per-table SQL against it).

/// How a migration file names the revision its tool records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    /// An assignment in the file: Alembic's `revision = "086"` (or `revision: str = "086"`).
    /// The file name is only Alembic's default template and may say anything.
    Assigned(&'static str),
    /// The path says it (`detect::version_of`): a leading number, the stem, the directory.
    Path,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framework {
    /// The tool as tracking rows and log bookkeeping name it (`AppliedMigration::tool`).
    pub tool: &'static str,
    /// Its bookkeeping table, lower case (matched case-insensitively, in any schema).
    pub tracking_table: &'static str,
    /// The column of that table holding the recorded version.
    pub version_column: &'static str,
    /// Detected file frameworks (`detect`) whose files its rows can describe.
    pub files: &'static [&'static str],
    pub revision: Revision,
    /// Other tables the tool creates: not the application's, never "unmanaged".
    pub also_creates: &'static [&'static str],
}

const fn fw(
    tool: &'static str,
    tracking_table: &'static str,
    version_column: &'static str,
    files: &'static [&'static str],
) -> Framework {
    Framework {
        tool,
        tracking_table,
        version_column,
        files,
        revision: Revision::Path,
        also_creates: &[],
    }
}

/// Every framework pgtriage knows. Order matters only where two share a table
/// (`schema_migrations`, `migrations`): the first is the log classifier's reading.
pub const FRAMEWORKS: &[Framework] = &[
    Framework {
        revision: Revision::Assigned("revision"),
        ..fw("alembic", "alembic_version", "version_num", &["alembic"])
    },
    fw("django", "django_migrations", "name", &["django"]),
    // `schema_migrations(version)` is shared by several tools.
    Framework {
        also_creates: &["ar_internal_metadata"],
        ..fw(
            "schema_migrations",
            "schema_migrations",
            "version",
            &["rails", "golang-migrate", "dbmate", "ecto", "sql"],
        )
    },
    Framework {
        also_creates: &["seeds"],
        ..fw("supabase", "schema_migrations", "version", &["supabase"])
    },
    fw("flyway", "flyway_schema_history", "version", &["flyway"]),
    Framework {
        also_creates: &["databasechangeloglock"],
        ..fw("liquibase", "databasechangelog", "filename", &["liquibase"])
    },
    fw(
        "prisma",
        "_prisma_migrations",
        "migration_name",
        &["prisma"],
    ),
    fw("sqlx", "_sqlx_migrations", "version", &["sqlx", "sql"]),
    fw("goose", "goose_db_version", "version_id", &["goose", "sql"]),
    Framework {
        also_creates: &["knex_migrations_lock"],
        ..fw("knex", "knex_migrations", "name", &["knex"])
    },
    fw("drizzle", "__drizzle_migrations", "hash", &["drizzle"]),
    fw(
        "atlas",
        "atlas_schema_revisions",
        "version",
        &["atlas", "sql"],
    ),
    fw(
        "diesel",
        "__diesel_schema_migrations",
        "version",
        &["diesel"],
    ),
    fw("sequelize", "sequelizemeta", "name", &["sequelize"]),
    fw("laravel", "migrations", "migration", &["laravel"]),
    fw("typeorm", "migrations", "name", &["typeorm"]),
];

/// The framework whose rows say `tool`. Log bookkeeping of older evidence files said `rails`
/// for `schema_migrations`.
pub fn by_tool(tool: &str) -> Option<&'static Framework> {
    let tool = if tool == "rails" {
        "schema_migrations"
    } else {
        tool
    };
    FRAMEWORKS.iter().find(|f| f.tool == tool)
}

/// The first framework keeping its bookkeeping in `table` (bare or qualified, any case).
pub fn by_tracking_table(table: &str) -> Option<&'static Framework> {
    let bare = table.rsplit('.').next().unwrap_or(table).trim_matches('"');
    FRAMEWORKS
        .iter()
        .find(|f| f.tracking_table.eq_ignore_ascii_case(bare))
}

/// Detected file frameworks a tracking row of `tool` can describe.
pub fn files_of(tool: &str) -> &'static [&'static str] {
    by_tool(tool).map_or(&[], |f| f.files)
}

/// Whether `table` (bare name) is one a migration tool creates for itself.
pub fn is_tool_table(table: &str) -> bool {
    FRAMEWORKS.iter().any(|f| {
        f.tracking_table.eq_ignore_ascii_case(table)
            || f.also_creates.iter().any(|t| t.eq_ignore_ascii_case(table))
    })
}

/// Every tracking table, lower case, once (what the database reader looks for).
pub fn tracking_tables() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = FRAMEWORKS.iter().map(|f| f.tracking_table).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The revision a migration file of `framework` names in its text, for frameworks whose files
/// say it in their content (`Revision::Assigned`): `revision = "086"`, `revision: str = '086'`.
/// `down_revision` and commented-out lines do not count.
pub fn revision_in_text(framework: &str, text: &str) -> Option<String> {
    let rule = FRAMEWORKS
        .iter()
        .find(|f| f.files.contains(&framework))
        .map(|f| f.revision)?;
    let Revision::Assigned(name) = rule else {
        return None;
    };
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix(name)?;
        // `revision =` or `revision: str =`, not `revision_id` or `revisions`.
        if !rest.starts_with([' ', ':', '=']) {
            return None;
        }
        let (_, value) = rest.split_once('=')?;
        let value = value.trim();
        let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let inner = value.get(1..)?;
        let end = inner.find(quote)?;
        let revision = inner.get(..end)?.trim();
        (!revision.is_empty()).then(|| revision.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 002: the file's name and its revision are not the same thing; the content decides.
    #[test]
    fn alembic_revision_is_read_from_the_file() {
        let text = "\"\"\"fix status\n\nRevision ID: 086\nRevises: 085\n\"\"\"\nrevision = \"086\"\ndown_revision = \"085\"\n";
        assert_eq!(revision_in_text("alembic", text).as_deref(), Some("086"));
        let typed =
            "revision: str = 'ae1027a6acf'\ndown_revision: Union[str, None] = '1975ea83b712'\n";
        assert_eq!(
            revision_in_text("alembic", typed).as_deref(),
            Some("ae1027a6acf")
        );
        assert_eq!(
            revision_in_text("alembic", "down_revision = '085'\n# revision = '9'\n"),
            None
        );
        assert_eq!(revision_in_text("alembic", "revisions = ['1']\n"), None);
        assert_eq!(revision_in_text("rails", "revision = '1'\n"), None);
    }

    #[test]
    fn lookups_agree() {
        assert_eq!(
            by_tracking_table("public.\"alembic_version\"").map(|f| f.tool),
            Some("alembic")
        );
        assert_eq!(
            by_tool("rails").map(|f| f.tracking_table),
            Some("schema_migrations")
        );
        assert!(files_of("goose").contains(&"sql"));
        assert!(is_tool_table("ar_internal_metadata"));
        assert!(is_tool_table("SequelizeMeta"));
        assert!(!is_tool_table("orders"));
        let tables = tracking_tables();
        assert!(tables.windows(2).all(|w| w[0] < w[1]));
        for f in FRAMEWORKS {
            assert!(by_tool(f.tool).is_some());
            assert!(!f.files.is_empty(), "{}", f.tool);
        }
    }
}
