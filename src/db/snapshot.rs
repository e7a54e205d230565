//! The database side of the evidence: one READ ONLY transaction, a fixed number of catalog and
//! statistics queries whatever the table count (never one per table), adapted to the server
//! version (PostgreSQL 12–18; `VERSION_GAPS` lists what older majors lack). Whatever the role may not read is recorded in `not_visible` with
//! the reason instead of failing; see ../shared/pg-forensics.md for why each field matters.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::Session;
use super::connect::{QueryFailure, ReadOnly, Sibling};
use crate::error::UserError;
use crate::evidence::{
    ArchiverStats, DatabaseSnapshot, DatabaseStats, DroppedColumn, ForeignKey, NotVisible,
    SequenceState, ServerInfo, TableStats,
};

/// Settings that decide what the logs and the catalog can show, with the first major version
/// that has them. A setting the version has but the role cannot see goes to `not_visible`.
const SETTINGS: &[(&str, i32)] = &[
    ("archive_command", 12),
    ("archive_library", 15),
    ("archive_mode", 12),
    ("autovacuum", 12),
    ("autovacuum_freeze_max_age", 12),
    ("autovacuum_naptime", 12),
    ("autovacuum_vacuum_scale_factor", 12),
    ("autovacuum_vacuum_threshold", 12),
    ("data_directory", 12),
    ("fsync", 12),
    ("full_page_writes", 12),
    ("log_autovacuum_min_duration", 12),
    ("log_checkpoints", 12),
    ("log_connections", 12),
    ("log_destination", 12),
    ("log_directory", 12),
    ("log_disconnections", 12),
    ("log_filename", 12),
    ("log_line_prefix", 12),
    ("log_min_duration_statement", 12),
    ("log_min_messages", 12),
    ("log_statement", 12),
    ("log_timezone", 12),
    ("logging_collector", 12),
    ("server_version", 12),
    ("server_version_num", 12),
    ("stats_fetch_consistency", 15),
    ("synchronous_commit", 12),
    ("TimeZone", 12),
    ("track_commit_timestamp", 12),
    ("track_counts", 12),
    ("wal_level", 12),
];

/// Settings that only a managed service defines (its own extension's GUCs): which one is set
/// tells the provider, and so where its logs and its point-in-time restore are. Read with
/// `current_setting(name, true)`, which is NULL where the setting does not exist.
const PROVIDER_SETTINGS: &[&str] = &[
    "rds.force_ssl",
    "rds.extensions",
    "rds.logical_replication",
    "cloudsql.iam_authentication",
    "cloudsql.enable_pgaudit",
    "cloudsql.logical_decoding",
    "azure.extensions",
    "azure.accepted_password_auth_method",
];

/// What older majors lack of what the snapshot reads, with the first major that has it: listed
/// under `not_visible` on a server older than that, so an empty field is never mistaken for a
/// zero. (`pg_stat_io` from 16, `pg_stat_checkpointer` from 17 and 18's new
/// `pg_stat_all_tables` columns such as `total_vacuum_time` are not read by pgtriage: nothing in
/// them tells a loss from an artefact that the counters above do not.)
const VERSION_GAPS: &[(&str, i32, &str)] = &[
    (
        "tables.n_ins_since_vacuum",
        13,
        "pg_stat_all_tables.n_ins_since_vacuum exists from PostgreSQL 13",
    ),
    (
        "settings.archive_library",
        15,
        "archive_library exists from PostgreSQL 15 (archive_command is read)",
    ),
    (
        "settings.stats_fetch_consistency",
        15,
        "stats_fetch_consistency exists from PostgreSQL 15",
    ),
    (
        "log_destination jsonlog",
        15,
        "jsonlog exists from PostgreSQL 15: read the stderr or csvlog files",
    ),
];

/// The `not_visible` entries for what `major` lacks.
fn version_gaps(major: i32) -> Vec<NotVisible> {
    VERSION_GAPS
        .iter()
        .filter(|(_, since, _)| major < *since)
        .map(|(what, since, why)| NotVisible {
            what: what.to_string(),
            reason: format!("not in PostgreSQL {major}: {why} (this server is older than {since})"),
        })
        .collect()
}

#[derive(FromRow)]
struct ServerRow {
    version: String,
    version_num: i32,
    datid: Option<i64>,
    current_database: String,
    postmaster_start_time: Option<DateTime<Utc>>,
    in_recovery: Option<bool>,
    server_time: DateTime<Utc>,
    can_stat_files: bool,
    segment_bytes: i64,
}

