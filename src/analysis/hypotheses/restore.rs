//! `restore`: the database was put back to an earlier state — a point-in-time recovery, a base
//! backup, a dump restored into a re-created database, or an older replica promoted. Rows
//! committed after the restore point are gone.
//!
//! PostgreSQL behaviour relied on (pg-forensics.md, scenarios 9 and 11):
//! * PITR with promotion advances the timeline (`pg_control_checkpoint().timeline_id` 1→2),
//!   keeps the system identifier, starts a new postmaster, zeroes every table's counters and
//!   sets `pg_stat_bgwriter.stats_reset` exactly as crash recovery does, and puts relfilenodes,
//!   reltuples and pg_class xmins back to their pre-incident values. The log shows `starting
//!   point-in-time recovery to …`, `recovery stopping before commit of transaction …, time …`,
//!   `last completed transaction was at log time …` and `selected new timeline ID: N`.
//!   Paused at the target (the default), `pg_is_in_recovery()` is true and the timeline is still 1.
//! * pg_dump → DROP DATABASE → CREATE DATABASE → pg_restore gives the database a new oid
//!   (`datid`), every table a new oid, and fresh counters with `n_tup_ins = n_live_tup`,
//!   `n_tup_upd = n_tup_del = 0` and no `last_*`; the log shows the tools by application name.
//! * A new `initdb` (a different cluster) has a different system identifier.

use crate::analysis::facts::Facts;
use crate::analysis::finding::{Fact, Finding, Hypothesis, Kind, RuledOut, Verdict};
use crate::analysis::scoring::Reason;
use crate::evidence::EventKind;

const RECOVERY: &[EventKind] = &[
    EventKind::RecoveryStart,
    EventKind::RecoveryStop,
    EventKind::NewTimeline,
    EventKind::Promotion,
    EventKind::LastCompletedTransaction,
];

/// This hypothesis in the registry (`ALL` of the hypotheses module), with its advice.
pub const HYPOTHESIS: Hypothesis = Hypothesis {
    title: "Restore (backup, point-in-time recovery or older replica)",
    loss: true,
    hypothesize,
    recovery_note: None,
    prevention: &[
        "Restores go through a runbook that ends with `pgtriage verify --baseline …` before traffic returns.",
    ],
};

