//! The migration tools' own bookkeeping tables, read-only: which migrations each tool recorded
//! as applied, when, and with which checksum. One catalog query finds the tables (in any
//! schema), then one query per table found; columns that differ between tool versions are
//! looked up in the catalog, never guessed.
//!
//! `migrations::match_applied` ties these rows to git versions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{ConnectionSettings, QueryFailure, Session};
use crate::error::UserError;
use crate::evidence::{AppliedMigration, DatabaseSnapshot};

#[derive(FromRow)]
struct TableFound {
    schema: String,
    name: String,
    columns: Vec<String>,
}

#[derive(FromRow)]
struct Row {
    version: Option<String>,
    applied_at: Option<DateTime<Utc>>,
    checksum: Option<String>,
    success: Option<bool>,
}

fn ident(name: &str) -> String {
    crate::evidence::relation::quote_ident(name)
}

/// The tool and the SELECT (columns `version`, `applied_at`, `checksum`, `success`) for one
/// tracking table, or `None` when the table is not a tool's (a `migrations` table of the
/// application itself).
fn query_for(t: &TableFound) -> Option<(&'static str, String)> {
    let has = |c: &str| t.columns.iter().any(|x| x == c);
    let from = format!("{}.{}", ident(&t.schema), ident(&t.name));
    let q = |tool: &'static str, select: String| Some((tool, select));
    match t.name.to_ascii_lowercase().as_str() {
        "alembic_version" => q(
            "alembic",
            format!(
                "SELECT version_num::text AS version, NULL::timestamptz AS applied_at, NULL::text AS checksum, NULL::bool AS success FROM {from}"
            ),
        ),
        "django_migrations" => q(
            "django",
            format!(
                "SELECT app || '/' || name AS version, applied::timestamptz AS applied_at, NULL::text AS checksum, NULL::bool AS success FROM {from}"
            ),
        ),
        "schema_migrations" if t.schema == "supabase_migrations" => q(
            "supabase",
            format!(
                "SELECT version::text AS version, NULL::timestamptz AS applied_at, NULL::text AS checksum, NULL::bool AS success FROM {from}"
            ),
        ),
        "schema_migrations" => {
            let applied = if has("inserted_at") {
                "inserted_at::timestamptz"
            } else {
                "NULL::timestamptz"
            };
            let success = if has("dirty") {
                "NOT dirty"
            } else {
                "NULL::bool"
            };
            q(
                "schema_migrations",
                format!(
                    "SELECT version::text AS version, {applied} AS applied_at, NULL::text AS checksum, {success} AS success FROM {from}"
                ),
            )
        }
        "flyway_schema_history" => q(
            "flyway",
            format!(
                "SELECT coalesce(version, regexp_replace(script, '^(.*/)?R__(.*)\\.sql$', '\\2')) AS version, installed_on::timestamptz AS applied_at, checksum::text AS checksum, success FROM {from} WHERE type <> 'SCHEMA' AND type NOT LIKE 'BASELINE%'"
            ),
        ),
        "databasechangelog" => q(
            "liquibase",
            format!(
                "SELECT filename AS version, dateexecuted::timestamptz AS applied_at, md5sum AS checksum, (exectype = 'EXECUTED' OR exectype = 'RERAN') AS success FROM {from}"
            ),
        ),
        "_prisma_migrations" => q(
            "prisma",
            format!(
                "SELECT migration_name AS version, coalesce(finished_at, started_at)::timestamptz AS applied_at, checksum, (finished_at IS NOT NULL AND rolled_back_at IS NULL) AS success FROM {from}"
            ),
        ),
        "_sqlx_migrations" => q(
            "sqlx",
            format!(
                "SELECT version::text AS version, installed_on::timestamptz AS applied_at, encode(checksum, 'hex') AS checksum, success FROM {from}"
            ),
        ),
        "goose_db_version" => q(
            "goose",
            format!(
                "SELECT version_id::text AS version, tstamp::timestamptz AS applied_at, NULL::text AS checksum, is_applied AS success FROM {from} WHERE version_id > 0"
            ),
        ),
        "knex_migrations" => q(
            "knex",
            format!(
                "SELECT name AS version, migration_time::timestamptz AS applied_at, NULL::text AS checksum, NULL::bool AS success FROM {from}"
            ),
        ),
        // `created_at` is the journal's generation time, not when it ran: not an apply time.
        "__drizzle_migrations" => q(
            "drizzle",
            format!(
                "SELECT id::text AS version, NULL::timestamptz AS applied_at, hash AS checksum, NULL::bool AS success FROM {from}"
            ),
        ),
        "atlas_schema_revisions" => q(
            "atlas",
            format!(
                "SELECT version, executed_at::timestamptz AS applied_at, NULL::text AS checksum, (coalesce(error, '') = '') AS success FROM {from}"
            ),
        ),
        "__diesel_schema_migrations" => q(
            "diesel",
            format!(
                "SELECT version::text AS version, run_on::timestamptz AS applied_at, NULL::text AS checksum, NULL::bool AS success FROM {from}"
            ),
        ),
        "sequelizemeta" => q(
            "sequelize",
            format!(
                "SELECT name AS version, NULL::timestamptz AS applied_at, NULL::text AS checksum, NULL::bool AS success FROM {from}"
            ),
        ),
        "migrations" if has("migration") && has("batch") => q(
            "laravel",
            format!(
                "SELECT migration AS version, NULL::timestamptz AS applied_at, NULL::text AS checksum, NULL::bool AS success FROM {from}"
            ),
        ),
        "migrations" if has("timestamp") && has("name") => q(
            "typeorm",
            format!(
                "SELECT name AS version, NULL::timestamptz AS applied_at, NULL::text AS checksum, NULL::bool AS success FROM {from}"
            ),
        ),
        _ => None,
    }
}

