//! The report's table of tables: every table's counters, expected and missing rows, status
//! and the finding that explains it, and the tables gone since the baseline. Computed once, from
//! the facts and the ranked findings.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::analysis::Analysis;
use crate::analysis::facts::Facts;
use crate::analysis::finding::Kind;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableRow {
    pub schema: String,
    pub name: String,
    pub inserts: Option<i64>,
    pub updates: Option<i64>,
    pub deletes: Option<i64>,
    pub live_rows: Option<i64>,
    /// The rows a `count(*)` right after the snapshot found, when the counters could not say
    /// (they restarted or are not visible): the status and `missing_rows` rest on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counted_rows: Option<i64>,
    pub dead_rows: Option<i64>,
    pub expected_rows: Option<i64>,
    /// `baseline` (exact), `counters` (inferred: inserts − deletes), `catalog` (reltuples, an
    /// estimate: counters restarted, no baseline, rows counted) or `none`.
    pub expected_from: &'static str,
    /// Expected − live, when positive.
    pub missing_rows: Option<i64>,
    /// `wiped`, `partial`, `intact`, `never_populated`, `unknown`.
    pub status: &'static str,
    /// When the table's counters restarted, if they did: its status reads "counters since T".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counters_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The kind of the first hypothesis, in rank order, that lists the table.
    pub explanation: Option<Kind>,
    pub explanation_rank: Option<usize>,
}

/// One row per table now, then one per baseline table that is gone, sorted by name.
pub fn table_rows(facts: &Facts, analysis: &Analysis) -> Vec<TableRow> {
    let evidence = facts.evidence;
    let mut tables: Vec<TableRow> = facts
        .tables
        .iter()
        .map(|t| {
            let explanation = analysis.explanation(&t.name);
            TableRow {
                schema: t.stats.schema.clone(),
                name: t.stats.name.clone(),
                inserts: t.stats.n_tup_ins,
                updates: t.stats.n_tup_upd,
                deletes: t.stats.n_tup_del,
                live_rows: t.stats.n_live_tup,
                counted_rows: t.counted,
                dead_rows: t.stats.n_dead_tup,
                expected_rows: t.expected,
                expected_from: t.expected_from.as_str(),
                missing_rows: t.expected.map(|_| t.missing()).filter(|m| *m > 0),
                status: t.status.as_str(),
                counters_since: evidence
                    .database
                    .as_ref()
                    .filter(|_| t.counters_restarted)
                    .and_then(crate::analysis::status::counters_since),
                explanation: explanation.map(|f| f.kind),
                explanation_rank: explanation.map(|f| f.rank),
            }
        })
        .collect();
    // Tables that are gone since the baseline.
    for t in &facts.gone {
        let name = t.qualified_name();
        let explanation = analysis.explanation(&name);
        tables.push(TableRow {
            schema: t.schema.clone(),
            name: t.name.clone(),
            inserts: None,
            updates: None,
            deletes: None,
            live_rows: None,
            counted_rows: None,
            dead_rows: None,
            expected_rows: t.n_live_tup,
            expected_from: "baseline",
            missing_rows: t.n_live_tup.filter(|n| *n > 0),
            status: "wiped",
            counters_since: None,
            explanation: explanation.map(|f| f.kind),
            explanation_rank: explanation.map(|f| f.rank),
        });
    }
    tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));

    tables
}

/// `schema.name` of every table that lost rows (wiped or partial).
pub fn affected(tables: &[TableRow]) -> BTreeSet<String> {
    tables
        .iter()
        .filter(|t| t.status == "wiped" || t.status == "partial")
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect()
}
