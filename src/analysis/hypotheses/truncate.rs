//! `truncate`: rows removed by `TRUNCATE`.
//!
//! PostgreSQL behaviour relied on (pg-forensics.md, scenario 3, measured on 15.18): TRUNCATE
//! gives the table a new relfilenode (so `relfilenode ≠ oid`) and resets `reltuples` to −1,
//! `relpages` to 0 and the file size to 0, but it does not count the removed rows anywhere:
//! `n_live_tup` drops to 0 while `n_tup_del`, `n_dead_tup` and `n_mod_since_analyze` do not
//! move. Its table's `pg_class` row is rewritten, so `pg_xact_commit_timestamp(pg_class.xmin)`
//! is the TRUNCATE's commit time; tables truncated in one statement share that time. The oid is
//! kept (DROP+CREATE gives a new one). After the next VACUUM `reltuples` becomes 0; the new
//! relfilenode stays. `log_statement = ddl` does not log TRUNCATE (it is in the `mod` class).
//! `mod` logs no COMMIT or ROLLBACK: a logged TRUNCATE of unknown outcome whose table is still
//! on its file (relfilenode = oid, or the baseline's) rolled back, and is ruled out by that.

use crate::analysis::facts::{Facts, committed};
use crate::analysis::finding::{Finding, Hypothesis, Kind, RuledOut, Verdict};
use crate::analysis::signatures::{
    groups, oid_changed, score_log, score_migrations, score_tables, undone,
};
use crate::evidence::EventKind;

/// This hypothesis in the registry (`ALL` of the hypotheses module), with its advice.
pub const HYPOTHESIS: Hypothesis = Hypothesis {
    title: "TRUNCATE",
    loss: true,
    hypothesize,
    recovery_note: None,
    prevention: &[
        "Revoke TRUNCATE from application and migration roles that do not need it (REVOKE TRUNCATE ON ALL TABLES IN SCHEMA … FROM …).",
    ],
};