#[derive(FromRow)]
struct ControlRow {
    system_identifier: Option<String>,
    timeline_id: Option<i64>,
    checkpoint_time: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct DatabaseStatsRow {
    xact_commit: Option<i64>,
    xact_rollback: Option<i64>,
    tup_returned: Option<i64>,
    tup_fetched: Option<i64>,
    tup_inserted: Option<i64>,
    tup_updated: Option<i64>,
    tup_deleted: Option<i64>,
    stats_reset: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct ArchiverRow {
    archived_count: Option<i64>,
    last_archived_wal: Option<String>,
    last_archived_time: Option<DateTime<Utc>>,
    failed_count: Option<i64>,
    last_failed_wal: Option<String>,
    last_failed_time: Option<DateTime<Utc>>,
    stats_reset: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct TableRow {
    schema: String,
    name: String,
    oid: i64,
    relfilenode: i64,
    relkind: String,
    persistence: String,
    partition_parent: Option<String>,
    n_tup_ins: Option<i64>,
    n_tup_upd: Option<i64>,
    n_tup_del: Option<i64>,
    n_tup_hot_upd: Option<i64>,
    n_live_tup: Option<i64>,
    n_dead_tup: Option<i64>,
    n_mod_since_analyze: Option<i64>,
    n_ins_since_vacuum: Option<i64>,
    last_vacuum: Option<DateTime<Utc>>,
    last_autovacuum: Option<DateTime<Utc>>,
    last_analyze: Option<DateTime<Utc>>,
    last_autoanalyze: Option<DateTime<Utc>>,
    vacuum_count: Option<i64>,
    autovacuum_count: Option<i64>,
    analyze_count: Option<i64>,
    autoanalyze_count: Option<i64>,
    reltuples: f64,
    relpages: i64,
    size_bytes: Option<i64>,
    catalog_xmin_age: Option<i64>,
    catalog_commit_time: Option<DateTime<Utc>>,
    reloptions: Option<Vec<String>>,
}

#[derive(FromRow)]
struct ForeignKeyRow {
    name: String,
    schema: String,
    table: String,
    columns: Vec<String>,
    ref_schema: String,
    ref_table: String,
    ref_columns: Vec<String>,
    on_delete: String,
    on_update: String,
}

#[derive(FromRow)]
struct DroppedColumnRow {
    schema: String,
    table: String,
    attnum: i32,
    dropped_at: Option<DateTime<Utc>>,
}

/// Dropped columns of user tables. `{commit_time}` is a fixed fragment chosen by the settings.
const DROPPED_COLUMNS_SQL: &str = "\
SELECT n.nspname::text AS schema, c.relname::text AS \"table\", a.attnum::int AS attnum,
       {commit_time} AS dropped_at
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE a.attisdropped AND a.attnum > 0
   AND c.relkind IN ('r', 'p')
   AND n.nspname <> 'information_schema'
   AND n.nspname !~ '^pg_'
 ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\", a.attnum";

#[derive(FromRow)]
struct SequenceRow {
    schema: String,
    name: String,
    last_value: Option<i64>,
    readable: bool,
    owned_by_table: Option<String>,
    owned_by_column: Option<String>,
}

/// The per-table query. The counters come from the `pg_stat_get_*` functions that
/// `pg_stat_all_tables` itself calls, on `c.oid` directly: the view also sums index scans over a
/// GROUP BY of every relation and its indexes, which pgtriage never reads (on 10,000 tables that
/// aggregate was about a third of the statement's server time). Every table of pg_class has a
/// row in the view, so the values are the same. The partition parent is looked up only for a
/// partition (`CASE`, not a sub-plan started for every table) and the TOAST table's options by
/// one join of the few TOAST tables that have any, not a sub-plan per table; the rows come
/// unsorted (`sort_snapshot` orders them, bytewise as `COLLATE "C"`): the server's sort of
/// 10,000 wide rows was a tenth of the statement (issue 16: 0.20 → 0.12 s of server CPU
/// together with the file paths of [`FIRST_SEGMENT`]). `{ins_since_vacuum}`, `{size}` and `{commit_time}` are filled from
/// fixed fragments chosen by version and settings, never from input (`{size}` with its alias:
/// see [`SizeSource`]).
const TABLES_SQL: &str = "\
SELECT n.nspname::text AS schema,
       c.relname::text AS name,
       c.oid::bigint AS oid,
       c.relfilenode::bigint AS relfilenode,
       c.relkind::text AS relkind,
       c.relpersistence::text AS persistence,
       CASE WHEN c.relispartition
            THEN (SELECT pn.nspname || '.' || pc.relname
                    FROM pg_inherits i
                    JOIN pg_class pc ON pc.oid = i.inhparent
                    JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                   WHERE i.inhrelid = c.oid) END AS partition_parent,
       pg_stat_get_tuples_inserted(c.oid) AS n_tup_ins, pg_stat_get_tuples_updated(c.oid) AS n_tup_upd,
       pg_stat_get_tuples_deleted(c.oid) AS n_tup_del, pg_stat_get_tuples_hot_updated(c.oid) AS n_tup_hot_upd,
       pg_stat_get_live_tuples(c.oid) AS n_live_tup, pg_stat_get_dead_tuples(c.oid) AS n_dead_tup,
       pg_stat_get_mod_since_analyze(c.oid) AS n_mod_since_analyze,
       {ins_since_vacuum} AS n_ins_since_vacuum,
       pg_stat_get_last_vacuum_time(c.oid) AS last_vacuum, pg_stat_get_last_autovacuum_time(c.oid) AS last_autovacuum,
       pg_stat_get_last_analyze_time(c.oid) AS last_analyze, pg_stat_get_last_autoanalyze_time(c.oid) AS last_autoanalyze,
       pg_stat_get_vacuum_count(c.oid) AS vacuum_count, pg_stat_get_autovacuum_count(c.oid) AS autovacuum_count,
       pg_stat_get_analyze_count(c.oid) AS analyze_count, pg_stat_get_autoanalyze_count(c.oid) AS autoanalyze_count,
       c.reltuples::float8 AS reltuples,
       c.relpages::bigint AS relpages,
       {size},
       age(c.xmin)::bigint AS catalog_xmin_age,
       {commit_time} AS catalog_commit_time,
       array_cat(c.reloptions::text[],
                 CASE WHEN t.reloptions IS NOT NULL
                      THEN ARRAY(SELECT 'toast.' || o FROM unnest(t.reloptions) o) END)::text[] AS reloptions
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_class t ON t.oid = c.reltoastrelid AND t.reloptions IS NOT NULL
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname <> 'information_schema'
   AND n.nspname !~ '^pg_'";

/// Where `tables[].size_bytes` comes from. `pg_relation_size()` is the sum of the sizes of the
/// main fork's segment files, but it opens each table to find them: on a new connection that
/// builds a relation-cache entry per table (10,000 tables: about 450 ms of a 250 ms statement,
/// measured for issue 16). `FileStat` reads the same files' sizes with `pg_stat_file()` on
/// `pg_relation_filepath()`, which takes no lock and opens nothing: the same value, where the
/// role may execute `pg_stat_file` (a superuser; `pg_monitor` may not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SizeSource {
    /// `collect --tables-only`, or a table was locked: `size_bytes` is null.
    Skip,
    RelationSize,
    FileStat,
}

/// `{size}` for [`SizeSource::FileStat`]: for plain tables nobody holds (or waits for) an
/// AccessExclusiveLock on, the size of the first segment file; the others get
/// `pg_relation_size()`, so a locked table still waits `lock_timeout` and is reported as before.
/// A missing file makes `pg_stat_file` raise, and the statement is run again with
/// `pg_relation_size()` (which reads it as 0). A first segment of `segment_size` (1 GB by
/// default) may have more: [`MORE_SEGMENTS_SQL`] adds them. The path of a table in the
/// database's default tablespace `pg_default` is `base/<database oid>/<relfilenode>`, what
/// `pg_relation_filepath()` returns for it, built here without its catalog lookup per table (a
/// fifth of the statement's CPU on a new connection); other tablespaces and temporary tables
/// still ask `pg_relation_filepath()`.
const FIRST_SEGMENT: &str = "\
CASE WHEN c.relkind = 'r'
          AND c.oid <> ALL (ARRAY(SELECT l.relation FROM pg_locks l
                                   WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
                                     AND l.relation IS NOT NULL
                                     AND l.database = (SELECT d.oid FROM pg_database d
                                                        WHERE d.datname = current_database())))
     THEN (pg_stat_file(COALESCE(
             CASE WHEN c.reltablespace = 0 AND c.relpersistence <> 't' AND c.relfilenode <> 0
                  THEN (SELECT 'base/' || d.oid || '/' FROM pg_database d
                         WHERE d.datname = current_database()
                           AND d.dattablespace = (SELECT s.oid FROM pg_tablespace s
                                                   WHERE s.spcname = 'pg_default'))
                       || c.relfilenode END,
             pg_relation_filepath(c.oid)))).size
     ELSE pg_relation_size(c.oid) END AS size_bytes";

/// The sizes of the segments after the first (`.1`, `.2`… until one is missing, as
/// `pg_relation_size()` counts them) of the tables given (`$1`: oids whose `size_bytes` is
/// exactly `segment_size`). A statement of its own, sent even with no table so the count stays
/// fixed: inside the per-table query its estimated cost made PostgreSQL JIT-compile the whole
/// statement (60 ms of CPU on 10,000 tables for a branch that never runs). A size read by
/// `pg_relation_size()` that happens to equal `segment_size` has no further segment with data
/// in it, so adding this cannot count a table twice.
const MORE_SEGMENTS_SQL: &str = "\
WITH RECURSIVE segment(oid, path, n, bytes) AS (
     SELECT t.id, pg_relation_filepath(t.id::oid), 1,
            (pg_stat_file(pg_relation_filepath(t.id::oid) || '.1', true)).size
       FROM unnest($1::bigint[]) t(id)
     UNION ALL
     SELECT s.oid, s.path, s.n + 1, (pg_stat_file(s.path || '.' || (s.n + 1), true)).size
       FROM segment s WHERE s.bytes IS NOT NULL)
SELECT oid, COALESCE(sum(bytes), 0)::bigint AS bytes FROM segment GROUP BY oid";

/// Top-level foreign keys only (`conparentid = 0`): the copies PostgreSQL makes on each
/// partition would repeat the same rule once per partition. The column names are looked up in
/// one aggregate over the unnested keys of both sides rather than two `ARRAY(SELECT …)`
/// sub-plans per constraint (10,000 sub-plan starts on 5,000 foreign keys), and in one join of
/// `pg_attribute`, user columns only (`attnum > 0`: a key has no system column), instead of one
/// join per side: each hashed all of `pg_attribute` (193,000 rows on 10,000 tables, spilling to
/// disk), a third of the statement's CPU time (issue 16). Unsorted: `sort_snapshot` orders them.
const FOREIGN_KEYS_SQL: &str = "\
WITH fk AS MATERIALIZED (
  SELECT con.oid, con.conname, con.conrelid, con.confrelid, con.conkey, con.confkey,
         con.confdeltype, con.confupdtype
    FROM pg_constraint con
   WHERE con.contype = 'f' AND con.conparentid = 0),
