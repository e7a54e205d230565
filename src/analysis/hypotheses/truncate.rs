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

use std::collections::BTreeMap;

use crate::analysis::facts::{Facts, TableView, committed};
use crate::analysis::finding::{Fact, Finding, Kind, RuledOut, Verdict};
use crate::analysis::scoring::Reason;
use crate::evidence::EventKind;

/// Tables that lost rows with the storage signature of a TRUNCATE, grouped by the transaction
/// that did it (shared catalog commit time, or one logged statement), as table indices.
pub fn groups(facts: &Facts) -> Vec<Vec<usize>> {
    let mut by_time: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let restarted_cluster = facts.counters_restarted_cluster();
    for (i, t) in facts.tables.iter().enumerate() {
        // Counters that restarted cannot show the loss (status `unknown`, or an empty-looking
        // table): the catalog's new file or a logged TRUNCATE still can.
        let hidden = t.counters_restarted || (restarted_cluster && t.counters_zero());
        if !t.affected()
            && !(hidden && (storage_signature(t) || !facts.logged_emptying(i).is_empty()))
        {
            continue;
        }
        let storage = storage_signature(t);
        let logged = !facts.events_for(i, &[EventKind::Truncate]).is_empty();
        let migrated = !facts.migration_ops_for(i, &["truncate"]).is_empty();
        if !(storage || logged || migrated) || oid_changed(t) {
            continue;
        }
        let key = match (storage, t.stats.catalog_commit_time) {
            (true, Some(when)) => format!("time:{}", when.to_rfc3339()),
            _ => match facts.events_for(i, &[EventKind::Truncate]).last() {
                Some(e) => format!("log:{}", e.source),
                None => format!("table:{}", t.name),
            },
        };
        by_time.entry(key).or_default().push(i);
    }
    let mut groups: Vec<(String, Vec<usize>)> = by_time.into_iter().collect();
    join_cascaded_children(facts, &mut groups);
    groups.into_iter().map(|(_, members)| members).collect()
}

/// A TRUNCATE … CASCADE logs one statement, naming the parent. Without commit timestamps the
/// tables it emptied through foreign keys have no statement of their own (their group is keyed
/// `table:`): each joins the group of the logged CASCADE whose tables it references, directly
/// or through other such tables.
fn join_cascaded_children(facts: &Facts, groups: &mut Vec<(String, Vec<usize>)>) {
    let cascading: Vec<usize> = (0..groups.len())
        .filter(|g| {
            groups[*g].0.starts_with("log:")
                && groups[*g].1.iter().any(|i| {
                    facts
                        .events_for(*i, &[EventKind::Truncate])
                        .iter()
                        .any(|e| e.cascade && committed(e) != Some(false))
                })
        })
        .collect();
    if cascading.is_empty() {
        return;
    }
    let lone: BTreeMap<usize, usize> = groups
        .iter()
        .enumerate()
        .filter(|(_, (key, members))| key.starts_with("table:") && members.len() == 1)
        .map(|(g, (_, members))| (members[0], g))
        .collect();
    let mut moved: Vec<(usize, usize)> = Vec::new();
    for g in cascading {
        let reached = crate::analysis::fk_graph::referencing_closure(
            facts,
            &groups[g].1,
            |_| true,
            |c| lone.contains_key(&c),
        );
        for c in reached {
            if let Some(from) = lone.get(&c)
                && !moved.iter().any(|(f, _)| f == from)
            {
                moved.push((*from, g));
            }
        }
    }
    for (from, to) in &moved {
        let members = std::mem::take(&mut groups[*from].1);
        groups[*to].1.extend(members);
        groups[*to]
            .1
            .sort_by(|a, b| facts.tables[*a].name.cmp(&facts.tables[*b].name));
    }
    groups.retain(|(_, members)| !members.is_empty());
}

/// New relfilenode and the reset `reltuples` (−1, or 0 with an empty file after a VACUUM).
pub fn storage_signature(t: &TableView) -> bool {
    t.rewritten()
        && (t.stats.reltuples < 0.0
            || (t.stats.relpages == 0 && t.stats.size_bytes.unwrap_or(0) == 0))
}

/// How the expected row count was reached, for the reader.
pub fn expected_label(t: &TableView) -> &'static str {
    match t.expected_from {
        crate::analysis::facts::ExpectedFrom::Baseline => "baseline rows + inserts − deletes since",
        _ => "inserts − deletes",
    }
}

fn oid_changed(t: &TableView) -> bool {
    t.baseline.is_some_and(|b| b.oid != t.stats.oid)
}

