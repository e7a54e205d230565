//! `unlogged_crash`: an UNLOGGED table emptied by crash recovery (or empty because this server
//! is a standby, or was restored from a base backup / PITR). A loss: the rows are gone, and no
//! WAL, archive, base backup or replica ever held them.
//!
//! PostgreSQL behaviour relied on (the crash part measured on 15 by tests/unlogged_crash.rs; the
//! standby and base-backup part is the PostgreSQL documentation's, not measured here):
//! an UNLOGGED table (`pg_class.relpersistence = 'u'`) writes no WAL. At the end of crash
//! recovery (`pg_ctl stop -m immediate`, a backend crash, a power cut) the server resets every
//! unlogged table to its init fork: the main fork is 0 bytes (`pg_relation_size` = 0) while the
//! table keeps its oid and relfilenode, and `pg_class.relpages` / `reltuples` keep the values of
//! its last VACUUM or ANALYZE (pg_class itself is logged), e.g. 5 pages and 1000 rows over an
//! empty file. Crash recovery also zeroes every counter (`n_live_tup` 0), exactly as for a
//! permanent table — whose file keeps its size and rows (that is `stats_reset`, no loss). A
//! standby never has an unlogged table's rows, and a base backup omits them, so a PITR or a
//! restored base backup starts it empty too. A logical dump (`pg_dump`) does copy its rows.
//! A clean (`-m fast`) restart keeps them. A TRUNCATE, unlike the reset, gives a new
//! relfilenode and sets `reltuples` to −1.

use chrono::{DateTime, Utc};

use crate::analysis::facts::{Facts, TableView};
use crate::analysis::finding::{Fact, Finding, Hypothesis, Kind, RuledOut, Verdict};
use crate::analysis::scoring::Reason;
use crate::evidence::{EventKind, LogEvent};

/// This hypothesis in the registry (`ALL` of the hypotheses module), with its advice.
pub const HYPOTHESIS: Hypothesis = Hypothesis {
    title: "UNLOGGED table emptied by crash recovery",
    loss: true,
    hypothesize,
    recovery_note: None,
    prevention: &[
        "Do not keep data you need in UNLOGGED tables: crash recovery empties them and no replica, WAL archive or base backup holds their rows. ALTER TABLE … SET LOGGED makes one crash-safe (it rewrites the table into the WAL once); keep UNLOGGED for caches you can rebuild.",
    ],
};

/// What reset the cluster's unlogged tables: how it is seen, and when.
struct Reset<'a> {
    /// When it happened, when the evidence says.
    at: Option<DateTime<Utc>>,
    /// What it was, as a noun: `crash recovery`, `restore`.
    what: &'static str,
    /// How the table came to be empty, for the summary: `emptied by crash recovery`.
    how: &'static str,
    /// The cluster-level fact (scored as the cluster signature), with its source.
    cluster: Option<(String, String)>,
    /// The server's own log line, when the log has it.
    logged: Option<&'a LogEvent>,
}