keys AS MATERIALIZED (
  SELECT fk.oid, k.ord, fk.conrelid AS relid, k.attnum, false AS referenced
    FROM fk CROSS JOIN LATERAL unnest(fk.conkey) WITH ORDINALITY k(attnum, ord)
  UNION ALL
  SELECT fk.oid, k.ord, fk.confrelid, k.attnum, true
    FROM fk CROSS JOIN LATERAL unnest(fk.confkey) WITH ORDINALITY k(attnum, ord)),
cols AS (
  SELECT keys.oid,
         array_agg(a.attname::text ORDER BY keys.ord) FILTER (WHERE NOT keys.referenced) AS columns,
         array_agg(a.attname::text ORDER BY keys.ord) FILTER (WHERE keys.referenced) AS ref_columns
    FROM keys
    JOIN pg_attribute a ON a.attrelid = keys.relid AND a.attnum = keys.attnum AND a.attnum > 0
   GROUP BY keys.oid)
SELECT fk.conname::text AS name,
       cn.nspname::text AS schema,
       cc.relname::text AS \"table\",
       COALESCE(cols.columns, '{}') AS columns,
       rn.nspname::text AS ref_schema,
       rc.relname::text AS ref_table,
       COALESCE(cols.ref_columns, '{}') AS ref_columns,
       CASE fk.confdeltype WHEN 'a' THEN 'no_action' WHEN 'r' THEN 'restrict'
            WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'set_null' WHEN 'd' THEN 'set_default'
            ELSE fk.confdeltype::text END AS on_delete,
       CASE fk.confupdtype WHEN 'a' THEN 'no_action' WHEN 'r' THEN 'restrict'
            WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'set_null' WHEN 'd' THEN 'set_default'
            ELSE fk.confupdtype::text END AS on_update
  FROM fk
  JOIN pg_class cc ON cc.oid = fk.conrelid
  JOIN pg_namespace cn ON cn.oid = cc.relnamespace
  JOIN pg_class rc ON rc.oid = fk.confrelid
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
  LEFT JOIN cols ON cols.oid = fk.oid
 WHERE cn.nspname <> 'information_schema' AND cn.nspname !~ '^pg_'";

