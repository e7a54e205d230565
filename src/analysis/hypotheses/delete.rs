//! `delete`: rows removed by committed `DELETE` statements.
//!
//! PostgreSQL behaviour relied on (pg-forensics.md, scenarios 1, 2, 5b and 6c): a committed
//! DELETE of k rows gives `n_tup_del` +k, `n_live_tup` −k, `n_dead_tup` +k and
//! `n_mod_since_analyze` +k, with relfilenode and oid unchanged. But `n_tup_del` counts
//! attempts: a rolled-back DELETE (6c) or one that failed on a foreign key (5b) also adds to it
//! while `n_live_tup` stays put, so `n_tup_del > 0` alone proves nothing. Only the part of the
//! deletes that `n_live_tup` also lost (`min(n_tup_del, n_tup_ins − n_live_tup)`) can have
//! committed. The dead tuples stay on disk until a (auto)vacuum: until then the rows can still
//! be read with a dirty-read tool. `log_statement = ddl` does not log DELETE (`mod` does).
//! `mod` logs no COMMIT or ROLLBACK either: a logged DELETE of unknown outcome that its table
//! shows undone (`signatures::undone`: deletes counted, n_live_tup kept, no dead tuples; or
//! its rows all there by count(*)) is ruled out with that fact, and no finding rests on it.

use crate::analysis::facts::{Facts, TableView, committed};
use crate::analysis::finding::{Fact, Finding, Hypothesis, Kind, RuledOut, Verdict};
use crate::analysis::scoring::Reason;
pub use crate::analysis::signatures::committed_deletes;
use crate::evidence::EventKind;

/// Where the DELETE's WAL records are. They name the file the rows were in at the time: if the
/// storage was replaced since (a later TRUNCATE, VACUUM FULL, CLUSTER), the current relfilenode
/// is the new, empty file and would find nothing — name the baseline's file when known.
fn wal_confirm(t: &TableView) -> String {
    let replaced = t.stats.relfilenode != t.stats.oid
        || t.baseline
            .is_some_and(|b| b.oid == t.stats.oid && b.relfilenode != t.stats.relfilenode);
    let earlier = t
        .baseline
        .filter(|b| b.oid == t.stats.oid && b.relfilenode != t.stats.relfilenode)
        .map(|b| b.relfilenode);
    match (replaced, earlier) {
        (false, _) => format!(
            "in WAL: Heap/DELETE records on {}'s relfilenode {} followed by a COMMIT (pg_walinspect over the archive)",
            t.name, t.stats.relfilenode
        ),
        (true, Some(old)) => format!(
            "in WAL: Heap/DELETE records on {}'s earlier relfilenode {} (the baseline's; the current {} is the file that replaced it) followed by a COMMIT",
            t.name, old, t.stats.relfilenode
        ),
        (true, None) => format!(
            "in WAL: Heap/DELETE records on the file {} had before its storage was replaced (not the current relfilenode {}: that file is newer than the DELETE) followed by a COMMIT — the replacing record (e.g. the TRUNCATE's COMMIT `rels:` list) names the old file",
            t.name, t.stats.relfilenode
        ),
    }
}

const DELETES: &[EventKind] = &[EventKind::Delete, EventKind::DeleteAll];

/// This hypothesis in the registry (`ALL` of the hypotheses module), with its advice.
pub const HYPOTHESIS: Hypothesis = Hypothesis {
    title: "DELETE",
    loss: true,
    hypothesize,
    recovery_note: None,
    prevention: &[
        "Guard bulk DELETEs: require a WHERE clause (pg-safeupdate), soft deletes for critical tables, and a row-count check before COMMIT.",
    ],
};

