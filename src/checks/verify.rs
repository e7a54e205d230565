//! `verify`: after a restore, is everything back? Compares the live database with a baseline
//! snapshot taken before the incident, check by check:
//!
//! * every baseline table exists (schema and name) with its rows back within a tolerance;
//! * no child row points at a missing parent along any foreign-key edge the baseline or the live
//!   database knows (a restore can bring data back without its constraints, and a data-only
//!   restore with triggers disabled can bring orphans back under a valid constraint);
//! * no serial or identity sequence is behind its column's max (the next insert would fail
//!   with a duplicate key: the classic post-restore failure);
//! * what changed at the cluster level, stated plainly.
//!
//! Row estimates follow pg-forensics.md: after a crash, a point-in-time recovery or
//! `pg_stat_reset()`, `n_live_tup` reads 0 on tables that hold all their rows, while
//! `pg_class.reltuples` survives (a pg_restore even sets it at CREATE INDEX time). So the live
//! counter is used only when the table's statistics show any activity at all; otherwise
//! `reltuples`; an empty main fork is 0 rows whatever the statistics say. Each row count says
//! which estimate it came from.
//!
//! Pure: the live facts come in as `LiveProbes` (filled by `db::verify`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::checks::{quote_ident, quote_literal, quote_qualified};
use crate::evidence::{DatabaseSnapshot, ForeignKey, TableStats};

// The live facts verify judges are gathered by `db::verify` into `evidence::probes`.
pub use crate::evidence::probes::{
    ExactCounts, ForeignKeyEdge, LiveProbes, ORPHAN_SAMPLE, OrphanProbe, OrphanResult,
    SequenceProbe,
};

/// The value of the `format` field of `verify --format json`.
/// `/2`: a table check's `source`/`baseline_source` (how rows were counted) became
/// `rows_from`/`baseline_rows_from`; `source` is a citation in every pgtriage contract.
pub const VERIFY_FORMAT: &str = "pgtriage-verify/2";

/// Default tolerance: estimates drift by a few percent between ANALYZE runs.
pub const DEFAULT_TOLERANCE_PCT: f64 = 5.0;

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Rows may be this many percent below the baseline before the table fails.
    pub tolerance_pct: f64,
    /// Only these tables (`schema.name` or a bare `name` matching any schema); empty = all.
    pub tables: Vec<String>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            tolerance_pct: DEFAULT_TOLERANCE_PCT,
            tables: Vec::new(),
        }
    }
}

impl VerifyOptions {
    /// Whether `schema.name` is selected by `--tables`.
    pub fn selects(&self, schema: &str, name: &str) -> bool {
        self.tables.is_empty()
            || self.tables.iter().any(|t| match t.split_once('.') {
                Some((s, n)) => s == schema && n == name,
                None => t == name,
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
    /// Could not be checked (no estimate, a timeout, the budget): not a pass.
    Unverified,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Fail => "fail",
            CheckStatus::Unverified => "unverified",
        }
    }
}

/// Where a row count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowSource {
    /// `count(*)` (`--exact`).
    Count,
    /// `pg_stat_user_tables.n_live_tup`.
    NLiveTup,
    /// `pg_class.reltuples` (statistics were empty: reset, crash, point-in-time recovery).
    Reltuples,
    /// The planner's estimate (`EXPLAIN`): pages on disk × rows per page guessed from the column
    /// types. Rough, but needs no ANALYZE: for a table never analyzed whose statistics are empty.
    Planner,
    /// The main fork is empty: no row can exist.
    EmptyFile,
    /// No estimate possible (statistics empty and the table never analyzed).
    None,
}

impl RowSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RowSource::Count => "count(*)",
            RowSource::NLiveTup => "n_live_tup",
            RowSource::Reltuples => "reltuples",
            RowSource::Planner => "planner",
            RowSource::EmptyFile => "empty file",
            RowSource::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RowEstimate {
    pub rows: Option<i64>,
    pub source: RowSource,
}

/// The best row estimate the catalog and statistics give, without reading the table.
pub fn estimate_rows(t: &TableStats) -> RowEstimate {
    if t.relpages == 0 && t.size_bytes == Some(0) {
        return RowEstimate {
            rows: Some(0),
            source: RowSource::EmptyFile,
        };
    }
    if let Some(live) = t.n_live_tup
        && statistics_show_activity(t)
    {
        return RowEstimate {
            rows: Some(live),
            source: RowSource::NLiveTup,
        };
    }
    if t.reltuples >= 0.0 {
        return RowEstimate {
            rows: Some(t.reltuples.round() as i64),
            source: RowSource::Reltuples,
        };
    }
    RowEstimate {
        rows: None,
        source: RowSource::None,
    }
}

