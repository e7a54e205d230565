//! The per-table status: did rows vanish without a DELETE to account for them? A pure function
//! of one table's statistics (and, when there is one, the same table in a baseline snapshot).
//!
//! # The rule
//!
//! *Expected rows* are, with a baseline, `baseline live + (inserts − baseline inserts) −
//! (deletes − baseline deletes)` (a table re-created since the baseline — new oid — counts from
//! zero, so everything the baseline held is expected); without one, `inserts − deletes`. Rows
//! removed by a DELETE are counted in `deletes`, so they are *not* missing here: the
//! `delete`/`cascade` hypotheses explain them. The status is the first of these that holds:
//!
//! 1. `unknown` — the counters are not visible.
//! 2. `never_populated` — no insert, no delete, no live row, and the catalog shows no rows either
//!    (`reltuples ≤ 0`, `relpages = 0`), the file never replaced (`relfilenode = oid`):
//!    pg-forensics.md scenario 12. With a replaced file it is `unknown`: zeroed counters and a
//!    TRUNCATE leave the same picture.
//! 3. `wiped` — every counter is zero, the table is UNLOGGED and its file is 0 bytes while the
//!    catalog still counts rows or pages: crash recovery reset it to empty (the
//!    `unlogged_crash` hypothesis); pg_class keeps the pages and rows of its last VACUUM/ANALYZE.
//!
//!    `unknown` — every counter is zero but the catalog still shows rows (`reltuples > 0`,
//!    `relpages > 0` or a non-empty file): the statistics were zeroed by a crash, a point-in-time
//!    restore or `pg_stat_reset()` (scenarios 10, 11, 13), which says nothing about the rows.
//!
//!    3b. `unknown` — the counters restarted and counted new activity since: they went backwards
//!    since the baseline (fewer inserts or deletes than it counted, same table), or the catalog
//!    counts far more rows than the counters can account for (`max(n_tup_ins, n_live_tup +
//!    n_tup_del) + n_dead_tup` under half of `reltuples`, with the file never swapped — a
//!    DELETE is counted, a TRUNCATE swaps the file). Twenty inserts after `pg_stat_reset()` on
//!    a table of 20,000 rows read `n_live_tup = 20`: that is the counters' age, not the table's
//!    content. Only the
//!    catalog's own proof of emptiness (new file, `reltuples` reset, no live row) still reads
//!    `wiped`. The report says "counters since T" (`counters_since`: the later of the database's
//!    `stats_reset` and the postmaster start).
//! 4. `intact` — live rows ≥ expected rows.
//! 5. `intact` — the shortfall is inserts that never committed: `n_tup_ins` counts aborted
//!    inserts too (scenario 6). Either their dead tuples are still there (`n_dead_tup ≥
//!    shortfall`), or the table file was never swapped (`relfilenode = oid`, and unchanged since
//!    the baseline) and the catalog's own row estimate agrees with the live count (`reltuples`
//!    within 10 % or 1 row of `n_live_tup`). Rows cannot vanish from a table without a DELETE
//!    unless its file is swapped (TRUNCATE, scenario 3) or the table is re-created.
//! 6. `wiped` — no live row left.
//! 7. `partial` — some live rows left.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use crate::evidence::{DatabaseSnapshot, TableStats};

/// The JSON spelling is part of the public report contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableStatus {
    Wiped,
    Partial,
    Intact,
    NeverPopulated,
    Unknown,
}

impl TableStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TableStatus::Wiped => "wiped",
            TableStatus::Partial => "partial",
            TableStatus::Intact => "intact",
            TableStatus::NeverPopulated => "never_populated",
            TableStatus::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for TableStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A table's status and the expected-rows figure it was judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableAssessment {
    /// `None` when the counters are not visible.
    pub expected_rows: Option<i64>,
    pub status: TableStatus,
    /// The counters were zeroed or restarted (rules 3 and 3b): they count from some later time,
    /// not from the table's creation.
    pub counters_restarted: bool,
    /// `n_live_tup` counts what the table holds, so expected − live is a count of missing rows.
    /// False after a restore that zeroed the counters of a table it kept: the rows are there
    /// or not, the counters cannot say.
    pub rows_counted: bool,
}

