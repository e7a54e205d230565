//! What the server logs witnessed, classified into forensic events. Filled by `logs/`, read by
//! `analysis/` and `report/`. Every event carries `source` = `log:FILE:LINE`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The timeline of one or more server logs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Timeline {
    /// One per log file read, in the order they were merged.
    pub sources: Vec<LogSource>,
    /// Forensically interesting events, sorted by (`at`, `source`).
    pub events: Vec<LogEvent>,
    /// Statements that are not interesting one by one, counted per minute, table and kind.
    #[serde(default)]
    pub counts: Vec<StatementCount>,
    /// Lines that could not be read (garbage, binary, bad encoding, truncated), per file.
    #[serde(default)]
    pub problems: Vec<LogProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSource {
    pub path: String,
    /// `stderr`, `csvlog`, `jsonlog`, `syslog`, `rds`, `cloudsql`.
    pub format: String,
    /// The `log_line_prefix` used (given or inferred), for stderr-like formats.
    #[serde(default)]
    pub line_prefix: Option<String>,
    /// `plain`, `gzip`, `zstd`, `bzip2`, `xz`.
    pub compression: String,
    #[serde(default)]
    pub sha256: Option<String>,
    pub bytes: u64,
    pub lines: u64,
    #[serde(default)]
    pub first_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_at: Option<DateTime<Utc>>,
    /// With `--since/--until` on a plain file, the part of it that was read (bisected on its
    /// timestamps) and its SHA-256: what was examined. `sha256` is then `None` unless
    /// `--hash-all`, and event sources read `log:FILE@START:N` (the Nth line from byte START).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_range: Option<ReadRange>,
}

/// Bytes `start..end` of a log file (end exclusive), as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRange {
    pub start: u64,
    pub end: u64,
    /// SHA-256 of exactly those bytes (`dd if=FILE iflag=skip_bytes,count_bytes skip=START
    /// count=END-START | sha256sum`).
    pub sha256: String,
    /// Lines in the range.
    pub lines: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogProblem {
    pub path: String,
    /// First line the problem was seen on (1-based); `None` for a whole-file problem.
    #[serde(default)]
    pub line: Option<u64>,
    /// How many lines were affected.
    pub count: u64,
    pub message: String,
}

/// The session an event happened in, as far as the log line says.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionInfo {
    #[serde(default)]
    pub pid: Option<i32>,
    /// `%c` session id, when logged.
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub application: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
}

/// Stable event kinds (their JSON spelling is the snake_case name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    // Destructive statements.
    Truncate,
    /// `DELETE` with a `WHERE`.
    Delete,
    /// `DELETE` without a `WHERE`: every row.
    DeleteAll,
    /// `UPDATE` without a `WHERE`.
    UpdateAll,
    DropTable,
    DropSchema,
    DropType,
    DropDatabase,
    DropOwned,
    DropColumn,
    /// Other DDL (CREATE TABLE, ALTER …, CREATE DATABASE).
    Ddl,
    /// Bulk `INSERT … SELECT` / `COPY … FROM` into a table (re-imports, restores).
    BulkLoad,
    // Transactions.
    Begin,
    Commit,
    Rollback,
    // Errors (`ERROR`, `FATAL`, `PANIC`), with SQLSTATE when logged.
    Error,
    // Server lifecycle.
    ServerStart,
    ShutdownRequest,
    ServerShutdown,
    /// A backend crashed (`terminated by signal`) or an immediate shutdown.
    Crash,
    /// `database system was not properly shut down; automatic recovery in progress`.
    CrashRecovery,
    /// `starting point-in-time recovery to …`, `starting archive recovery`.
    RecoveryStart,
    /// `recovery stopping before/after …`.
    RecoveryStop,
    /// `last completed transaction was at log time …`.
    LastCompletedTransaction,
    /// `selected new timeline ID: N`.
    NewTimeline,
    /// `received promote request`, `archive recovery complete`.
    Promotion,
    ReadyToAcceptConnections,
    // Maintenance.
    Autovacuum,
    Autoanalyze,
    Checkpoint,
    // Sessions.
    Connection,
    Disconnection,
    /// A session of `pg_dump`, `pg_restore`, `psql`, … recognised by application name.
    ToolSession,
    /// `SELECT pg_stat_reset…()`.
    StatsReset,
    /// A pgaudit `AUDIT:` line.
    Audit,
    /// A migration tool recording a version (alembic_version, schema_migrations, …).
    MigrationBookkeeping,
    /// A line without a prefix (a `restore_command`'s output, `pg_ctl`), kept as it was.
    Raw,
    Other,
}

