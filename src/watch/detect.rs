//! The detector: what changed between two successive snapshots of the same database that
//! means rows were lost (or the evidence of a loss was). Pure functions over
//! `evidence::DatabaseSnapshot`; the rules follow ../shared/pg-forensics.md (TRUNCATE changes
//! the relfilenode and leaves `reltuples = -1`, `relpages = 0`; DROP+CREATE gives a new oid;
//! a DELETE moves rows from live to dead; a reset, a crash or a restore makes counters go
//! backwards).

use std::collections::HashMap;

use serde::Serialize;

use crate::evidence::{DatabaseSnapshot, TableStats};

/// When a fall of `n_live_tup` is a loss rather than ordinary deletes: both must hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// At least this many rows gone from one table between two polls.
    pub min_rows: i64,
    /// And at least this percentage of the table's live rows.
    pub min_percent: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_rows: 1000,
            min_percent: 30.0,
        }
    }
}

/// What one event is. The JSON spelling is the snake_case name (a public contract, README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchEventKind {
    /// Same oid, new relfilenode, and the rows are gone.
    Truncate,
    /// Live rows fell past the thresholds while deletes (and dead rows) rose.
    Delete,
    /// Live rows fell past the thresholds without deletes counted (a statistics artefact, or
    /// rows removed in a way the counters did not see).
    RowsFell,
    /// A table is no longer in the catalog.
    TableDropped,
    /// A table of the same name is back with a new oid (DROP + CREATE).
    TableRecreated,
    /// `pg_stat_database.stats_reset` moved: `pg_stat_reset()` (or a single-table reset).
    StatsReset,
    /// Counters went backwards without a reset being recorded.
    CountersBackwards,
    /// `pg_postmaster_start_time()` moved: the server restarted (crash or not).
    ServerRestart,
    /// `pg_control_checkpoint().timeline_id` moved: a promotion or a point-in-time restore.
    NewTimeline,
    /// `pg_control_system().system_identifier` changed: another cluster answers (failover to a
    /// rebuilt replica, a restore from a base backup of another cluster).
    NewSystemIdentifier,
    /// The database's oid changed: it was dropped and created again (a dump/restore).
    DatabaseRecreated,
    /// A destructive statement was written to the server log (`--log`).
    DestructiveStatement,
}

impl WatchEventKind {
    pub fn name(self) -> &'static str {
        match self {
            WatchEventKind::Truncate => "truncate",
            WatchEventKind::Delete => "delete",
            WatchEventKind::RowsFell => "rows_fell",
            WatchEventKind::TableDropped => "table_dropped",
            WatchEventKind::TableRecreated => "table_recreated",
            WatchEventKind::StatsReset => "stats_reset",
            WatchEventKind::CountersBackwards => "counters_backwards",
            WatchEventKind::ServerRestart => "server_restart",
            WatchEventKind::NewTimeline => "new_timeline",
            WatchEventKind::NewSystemIdentifier => "new_system_identifier",
            WatchEventKind::DatabaseRecreated => "database_recreated",
            WatchEventKind::DestructiveStatement => "destructive_statement",
        }
    }
}

/// One thing the watch noticed. Fields that do not apply are `None` (left out of the JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchEvent {
    pub kind: WatchEventKind,
    /// `schema.name`, for table events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The table's oid now (or, when it is gone, before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_before: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_after: Option<i64>,
    /// One sentence: what was seen, with the numbers.
    pub detail: String,
    /// For `destructive_statement`: the statement's kind in the log timeline's spelling
    /// (`truncate`, `drop_table`, `delete_all`, …), the statement, its session's pid, and
    /// `log:FILE:LINE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl WatchEvent {
    pub fn new(kind: WatchEventKind, detail: String) -> WatchEvent {
        WatchEvent {
            kind,
            table: None,
            oid: None,
            rows_before: None,
            rows_after: None,
            detail,
            statement_kind: None,
            statement: None,
            pid: None,
            source: None,
        }
    }

    fn on_table(kind: WatchEventKind, t: &TableStats, detail: String) -> WatchEvent {
        let mut e = WatchEvent::new(kind, detail);
        e.table = Some(t.qualified_name());
        e.oid = Some(t.oid);
        e
    }
}