/// Judges one table; `baseline` is the same table (by schema and name) in an earlier snapshot.
pub fn assess(table: &TableStats, baseline: Option<&TableStats>) -> TableAssessment {
    let (Some(ins), Some(del), Some(live)) = (table.n_tup_ins, table.n_tup_del, table.n_live_tup)
    else {
        return TableAssessment {
            expected_rows: None,
            status: TableStatus::Unknown,
            counters_restarted: false,
            rows_counted: false,
        };
    };
    let expected = expected_rows(table, baseline, ins, del);
    let zeroed = ins == 0 && del == 0 && live == 0 && catalog_shows_rows(table);
    let restarted = zeroed || counters_restarted(table, baseline, ins, del, live);
    let status = if restarted && !zeroed {
        if live == 0 && file_replaced_empty(table) {
            TableStatus::Wiped
        } else {
            TableStatus::Unknown
        }
    } else {
        status_of(table, baseline, ins, del, live, expected)
    };
    TableAssessment {
        expected_rows: Some(expected),
        status,
        counters_restarted: restarted && status != TableStatus::NeverPopulated,
        rows_counted: true,
    }
}

/// Judges one table of a database restored since the baseline (a point-in-time recovery, a dump
/// restored into a re-created database, another cluster): the counters describe the restore,
/// not the history since the baseline, so the rows the baseline counted are what is expected —
/// not the baseline's rows plus the inserts the restore made while re-loading them.
///
/// * The table was re-created by the restore (new oid): its counters started with it, so
///   `n_live_tup` is what it holds; fewer rows than the baseline's are missing.
/// * The restore kept the table (same oid, as PITR does): its counters were zeroed by the
///   recovery and count only what happened since; its rows now are `unknown` (count them), and
///   the baseline's rows are still what is expected.
///
/// Without the baseline's live rows, or without the table in it, `assess` judges as usual.
pub fn assess_restored(table: &TableStats, baseline: Option<&TableStats>) -> TableAssessment {
    let (Some(base), Some((Some(base_live), Some(live)))) =
        (baseline, baseline.map(|b| (b.n_live_tup, table.n_live_tup)))
    else {
        return assess(table, baseline);
    };
    if base.oid != table.oid {
        let status = if live >= base_live {
            TableStatus::Intact
        } else if live == 0 {
            TableStatus::Wiped
        } else {
            TableStatus::Partial
        };
        return TableAssessment {
            expected_rows: Some(base_live),
            status,
            counters_restarted: false,
            rows_counted: true,
        };
    }
    let status = if live == 0 && file_replaced_empty(table) {
        TableStatus::Wiped
    } else {
        TableStatus::Unknown
    };
    TableAssessment {
        expected_rows: Some(base_live),
        status,
        counters_restarted: true,
        rows_counted: status == TableStatus::Wiped,
    }
}