pub fn hypothesize(facts: &Facts) -> Verdict {
    let mut verdict = Verdict::default();
    for (i, t) in facts.tables.iter().enumerate() {
        let events = facts.events_for(i, DELETES);
        for e in events.iter().filter(|e| committed(e) == Some(false)) {
            verdict.ruled_out.push(RuledOut {
                kind: Kind::Delete,
                tables: vec![t.name.clone()],
                reason: format!("`{}` failed or was rolled back: it removed nothing", e.text),
                source: e.source.clone(),
            });
        }
        // A statement whose outcome the log does not show (log_statement = mod logs no COMMIT
        // or ROLLBACK) that the table shows undone is ruled out by that fact, and no finding
        // rests on it.
        let undone: Vec<(String, crate::analysis::signatures::Undone)> = events
            .iter()
            .filter(|e| committed(e).is_none())
            .filter_map(|e| {
                crate::analysis::signatures::undone(facts, i, e).map(|u| (e.source.clone(), u))
            })
            .collect();
        for (_, u) in &undone {
            verdict.ruled_out.push(RuledOut {
                kind: Kind::Delete,
                tables: vec![t.name.clone()],
                reason: u.reason.clone(),
                source: u.source.clone(),
            });
        }
        let events: Vec<_> = events
            .into_iter()
            .filter(|e| !undone.iter().any(|(source, _)| *source == e.source))
            .collect();
        // A partitioned table holds no rows: its partitions carry the deletes (and get the
        // parent's logged statements).
        if !t.has_counters() || t.stats.relkind == "p" {
            continue;
        }
        let k = committed_deletes(t);
        if k == 0 && t.counters_restarted {
            // The counters restarted (crash, reset, restore) after the DELETE: they cannot count
            // its rows, but the log shows it committed. One that ran before the baseline was
            // taken is in the baseline already: it removed nothing the baseline counted.
            let since_baseline = |e: &&&crate::evidence::LogEvent| match facts.baseline_at() {
                Some(b) if t.baseline.is_some() => e.at > b,
                _ => true,
            };
            // A statement of unknown outcome the table does not show undone: with a count, the
            // count tells what it did (below, or here when the count is short of the estimate by
            // more than its noise); without one it is all there is.
            let logged = events
                .iter()
                .rev()
                .filter(since_baseline)
                .find(|e| committed(e) != Some(false));
            let short = crate::analysis::signatures::count_below_estimate(t);
            if let Some(e) = logged.filter(|e| {
                committed(e) == Some(true) || t.counted.is_none() || short.is_some()
            }) {
                // A count says what the counters could not: the rows expected are there, so the
                // DELETE took no more than the table's ordinary traffic did.
                if let Some(counted) = t.counted.filter(|_| !t.affected() && short.is_none()) {
                    verdict.ruled_out.push(RuledOut {
                        kind: Kind::Delete,
                        tables: vec![t.name.clone()],
                        reason: format!(
                            "`{}` committed, but a count(*) after the snapshot finds {counted} rows where {} gives {}: no rows are missing",
                            e.text.trim(),
                            crate::analysis::signatures::expected_label(t),
                            t.expected.unwrap_or(0)
                        ),
                        source: t.cite_count(),
                    });
                    continue;
                }
                let how_many = match (short, t.counted) {
                    (Some(fewer), Some(counted)) => format!(
                        "a count(*) finds {counted} rows where {} gives {}: about {fewer} fewer",
                        crate::analysis::signatures::expected_label(t),
                        t.expected.unwrap_or(0)
                    ),
                    _ => "how many the counters cannot say (they restarted since)".to_string(),
                };
                let mut f = Finding::new(
                    Kind::Delete,
                    vec![t.name.clone()],
                    format!("{}: rows removed by `{}`; {how_many}", t.name, e.text.trim()),
                );
                f.note(Fact::against(
                    t.cite("n_tup_del"),
                    format!(
                        "n_tup_del {} and n_live_tup {}: counters since a restart, not since the DELETE",
                        t.del(),
                        t.live()
                    ),
                ));
                f.cite_logged(e);
                // The count is the measurement the restarted counters are not: rows are fewer
                // than the estimate by more than its noise, and this statement is what the log
                // shows removing rows from the table.
                if let (Some(fewer), Some(counted)) = (short, t.counted) {
                    f.scored(
                        Reason::StatsSignature,
                        t.cite_count(),
                        format!(
                            "count(*) {counted} after the snapshot, {} {}: {fewer} fewer, more than the estimate's noise; relfilenode {} and oid {} kept: no TRUNCATE, no re-creation",
                            crate::analysis::signatures::expected_label(t),
                            t.expected.unwrap_or(0),
                            t.stats.relfilenode,
                            t.stats.oid
                        ),
                    );
                }
                if e.kind == EventKind::DeleteAll
                    && let Some(b) = t.baseline
                    && b.n_live_tup.unwrap_or(0) > 0
                {
                    f.scored(
                        Reason::BaselineConfirms,
                        t.cite_baseline("n_live_tup"),
                        format!(
                            "the baseline counted {} rows; a DELETE without WHERE removed them all",
                            b.n_live_tup.unwrap_or(0)
                        ),
                    );
                }
                f.confirm.push(wal_confirm(t));
                verdict.findings.push(f.finish());
                continue;
            }
            // Nothing logged, but a count(*) finds rows gone that the counters, restarted since,
            // cannot account for. The file is the one the table had (a TRUNCATE swaps it) and
            // the table was not re-created (new oid): what removes rows and keeps both is a
            // DELETE, committed before the counters restarted.
            // Linked ON DELETE CASCADE to another table that lost rows the same way: one DELETE
            // cascaded, and the `cascade` hypothesis names it once for all of them.
            let cascaded = facts.fk_edges().any(|(fk, child, parent)| {
                let (Some(c), Some(p)) = (child, parent) else {
                    return false;
                };
                let other = match (c == i, p == i) {
                    (true, false) => p,
                    (false, true) => c,
                    _ => return false,
                };
                fk.on_delete == "cascade"
                    && facts.tables.get(other).is_some_and(|o| {
                        crate::analysis::signatures::deleted_before_restart(o) > 0
                    })
            });
            if let Some(counted) = t.counted
                && crate::analysis::signatures::deleted_before_restart(t) > 0
                && !cascaded
            {
                let mut f = Finding::new(
                    Kind::Delete,
                    vec![t.name.clone()],
                    format!(
                        "{}: {} rows gone without a trace in the counters (they restarted since): a count finds {counted}, {} {}",
                        t.name,
                        t.missing(),
                        crate::analysis::signatures::expected_label(t),
                        t.expected.unwrap_or(0)
                    ),
                );
                f.scored(
                    Reason::StatsSignature,
                    t.cite_count(),
                    format!(
                        "count(*) {counted} after the snapshot, {} expected; relfilenode {} and oid {} kept: no TRUNCATE, no re-creation — the rows went by DELETE before the counters restarted",
                        t.expected.unwrap_or(0),
                        t.stats.relfilenode,
                        t.stats.oid
                    ),
                );
                if let Some(b) = t.baseline
                    && b.n_live_tup.unwrap_or(0) > counted
                {
                    f.scored(
                        Reason::BaselineConfirms,
                        t.cite_baseline("n_live_tup"),
                        format!(
                            "the baseline counted {} rows",
                            b.n_live_tup.unwrap_or(0)
                        ),
                    );
                }
                match logged {
                    Some(e) => f.cite_logged(e),
                    None => f.note(Fact::against(
                        t.cite("n_tup_del"),
                        format!(
                            "n_tup_del {}: counters since a restart, not since the DELETE; which statement and when is for the log (log_statement = mod) or the WAL to say",
                            t.del()
                        ),
                    )),
                }
                f.confirm.push(wal_confirm(t));
                verdict.findings.push(f.finish());
                continue;
            }
        }
        let dropped_since_baseline = t
            .baseline
            .is_some_and(|b| b.n_live_tup.unwrap_or(0) > t.live());
        let recent = t.dead() >= k && t.stats.n_mod_since_analyze.unwrap_or(0) >= k;
        // A DELETE of a fifth or more of the rows the table had is worth a finding even when
        // nothing logged it and vacuum already cleared its dead tuples.
        let large = k * 5 >= t.live() + k;
        let relevant = !events.is_empty()
            || t.live() == 0
            || t.affected()
            || dropped_since_baseline
            || recent
            || large;
        if k == 0 {
            if !undone.is_empty() {
                // Ruled out above, by the same counters.
            } else if t.del() > 0 && (relevant || !events.is_empty()) {
                verdict.ruled_out.push(RuledOut {
                    kind: Kind::Delete,
                    tables: vec![t.name.clone()],
                    reason: format!(
                        "n_tup_del {} but n_live_tup {} did not fall by them (n_tup_ins {}): the deletes rolled back or failed — n_tup_del counts aborted work too",
                        t.del(), t.live(), t.ins()
                    ),
                    source: t.cite("n_tup_del"),
                });
            } else if t.affected() {
                verdict.ruled_out.push(RuledOut {
                    kind: Kind::Delete,
                    tables: vec![t.name.clone()],
                    reason: "n_tup_del = 0: no DELETE ever touched it (the counter counts even aborted deletes)".into(),
                    source: t.cite("n_tup_del"),
                });
            }
            continue;
        }
        if !relevant {
            continue;
        }
        let mut f = Finding::new(
            Kind::Delete,
            vec![t.name.clone()],
            format!(
                "{}: {} removed by committed DELETE statements",
                t.name,
                crate::analysis::finding::rows(k)
            ),
        );
        f.scored(
            Reason::StatsSignature,
            t.cite("n_tup_del"),
            format!(
                "n_tup_del {} and n_live_tup {} (n_tup_ins {}): {} deletes committed",
                t.del(),
                t.live(),
                t.ins(),
                k
            ),
        );
        if k < t.del() && t.baseline.is_none() {
            f.note(Fact::against(
                t.cite("n_tup_del"),
                format!("only {k} of the {} counted deletes can have committed; the rest rolled back or failed", t.del()),
            ));
        }
        if t.missing() > 0 {
            f.scored(
                Reason::PartialFit,
                t.cite("n_live_tup"),
                format!(
                    "explains {k} rows, but {} more vanished without a DELETE to account for them",
                    t.missing()
                ),
            );
        }
        if t.dead() > 0 {
            f.note(Fact::for_(
                t.cite("n_dead_tup"),
                format!(
                    "n_dead_tup {}: the deleted rows are still on disk{}",
                    t.dead(),
                    match t.last_vacuum_any() {
                        Some(v) => format!(
                            " (last vacuum {} — before the delete)",
                            v.format("%Y-%m-%d %H:%M:%S UTC")
                        ),
                        None => " (never vacuumed)".into(),
                    }
                ),
            ));
        }
        if let Some(b) = t.baseline
            && b.n_live_tup.unwrap_or(0) > t.live()
        {
            f.scored(
                Reason::BaselineConfirms,
                t.cite_baseline("n_live_tup"),
                format!(
                    "the baseline counted {} rows, now {}",
                    b.n_live_tup.unwrap_or(0),
                    t.live()
                ),
            );
        }
        if let Some(e) = events.iter().rev().find(|e| committed(e) != Some(false)) {
            f.cite_logged(e);
        } else if let Some(e) = events.last() {
            f.scored(
                Reason::LogFailed,
                e.source.clone(),
                format!("the only logged `{}` failed or rolled back", e.text),
            );
        }
        let ops = facts.migration_ops_for(i, &["delete_all"]);
        if let Some(op) = ops.first() {
            f.scored(
                Reason::MigrationOperation,
                op.source.clone(),
                format!("migration {}: `{}`", op.path, op.statement),
            );
        }
        f.confirm.push(wal_confirm(t));
        f.refute.push("an ABORT record for the deleting xid, or n_live_tup back at its old value, means the DELETE rolled back".into());
        verdict.findings.push(f.finish());
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::*;
    use crate::evidence::TxOutcome;

    /// Random incidents seed 90517 #163: 13 updates, then `BEGIN; DELETE FROM "order".orders;`
    /// and an error before COMMIT, under log_statement = ddl (nothing logged), no baseline. The
    /// 211 attempted deletes are counted, n_live_tup kept, and the 13 dead tuples are the
    /// updates' old versions: no delete can have committed, so no loss.
    #[test]
    fn dead_tuples_the_updates_left_are_not_committed_deletes() {
        let mut t = table("order.orders", 16400, 211);
        t.n_tup_upd = Some(13);
        t.n_tup_del = Some(211);
        t.n_dead_tup = Some(13);
        t.n_mod_since_analyze = Some(224);
        (t.last_vacuum, t.last_analyze, t.vacuum_count, t.analyze_count) = (None, None, Some(0), Some(0));
        (t.reltuples, t.relpages) = (-1.0, 2);
        let ev = evidence(vec![t], vec![]);
        let facts = Facts::new(&ev);
        let view = facts.table("order.orders").expect("table");
        assert_eq!(crate::analysis::signatures::committed_deletes(view), 0);
        let v = hypothesize(&facts);
        assert!(v.findings.iter().all(|f| !f.loss), "{:?}", v.findings);
        // The same dead tuples after a vacuum are deletes' (n_dead_tup restarted then).
        let mut t = table("order.orders", 16400, 211);
        t.n_tup_upd = Some(13);
        t.n_tup_del = Some(211);
        t.n_dead_tup = Some(13);
        t.n_mod_since_analyze = Some(224);
        t.last_analyze = None;
        let ev = evidence(vec![t], vec![]);
        let facts = Facts::new(&ev);
        let view = facts.table("order.orders").expect("table");
        assert_eq!(crate::analysis::signatures::committed_deletes(view), 13);
    }

    /// Random incidents seed 6161 #20: `SET search_path TO inventory; DELETE FROM shipments;`
    /// under log_statement = mod (the SET is not logged), with an untouched `public.shipments`
    /// beside it. The bare name was read as the public table, which lost nothing, so a DELETE of
    /// every row was pinned there as a loss, and the table that lost its 798 rows had no
    /// statement.
    #[test]
    fn a_bare_delete_goes_to_the_namesake_whose_counters_show_it() {
        let public = deleted(table("shipments", 16400, 1417), 1);
        let other = deleted(table("inventory.shipments", 16410, 798), 798);
        let mut e = event(EventKind::DeleteAll, at(12, 30, 0), 64, "DELETE FROM shipments", &["shipments"]);
        e.outcome = None;
        let ev = with_log(evidence(vec![public, other], vec![]), vec![e]);
        let facts = Facts::new(&ev);
        let v = hypothesize(&facts);
        let on = |table: &str| v.findings.iter().find(|f| f.tables == vec![table.to_string()]);
        let lost = on("inventory.shipments").expect("a finding on inventory.shipments");
        assert_eq!(lost.statement.as_deref(), Some("DELETE FROM shipments"));
        assert!(
            on("public.shipments").is_none_or(|f| f.statement.as_deref() != Some("DELETE FROM shipments")),
            "{:?}",
            v.findings
        );
        // Without a namesake that shows it, the default search_path's reading stands.
        let alone = deleted(table("shipments", 16400, 1417), 1);
        let mut e = event(EventKind::DeleteAll, at(12, 30, 0), 64, "DELETE FROM shipments", &["shipments"]);
        e.outcome = None;
        let ev = with_log(evidence(vec![alone, table("inventory.shipments", 16410, 798)], vec![]), vec![e]);
        let facts = Facts::new(&ev);
        let i = facts.resolve("public.shipments");
        assert_eq!(facts.events_for(i.unwrap_or(usize::MAX), &[EventKind::DeleteAll]).len(), 1);
    }

    /// Generator false alarm (seed 1796226280, stricter count): a routine `DELETE … WHERE id =
    /// 66`, VACUUM ANALYZE, a baseline, then `pg_stat_reset()`. The counters cannot size the
    /// DELETE, but the baseline was taken after it: whatever it removed, the baseline already
    /// did not count. Only a DELETE logged after the baseline can explain a loss since.
    #[test]
    fn a_delete_before_the_baseline_is_no_loss_after_a_reset() {
        let reset = |ev: &mut crate::evidence::Evidence| {
            if let Some(d) = ev.database.as_mut()
                && let Some(s) = d.database_stats.as_mut()
            {
                s.stats_reset = Some(at(12, 30, 0));
            }
        };
        let mut base = deleted(table("Invoice", 16429, 605), 1);
        base.n_dead_tup = Some(0);
        let mut baseline = snapshot(vec![base], vec![]);
        baseline.server.server_time = at(12, 10, 0);
        let delete_at = |when| {
            let mut now = zeroed(table("Invoice", 16429, 604));
            now.reltuples = 604.0;
            let mut ev = with_log(
                evidence(vec![now], vec![]),
                vec![event(
                    EventKind::Delete,
                    when,
                    33,
                    "DELETE FROM \"Invoice\" WHERE id = 66",
                    &["Invoice"],
                )],
            );
            ev.baseline = Some(baseline.clone());
            reset(&mut ev);
            hypothesize(&Facts::new(&ev))
        };
        assert!(delete_at(at(12, 5, 0)).findings.is_empty());
        // The control: the same statement after the baseline is a finding.
        assert_eq!(delete_at(at(12, 20, 0)).findings.len(), 1);
    }

    /// A DELETE, then a TRUNCATE gave the table a new file: the WAL check must not name the new
    /// file, which the DELETE never touched.
    #[test]
    fn wal_check_never_names_the_file_of_a_later_truncate() {
        let t = truncated(deleted(table("assets", 16445, 81), 33), 16499, at(12, 0, 0));
        let ev = evidence(vec![t], vec![]);
        let v = hypothesize(&Facts::new(&ev));
        let f = v.findings.first().expect("the delete is found");
        assert!(
            f.confirm
                .iter()
                .all(|c| !c.contains("relfilenode 16499 followed")),
            "{:?}",
            f.confirm
        );
        assert!(
            f.confirm
                .iter()
                .any(|c| c.contains("not the current relfilenode 16499"))
        );
    }

    #[test]
    fn a_committed_delete_of_everything_is_found() {
        let ev = evidence(
            vec![deleted(table("child_restrict", 16423, 1000), 1000)],
            vec![],
        );
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1);
        assert!(v.findings[0].summary.contains("1000 rows"));
        assert!(v.findings[0].confidence >= 0.35);
    }

    #[test]
    fn a_rolled_back_delete_counts_in_n_tup_del_but_is_ruled_out() {
        // 6c: del 0→1000, live unchanged.
        let mut t = table("child_restrict", 16867, 1000);
        t.n_tup_del = Some(1000);
        let ev = with_log(
            evidence(vec![t], vec![]),
            vec![{
                let mut e = event(
                    EventKind::DeleteAll,
                    at(12, 10, 30),
                    40,
                    "DELETE FROM child_restrict;",
                    &["child_restrict"],
                );
                e.outcome = Some(TxOutcome::RolledBack);
                e
            }],
        );
        let v = hypothesize(&Facts::new(&ev));
        assert!(v.findings.is_empty(), "{:?}", v.findings);
        assert!(
            v.ruled_out
                .iter()
                .any(|r| r.reason.contains("aborted work"))
        );
        assert!(
            v.ruled_out
                .iter()
                .any(|r| r.source == "log:postgresql.log:40")
        );
    }

    #[test]
    fn seed_002_assets_deletes_explain_only_part() {
        // assets: 81 inserts, 33 deletes, 0 live: 48 vanished without a DELETE.
        let mut t = deleted(table("assets", 17001, 81), 33);
        t.n_live_tup = Some(0);
        let ev = evidence(vec![t], vec![]);
        let f = &hypothesize(&Facts::new(&ev)).findings[0];
        assert!(
            f.score
                .iter()
                .any(|s| s.reason == Reason::PartialFit && s.text.contains("48"))
        );
        assert!(f.confidence < 0.35);
    }

    #[test]
    fn a_logged_committed_delete_pins_the_session() {
        let ev = with_log(
            evidence(
                vec![deleted(table("child_restrict", 16476, 1000), 300)],
                vec![],
            ),
            vec![event(
                EventKind::Delete,
                at(12, 9, 33),
                9,
                "DELETE FROM child_restrict WHERE id <= 300;",
                &["child_restrict"],
            )],
        );
        let f = &hypothesize(&Facts::new(&ev)).findings[0];
        assert_eq!(f.at, Some(at(12, 9, 33)));
        assert_eq!(f.confidence, 0.7);
    }
}
