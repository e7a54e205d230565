//! `stats_reset`: the counters were zeroed, the rows were not. Not a data loss — and the
//! report must say so, because `n_live_tup = 0` reads like "everything deleted".
//!
//! PostgreSQL behaviour relied on (pg-forensics.md, scenarios 10, 13, 13b): after crash
//! recovery (an immediate stop) and after `pg_stat_reset()` every cumulative counter of every
//! table is 0 and every `last_*` is NULL, while `pg_class.reltuples`, `relpages` and the
//! relfilenode keep their values (the rows are all there). Crash recovery sets the
//! `stats_reset` of `pg_stat_bgwriter` (and `pg_stat_wal`, `pg_stat_archiver`) to the end of
//! recovery, seconds after the postmaster started, and leaves `pg_stat_database.stats_reset`
//! NULL; `pg_stat_reset()` and `pg_stat_reset_single_table_counters()` do the opposite. A clean
//! (`-m fast`) restart keeps every counter. After a later VACUUM `n_live_tup` is repopulated
//! while `n_tup_ins` stays 0, so `n_live_tup > n_tup_ins − n_tup_del` can only come from a reset.
//! Point-in-time recovery zeroes them the same way but also advances the timeline: that is the
//! `restore` hypothesis.

use crate::analysis::facts::Facts;
use crate::analysis::finding::{Fact, Finding, Hypothesis, Kind, RecoveryNote, RuledOut, Verdict};
use crate::analysis::scoring::Reason;
use crate::evidence::EventKind;

/// Why an affected table's counters show no reset, in terms true of this table: the sentence
/// says what the counters read, not a template that may contradict them.
fn not_a_reset(t: &crate::analysis::facts::TableView) -> String {
    let counted = t.ins() - t.del();
    if t.ins() > 0 && t.live() < counted {
        format!(
            "n_tup_ins {} − n_tup_del {} = {counted} rows counted, n_live_tup {}: the counters ran on, and {} of the rows they counted are gone",
            t.ins(),
            t.del(),
            t.live(),
            counted - t.live()
        )
    } else {
        format!(
            "counters not zeroed (n_tup_ins {}, n_live_tup {}) and not below what they counted; the {} missing rows are measured against {}",
            t.ins(),
            t.live(),
            t.missing(),
            if t.baseline.is_some() {
                "the baseline"
            } else {
                "the counters"
            }
        )
    }
}

/// This hypothesis in the registry (`ALL` of the hypotheses module), with its advice.
pub const HYPOTHESIS: Hypothesis = Hypothesis {
    title: "Statistics reset (not a data loss)",
    loss: false,
    hypothesize,
    recovery_note: Some(RecoveryNote {
        title: "Nothing to recover for the reset statistics",
        why: "the rows are there; refresh the estimates",
        command: Some("ANALYZE;"),
    }),
    prevention: &[],
};

