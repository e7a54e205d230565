//! Joins the WAL's transactions (`evidence.wal`) to the findings: which transaction did what a
//! finding says, with its xid, commit LSN and time, and the exact rows per table. A WAL record
//! outweighs a statistics counter (`wal_record`); a finding whose only matching transaction
//! aborted is ruled out (`wal_aborted`); a committed loss transaction no finding explains becomes
//! a finding of its own, so a DELETE that no log line shows is still found.
//!
//! Relation files are mapped to tables through the snapshot (current relfilenode and oid), the
//! baseline (older relfilenodes), and one PostgreSQL rule: a table's first file has the table's
//! oid as its relfilenode, so the old file a TRUNCATE or DROP unlinks is often named by the oid
//! itself. A file whose `Storage CREATE` is inside the WAL read held exactly
//! `inserted − deleted` committed rows (`WalFile`), so TRUNCATE and DROP get exact row counts
//! when the WAL reaches back to the table's creation. Plain functions of the evidence.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::analysis::facts::Facts;
use crate::analysis::finding::{Finding, Kind};
use crate::analysis::scoring::Reason;
use crate::evidence::{WalFile, WalOutcome, WalTransaction, parse_lsn};

/// The transaction behind a finding, as the WAL shows it (the `transaction` field of a finding).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossTransaction {
    pub xid: u32,
    /// The LSN of its COMMIT (or ABORT) record: `recovery_target_lsn` with
    /// `recovery_target_inclusive = false` stops just before it.
    pub commit_lsn: Option<String>,
    pub commit_at: Option<DateTime<Utc>>,
    pub timeline: u32,
    /// `committed`, `aborted`, `prepared` (two-phase commit, in doubt) or `unfinished`.
    pub outcome: WalOutcome,
    /// What it did to each table, sorted by table.
    pub rows: Vec<TableRows>,
    /// `wal:LSN` of the COMMIT/ABORT record (of the PREPARE record when prepared and
    /// undecided; of its first record when unfinished).
    pub source: String,
    /// Two-phase commit: the PREPARE TRANSACTION record's LSN, time and gid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared_lsn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRows {
    /// `schema.name`.
    pub table: String,
    /// `deleted`, `truncated` or `dropped`.
    pub change: String,
    /// Rows removed, when the WAL shows them (one Heap DELETE record per row; for a TRUNCATE or
    /// DROP, the committed inserts − deletes of the old file since its creation).
    pub rows: Option<u64>,
}

/// The WAL's transactions resolved to tables once per analysis.
pub struct WalContext {
    resolved: Vec<(LossTransaction, BTreeSet<String>)>,
}

impl WalContext {
    pub fn new(facts: &Facts) -> Option<Self> {
        let wal = facts.evidence.wal.as_ref()?;
        let datid = facts
            .evidence
            .database
            .as_ref()
            .and_then(|d| d.server.datid);
        let mut by_file: HashMap<u32, String> = HashMap::new();
        let mut by_oid: HashMap<u32, String> = HashMap::new();
        if let Some(b) = &facts.evidence.baseline {
            for t in &b.tables {
                by_file.insert(t.relfilenode, t.qualified_name());
                by_oid.insert(t.oid, t.qualified_name());
            }
        }
        let mut current_oid: HashMap<u32, (String, u32)> = HashMap::new();
        for t in &facts.tables {
            by_file.insert(t.stats.relfilenode, t.name.clone());
            by_oid.insert(t.stats.oid, t.name.clone());
            current_oid.insert(t.stats.oid, (t.name.clone(), t.stats.relfilenode));
        }
        let tally: HashMap<u32, &WalFile> = wal.files.iter().map(|f| (f.relfilenode, f)).collect();
        // Old files named by the oid of their table (a table's first relfilenode is its oid).
        for tx in &wal.transactions {
            for f in &tx.dropped_files {
                if let Some(name) = by_oid.get(f).cloned() {
                    by_file.entry(*f).or_insert(name);
                }
            }
        }
        // Tables created inside the WAL read, by the LSN of their file's creation: a DROP just
        // before a CREATE of the same name is its previous incarnation.
        let created_at: HashMap<String, u64> = facts
            .tables
            .iter()
            .filter(|t| t.stats.relfilenode == t.stats.oid)
            .filter_map(|t| {
                let l = tally.get(&t.stats.relfilenode)?.created_lsn.as_deref()?;
                Some((t.name.clone(), parse_lsn(l)?))
            })
            .collect();
        let mut resolved = Vec::new();
        for tx in &wal.transactions {
            if let (Some(d), Some(t)) = (datid, tx.database_oid)
                && d != t
            {
                continue;
            }
            let rows = resolve(tx, &by_file, &current_oid, &tally, &created_at);
            if rows.is_empty() {
                continue;
            }
            let lsn = tx
                .end_lsn
                .clone()
                .or_else(|| tx.prepared_lsn.clone())
                .unwrap_or_else(|| tx.first_lsn.clone());
            let tables = rows.iter().map(|r| r.table.clone()).collect();
            resolved.push((
                LossTransaction {
                    xid: tx.xid,
                    commit_lsn: tx.end_lsn.clone(),
                    commit_at: tx.end_at,
                    timeline: tx.timeline,
                    outcome: tx.outcome,
                    rows,
                    source: format!("wal:{lsn}"),
                    prepared_lsn: tx.prepared_lsn.clone(),
                    prepared_at: tx.prepared_at,
                    gid: tx.gid.clone(),
                },
                tables,
            ));
        }
        Some(WalContext { resolved })
    }