/// Why the baseline's `n_live_tup` cannot be right, when its own catalog says so: the table
/// was vacuumed or analyzed (so `reltuples` is a count of its pages), it has not grown a page
/// since (`relpages` × 8 kB is its size), and `n_live_tup` claims more rows than those pages can
/// hold. PostgreSQL 15 leaves exactly that after an INSERT and a
/// VACUUM in the same session (the session's insert count is flushed after VACUUM has set the
/// live count: 1,000 rows show as 2,000). verify then compares `reltuples` and says so.
pub fn contradicted_estimate(b: &TableStats) -> Option<String> {
    let live = b.n_live_tup?;
    let measured = b.last_vacuum.is_some()
        || b.last_autovacuum.is_some()
        || b.last_analyze.is_some()
        || b.last_autoanalyze.is_some();
    if !measured || b.reltuples < 0.0 || b.relpages <= 0 {
        return None;
    }
    let size = b.size_bytes?;
    if size != b.relpages * 8192 {
        return None;
    }
    // Either more rows than any 8 kB page can hold (MaxHeapTuplesPerPage = 291), or a table
    // only ever inserted into (no update, no delete, no fillfactor: its pages are filled in
    // order) claiming more rows than the free space of its last page could take.
    let impossible = live as f64 > b.relpages as f64 * 291.0;
    let per_page = b.reltuples / b.relpages as f64;
    let packed = b.n_tup_upd == Some(0)
        && b.n_tup_del == Some(0)
        && !b.reloptions.iter().any(|o| o.starts_with("fillfactor="));
    let overfull = packed && live as f64 > b.reltuples + per_page.max(1.0);
    if !(impossible || overfull) {
        return None;
    }
    Some(format!(
        "compared reltuples {}: the baseline's n_live_tup {live} is contradicted by its catalog (relpages {} = the table's size, unchanged since VACUUM/ANALYZE counted reltuples; PostgreSQL 15 double-counts an INSERT followed by VACUUM in the same session). collect --exact-counts records a count instead",
        b.reltuples.round() as i64,
        b.relpages
    ))
}

/// False when every counter is zero and no vacuum/analyze is recorded: the state a crash, a
/// point-in-time recovery or `pg_stat_reset()` leaves (and a table nobody touched yet).
fn statistics_show_activity(t: &TableStats) -> bool {
    let counters = [
        t.n_tup_ins,
        t.n_tup_upd,
        t.n_tup_del,
        t.n_live_tup,
        t.n_dead_tup,
        t.n_mod_since_analyze,
        t.vacuum_count,
        t.autovacuum_count,
        t.analyze_count,
        t.autoanalyze_count,
    ];
    counters.iter().any(|c| c.is_some_and(|v| v != 0))
        || t.last_vacuum.is_some()
        || t.last_autovacuum.is_some()
        || t.last_analyze.is_some()
        || t.last_autoanalyze.is_some()
}

/// The foreign-key edges to check: every constraint of the baseline and of the live database
/// (by child table and name) whose child and parent tables both exist now. A baseline edge
/// missing now is checked along the baseline's columns: that is where orphans hide.
pub fn foreign_key_edges(
    baseline: &DatabaseSnapshot,
    now: &DatabaseSnapshot,
    options: &VerifyOptions,
) -> Vec<ForeignKeyEdge> {
    let present: BTreeSet<(&str, &str)> = now
        .tables
        .iter()
        .map(|t| (t.schema.as_str(), t.name.as_str()))
        .collect();
    let key = |fk: &ForeignKey| (fk.schema.clone(), fk.table.clone(), fk.name.clone());
    let mut edges: BTreeMap<(String, String, String), ForeignKeyEdge> = BTreeMap::new();
    for fk in &baseline.foreign_keys {
        edges.insert(
            key(fk),
            ForeignKeyEdge {
                fk: fk.clone(),
                in_baseline: true,
                in_database: false,
            },
        );
    }
    for fk in &now.foreign_keys {
        edges
            .entry(key(fk))
            .and_modify(|e| {
                e.in_database = true;
                // Check what the database enforces now.
                e.fk = fk.clone();
            })
            .or_insert(ForeignKeyEdge {
                fk: fk.clone(),
                in_baseline: false,
                in_database: true,
            });
    }
    edges
        .into_values()
        .filter(|e| {
            present.contains(&(e.fk.schema.as_str(), e.fk.table.as_str()))
                && present.contains(&(e.fk.ref_schema.as_str(), e.fk.ref_table.as_str()))
        })
        .filter(|e| {
            options.selects(&e.fk.schema, &e.fk.table)
                || options.selects(&e.fk.ref_schema, &e.fk.ref_table)
        })
        .collect()
}

/// The tables whose rows `--exact` should count: the baseline tables that exist now, selected.
pub fn tables_to_count(
    baseline: &DatabaseSnapshot,
    now: &DatabaseSnapshot,
    options: &VerifyOptions,
) -> Vec<(String, String)> {
    let present: BTreeSet<(&str, &str)> = now
        .tables
        .iter()
        .filter(|t| t.relkind != "p")
        .map(|t| (t.schema.as_str(), t.name.as_str()))
        .collect();
    baseline
        .tables
        .iter()
        .filter(|t| present.contains(&(t.schema.as_str(), t.name.as_str())))
        .filter(|t| options.selects(&t.schema, &t.name))
        .map(|t| (t.schema.clone(), t.name.clone()))
        .collect()
}