impl Session {
    /// Every row of every migration tracking table found, as `AppliedMigration`s (not yet tied
    /// to git). A table the role may not read is a gap, returned as a note.
    pub fn migration_tracking(
        &mut self,
    ) -> Result<(Vec<AppliedMigration>, Vec<String>), UserError> {
        let target = self.target().to_string();
        self.read_only(|tx| {
            // The registry's tracking tables (`migrations::frameworks`), lower case.
            let known: Vec<String> = crate::migrations::frameworks::tracking_tables()
                .into_iter()
                .map(str::to_string)
                .collect();
            let tables: Vec<TableFound> = tx
                .fetch_all(
                    sqlx::query_as(
                        "SELECT n.nspname::text AS schema, c.relname::text AS name,
                                array_agg(a.attname::text ORDER BY a.attnum) AS columns
                           FROM pg_class c
                           JOIN pg_namespace n ON n.oid = c.relnamespace
                           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                          WHERE c.relkind IN ('r', 'p') AND lower(c.relname) = ANY($1)
                            AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                          GROUP BY 1, 2 ORDER BY 1, 2",
                    )
                    .bind(known),
                )
                .map_err(|f: QueryFailure| {
                    f.into_user_error(&format!("{target}: looking for migration tracking tables"))
                })?;
            let mut applied = Vec::new();
            let mut gaps = Vec::new();
            for t in &tables {
                let Some((tool, sql)) = query_for(t) else { continue };
                let table = format!("{}.{}", t.schema, t.name);
                match tx.fetch_all::<Row>(sqlx::query_as(sqlx::AssertSqlSafe(sql))) {
                    Ok(rows) => {
                        for r in rows {
                            applied.push(AppliedMigration {
                                tool: tool.to_string(),
                                table: table.clone(),
                                version: r.version.unwrap_or_default(),
                                applied_at: r.applied_at,
                                checksum: r.checksum,
                                matched_commit: None,
                                path: None,
                                success: r.success,
                                matched_by: None,
                                note: None,
                            });
                        }
                    }
                    Err(f) => gaps.push(format!("{table}: not read ({})", f.message)),
                }
            }
            Ok((applied, gaps))
        })
    }
}

/// Connects once and reads what `pgtriage migrations --db` needs: the tracking rows and the
/// snapshot of the tables that exist now (plus the gaps, as notes).
pub fn read_for_migrations(
    settings: &ConnectionSettings,
) -> Result<(Vec<AppliedMigration>, DatabaseSnapshot, Vec<String>), UserError> {
    let mut session = Session::connect(settings)?;
    let (applied, mut gaps) = session.migration_tracking()?;
    let snapshot = session.snapshot()?;
    let mut seen = BTreeMap::new();
    for nv in &snapshot.not_visible {
        seen.insert(nv.what.clone(), nv.reason.clone());
    }
    gaps.extend(
        seen.into_iter()
            .map(|(w, r)| format!("database: {w} not visible: {r}")),
    );
    Ok((applied, snapshot, gaps))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader's per-table SQL and the registry agree: every registry tracking table is read,
    /// and as the registry's tool.
    #[test]
    fn every_registry_table_is_read_as_its_tool() {
        for f in crate::migrations::frameworks::FRAMEWORKS {
            let mut columns = vec![f.version_column.to_string()];
            match f.tool {
                "laravel" => columns.push("batch".into()),
                "typeorm" => columns.push("timestamp".into()),
                _ => {}
            }
            let t = TableFound {
                schema: if f.tool == "supabase" {
                    "supabase_migrations".into()
                } else {
                    "public".into()
                },
                name: f.tracking_table.into(),
                columns,
            };
            assert_eq!(
                query_for(&t).map(|q| q.0),
                Some(f.tool),
                "{}",
                f.tracking_table
            );
        }
    }
}
