//! What the database itself shows: per-table statistics and catalog facts, foreign keys, and the
//! cluster-level facts (timeline, system identifier, postmaster start, stats resets, archiver,
//! settings) that tell a real loss from a statistics artefact. See ../shared/pg-forensics.md.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A read-only snapshot of one database, taken in one READ ONLY transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseSnapshot {
    pub server: ServerInfo,
    /// `pg_stat_database` row of the connected database.
    #[serde(default)]
    pub database_stats: Option<DatabaseStats>,
    /// `pg_stat_archiver`.
    #[serde(default)]
    pub archiver: Option<ArchiverStats>,
    /// `stats_reset` of `pg_stat_bgwriter`: set by crash recovery and PITR (and at initdb).
    #[serde(default)]
    pub bgwriter_stats_reset: Option<DateTime<Utc>>,
    /// The settings that decide what the logs can show (`log_statement`, `log_line_prefix`,
    /// `log_destination`, `log_timezone`, `track_commit_timestamp`, `archive_mode`, `wal_level`, …).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Every table of every user schema, partitions included; sorted by (schema, name).
    pub tables: Vec<TableStats>,
    /// Sorted by (schema, table, name).
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    /// Sequences with their last value and the column they feed (for `verify`).
    #[serde(default)]
    pub sequences: Vec<SequenceState>,
    /// Columns dropped from a table (`pg_attribute.attisdropped`): what a `DROP COLUMN` or a
    /// `DROP TYPE … CASCADE` leaves behind while the rows themselves stay. Sorted by (schema,
    /// table, attnum).
    #[serde(default)]
    pub dropped_columns: Vec<DroppedColumn>,
    /// What the role could not read, and why (a role with only `pg_monitor`, say).
    #[serde(default)]
    pub not_visible: Vec<NotVisible>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// `server_version_num`, e.g. 150018.
    pub version_num: i32,
    /// `version()` text.
    pub version: String,
    pub host: String,
    pub port: u16,
    /// The database as the connection named it (a pooler's alias, when through one).
    pub database: String,
    pub user: String,
    /// `current_database()`: the name the server and its log use for it, which a pooler's
    /// alias need not be. Absent in evidence written before it was collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_database: Option<String>,
    /// The database's oid (`pg_database.oid`): a new one means the database was dropped and
    /// re-created (a dump/restore).
    #[serde(default)]
    pub datid: Option<u32>,
    /// `pg_control_system().system_identifier`, as a decimal string (it is a u64).
    #[serde(default)]
    pub system_identifier: Option<String>,
    /// `pg_control_checkpoint().timeline_id`.
    #[serde(default)]
    pub timeline_id: Option<i64>,
    #[serde(default)]
    pub checkpoint_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub postmaster_start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub in_recovery: Option<bool>,
    /// `now()` on the server when the snapshot was taken.
    pub server_time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseStats {
    pub xact_commit: i64,
    pub xact_rollback: i64,
    pub tup_returned: i64,
    pub tup_fetched: i64,
    pub tup_inserted: i64,
    pub tup_updated: i64,
    pub tup_deleted: i64,
    /// Set by `pg_stat_reset()` and `pg_stat_reset_single_table_counters()`; NOT by a crash or PITR.
    #[serde(default)]
    pub stats_reset: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiverStats {
    pub archived_count: i64,
    #[serde(default)]
    pub last_archived_wal: Option<String>,
    #[serde(default)]
    pub last_archived_time: Option<DateTime<Utc>>,
    pub failed_count: i64,
    #[serde(default)]
    pub last_failed_wal: Option<String>,
    #[serde(default)]
    pub last_failed_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub stats_reset: Option<DateTime<Utc>>,
}

/// One table (relkind `r` or `p`) with its cumulative statistics and catalog facts.
/// Counters are `None` where the server version lacks them or the role may not see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableStats {
    pub schema: String,
    pub name: String,
    pub oid: u32,
    pub relfilenode: u32,
    /// `r` (table) or `p` (partitioned table).
    pub relkind: String,
    /// `pg_class.relpersistence`: `p` permanent, `u` unlogged (crash recovery empties it and no
    /// replica or WAL archive holds its rows). Absent in evidence written before it was collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<String>,
    /// `schema.name` of the parent when this table is a partition.
    #[serde(default)]
    pub partition_parent: Option<String>,
    pub n_tup_ins: Option<i64>,
    pub n_tup_upd: Option<i64>,
    pub n_tup_del: Option<i64>,
    pub n_tup_hot_upd: Option<i64>,
    pub n_live_tup: Option<i64>,
    pub n_dead_tup: Option<i64>,
    pub n_mod_since_analyze: Option<i64>,
    /// PostgreSQL 13+.
    pub n_ins_since_vacuum: Option<i64>,
    pub last_vacuum: Option<DateTime<Utc>>,
    pub last_autovacuum: Option<DateTime<Utc>>,
    pub last_analyze: Option<DateTime<Utc>>,
    pub last_autoanalyze: Option<DateTime<Utc>>,
    pub vacuum_count: Option<i64>,
    pub autovacuum_count: Option<i64>,
    pub analyze_count: Option<i64>,
    pub autoanalyze_count: Option<i64>,
    /// `pg_class.reltuples`: -1 means never vacuumed/analyzed since creation or TRUNCATE.
    pub reltuples: f64,
    pub relpages: i64,
    /// `pg_relation_size()` of the main fork, bytes.
    pub size_bytes: Option<i64>,
    /// `age(pg_class.xmin)`: how many transactions ago the table's catalog row was last written
    /// (TRUNCATE, DROP+CREATE, VACUUM FULL rewrite it).
    pub catalog_xmin_age: Option<i64>,
    /// `pg_xact_commit_timestamp(pg_class.xmin)` when `track_commit_timestamp` is on.
    pub catalog_commit_time: Option<DateTime<Utc>>,
    /// `pg_class.reloptions` (`autovacuum_enabled=false`, `autovacuum_vacuum_threshold=…`),
    /// then the TOAST table's own prefixed `toast.`: they override the server's autovacuum
    /// settings for this table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reloptions: Vec<String>,
}