impl EventKind {
    /// The statements that remove rows, columns or objects: where an incident's loss is looked
    /// for (the WAL window, the story's links, the timeline diagram's key instants).
    pub const DESTRUCTIVE: [EventKind; 10] = [
        EventKind::Truncate,
        EventKind::Delete,
        EventKind::DeleteAll,
        EventKind::UpdateAll,
        EventKind::DropTable,
        EventKind::DropSchema,
        EventKind::DropType,
        EventKind::DropDatabase,
        EventKind::DropOwned,
        EventKind::DropColumn,
    ];

    pub fn is_destructive(self) -> bool {
        Self::DESTRUCTIVE.contains(&self)
    }

    /// `is_destructive` on the JSON spelling (the report's rows carry the kind as text).
    pub fn is_destructive_name(kind: &str) -> bool {
        use serde::de::IntoDeserializer;
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            kind.into_deserializer();
        EventKind::deserialize(de).is_ok_and(EventKind::is_destructive)
    }
}

/// How the transaction a statement ran in ended, reconstructed per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxOutcome {
    Committed,
    RolledBack,
    /// An ERROR inside the transaction (or the statement itself failed).
    Aborted,
    /// The log ends (or the session disconnects) before the transaction is seen to end.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvent {
    /// UTC.
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    /// `log:FILE:LINE`.
    pub source: String,
    #[serde(default)]
    pub session: SessionInfo,
    /// `LOG`, `ERROR`, `FATAL`, …
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub sqlstate: Option<String>,
    /// The statement, or the message.
    pub text: String,
    /// Tables the event touches, `schema.name` when the log qualified them, else the bare name.
    #[serde(default)]
    pub tables: Vec<String>,
    /// `CASCADE` was given (TRUNCATE/DROP).
    #[serde(default)]
    pub cascade: bool,
    #[serde(default)]
    pub outcome: Option<TxOutcome>,
    /// DETAIL/HINT/CONTEXT lines attached to the entry.
    #[serde(default)]
    pub detail: Option<String>,
    /// Rows the event affected when the log says (autovacuum `tuples: N removed`).
    #[serde(default)]
    pub rows: Option<i64>,
    /// For `MigrationBookkeeping`: the tool and the version/revision recorded.
    #[serde(default)]
    pub migration: Option<MigrationMark>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationMark {
    /// `alembic`, `django`, `rails`, `flyway`, `knex`, `sqlx`, `goose`, `prisma`, …
    pub tool: String,
    pub version: String,
}

/// Uninteresting statements, counted instead of kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementCount {
    /// The minute, UTC.
    pub minute: DateTime<Utc>,
    #[serde(default)]
    pub table: Option<String>,
    /// `select`, `insert`, `update`, `delete`, `other`.
    pub kind: String,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON spelling and the kind agree on which statements are destructive.
    #[test]
    fn destructive_kinds_by_name() {
        for kind in EventKind::DESTRUCTIVE {
            let name = serde_json::to_value(kind).unwrap();
            assert!(
                EventKind::is_destructive_name(name.as_str().unwrap()),
                "{kind:?}"
            );
        }
        for name in [
            "ddl",
            "rollback",
            "bulk_load",
            "wal_delete",
            "",
            "DROP_TABLE",
            "drop table",
        ] {
            assert!(!EventKind::is_destructive_name(name), "{name}");
        }
    }
}
