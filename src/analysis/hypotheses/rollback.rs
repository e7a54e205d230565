//! `rollback`: rows inserted by transactions that rolled back or failed (a bulk import, a
//! migration that failed half-way). Nothing committed was lost: the rows never existed for
//! anyone else.
//!
//! PostgreSQL behaviour relied on (pg-forensics.md, scenario 6): an aborted INSERT of N rows
//! gives `n_tup_ins` +N (attempts are counted), `n_dead_tup` +N and `n_ins_since_vacuum` +N,
//! but `n_live_tup` and `n_mod_since_analyze` do not move (only committed changes count there),
//! and `xact_rollback` +1 per transaction. The storage is not replaced (relfilenode = oid) and
//! `reltuples` keeps its value. Autovacuum later removes the dead tuples (`tuples: N removed` in
//! the log with `log_autovacuum_min_duration`), after which only `n_tup_ins` stays inflated:
//! `n_tup_ins − n_tup_del > n_live_tup` with rfn = oid is the lasting trace. With
//! `log_statement = mod` the INSERT is logged and its ROLLBACK is not: such an INSERT of unknown
//! outcome is named by the finding its dead tuples make, never read as a committed load.

use crate::analysis::facts::{Facts, committed};
use crate::analysis::finding::{Fact, Finding, Hypothesis, Kind, RecoveryNote, RuledOut, Verdict};
use crate::analysis::scoring::Reason;
use crate::evidence::EventKind;

const WRITES: &[EventKind] = &[
    EventKind::BulkLoad,
    EventKind::Ddl,
    EventKind::Error,
    EventKind::Rollback,
];

/// This hypothesis in the registry (`ALL` of the hypotheses module), with its advice.
pub const HYPOTHESIS: Hypothesis = Hypothesis {
    title: "Rolled-back or aborted transactions",
    loss: false,
    hypothesize,
    recovery_note: Some(RecoveryNote {
        title: "Re-run the failed import or migration",
        why: "its rows never committed; find why it failed (the error in the log) and run it again",
        command: None,
    }),
    prevention: &[],
};