pub fn hypothesize(facts: &Facts) -> Verdict {
    let mut verdict = Verdict::default();
    let c = facts.cluster();
    let recovery_log = facts.events_of(RECOVERY);
    let restore_tools: Vec<_> = facts
        .events_of(&[EventKind::ToolSession, EventKind::DropDatabase])
        .into_iter()
        .filter(|e| {
            e.kind == EventKind::DropDatabase
                || e.session
                    .application
                    .as_deref()
                    .is_some_and(|a| a == "pg_restore")
                || e.text.contains("pg_restore")
        })
        .collect();
    let zeroed = facts.stats_zeroed_tables();
    let populated: Vec<usize> = facts
        .tables
        .iter()
        .enumerate()
        .filter(|(_, t)| t.live() > 0)
        .map(|(i, _)| i)
        .collect();
    let dump_signature =
        !populated.is_empty()
            && facts.tables.iter().filter(|t| t.has_counters()).all(|t| {
                t.never_maintained() && t.upd() == 0 && t.del() == 0 && t.ins() == t.live()
            });
    // pg_restore loads each table's rows first and builds its indexes (the primary key) after:
    // CREATE INDEX sets pg_class.reltuples to the rows it indexed. A table created with its
    // indexes and filled afterwards keeps reltuples −1 until its first VACUUM or ANALYZE. So on
    // freshly loaded counters, reltuples counted on tables no VACUUM or ANALYZE ever touched (on
    // most of them: a table without an index has none to build) is the load of a dump — with
    // no baseline and no log, the only trace of the restore.
    let indexed_after_load: Vec<_> = facts
        .views(&populated)
        .filter(|t| {
            // reltuples above n_live_tup with no delete counted: the counters started after
            // the rows were there (a reset, which also clears every last_*), not with the load.
            t.never_maintained()
                && !t.rewritten()
                && t.stats.reltuples > 0.0
                && t.stats.reltuples <= t.live() as f64
        })
        .collect();
    let reloaded = dump_signature
        && !facts.counters_restarted_cluster()
        && indexed_after_load.len() >= 2
        && indexed_after_load.len() * 2 >= populated.len();
    let mut f = Finding::new(Kind::Restore, Vec::new(), String::new());
    let mut signals = 0;
    if c.timeline_advanced() {
        signals += 1;
        f.scored(
            Reason::ClusterSignature,
            "catalog:pg_control_checkpoint.timeline_id",
            format!("timeline {} now, {} in the baseline: the cluster went through archive recovery and was promoted", c.timeline_id.unwrap_or(0), c.baseline_timeline_id.unwrap_or(0)),
        );
    }
    if c.system_changed() {
        signals += 1;
        f.scored(
            Reason::ClusterSignature,
            "catalog:pg_control_system.system_identifier",
            format!("system identifier {} ≠ baseline {}: a different cluster (a new initdb) now answers", c.system_identifier.clone().unwrap_or_default(), c.baseline_system_identifier.clone().unwrap_or_default()),
        );
    }
    if c.datid_changed() {
        signals += 1;
        f.scored(
            Reason::ClusterSignature,
            "catalog:pg_database.oid",
            format!("database oid {} ≠ baseline {}: the database was dropped and re-created (a dump restore)", c.datid.unwrap_or(0), c.baseline_datid.unwrap_or(0)),
        );
    }
    if let Some(e) = recovery_log.first() {
        signals += 1;
        f.scored(
            Reason::LogStatement,
            e.source.clone(),
            format!("`{}`", e.text),
        );
        for e in recovery_log.iter().skip(1) {
            f.note(Fact::for_(e.source.clone(), format!("`{}`", e.text)));
        }
        let stop = recovery_log
            .iter()
            .find(|e| e.kind == EventKind::RecoveryStop)
            .copied()
            .or(recovery_log.last().copied());
        if let Some(e) = stop {
            f.pin(e);
        }
    } else if let Some(e) = restore_tools.first() {
        signals += 1;
        f.scored(
            Reason::LogStatement,
            e.source.clone(),
            format!(
                "`{}` ({})",
                e.text,
                e.session.application.clone().unwrap_or_default()
            ),
        );
        f.pin(e);
    }
    // Reloaded: at least two tables were indexed after their load.
    if reloaded
        && signals == 0
        && let Some(first) = indexed_after_load.first()
    {
        signals += 1;
        f.scored(
            Reason::CatalogSignature,
            first.cite_catalog("reltuples"),
            format!(
                "pg_class.reltuples is set on {} of {} populated tables no VACUUM or ANALYZE ever ran on ({} reltuples {}, n_live_tup {}): their indexes were built after their rows were loaded, as pg_restore does",
                indexed_after_load.len(),
                populated.len(),
                first.name,
                first.stats.reltuples,
                first.live()
            ),
        );
    }
    if dump_signature && (c.datid_changed() || !restore_tools.is_empty() || reloaded) {
        f.scored(
            Reason::StatsSignature,
            "stats:pg_stat_user_tables",
            "every table's counters start fresh with n_tup_ins = n_live_tup, no updates, no deletes and no vacuum or analyze: tables loaded in one go",
        );
    } else if let Some(first_zeroed) = facts.views(&zeroed).next()
        && (signals > 0 || (c.reset_at_start() && c.timeline_id.unwrap_or(1) > 1))
    {
        if signals == 0 {
            signals += 1;
            f.scored(
                Reason::ClusterSignature,
                "catalog:pg_control_checkpoint.timeline_id",
                format!("timeline {} and the statistics reset at the postmaster's start: archive recovery (PITR or promotion), not just a crash", c.timeline_id.unwrap_or(0)),
            );
        }
        f.scored(
            Reason::StatsSignature,
            first_zeroed.cite("n_live_tup"),
            format!("{} tables have zeroed counters while pg_class still counts their rows, as after any recovery", zeroed.len()),
        );
    }
    if signals == 0 {
        if !facts.affected().is_empty() && facts.evidence.database.is_some() {
            verdict.ruled_out.push(RuledOut {
                kind: Kind::Restore,
                tables: facts.names(&facts.affected()),
                reason: format!(
                    "timeline {}{}, no recovery in the log{}: no restore happened",
                    c.timeline_id
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "unknown".into()),
                    if c.baseline_system_identifier.is_some() {
                        ", same system identifier and database oid as the baseline"
                    } else {
                        ""
                    },
                    c.postmaster_start
                        .map(|s| format!(
                            ", postmaster up since {}",
                            s.format("%Y-%m-%d %H:%M:%S UTC")
                        ))
                        .unwrap_or_default()
                ),
                source: "catalog:pg_control_checkpoint.timeline_id".into(),
            });
        }
        return verdict;
    }
    // Which tables: with a baseline the ones that lost rows; else the zeroed or reloaded ones.
    let mut members: Vec<usize> = facts.affected();
    members.extend(zeroed.iter().copied());
    if dump_signature {
        members.extend(populated.iter().copied());
    }
    members.sort_unstable();
    members.dedup();
    f.tables = facts.names(&members);
    f.tables.sort();
    for t in &facts.gone {
        f.tables.push(t.qualified_name());
    }
    let lost: i64 = facts.views(&members).map(|t| t.missing()).sum();
    let baseline_rows: Option<i64> = facts
        .views(&members)
        .map(|t| t.expected.filter(|_| t.baseline.is_some()))
        .chain(facts.gone.iter().map(|t| t.n_live_tup))
        .sum();
    f.summary = match (facts.baseline_at(), baseline_rows) {
        (Some(at), _) if lost > 0 => format!(
            "the database was restored to an earlier point: {lost} rows the baseline of {} counted are gone",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        (Some(at), Some(rows)) if facts.views(&members).any(|t| !t.rows_counted) => {
            let estimate: f64 = facts
                .views(&members)
                .map(|t| t.stats.reltuples.max(0.0))
                .sum();
            format!(
                "the database was restored to an earlier point: the baseline of {} counted {rows} rows in these tables; the recovery zeroed their counters, so how many are gone needs count(*) (pg_class estimates {estimate:.0} now, as of their last ANALYZE)",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            )
        }
        (Some(at), _) => format!(
            "the database was restored to an earlier point: every table holds at least the rows the baseline of {} counted; rows committed after the baseline and after the restore point are gone",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        (None, _) => "the database was restored to an earlier point: rows committed after the restore point are gone (how many cannot be told without a baseline)".to_string(),
    };
    if c.in_recovery == Some(true) {
        f.note(Fact::for_(
            "catalog:pg_is_in_recovery",
            "the server is still in recovery (paused at the target?): tables the recovery holds AccessExclusiveLock on cannot be read until it is promoted",
        ));
    }
    f.confirm.push("pg_controldata: `Latest checkpoint's TimeLineID` / `PrevTimeLineID`, and the *.history files in pg_wal".into());
    f.confirm
        .push("the restore runbook or ticket: who restored which backup, to which target".into());
    f.refute.push(
        "the same timeline, system identifier and database oid as a baseline taken before the loss"
            .into(),
    );
    verdict.findings.push(f.finish());
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::*;

    #[test]
    fn pitr_is_told_by_the_timeline_against_the_baseline() {
        let before = snapshot(vec![table("parent", 16391, 1010)], vec![]);
        let mut ev = evidence(vec![zeroed(table("parent", 16391, 1000))], vec![]);
        ev.baseline = Some(before);
        if let Some(d) = ev.database.as_mut() {
            d.server.timeline_id = Some(2);
            d.server.postmaster_start_time = Some(at(12, 13, 27));
            d.bgwriter_stats_reset = Some(at(12, 13, 31));
        }
        let ev = with_log(
            ev,
            vec![event(
                EventKind::RecoveryStop,
                at(12, 13, 31),
                8,
                "recovery stopping before commit of transaction 779, time 2026-11-23 12:13:24.431043+00",
                &[],
            )],
        );
        let v = hypothesize(&Facts::new(&ev));
        let f = &v.findings[0];
        assert_eq!(f.tables, vec!["public.parent"]);
        assert!(f.loss);
        assert_eq!(f.confidence, 1.0);
        assert_eq!(f.at, Some(at(12, 13, 31)));
    }

    #[test]
    fn no_restore_signal_rules_it_out() {
        let t = truncated(table("t", 1, 10), 2, at(1, 0, 0));
        let v = hypothesize(&Facts::new(&evidence(vec![t], vec![])));
        assert!(v.findings.is_empty());
        assert!(v.ruled_out[0].reason.contains("no restore happened"));
    }

    #[test]
    fn a_dump_restore_is_told_by_a_new_database_oid() {
        let mut before = snapshot(vec![table("parent", 17088, 1000)], vec![]);
        before.server.datid = Some(16000);
        let mut t = table("parent", 17156, 1000);
        t.last_vacuum = None;
        t.last_analyze = None;
        t.vacuum_count = Some(0);
        t.analyze_count = Some(0);
        let mut ev = evidence(vec![t], vec![]);
        ev.baseline = Some(before);
        let f = &hypothesize(&Facts::new(&ev)).findings[0];
        assert!(
            f.score
                .iter()
                .any(|s| s.source == "catalog:pg_database.oid")
        );
        assert!(f.confidence >= 0.7);
    }

    /// A table as pg_restore leaves it: re-created (new oid), loaded in one go, never vacuumed.
    fn restored(name: &str, oid: u32, rows: i64) -> crate::evidence::TableStats {
        let mut t = table(name, oid, rows);
        t.last_vacuum = None;
        t.last_analyze = None;
        t.vacuum_count = Some(0);
        t.analyze_count = Some(0);
        t
    }

    /// Generator miss (seed 1796226280, incidents 103 and 157): pg_dump, dropdb, createdb,
    /// pg_restore, with no baseline and log_statement = none (no connection lines either). The
    /// only trace: every table's counters are fresh (n_tup_ins = n_live_tup, nothing else), yet
    /// pg_class.reltuples counts the rows of the tables with a primary key although nothing
    /// ever vacuumed or analyzed them — pg_restore built their indexes after loading them.
    #[test]
    fn a_dump_restore_without_baseline_or_log_is_told_by_indexes_built_after_the_load() {
        let mut no_key = restored("public.LineItems", 16501, 169);
        no_key.reltuples = -1.0;
        no_key.relpages = 0;
        let tables = vec![
            restored("Sales.audit_log", 16476, 114),
            restored("billing.customers", 16491, 1431),
            restored("public.window", 16519, 470),
            no_key,
        ];
        let v = hypothesize(&Facts::new(&evidence(tables, vec![])));
        assert_eq!(v.findings.len(), 1, "{:#?}", v.ruled_out);
        let f = &v.findings[0];
        assert!(f.loss);
        assert_eq!(f.tables.len(), 4);
        assert!(f.score.iter().any(|s| s.text.contains("pg_restore")));
    }

    /// The control: the same fresh counters on tables created with their keys and filled
    /// by the application (reltuples −1, no VACUUM yet) are no restore.
    #[test]
    fn fresh_counters_with_unset_reltuples_are_no_restore() {
        let tables: Vec<_> = [("a", 1, 114), ("b", 2, 1431), ("c", 3, 470)]
            .into_iter()
            .map(|(n, oid, rows)| {
                let mut t = restored(n, oid, rows);
                t.reltuples = -1.0;
                t.relpages = 0;
                t
            })
            .collect();
        let v = hypothesize(&Facts::new(&evidence(tables, vec![])));
        assert!(v.findings.is_empty(), "{:#?}", v.findings);
    }

    /// The control of the generator's incident 171: `pg_stat_reset()` also clears every
    /// `last_*` and leaves counters that look fresh, while reltuples still counts the rows from
    /// the last ANALYZE. That is a reset, not a load.
    #[test]
    fn counters_fresh_after_a_stats_reset_are_no_restore() {
        let mut tables = Vec::new();
        for (n, oid, rows) in [("a", 1, 114), ("b", 2, 1431), ("c", 3, 470)] {
            let mut t = zeroed(table(n, oid, rows));
            t.n_tup_ins = Some(10);
            t.n_live_tup = Some(10);
            tables.push(t);
        }
        let mut ev = evidence(tables, vec![]);
        if let Some(d) = ev.database.as_mut()
            && let Some(s) = d.database_stats.as_mut()
        {
            s.stats_reset = Some(at(12, 30, 0));
        }
        let v = hypothesize(&Facts::new(&ev));
        assert!(v.findings.is_empty(), "{:#?}", v.findings);
    }

    /// Issue #14 item 4, a dump restore: the baseline had 300 customers and 1,080 orders (1,100
    /// inserted, 20 deleted); pg_restore re-created both and loaded 300 and 980. The restore's
    /// inserts are the old rows coming back, not new ones: 100 orders are lost, no customer —
    /// not "600 expected, 300 missing".
    #[test]
    fn a_dump_restore_is_compared_with_the_baseline_rows_not_both_histories() {
        let mut base = snapshot(
            vec![
                table("customers", 16386, 300),
                deleted(table("orders", 16393, 1100), 20),
            ],
            vec![],
        );
        base.server.server_time = at(15, 25, 39);
        let mut ev = evidence(
            vec![
                restored("customers", 16412, 300),
                restored("orders", 16417, 980),
            ],
            vec![],
        );
        if let Some(d) = ev.database.as_mut() {
            d.server.datid = Some(16411);
        }
        ev.baseline = Some(base);
        let a = crate::analysis::analyze(&ev);
        let row = |n: &str| a.tables.iter().find(|t| t.name == n).cloned();
        let customers = row("customers").expect("customers");
        assert_eq!(customers.expected_rows, Some(300));
        assert_eq!(customers.missing_rows, None);
        assert_eq!(customers.status, "intact");
        let orders = row("orders").expect("orders");
        assert_eq!(orders.expected_rows, Some(1080));
        assert_eq!(orders.missing_rows, Some(100));
        assert_eq!(orders.status, "partial");
        assert_eq!(orders.expected_from, "baseline");
        let top = &a.findings[0];
        assert_eq!(top.kind, Kind::Restore);
        assert!(
            top.summary
                .contains("100 rows the baseline of 2026-11-23 15:25:39 UTC counted are gone"),
            "{}",
            top.summary
        );
        assert!(
            a.summary.starts_with(
                "1 of 2 tables lost rows (100 rows expected from the baseline of 2026-11-23 15:25:39 UTC"
            ),
            "{}",
            a.summary
        );
    }

    /// Issue #14 item 4, PITR: the recovery zeroed the counters of tables it kept (same oids).
    /// The baseline's rows are what is expected (not 0), the rows now cannot be counted from
    /// the statistics (no "N missing" from zeroed counters), and the finding says what the
    /// baseline counted instead of "cannot be told without a baseline". The recovery's log
    /// line is a server process's: it names no session.
    #[test]
    fn pitr_expects_the_baseline_rows_and_does_not_count_zeroed_counters() {
        let mut base = snapshot(
            vec![table("customers", 16387, 300), table("orders", 16394, 1500)],
            vec![],
        );
        base.server.server_time = at(15, 24, 18);
        let mut customers = zeroed(table("customers", 16387, 300));
        customers.reltuples = 300.0;
        let mut orders = zeroed(table("orders", 16394, 1500));
        orders.reltuples = 1000.0;
        let mut ev = evidence(vec![customers, orders], vec![]);
        if let Some(d) = ev.database.as_mut() {
            d.server.timeline_id = Some(2);
            d.server.postmaster_start_time = Some(at(15, 24, 19));
            d.bgwriter_stats_reset = Some(at(15, 24, 19));
        }
        ev.baseline = Some(base);
        let mut stop = event(
            EventKind::RecoveryStop,
            at(15, 24, 20),
            12,
            "recovery stopping before commit of transaction 776",
            &[],
        );
        stop.session = crate::evidence::SessionInfo {
            pid: Some(18507),
            ..Default::default()
        };
        let ev = with_log(ev, vec![stop]);
        let a = crate::analysis::analyze(&ev);
        for (name, rows) in [("customers", 300), ("orders", 1500)] {
            let t = a.tables.iter().find(|t| t.name == name).expect(name);
            assert_eq!(t.expected_rows, Some(rows), "{name}");
            assert_eq!(
                t.missing_rows, None,
                "{name}: zeroed counters count nothing"
            );
            assert_eq!(t.status, "unknown", "{name}");
        }
        let restore = a
            .findings
            .iter()
            .find(|f| f.kind == Kind::Restore)
            .expect("restore");
        assert!(
            !restore.summary.contains("without a baseline"),
            "{}",
            restore.summary
        );
        assert!(
            restore
                .summary
                .contains("the baseline of 2026-11-23 15:24:18 UTC counted 1800 rows"),
            "{}",
            restore.summary
        );
        assert_eq!(
            restore.session, None,
            "a recovery line names no client session"
        );
        assert!(!a.summary.contains("None of the 2 tables"), "{}", a.summary);
    }
}
