//! Small hand-built evidence values for the hypothesis tests, modelled on the measured numbers
//! of pg-forensics.md and seed 002. Test-only.

use chrono::{DateTime, TimeZone, Utc};

use crate::evidence::{
    DatabaseSnapshot, DatabaseStats, EventKind, Evidence, ForeignKey, LogEvent, ServerInfo,
    SessionInfo, TableStats, Timeline, TxOutcome,
};

pub fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, h, m, s)
        .single()
        .unwrap_or_default()
}

/// A steady-state table after `VACUUM ANALYZE`: `rows` inserted, nothing else, oid = relfilenode.
pub fn table(name: &str, oid: u32, rows: i64) -> TableStats {
    let (schema, name) = name.split_once('.').unwrap_or(("public", name));
    TableStats {
        schema: schema.into(),
        name: name.into(),
        oid,
        relfilenode: oid,
        relkind: "r".into(),
        persistence: None,
        partition_parent: None,
        n_tup_ins: Some(rows),
        n_tup_upd: Some(0),
        n_tup_del: Some(0),
        n_tup_hot_upd: Some(0),
        n_live_tup: Some(rows),
        n_dead_tup: Some(0),
        n_mod_since_analyze: Some(0),
        n_ins_since_vacuum: Some(0),
        last_vacuum: Some(at(12, 0, 0)),
        last_autovacuum: None,
        last_analyze: Some(at(12, 0, 0)),
        last_autoanalyze: None,
        vacuum_count: Some(1),
        autovacuum_count: Some(0),
        analyze_count: Some(1),
        autoanalyze_count: Some(0),
        reltuples: rows as f64,
        relpages: (rows / 150).max(1),
        size_bytes: Some((rows / 150).max(1) * 8192),
        catalog_xmin_age: Some(100),
        catalog_commit_time: Some(at(11, 0, 0)),
        reloptions: Vec::new(),
    }
}

/// TRUNCATE as measured (scenario 3): live 0, del unchanged, new relfilenode, reltuples −1.
pub fn truncated(mut t: TableStats, new_rfn: u32, when: DateTime<Utc>) -> TableStats {
    t.n_live_tup = Some(0);
    t.relfilenode = new_rfn;
    t.reltuples = -1.0;
    t.relpages = 0;
    t.size_bytes = Some(0);
    t.catalog_commit_time = Some(when);
    t.catalog_xmin_age = Some(1);
    t
}

/// A committed DELETE of `k` rows (scenario 1/2): del +k, live −k, dead +k, mod +k.
pub fn deleted(mut t: TableStats, k: i64) -> TableStats {
    t.n_tup_del = Some(t.n_tup_del.unwrap_or(0) + k);
    t.n_live_tup = Some(t.n_live_tup.unwrap_or(0) - k);
    t.n_dead_tup = Some(t.n_dead_tup.unwrap_or(0) + k);
    t.n_mod_since_analyze = Some(t.n_mod_since_analyze.unwrap_or(0) + k);
    t
}

/// Every counter zeroed and every `last_*` NULL (crash, PITR, pg_stat_reset); catalog kept.
pub fn zeroed(mut t: TableStats) -> TableStats {
    for c in [
        &mut t.n_tup_ins,
        &mut t.n_tup_upd,
        &mut t.n_tup_del,
        &mut t.n_tup_hot_upd,
        &mut t.n_live_tup,
        &mut t.n_dead_tup,
        &mut t.n_mod_since_analyze,
        &mut t.n_ins_since_vacuum,
        &mut t.vacuum_count,
        &mut t.autovacuum_count,
        &mut t.analyze_count,
        &mut t.autoanalyze_count,
    ] {
        *c = Some(0);
    }
    t.last_vacuum = None;
    t.last_autovacuum = None;
    t.last_analyze = None;
    t.last_autoanalyze = None;
    t
}

/// A table created and never written (scenario 12).
pub fn empty_new(name: &str, oid: u32) -> TableStats {
    let mut t = zeroed(table(name, oid, 0));
    t.reltuples = -1.0;
    t.relpages = 0;
    t.size_bytes = Some(0);
    t
}