/// Rows a table held as far as the snapshot can tell: the live-row counter, or the planner's
/// estimate when the counters are empty (after a reset or a crash).
fn rows_of(t: &TableStats) -> i64 {
    let live = t.n_live_tup.unwrap_or(0);
    let estimate = if t.reltuples > 0.0 {
        t.reltuples as i64
    } else {
        0
    };
    live.max(estimate)
}

/// TRUNCATE leaves an empty new file whose size is not yet estimated (`reltuples = -1` from 14,
/// `0` before) and no pages; VACUUM FULL/CLUSTER also change the relfilenode but keep both.
fn emptied_by_rewrite(t: &TableStats) -> bool {
    t.relpages == 0 && t.reltuples <= 0.0 && t.n_live_tup.unwrap_or(0) == 0
}

fn later<T: PartialOrd>(before: Option<T>, after: Option<T>) -> bool {
    match (before, after) {
        (Some(b), Some(a)) => a > b,
        (None, Some(_)) => true,
        _ => false,
    }
}

fn went_back(before: Option<i64>, after: Option<i64>) -> bool {
    matches!((before, after), (Some(b), Some(a)) if a < b)
}

/// Per-table cumulative counters that only grow while the statistics are kept.
fn counters(t: &TableStats) -> [Option<i64>; 4] {
    [t.n_tup_ins, t.n_tup_upd, t.n_tup_del, t.vacuum_count]
}