/// Reads pg_class/pg_sequence directly, with the same `last_value` expression as the
/// `pg_sequences` view (NULL without privilege), instead of the view joined back to pg_class by
/// name, and finds the owner in one lateral lookup instead of two sub-plans.
/// `last_value` is NULL both before the first nextval and when the role lacks
/// USAGE/SELECT: `readable` tells the two apart. The owning column comes from pg_depend
/// (`a` = serial's OWNED BY, `i` = identity). Unsorted: `sort_snapshot` orders them (the server's
/// sort cost 15–20 ms of 0.19 s of CPU on 5,000 sequences), and the unreadable ones are named in
/// that order.
const SEQUENCES_SQL: &str = "\
SELECT n.nspname::text AS schema,
       c.relname::text AS name,
       CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE')
            THEN pg_sequence_last_value(c.oid::regclass) END AS last_value,
       has_sequence_privilege(c.oid, 'SELECT,USAGE') AS readable,
       o.owned_by_table,
       o.owned_by_column
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_sequence sq ON sq.seqrelid = c.oid
  LEFT JOIN LATERAL (
       SELECT tn.nspname || '.' || t.relname AS owned_by_table, a.attname::text AS owned_by_column
         FROM pg_depend d
         JOIN pg_class t ON t.oid = d.refobjid
         JOIN pg_namespace tn ON tn.oid = t.relnamespace
         JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
          AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
          AND d.deptype IN ('a', 'i')
        LIMIT 1) o ON true
 WHERE c.relkind = 'S'
   AND NOT pg_is_other_temp_schema(n.oid)
   AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'";

fn as_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or_default()
}

/// Records a failed optional query as a gap.
fn gap(not_visible: &mut Vec<NotVisible>, what: &str, failure: &QueryFailure) {
    let hint = if failure.is_not_permitted() {
        " (grant pg_monitor, or connect as a superuser, to see it)"
    } else {
        ""
    };
    not_visible.push(NotVisible {
        what: what.to_string(),
        reason: format!("{}{hint}", failure.message),
    });
}

impl Session {
    /// Takes the database snapshot of the evidence (one READ ONLY transaction, about ten
    /// queries whatever the number of tables).
    pub fn snapshot(&mut self) -> Result<DatabaseSnapshot, UserError> {
        self.take_snapshot(true)
    }

    /// The scheduled-baseline snapshot (`collect --tables-only`): table counters and catalog
    /// facts plus the cluster facts, without foreign keys, sequences and table sizes.
    /// `pg_relation_size()` briefly takes (and releases) an AccessShareLock on every table, so
    /// it waits behind any AccessExclusiveLock (a migration, a paused recovery) until
    /// `lock_timeout`; the scheduled baseline skips it. (Measured on PostgreSQL 15: no user-table
    /// lock is held after the call, so 10,000 tables fit the default lock table.)
    pub fn snapshot_tables_only(&mut self) -> Result<DatabaseSnapshot, UserError> {
        self.take_snapshot(false)
    }