/// The reset of the unlogged tables the evidence shows, latest first: a standby, a restore
/// (the timeline moved on, or archive recovery in the log), crash recovery (the log's "not
/// properly shut down", or the bgwriter's stats reset at this postmaster's start). A dump
/// restore (a new database oid or system identifier) is none: pg_dump copies unlogged rows.
fn reset<'a>(facts: &Facts<'a>) -> Option<Reset<'a>> {
    let c = facts.cluster();
    if c.in_recovery == Some(true) {
        // No time: a standby's content says nothing about when the primary had the rows.
        return Some(Reset {
            at: None,
            what: "standby",
            how: "empty on this standby",
            cluster: Some((
                "catalog:pg_is_in_recovery".into(),
                "pg_is_in_recovery() is true: a standby never has an unlogged table's rows (they are not in the WAL it replays)".into(),
            )),
            logged: None,
        });
    }
    let archive = facts.events_of(&[EventKind::RecoveryStart, EventKind::NewTimeline]);
    if c.timeline_advanced() || !archive.is_empty() {
        let cluster = c.timeline_advanced().then(|| {
            (
                "catalog:pg_control_checkpoint.timeline_id".to_string(),
                format!(
                    "timeline {} → {}: the cluster was restored from a base backup (PITR), which starts unlogged tables empty",
                    c.baseline_timeline_id.unwrap_or_default(),
                    c.timeline_id.unwrap_or_default()
                ),
            )
        });
        let logged = archive.first().copied();
        return Some(Reset {
            at: logged.map(|e| e.at).or(c.postmaster_start),
            what: "restore",
            how: "emptied by a restore from a base backup",
            cluster,
            logged,
        });
    }
    let crashes = facts.events_of(&[EventKind::CrashRecovery]);
    let after = facts.baseline_at();
    let logged = crashes
        .iter()
        .find(|e| after.is_some_and(|b| e.at > b))
        .or(crashes.last())
        .copied();
    let cluster = c.reset_at_start().then(|| {
        let (r, s) = (
            c.bgwriter_stats_reset.unwrap_or_default(),
            c.postmaster_start.unwrap_or_default(),
        );
        (
            "stats:pg_stat_bgwriter.stats_reset".to_string(),
            format!(
                "pg_stat_bgwriter.stats_reset {} is {} s after the postmaster started ({}): crash recovery ran at this start",
                r.format("%Y-%m-%d %H:%M:%S UTC"),
                (r - s).num_seconds(),
                s.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        )
    });
    if logged.is_none() && cluster.is_none() {
        return None;
    }
    // The log's time of the recovery may be to the second (`%t`); the postmaster's start, when
    // it is this recovery's (the stats reset at it, the logged line within the second before),
    // is to the microsecond. A baseline taken in that second is before or after the crash by
    // the precise time, not the rounded one (random incidents seed 8787: a baseline 0.74 s into
    // the second of the crash read as taken after it, and the crash's emptying was ruled out).
    let start = c.postmaster_start.filter(|_| cluster.is_some());
    let at = match (logged.map(|e| e.at), start) {
        (Some(l), Some(s)) if l <= s && s - l < chrono::Duration::seconds(1) => Some(s),
        (Some(l), _) => Some(l),
        (None, s) => s,
    };
    Some(Reset {
        at,
        what: "crash recovery",
        how: "emptied by crash recovery",
        cluster,
        logged,
    })
}

fn unlogged(t: &TableView) -> bool {
    t.stats.persistence.as_deref() == Some("u") && t.stats.relkind != "p"
}

/// The table holds nothing now: its file is empty (or, where the size is not visible, no live
/// row and no page).
fn empty_now(t: &TableView) -> bool {
    match t.stats.size_bytes {
        Some(size) => size == 0,
        None => t.live() == 0 && t.stats.relpages == 0,
    }
}

/// What shows the table had rows before the reset, in words, with the rows when counted.
fn rows_before(t: &TableView) -> Option<(Option<i64>, String)> {
    if let Some(b) = t.baseline
        && b.oid == t.stats.oid
        && let Some(n) = b.n_live_tup.filter(|n| *n > 0)
    {
        return Some((Some(n), format!("{n} rows (the baseline's n_live_tup)")));
    }
    if t.stats.reltuples > 0.0 {
        return Some((
            None,
            format!(
                "rows lost unknown, estimated at {} from pg_class.reltuples (its last VACUUM or ANALYZE before the reset; an estimate, not a count)",
                t.stats.reltuples
            ),
        ));
    }
    if t.stats.relpages > 0 {
        return Some((
            None,
            format!(
                "rows lost unknown: pg_class.relpages says {} pages held rows at its last VACUUM or ANALYZE",
                t.stats.relpages
            ),
        ));
    }
    None
}

