//! What the application's git history says its migrations did to data. Filled by `migrations/`,
//! read by `analysis/` and `report/`. Every operation cites `git:SHORTSHA:PATH:LINE`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MigrationHistory {
    pub repo: String,
    /// The commit HEAD pointed at (full id).
    #[serde(default)]
    pub head: Option<String>,
    /// Shallow clone: the history is cut short (and where).
    #[serde(default)]
    pub shallow: Option<String>,
    pub commits_walked: u64,
    /// Migration files found, with every version of each; sorted by path.
    pub files: Vec<MigrationFile>,
    /// Destructive operations, one per (version, statement); sorted by (committed_at, path, line).
    pub operations: Vec<DestructiveOperation>,
    /// Migrations whose meaning changed after they were first committed.
    #[serde(default)]
    pub edits: Vec<MeaningfulEdit>,
    /// What the framework's tracking table says ran, matched to git versions.
    #[serde(default)]
    pub applied: Vec<AppliedMigration>,
    /// Tables the database has that no migration creates (managed by something else).
    #[serde(default)]
    pub unmanaged_tables: Vec<String>,
    /// Tables a migration drops or truncates that exist now (dropped and re-created).
    #[serde(default)]
    pub recreated_tables: Vec<String>,
    #[serde(default)]
    pub problems: Vec<String>,
    /// Tables some version of some migration creates (normalised: lower-case unless quoted,
    /// quotes removed, `schema.name` when qualified); sorted. Used to find unmanaged tables.
    #[serde(default)]
    pub created_tables: Vec<String>,
    /// Paths that look like migrations but were left out, by reason: `test` (a test directory
    /// or test file, e.g. `spec/migrations/*_spec.rb`) or `vendored` (vendored code or front-end
    /// assets, e.g. `app/assets/javascripts/jquery-migrate-1.0.0.js`); distinct paths counted.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub skipped_paths: std::collections::BTreeMap<String, u64>,
    /// What the cross-check with the database found, explained; sorted by (table, kind).
    #[serde(default)]
    pub cross_check: Vec<CrossCheckNote>,
}

/// One finding of the cross-check between the migration history and the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossCheckNote {
    /// `drops_unmanaged_table` (a migration drops or truncates a table no migration creates: the
    /// seed 003 trap), `dropped_and_recreated` (a migration drops a table that exists now),
    /// `truncated_table_exists`, `unmanaged_table` (the database has it, no migration creates it),
    /// `checksum_mismatch` (the tracking table recorded a version git never had).
    pub kind: String,
    /// `schema.name` as the database names it (or as the migration wrote it).
    pub table: String,
    pub text: String,
    /// Citations (`git:SHORTSHA:PATH:LINE`, `db:TABLE`).
    #[serde(default)]
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationFile {
    pub path: String,
    /// `alembic`, `django`, `rails`, `flyway`, `liquibase`, `prisma`, `knex`, `sequelize`,
    /// `typeorm`, `sqlx`, `diesel`, `goose`, `golang-migrate`, `dbmate`, `supabase`, `ecto`,
    /// `laravel`, `drizzle`, `atlas`, `sql`.
    pub framework: String,
    /// The migration's version/revision id as its framework names it, when it has one.
    #[serde(default)]
    pub version: Option<String>,
    pub versions: Vec<FileVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileVersion {
    /// Full commit id.
    pub commit: String,
    pub committed_at: DateTime<Utc>,
    pub author: String,
    pub message: String,
    /// `added`, `modified`, `deleted`, `renamed`.
    pub change: String,
    #[serde(default)]
    pub previous_path: Option<String>,
    /// Git blob id of this version (absent for a deletion).
    #[serde(default)]
    pub blob: Option<String>,
    /// The checksum the framework would record for this version (sqlx SHA-384 hex, Prisma and
    /// Drizzle SHA-256 hex, Flyway CRC32 as a signed integer); absent when it records none.
    #[serde(default)]
    pub checksum: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestructiveOperation {
    /// `drop_table`, `drop_schema`, `drop_type` (also `DROP DOMAIN`), `drop_database`,
    /// `drop_owned`, `drop_extension` (only with CASCADE), `truncate`, `delete_all`,
    /// `update_all`, `merge_delete`, `drop_column`, `alter_column_type`, `detach_partition`,
    /// `set_unlogged`, `dynamic_sql`. An operation is listed at the version that introduced it;
    /// later versions that keep it unchanged do not repeat it.
    pub kind: String,
    pub cascade: bool,
    /// Tables (or the type/schema) it names, as written (`schema.name` when qualified).
    pub objects: Vec<String>,
    pub statement: String,
    pub path: String,
    pub line: u32,
    /// Full commit id of the version this was found in.
    pub commit: String,
    pub committed_at: DateTime<Utc>,
    pub author: String,
    pub framework: String,
    /// False when commented out or otherwise inert; `note` says why.
    pub active: bool,
    /// `sql`, `do_block`, `function_body`, `execute_string`, `orm` (a framework call), `keyword`
    /// (found by the keyword scanner where no parser could read the file).
    pub found_by: String,
    #[serde(default)]
    pub note: Option<String>,
    /// `git:SHORTSHA:PATH:LINE`.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeaningfulEdit {
    pub path: String,
    pub first_commit: String,
    pub edit_commit: String,
    pub edited_at: DateTime<Utc>,
    pub before: Vec<String>,
    pub after: Vec<String>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedMigration {
    pub tool: String,
    /// The tracking table it was read from.
    pub table: String,
    pub version: String,
    #[serde(default)]
    pub applied_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub checksum: Option<String>,
    /// The git version of the file whose checksum matches the recorded one.
    #[serde(default)]
    pub matched_commit: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub success: Option<bool>,
    /// How the git version was matched: `checksum`, `version_and_time` (the last version
    /// committed before the recorded apply time), `version` (no checksum, no time).
    #[serde(default)]
    pub matched_by: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}