    fn take_snapshot(&mut self, full: bool) -> Result<DatabaseSnapshot, UserError> {
        let target = self.target().to_string();
        let endpoint = self.endpoint().clone();
        let major = self.server_version_num() / 10000;
        // The slow statements go to sibling sessions (a full snapshot only: the tables-only
        // baseline has no sizes, foreign keys or sequences, and `watch` takes it every poll).
        // They connect now, while this session reads the server facts.
        let mut single_connection: Option<String> = None;
        let mut helpers: Vec<Helper> = Vec::new();
        if full {
            for slow in SLOW {
                match Helper::start(slow, self.sibling()) {
                    Ok(h) => helpers.push(h),
                    Err(why) => single_connection = Some(why),
                }
            }
        }
        let snapshot = self.read_only(|tx| {
            // First, before anything is read: a failed export begins the transaction again.
            let exported = if helpers.is_empty() {
                None
            } else {
                match tx.export_snapshot() {
                    Ok(id) => Some(id),
                    Err(f) => {
                        single_connection = Some(format!("pg_export_snapshot() failed: {}", f.message));
                        None
                    }
                }
            };
            let mut not_visible = version_gaps(major);
            let fail = |doing: &str| {
                let doing = format!("{target}: {doing}");
                move |f: QueryFailure| f.into_user_error(&doing)
            };

            let server: ServerRow = tx
                .fetch_one(sqlx::query_as(
                    "SELECT version() AS version,
                            current_setting('server_version_num')::int AS version_num,
                            (SELECT oid::bigint FROM pg_database WHERE datname = current_database()) AS datid,
                            current_database()::text AS current_database,
                            pg_postmaster_start_time() AS postmaster_start_time,
                            pg_is_in_recovery() AS in_recovery,
                            now() AS server_time,
                            has_function_privilege('pg_catalog.pg_stat_file(text)', 'EXECUTE')
                              AND has_function_privilege('pg_catalog.pg_stat_file(text, boolean)', 'EXECUTE')
                              AS can_stat_files,
                            pg_size_bytes(current_setting('segment_size'))::bigint AS segment_bytes",
                ))
                .map_err(fail("reading the server facts"))?;

            let control = match tx.fetch_one::<ControlRow>(sqlx::query_as(
                "SELECT (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
                        (SELECT timeline_id::bigint FROM pg_control_checkpoint()) AS timeline_id,
                        (SELECT checkpoint_time FROM pg_control_checkpoint()) AS checkpoint_time",
            )) {
                Ok(row) => Some(row),
                Err(f) => {
                    gap(&mut not_visible, "pg_control_system(), pg_control_checkpoint()", &f);
                    None
                }
            };

            let database_stats = match tx.fetch_optional::<DatabaseStatsRow>(sqlx::query_as(
                "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched,
                        tup_inserted, tup_updated, tup_deleted, stats_reset
                   FROM pg_stat_database WHERE datname = current_database()",
            )) {
                Ok(row) => row.map(|r| DatabaseStats {
                    xact_commit: r.xact_commit.unwrap_or(0),
                    xact_rollback: r.xact_rollback.unwrap_or(0),
                    tup_returned: r.tup_returned.unwrap_or(0),
                    tup_fetched: r.tup_fetched.unwrap_or(0),
                    tup_inserted: r.tup_inserted.unwrap_or(0),
                    tup_updated: r.tup_updated.unwrap_or(0),
                    tup_deleted: r.tup_deleted.unwrap_or(0),
                    stats_reset: r.stats_reset,
                }),
                Err(f) => {
                    gap(&mut not_visible, "pg_stat_database", &f);
                    None
                }
            };

            let archiver = match tx.fetch_optional::<ArchiverRow>(sqlx::query_as(
                "SELECT archived_count, last_archived_wal, last_archived_time,
                        failed_count, last_failed_wal, last_failed_time, stats_reset
                   FROM pg_stat_archiver",
            )) {
                Ok(row) => row.map(|r| ArchiverStats {
                    archived_count: r.archived_count.unwrap_or(0),
                    last_archived_wal: r.last_archived_wal,
                    last_archived_time: r.last_archived_time,
                    failed_count: r.failed_count.unwrap_or(0),
                    last_failed_wal: r.last_failed_wal,
                    last_failed_time: r.last_failed_time,
                    stats_reset: r.stats_reset,
                }),
                Err(f) => {
                    gap(&mut not_visible, "pg_stat_archiver", &f);
                    None
                }
            };

            // pg_stat_bgwriter keeps its own stats_reset in every version 12–17 (17 moved the
            // checkpoint counters to pg_stat_checkpointer, not this column).
            let bgwriter_stats_reset = match tx.fetch_optional::<(Option<DateTime<Utc>>,)>(
                sqlx::query_as("SELECT stats_reset FROM pg_stat_bgwriter"),
            ) {
                Ok(row) => row.and_then(|r| r.0),
                Err(f) => {
                    gap(&mut not_visible, "pg_stat_bgwriter", &f);
                    None
                }
            };

            let names: Vec<String> = SETTINGS
                .iter()
                .filter(|(_, since)| major >= *since)
                .map(|(n, _)| n.to_string())
                .collect();
            let mut settings = BTreeMap::new();
            match tx.fetch_all::<(String, String)>(
                sqlx::query_as(
                    "SELECT name::text, setting::text FROM pg_settings WHERE name = ANY($1) ORDER BY 1",
                )
                .bind(&names),
            ) {
                Ok(rows) => {
                    settings.extend(rows);
                    let hidden: Vec<&str> = names
                        .iter()
                        .filter(|n| !settings.contains_key(n.as_str()))
                        .map(|n| n.as_str())
                        .collect();
                    for name in hidden {
                        not_visible.push(NotVisible {
                            what: format!("settings.{name}"),
                            reason: "not shown to this role (pg_read_all_settings or pg_monitor shows it)"
                                .to_string(),
                        });
                    }
                }
                Err(f) => gap(&mut not_visible, "pg_settings", &f),
            }
            // A statement of its own: current_setting() raises for a superuser-only setting a
            // role may not read, and that must cost only the provider's settings.
            match tx.fetch_all::<(String, String)>(
                sqlx::query_as(
                    "SELECT n, current_setting(n, true) FROM unnest($1::text[]) n \
                     WHERE current_setting(n, true) IS NOT NULL ORDER BY 1",
                )
                .bind(PROVIDER_SETTINGS),
            ) {
                Ok(rows) => settings.extend(rows),
                Err(f) => gap(&mut not_visible, "provider settings (rds.*, cloudsql.*, azure.*)", &f),
            }

            let commit_ts_on = settings.get("track_commit_timestamp").map(String::as_str) == Some("on");
            let sizes = match (full, server.can_stat_files) {
                (false, _) => SizeSource::Skip,
                (true, false) => SizeSource::RelationSize,
                (true, true) => SizeSource::FileStat,
            };
            let asked = Instant::now();
            let mut waiting = Vec::new();
            match &exported {
                Some(id) => {
                    for h in helpers.drain(..) {
                        let job = Job {
                            snapshot: id.clone(),
                            major,
                            commit_ts_on,
                            sizes,
                            segment_bytes: server.segment_bytes,
                        };
                        // A sibling that could not connect has already said why, and
                        // hung up: its answer is that reason.
                        let _ = h.jobs.send(job);
                        waiting.push(h);
                    }
                }
                // Dropping them tells the siblings there is no work.
                None => helpers.clear(),
            }
            // This session's own last statement while the siblings work.
            let mut dropped_not_visible = Vec::new();
            let dropped_columns = if full {
                read_dropped_columns(tx, commit_ts_on, &mut dropped_not_visible)
            } else {
                Vec::new()
            };
            let mut answers: Vec<(Slow, Answer)> =
                waiting.into_iter().map(|h| (h.slow, h.answer(asked))).collect();
            let mut take = |slow: Slow| match answers.iter().position(|(s, _)| *s == slow) {
                Some(i) => match answers.swap_remove(i).1 {
                    Ok(part) => Some(part),
                    Err(why) => {
                        single_connection.get_or_insert(format!("{slow:?}: {why}"));
                        None
                    }
                },
                None => None,
            };
            // Each answer, or this session reads it (the same statement, the same snapshot);
            // the gaps in the order the statements had on one connection.
            let tables = match take(Slow::Tables) {
                Some((Part::Tables(t), gaps)) => {
                    not_visible.extend(gaps);
                    t
                }
                _ => read_tables(tx, major, commit_ts_on, sizes, server.segment_bytes, &mut not_visible)
                    .map_err(fail("reading the table statistics"))?,
            };
            let foreign_keys = match (full, take(Slow::ForeignKeys)) {
                (false, _) => Vec::new(),
                (true, Some((Part::ForeignKeys(f), gaps))) => {
                    not_visible.extend(gaps);
                    f
                }
                (true, _) => read_foreign_keys(tx, &mut not_visible),
            };
            let sequences = match (full, take(Slow::Sequences)) {
                (false, _) => Vec::new(),
                (true, Some((Part::Sequences(q), gaps))) => {
                    not_visible.extend(gaps);
                    q
                }
                (true, _) => read_sequences(tx, &mut not_visible),
            };
            not_visible.extend(dropped_not_visible);

            let (system_identifier, timeline_id, checkpoint_time) = match control {
                Some(c) => (c.system_identifier, c.timeline_id, c.checkpoint_time),
                None => (None, None, None),
            };
            let mut snapshot = DatabaseSnapshot {
                server: ServerInfo {
                    version_num: server.version_num,
                    version: server.version,
                    host: endpoint.host.clone(),
                    port: endpoint.port,
                    database: endpoint.database.clone(),
                    user: endpoint.user.clone(),
                    current_database: Some(server.current_database.clone()),
                    datid: server.datid.map(as_u32),
                    system_identifier,
                    timeline_id,
                    checkpoint_time,
                    postmaster_start_time: server.postmaster_start_time,
                    in_recovery: server.in_recovery,
                    server_time: server.server_time,
                },
                database_stats,
                archiver,
                bgwriter_stats_reset,
                settings,
                tables,
                foreign_keys,
                sequences,
                dropped_columns,
                not_visible,
            };
            sort_snapshot(&mut snapshot);
            Ok(snapshot)
        });
        if let Some(why) = single_connection {
            self.note_single_connection(why);
        }
        snapshot
    }
}