/// Adds the per-table facts of the TRUNCATE signature to `f`.
pub fn score_tables(facts: &Facts, members: &[usize], f: &mut Finding) {
    for &i in members {
        let t = &facts.tables[i];
        if t.dead() < t.missing() {
            f.scored(
                Reason::StatsSignature,
                t.cite("n_live_tup"),
                format!(
                    "{}: n_live_tup {} while {} rows are expected ({}); n_tup_del {} and n_dead_tup {} do not account for the {} missing",
                    t.name,
                    t.live(),
                    t.expected.unwrap_or(0),
                    expected_label(t),
                    t.del(),
                    t.dead(),
                    t.missing()
                ),
            );
        } else if t.missing() == 0 {
            f.note(Fact::for_(
                t.cite("n_live_tup"),
                format!(
                    "{}: the counters restarted since (crash, reset or restore), so they cannot count what the TRUNCATE removed; the catalog shows it",
                    t.name
                ),
            ));
        } else {
            f.note(Fact::against(
                t.cite("n_dead_tup"),
                format!(
                    "{}: n_dead_tup {} covers the {} missing rows: deleted rows, not a TRUNCATE (which leaves no dead tuples)",
                    t.name,
                    t.dead(),
                    t.missing()
                ),
            ));
        }
        if storage_signature(t) {
            f.scored(
                Reason::CatalogSignature,
                t.cite_catalog("relfilenode"),
                format!(
                    "{}: relfilenode {} ≠ oid {} and reltuples {}: the storage was replaced and not analysed since",
                    t.name, t.stats.relfilenode, t.stats.oid, t.stats.reltuples
                ),
            );
        } else if !t.rewritten() {
            f.scored(
                Reason::Contradicted,
                t.cite_catalog("relfilenode"),
                format!(
                    "{}: relfilenode = oid ({}): a TRUNCATE always gives the table new storage",
                    t.name, t.stats.oid
                ),
            );
        }
        if let Some(b) = t.baseline
            && b.n_live_tup.unwrap_or(0) > 0
        {
            f.scored(
                Reason::BaselineConfirms,
                t.cite_baseline("n_live_tup"),
                format!(
                    "{}: the baseline counted {} rows",
                    t.name,
                    b.n_live_tup.unwrap_or(0)
                ),
            );
        }
    }
    // One transaction: the catalog rows share one commit time.
    let times: Vec<_> = members
        .iter()
        .filter_map(|i| facts.tables[*i].stats.catalog_commit_time)
        .collect();
    if members.len() > 1 && times.len() == members.len() && times.windows(2).all(|w| w[0] == w[1]) {
        let names: Vec<&str> = members
            .iter()
            .map(|i| facts.tables[*i].name.as_str())
            .collect();
        f.scored(
            Reason::OneTransaction,
            facts.tables[members[0]].cite_catalog("catalog_commit_time"),
            format!(
                "{} share one pg_class commit time ({}): one transaction replaced their storage",
                names.join(", "),
                times[0].format("%Y-%m-%d %H:%M:%S%.3f UTC")
            ),
        );
    }
    if f.at.is_none() {
        f.at = times.first().copied();
    }
}

/// Scores the logged TRUNCATE statements naming any of `members`; pins the last one.
pub fn score_log(facts: &Facts, members: &[usize], f: &mut Finding) {
    let mut events: Vec<_> = members
        .iter()
        .flat_map(|i| facts.events_for(*i, &[EventKind::Truncate]))
        .collect();
    events.sort_by(|a, b| (a.at, &a.source).cmp(&(b.at, &b.source)));
    events.dedup_by(|a, b| a.source == b.source);
    // Prefer the statement that committed, closest before the storage change.
    let chosen = events
        .iter()
        .rev()
        .find(|e| {
            committed(e) != Some(false)
                && f.at
                    .is_none_or(|t| e.at <= t + chrono::Duration::seconds(1))
        })
        .or(events.last());
    for e in &events {
        if committed(e) == Some(false) {
            f.note(Fact::against(
                e.source.clone(),
                format!("`{}` failed or rolled back: it removed nothing", e.text),
            ));
        }
    }
    if let Some(e) = chosen {
        match committed(e) {
            Some(false) => f.scored(
                Reason::LogFailed,
                e.source.clone(),
                format!("the only logged `{}` failed or rolled back", e.text),
            ),
            _ => f.cite_logged(e),
        }
    }
}

pub fn score_migrations(facts: &Facts, members: &[usize], kinds: &[&str], f: &mut Finding) {
    let mut ops: Vec<_> = members
        .iter()
        .flat_map(|i| facts.migration_ops_for(*i, kinds))
        .collect();
    ops.sort_by(|a, b| a.source.cmp(&b.source));
    ops.dedup_by(|a, b| a.source == b.source);
    if let Some(op) = ops.first() {
        f.scored(
            Reason::MigrationOperation,
            op.source.clone(),
            format!(
                "migration {} ({}): `{}`",
                op.path,
                &op.commit[..op.commit.len().min(8)],
                op.statement
            ),
        );
        for op in ops.iter().skip(1) {
            f.note(Fact::for_(
                op.source.clone(),
                format!("migration {}: `{}`", op.path, op.statement),
            ));
        }
    }
}

pub fn hypothesize(facts: &Facts) -> Verdict {
    let mut verdict = Verdict::default();
    let groups = groups(facts);
    let mut explained = vec![false; facts.tables.len()];
    for members in groups {
        let names: Vec<String> = members
            .iter()
            .map(|i| facts.tables[*i].name.clone())
            .collect();
        let lost: i64 = members.iter().map(|i| facts.tables[*i].missing()).sum();
        let mut f = Finding::new(
            Kind::Truncate,
            names.clone(),
            if lost > 0 {
                format!(
                    "{} emptied by TRUNCATE ({} rows gone, none of them counted as deleted)",
                    names.join(", "),
                    lost
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
        for &i in &members {
            explained[i] = true;
        }
        verdict.findings.push(f.finish());
    }
    for (i, t) in facts.tables.iter().enumerate() {
        if !t.affected() || explained[i] {
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

    #[test]
    fn vacuum_full_rewrites_storage_but_loses_nothing() {
        // Control C1: rfn ≠ oid, rows all there.
        let mut t = table("child_restrict", 17393, 1000);
        t.relfilenode = 17413;
        let ev = evidence(vec![t], vec![]);
        assert!(hypothesize(&Facts::new(&ev)).findings.is_empty());
    }
}