/// Judges a table by a `count(*)` taken right after the snapshot, for a table whose counters
/// could not say what it holds (`assessment` restarted or `unknown`: a crash, `pg_stat_reset()`
/// or a restore zeroed them, or they are not visible). What is expected is, with a baseline,
/// its live rows plus what the counters saw since (since their restart when they went
/// backwards: what happened between the baseline and the restart is not counted anywhere, so
/// rows a DELETE removed then are missing here, and the log or the WAL must say by what);
/// after a restore the baseline's rows alone; without a baseline, the catalog's `reltuples` as
/// its last VACUUM/ANALYZE left it — an estimate, so only a count under half of it (or zero) is
/// called a loss, and one short of it by more than its noise but not by half is `unknown`.
pub fn assess_counted(
    table: &TableStats,
    baseline: Option<&TableStats>,
    counted: i64,
    restored: bool,
    assessment: TableAssessment,
) -> TableAssessment {
    if !(assessment.counters_restarted || assessment.status == TableStatus::Unknown) {
        return assessment;
    }
    let (ins, del) = (table.n_tup_ins.unwrap_or(0), table.n_tup_del.unwrap_or(0));
    // The baseline's rows are estimates too (`n_live_tup` double-counts an INSERT and VACUUM
    // of one session on 15; a rolled-back DELETE can leave it off): a count is held to the
    // lower of its `n_live_tup` and, where VACUUM/ANALYZE measured pages, its `reltuples`, so
    // that what is called missing is at least missing.
    let from_baseline = baseline.and_then(|b| {
        let live = b.n_live_tup?;
        let catalog = (b.relpages > 0 && b.reltuples >= 0.0).then(|| b.reltuples.round() as i64);
        Some((b, catalog.map_or(live, |c| c.min(live))))
    });
    let (expected, estimated) = match from_baseline {
        Some((_, live)) if restored => (live, false),
        Some((b, live)) => {
            let since = match (b.oid == table.oid, b.n_tup_ins, b.n_tup_del) {
                (true, Some(bi), Some(bd)) if ins >= bi && del >= bd => (ins - bi) - (del - bd),
                _ => ins - del,
            };
            ((live + since).max(0), false)
        }
        None if table.reltuples > 0.0 => (table.reltuples.round() as i64, true),
        None => ((ins - del).max(0), false),
    };
    // An estimate is as old as the last VACUUM/ANALYZE: a few rows short of it is its noise
    // (intact); short by more but not by half may be routine deletes since the estimate or a
    // loss, which the count cannot tell apart (unknown: a DELETE the log shows may explain it);
    // under half, or nothing, is a loss.
    let within_noise = |shortfall: i64| shortfall <= (expected / 20).max(2);
    let status = if counted >= expected || (estimated && within_noise(expected - counted)) {
        TableStatus::Intact
    } else if estimated && counted * 2 >= expected && counted > 0 {
        TableStatus::Unknown
    } else if counted == 0 {
        TableStatus::Wiped
    } else {
        TableStatus::Partial
    };
    TableAssessment {
        expected_rows: Some(expected),
        status,
        counters_restarted: assessment.counters_restarted,
        rows_counted: true,
    }
}

/// The tables whose counters cannot say what they hold (restarted, zeroed or not visible), the
/// ones a `count(*)` settles, smallest (by pages) first so that a time budget too small for all
/// of them still counts most. Partitioned tables hold no rows (their partitions are counted).
pub fn tables_to_count(
    snapshot: &DatabaseSnapshot,
    baseline: Option<&DatabaseSnapshot>,
) -> Vec<(String, String)> {
    let base_index: std::collections::HashMap<(&str, &str), &TableStats> = baseline
        .map(|b| {
            b.tables
                .iter()
                .map(|t| ((t.schema.as_str(), t.name.as_str()), t))
                .collect()
        })
        .unwrap_or_default();
    let mut tables: Vec<(i64, &str, &str)> = snapshot
        .tables
        .iter()
        .filter(|t| t.relkind != "p")
        .filter(|t| {
            let base = base_index
                .get(&(t.schema.as_str(), t.name.as_str()))
                .copied();
            let a = assess(t, base);
            (a.counters_restarted || a.status == TableStatus::Unknown)
                && a.status != TableStatus::NeverPopulated
        })
        .map(|t| (t.relpages.max(0), t.schema.as_str(), t.name.as_str()))
        .collect();
    tables.sort();
    tables
        .into_iter()
        .map(|(_, schema, name)| (schema.to_string(), name.to_string()))
        .collect()
}

/// Rule 3b: the counters restarted and counted new activity since.
fn counters_restarted(
    table: &TableStats,
    baseline: Option<&TableStats>,
    ins: i64,
    del: i64,
    live: i64,
) -> bool {
    let backwards = baseline.is_some_and(|b| {
        b.oid == table.oid
            && (b.n_tup_ins.is_some_and(|bi| ins < bi) || b.n_tup_del.is_some_and(|bd| del < bd))
    });
    let swapped = table.relfilenode != table.oid
        || baseline.is_some_and(|b| b.oid != table.oid || b.relfilenode != table.relfilenode);
    // What the counters have seen: the rows they saw arrive, or those still live plus those
    // deleted (and dead). Counters that ran since the rows arrived see most of `reltuples`.
    let accounted = (ins.max(live + del) + table.n_dead_tup.unwrap_or(0)) as f64;
    let drift = !swapped
        && table.reltuples > 0.0
        && accounted * 2.0 < table.reltuples
        && table.reltuples - accounted >= 10.0;
    backwards || drift
}