/// Same input, same bytes: the slow statements return their rows unsorted, and the order is
/// this one, bytewise (what `COLLATE "C"` gave), never the server's.
fn sort_snapshot(s: &mut DatabaseSnapshot) {
    s.tables
        .sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    s.foreign_keys
        .sort_by(|a, b| (&a.schema, &a.table, &a.name).cmp(&(&b.schema, &b.table, &b.name)));
    s.sequences
        .sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    s.dropped_columns
        .sort_by(|a, b| (&a.schema, &a.table, a.attnum).cmp(&(&b.schema, &b.table, b.attnum)));
    s.not_visible.sort_by(|a, b| a.what.cmp(&b.what));
}

/// The per-table query, with fallbacks that keep the rest: sizes by `pg_relation_size()` when
/// reading the files failed (the same values), without sizes when a table is locked (a paused
/// recovery holds AccessExclusiveLock on tables it was truncating: pg-forensics.md 11b), and
/// without the commit time when it cannot be read.
fn read_tables(
    tx: &mut ReadOnly<'_>,
    major: i32,
    commit_ts_on: bool,
    sizes: SizeSource,
    segment_bytes: i64,
    not_visible: &mut Vec<NotVisible>,
) -> Result<Vec<TableStats>, QueryFailure> {
    let mut size = sizes;
    let mut with_commit_time = commit_ts_on;
    loop {
        let sql = tables_sql(major, size, with_commit_time);
        match tx.fetch_all::<TableRow>(sqlx::query_as(sqlx::AssertSqlSafe(sql))) {
            Ok(rows) => {
                let mut tables: Vec<TableStats> = rows.into_iter().map(table_stats).collect();
                if size == SizeSource::FileStat {
                    let full: Vec<i64> = tables
                        .iter()
                        .filter(|t| t.size_bytes == Some(segment_bytes))
                        .map(|t| i64::from(t.oid))
                        .collect();
                    match tx.fetch_all::<(i64, i64)>(sqlx::query_as(MORE_SEGMENTS_SQL).bind(full)) {
                        Ok(more) => {
                            let more: BTreeMap<i64, i64> = more.into_iter().collect();
                            for t in &mut tables {
                                if let (Some(bytes), Some(extra)) =
                                    (t.size_bytes.as_mut(), more.get(&i64::from(t.oid)))
                                {
                                    *bytes += extra;
                                }
                            }
                        }
                        Err(_) => {
                            size = SizeSource::RelationSize;
                            continue;
                        }
                    }
                }
                return Ok(tables);
            }
            Err(f) if size != SizeSource::Skip && f.is_lock_timeout() => {
                not_visible.push(NotVisible {
                    what: "tables.size_bytes".to_string(),
                    reason: format!(
                        "{} (a table is locked, e.g. by a paused recovery; sizes left out)",
                        f.message
                    ),
                });
                size = SizeSource::Skip;
            }
            Err(_) if size == SizeSource::FileStat => size = SizeSource::RelationSize,
            Err(f) if with_commit_time => {
                not_visible.push(NotVisible {
                    what: "tables.catalog_commit_time".to_string(),
                    reason: f.message.clone(),
                });
                with_commit_time = false;
            }
            Err(f) => return Err(f),
        }
    }
}

/// Foreign keys; a failure is a gap.
fn read_foreign_keys(tx: &mut ReadOnly<'_>, not_visible: &mut Vec<NotVisible>) -> Vec<ForeignKey> {
    match tx.fetch_all::<ForeignKeyRow>(sqlx::query_as(FOREIGN_KEYS_SQL)) {
        Ok(rows) => rows
            .into_iter()
            .map(|r| ForeignKey {
                name: r.name,
                schema: r.schema,
                table: r.table,
                columns: r.columns,
                ref_schema: r.ref_schema,
                ref_table: r.ref_table,
                ref_columns: r.ref_columns,
                on_delete: r.on_delete,
                on_update: r.on_update,
            })
            .collect(),
        Err(f) => {
            gap(not_visible, "foreign keys (pg_constraint)", &f);
            Vec::new()
        }
    }
}