    /// Every loss transaction the WAL shows on a known table, in commit-LSN order.
    pub fn transactions(&self) -> impl Iterator<Item = &LossTransaction> {
        self.resolved.iter().map(|(t, _)| t)
    }

    /// Attaches the finding's transaction and scores it. Returns the finding re-finished.
    pub fn judge(&self, mut finding: Finding) -> Finding {
        let change: &[&str] = match finding.kind {
            Kind::Delete => &["deleted"],
            Kind::Cascade => &["deleted", "truncated"],
            Kind::Truncate => &["truncated"],
            Kind::DropRecreate => &["dropped"],
            _ => return finding,
        };
        let wanted: BTreeSet<&str> = finding.tables.iter().map(String::as_str).collect();
        let fit = |tx: &LossTransaction| {
            tx.rows
                .iter()
                .filter(|r| {
                    wanted.contains(r.table.as_str()) && change.contains(&r.change.as_str())
                })
                .count()
        };
        let closeness = |tx: &LossTransaction| match (finding.at, tx.commit_at) {
            (Some(a), Some(b)) => (a - b).num_milliseconds().unsigned_abs(),
            _ => 0,
        };
        let pick = |outcome: WalOutcome| {
            self.resolved
                .iter()
                .map(|(tx, _)| tx)
                .filter(|tx| tx.outcome == outcome && fit(tx) > 0)
                .max_by(|a, b| {
                    fit(a)
                        .cmp(&fit(b))
                        .then(closeness(b).cmp(&closeness(a)))
                        .then(rows_of(a).cmp(&rows_of(b)))
                })
        };
        if let Some(tx) = pick(WalOutcome::Committed) {
            let text = format!(
                "WAL: xid {} committed at LSN {}{} (timeline {}): {}",
                tx.xid,
                tx.commit_lsn.as_deref().unwrap_or("?"),
                tx.commit_at
                    .map(|t| format!(", {}", t.format("%Y-%m-%d %H:%M:%S%.6f UTC")))
                    .unwrap_or_default(),
                tx.timeline,
                describe(tx)
            );
            finding.scored(Reason::WalRecord, tx.source.clone(), text);
            // The WAL was read and answered: no need to ask the reader to look there.
            finding.confirm.retain(|c| !c.starts_with("in WAL"));
            if finding.at.is_none() {
                finding.at = tx.commit_at;
            }
            finding.transaction = Some(tx.clone());
        } else if let Some(tx) = pick(WalOutcome::Aborted) {
            let text = format!(
                "WAL: xid {} aborted at LSN {}: {} never committed, so those rows were not removed",
                tx.xid,
                tx.commit_lsn.as_deref().unwrap_or("?"),
                describe(tx)
            );
            finding.scored(Reason::WalAborted, tx.source.clone(), text);
            finding.transaction = Some(tx.clone());
        } else if let Some(tx) = pick(WalOutcome::Prepared) {
            // Prepared, undecided: the rows are still there until COMMIT PREPARED. A fact, not
            // a score: it neither proves nor rules out the loss.
            finding.note(crate::analysis::finding::Fact::for_(
                tx.source.clone(),
                in_doubt(tx),
            ));
            finding.transaction = Some(tx.clone());
        }
        finding.finish()
    }