/// The catalog's own proof that the table is empty: new file, `reltuples` reset or an empty file.
fn file_replaced_empty(t: &TableStats) -> bool {
    t.relfilenode != t.oid
        && (t.reltuples < 0.0 || (t.relpages == 0 && t.size_bytes.unwrap_or(0) == 0))
}

fn expected_rows(table: &TableStats, baseline: Option<&TableStats>, ins: i64, del: i64) -> i64 {
    let from_counters = (ins - del).max(0);
    let Some(base) = baseline else {
        return from_counters;
    };
    let Some(base_live) = base.n_live_tup else {
        return from_counters;
    };
    if base.oid != table.oid {
        // Re-created since the baseline: its counters start at zero.
        return (base_live + ins - del).max(0);
    }
    match (base.n_tup_ins, base.n_tup_del) {
        (Some(bi), Some(bd)) if ins >= bi && del >= bd => {
            (base_live + (ins - bi) - (del - bd)).max(0)
        }
        // Counters went backwards: reset since the baseline; only the counters are left.
        _ => from_counters,
    }
}

/// An UNLOGGED table whose file is empty while the catalog still counts rows or pages.
pub fn unlogged_file_emptied(t: &TableStats) -> bool {
    t.persistence.as_deref() == Some("u")
        && t.size_bytes == Some(0)
        && (t.reltuples > 0.0 || t.relpages > 0)
}

fn catalog_shows_rows(t: &TableStats) -> bool {
    t.reltuples > 0.0 || t.relpages > 0 || t.size_bytes.unwrap_or(0) > 0
}

fn status_of(
    table: &TableStats,
    baseline: Option<&TableStats>,
    ins: i64,
    del: i64,
    live: i64,
    expected: i64,
) -> TableStatus {
    let counters_zero = ins == 0 && del == 0 && live == 0;
    let baseline_rows = baseline.and_then(|b| b.n_live_tup).unwrap_or(0);
    if counters_zero && !catalog_shows_rows(table) && baseline_rows == 0 {
        // A replaced file (relfilenode ≠ oid) means a TRUNCATE or rewrite happened: with
        // zeroed counters that is as likely an emptied table as a never-written one.
        return if table.relfilenode == table.oid {
            TableStatus::NeverPopulated
        } else {
            TableStatus::Unknown
        };
    }
    // An UNLOGGED table reset by crash recovery: the counters zeroed like everyone's, but its
    // file is 0 bytes under pg_class's pages and rows of the last VACUUM/ANALYZE. The catalog
    // remembers rows the file no longer has.
    if counters_zero && unlogged_file_emptied(table) {
        return TableStatus::Wiped;
    }
    if counters_zero && catalog_shows_rows(table) {
        return TableStatus::Unknown;
    }
    let shortfall = expected - live;
    if shortfall <= 0 {
        return TableStatus::Intact;
    }
    if aborted_inserts_explain(table, baseline, live, shortfall) {
        return TableStatus::Intact;
    }
    if live == 0 {
        TableStatus::Wiped
    } else {
        TableStatus::Partial
    }
}

fn aborted_inserts_explain(
    table: &TableStats,
    baseline: Option<&TableStats>,
    live: i64,
    shortfall: i64,
) -> bool {
    if table.n_dead_tup.unwrap_or(0) >= shortfall {
        return true;
    }
    let file_swapped = table.relfilenode != table.oid
        || baseline.is_some_and(|b| b.oid != table.oid || b.relfilenode != table.relfilenode);
    if file_swapped || table.reltuples < 0.0 {
        return false;
    }
    let tolerance = ((live as f64) * 0.1).max(1.0);
    (table.reltuples - live as f64).abs() <= tolerance
}

/// One line of `pgtriage tables` and of the report's `tables[]`: the counters a person reads
/// first, and the status. Field names are the public JSON contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRow {
    pub schema: String,
    pub name: String,
    pub inserts: Option<i64>,
    pub updates: Option<i64>,
    pub deletes: Option<i64>,
    pub live_rows: Option<i64>,
    pub dead_rows: Option<i64>,
    pub expected_rows: Option<i64>,
    pub status: TableStatus,
    /// When the counters restarted (crash, `pg_stat_reset()`, restore), if they did: the status
    /// reads "counters since T", never `intact` on counters that restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters_since: Option<DateTime<Utc>>,
    /// The later of `last_vacuum` and `last_autovacuum`.
    pub last_vacuum: Option<DateTime<Utc>>,
    /// The later of `last_analyze` and `last_autoanalyze`.
    pub last_analyze: Option<DateTime<Utc>>,
}