/// Everything that changed between `before` and `after` that the watch raises, in a fixed
/// order: cluster events first, then tables by name.
pub fn detect(
    before: &DatabaseSnapshot,
    after: &DatabaseSnapshot,
    thresholds: &Thresholds,
) -> Vec<WatchEvent> {
    let mut events = Vec::new();
    let (b, a) = (&before.server, &after.server);

    let new_system = matches!((&b.system_identifier, &a.system_identifier),
        (Some(x), Some(y)) if x != y);
    if new_system {
        events.push(WatchEvent::new(
            WatchEventKind::NewSystemIdentifier,
            format!(
                "system identifier {} → {}: another cluster answers at this address (failover \
                 or restore from another cluster's backup)",
                b.system_identifier.as_deref().unwrap_or("?"),
                a.system_identifier.as_deref().unwrap_or("?")
            ),
        ));
    }
    if let (Some(x), Some(y)) = (b.timeline_id, a.timeline_id)
        && x != y
    {
        events.push(WatchEvent::new(
            WatchEventKind::NewTimeline,
            format!("timeline {x} → {y}: a promotion or a point-in-time restore"),
        ));
    }
    let restarted = matches!((b.postmaster_start_time, a.postmaster_start_time),
        (Some(x), Some(y)) if x != y);
    if restarted {
        let crash = later(before.bgwriter_stats_reset, after.bgwriter_stats_reset)
            || went_back(
                before.database_stats.as_ref().map(|d| d.xact_commit),
                after.database_stats.as_ref().map(|d| d.xact_commit),
            );
        events.push(WatchEvent::new(
            WatchEventKind::ServerRestart,
            format!(
                "the server restarted at {}{}",
                a.postmaster_start_time
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                if crash {
                    "; its statistics were discarded (crash recovery, an immediate shutdown, \
                     or a restore): check the log for `terminated by signal` or \
                     `not properly shut down`"
                } else {
                    ""
                }
            ),
        ));
    }
    let recreated_db = matches!((b.datid, a.datid), (Some(x), Some(y)) if x != y);
    if recreated_db {
        events.push(WatchEvent::new(
            WatchEventKind::DatabaseRecreated,
            format!(
                "database {} has a new oid ({} → {}): it was dropped and created again",
                a.database,
                b.datid.unwrap_or(0),
                a.datid.unwrap_or(0)
            ),
        ));
    }
    let db_before = before.database_stats.as_ref();
    let db_after = after.database_stats.as_ref();
    let reset = later(
        db_before.and_then(|d| d.stats_reset),
        db_after.and_then(|d| d.stats_reset),
    );
    if reset && !restarted {
        events.push(WatchEvent::new(
            WatchEventKind::StatsReset,
            format!(
                "pg_stat_database.stats_reset moved to {}: the statistics were reset \
                 (pg_stat_reset()); live-row counters read 0 until the next ANALYZE",
                db_after
                    .and_then(|d| d.stats_reset)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default()
            ),
        ));
    }
    let db_backwards = !reset
        && !restarted
        && matches!((db_before, db_after), (Some(x), Some(y))
            if y.xact_commit < x.xact_commit || y.tup_inserted < x.tup_inserted || y.tup_deleted < x.tup_deleted);
    if db_backwards {
        events.push(WatchEvent::new(
            WatchEventKind::CountersBackwards,
            "the database's counters (pg_stat_database) went backwards without a reset being \
             recorded: the statistics were lost (crash, restore) or another server answers"
                .to_string(),
        ));
    }
    // After any of these the live-row counters start again from zero: a fall is not a loss.
    let stats_untrustworthy = new_system || restarted || recreated_db || reset || db_backwards;

    let before_by_name: HashMap<(&str, &str), &TableStats> = before
        .tables
        .iter()
        .map(|t| ((t.schema.as_str(), t.name.as_str()), t))
        .collect();
    let after_by_name: HashMap<(&str, &str), &TableStats> = after
        .tables
        .iter()
        .map(|t| ((t.schema.as_str(), t.name.as_str()), t))
        .collect();

    // A table renamed (or moved to another schema) keeps its oid: not a drop.
    let oids_after: std::collections::HashSet<u32> = after.tables.iter().map(|t| t.oid).collect();

    // Tables are sorted by (schema, name) in both snapshots; merge in that order.
    let mut names: Vec<(&str, &str)> = before_by_name
        .keys()
        .chain(after_by_name.keys())
        .copied()
        .collect();
    names.sort_unstable();
    names.dedup();
    for key in names {
        match (before_by_name.get(&key), after_by_name.get(&key)) {
            (Some(old), None) => {
                if recreated_db || oids_after.contains(&old.oid) {
                    continue;
                }
                let rows = rows_of(old);
                let mut e = WatchEvent::on_table(
                    WatchEventKind::TableDropped,
                    old,
                    format!(
                        "{} (oid {}) is gone from the catalog with about {rows} rows (DROP TABLE)",
                        old.qualified_name(),
                        old.oid
                    ),
                );
                e.rows_before = Some(rows);
                e.rows_after = Some(0);
                events.push(e);
            }
            (Some(old), Some(new)) if old.oid != new.oid => {
                if recreated_db {
                    continue;
                }
                let rows = rows_of(old);
                let mut e = WatchEvent::on_table(
                    WatchEventKind::TableRecreated,
                    new,
                    format!(
                        "{} has a new oid ({} → {}): dropped and created again; about {rows} \
                         rows went with the old table",
                        new.qualified_name(),
                        old.oid,
                        new.oid
                    ),
                );
                e.rows_before = Some(rows);
                e.rows_after = Some(rows_of(new));
                events.push(e);
            }
            (Some(old), Some(new)) => {
                table_changes(old, new, thresholds, stats_untrustworthy, &mut events);
            }
            _ => {}
        }
    }
    events
}