    /// Committed loss transactions no finding carries: each becomes a finding from WAL alone.
    pub fn unexplained(&self, findings: &[Finding], facts: &Facts) -> Vec<Finding> {
        let carried: BTreeSet<(u32, Option<&str>)> = findings
            .iter()
            .filter_map(|f| f.transaction.as_ref())
            .map(|t| (t.xid, t.commit_lsn.as_deref()))
            .collect();
        // Applications delete rows every day: only a dropped table or one the counters cannot
        // vouch for (lost rows, counters zeroed, or gone) gets a finding from WAL alone, and per set of tables
        // only the transaction that removed the most rows.
        let suspect = |name: &str| {
            facts
                .table(name)
                .is_none_or(|t| t.affected() || t.counters_zero())
        };
        let mut best: BTreeMap<&BTreeSet<String>, &LossTransaction> = BTreeMap::new();
        for (tx, tables) in &self.resolved {
            // A prepared transaction that removes rows is rare and always worth a line: it
            // holds its locks and takes the rows the moment someone runs COMMIT PREPARED.
            let prepared = tx.outcome == WalOutcome::Prepared;
            if !(tx.outcome == WalOutcome::Committed || prepared)
                || carried.contains(&(tx.xid, tx.commit_lsn.as_deref()))
                || !(prepared
                    || tx
                        .rows
                        .iter()
                        .any(|r| r.change == "dropped" || suspect(&r.table)))
            {
                continue;
            }
            let e = best.entry(tables).or_insert(tx);
            if rows_of(tx) > rows_of(e) {
                *e = tx;
            }
        }
        let mut out = Vec::new();
        for (tables, tx) in best {
            let changes: BTreeSet<&str> = tx.rows.iter().map(|r| r.change.as_str()).collect();
            let kind = if changes.contains("truncated") {
                if tables.len() > 1 {
                    Kind::Cascade
                } else {
                    Kind::Truncate
                }
            } else if changes.contains("dropped") {
                Kind::DropRecreate
            } else if tables.len() > 1 {
                Kind::Cascade
            } else {
                Kind::Delete
            };
            if tx.outcome == WalOutcome::Prepared {
                let mut f = Finding::new(
                    kind,
                    tables.iter().cloned().collect(),
                    format!(
                        "transaction {} prepared, in doubt: {} (seen in WAL alone)",
                        tx.xid,
                        describe(tx)
                    ),
                );
                f.scored(Reason::WalRecord, tx.source.clone(), in_doubt(tx));
                // Not a loss yet: nothing is removed until COMMIT PREPARED.
                f.loss = false;
                f.at = tx.prepared_at;
                f.transaction = Some(tx.clone());
                out.push(f.finish());
                continue;
            }
            let mut f = Finding::new(
                kind,
                tables.iter().cloned().collect(),
                format!(
                    "transaction {} {} (seen in WAL alone)",
                    tx.xid,
                    describe(tx)
                ),
            );
            f.scored(
                Reason::WalRecord,
                tx.source.clone(),
                format!(
                    "WAL: xid {} committed at LSN {}: {}",
                    tx.xid,
                    tx.commit_lsn.as_deref().unwrap_or("?"),
                    describe(tx)
                ),
            );
            f.at = tx.commit_at;
            f.transaction = Some(tx.clone());
            // Tables that still hold their rows speak against a loss read from WAL alone
            // (a rewrite such as VACUUM FULL also gives a table new files).
            if kind == Kind::Truncate
                && tables
                    .iter()
                    .filter_map(|t| facts.table(t))
                    .all(|t| t.live() > 0 && t.stats.reltuples > 0.0)
            {
                f.scored(
                    Reason::Contradicted,
                    tables
                        .iter()
                        .next()
                        .and_then(|t| facts.table(t))
                        .map(|t| t.cite("n_live_tup"))
                        .unwrap_or_default(),
                    "the table still holds rows: new files without a loss are a rewrite (VACUUM FULL, CLUSTER)",
                );
            }
            out.push(f.finish());
        }
        out
    }
}

/// What a prepared, undecided transaction means for the rows.
fn in_doubt(tx: &LossTransaction) -> String {
    format!(
        "WAL: xid {} was prepared at LSN {}{}{} and neither committed nor rolled back in the WAL read: in doubt: its change ({}) takes effect only if COMMIT PREPARED follows (ROLLBACK PREPARED keeps the rows); pg_prepared_xacts on the server lists it while it waits",
        tx.xid,
        tx.prepared_lsn.as_deref().unwrap_or("?"),
        tx.prepared_at
            .map(|t| format!(", {}", t.format("%Y-%m-%d %H:%M:%S%.6f UTC")))
            .unwrap_or_default(),
        tx.gid
            .as_deref()
            .map(|g| format!(" (PREPARE TRANSACTION '{}')", g.replace('\'', "''")))
            .unwrap_or_default(),
        describe(tx)
    )
}