impl TableStats {
    /// `schema.name`, the way every other part of pgtriage names a table.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The table's name as a `RelationName` (exact catalog spelling).
    pub fn relation(&self) -> crate::evidence::RelationName {
        crate::evidence::RelationName::new(self.schema.clone(), self.name.clone())
    }
}

/// A foreign key, child → parent, with its referential actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    /// The referencing (child) table.
    pub schema: String,
    pub table: String,
    pub columns: Vec<String>,
    /// The referenced (parent) table.
    pub ref_schema: String,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `cascade`, `restrict`, `no_action`, `set_null`, `set_default`.
    pub on_delete: String,
    pub on_update: String,
}

/// A sequence and, when it is owned by a column (serial/identity), that column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceState {
    pub schema: String,
    pub name: String,
    /// `pg_sequences.last_value`; `None` before the first nextval or when not visible.
    pub last_value: Option<i64>,
    #[serde(default)]
    pub owned_by_table: Option<String>,
    #[serde(default)]
    pub owned_by_column: Option<String>,
}

/// A dropped column. PostgreSQL keeps its `pg_attribute` row (renamed
/// `........pg.dropped.N........`, type 0) and leaves the values in the heap until the table is
/// rewritten (VACUUM FULL, CLUSTER, a rewriting ALTER TABLE): pg-forensics.md rule 8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedColumn {
    pub schema: String,
    pub table: String,
    /// The column's position (`attnum`); its name is gone from the catalog.
    pub attnum: i32,
    /// `pg_xact_commit_timestamp(pg_attribute.xmin)`: when the drop committed (needs
    /// `track_commit_timestamp`).
    #[serde(default)]
    pub dropped_at: Option<DateTime<Utc>>,
}

/// Something the role could not read, and why: a gap, not a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotVisible {
    /// What was not visible, e.g. `pg_control_system()` or `settings.archive_command`.
    pub what: String,
    pub reason: String,
}

/// How pgtriage reached the database (never a password or a key): whether the session was
/// encrypted, what of the server's certificate was checked, and whether a pooler was between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSecurity {
    /// The `sslmode` asked for (libpq's default `prefer` when none was).
    pub sslmode: String,
    /// TLS was on for this session.
    pub encrypted: bool,
    /// `none` (not checked, or not encrypted), `ca` (signed by a trusted root), `full` (and the
    /// host name matched: `verify-full`).
    pub certificate_checked: String,
    /// The root certificate file the server was checked against, or `system`.
    #[serde(default)]
    pub root_certificate: Option<String>,
    /// The client certificate file presented (its path; the key is never recorded).
    #[serde(default)]
    pub client_certificate: Option<String>,
    /// TLS protocol version and cipher as the server reports them (`pg_stat_ssl`).
    #[serde(default)]
    pub tls_version: Option<String>,
    #[serde(default)]
    pub tls_cipher: Option<String>,
    /// Connected over a Unix-domain socket (never encrypted; local only).
    #[serde(default)]
    pub over_socket: bool,
    /// Set when the session went through a pooler that refused startup options, saying how
    /// read-only was kept.
    #[serde(default)]
    pub pooler: Option<String>,
    /// The connection service used (`service=NAME` and its file).
    #[serde(default)]
    pub service: Option<String>,
    /// Why the database snapshot was read on this one connection instead of beside sibling
    /// sessions sharing its exported snapshot (absent when they were used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_connection: Option<String>,
}