/// The live tables of the baseline that neither statistics nor the catalog can estimate: the
/// planner is asked about those (`db::verify::planner_estimates`).
pub fn tables_without_estimate(
    baseline: &DatabaseSnapshot,
    now: &DatabaseSnapshot,
    options: &VerifyOptions,
) -> Vec<(String, String)> {
    let wanted: BTreeSet<(String, String)> = tables_to_count(baseline, now, options)
        .into_iter()
        .collect();
    now.tables
        .iter()
        .filter(|t| wanted.contains(&(t.schema.clone(), t.name.clone())))
        .filter(|t| estimate_rows(t).source == RowSource::None)
        .map(|t| (t.schema.clone(), t.name.clone()))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    pub format: String,
    /// True when every check passed.
    pub passed: bool,
    /// Checks that failed or could not be verified.
    pub failures: usize,
    pub baseline: SnapshotLabel,
    pub current: SnapshotLabel,
    pub tolerance_pct: f64,
    /// Plain sentences on what the cluster-level facts say, most important first.
    pub verdict: Vec<String>,
    pub cluster: Vec<ClusterChange>,
    pub tables: Vec<TableCheck>,
    /// Tables present now but not in the baseline (`schema.name`).
    pub new_tables: Vec<String>,
    pub foreign_keys: Vec<ForeignKeyCheck>,
    pub sequences: Vec<SequenceCheck>,
    /// Present with `--exact`: the budget, what it cost, what it could not count.
    pub exact_count: Option<ExactCountSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotLabel {
    pub database: String,
    pub server: String,
    pub taken_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterChange {
    /// `system_identifier`, `timeline_id`, `postmaster_start_time`, `datid`, `stats_reset`,
    /// `bgwriter_stats_reset`, `in_recovery`.
    pub what: String,
    pub baseline: Option<String>,
    pub now: Option<String>,
    pub meaning: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableCheck {
    pub schema: String,
    pub name: String,
    pub status: CheckStatus,
    pub baseline_rows: Option<i64>,
    #[serde(rename = "baseline_rows_from")]
    pub baseline_source: RowSource,
    pub rows: Option<i64>,
    #[serde(rename = "rows_from")]
    pub source: RowSource,
    /// Baseline rows minus rows now, when both are known and positive.
    pub missing_rows: Option<i64>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForeignKeyCheck {
    pub name: String,
    /// `schema.table(columns)` → `schema.table(columns)`.
    pub child: String,
    pub parent: String,
    pub status: CheckStatus,
    pub in_baseline: bool,
    pub in_database: bool,
    pub orphans: Option<u64>,
    /// True when the count stopped at the probe's limit (there may be more).
    pub orphans_capped: bool,
    pub sample: Vec<String>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequenceCheck {
    pub sequence: String,
    /// `schema.table.column`.
    pub column: String,
    pub kind: String,
    pub status: CheckStatus,
    /// What the next `nextval()` would return.
    pub next_value: Option<i64>,
    pub column_max: Option<i64>,
    /// The statement that fixes it (never run by pgtriage).
    pub fix: Option<String>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExactCountSummary {
    pub budget_ms: u64,
    pub spent_ms: u64,
    pub counted: usize,
    /// `schema.name: reason`.
    pub not_counted: Vec<String>,
}

fn label(s: &DatabaseSnapshot) -> SnapshotLabel {
    SnapshotLabel {
        database: s.server.database.clone(),
        server: format!("{}:{}", s.server.host, s.server.port),
        taken_at: s.server.server_time,
    }
}

/// Runs every check. `now` is a fresh snapshot of the live database; `probes` what
/// `db::verify` measured on it.
pub fn verify(
    baseline: &DatabaseSnapshot,
    now: &DatabaseSnapshot,
    probes: &LiveProbes,
    options: &VerifyOptions,
) -> VerifyReport {
    let (verdict, cluster) = cluster_changes(baseline, now);
    let tables = table_checks(baseline, now, probes, options);
    let baseline_names: BTreeSet<(&str, &str)> = baseline
        .tables
        .iter()
        .map(|t| (t.schema.as_str(), t.name.as_str()))
        .collect();
    let new_tables: Vec<String> = now
        .tables
        .iter()
        .filter(|t| !baseline_names.contains(&(t.schema.as_str(), t.name.as_str())))
        .filter(|t| options.selects(&t.schema, &t.name))
        .map(|t| t.qualified_name())
        .collect();
    let foreign_keys: Vec<ForeignKeyCheck> = probes.orphans.iter().map(foreign_key_check).collect();
    let mut sequences: Vec<SequenceCheck> = probes
        .sequences
        .iter()
        .filter(|s| options.selects(&s.table_schema, &s.table))
        .map(sequence_check)
        .collect();
    sequences.sort_by(|a, b| (&a.column, &a.sequence).cmp(&(&b.column, &b.sequence)));
    let exact_count = probes.exact_counts.as_ref().map(|e| ExactCountSummary {
        budget_ms: e.budget_ms,
        spent_ms: e.spent_ms,
        counted: e.counted.len(),
        not_counted: e
            .not_counted
            .iter()
            .map(|(t, why)| format!("{t}: {why}"))
            .collect(),
    });
    let failures = tables
        .iter()
        .map(|t| t.status)
        .chain(foreign_keys.iter().map(|f| f.status))
        .chain(sequences.iter().map(|s| s.status))
        .filter(|s| *s != CheckStatus::Pass)
        .count();
    VerifyReport {
        format: VERIFY_FORMAT.to_string(),
        passed: failures == 0,
        failures,
        baseline: label(baseline),
        current: label(now),
        tolerance_pct: options.tolerance_pct,
        verdict,
        cluster,
        tables,
        new_tables,
        foreign_keys,
        sequences,
        exact_count,
    }
}

fn table_checks(
    baseline: &DatabaseSnapshot,
    now: &DatabaseSnapshot,
    probes: &LiveProbes,
    options: &VerifyOptions,
) -> Vec<TableCheck> {
    let current: BTreeMap<(&str, &str), &TableStats> = now
        .tables
        .iter()
        .map(|t| ((t.schema.as_str(), t.name.as_str()), t))
        .collect();
    let mut checks = Vec::new();
    for b in baseline
        .tables
        .iter()
        .filter(|b| options.selects(&b.schema, &b.name))
    {
        let estimated = estimate_rows(b);
        let contradicted = contradicted_estimate(b);
        let expected = match probes.baseline_counts.get(&b.qualified_name()) {
            Some(&n) => RowEstimate {
                rows: Some(n),
                source: RowSource::Count,
            },
            // The catalog contradicts n_live_tup: compare reltuples, never fail on the estimate.
            None if contradicted.is_some() => RowEstimate {
                rows: Some(b.reltuples.round() as i64),
                source: RowSource::Reltuples,
            },
            None => estimated,
        };
        let mut check = TableCheck {
            schema: b.schema.clone(),
            name: b.name.clone(),
            status: CheckStatus::Pass,
            baseline_rows: expected.rows,
            baseline_source: expected.source,
            rows: None,
            source: RowSource::None,
            missing_rows: None,
            note: String::new(),
        };
        let Some(t) = current.get(&(b.schema.as_str(), b.name.as_str())) else {
            check.status = CheckStatus::Fail;
            check.note = "table is missing".to_string();
            checks.push(check);
            continue;
        };
        let mut notes = Vec::new();
        if expected.source == RowSource::Count && estimated.rows != expected.rows {
            notes.push(format!(
                "baseline counted exactly ({} rows); its estimate said {} ({}), reltuples {}",
                expected.rows.unwrap_or(0),
                estimated
                    .rows
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "nothing".into()),
                estimated.source.as_str(),
                b.reltuples
            ));
        }
        if expected.source == RowSource::Reltuples
            && let Some(why) = &contradicted
        {
            notes.push(why.clone());
        }
        if t.oid != b.oid {
            notes.push(format!(
                "re-created since the baseline (oid {} → {})",
                b.oid, t.oid
            ));
        }
        if b.relkind == "p" || t.relkind == "p" {
            notes.push("partitioned: its partitions are checked one by one".to_string());
            check.note = notes.join("; ");
            checks.push(check);
            continue;
        }
        let key = t.qualified_name();
        let exact = probes.exact_counts.as_ref();
        let observed = match exact.and_then(|e| e.counted.get(&key)) {
            Some(&n) => RowEstimate {
                rows: Some(n),
                source: RowSource::Count,
            },
            None => {
                if let Some(why) = exact.and_then(|e| e.not_counted.get(&key)) {
                    notes.push(format!("not counted ({why}); estimated instead"));
                }
                match (estimate_rows(t), probes.planner_estimates.get(&key)) {
                    (
                        RowEstimate {
                            source: RowSource::None,
                            ..
                        },
                        Some(&rows),
                    ) => {
                        notes.push(
                            "never analyzed and statistics empty: the planner's estimate from \
                             the file size is rough (it fails a table only when most rows are \
                             gone); --exact counts"
                                .to_string(),
                        );
                        RowEstimate {
                            rows: Some(rows),
                            source: RowSource::Planner,
                        }
                    }
                    (estimate, _) => estimate,
                }
            }
        };
        check.rows = observed.rows;
        check.source = observed.source;
        if observed.source == RowSource::Reltuples {
            notes.push(
                "statistics are empty (reset, crash or point-in-time recovery): estimated from \
                 pg_class.reltuples, which only VACUUM/ANALYZE refresh; --exact counts"
                    .to_string(),
            );
        }
        match (expected.rows, observed.rows) {
            (None, _) => notes.push("the baseline has no row estimate for it".to_string()),
            (Some(_), None) => {
                check.status = CheckStatus::Unverified;
                notes.push(
                    "no estimate (statistics empty, never analyzed): rerun with --exact"
                        .to_string(),
                );
            }
            (Some(want), Some(have)) => {
                let missing = want - have;
                let allowed = (want as f64 * options.tolerance_pct / 100.0).floor() as i64;
                if missing > 0 {
                    check.missing_rows = Some(missing);
                }
                if observed.source == RowSource::Planner {
                    // Rows per page are guessed from the column types: good for "most rows
                    // are gone", not for a tolerance of a few percent.
                    check.status = if missing > want / 2 {
                        CheckStatus::Fail
                    } else {
                        CheckStatus::Unverified
                    };
                    notes.insert(
                        0,
                        format!(
                            "about {have} rows by the planner's estimate, {want} in the baseline"
                        ),
                    );
                } else if missing > allowed {
                    check.status = CheckStatus::Fail;
                    notes.insert(
                        0,
                        format!(
                            "{missing} of {want} rows missing ({:.1}%, tolerance {}%)",
                            missing as f64 * 100.0 / want as f64,
                            options.tolerance_pct
                        ),
                    );
                } else if have > want {
                    notes.push(format!("{} more rows than the baseline", have - want));
                }
            }
        }
        check.note = notes.join("; ");
        checks.push(check);
    }
    checks
}

fn fk_side(schema: &str, table: &str, columns: &[String]) -> String {
    format!("{schema}.{table}({})", columns.join(", "))
}

fn foreign_key_check(p: &OrphanProbe) -> ForeignKeyCheck {
    let fk = &p.edge.fk;
    let mut check = ForeignKeyCheck {
        name: fk.name.clone(),
        child: fk_side(&fk.schema, &fk.table, &fk.columns),
        parent: fk_side(&fk.ref_schema, &fk.ref_table, &fk.ref_columns),
        status: CheckStatus::Pass,
        in_baseline: p.edge.in_baseline,
        in_database: p.edge.in_database,
        orphans: None,
        orphans_capped: false,
        sample: Vec::new(),
        note: String::new(),
    };
    let mut notes = Vec::new();
    if p.edge.in_baseline && !p.edge.in_database {
        check.status = CheckStatus::Fail;
        notes.push(format!(
            "constraint missing: the baseline had it, the database no longer enforces it (a DROP … \
             CASCADE removes it silently; so does a pg_restore that failed on it). Re-create it: \
             ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}){}",
            quote_qualified(&fk.schema, &fk.table),
            quote_ident(&fk.name),
            fk.columns
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            quote_qualified(&fk.ref_schema, &fk.ref_table),
            fk.ref_columns
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            on_delete_clause(&fk.on_delete),
        ));
    }
    match &p.result {
        OrphanResult::Checked {
            orphans,
            capped,
            sample,
        } => {
            check.orphans = Some(*orphans);
            check.orphans_capped = *capped;
            check.sample = sample.clone();
            if *orphans > 0 {
                check.status = CheckStatus::Fail;
                notes.insert(
                    0,
                    format!(
                        "{}{} child rows point at a missing parent",
                        orphans,
                        if *capped { "+" } else { "" }
                    ),
                );
            }
        }
        OrphanResult::NotChecked { reason } => {
            if check.status == CheckStatus::Pass {
                check.status = CheckStatus::Unverified;
            }
            notes.push(format!("orphans not checked: {reason}"));
        }
    }
    check.note = notes.join("; ");
    check
}

fn on_delete_clause(action: &str) -> &'static str {
    match action {
        "cascade" => " ON DELETE CASCADE",
        "restrict" => " ON DELETE RESTRICT",
        "set_null" => " ON DELETE SET NULL",
        "set_default" => " ON DELETE SET DEFAULT",
        _ => "",
    }
}

/// What the next `nextval()` returns.
pub fn next_value(last_value: i64, is_called: bool, increment: i64) -> i64 {
    if is_called {
        last_value.saturating_add(increment)
    } else {
        last_value
    }
}

fn sequence_check(p: &SequenceProbe) -> SequenceCheck {
    let mut check = SequenceCheck {
        sequence: format!("{}.{}", p.schema, p.name),
        column: format!("{}.{}.{}", p.table_schema, p.table, p.column),
        kind: p.kind.clone(),
        status: CheckStatus::Pass,
        next_value: p
            .last_value
            .map(|v| next_value(v, p.is_called, p.increment)),
        column_max: p.column_max,
        fix: None,
        note: String::new(),
    };
    if let Some(e) = &p.error {
        check.status = CheckStatus::Unverified;
        check.note = format!("not checked: {e}");
        return check;
    }
    if p.increment < 0 {
        check.note = "descending sequence: not checked".to_string();
        return check;
    }
    let (Some(next), Some(max)) = (check.next_value, p.column_max) else {
        check.note = if p.column_max.is_none() {
            "table is empty".to_string()
        } else {
            "sequence not readable".to_string()
        };
        return check;
    };
    if next <= max {
        check.status = CheckStatus::Fail;
        check.note = format!(
            "behind its column: the next insert gets {next}, which column max {max} already has \
             (duplicate key)"
        );
        check.fix = Some(format!(
            "SELECT setval({}, (SELECT max({}) FROM {}));",
            quote_literal(&quote_qualified(&p.schema, &p.name)),
            quote_ident(&p.column),
            quote_qualified(&p.table_schema, &p.table),
        ));
    }
    check
}

fn show_time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
}

/// Compares the cluster-level facts and says what they mean, most important first.
fn cluster_changes(
    baseline: &DatabaseSnapshot,
    now: &DatabaseSnapshot,
) -> (Vec<String>, Vec<ClusterChange>) {
    let (b, n) = (&baseline.server, &now.server);
    let mut verdict = Vec::new();
    let mut changes = Vec::new();
    let mut change = |what: &str, bv: Option<String>, nv: Option<String>, meaning: String| {
        changes.push(ClusterChange {
            what: what.to_string(),
            baseline: bv,
            now: nv,
            meaning,
        });
    };

    let mut restored = false;
    if let (Some(bs), Some(ns)) = (&b.system_identifier, &n.system_identifier)
        && bs != ns
    {
        restored = true;
        let m = "this is a different cluster than the baseline: a restore happened (a new \
                 initdb, then a dump loaded into it or a different server altogether)"
            .to_string();
        verdict.push(m.clone());
        change("system_identifier", Some(bs.clone()), Some(ns.clone()), m);
    }
    if let (Some(bt), Some(nt)) = (b.timeline_id, n.timeline_id)
        && bt != nt
    {
        restored = true;
        let m = if nt > bt {
            format!(
                "the timeline moved from {bt} to {nt}: a point-in-time recovery or a replica \
                 promotion happened; rows committed on the old timeline after the recovery \
                 target are not in this database"
            )
        } else {
            format!(
                "the timeline went back from {bt} to {nt}: this server was restored from a \
                 backup older than the baseline"
            )
        };
        verdict.push(m.clone());
        change("timeline_id", Some(bt.to_string()), Some(nt.to_string()), m);
    }
    if let (Some(bd), Some(nd)) = (b.datid, n.datid)
        && bd != nd
    {
        restored = true;
        let m = format!(
            "the database was dropped and re-created (oid {bd} → {nd}): a dump/restore \
             (pg_dump → DROP DATABASE → CREATE DATABASE → pg_restore)"
        );
        verdict.push(m.clone());
        change("datid", Some(bd.to_string()), Some(nd.to_string()), m);
    }
    if b.postmaster_start_time.is_some() && b.postmaster_start_time != n.postmaster_start_time {
        let m = format!(
            "the server restarted since the baseline (started {})",
            show_time(n.postmaster_start_time).unwrap_or_else(|| "at an unknown time".into())
        );
        if !restored {
            verdict.push(m.clone());
        }
        change(
            "postmaster_start_time",
            show_time(b.postmaster_start_time),
            show_time(n.postmaster_start_time),
            m,
        );
    }
    if baseline.bgwriter_stats_reset.is_some()
        && baseline.bgwriter_stats_reset != now.bgwriter_stats_reset
    {
        let m = "cluster statistics were reset (crash recovery or point-in-time recovery \
                 zeroes them): table counters started again from 0"
            .to_string();
        if !restored {
            verdict.push(m.clone());
        }
        change(
            "bgwriter_stats_reset",
            show_time(baseline.bgwriter_stats_reset),
            show_time(now.bgwriter_stats_reset),
            m,
        );
    }
    let reset_b = baseline.database_stats.as_ref().and_then(|d| d.stats_reset);
    let reset_n = now.database_stats.as_ref().and_then(|d| d.stats_reset);
    if reset_n.is_some() && reset_n != reset_b {
        let m = format!(
            "pg_stat_reset() (or a single-table reset) ran at {}: n_live_tup is not a row count \
             until the next ANALYZE",
            show_time(reset_n).unwrap_or_default()
        );
        verdict.push(m.clone());
        change("stats_reset", show_time(reset_b), show_time(reset_n), m);
    }
    if n.in_recovery == Some(true) {
        let m = "the server is still in recovery (paused at its target, or a standby): it \
                 accepts no writes, and tables locked by the replay may not answer until it is \
                 promoted (SELECT pg_wal_replay_resume() or pg_promote())"
            .to_string();
        verdict.push(m.clone());
        change(
            "in_recovery",
            b.in_recovery.map(|v| v.to_string()),
            Some("true".into()),
            m,
        );
    }
    if verdict.is_empty() {
        verdict.push(
            "same cluster, same timeline, no restart and no statistics reset since the baseline"
                .to_string(),
        );
    }
    (verdict, changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::zeroed;
    use crate::evidence::{DatabaseStats, ServerInfo};
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0)
            .single()
            .unwrap()
    }

    fn table(name: &str, oid: u32, live: i64, reltuples: f64) -> TableStats {
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
            n_mod_since_analyze: Some(0),
            n_ins_since_vacuum: Some(0),
            last_vacuum: None,
            last_autovacuum: None,
            last_analyze: Some(at(12, 0)),
            last_autoanalyze: None,
            vacuum_count: Some(0),
            autovacuum_count: Some(0),
            analyze_count: Some(1),
            autoanalyze_count: Some(0),
            reltuples,
            relpages: 7,
            size_bytes: Some(7 * 8192),
            catalog_xmin_age: Some(10),
            catalog_commit_time: None,
            reloptions: Vec::new(),
        }
    }

    fn snapshot(tables: Vec<TableStats>, fks: Vec<ForeignKey>) -> DatabaseSnapshot {
        DatabaseSnapshot {
            server: ServerInfo {
                version_num: 150018,
                version: "PostgreSQL 15.18".into(),
                host: "localhost".into(),
                port: 5432,
                database: "shop".into(),
                user: "postgres".into(),
                current_database: None,
                datid: Some(16390),
                system_identifier: Some("7711338868751096573".into()),
                timeline_id: Some(1),
                checkpoint_time: None,
                postmaster_start_time: Some(at(11, 0)),
                in_recovery: Some(false),
                server_time: at(12, 30),
            },
            database_stats: Some(DatabaseStats {
                xact_commit: 100,
                xact_rollback: 0,
                tup_returned: 0,
                tup_fetched: 0,
                tup_inserted: 0,
                tup_updated: 0,
                tup_deleted: 0,
                stats_reset: None,
            }),
            archiver: None,
            bgwriter_stats_reset: Some(at(10, 0)),
            settings: BTreeMap::new(),
            tables,
            foreign_keys: fks,
            sequences: Vec::new(),
            dropped_columns: Vec::new(),
            not_visible: Vec::new(),
        }
    }

    fn fk(child: &str, parent: &str, on_delete: &str) -> ForeignKey {
        ForeignKey {
            name: format!("{child}_parent_id_fkey"),
            schema: "public".into(),
            table: child.into(),
            columns: vec!["parent_id".into()],
            ref_schema: "public".into(),
            ref_table: parent.into(),
            ref_columns: vec!["id".into()],
            on_delete: on_delete.into(),
            on_update: "no_action".into(),
        }
    }

    #[test]
    fn zeroed_statistics_fall_back_to_reltuples_and_say_so() {
        let t = zeroed(table("parent", 1, 1000, 1000.0));
        assert_eq!(
            estimate_rows(&t),
            RowEstimate {
                rows: Some(1000),
                source: RowSource::Reltuples
            }
        );
        let live = table("parent", 1, 990, 1000.0);
        assert_eq!(estimate_rows(&live).source, RowSource::NLiveTup);
        assert_eq!(estimate_rows(&live).rows, Some(990));
    }

    #[test]
    fn an_n_live_tup_the_catalog_contradicts_is_not_what_verify_compares() {
        // PostgreSQL 15, INSERT of 1,000 rows then VACUUM ANALYZE in one session: n_live_tup
        // 2000 over 5 pages that hold 1,000 (reltuples), more than 291 rows a page could hold.
        let mut b = table("t", 1, 2000, 1000.0);
        b.relpages = 5;
        b.size_bytes = Some(5 * 8192);
        let why = contradicted_estimate(&b).expect("contradicted");
        assert!(why.contains("compared reltuples 1000"), "{why}");
        assert!(why.contains("n_live_tup 2000"), "{why}");
        // Wide rows, only ever inserted: the pages are full, 2,000 cannot be in 7 pages that
        // held 1,000.
        let wide = table("w", 2, 2000, 1000.0);
        assert!(contradicted_estimate(&wide).is_some());
        // Not contradicted: rows deleted before (free space the later inserts may have used),
        // a table grown since the count, a fillfactor, an estimate within a page's rows.
        let mut deleted = table("d", 3, 2000, 1000.0);
        deleted.n_tup_del = Some(500);
        assert_eq!(contradicted_estimate(&deleted), None);
        let mut grown = table("g", 4, 2000, 1000.0);
        grown.size_bytes = Some(12 * 8192);
        assert_eq!(contradicted_estimate(&grown), None);
        let mut fill = table("f", 5, 2000, 1000.0);
        fill.reloptions = vec!["fillfactor=50".into()];
        assert_eq!(contradicted_estimate(&fill), None);
        assert_eq!(contradicted_estimate(&table("c", 6, 1100, 1000.0)), None);
        let mut never = table("n", 7, 2000, 1000.0);
        never.last_analyze = None;
        assert_eq!(contradicted_estimate(&never), None);

        // verify compares reltuples then, says so, and passes a table that has its 1,000 rows.
        let baseline = snapshot(vec![b.clone()], vec![]);
        let mut now_t = b.clone();
        now_t.n_live_tup = Some(1000);
        let now = snapshot(vec![now_t], vec![]);
        let checks = table_checks(
            &baseline,
            &now,
            &LiveProbes::default(),
            &VerifyOptions::default(),
        );
        assert_eq!(checks[0].status, CheckStatus::Pass, "{:?}", checks[0]);
        assert_eq!(checks[0].baseline_source, RowSource::Reltuples);
        assert_eq!(checks[0].baseline_rows, Some(1000));
        assert!(
            checks[0].note.contains("contradicted"),
            "{}",
            checks[0].note
        );
    }

    #[test]
    fn an_empty_main_fork_is_zero_rows_whatever_reltuples_says() {
        let mut t = zeroed(table("child", 2, 0, -1.0));
        t.relpages = 0;
        t.size_bytes = Some(0);
        assert_eq!(estimate_rows(&t).rows, Some(0));
        assert_eq!(estimate_rows(&t).source, RowSource::EmptyFile);
        // Never analyzed, stats empty, but the file has pages: no estimate.
        let mut u = zeroed(table("child", 2, 0, -1.0));
        u.size_bytes = Some(8192);
        assert_eq!(estimate_rows(&u).source, RowSource::None);
    }

    #[test]
    fn missing_rows_beyond_tolerance_fail_and_within_pass() {
        let base = snapshot(
            vec![table("a", 1, 1000, 1000.0), table("b", 2, 1000, 1000.0)],
            vec![],
        );
        let now = snapshot(
            vec![table("a", 1, 960, 960.0), table("b", 2, 700, 1000.0)],
            vec![],
        );
        let r = verify(
            &base,
            &now,
            &LiveProbes::default(),
            &VerifyOptions::default(),
        );
        assert_eq!(r.tables[0].status, CheckStatus::Pass, "{:?}", r.tables[0]);
        assert_eq!(r.tables[0].missing_rows, Some(40));
        assert_eq!(r.tables[1].status, CheckStatus::Fail);
        assert!(
            r.tables[1]
                .note
                .starts_with("300 of 1000 rows missing (30.0%")
        );
        assert!(!r.passed);
        assert_eq!(r.failures, 1);
    }

    #[test]
    fn exact_counts_win_over_estimates_and_unfinished_ones_are_reported() {
        let base = snapshot(
            vec![table("a", 1, 1000, 1000.0), table("b", 2, 10, 10.0)],
            vec![],
        );
        let now = snapshot(
            vec![
                zeroed(table("a", 1, 0, 1000.0)),
                zeroed(table("b", 2, 0, 10.0)),
            ],
            vec![],
        );
        let probes = LiveProbes {
            exact_counts: Some(ExactCounts {
                budget_ms: 1000,
                spent_ms: 1000,
                counted: BTreeMap::from([("public.a".to_string(), 500)]),
                not_counted: BTreeMap::from([(
                    "public.b".to_string(),
                    "time budget spent".to_string(),
                )]),
            }),
            ..LiveProbes::default()
        };
        let r = verify(&base, &now, &probes, &VerifyOptions::default());
        assert_eq!(r.tables[0].source, RowSource::Count);
        assert_eq!(r.tables[0].status, CheckStatus::Fail);
        assert_eq!(r.tables[1].source, RowSource::Reltuples);
        assert!(r.tables[1].note.contains("not counted (time budget spent)"));
        let e = r.exact_count.unwrap();
        assert_eq!(e.counted, 1);
        assert_eq!(e.not_counted, vec!["public.b: time budget spent"]);
    }

    #[test]
    fn a_never_analyzed_table_with_empty_statistics_takes_the_planners_estimate() {
        let base = snapshot(vec![table("a", 1, 1000, 1000.0)], vec![]);
        let mut never = zeroed(table("a", 1, 0, -1.0));
        never.size_bytes = Some(6 * 8192);
        let now = snapshot(vec![never], vec![]);
        assert_eq!(
            tables_without_estimate(&base, &now, &VerifyOptions::default()),
            vec![("public".to_string(), "a".to_string())]
        );
        let bare = verify(
            &base,
            &now,
            &LiveProbes::default(),
            &VerifyOptions::default(),
        );
        assert_eq!(bare.tables[0].status, CheckStatus::Unverified);
        let probes = LiveProbes {
            planner_estimates: BTreeMap::from([("public.a".to_string(), 990)]),
            ..LiveProbes::default()
        };
        let r = verify(&base, &now, &probes, &VerifyOptions::default());
        assert_eq!(r.tables[0].source, RowSource::Planner);
        assert_eq!(
            r.tables[0].status,
            CheckStatus::Unverified,
            "too rough to pass"
        );
        assert!(
            r.tables[0]
                .note
                .starts_with("about 990 rows by the planner's estimate")
        );
        let gone = LiveProbes {
            planner_estimates: BTreeMap::from([("public.a".to_string(), 300)]),
            ..LiveProbes::default()
        };
        let r = verify(&base, &now, &gone, &VerifyOptions::default());
        assert_eq!(r.tables[0].status, CheckStatus::Fail, "most rows are gone");
    }

    #[test]
    fn missing_and_new_tables_are_listed() {
        let base = snapshot(
            vec![table("a", 1, 5, 5.0), table("gone", 2, 5, 5.0)],
            vec![],
        );
        let now = snapshot(
            vec![table("a", 1, 5, 5.0), table("fresh", 9, 0, -1.0)],
            vec![],
        );
        let r = verify(
            &base,
            &now,
            &LiveProbes::default(),
            &VerifyOptions::default(),
        );
        let gone = r.tables.iter().find(|t| t.name == "gone").unwrap();
        assert_eq!(gone.status, CheckStatus::Fail);
        assert_eq!(gone.note, "table is missing");
        assert_eq!(r.new_tables, vec!["public.fresh"]);
    }

    #[test]
    fn a_dropped_constraint_and_orphans_fail_with_the_fix_and_a_sample() {
        let base = snapshot(
            vec![table("parent", 1, 5, 5.0), table("child", 2, 5, 5.0)],
            vec![fk("child", "parent", "cascade")],
        );
        let now = snapshot(
            vec![table("parent", 3, 3, 3.0), table("child", 2, 5, 5.0)],
            vec![],
        );
        let edges = foreign_key_edges(&base, &now, &VerifyOptions::default());
        assert_eq!(edges.len(), 1);
        assert!(edges[0].in_baseline && !edges[0].in_database);
        let probes = LiveProbes {
            orphans: vec![OrphanProbe {
                edge: edges[0].clone(),
                result: OrphanResult::Checked {
                    orphans: 2,
                    capped: false,
                    sample: vec!["parent_id=4".into(), "parent_id=5".into()],
                },
            }],
            ..LiveProbes::default()
        };
        let r = verify(&base, &now, &probes, &VerifyOptions::default());
        let f = &r.foreign_keys[0];
        assert_eq!(f.status, CheckStatus::Fail);
        assert!(f.note.starts_with("2 child rows point at a missing parent"));
        assert!(f.note.contains(
            "ALTER TABLE public.child ADD CONSTRAINT child_parent_id_fkey FOREIGN KEY (parent_id) \
             REFERENCES public.parent (id) ON DELETE CASCADE"
        ));
        assert_eq!(f.sample, vec!["parent_id=4", "parent_id=5"]);
        assert!(
            r.tables[0]
                .note
                .contains("re-created since the baseline (oid 1 → 3)")
        );
    }

    #[test]
    fn a_sequence_behind_its_column_fails_with_the_setval_that_fixes_it() {
        let probe = SequenceProbe {
            schema: "public".into(),
            name: "Orders_id_seq".into(),
            table_schema: "public".into(),
            table: "order".into(),
            column: "id".into(),
            kind: "serial".into(),
            last_value: Some(900),
            is_called: true,
            increment: 1,
            column_max: Some(1000),
            error: None,
        };
        let c = sequence_check(&probe);
        assert_eq!(c.status, CheckStatus::Fail);
        assert_eq!(c.next_value, Some(901));
        assert_eq!(
            c.fix.as_deref(),
            Some(
                "SELECT setval('public.\"Orders_id_seq\"', (SELECT max(id) FROM public.\"order\"));"
            )
        );
        let ok = sequence_check(&SequenceProbe {
            last_value: Some(1000),
            ..probe.clone()
        });
        assert_eq!(ok.status, CheckStatus::Pass);
        // A fresh sequence (is_called = false) at 1000 hands out 1000: still a duplicate.
        let fresh = sequence_check(&SequenceProbe {
            last_value: Some(1000),
            is_called: false,
            ..probe
        });
        assert_eq!(fresh.status, CheckStatus::Fail);
    }

    #[test]
    fn cluster_changes_are_stated_plainly() {
        let base = snapshot(vec![], vec![]);
        let mut now = snapshot(vec![], vec![]);
        let same = verify(
            &base,
            &now,
            &LiveProbes::default(),
            &VerifyOptions::default(),
        );
        assert!(same.verdict[0].starts_with("same cluster"));
        assert!(same.passed);
        now.server.system_identifier = Some("1".into());
        now.server.postmaster_start_time = Some(at(12, 10));
        now.server.timeline_id = Some(2);
        let r = verify(
            &base,
            &now,
            &LiveProbes::default(),
            &VerifyOptions::default(),
        );
        assert!(
            r.verdict[0]
                .starts_with("this is a different cluster than the baseline: a restore happened")
        );
        assert!(r.verdict[1].contains("timeline moved from 1 to 2"));
        assert_eq!(r.cluster.len(), 3);
        assert!(r.passed, "cluster changes are facts, not failures");
    }

    #[test]
    fn tables_filter_selects_by_qualified_or_bare_name() {
        let o = VerifyOptions {
            tables: vec!["public.a".into(), "b".into()],
            ..VerifyOptions::default()
        };
        assert!(o.selects("public", "a"));
        assert!(!o.selects("other", "a"));
        assert!(o.selects("other", "b"));
        assert!(!o.selects("public", "c"));
    }
}