pub fn hypothesize(facts: &Facts) -> Verdict {
    let mut verdict = Verdict::default();
    let mut members = facts.stats_zeroed_tables();
    for (i, t) in facts.tables.iter().enumerate() {
        // n_live_tup repopulated by a VACUUM after the reset, n_tup_ins still 0. Live rows are
        // the point: with none left, deletes counted since the reset mean the rows went since.
        if t.has_counters()
            && !t.counters_zero()
            && t.live() > 0
            && t.live() > t.ins() - t.del()
            && t.ins() == 0
        {
            members.push(i);
        }
        // Counters that restarted and counted a little since (status rule 3b).
        if t.counters_restarted && !t.affected() && t.stats.relkind != "p" {
            members.push(i);
        }
    }
    members.sort_unstable();
    members.dedup();
    let mut members: Vec<_> = facts.indexed_views(&members).collect();
    // "Nothing was lost" cannot hold for a table the log shows emptied by a committed
    // statement: that table is ruled out, with the statement as the reason. Nor for one a
    // committed DELETE (with a WHERE) touched after the baseline was taken: the reset hid how
    // many rows it removed, but they are rows the baseline counted. (Without a baseline such a
    // DELETE may be routine work of any age: the reset keeps the table.)
    let baseline_at = facts.baseline_at();
    members.retain(|&(i, t)| {
        let since_baseline = || {
            let b = baseline_at.filter(|_| t.baseline.is_some())?;
            facts
                .events_for(i, &[EventKind::Delete])
                .into_iter()
                .rev()
                .find(|e| e.at > b && crate::analysis::facts::committed(e) == Some(true))
        };
        match facts.logged_emptying(i).first().copied().or_else(since_baseline) {
            Some(e) => {
                verdict.ruled_out.push(RuledOut {
                    kind: Kind::StatsReset,
                    tables: vec![t.name.clone()],
                    reason: format!(
                        "the log shows `{}` {} on it{}: its counters restarted, but rows went by that statement",
                        e.text.trim(),
                        if crate::analysis::facts::committed(e) == Some(true) {
                            "committed"
                        } else {
                            "(how its transaction ended is not in the log, and the table does not show it undone)"
                        },
                        if e.kind == EventKind::Delete {
                            " after the baseline"
                        } else {
                            ""
                        }
                    ),
                    source: e.source.clone(),
                });
                false
            }
            None => true,
        }
    });
    // A count(*) taken because the counters restarted finds rows gone: the reset explains the
    // counters, not the rows.
    members.retain(|(_, t)| match t.counted {
        Some(counted)
            if t.affected() || crate::analysis::signatures::count_below_estimate(t).is_some() =>
        {
            verdict.ruled_out.push(RuledOut {
                kind: Kind::StatsReset,
                tables: vec![t.name.clone()],
                reason: format!(
                    "a count(*) after the snapshot finds {counted} rows where {} gives {}: the counters restarted, and rows are gone too",
                    crate::analysis::signatures::expected_label(t),
                    t.expected.unwrap_or(0)
                ),
                source: t.cite_count(),
            });
            false
        }
        _ => true,
    });
    // Deletes counted since the restart that committed (their dead tuples and modifications
    // are there too) and left no live row, or — by a count(*) — fewer rows than they deleted:
    // most rows went after the reset, by DELETE (a routine delete or two leaves most rows).
    // With a baseline of the same table, a count short of the baseline's rows by more than
    // routine work, and deletes committed since the restart, say the same (random incidents
    // seed 31337 #162: a crash, then a logged DELETE of half of 504 rows of unknown outcome).
    members.retain(|(_, t)| {
        let k = crate::analysis::signatures::committed_deletes(t);
        let short_of_baseline = match (t.counted, t.baseline) {
            (Some(counted), Some(b)) if b.oid == t.stats.oid => b
                .n_live_tup
                .is_some_and(|before| before - counted > (before / 20).max(2)),
            _ => false,
        };
        if k > 0 && (t.live() == 0 || (t.counted.is_some() && (k > t.live() || short_of_baseline))) {
            verdict.ruled_out.push(RuledOut {
                kind: Kind::StatsReset,
                tables: vec![t.name.clone()],
                reason: format!(
                    "n_tup_del {} since the counters restarted, {k} of them committed (n_dead_tup {}, n_mod_since_analyze {}), and {} {}{}: the rows went after the reset",
                    t.del(),
                    t.dead(),
                    t.stats.n_mod_since_analyze.unwrap_or(0),
                    if t.counted.is_some() {
                        "a count(*) finds"
                    } else {
                        "n_live_tup"
                    },
                    t.live(),
                    match t.baseline.and_then(|b| b.n_live_tup) {
                        Some(before) if short_of_baseline => format!(" where the baseline counted {before}"),
                        _ => String::new(),
                    }
                ),
                source: t.cite("n_tup_del"),
            });
            false
        } else {
            true
        }
    });
    // "pg_class still counts them" is the claim: a table whose file was replaced since the
    // baseline (or ever, without one) with `reltuples` reset to −1 is the TRUNCATE signature,
    // and pg_class counts nothing there. The reset explains its counters, not its rows.
    members.retain(|(_, t)| {
        let replaced_since = t
            .baseline
            .is_none_or(|b| b.oid == t.stats.oid && b.relfilenode != t.stats.relfilenode);
        if crate::analysis::signatures::storage_signature(t) && replaced_since {
            verdict.ruled_out.push(RuledOut {
                kind: Kind::StatsReset,
                tables: vec![t.name.clone()],
                reason: format!(
                    "relfilenode {} ≠ oid {}{} and reltuples {}: its file was replaced and pg_class no longer counts its rows — a reset zeroes counters, it does not swap files",
                    t.stats.relfilenode,
                    t.stats.oid,
                    t.baseline
                        .map(|b| format!(" (baseline {})", b.relfilenode))
                        .unwrap_or_default(),
                    t.stats.reltuples
                ),
                source: t.cite_catalog("relfilenode"),
            });
            false
        } else {
            true
        }
    });
    let cluster = facts.cluster();
    let Some(&(_, first)) = members.first() else {
        for (_, t) in facts.affected_tables() {
            verdict.ruled_out.push(RuledOut {
                kind: Kind::StatsReset,
                tables: vec![t.name.clone()],
                reason: not_a_reset(t),
                source: t.cite("n_tup_ins"),
            });
        }
        return verdict;
    };
    let names: Vec<String> = members.iter().map(|(_, t)| t.name.clone()).collect();
    let everywhere = facts.stats_zeroed_everywhere();
    let mut f = Finding::new(
        Kind::StatsReset,
        names.clone(),
        format!(
            "the statistics of {} were reset; the rows are still there (pg_class still counts them): nothing was lost",
            match names.as_slice() {
                _ if everywhere => "every table".to_string(),
                [only] => only.clone(),
                _ => format!("{} tables", names.len()),
            }
        ),
    );
    let catalog_rows: f64 = members
        .iter()
        .map(|(_, t)| t.stats.reltuples.max(0.0))
        .sum();
    f.scored(
        Reason::StatsSignature,
        first.cite("n_live_tup"),
        format!(
            "counters at 0 (or below n_live_tup) on {} while pg_class.reltuples still adds up to {} rows",
            match names.as_slice() {
                [only] => only.clone(),
                _ => format!("{} tables", names.len()),
            },
            catalog_rows
        ),
    );
    // Which reset.
    let resets = facts.events_of(&[EventKind::StatsReset]);
    let crashes = facts.events_of(&[EventKind::CrashRecovery, EventKind::Crash]);
    let recoveries = facts.events_of(&[
        EventKind::RecoveryStart,
        EventKind::NewTimeline,
        EventKind::RecoveryStop,
    ]);
    if let Some(r) = cluster.database_stats_reset {
        f.scored(
            Reason::ClusterSignature,
            "stats:pg_stat_database.stats_reset",
            format!("pg_stat_database.stats_reset = {}: pg_stat_reset() or pg_stat_reset_single_table_counters() ran", r.format("%Y-%m-%d %H:%M:%S UTC")),
        );
        f.at = Some(r);
        if let Some(e) = resets.last() {
            f.scored(
                Reason::LogStatement,
                e.source.clone(),
                format!("`{}`", e.text),
            );
            f.pin(e);
        }
    } else if cluster.reset_at_start() && recoveries.is_empty() && !cluster.timeline_advanced() {
        let (r, s) = (
            cluster.bgwriter_stats_reset.unwrap_or_default(),
            cluster.postmaster_start.unwrap_or_default(),
        );
        f.scored(
            Reason::ClusterSignature,
            "stats:pg_stat_bgwriter.stats_reset",
            format!(
                "pg_stat_bgwriter.stats_reset {} is {} s after the postmaster started ({}), and pg_stat_database.stats_reset is NULL: crash recovery zeroed the counters",
                r.format("%Y-%m-%d %H:%M:%S UTC"),
                (r - s).num_seconds(),
                s.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        );
        f.at = Some(r);
        if let Some(e) = crashes.last() {
            f.scored(
                Reason::LogStatement,
                e.source.clone(),
                format!("`{}`", e.text),
            );
            f.at = Some(e.at);
        }
    } else if let Some(e) = crashes.last() {
        f.scored(
            Reason::LogStatement,
            e.source.clone(),
            format!("`{}`", e.text),
        );
        f.at = Some(e.at);
    }
    if cluster.timeline_advanced() || !recoveries.is_empty() {
        f.note(Fact::against(
            recoveries.first().map(|e| e.source.clone()).unwrap_or_else(|| "catalog:pg_control_checkpoint.timeline_id".into()),
            "the cluster went through archive recovery: the counters were zeroed by a restore, which may also have lost recent rows (see restore)",
        ));
    }
    for (_, t) in &members {
        if let Some(b) = t.baseline
            && b.oid != t.stats.oid
        {
            f.scored(
                Reason::Contradicted,
                t.cite_baseline("oid"),
                format!(
                    "{}: oid {} ≠ baseline oid {}: a new table, not reset counters",
                    t.name, t.stats.oid, b.oid
                ),
            );
        }
    }
    f.confirm
        .push("count the rows: SELECT count(*) FROM <table> — they are there".into());
    f.confirm.push("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database(); SELECT stats_reset FROM pg_stat_bgwriter; SELECT pg_postmaster_start_time();".into());
    f.refute
        .push("SELECT count(*) returning fewer rows than pg_class.reltuples".into());
    verdict.findings.push(f.finish());
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::*;

    /// A table dropped and re-created empty (new oid, no insert since): the reason a reset is
    /// ruled out must be true of it — never "n_tup_ins 0 > 0".
    #[test]
    fn the_ruled_out_sentence_is_true_of_the_table() {
        let mut ev = evidence(vec![empty_new("comments", 16600)], vec![]);
        ev.baseline = Some(snapshot(vec![table("comments", 16500, 500)], vec![]));
        let v = hypothesize(&Facts::new(&ev));
        assert!(!v.ruled_out.is_empty());
        for r in &v.ruled_out {
            assert!(!r.reason.contains("0 > 0"), "{}", r.reason);
            assert!(
                !r.reason.contains("the rows they counted are gone"),
                "{}",
                r.reason
            );
        }
    }

    #[test]
    fn crash_recovery_zeroes_counters_but_loses_nothing() {
        // Scenario 10.
        let mut ev = evidence(
            vec![
                zeroed(table("parent", 16391, 1050)),
                zeroed(table("child_restrict", 16423, 700)),
            ],
            vec![],
        );
        if let Some(d) = ev.database.as_mut() {
            d.server.postmaster_start_time = Some(at(12, 13, 7));
            d.bgwriter_stats_reset = Some(at(12, 13, 9));
        }
        let v = hypothesize(&Facts::new(&ev));
        let f = &v.findings[0];
        assert_eq!(f.tables.len(), 2);
        assert!(!f.loss);
        assert_eq!(f.confidence, 0.7);
        assert!(f.score.iter().any(|s| s.text.contains("crash recovery")));
    }

    #[test]
    fn pg_stat_reset_is_told_by_the_database_stats_reset() {
        let mut ev = evidence(vec![zeroed(table("parent", 17255, 1000))], vec![]);
        if let Some(d) = ev.database.as_mut()
            && let Some(s) = d.database_stats.as_mut()
        {
            s.stats_reset = Some(at(12, 20, 0));
        }
        let f = &hypothesize(&Facts::new(&ev)).findings[0];
        assert_eq!(f.at, Some(at(12, 20, 0)));
        assert!(
            f.score
                .iter()
                .any(|s| s.source == "stats:pg_stat_database.stats_reset")
        );
    }

    #[test]
    fn live_above_inserts_after_a_vacuum_is_a_reset() {
        // 13 after VACUUM: live 700, ins 0.
        let mut t = zeroed(table("child_restrict", 17287, 700));
        t.n_live_tup = Some(700);
        let ev = evidence(vec![t], vec![]);
        assert_eq!(hypothesize(&Facts::new(&ev)).findings.len(), 1);
    }

    /// Generator miss (seed 1796226280, incident 171): `pg_stat_reset()`, then `TRUNCATE` of a
    /// partitioned table, then 19 new rows in one partition. Its counters restarted (1,142
    /// inserts in the baseline, 19 now), but its file was replaced since the baseline and
    /// `reltuples` is −1: pg_class does not "still count the rows", so the reset cannot say
    /// nothing was lost there.
    #[test]
    fn a_file_replaced_since_the_baseline_is_not_a_reset() {
        let mut base = table("user.Addresses_p2", 16494, 1142);
        base.partition_parent = Some("user.Addresses".into());
        let mut now = zeroed(base.clone());
        now.n_tup_ins = Some(19);
        now.n_live_tup = Some(19);
        now.n_mod_since_analyze = Some(19);
        now.n_ins_since_vacuum = Some(19);
        now.relfilenode = 16517;
        now.reltuples = -1.0;
        now.relpages = 0;
        now.size_bytes = Some(8192);
        let quiet = zeroed(table("public.inventory", 16500, 300));
        let mut ev = evidence(vec![now, quiet], vec![]);
        if let Some(d) = ev.database.as_mut()
            && let Some(s) = d.database_stats.as_mut()
        {
            s.stats_reset = Some(at(12, 30, 0));
        }
        ev.baseline = Some(snapshot(
            vec![base, table("public.inventory", 16500, 300)],
            vec![],
        ));
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1);
        assert_eq!(v.findings[0].tables, vec!["public.inventory"]);
        assert!(
            v.ruled_out
                .iter()
                .any(|r| r.tables == ["user.Addresses_p2"] && r.reason.contains("reltuples")),
            "{:#?}",
            v.ruled_out
        );
    }

    /// Generator miss (seed 1796226280, incident 125): `pg_stat_reset()`, then `DELETE FROM
    /// "UserAccounts"` cascading to `payments`. Since the reset `payments` counts 554 deletes,
    /// no insert and no live row: "n_live_tup above n_tup_ins − n_tup_del" holds trivially
    /// (0 > −554), but no row is left for the reset to vouch for — the rows went since.
    #[test]
    fn deletes_counted_since_a_reset_with_nothing_left_are_not_a_reset() {
        let mut gone = zeroed(table("payments", 16472, 554));
        gone.n_tup_del = Some(554);
        gone.n_dead_tup = Some(554);
        gone.n_mod_since_analyze = Some(554);
        let quiet = zeroed(table("shipments", 16386, 697));
        let mut ev = evidence(vec![gone, quiet], vec![]);
        if let Some(d) = ev.database.as_mut()
            && let Some(s) = d.database_stats.as_mut()
        {
            s.stats_reset = Some(at(12, 30, 0));
        }
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1);
        assert_eq!(v.findings[0].tables, vec!["public.shipments"]);
    }

    /// Random incidents seed 31337 #162: a baseline of 504 rows, a crash, then `DELETE FROM
    /// comments WHERE id % 2 = 0` under log_statement = mod (its outcome not logged). A count
    /// finds 252, the 252 deletes counted since the restart committed (dead tuples, mods): the
    /// reset's "the rows are still there" is not true of this table.
    #[test]
    fn a_count_short_of_the_baseline_after_deletes_since_the_restart_is_not_a_reset() {
        let mut half = zeroed(table("comments", 16448, 504));
        half.n_tup_del = Some(252);
        half.n_dead_tup = Some(252);
        half.n_mod_since_analyze = Some(252);
        let quiet = zeroed(table("shipments", 16386, 697));
        let mut ev = evidence(vec![half, quiet], vec![]);
        ev.baseline = Some(snapshot(
            vec![table("comments", 16448, 504), table("shipments", 16386, 697)],
            vec![],
        ));
        let mut counts = crate::evidence::ExactRowCounts {
            budget_ms: 1000,
            spent_ms: 1,
            counted: Default::default(),
            not_counted: Default::default(),
        };
        counts.counted.insert("public.comments".into(), 252);
        counts.counted.insert("public.shipments".into(), 697);
        ev.exact_counts = Some(counts);
        let v = hypothesize(&Facts::new(&ev));
        assert!(
            v.findings.iter().all(|f| !f.tables.contains(&"public.comments".to_string())),
            "{:?}",
            v.findings
        );
        assert!(
            v.ruled_out
                .iter()
                .any(|r| r.tables == ["public.comments"] && r.reason.contains("the baseline counted 504")),
            "{:?}",
            v.ruled_out
        );
    }

    /// Generator miss (seed 1796226280, incident 277): a baseline, then `DELETE FROM
    /// "Ops".customers WHERE id % 2 = 0` (logged, committed), then a crash. The counters cannot
    /// size it, but it ran after the baseline: the reset does not make its table "nothing
    /// lost". A routine `DELETE … WHERE id = 536` from before the baseline does not count.
    #[test]
    fn a_committed_delete_after_the_baseline_keeps_its_table_out_of_the_reset() {
        let run = |delete_at| {
            let mut base = deleted(table("Ops.customers", 16406, 1232), 1);
            base.n_dead_tup = Some(0);
            let mut baseline = snapshot(vec![base, table("Ops.inventory", 16394, 951)], vec![]);
            baseline.server.server_time = at(12, 10, 0);
            let mut now = zeroed(table("Ops.customers", 16406, 1231));
            now.reltuples = -1.0;
            now.relpages = 0;
            now.size_bytes = Some(57344);
            let quiet = zeroed(table("Ops.inventory", 16394, 951));
            let mut ev = with_log(
                evidence(vec![now, quiet], vec![]),
                vec![
                    event(
                        EventKind::Delete,
                        at(12, 5, 0),
                        30,
                        "DELETE FROM \"Ops\".customers WHERE id = 536",
                        &["Ops.customers"],
                    ),
                    event(
                        EventKind::Delete,
                        delete_at,
                        40,
                        "DELETE FROM \"Ops\".customers WHERE id % 2 = 0",
                        &["Ops.customers"],
                    ),
                ],
            );
            ev.baseline = Some(baseline);
            if let Some(d) = ev.database.as_mut() {
                d.server.postmaster_start_time = Some(at(12, 25, 0));
                d.bgwriter_stats_reset = Some(at(12, 25, 2));
            }
            hypothesize(&Facts::new(&ev))
        };
        let v = run(at(12, 20, 0));
        assert_eq!(v.findings.len(), 1);
        assert_eq!(v.findings[0].tables, vec!["Ops.inventory"]);
        assert!(
            v.ruled_out
                .iter()
                .any(|r| r.tables == ["Ops.customers"] && r.reason.contains("after the baseline"))
        );
        // The control: both deletes before the baseline; the reset explains both tables.
        let v = run(at(12, 8, 0));
        assert_eq!(v.findings[0].tables.len(), 2, "{:#?}", v.ruled_out);
    }

    /// Generator miss (seed 1796226280, incident 245, N = 400): a crash, then `DELETE FROM
    /// "LineItems"` cascading to `notes`. notes' counters went backwards (0 inserts against the
    /// baseline's 1,471), so they restarted — but since then they count 1,471 committed deletes
    /// and no live row: the rows went after the crash.
    #[test]
    fn committed_deletes_since_the_restart_that_left_nothing_are_not_a_reset() {
        let base = table("notes", 16393, 1471);
        let mut now = zeroed(base.clone());
        now.n_tup_del = Some(1471);
        now.n_dead_tup = Some(1471);
        now.n_mod_since_analyze = Some(1471);
        let quiet = zeroed(table("inventory", 16400, 300));
        let mut ev = evidence(vec![now, quiet], vec![]);
        ev.baseline = Some(snapshot(vec![base, table("inventory", 16400, 300)], vec![]));
        if let Some(d) = ev.database.as_mut() {
            d.server.postmaster_start_time = Some(at(12, 25, 0));
            d.bgwriter_stats_reset = Some(at(12, 25, 2));
        }
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1);
        assert_eq!(v.findings[0].tables, vec!["public.inventory"]);
    }

    #[test]
    fn a_wiped_table_with_running_counters_rules_it_out() {
        let t = truncated(table("t", 1, 10), 2, at(1, 0, 0));
        let ev = evidence(vec![t], vec![]);
        let v = hypothesize(&Facts::new(&ev));
        assert!(v.findings.is_empty());
        assert_eq!(v.ruled_out.len(), 1);
    }
}