/// A table whose file was replaced (TRUNCATE, or a rewrite) and not analysed since
/// (`reltuples` −1), on a cluster whose counters restarted at `restarted_at` (crash recovery,
/// `pg_stat_reset()`), the replacement's commit time known. Replaced before the restart, what
/// the counters counted since is only what came after; replaced after it, the rows the old file
/// held were inserted before the restart, which the counters never saw (random incidents seed
/// 777001 #128: a crash, then a TRUNCATE under log_statement = ddl, 11 rows inserted since, read
/// `intact`). Either way nothing is left that says what the old file held, and its counters
/// cannot vouch for it: not `intact` but `unknown` (the `truncate` hypothesis reads the swap).
pub fn replaced_before_restart(t: &TableStats, restarted_at: Option<DateTime<Utc>>) -> bool {
    t.relkind != "p"
        && t.relfilenode != t.oid
        && t.reltuples < 0.0
        && t.catalog_commit_time.is_some()
        && restarted_at.is_some()
}

/// When a snapshot's counters restarted last: the later of the database's `stats_reset` and the
/// postmaster start (a crash or a restore starts the counters afresh; a clean restart keeps
/// them, which is why this is only shown for tables whose counters did restart).
pub fn counters_since(snapshot: &DatabaseSnapshot) -> Option<DateTime<Utc>> {
    let reset = snapshot.database_stats.as_ref().and_then(|d| d.stats_reset);
    reset.max(snapshot.server.postmaster_start_time)
}

