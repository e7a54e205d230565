//! What `verify` and `audit` read from the live server and the working tree, beyond a
//! snapshot: plain values, gathered by `db::verify`, `db::audit` and `migrations::repo_scan`,
//! judged by the pure `checks`. Not part of the evidence file (they are read at check time),
//! but the same kind of thing: facts, no judgement.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::evidence::{ArchiverStats, ForeignKey};

/// How many offending keys an orphan check reports.
pub const ORPHAN_SAMPLE: usize = 5;

/// The live facts `verify` needs beyond a snapshot. Gathered by `db::verify`.
#[derive(Debug, Clone, Default)]
pub struct LiveProbes {
    /// `--exact`: `count(*)` per table under a time budget.
    pub exact_counts: Option<ExactCounts>,
    /// One per edge from `foreign_key_edges`.
    pub orphans: Vec<OrphanProbe>,
    /// Every sequence owned by a column (serial or identity).
    pub sequences: Vec<SequenceProbe>,
    /// `schema.name` → the planner's row estimate, for the tables `tables_without_estimate`
    /// names: from the file's page count and the row width of the column types, no ANALYZE.
    pub planner_estimates: BTreeMap<String, i64>,
    /// `schema.name` → the baseline's exact count (`collect --exact-counts`): compared instead
    /// of the baseline's estimate.
    pub baseline_counts: BTreeMap<String, i64>,
}

/// Exact row counts taken under a budget; what the budget did not allow is listed, not hidden.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExactCounts {
    pub budget_ms: u64,
    pub spent_ms: u64,
    /// `schema.name` → rows.
    pub counted: BTreeMap<String, i64>,
    /// `schema.name` → why it was not counted (budget spent, timeout, lock, permission).
    pub not_counted: BTreeMap<String, String>,
}

/// One foreign-key edge to check for orphans, with where the constraint is known from.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKeyEdge {
    pub fk: ForeignKey,
    pub in_baseline: bool,
    pub in_database: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrphanProbe {
    pub edge: ForeignKeyEdge,
    pub result: OrphanResult,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OrphanResult {
    /// `orphans` child rows (at most the probe's limit; `capped` when there may be more), and
    /// the first few offending keys as `col=value` text.
    Checked {
        orphans: u64,
        capped: bool,
        sample: Vec<String>,
    },
    NotChecked {
        reason: String,
    },
}

/// A sequence that feeds a column, and that column's current max.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceProbe {
    pub schema: String,
    pub name: String,
    pub table_schema: String,
    pub table: String,
    pub column: String,
    /// `serial` (owned by the column), `identity`, or `default` (a column DEFAULT nextval() on a
    /// sequence it does not own).
    pub kind: String,
    pub last_value: Option<i64>,
    pub is_called: bool,
    pub increment: i64,
    /// `max(column)`; `None` for an empty table.
    pub column_max: Option<i64>,
    /// Why the max could not be read (timeout, lock, permission).
    pub error: Option<String>,
}

/// What the server is configured to do, as `db::audit` read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerFacts {
    /// `pg_settings` name → setting (only the ones the audit needs; missing = not visible).
    pub settings: BTreeMap<String, String>,
    pub archiver: Option<ArchiverStats>,
    /// `pgaudit` in `pg_extension`.
    pub pgaudit_installed: bool,
    pub server_time: Option<DateTime<Utc>>,
}

/// A destructive statement found in the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoStatement {
    /// Relative to the repository root.
    pub path: String,
    pub line: u32,
    /// See `evidence::DestructiveOperation::kind`.
    pub kind: String,
    pub cascade: bool,
    pub objects: Vec<String>,
    pub statement: String,
    pub active: bool,
    /// Whether the file is a migration (schema history) rather than application code.
    pub migration: bool,
    pub note: Option<String>,
}