fn rows_of(tx: &LossTransaction) -> u64 {
    tx.rows.iter().filter_map(|r| r.rows).sum()
}

/// `2 rows deleted from public.a; public.b truncated (1000 rows)`.
pub fn describe(tx: &LossTransaction) -> String {
    tx.rows
        .iter()
        .map(|r| match (r.change.as_str(), r.rows) {
            ("deleted", Some(n)) => format!("{n} rows deleted from {}", r.table),
            (c, Some(n)) => format!("{} {c} ({n} rows)", r.table),
            (c, None) => format!("{} {c} (row count not in the WAL read)", r.table),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn resolve(
    tx: &WalTransaction,
    by_file: &HashMap<u32, String>,
    current_oid: &HashMap<u32, (String, u32)>,
    tally: &HashMap<u32, &WalFile>,
    created_at: &HashMap<String, u64>,
) -> Vec<TableRows> {
    let mut out: BTreeMap<(String, &'static str), Option<u64>> = BTreeMap::new();
    for r in tx.rows.iter().filter(|r| r.deleted > 0) {
        // Only files the transaction did not itself unlink: the rows of a TRUNCATE's old file
        // count under the TRUNCATE.
        if let Some(name) = by_file.get(&r.relfilenode) {
            *out.entry((name.clone(), "deleted"))
                .or_insert(Some(0))
                .get_or_insert(0) += r.deleted;
        }
    }
    let old_rows = |name: &str| -> Option<u64> {
        let files: Vec<&WalFile> = tx
            .dropped_files
            .iter()
            .filter(|f| by_file.get(f).map(String::as_str) == Some(name))
            .filter_map(|f| tally.get(f).copied())
            .collect();
        if files.is_empty() || files.iter().any(|f| f.created_lsn.is_none()) {
            return None;
        }
        Some(
            files
                .iter()
                .map(|f| f.inserted.saturating_sub(f.deleted))
                .sum(),
        )
    };
    // TRUNCATE: a locked (or Heap TRUNCATE'd) table whose current file this transaction created.
    let mut truncated = BTreeSet::new();
    for oid in tx.locked_oids.iter().chain(tx.truncated_oids.iter()) {
        if let Some((name, file)) = current_oid.get(oid)
            && (tx.truncated_oids.contains(oid)
                || (tx.created_files.contains(file) && !tx.dropped_files.is_empty()))
            && tx.outcome != WalOutcome::Unfinished
            && truncated.insert(name.clone())
        {
            out.insert((name.clone(), "truncated"), old_rows(name));
        }
    }
    // DROP: a locked relation gone from the catalog whose files the commit unlinked.
    if tx.outcome == WalOutcome::Committed && !tx.dropped_files.is_empty() {
        let end = tx.end_lsn.as_deref().and_then(parse_lsn).unwrap_or(0);
        for oid in tx.locked_oids.iter().chain(tx.dropped_stats.iter()) {
            if current_oid.contains_key(oid) || !tx.dropped_files.contains(oid) {
                continue;
            }
            // Named by the baseline, else by the table of that name created next.
            let name = by_file.get(oid).cloned().or_else(|| {
                created_at
                    .iter()
                    .filter(|(_, l)| **l > end)
                    .min_by_key(|(_, l)| **l)
                    .map(|(n, _)| n.clone())
            });
            let Some(name) = name else { continue };
            let rows = tally
                .get(oid)
                .filter(|f| f.created_lsn.is_some())
                .map(|f| f.inserted.saturating_sub(f.deleted));
            // An index of the dropped table is unlinked and locked too, and holds no heap
            // rows: per table keep the file that held the most.
            let e = out.entry((name, "dropped")).or_insert(rows);
            if rows.unwrap_or(0) > e.unwrap_or(0) {
                *e = rows;
            }
        }
    }
    out.into_iter()
        .map(|((table, change), rows)| TableRows {
            table,
            change: change.to_string(),
            rows,
        })
        .collect()
}

/// The earliest committed loss transaction among the findings: the exact recovery target.
pub fn first_loss_transaction<'a>(
    findings: impl IntoIterator<Item = &'a Finding>,
) -> Option<&'a LossTransaction> {
    findings
        .into_iter()
        .filter(|f| f.loss)
        .filter_map(|f| f.transaction.as_ref())
        .filter(|t| t.outcome == WalOutcome::Committed && t.commit_lsn.is_some())
        .min_by_key(|t| {
            (
                t.timeline,
                t.commit_lsn
                    .as_deref()
                    .and_then(parse_lsn)
                    .unwrap_or(u64::MAX),
            )
        })
}

/// What the WAL could not show, as forensic gaps: `(what, setting, effect)`.
pub fn gaps(
    evidence: &crate::evidence::Evidence,
    findings: &[Finding],
) -> Vec<(String, Option<String>, String)> {
    let wal_kinds = |f: &&Finding| {
        f.loss
            && matches!(
                f.kind,
                Kind::Delete | Kind::Cascade | Kind::Truncate | Kind::DropRecreate
            )
    };
    let Some(wal) = &evidence.wal else {
        // No WAL read: one line saying what would have given it, only when a loss the WAL
        // would make exact (xid, commit LSN, rows) is found.
        return match &evidence.wal_unavailable {
            Some(g) if findings.iter().any(|f| wal_kinds(&f)) => vec![(
                format!("No WAL evidence: {}", g.what),
                g.setting.clone(),
                "the loss's transaction (xid, commit LSN and time, exact rows) is not in the report, and the recovery target is a time rather than its commit LSN".into(),
            )],
            _ => Vec::new(),
        };
    };
    let mut out: Vec<(String, Option<String>, String)> = wal
        .gaps
        .iter()
        .map(|g| {
            (
                g.what.clone(),
                g.setting.clone(),
                "transactions in that part of the WAL are missing or incomplete".to_string(),
            )
        })
        .collect();
    let setting = |name: &str| {
        evidence
            .database
            .as_ref()
            .and_then(|d| d.settings.get(name))
            .map(String::as_str)
    };
    if setting("wal_level") == Some("replica") {
        out.push((
            "TRUNCATE leaves no Heap TRUNCATE record".into(),
            Some("wal_level = replica".into()),
            "a TRUNCATE is read from its lock, new files and unlinked old files; whether it was TRUNCATE … CASCADE or RESTART IDENTITY is not recorded. wal_level = logical would record both".into(),
        ));
    }
    // A loss no WAL transaction explains although WAL was read: its WAL is older than the read.
    let unexplained: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.transaction.is_none())
        .filter(wal_kinds)
        .collect();
    if !unexplained.is_empty() {
        let first_missing = parse_lsn(&wal.start_lsn)
            .filter(|l| *l >= 16 * 1024 * 1024)
            .map(|l| {
                let timeline = wal
                    .segments
                    .first()
                    .and_then(|s| u32::from_str_radix(s.get(0..8)?, 16).ok())
                    .unwrap_or(1);
                crate::wal::segment_name(timeline, l / (16 * 1024 * 1024) - 1, 16 * 1024 * 1024)
            });
        let tables: BTreeSet<&str> = unexplained
            .iter()
            .flat_map(|f| f.tables.iter().map(String::as_str))
            .collect();
        out.push((
            format!(
                "No WAL record of the loss of {}: the WAL read ({}) starts at {}{}",
                tables.into_iter().collect::<Vec<_>>().join(", "),
                wal.source,
                wal.start_lsn,
                first_missing
                    .map(|s| format!("; the last segment before it, {s}, is gone (recycled or not archived)"))
                    .unwrap_or_default()
            ),
            Some("wal_keep_size, or archive_mode = on with an archive kept longer than the time to notice a loss".into()),
            "the loss is older than the WAL still available: its xid, commit LSN and exact rows cannot be read; the recovery target falls back to a time".into(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::analysis::analyze;
    use crate::analysis::finding::Kind;
    use crate::analysis::fixtures::*;
    use crate::evidence::{Evidence, WalEvidence, WalOutcome, WalRowChange, WalTransaction};

    fn wal(transactions: Vec<WalTransaction>) -> WalEvidence {
        WalEvidence {
            source: "pg_waldump".into(),
            directory: None,
            major_version: Some(15),
            system_identifier: None,
            start_lsn: "0/1000000".into(),
            end_lsn: "0/4000000".into(),
            segments: vec![],
            transactions,
            files: vec![],
            gaps: vec![],
            window: None,
        }
    }

    fn delete_tx(xid: u32, outcome: WalOutcome, file: u32, n: u64, lsn: &str) -> WalTransaction {
        WalTransaction {
            xid,
            timeline: 1,
            outcome,
            first_lsn: "0/3000000".into(),
            end_lsn: Some(lsn.into()),
            end_at: Some(at(12, 30, 0)),
            database_oid: Some(16390),
            rows: vec![WalRowChange {
                relfilenode: file,
                deleted: n,
                inserted: 0,
            }],
            locked_oids: vec![],
            created_files: vec![],
            dropped_files: vec![],
            dropped_stats: vec![],
            truncated_oids: vec![],
            truncate_cascade: false,
            subxacts: vec![],
            prepared_lsn: None,
            prepared_at: None,
            gid: None,
        }
    }

    fn with_wal(mut ev: Evidence, w: WalEvidence) -> Evidence {
        ev.wal = Some(w);
        ev
    }

    #[test]
    fn a_committed_delete_gets_its_transaction_and_the_exact_target() {
        let ev = with_wal(
            evidence(vec![deleted(table("orders", 16400, 500), 300)], vec![]),
            wal(vec![delete_tx(
                742,
                WalOutcome::Committed,
                16400,
                300,
                "0/3004B90",
            )]),
        );
        let a = analyze(&ev);
        let f = a
            .findings
            .iter()
            .find(|f| f.kind == Kind::Delete)
            .expect("a delete finding");
        let tx = f.transaction.as_ref().expect("transaction");
        assert_eq!((tx.xid, tx.commit_lsn.as_deref()), (742, Some("0/3004B90")));
        assert_eq!(tx.rows[0].rows, Some(300));
        assert!(f.score.iter().any(|s| s.reason == super::Reason::WalRecord));
        // Without WAL the finding asks the reader to look in WAL; with it, it no longer does.
        let without = analyze(&evidence(
            vec![deleted(table("orders", 16400, 500), 300)],
            vec![],
        ));
        assert!(
            without.findings.iter().any(
                |f| f.kind == Kind::Delete && f.confirm.iter().any(|c| c.starts_with("in WAL"))
            ),
            "{:#?}",
            without.findings
        );
        assert!(
            f.confirm.iter().all(|c| !c.starts_with("in WAL")),
            "{:?}",
            f.confirm
        );
        let target = a
            .recovery
            .iter()
            .find_map(|p| p.target.as_ref())
            .expect("a recovery target");
        assert_eq!(target.lsn.as_deref(), Some("0/3004B90"));
        assert!(!target.inclusive);
        assert_eq!(target.timeline, "1");
        let lines = crate::analysis::recovery::recovery_settings(target, "cp /archive/%f %p");
        for want in [
            "recovery_target_lsn = '0/3004B90'",
            "recovery_target_inclusive = false",
            "recovery_target_timeline = '1'",
        ] {
            assert!(lines.iter().any(|l| l == want), "{want} in {lines:?}");
        }
    }

    #[test]
    fn a_delete_that_aborted_in_wal_is_ruled_out() {
        // The counters alone look like a committed delete (live fell, dead tuples counted as
        // modifications): only the WAL says its transaction aborted.
        let ev = with_wal(
            evidence(vec![deleted(table("orders", 16400, 500), 300)], vec![]),
            wal(vec![delete_tx(
                743,
                WalOutcome::Aborted,
                16400,
                300,
                "0/3004B90",
            )]),
        );
        let a = analyze(&ev);
        assert!(
            a.findings.iter().all(|f| f.kind != Kind::Delete),
            "{:#?}",
            a.findings
        );
        assert!(a.ruled_out.iter().any(|r| r.kind == Kind::Delete
            && r.reason.contains("aborted")
            && r.source == "wal:0/3004B90"));
    }

    #[test]
    fn a_delete_no_counter_shows_is_found_from_wal_alone() {
        // Counters zeroed (a crash after the delete): the statistics say nothing.
        let ev = with_wal(
            evidence(vec![zeroed(table("orders", 16400, 200))], vec![]),
            wal(vec![delete_tx(
                744,
                WalOutcome::Committed,
                16400,
                300,
                "0/3004B90",
            )]),
        );
        let a = analyze(&ev);
        let f = a
            .findings
            .iter()
            .find(|f| f.transaction.as_ref().is_some_and(|t| t.xid == 744))
            .expect("a finding from WAL alone");
        assert_eq!(f.kind, Kind::Delete);
        assert!(f.loss);
    }
}