pub fn hypothesize(facts: &Facts) -> Verdict {
    let mut verdict = Verdict::default();
    let groups = groups(facts);
    let mut explained = std::collections::HashSet::new();
    for members in groups {
        let names = facts.names(&members);
        let lost: i64 = facts.views(&members).map(|t| t.missing()).sum();
        let mut f = Finding::new(
            Kind::Truncate,
            names.clone(),
            if lost > 0 {
                format!(
                    "{} emptied by TRUNCATE ({} gone, none of them counted as deleted)",
                    names.join(", "),
                    crate::analysis::finding::rows(lost)
                )
            } else {
                format!(
                    "{} emptied by TRUNCATE (how many rows, the counters cannot say: they restarted since)",
                    names.join(", ")
                )
            },
        );
        score_tables(facts, &members, &mut f);
        score_log(facts, &members, &mut f);
        score_migrations(facts, &members, &["truncate"], &mut f);
        f.confirm.push(
            "with track_commit_timestamp on: SELECT relname, relfilenode, oid, pg_xact_commit_timestamp(xmin) FROM pg_class WHERE relname IN (…) — one shared commit time is the TRUNCATE".into(),
        );
        f.confirm.push("in WAL (pg_walinspect / pg_waldump): a COMMIT whose `rels:` list names the old relfilenodes".into());
        if !facts.has_log()
            || facts
                .evidence
                .database
                .as_ref()
                .and_then(|d| d.settings.get("log_statement"))
                .is_some_and(|s| s == "none" || s == "ddl")
        {
            f.confirm.push(
                "set log_statement = 'mod' (or 'all'): TRUNCATE is in the mod class, not ddl"
                    .into(),
            );
        }
        f.refute.push("a TRUNCATE keeps the oid: a different oid than the baseline's means DROP + CREATE instead".into());
        f.refute.push(
            "rows counted in n_tup_del / n_dead_tup for the missing rows mean DELETE instead"
                .into(),
        );
        explained.extend(members.iter().copied());
        verdict.findings.push(f.finish());
    }
    for (i, t) in facts.tables.iter().enumerate() {
        if explained.contains(&i) {
            continue;
        }
        // A logged TRUNCATE whose outcome the log does not show (log_statement = mod logs no
        // COMMIT or ROLLBACK) that the table shows undone — still on its file — is ruled out by
        // that fact, whatever else happened to the table.
        let undone: Vec<_> = facts
            .events_for(i, &[EventKind::Truncate])
            .into_iter()
            .filter(|e| committed(e).is_none())
            .filter_map(|e| undone(facts, i, e))
            .collect();
        let told = !undone.is_empty();
        for u in undone {
            verdict.ruled_out.push(RuledOut {
                kind: Kind::Truncate,
                tables: vec![t.name.clone()],
                reason: u.reason,
                source: u.source,
            });
        }
        if !t.affected() || told {
            continue;
        }
        let reason = if oid_changed(t) {
            format!(
                "oid {} differs from the baseline's {}: TRUNCATE keeps the oid, so the table was dropped and re-created",
                t.stats.oid,
                t.baseline.map(|b| b.oid).unwrap_or(0)
            )
        } else {
            format!(
                "relfilenode = oid ({}): a TRUNCATE always gives the table new storage",
                t.stats.oid
            )
        };
        verdict.ruled_out.push(RuledOut {
            kind: Kind::Truncate,
            tables: vec![t.name.clone()],
            reason,
            source: t.cite_catalog("relfilenode"),
        });
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::*;
    use crate::analysis::scoring::Reason;

    #[test]
    fn a_truncated_leaf_is_found_with_the_storage_signature() {
        let t = truncated(table("child_restrict", 16529, 1000), 16549, at(12, 9, 40));
        let ev = evidence(vec![t, table("parent", 16500, 1000)], vec![]);
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1);
        let f = &v.findings[0];
        assert_eq!(f.tables, vec!["public.child_restrict"]);
        assert!(f.confidence >= 0.6, "{f:?}");
        assert_eq!(f.at, Some(at(12, 9, 40)));
        assert!(
            f.evidence
                .iter()
                .any(|e| e.source == "catalog:public.child_restrict.relfilenode")
        );
    }

    #[test]
    fn the_log_statement_pins_time_and_session() {
        let t = truncated(table("child_restrict", 16529, 1000), 16549, at(12, 9, 40));
        let ev = with_log(
            evidence(vec![t], vec![]),
            vec![event(
                EventKind::Truncate,
                at(12, 9, 40),
                7,
                "TRUNCATE child_restrict;",
                &["child_restrict"],
            )],
        );
        let f = &hypothesize(&Facts::new(&ev)).findings[0];
        assert_eq!(f.statement.as_deref(), Some("TRUNCATE child_restrict;"));
        assert_eq!(f.session.as_ref().and_then(|s| s.pid), Some(25024));
        assert!(f.confidence >= 0.95);
    }

    #[test]
    fn seed_002_inserts_without_deletes_and_new_storage_is_truncate_not_cleanup() {
        // raw_import_records: 115 inserts, 0 deletes, 0 live rows.
        let t = truncated(
            table("raw_import_records", 17000, 115),
            17100,
            at(18, 25, 0),
        );
        let ev = evidence(vec![t], vec![]);
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings[0].kind, Kind::Truncate);
        assert!(v.findings[0].summary.contains("115 rows"));
    }

    #[test]
    fn a_deleted_table_keeps_its_storage_and_is_ruled_out() {
        // Rows gone without deletes but relfilenode = oid: not TRUNCATE.
        let mut t = table("assets", 16423, 81);
        t.n_live_tup = Some(0);
        let ev = evidence(vec![t], vec![]);
        let v = hypothesize(&Facts::new(&ev));
        assert!(v.findings.is_empty());
        assert_eq!(v.ruled_out.len(), 1);
        assert!(v.ruled_out[0].reason.contains("relfilenode = oid"));
    }

    /// Generator miss (seed 1796226280, incidents 52, 69, 1582): a crash zeroed every counter;
    /// the partitioned parent (relkind p) has relfilenode 0 — no storage of its own — and
    /// reltuples −1, which read as "new file, estimate reset": a 0.25 truncate "data loss" on a
    /// table that holds no rows, in an incident where nothing was lost.
    #[test]
    fn a_partitioned_parent_after_a_crash_is_not_truncated() {
        let mut parent = zeroed(table("refunds", 16410, 0));
        parent.relkind = "p".into();
        parent.relfilenode = 0;
        parent.reltuples = -1.0;
        parent.relpages = -1;
        parent.size_bytes = Some(0);
        let mut leaf = zeroed(table("refunds_p1", 16415, 19));
        leaf.partition_parent = Some("public.refunds".into());
        let mut ev = evidence(vec![parent, leaf], vec![]);
        if let Some(d) = ev.database.as_mut() {
            d.server.postmaster_start_time = Some(at(12, 13, 7));
            d.bgwriter_stats_reset = Some(at(12, 13, 9));
        }
        let v = hypothesize(&Facts::new(&ev));
        assert!(v.findings.is_empty(), "{:#?}", v.findings);
    }

    /// Generator miss (seed 1796226280, incident 123, after the fix above): `TRUNCATE "user",
    /// "user"."table"` logged, `"user"."table"` partitioned. The parent has no storage, so no
    /// storage signature either way; in the finding it read as "relfilenode = oid: a TRUNCATE
    /// always gives new storage" and contradicted the whole statement. Its partitions carry the
    /// loss; the parent is no member.
    #[test]
    fn a_logged_truncate_through_a_partitioned_parent_is_told_by_its_partitions() {
        let mut parent = zeroed(table("user.table", 16449, 946));
        parent.relkind = "p".into();
        parent.relfilenode = 0;
        parent.relpages = -1;
        parent.size_bytes = Some(0);
        let mut p1 = truncated(table("user.table_p1", 16454, 19), 16480, at(12, 9, 40));
        p1.partition_parent = Some("user.table".into());
        let mut p2 = truncated(table("user.table_p2", 16461, 927), 16484, at(12, 9, 40));
        p2.partition_parent = Some("user.table".into());
        let user = truncated(table("public.user", 16442, 986), 16476, at(12, 9, 40));
        let ev = with_log(
            evidence(vec![parent, p1, p2, user], vec![]),
            vec![event(
                EventKind::Truncate,
                at(12, 9, 40),
                7,
                "TRUNCATE \"user\", \"user\".\"table\"",
                &["public.user", "user.table"],
            )],
        );
        let v = hypothesize(&Facts::new(&ev));
        let all: Vec<&String> = v.findings.iter().flat_map(|f| &f.tables).collect();
        assert!(!all.iter().any(|t| *t == "user.table"), "{all:?}");
        for leaf in ["public.user", "user.table_p1", "user.table_p2"] {
            assert!(all.iter().any(|t| *t == leaf), "{leaf} in {all:?}");
        }
        assert!(
            v.findings
                .iter()
                .all(|f| f.score.iter().all(|s| s.reason != Reason::Contradicted)),
            "{:#?}",
            v.findings
        );
    }

    #[test]
    fn vacuum_full_rewrites_storage_but_loses_nothing() {
        // Control C1: rfn ≠ oid, rows all there.
        let mut t = table("child_restrict", 17393, 1000);
        t.relfilenode = 17413;
        let ev = evidence(vec![t], vec![]);
        assert!(hypothesize(&Facts::new(&ev)).findings.is_empty());
    }
}