/// Sequences with their last values; the ones the role may not read are named, a failure is a
/// gap.
fn read_sequences(tx: &mut ReadOnly<'_>, not_visible: &mut Vec<NotVisible>) -> Vec<SequenceState> {
    match tx.fetch_all::<SequenceRow>(sqlx::query_as(SEQUENCES_SQL)) {
        Ok(rows) => {
            let mut unreadable: Vec<(&str, &str)> = rows
                .iter()
                .filter(|r| !r.readable)
                .map(|r| (r.schema.as_str(), r.name.as_str()))
                .collect();
            unreadable.sort_unstable();
            let unreadable: Vec<String> = unreadable
                .into_iter()
                .map(|(schema, name)| format!("{schema}.{name}"))
                .collect();
            if !unreadable.is_empty() {
                not_visible.push(NotVisible {
                    what: format!("sequences.last_value of {}", unreadable.join(", ")),
                    reason: "the role has no SELECT or USAGE on them".to_string(),
                });
            }
            rows.into_iter()
                .map(|r| SequenceState {
                    schema: r.schema,
                    name: r.name,
                    last_value: r.last_value,
                    owned_by_table: r.owned_by_table,
                    owned_by_column: r.owned_by_column,
                })
                .collect()
        }
        Err(f) => {
            gap(not_visible, "sequences (pg_sequences)", &f);
            Vec::new()
        }
    }
}

/// The three statements that take nearly all of a full snapshot's time on many tables (issue
/// 16: the per-table functions, the foreign keys' column names, each sequence opened). Each
/// runs on a sibling session inside the main transaction's exported snapshot, so they overlap
/// one another and the main session's own statements, and read exactly what it would have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slow {
    Tables,
    ForeignKeys,
    Sequences,
}

const SLOW: [Slow; 3] = [Slow::Tables, Slow::ForeignKeys, Slow::Sequences];

/// How long the main session waits for a sibling to have imported the snapshot before it runs
/// the statement itself: a pooler with no free server connection would otherwise keep the
/// sibling waiting while the main transaction holds one.
const IMPORT_WAIT: Duration = Duration::from_secs(3);

/// What a sibling is asked to read.
struct Job {
    snapshot: String,
    major: i32,
    commit_ts_on: bool,
    sizes: SizeSource,
    segment_bytes: i64,
}

enum Part {
    Tables(Vec<TableStats>),
    ForeignKeys(Vec<ForeignKey>),
    Sequences(Vec<SequenceState>),
}

/// What a sibling read, with the gaps it recorded; `Err` says why it could not (then the main
/// session reads it).
type Answer = Result<(Part, Vec<NotVisible>), String>;

enum Event {
    /// The sibling is in the snapshot: its answer will come.
    Imported,
    /// Its [`Answer`].
    Done(Answer),
}

/// A sibling session on its own thread, connecting as soon as it is started.
struct Helper {
    slow: Slow,
    jobs: mpsc::Sender<Job>,
    events: mpsc::Receiver<Event>,
    thread: std::thread::JoinHandle<()>,
}

impl Helper {
    fn start(slow: Slow, sibling: Sibling) -> Result<Helper, String> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (event_tx, events) = mpsc::channel::<Event>();
        let thread = std::thread::Builder::new()
            .name(format!("snapshot-{slow:?}"))
            .spawn(move || {
                let mut session = match sibling.connect() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = event_tx.send(Event::Done(Err(e.message().to_string())));
                        return;
                    }
                };
                // No job: the main session could not export its snapshot, or is done.
                let Ok(job) = job_rx.recv() else { return };
                let done = session.read_only_in_snapshot(&job.snapshot, |tx| {
                    let _ = event_tx.send(Event::Imported);
                    let mut not_visible = Vec::new();
                    let part = match slow {
                        Slow::Tables => Part::Tables(
                            read_tables(
                                tx,
                                job.major,
                                job.commit_ts_on,
                                job.sizes,
                                job.segment_bytes,
                                &mut not_visible,
                            )
                            .map_err(|f| UserError::new(f.message))?,
                        ),
                        Slow::ForeignKeys => {
                            Part::ForeignKeys(read_foreign_keys(tx, &mut not_visible))
                        }
                        Slow::Sequences => Part::Sequences(read_sequences(tx, &mut not_visible)),
                    };
                    Ok((part, not_visible))
                });
                let _ = event_tx.send(Event::Done(done.map_err(|e| e.message().to_string())));
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        Ok(Helper {
            slow,
            jobs,
            events,
            thread,
        })
    }

    /// The sibling's answer, or why there is none: not imported within [`IMPORT_WAIT`] of
    /// `asked`, or failed. A sibling given up on is left to end on its own (its import fails
    /// once the main transaction is over).
    fn answer(self, asked: Instant) -> Answer {
        let wait = IMPORT_WAIT.saturating_sub(asked.elapsed());
        let answer = match self.events.recv_timeout(wait) {
            Ok(Event::Imported) => match self.events.recv() {
                Ok(Event::Done(done)) => done,
                Ok(Event::Imported) | Err(_) => {
                    Err("the sibling session ended without an answer".to_string())
                }
            },
            Ok(Event::Done(done)) => done,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "a sibling session had not imported the snapshot {}s after it was asked (a pooler without a free server connection?)",
                    IMPORT_WAIT.as_secs()
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err("the sibling session ended without an answer".to_string())
            }
        };
        // It has sent its last word: let it close its connection properly.
        let _ = self.thread.join();
        answer
    }
}