/// Every table of `snapshot`, in its (schema, name) order, judged against the same table in
/// `baseline` when there is one.
pub fn table_rows(
    snapshot: &DatabaseSnapshot,
    baseline: Option<&DatabaseSnapshot>,
) -> Vec<TableRow> {
    let base_index: std::collections::HashMap<(&str, &str), &TableStats> = baseline
        .map(|b| {
            b.tables
                .iter()
                .map(|t| ((t.schema.as_str(), t.name.as_str()), t))
                .collect()
        })
        .unwrap_or_default();
    snapshot
        .tables
        .iter()
        .map(|t| {
            let base = base_index
                .get(&(t.schema.as_str(), t.name.as_str()))
                .copied();
            let a = assess(t, base);
            TableRow {
                counters_since: a
                    .counters_restarted
                    .then(|| counters_since(snapshot))
                    .flatten(),
                schema: t.schema.clone(),
                name: t.name.clone(),
                inserts: t.n_tup_ins,
                updates: t.n_tup_upd,
                deletes: t.n_tup_del,
                live_rows: t.n_live_tup,
                dead_rows: t.n_dead_tup,
                expected_rows: a.expected_rows,
                status: a.status,
                last_vacuum: t.last_vacuum.max(t.last_autovacuum),
                last_analyze: t.last_analyze.max(t.last_autoanalyze),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table as `VACUUM ANALYZE` leaves it: file never swapped, catalog agrees with live.
    fn table(name: &str, ins: i64, del: i64, live: i64) -> TableStats {
        TableStats {
            schema: "public".into(),
            name: name.into(),
            oid: 16423,
            relfilenode: 16423,
            relkind: "r".into(),
            persistence: None,
            partition_parent: None,
            n_tup_ins: Some(ins),
            n_tup_upd: Some(0),
            n_tup_del: Some(del),
            n_tup_hot_upd: Some(0),
            n_live_tup: Some(live),
            n_dead_tup: Some(0),
            n_mod_since_analyze: Some(0),
            n_ins_since_vacuum: Some(0),
            last_vacuum: None,
            last_autovacuum: None,
            last_analyze: None,
            last_autoanalyze: None,
            vacuum_count: Some(1),
            autovacuum_count: Some(0),
            analyze_count: Some(1),
            autoanalyze_count: Some(0),
            reltuples: live as f64,
            relpages: if live > 0 { 6 } else { 0 },
            size_bytes: Some(if live > 0 { 49152 } else { 0 }),
            catalog_xmin_age: Some(10),
            catalog_commit_time: None,
            reloptions: Vec::new(),
        }
    }

    /// What TRUNCATE leaves: new file, reltuples -1, empty (pg-forensics.md scenario 3).
    fn truncated(mut t: TableStats) -> TableStats {
        t.relfilenode = t.oid + 20;
        t.reltuples = -1.0;
        t.relpages = 0;
        t.size_bytes = Some(0);
        t.n_live_tup = Some(0);
        t
    }

    fn status(t: &TableStats) -> TableStatus {
        assess(t, None).status
    }

    #[test]
    fn seed_002_raw_import_records_truncated_is_wiped() {
        // 115 inserts, 0 deletes, 0 live rows: nothing accounts for the 115 rows.
        let t = truncated(table("raw_import_records", 115, 0, 115));
        let a = assess(&t, None);
        assert_eq!(a.expected_rows, Some(115));
        assert_eq!(a.status, TableStatus::Wiped);
    }

    #[test]
    fn truncate_then_vacuum_is_still_wiped() {
        // After VACUUM, reltuples goes from -1 to 0: the swapped file is what remains.
        let mut t = truncated(table("child_restrict", 1000, 0, 1000));
        t.reltuples = 0.0;
        assert_eq!(status(&t), TableStatus::Wiped);
    }

    #[test]
    fn truncate_then_some_new_rows_is_partial() {
        // Seed 002's collection_flows: 143 inserts, 101 deletes, 2 live; 40 unaccounted for.
        let mut t = truncated(table("collection_flows", 143, 101, 2));
        t.n_live_tup = Some(2);
        t.reltuples = 2.0;
        let a = assess(&t, None);
        assert_eq!(a.expected_rows, Some(42));
        assert_eq!(a.status, TableStatus::Partial);
    }

    #[test]
    fn committed_delete_all_is_accounted_for() {
        // Scenario 1: del 0→1000, live 1000→0; the rows are in `deletes`, not vanished.
        let mut t = table("child_restrict", 1000, 1000, 0);
        t.n_dead_tup = Some(1000);
        t.reltuples = 1000.0;
        let a = assess(&t, None);
        assert_eq!(a.expected_rows, Some(0));
        assert_eq!(a.status, TableStatus::Intact);
    }

    #[test]
    fn users_with_every_row_present_are_intact() {
        assert_eq!(status(&table("users", 11, 0, 11)), TableStatus::Intact);
    }

    #[test]
    fn rolled_back_bulk_insert_is_not_a_loss() {
        // Scenario 6, before autovacuum: ins 1000→6000, dead 0→5000, live 1000.
        let mut t = table("parent", 6000, 0, 1000);
        t.n_dead_tup = Some(5000);
        assert_eq!(status(&t), TableStatus::Intact);
        // After autovacuum: dead 0, but the file was never swapped and reltuples = live.
        t.n_dead_tup = Some(0);
        assert_eq!(status(&t), TableStatus::Intact);
    }

    #[test]
    fn rolled_back_delete_is_intact() {
        // Scenario 6c: del +1000 but live unchanged.
        assert_eq!(
            status(&table("child_restrict", 1000, 1000, 1000)),
            TableStatus::Intact
        );
    }

    #[test]
    fn never_populated_table() {
        // Scenario 12: all zero, reltuples -1, relpages 0.
        let mut t = table("never_populated", 0, 0, 0);
        t.reltuples = -1.0;
        t.vacuum_count = Some(0);
        assert_eq!(status(&t), TableStatus::NeverPopulated);
    }

    #[test]
    fn counters_zeroed_by_crash_with_rows_in_catalog_is_unknown() {
        // Scenario 10/13: every counter 0, reltuples 1000, relpages 7.
        let mut t = table("parent", 0, 0, 0);
        t.reltuples = 1000.0;
        t.relpages = 7;
        t.size_bytes = Some(57344);
        assert_eq!(status(&t), TableStatus::Unknown);
    }

    #[test]
    fn invisible_counters_are_unknown() {
        let mut t = table("secret", 10, 0, 10);
        t.n_live_tup = None;
        let a = assess(&t, None);
        assert_eq!(a.status, TableStatus::Unknown);
        assert_eq!(a.expected_rows, None);
    }

    #[test]
    fn baseline_makes_expected_rows_exact() {
        // Baseline: 1000 rows after 1200 inserts and 200 deletes. Since: 50 inserts, 30 deletes.
        let base = table("orders", 1200, 200, 1000);
        let now = table("orders", 1250, 230, 1020);
        let a = assess(&now, Some(&base));
        assert_eq!(a.expected_rows, Some(1020));
        assert_eq!(a.status, TableStatus::Intact);
        // Same counters, but the file was swapped and emptied: TRUNCATE since the baseline.
        let emptied = truncated(now.clone());
        assert_eq!(assess(&emptied, Some(&base)).status, TableStatus::Wiped);
    }

    #[test]
    fn table_recreated_since_baseline_expects_the_baseline_rows() {
        // Scenario 7a: DROP + CREATE + 3 rows; the baseline had 1000.
        let base = table("child_restrict", 1000, 0, 1000);
        let mut now = table("child_restrict", 3, 0, 3);
        now.oid = 16940;
        now.relfilenode = 16940;
        let a = assess(&now, Some(&base));
        assert_eq!(a.expected_rows, Some(1003));
        assert_eq!(a.status, TableStatus::Partial);
    }
}

#[cfg(test)]
mod counter_drift {
    use super::*;
    use crate::analysis::fixtures::{at, table, truncated, zeroed};

    /// `pg_stat_reset()` then 20 inserts on a table of 20,000 rows: `n_live_tup = 20` is the
    /// counters' age, not the table's content — never `intact`, never `wiped`.
    #[test]
    fn restarted_counters_that_counted_new_rows_are_not_intact() {
        let mut t = zeroed(table("events", 16400, 20_000));
        t.n_tup_ins = Some(20);
        t.n_live_tup = Some(20);
        let a = assess(&t, None);
        assert_eq!(a.status, TableStatus::Unknown);
        assert!(a.counters_restarted);
        let base = table("events", 16400, 20_000);
        let a = assess(&t, Some(&base));
        assert_eq!(a.status, TableStatus::Unknown, "with a baseline too");
        assert!(a.counters_restarted);
    }

    /// Counters reset, then a TRUNCATE: the catalog's own proof of emptiness still reads wiped.
    #[test]
    fn restarted_counters_and_a_truncate_read_wiped() {
        let base = table("events", 16400, 500);
        let t = truncated(zeroed(table("events", 16400, 500)), 16500, at(12, 0, 0));
        let a = assess(&t, Some(&base));
        assert_eq!(a.status, TableStatus::Wiped);
    }

    /// Counted against the catalog's estimate (no baseline, counters zeroed): within its noise
    /// (5 %, at least 2 rows) intact; short by more but not by half unknown (routine deletes
    /// since the estimate and a loss look alike); under half partial; none wiped.
    #[test]
    fn a_count_against_the_estimate_allows_its_noise_only() {
        let t = zeroed(table("events", 16400, 1000));
        let unknown = assess(&t, None);
        let status = |counted| assess_counted(&t, None, counted, false, unknown).status;
        assert_eq!(status(1000), TableStatus::Intact);
        assert_eq!(status(950), TableStatus::Intact);
        assert_eq!(status(949), TableStatus::Unknown);
        assert_eq!(status(500), TableStatus::Unknown);
        assert_eq!(status(499), TableStatus::Partial);
        assert_eq!(status(0), TableStatus::Wiped);
        let small = zeroed(table("tags", 16401, 19));
        let a = assess(&small, None);
        assert_eq!(
            assess_counted(&small, None, 17, false, a).status,
            TableStatus::Intact
        );
        assert_eq!(
            assess_counted(&small, None, 10, false, a).status,
            TableStatus::Unknown
        );
    }

    /// Counters that ran since the rows arrived are not restarted.
    #[test]
    fn running_counters_are_not_drift() {
        let mut t = table("events", 16400, 81);
        t.n_live_tup = Some(0);
        assert!(!assess(&t, None).counters_restarted);
    }
}