pub fn hypothesize(facts: &Facts) -> Verdict {
    let mut verdict = Verdict::default();
    let mut pending: Vec<(String, Finding)> = Vec::new();
    let db_rollbacks = facts
        .evidence
        .database
        .as_ref()
        .and_then(|d| d.database_stats.as_ref())
        .map(|s| s.xact_rollback)
        .unwrap_or(0);
    // The status rule calls a shortfall of uncommitted inserts intact; look at every shortfall.
    for (i, t) in facts.tables.iter().enumerate() {
        let missing = t.missing();
        let aborted_log: Vec<_> = facts
            .events_for(i, WRITES)
            .into_iter()
            .filter(|e| {
                committed(e) == Some(false)
                    || matches!(e.kind, EventKind::Error | EventKind::Rollback)
            })
            .collect();
        if missing == 0 {
            // Aborted inserts inflate n_tup_ins for good, so counters that run on always show
            // them. Counters that restarted (crash, pg_stat_reset()) after the failed insert do
            // not: then only the log tells it.
            let restarted = t.counters_restarted || t.counters_zero();
            let failed_insert = aborted_log
                .iter()
                .rev()
                .find(|e| e.kind == EventKind::BulkLoad && committed(e) == Some(false));
            if let Some(e) = failed_insert
                && restarted
                && t.stats.relkind != "p"
                && !crate::analysis::signatures::storage_signature(t)
            {
                let mut f = Finding::new(
                    Kind::Rollback,
                    vec![t.name.clone()],
                    format!(
                        "{}: an insert the log shows failing or rolled back — never committed, so not lost (how many rows, the counters cannot say: they restarted since)",
                        t.name
                    ),
                );
                f.scored(
                    Reason::LogStatement,
                    e.source.clone(),
                    format!("`{}` (its transaction failed or rolled back)", e.text),
                );
                f.pin(e);
                f.scored(
                    Reason::CatalogSignature,
                    t.cite_catalog("relfilenode"),
                    format!(
                        "relfilenode = oid ({}): the storage was never replaced",
                        t.stats.oid
                    ),
                );
                f.note(Fact::against(
                    t.cite("n_tup_ins"),
                    format!(
                        "n_tup_ins {} and n_dead_tup {}: counters since a restart, not since the insert",
                        t.ins(),
                        t.dead()
                    ),
                ));
                f.confirm.push(
                    "in WAL: Heap/INSERT records followed by Transaction/ABORT for the same xid"
                        .into(),
                );
                let key = aborted_log
                    .iter()
                    .rev()
                    .find(|x| matches!(x.kind, EventKind::Rollback | EventKind::Error))
                    .map(|x| x.source.clone())
                    .unwrap_or_else(|| e.source.clone());
                pending.push((key, f));
            }
            continue;
        }
        let never_analyzed = t.stats.last_analyze.is_none() && t.stats.last_autoanalyze.is_none();
        let mod_ = t.stats.n_mod_since_analyze.unwrap_or(0);
        // Dead tuples of committed deletes and updates are counted in n_mod_since_analyze;
        // those of aborted inserts are not. Only updates and deletes leave dead tuples of
        // committed work, so n_tup_upd + n_tup_del (attempts, so an upper bound) bounds them
        // too — the tighter bound when n_mod_since_analyze also counts committed inserts (a
        // table never analyzed).
        let committed_dead = mod_.min(t.upd() + t.del()).min(t.dead());
        let aborted_dead = (t.dead() - committed_dead).max(0);
        let dead_cover = aborted_dead >= missing;
        let insv_cover = t.stats.n_ins_since_vacuum.unwrap_or(0) >= missing && mod_ < missing;
        let vacuum_log: Vec<_> = facts
            .events_for(i, &[EventKind::Autovacuum])
            .into_iter()
            .filter(|e| e.rows.unwrap_or(0) >= missing)
            .collect();
        let storage = crate::analysis::signatures::storage_signature(t);
        let inserts_committed = never_analyzed && mod_ >= t.ins() && t.ins() > 0;
        if storage
            || inserts_committed
            || (!dead_cover && !insv_cover && aborted_log.is_empty() && vacuum_log.is_empty())
        {
            let (reason, source) = if storage {
                (
                    format!(
                        "relfilenode {} ≠ oid {} and reltuples {}: the storage was replaced, which aborted inserts never do",
                        t.stats.relfilenode, t.stats.oid, t.stats.reltuples
                    ),
                    t.cite_catalog("relfilenode"),
                )
            } else if inserts_committed {
                (
                    format!(
                        "n_mod_since_analyze {} ≥ n_tup_ins {} with no analyze since: the inserts committed (aborted ones do not count there)",
                        mod_,
                        t.ins()
                    ),
                    t.cite("n_mod_since_analyze"),
                )
            } else {
                (
                    format!(
                        "no dead tuples ({}), no aborted statement in the log and no vacuum removing {} rows: nothing shows inserts that failed",
                        t.dead(),
                        missing
                    ),
                    t.cite("n_dead_tup"),
                )
            };
            verdict.ruled_out.push(RuledOut {
                kind: Kind::Rollback,
                tables: vec![t.name.clone()],
                reason,
                source,
            });
            continue;
        }
        let mut f = Finding::new(
            Kind::Rollback,
            vec![t.name.clone()],
            format!(
                "{}: {} rows were inserted by transactions that rolled back or failed — never committed, so not lost",
                t.name, missing
            ),
        );
        if dead_cover || insv_cover {
            f.scored(
                Reason::StatsSignature,
                t.cite("n_dead_tup"),
                format!(
                    "n_tup_ins {} − n_tup_del {} exceeds n_live_tup {} by {}, with n_dead_tup {}, n_ins_since_vacuum {} and n_mod_since_analyze {}: the inserted rows died uncommitted",
                    t.ins(), t.del(), t.live(), missing, t.dead(), t.stats.n_ins_since_vacuum.unwrap_or(0), mod_
                ),
            );
        }
        if let Some(e) = vacuum_log.first() {
            f.scored(
                Reason::StatsSignature,
                e.source.clone(),
                format!(
                    "autovacuum removed {} dead tuples: `{}`",
                    e.rows.unwrap_or(0),
                    e.text
                ),
            );
        }
        f.scored(
            Reason::CatalogSignature,
            t.cite_catalog("relfilenode"),
            format!(
                "relfilenode = oid ({}) and reltuples {}: the storage was never replaced",
                t.stats.oid, t.stats.reltuples
            ),
        );
        if db_rollbacks > 0 {
            f.note(Fact::for_(
                "stats:pg_stat_database.xact_rollback",
                format!(
                    "xact_rollback {db_rollbacks}: transactions did roll back in this database"
                ),
            ));
        }
        // Pin the statement that did the work (the INSERT/COPY), not the ROLLBACK or the error.
        let statement = aborted_log
            .iter()
            .rev()
            .find(|e| matches!(e.kind, EventKind::BulkLoad | EventKind::Ddl))
            .or(aborted_log
                .iter()
                .rev()
                .find(|e| e.kind == EventKind::Error))
            .or(aborted_log.last());
        for e in aborted_log
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Error | EventKind::Rollback))
        {
            f.note(Fact::for_(e.source.clone(), format!("`{}`", e.text)));
        }
        if let Some(e) = statement {
            f.scored(
                Reason::LogStatement,
                e.source.clone(),
                format!(
                    "`{}` ({})",
                    e.text,
                    if e.kind == EventKind::Error {
                        "an error aborted the transaction"
                    } else {
                        "rolled back"
                    }
                ),
            );
            f.pin(e);
        } else if (dead_cover || insv_cover)
            && let Some(e) = facts
                .events_for(i, &[EventKind::BulkLoad])
                .into_iter()
                .rev()
                .find(|e| committed(e).is_none())
        {
            // log_statement = mod logs the INSERT but not the ROLLBACK: the dead tuples say how
            // it ended. Its outcome is not seen, so it earns no log points; it names the work.
            f.note(Fact::for_(
                e.source.clone(),
                format!(
                    "`{}` — the log does not show how its transaction ended; the dead tuples above show it never committed",
                    e.text
                ),
            ));
            f.pin(e);
        }
        f.confirm.push(
            "in WAL: Heap/INSERT records followed by Transaction/ABORT for the same xid".into(),
        );
        f.confirm
            .push("the application's or migration tool's own log for the failed import".into());
        f.refute
            .push("n_mod_since_analyze counting the inserts (committed work) refutes it".into());
        // One aborted transaction that touched several tables is one finding: key on the
        // ROLLBACK (or error) that ended it.
        let key = aborted_log
            .iter()
            .rev()
            .find(|e| matches!(e.kind, EventKind::Rollback | EventKind::Error))
            .map(|e| e.source.clone())
            .unwrap_or_else(|| t.name.clone());
        pending.push((key, f));
    }
    pending.sort_by(|a, b| a.0.cmp(&b.0));
    let mut merged: Vec<Finding> = Vec::new();
    let mut last_key: Option<String> = None;
    for (key, f) in pending {
        match merged.last_mut() {
            Some(m) if last_key.as_deref() == Some(key.as_str()) => {
                m.tables.extend(f.tables);
                m.tables.sort();
                m.tables.dedup();
                m.evidence.extend(f.evidence);
                m.score.extend(f.score);
                // Keep the statement that did the work over a ROLLBACK line.
                let is_work = |s: &Option<String>| {
                    s.as_deref().is_some_and(|s| {
                        let s = s.trim_start().to_uppercase();
                        ["INSERT INTO", "COPY ", "UPDATE ", "CREATE ", "ALTER "]
                            .iter()
                            .any(|k| s.starts_with(k))
                    })
                };
                if !is_work(&m.statement) && is_work(&f.statement) {
                    m.statement = f.statement;
                    m.session = f.session;
                    m.at = f.at;
                }
                m.summary = format!(
                    "{}: rows inserted by one transaction that rolled back or failed — never committed, so not lost",
                    m.tables.join(", ")
                );
            }
            _ => merged.push(f),
        }
        last_key = Some(key);
    }
    verdict
        .findings
        .extend(merged.into_iter().map(Finding::finish));
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::*;
    use crate::evidence::TxOutcome;

    fn aborted_inserts() -> crate::evidence::TableStats {
        // Scenario 6: parent 1000 live, 5000 more inserted and rolled back.
        let mut t = table("parent", 16782, 1000);
        t.n_tup_ins = Some(6000);
        t.n_dead_tup = Some(5000);
        t.n_ins_since_vacuum = Some(5000);
        t
    }

    /// log_statement = mod: the INSERT is logged, its ROLLBACK is not (outcome unknown). The
    /// dead tuples tell the rollback; the finding names the INSERT and scores nothing for it.
    #[test]
    fn an_insert_of_unknown_outcome_is_named_by_the_rollback_its_dead_tuples_show() {
        let mut insert = event(
            EventKind::BulkLoad,
            at(12, 10, 0),
            40,
            "INSERT INTO parent SELECT …",
            &["parent"],
        );
        insert.outcome = Some(TxOutcome::Unknown);
        let ev = with_log(evidence(vec![aborted_inserts()], vec![]), vec![insert]);
        let v = hypothesize(&Facts::new(&ev));
        let f = v.findings.first().expect("the rollback is found");
        assert_eq!(f.statement.as_deref(), Some("INSERT INTO parent SELECT …"));
        assert!(f.score.iter().all(|s| s.reason != Reason::LogStatement));
    }

    #[test]
    fn aborted_inserts_are_a_rollback_not_a_loss() {
        let ev = evidence(vec![aborted_inserts()], vec![]);
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1);
        assert!(!v.findings[0].loss);
        assert!(v.findings[0].confidence >= 0.6);
    }

    #[test]
    fn the_failed_import_in_the_log_is_pinned() {
        let mut e = event(
            EventKind::BulkLoad,
            at(12, 10, 17),
            50,
            "INSERT INTO parent SELECT …",
            &["parent"],
        );
        e.outcome = Some(TxOutcome::RolledBack);
        let ev = with_log(evidence(vec![aborted_inserts()], vec![]), vec![e]);
        let f = &hypothesize(&Facts::new(&ev)).findings[0];
        assert_eq!(f.at, Some(at(12, 10, 17)));
        assert_eq!(f.confidence, 0.9);
    }

    #[test]
    fn one_aborted_transaction_over_two_tables_is_one_finding() {
        let mut other = aborted_inserts();
        other.name = "stock_levels".into();
        other.oid = 16790;
        other.relfilenode = 16790;
        let mut insert = event(
            EventKind::BulkLoad,
            at(12, 10, 17),
            50,
            "INSERT INTO parent SELECT …",
            &["parent"],
        );
        insert.outcome = Some(TxOutcome::RolledBack);
        let mut end = event(
            EventKind::Rollback,
            at(12, 10, 18),
            52,
            "ROLLBACK",
            &["parent", "stock_levels"],
        );
        end.outcome = Some(TxOutcome::RolledBack);
        let ev = with_log(
            evidence(vec![aborted_inserts(), other], vec![]),
            vec![insert, end],
        );
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1, "{:?}", v.findings);
        assert_eq!(
            v.findings[0].tables,
            vec!["public.parent", "public.stock_levels"]
        );
        assert_eq!(
            v.findings[0].statement.as_deref(),
            Some("INSERT INTO parent SELECT …")
        );
    }

    /// Generator miss (seed 1796226280, incident 10): 1,431 committed rows, 6 updated, never
    /// vacuumed or analyzed, then 1,087 inserts that failed. n_mod_since_analyze (1,437) counts
    /// the committed inserts as well, so it is no bound on the dead tuples of committed work:
    /// only updates and deletes leave those (at most n_tup_upd + n_tup_del = 6), and the other
    /// 1,087 dead tuples are the aborted inserts.
    #[test]
    fn dead_tuples_beyond_updates_and_deletes_are_aborted_inserts() {
        let mut t = table("billing.LineItems", 16430, 1431);
        t.n_tup_ins = Some(2518);
        t.n_tup_upd = Some(6);
        t.n_dead_tup = Some(1093);
        t.n_mod_since_analyze = Some(1437);
        t.n_ins_since_vacuum = Some(2518);
        t.last_vacuum = None;
        t.last_analyze = None;
        t.vacuum_count = Some(0);
        t.analyze_count = Some(0);
        t.reltuples = -1.0;
        t.relpages = 0;
        let ev = evidence(vec![t], vec![]);
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1, "{:#?}", v.ruled_out);
        assert_eq!(v.findings[0].tables, vec!["billing.LineItems"]);
        assert!(!v.findings[0].loss);
    }

    /// Generator miss (seed 1796226280, incident 2336): an INSERT into a partitioned table
    /// that failed (`SELECT 1/0` before COMMIT), then `pg_stat_reset()`, log_statement = mod.
    /// The reset erased the inflated n_tup_ins; the log still shows the aborted INSERT on the
    /// table (a statement on the parent reaches its partitions). The rollback explains it.
    #[test]
    fn a_failed_insert_the_reset_erased_from_the_counters_is_told_by_the_log() {
        let mut p2 = zeroed(table("Ops.events_p2", 16458, 131));
        p2.partition_parent = Some("Ops.events".into());
        let mut ev = evidence(vec![p2], vec![]);
        if let Some(d) = ev.database.as_mut()
            && let Some(s) = d.database_stats.as_mut()
        {
            s.stats_reset = Some(at(12, 30, 0));
        }
        let mut insert = event(
            EventKind::BulkLoad,
            at(12, 29, 0),
            40,
            "INSERT INTO \"Ops\".events_p2 (id, payload) SELECT …",
            &["Ops.events_p2"],
        );
        insert.outcome = Some(TxOutcome::Aborted);
        let ev = with_log(ev, vec![insert]);
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1, "{:#?}", v.ruled_out);
        assert_eq!(v.findings[0].tables, vec!["Ops.events_p2"]);
        assert!(!v.findings[0].loss);
        assert_eq!(v.findings[0].at, Some(at(12, 29, 0)));
    }

    #[test]
    fn truncated_storage_rules_rollback_out() {
        let t = truncated(table("data_imports", 17005, 8), 17105, at(18, 25, 0));
        let ev = evidence(vec![t], vec![]);
        let v = hypothesize(&Facts::new(&ev));
        assert!(v.findings.is_empty());
        assert!(v.ruled_out[0].reason.contains("storage was replaced"));
    }
}