pub fn fk(child: &str, parent: &str, on_delete: &str) -> ForeignKey {
    ForeignKey {
        name: format!("{child}_{parent}_fkey"),
        schema: "public".into(),
        table: child.into(),
        columns: vec![format!("{parent}_id")],
        ref_schema: "public".into(),
        ref_table: parent.into(),
        ref_columns: vec!["id".into()],
        on_delete: on_delete.into(),
        on_update: "no_action".into(),
    }
}

pub fn server() -> ServerInfo {
    ServerInfo {
        version_num: 150018,
        version: "PostgreSQL 15.18".into(),
        host: "localhost".into(),
        port: 5432,
        database: "app".into(),
        user: "postgres".into(),
        current_database: None,
        datid: Some(16390),
        system_identifier: Some("7711338868751096573".into()),
        timeline_id: Some(1),
        checkpoint_time: Some(at(12, 5, 0)),
        postmaster_start_time: Some(at(9, 0, 0)),
        in_recovery: Some(false),
        server_time: at(13, 0, 0),
    }
}

pub fn snapshot(tables: Vec<TableStats>, fks: Vec<ForeignKey>) -> DatabaseSnapshot {
    DatabaseSnapshot {
        server: server(),
        database_stats: Some(DatabaseStats {
            xact_commit: 500,
            xact_rollback: 0,
            tup_returned: 0,
            tup_fetched: 0,
            tup_inserted: 0,
            tup_updated: 0,
            tup_deleted: 0,
            stats_reset: None,
        }),
        archiver: None,
        bgwriter_stats_reset: Some(at(8, 59, 58)),
        settings: [
            ("log_statement", "all"),
            ("track_commit_timestamp", "on"),
            ("archive_mode", "off"),
            ("wal_level", "replica"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        tables,
        foreign_keys: fks,
        sequences: Vec::new(),
        dropped_columns: Vec::new(),
        not_visible: Vec::new(),
    }
}

pub fn evidence(tables: Vec<TableStats>, fks: Vec<ForeignKey>) -> Evidence {
    let mut ev = Evidence::new(at(13, 0, 0));
    ev.database = Some(snapshot(tables, fks));
    ev
}

pub fn event(
    kind: EventKind,
    when: DateTime<Utc>,
    line: u32,
    text: &str,
    tables: &[&str],
) -> LogEvent {
    LogEvent {
        at: when,
        kind,
        source: format!("log:postgresql.log:{line}"),
        session: SessionInfo {
            pid: Some(25024),
            session_id: None,
            user: Some("postgres".into()),
            database: Some("app".into()),
            application: Some("psql".into()),
            host: Some("[local]".into()),
        },
        severity: Some("LOG".into()),
        sqlstate: None,
        text: text.into(),
        tables: tables.iter().map(|t| t.to_string()).collect(),
        cascade: text.to_uppercase().contains("CASCADE"),
        outcome: Some(TxOutcome::Committed),
        detail: None,
        rows: None,
        migration: None,
    }
}

pub fn with_log(mut ev: Evidence, events: Vec<LogEvent>) -> Evidence {
    ev.timeline = Some(Timeline {
        sources: Vec::new(),
        events,
        counts: Vec::new(),
        problems: Vec::new(),
    });
    ev
}

/// Scenario 4's schema before the incident: parent 1000 ← child_cascade 2000 ← grandchild
/// 2000 (both ON DELETE CASCADE); child_restrict 1000 (NO ACTION).
pub fn lab_schema() -> (Vec<TableStats>, Vec<ForeignKey>) {
    (
        vec![
            table("parent", 16607, 1000),
            table("child_cascade", 16615, 2000),
            table("grandchild", 16627, 2000),
            table("child_restrict", 16639, 1000),
        ],
        vec![
            fk("child_cascade", "parent", "cascade"),
            fk("grandchild", "child_cascade", "cascade"),
            fk("child_restrict", "parent", "no_action"),
        ],
    )
}
