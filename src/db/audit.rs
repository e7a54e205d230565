//! The live facts of `audit`: the settings that decide what the next incident leaves behind,
//! the archiver's recent record, and whether pgaudit is installed. Catalog reads only.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use crate::db::Session;
use crate::error::UserError;
use crate::evidence::ArchiverStats;
use crate::evidence::probes::ServerFacts;

/// The settings the audit judges.
pub const AUDIT_SETTINGS: &[&str] = &[
    "archive_command",
    "archive_library",
    "archive_mode",
    "log_destination",
    "log_line_prefix",
    "log_min_duration_statement",
    "log_statement",
    "logging_collector",
    "pgaudit.log",
    "shared_preload_libraries",
    "track_commit_timestamp",
    "wal_level",
];

#[derive(FromRow)]
struct ArchiverRow {
    archived_count: i64,
    last_archived_wal: Option<String>,
    last_archived_time: Option<DateTime<Utc>>,
    failed_count: i64,
    last_failed_wal: Option<String>,
    last_failed_time: Option<DateTime<Utc>>,
    stats_reset: Option<DateTime<Utc>>,
}

impl Session {
    /// Settings (those the role may read), `pg_stat_archiver` and pgaudit's presence.
    pub fn audit_facts(&mut self) -> Result<ServerFacts, UserError> {
        let target = self.target().to_string();
        self.read_only(|tx| {
            let names: Vec<String> = AUDIT_SETTINGS.iter().map(|s| s.to_string()).collect();
            // pg_settings hides archive_command from roles without pg_read_all_settings: NULL.
            let settings: Vec<(String, Option<String>)> = tx
                .fetch_all(
                    sqlx::query_as(
                        "SELECT name::text, setting::text FROM pg_settings WHERE name = ANY($1) \
                         ORDER BY name",
                    )
                    .bind(names),
                )
                .map_err(|f| f.into_user_error(&format!("{target}: reading pg_settings")))?;
            let archiver = tx
                .fetch_optional::<ArchiverRow>(sqlx::query_as(
                    "SELECT archived_count, last_archived_wal::text, last_archived_time, \
                            failed_count, last_failed_wal::text, last_failed_time, stats_reset \
                     FROM pg_stat_archiver",
                ))
                .ok()
                .flatten()
                .map(|a| ArchiverStats {
                    archived_count: a.archived_count,
                    last_archived_wal: a.last_archived_wal,
                    last_archived_time: a.last_archived_time,
                    failed_count: a.failed_count,
                    last_failed_wal: a.last_failed_wal,
                    last_failed_time: a.last_failed_time,
                    stats_reset: a.stats_reset,
                });
            let (pgaudit_installed, server_time): (bool, DateTime<Utc>) = tx
                .fetch_one(sqlx::query_as(
                    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgaudit'), now()",
                ))
                .map_err(|f| f.into_user_error(&format!("{target}: reading pg_extension")))?;
            Ok(ServerFacts {
                settings: settings
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect(),
                archiver,
                pgaudit_installed,
                server_time: Some(server_time),
            })
        })
    }
}
