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
use crate::analysis::finding::{Fact, Finding, Kind, RuledOut, Verdict};
use crate::analysis::scoring::Reason;
use crate::evidence::EventKind;

const RECOVERY: &[EventKind] = &[
    EventKind::RecoveryStart,
    EventKind::RecoveryStop,
    EventKind::NewTimeline,
    EventKind::Promotion,
    EventKind::LastCompletedTransaction,
];

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
    let populated: Vec<usize> = (0..facts.tables.len())
        .filter(|i| facts.tables[*i].live() > 0)
        .collect();
    let dump_signature =
        !populated.is_empty()
            && facts.tables.iter().filter(|t| t.has_counters()).all(|t| {
                t.never_maintained() && t.upd() == 0 && t.del() == 0 && t.ins() == t.live()
            });
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
    if dump_signature && (c.datid_changed() || !restore_tools.is_empty()) {
        f.scored(
            Reason::StatsSignature,
            "stats:pg_stat_user_tables",
            "every table's counters start fresh with n_tup_ins = n_live_tup, no updates, no deletes and no vacuum or analyze: tables loaded in one go",
        );
    } else if !zeroed.is_empty()
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
            facts.tables[zeroed[0]].cite("n_live_tup"),
            format!("{} tables have zeroed counters while pg_class still counts their rows, as after any recovery", zeroed.len()),
        );
    }
    if signals == 0 {
        if !facts.affected().is_empty() && facts.evidence.database.is_some() {
            verdict.ruled_out.push(RuledOut {
                kind: Kind::Restore,
                tables: facts
                    .affected()
                    .iter()
                    .map(|i| facts.tables[*i].name.clone())
                    .collect(),
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
    f.tables = members
        .iter()
        .map(|i| facts.tables[*i].name.clone())
        .collect();
    f.tables.sort();
    for t in &facts.gone {
        f.tables.push(t.qualified_name());
    }
    let lost: i64 = members.iter().map(|i| facts.tables[*i].missing()).sum();
    f.summary = if lost > 0 {
        format!(
            "the database was restored to an earlier point: {lost} rows committed after it are gone"
        )
    } else {
        "the database was restored to an earlier point: rows committed after the restore point are gone (how many cannot be told without a baseline)".to_string()
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
}