fn table_changes(
    old: &TableStats,
    new: &TableStats,
    thresholds: &Thresholds,
    stats_untrustworthy: bool,
    events: &mut Vec<WatchEvent>,
) {
    let rows_before = rows_of(old);
    if old.relfilenode != new.relfilenode && emptied_by_rewrite(new) && rows_before > 0 {
        let mut e = WatchEvent::on_table(
            WatchEventKind::Truncate,
            new,
            format!(
                "{}: new relfilenode ({} → {}), no pages and no row estimate left, about \
                 {rows_before} rows gone (TRUNCATE)",
                new.qualified_name(),
                old.relfilenode,
                new.relfilenode
            ),
        );
        e.rows_before = Some(rows_before);
        e.rows_after = Some(0);
        events.push(e);
        return;
    }
    if stats_untrustworthy {
        return;
    }
    let backwards = counters(old)
        .iter()
        .zip(counters(new).iter())
        .any(|(b, a)| went_back(*b, *a));
    if backwards {
        events.push(WatchEvent::on_table(
            WatchEventKind::CountersBackwards,
            new,
            format!(
                "{}: cumulative counters went backwards (inserts {} → {}, deletes {} → {}): \
                 its statistics were reset",
                new.qualified_name(),
                old.n_tup_ins.unwrap_or(0),
                new.n_tup_ins.unwrap_or(0),
                old.n_tup_del.unwrap_or(0),
                new.n_tup_del.unwrap_or(0)
            ),
        ));
        return;
    }
    let (Some(live_before), Some(live_after)) = (old.n_live_tup, new.n_live_tup) else {
        return;
    };
    let fall = live_before - live_after;
    if fall <= 0
        || fall < thresholds.min_rows
        || (fall as f64) * 100.0 < thresholds.min_percent * live_before as f64
    {
        return;
    }
    let deleted = new.n_tup_del.unwrap_or(0) - old.n_tup_del.unwrap_or(0);
    let dead_rise = new.n_dead_tup.unwrap_or(0) - old.n_dead_tup.unwrap_or(0);
    let percent = fall as f64 * 100.0 / live_before as f64;
    // Deletes counted (or rows turned dead) for at least half the fall: a DELETE did it.
    let kind = if deleted * 2 >= fall || dead_rise * 2 >= fall {
        WatchEventKind::Delete
    } else {
        WatchEventKind::RowsFell
    };
    let detail = match kind {
        WatchEventKind::Delete => format!(
            "{}: live rows {live_before} → {live_after} (−{fall}, {percent:.0}%), deletes +{deleted}, \
             dead rows +{dead_rise} (DELETE)",
            new.qualified_name()
        ),
        _ => format!(
            "{}: live rows {live_before} → {live_after} (−{fall}, {percent:.0}%) without deletes \
             counted (+{deleted})",
            new.qualified_name()
        ),
    };
    let mut e = WatchEvent::on_table(kind, new, detail);
    e.rows_before = Some(live_before);
    e.rows_after = Some(live_after);
    events.push(e);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{DatabaseStats, ServerInfo};
    use chrono::{TimeZone, Utc};

    fn table(name: &str, oid: u32, live: i64) -> TableStats {
        TableStats {
            schema: "public".into(),
            name: name.into(),
            oid,
            relfilenode: oid,
            relkind: "r".into(),
            persistence: None,
            partition_parent: None,
            n_tup_ins: Some(live),
            n_tup_upd: Some(0),
            n_tup_del: Some(0),
            n_tup_hot_upd: Some(0),
            n_live_tup: Some(live),
            n_dead_tup: Some(0),
            n_mod_since_analyze: Some(live),
            n_ins_since_vacuum: Some(live),
            last_vacuum: None,
            last_autovacuum: None,
            last_analyze: None,
            last_autoanalyze: None,
            vacuum_count: Some(0),
            autovacuum_count: Some(0),
            analyze_count: Some(0),
            autoanalyze_count: Some(0),
            reltuples: live as f64,
            relpages: live / 100 + 1,
            size_bytes: None,
            catalog_xmin_age: Some(10),
            catalog_commit_time: None,
            reloptions: Vec::new(),
        }
    }

    fn snapshot(tables: Vec<TableStats>) -> DatabaseSnapshot {
        DatabaseSnapshot {
            server: ServerInfo {
                version_num: 150000,
                version: "PostgreSQL 15".into(),
                host: "h".into(),
                port: 5432,
                database: "app".into(),
                user: "u".into(),
                current_database: None,
                datid: Some(16384),
                system_identifier: Some("7000".into()),
                timeline_id: Some(1),
                checkpoint_time: None,
                postmaster_start_time: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
                in_recovery: Some(false),
                server_time: Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap(),
            },
            database_stats: Some(DatabaseStats {
                xact_commit: 100,
                xact_rollback: 0,
                tup_returned: 0,
                tup_fetched: 0,
                tup_inserted: 100,
                tup_updated: 0,
                tup_deleted: 0,
                stats_reset: None,
            }),
            archiver: None,
            bgwriter_stats_reset: None,
            settings: Default::default(),
            tables,
            foreign_keys: vec![],
            sequences: vec![],
            dropped_columns: vec![],
            not_visible: vec![],
        }
    }

    fn kinds(events: &[WatchEvent]) -> Vec<(WatchEventKind, Option<&str>)> {
        events
            .iter()
            .map(|e| (e.kind, e.table.as_deref()))
            .collect()
    }

    #[test]
    fn nothing_changed_raises_nothing() {
        let s = snapshot(vec![table("a", 1, 5000)]);
        assert!(detect(&s, &s.clone(), &Thresholds::default()).is_empty());
    }

    #[test]
    fn truncate_is_a_new_relfilenode_with_no_pages_and_no_estimate() {
        let before = snapshot(vec![table("a", 1, 5000)]);
        let mut t = table("a", 1, 0);
        t.relfilenode = 99;
        t.reltuples = -1.0;
        t.relpages = 0;
        t.n_tup_ins = Some(5000);
        let after = snapshot(vec![t]);
        let ev = detect(&before, &after, &Thresholds::default());
        assert_eq!(
            kinds(&ev),
            vec![(WatchEventKind::Truncate, Some("public.a"))]
        );
        assert_eq!(ev[0].rows_before, Some(5000));
    }

    #[test]
    fn vacuum_full_changes_the_relfilenode_but_keeps_the_rows() {
        let before = snapshot(vec![table("a", 1, 5000)]);
        let mut t = table("a", 1, 5000);
        t.relfilenode = 99;
        let after = snapshot(vec![t]);
        assert!(detect(&before, &after, &Thresholds::default()).is_empty());
    }

    #[test]
    fn truncating_an_empty_table_is_not_a_loss() {
        let mut empty = table("a", 1, 0);
        empty.reltuples = -1.0;
        empty.relpages = 0;
        let before = snapshot(vec![empty.clone()]);
        empty.relfilenode = 2;
        let after = snapshot(vec![empty]);
        assert!(detect(&before, &after, &Thresholds::default()).is_empty());
    }

    #[test]
    fn a_delete_of_half_the_table_fires_and_a_few_deletes_do_not() {
        let before = snapshot(vec![table("a", 1, 10_000)]);
        let mut half = table("a", 1, 5_000);
        half.n_tup_ins = Some(10_000);
        half.n_tup_del = Some(5_000);
        half.n_dead_tup = Some(5_000);
        let ev = detect(&before, &snapshot(vec![half]), &Thresholds::default());
        assert_eq!(kinds(&ev), vec![(WatchEventKind::Delete, Some("public.a"))]);
        assert_eq!(
            (ev[0].rows_before, ev[0].rows_after),
            (Some(10_000), Some(5_000))
        );

        let mut few = table("a", 1, 9_500);
        few.n_tup_ins = Some(10_000);
        few.n_tup_del = Some(500);
        assert!(detect(&before, &snapshot(vec![few]), &Thresholds::default()).is_empty());
    }

    #[test]
    fn both_thresholds_must_hold() {
        // 2,000 rows is past min_rows but only 2% of a large table.
        let before = snapshot(vec![table("big", 1, 100_000)]);
        let mut t = table("big", 1, 98_000);
        t.n_tup_ins = Some(100_000);
        t.n_tup_del = Some(2_000);
        assert!(detect(&before, &snapshot(vec![t.clone()]), &Thresholds::default()).is_empty());
        let strict = Thresholds {
            min_rows: 100,
            min_percent: 1.0,
        };
        assert_eq!(
            kinds(&detect(&before, &snapshot(vec![t]), &strict)),
            vec![(WatchEventKind::Delete, Some("public.big"))]
        );
        // 90% of a small table is under min_rows.
        let before = snapshot(vec![table("small", 1, 100)]);
        let mut t = table("small", 1, 10);
        t.n_tup_ins = Some(100);
        t.n_tup_del = Some(90);
        assert!(detect(&before, &snapshot(vec![t]), &Thresholds::default()).is_empty());
    }

    #[test]
    fn a_fall_without_deletes_is_rows_fell() {
        let before = snapshot(vec![table("a", 1, 10_000)]);
        let t = table("a", 1, 2_000);
        let mut t2 = t.clone();
        t2.n_tup_ins = Some(10_000);
        let ev = detect(&before, &snapshot(vec![t2]), &Thresholds::default());
        assert_eq!(
            kinds(&ev),
            vec![(WatchEventKind::RowsFell, Some("public.a"))]
        );
    }

    #[test]
    fn drop_and_recreate() {
        let before = snapshot(vec![table("a", 1, 5000), table("b", 2, 10)]);
        let after = snapshot(vec![table("b", 7, 0)]);
        let ev = detect(&before, &after, &Thresholds::default());
        assert_eq!(
            kinds(&ev),
            vec![
                (WatchEventKind::TableDropped, Some("public.a")),
                (WatchEventKind::TableRecreated, Some("public.b")),
            ]
        );
        assert_eq!(ev[0].oid, Some(1));
        // A rename keeps the oid: not a drop.
        let renamed = snapshot(vec![table("a_old", 1, 5000), table("b", 2, 10)]);
        assert!(detect(&before, &renamed, &Thresholds::default()).is_empty());
        assert_eq!(ev[1].oid, Some(7));
        // A new table is not an event.
        assert!(
            detect(&after, &before, &Thresholds::default())
                .iter()
                .all(|e| e.table.as_deref() != Some("public.a"))
        );
    }

    #[test]
    fn stats_reset_is_one_event_and_silences_the_falls_it_causes() {
        let before = snapshot(vec![table("a", 1, 5000), table("b", 2, 5000)]);
        let mut after = snapshot(vec![table("a", 1, 0), table("b", 2, 0)]);
        for t in &mut after.tables {
            t.n_tup_ins = Some(0);
        }
        if let Some(d) = after.database_stats.as_mut() {
            d.stats_reset = Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 30, 0).unwrap());
            d.xact_commit = 1;
        }
        let ev = detect(&before, &after, &Thresholds::default());
        assert_eq!(kinds(&ev), vec![(WatchEventKind::StatsReset, None)]);
    }

    #[test]
    fn a_single_table_reset_is_counters_backwards_on_that_table() {
        let before = snapshot(vec![table("a", 1, 5000)]);
        let mut t = table("a", 1, 0);
        t.n_tup_ins = Some(0);
        let ev = detect(&before, &snapshot(vec![t]), &Thresholds::default());
        assert_eq!(
            kinds(&ev),
            vec![(WatchEventKind::CountersBackwards, Some("public.a"))]
        );
    }

    #[test]
    fn a_crash_restart_is_one_event_not_a_loss_per_table() {
        let before = snapshot(vec![table("a", 1, 5000)]);
        let mut after = snapshot(vec![table("a", 1, 0)]);
        after.tables[0].n_tup_ins = Some(0);
        after.server.postmaster_start_time =
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 50, 0).unwrap());
        after.bgwriter_stats_reset = Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 50, 0).unwrap());
        if let Some(d) = after.database_stats.as_mut() {
            d.xact_commit = 3;
        }
        let ev = detect(&before, &after, &Thresholds::default());
        assert_eq!(kinds(&ev), vec![(WatchEventKind::ServerRestart, None)]);
        assert!(ev[0].detail.contains("discarded"), "{}", ev[0].detail);
    }

    #[test]
    fn failover_and_restore_are_events() {
        let before = snapshot(vec![table("a", 1, 5000)]);
        let mut after = before.clone();
        after.server.timeline_id = Some(2);
        after.server.system_identifier = Some("8000".into());
        let ev = detect(&before, &after, &Thresholds::default());
        assert_eq!(
            kinds(&ev),
            vec![
                (WatchEventKind::NewSystemIdentifier, None),
                (WatchEventKind::NewTimeline, None)
            ]
        );
        let mut restored = snapshot(vec![table("a", 900, 5000)]);
        restored.server.datid = Some(20000);
        let ev = detect(&before, &restored, &Thresholds::default());
        assert_eq!(kinds(&ev), vec![(WatchEventKind::DatabaseRecreated, None)]);
    }
}