/// Dropped columns, with the drop's commit time when `track_commit_timestamp` allows it; a
/// failure is a gap, never the end of the snapshot.
fn read_dropped_columns(
    tx: &mut ReadOnly<'_>,
    commit_ts_on: bool,
    not_visible: &mut Vec<NotVisible>,
) -> Vec<DroppedColumn> {
    let fragments: &[&str] = if commit_ts_on {
        &["pg_xact_commit_timestamp(a.xmin)", "NULL::timestamptz"]
    } else {
        &["NULL::timestamptz"]
    };
    for (i, commit_time) in fragments.iter().enumerate() {
        let sql = DROPPED_COLUMNS_SQL.replace("{commit_time}", commit_time);
        match tx.fetch_all::<DroppedColumnRow>(sqlx::query_as(sqlx::AssertSqlSafe(sql))) {
            Ok(rows) => {
                return rows
                    .into_iter()
                    .map(|r| DroppedColumn {
                        schema: r.schema,
                        table: r.table,
                        attnum: r.attnum,
                        dropped_at: r.dropped_at,
                    })
                    .collect();
            }
            Err(f) if i + 1 < fragments.len() => gap(not_visible, "dropped_columns.dropped_at", &f),
            Err(f) => gap(not_visible, "dropped columns (pg_attribute)", &f),
        }
    }
    Vec::new()
}

/// The per-table query for a server major version (`n_ins_since_vacuum` exists from 13), a
/// size source and whether the commit time can be read.
fn tables_sql(major: i32, size: SizeSource, with_commit_time: bool) -> String {
    let ins_since_vacuum = if major >= 13 {
        "pg_stat_get_ins_since_vacuum(c.oid)"
    } else {
        "NULL::bigint"
    };
    let size_column = match size {
        SizeSource::Skip => "NULL::bigint AS size_bytes",
        SizeSource::RelationSize => "pg_relation_size(c.oid) AS size_bytes",
        SizeSource::FileStat => FIRST_SEGMENT,
    };
    let commit_time = if with_commit_time {
        "pg_xact_commit_timestamp(c.xmin)"
    } else {
        "NULL::timestamptz"
    };
    TABLES_SQL
        .replace("{ins_since_vacuum}", ins_since_vacuum)
        .replace("{size}", size_column)
        .replace("{commit_time}", commit_time)
}

fn table_stats(r: TableRow) -> TableStats {
    TableStats {
        schema: r.schema,
        name: r.name,
        oid: as_u32(r.oid),
        relfilenode: as_u32(r.relfilenode),
        relkind: r.relkind,
        persistence: Some(r.persistence),
        partition_parent: r.partition_parent,
        n_tup_ins: r.n_tup_ins,
        n_tup_upd: r.n_tup_upd,
        n_tup_del: r.n_tup_del,
        n_tup_hot_upd: r.n_tup_hot_upd,
        n_live_tup: r.n_live_tup,
        n_dead_tup: r.n_dead_tup,
        n_mod_since_analyze: r.n_mod_since_analyze,
        n_ins_since_vacuum: r.n_ins_since_vacuum,
        last_vacuum: r.last_vacuum,
        last_autovacuum: r.last_autovacuum,
        last_analyze: r.last_analyze,
        last_autoanalyze: r.last_autoanalyze,
        vacuum_count: r.vacuum_count,
        autovacuum_count: r.autovacuum_count,
        analyze_count: r.analyze_count,
        autoanalyze_count: r.autoanalyze_count,
        reltuples: r.reltuples,
        relpages: r.relpages,
        size_bytes: r.size_bytes,
        catalog_xmin_age: r.catalog_xmin_age,
        catalog_commit_time: r.catalog_commit_time,
        reloptions: r.reloptions.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_sql_adapts_to_the_version_and_the_fallbacks() {
        let pg12 = tables_sql(12, SizeSource::RelationSize, true);
        assert!(
            pg12.contains("NULL::bigint AS n_ins_since_vacuum"),
            "{pg12}"
        );
        assert!(pg12.contains("pg_relation_size(c.oid) AS size_bytes"));
        assert!(pg12.contains("pg_xact_commit_timestamp(c.xmin) AS catalog_commit_time"));
        let pg17 = tables_sql(17, SizeSource::Skip, false);
        assert!(pg17.contains("pg_stat_get_ins_since_vacuum(c.oid) AS n_ins_since_vacuum"));
        assert!(pg17.contains("NULL::bigint AS size_bytes"));
        assert!(pg17.contains("NULL::timestamptz AS catalog_commit_time"));
        assert!(!pg17.contains('{'), "unfilled placeholder: {pg17}");
        let files = tables_sql(16, SizeSource::FileStat, true);
        assert!(
            files.contains("THEN (SELECT 'base/' || d.oid || '/' FROM pg_database d")
                && files.contains("pg_relation_filepath(c.oid)))).size"),
            "{files}"
        );
        assert!(
            files.contains("ELSE pg_relation_size(c.oid) END AS size_bytes"),
            "{files}"
        );
        assert!(!files.contains('{'), "unfilled placeholder: {files}");
    }

    #[test]
    fn what_older_versions_lack_is_named() {
        let gaps: Vec<String> = version_gaps(12).into_iter().map(|g| g.what).collect();
        assert!(gaps.contains(&"tables.n_ins_since_vacuum".to_string()));
        assert!(gaps.contains(&"log_destination jsonlog".to_string()));
        assert!(version_gaps(15).is_empty());
        assert!(version_gaps(18).is_empty());
        let gaps14: Vec<String> = version_gaps(14).into_iter().map(|g| g.what).collect();
        assert!(!gaps14.contains(&"tables.n_ins_since_vacuum".to_string()));
    }

    #[test]
    fn settings_of_newer_versions_are_not_asked_of_older_ones() {
        let asked_of_12: Vec<&str> = SETTINGS
            .iter()
            .filter(|(_, since)| 12 >= *since)
            .map(|(n, _)| *n)
            .collect();
        assert!(!asked_of_12.contains(&"archive_library"));
        assert!(!asked_of_12.contains(&"stats_fetch_consistency"));
        assert!(asked_of_12.contains(&"log_statement"));
    }
}