pub fn hypothesize(facts: &Facts) -> Verdict {
    let mut verdict = Verdict::default();
    let candidates: Vec<_> = facts
        .tables
        .iter()
        .enumerate()
        .filter(|(_, t)| unlogged(t))
        .collect();
    if candidates.is_empty() {
        return verdict;
    }
    let Some(reset) = reset(facts) else {
        for (_, t) in &candidates {
            if t.affected() {
                verdict.ruled_out.push(RuledOut {
                    kind: Kind::UnloggedCrash,
                    tables: vec![t.name.clone()],
                    reason: "UNLOGGED, but the evidence shows no crash recovery, standby or restore that would have emptied it".into(),
                    source: t.cite_catalog("relpersistence"),
                });
            }
        }
        return verdict;
    };
    let baseline_at = facts.baseline_at();
    let mut members: Vec<(usize, &TableView, Option<i64>, String)> = Vec::new();
    for &(i, t) in &candidates {
        if !empty_now(t) {
            continue;
        }
        let Some((rows, how)) = rows_before(t) else {
            continue;
        };
        // The baseline counted rows after this reset: the reset did not empty it.
        if rows.is_some()
            && let (Some(b), Some(r)) = (baseline_at, reset.at)
            && r <= b
        {
            verdict.ruled_out.push(RuledOut {
                kind: Kind::UnloggedCrash,
                tables: vec![t.name.clone()],
                reason: format!(
                    "the baseline of {} counted its rows after the {} of {}: something later emptied it",
                    b.format("%Y-%m-%d %H:%M:%S UTC"),
                    reset.what,
                    r.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                source: t.cite_baseline("n_live_tup"),
            });
            continue;
        }
        members.push((i, t, rows, how));
    }
    if members.is_empty() {
        return verdict;
    }
    let names: Vec<String> = members.iter().map(|(_, t, _, _)| t.name.clone()).collect();
    let counted: Option<i64> = members.iter().map(|(_, _, n, _)| *n).sum();
    let lost = match counted {
        Some(n) => format!("{n} rows gone"),
        None => "rows lost unknown, estimated from the catalog".into(),
    };
    let mut f = Finding::new(
        Kind::UnloggedCrash,
        names.clone(),
        format!(
            "{} {} UNLOGGED and {} ({lost}): its rows were never in the WAL, so no archive, base backup or replica has them",
            names.join(", "),
            if names.len() == 1 { "is" } else { "are" },
            reset.how
        ),
    );
    for (i, t, _, how) in &members {
        f.scored(
            Reason::CatalogSignature,
            t.cite_catalog("relpersistence"),
            format!("{}: relpersistence = 'u' (UNLOGGED): it writes no WAL", t.name),
        );
        if crate::analysis::status::unlogged_file_emptied(t.stats) {
            f.scored(
                Reason::StatsSignature,
                t.cite_catalog("size_bytes"),
                format!(
                    "{}: the file is 0 bytes while pg_class still has relpages {} and reltuples {} with the same relfilenode: reset to its empty init fork (a TRUNCATE gives a new relfilenode and reltuples −1)",
                    t.name, t.stats.relpages, t.stats.reltuples
                ),
            );
        }
        if t.baseline.is_some_and(|b| b.n_live_tup.unwrap_or(0) > 0) {
            f.scored(
                Reason::BaselineConfirms,
                t.cite_baseline("n_live_tup"),
                format!("{}: {how}", t.name),
            );
        } else {
            f.note(Fact::for_(t.cite_catalog("reltuples"), format!("{}: {how}", t.name)));
        }
        // The reset keeps the relfilenode: storage replaced since the baseline is something
        // else (TRUNCATE, VACUUM FULL, a re-create).
        if let Some(b) = t.baseline
            && (b.oid != t.stats.oid || b.relfilenode != t.stats.relfilenode)
        {
            f.scored(
                Reason::Contradicted,
                t.cite_baseline("relfilenode"),
                format!(
                    "{}: relfilenode {} (oid {}) ≠ the baseline's {} (oid {}): its storage was replaced, which the crash reset does not do",
                    t.name, t.stats.relfilenode, t.stats.oid, b.relfilenode, b.oid
                ),
            );
        }
        // A committed statement the log shows emptying it after the reset is what emptied it.
        if let Some(e) = facts
            .logged_emptying(*i)
            .into_iter()
            .find(|e| reset.at.is_none_or(|r| e.at >= r))
        {
            f.scored(
                Reason::Contradicted,
                e.source.clone(),
                format!(
                    "{}: `{}` committed after the {}: that statement emptied it",
                    t.name,
                    e.text.trim(),
                    reset.what
                ),
            );
        }
    }
    if let Some((source, text)) = &reset.cluster {
        f.scored(Reason::ClusterSignature, source.clone(), text.clone());
    }
    match reset.logged {
        Some(e) => {
            f.scored(Reason::LogStatement, e.source.clone(), format!("`{}`", e.text));
            f.pin(e);
        }
        None => f.at = reset.at,
    }
    f.note(Fact::for_(
        f.tables
            .first()
            .map(|t| format!("catalog:{t}.relpersistence"))
            .unwrap_or_default(),
        "the rows are in neither the WAL, the WAL archive, a base backup nor a standby: a point-in-time recovery brings the table back empty; only a logical dump (pg_dump copies unlogged tables' rows) or a copy the application keeps has them",
    ));
    for name in &names {
        f.confirm.push(format!(
            "SELECT relpersistence, relpages, reltuples, pg_relation_size(oid) FROM pg_class WHERE oid = '{}'::regclass — 'u', and 0 bytes",
            name.replace('\'', "''")
        ));
    }
    f.confirm.push("the server log: \"database system was not properly shut down; automatic recovery in progress\" after the rows were written".into());
    f.refute
        .push("rows written to the table after the crash recovery (the log, n_tup_ins since)".into());
    f.refute
        .push("relpersistence 'p': a permanent table survives crash recovery".into());
    verdict.findings.push(f.finish());
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::*;

    /// What the crash leaves (measured): counters zeroed, the file 0 bytes, pg_class's pages and
    /// rows from the last ANALYZE, the relfilenode kept.
    fn reset_unlogged(t: crate::evidence::TableStats) -> crate::evidence::TableStats {
        let mut t = zeroed(t);
        t.persistence = Some("u".into());
        t.size_bytes = Some(0);
        t
    }

    /// A permanent table through the same crash: counters zeroed, file and catalog kept.
    fn crashed_permanent(t: crate::evidence::TableStats) -> crate::evidence::TableStats {
        let mut t = zeroed(t);
        t.persistence = Some("p".into());
        t
    }

    fn crashed(ev: &mut crate::evidence::Evidence) {
        if let Some(d) = ev.database.as_mut() {
            d.server.postmaster_start_time = Some(at(12, 13, 7));
            d.bgwriter_stats_reset = Some(at(12, 13, 9));
        }
    }

    #[test]
    fn an_unlogged_table_emptied_by_crash_recovery_is_a_loss_estimated_from_the_catalog() {
        let mut ev = evidence(
            vec![
                reset_unlogged(table("sessions", 16400, 1000)),
                crashed_permanent(table("orders", 16410, 1000)),
            ],
            vec![],
        );
        crashed(&mut ev);
        let ev = with_log(
            ev,
            vec![event(
                EventKind::CrashRecovery,
                at(12, 13, 8),
                40,
                "database system was not properly shut down; automatic recovery in progress",
                &[],
            )],
        );
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1, "{v:?}");
        let f = &v.findings[0];
        assert_eq!(f.tables, vec!["public.sessions"]);
        assert!(f.loss);
        assert_eq!(f.at, Some(at(12, 13, 8)));
        assert!(f.summary.contains("rows lost unknown, estimated"), "{}", f.summary);
        assert!(f.evidence.iter().any(|e| e.text.contains("estimated at 1000")));
        assert!(f.score.iter().any(|s| s.reason == Reason::CatalogSignature));
        assert!(f.score.iter().any(|s| s.reason == Reason::StatsSignature));
        assert!(f.score.iter().any(|s| s.reason == Reason::ClusterSignature));
        assert!(f.score.iter().any(|s| s.reason == Reason::LogStatement));
    }

    #[test]
    fn with_a_baseline_the_rows_lost_are_the_baselines() {
        let mut before = table("sessions", 16400, 1200);
        before.persistence = Some("u".into());
        let mut ev = evidence(vec![reset_unlogged(table("sessions", 16400, 1000))], vec![]);
        crashed(&mut ev);
        let mut base = snapshot(vec![before], vec![]);
        base.server.server_time = at(12, 0, 0);
        ev.baseline = Some(base);
        let v = hypothesize(&Facts::new(&ev));
        let f = &v.findings[0];
        assert!(f.summary.contains("1200 rows gone"), "{}", f.summary);
        assert!(f.score.iter().any(|s| s.reason == Reason::BaselineConfirms));
        assert_eq!(f.at, Some(at(12, 13, 7)));
    }

    /// The stats_reset false alarm stays one: a permanent table after the crash is not lost.
    #[test]
    fn a_permanent_table_after_the_same_crash_is_not_lost() {
        let mut ev = evidence(vec![crashed_permanent(table("orders", 16410, 1000))], vec![]);
        crashed(&mut ev);
        assert_eq!(hypothesize(&Facts::new(&ev)), Verdict::default());
        let a = crate::analysis::analyze(&ev);
        assert!(a.findings.iter().all(|f| !f.loss), "{:?}", a.findings);
        assert!(a.findings.iter().any(|f| f.kind == Kind::StatsReset));
    }

    /// Through the whole analysis the unlogged table is explained by this kind (not by the
    /// statistics reset that also zeroed its counters), the permanent one by the reset.
    #[test]
    fn the_analysis_explains_the_unlogged_table_by_the_crash_and_the_permanent_by_the_reset() {
        let mut ev = evidence(
            vec![
                reset_unlogged(table("sessions", 16400, 1000)),
                crashed_permanent(table("orders", 16410, 1000)),
            ],
            vec![],
        );
        crashed(&mut ev);
        let a = crate::analysis::analyze(&ev);
        assert_eq!(
            a.explanation("public.sessions").map(|f| f.kind),
            Some(Kind::UnloggedCrash),
            "{:?}",
            a.findings
        );
        assert_eq!(
            a.explanation("public.orders").map(|f| f.kind),
            Some(Kind::StatsReset)
        );
        // "Nothing was lost" is not said of the emptied table.
        assert!(a.findings.iter().filter(|f| !f.loss).all(|f| !f
            .tables
            .contains(&"public.sessions".to_string())));
        let sessions = a.tables.iter().find(|t| t.name == "sessions");
        assert_eq!(sessions.map(|t| t.status), Some("wiped"));
    }

    #[test]
    fn a_clean_restart_empties_nothing() {
        // No crash recovery: the bgwriter reset is initdb's, before the postmaster started.
        let ev = evidence(vec![reset_unlogged(table("sessions", 16400, 1000))], vec![]);
        assert!(hypothesize(&Facts::new(&ev)).findings.is_empty());
    }

    #[test]
    fn an_unlogged_table_with_rows_now_is_not_reported() {
        let mut t = table("cache", 16420, 50);
        t.persistence = Some("u".into());
        let mut ev = evidence(vec![t], vec![]);
        crashed(&mut ev);
        assert!(hypothesize(&Facts::new(&ev)).findings.is_empty());
    }

    #[test]
    fn a_standby_has_no_unlogged_rows() {
        let mut ev = evidence(vec![reset_unlogged(table("sessions", 16400, 1000))], vec![]);
        if let Some(d) = ev.database.as_mut() {
            d.server.in_recovery = Some(true);
        }
        let f = &hypothesize(&Facts::new(&ev)).findings[0];
        assert!(f.summary.contains("standby"), "{}", f.summary);
    }

    /// A baseline taken after the crash still counted the rows: this crash did not empty it.
    #[test]
    fn rows_counted_after_the_crash_rule_it_out() {
        let mut before = table("sessions", 16400, 1200);
        before.persistence = Some("u".into());
        let mut ev = evidence(vec![reset_unlogged(table("sessions", 16400, 1000))], vec![]);
        crashed(&mut ev);
        let mut base = snapshot(vec![before], vec![]);
        base.server.server_time = at(12, 40, 0);
        ev.baseline = Some(base);
        let v = hypothesize(&Facts::new(&ev));
        assert!(v.findings.is_empty(), "{v:?}");
        assert!(v.ruled_out[0].reason.contains("something later emptied it"));
    }

    /// Random incidents seed 8787 #8: the log (`%t`) has the recovery at 19:45:51, the baseline
    /// was taken at 19:45:51.743 and the postmaster started at 19:45:51.905: the baseline came
    /// before the crash, and the crash emptied the table.
    #[test]
    fn a_baseline_in_the_second_of_a_logged_crash_is_ordered_by_the_postmasters_start() {
        let when = |ms: i64| at(12, 13, 7) + chrono::Duration::milliseconds(ms);
        let mut before = table("sessions", 16400, 150);
        before.persistence = Some("u".into());
        let mut ev = evidence(vec![reset_unlogged(table("sessions", 16400, 150))], vec![]);
        if let Some(d) = ev.database.as_mut() {
            d.server.postmaster_start_time = Some(when(905));
            d.bgwriter_stats_reset = Some(when(907));
        }
        let mut base = snapshot(vec![before], vec![]);
        base.server.server_time = when(743);
        ev.baseline = Some(base);
        let ev = with_log(
            ev,
            vec![event(
                EventKind::CrashRecovery,
                at(12, 13, 7),
                18,
                "database system was not properly shut down; automatic recovery in progress",
                &[],
            )],
        );
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(
            v.findings.first().map(|f| f.tables.clone()),
            Some(vec!["public.sessions".to_string()]),
            "{v:?}"
        );
    }

    /// A TRUNCATE after the crash, in the log, is what emptied it.
    #[test]
    fn a_logged_truncate_after_the_crash_contradicts_it() {
        let mut ev = evidence(vec![reset_unlogged(table("sessions", 16400, 1000))], vec![]);
        crashed(&mut ev);
        let ev = with_log(
            ev,
            vec![event(
                EventKind::Truncate,
                at(12, 30, 0),
                50,
                "TRUNCATE sessions",
                &["public.sessions"],
            )],
        );
        let f = &hypothesize(&Facts::new(&ev)).findings[0];
        assert!(f.score.iter().any(|s| s.reason == Reason::Contradicted));
    }
}
