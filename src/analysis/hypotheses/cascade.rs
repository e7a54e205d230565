//! `cascade`: one statement that emptied several tables along foreign keys.
//!
//! PostgreSQL behaviour relied on (pg-forensics.md, scenarios 4 and 5):
//! * `TRUNCATE parent CASCADE` truncates every table that references it, whatever the FK's
//!   ON DELETE action (a NO ACTION child is emptied too), and their referencing tables in turn,
//!   all in one transaction: each shows the TRUNCATE signature (new relfilenode, reltuples −1,
//!   `n_tup_del` unchanged) and their `pg_class` rows share one commit time. The server log has
//!   only `TRUNCATE parent CASCADE;` — the per-table NOTICEs go to the client.
//! * `DELETE FROM parent` with `ON DELETE CASCADE` children: each cascaded table shows a
//!   committed DELETE (`n_tup_del` +k, `n_live_tup` −k, `n_dead_tup` +k) in proportion to the FK
//!   fan-out, NO ACTION children are untouched, and the log shows only the parent's DELETE.
//! * `DROP … CASCADE` removes dependent objects, not rows of other tables: `DROP TYPE … CASCADE`
//!   drops the columns of that type (the rows stay), `DROP TABLE parent CASCADE` drops the
//!   children's FK constraints (their rows stay, as orphans). Those are ruled out as row loss.

use std::collections::BTreeSet;

use crate::analysis::facts::{Facts, committed};
use crate::analysis::finding::{Fact, Finding, Hypothesis, Kind, RuledOut, Verdict};
use crate::analysis::scoring::Reason;
use crate::analysis::signatures as truncate;
use crate::analysis::signatures as delete;
use crate::evidence::{EventKind, ForeignKey};

/// The member no other member is referenced by: the table the cascade started from. Prefers a
/// table a logged statement names.
fn root(
    facts: &Facts,
    members: &[usize],
    edges: &[&ForeignKey],
    named: &[usize],
) -> Option<usize> {
    // Resolved once: per member it made a 10,000-deep chain quadratic.
    let children: std::collections::HashSet<usize> = edges
        .iter()
        .filter_map(|fk| facts.resolve(&format!("{}.{}", fk.schema, fk.table)))
        .collect();
    let roots: Vec<usize> = members
        .iter()
        .copied()
        .filter(|i| !children.contains(i))
        .collect();
    roots
        .iter()
        .copied()
        .find(|i| named.contains(i))
        .or(roots.first().copied())
        .or(members.first().copied())
}

fn describe(fk: &ForeignKey) -> String {
    format!(
        "{}.{}({}) → {}.{} ON DELETE {}",
        fk.schema,
        fk.table,
        fk.columns.join(", "),
        fk.ref_schema,
        fk.ref_table,
        fk.on_delete.replace('_', " ").to_uppercase()
    )
}

/// Members reachable from `root` through referencing tables over `edges`.
fn reachable(facts: &Facts, root: usize, edges: &[&ForeignKey]) -> BTreeSet<usize> {
    let within: std::collections::HashSet<*const ForeignKey> =
        edges.iter().map(|e| std::ptr::from_ref(*e)).collect();
    crate::analysis::fk_graph::referencing_closure(
        facts,
        &[root],
        |fk| within.contains(&std::ptr::from_ref(fk)),
        |_| true,
    )
}

/// The FK path from `root` outwards over `edges` (breadth first), as text.
fn path(facts: &Facts, root: usize, edges: &[&ForeignKey]) -> Vec<String> {
    // parent → (fk, child), resolved once.
    let mut children: std::collections::HashMap<usize, Vec<(&ForeignKey, usize)>> =
        std::collections::HashMap::new();
    for fk in edges {
        if let (Some(p), Some(c)) = (
            facts.resolve(&format!("{}.{}", fk.ref_schema, fk.ref_table)),
            facts.resolve(&format!("{}.{}", fk.schema, fk.table)),
        ) {
            children.entry(p).or_default().push((*fk, c));
        }
    }
    let mut seen = BTreeSet::from([root]);
    let mut frontier = std::collections::VecDeque::from([root]);
    let mut out = Vec::new();
    while let Some(p) = frontier.pop_front() {
        let mut next = children.get(&p).cloned().unwrap_or_default();
        next.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        for (fk, c) in next {
            out.push(describe(fk));
            if seen.insert(c) {
                frontier.push_back(c);
            }
        }
    }
    out
}

fn truncate_cascades(facts: &Facts, verdict: &mut Verdict) {
    for members in truncate::groups(facts) {
        let edges = facts.fks_within(&members);
        let logged_cascade: Vec<_> = members
            .iter()
            .flat_map(|i| facts.events_for(*i, &[EventKind::Truncate]))
            .filter(|e| e.cascade)
            .collect();
        if members.len() < 2 || (edges.is_empty() && logged_cascade.is_empty()) {
            continue;
        }
        let named: Vec<usize> = logged_cascade
            .iter()
            .flat_map(|e| e.tables.iter().filter_map(|t| facts.resolve(t)))
            .collect();
        // There are at least two members, so there is a root.
        let Some(parent) = root(facts, &members, &edges, &named) else {
            continue;
        };
        let Some(parent_table) = facts.tables.get(parent) else {
            continue;
        };
        // A cascade reaches every member from the parent through referencing tables.
        if reachable(facts, parent, &edges).len() + 1 < members.len() {
            continue;
        }
        let names = facts.names(&members);
        let lost: i64 = facts.views(&members).map(|t| t.missing()).sum();
        let mut f = Finding::new(
            Kind::Cascade,
            names.clone(),
            format!(
                "TRUNCATE {} CASCADE emptied {} tables in one transaction ({} rows gone)",
                parent_table.name,
                members.len(),
                lost
            ),
        );
        f.parent = Some(parent_table.name.clone());
        f.fk_path = path(facts, parent, &edges);
        truncate::score_tables(facts, &members, &mut f);
        // PostgreSQL refuses to TRUNCATE a referenced table without its referencing tables, so
        // a TRUNCATE naming them all leaves the same picture: only CASCADE in the statement
        // tells the two apart.
        if let Some(e) = logged_cascade.first() {
            f.scored(
                Reason::FkLinked,
                e.source.clone(),
                format!(
                    "the statement says CASCADE, and foreign keys join the tables to {}: {}",
                    parent_table.name,
                    f.fk_path.join("; ")
                ),
            );
        } else if let Some(fk) = edges.first() {
            f.note(Fact::for_(
                format!("catalog:pg_constraint.{}", fk.name),
                format!("foreign keys join them to {}: {} — but a TRUNCATE naming every table leaves the same picture", parent_table.name, f.fk_path.join("; ")),
            ));
        }
        if let Some(first_fk) = edges.first() {
            let no_action: Vec<String> = edges
                .iter()
                .filter(|fk| fk.on_delete != "cascade")
                .map(|fk| format!("{}.{}", fk.schema, fk.table))
                .collect();
            if !no_action.is_empty() {
                f.note(Fact::for_(
                    format!("catalog:pg_constraint.{}", first_fk.name),
                    format!(
                        "{} reference it without ON DELETE CASCADE yet were emptied too: TRUNCATE … CASCADE ignores the ON DELETE action (a DELETE could not have done this)",
                        no_action.join(", ")
                    ),
                ));
            }
        }
        truncate::score_log(facts, &members, &mut f);
        if let Some(stmt) = f.statement.clone() {
            let upper = stmt.to_uppercase();
            if !upper.contains("CASCADE") {
                f.scored(
                    Reason::Contradicted,
                    f.evidence
                        .iter()
                        .rev()
                        .find(|e| e.source.starts_with("log:"))
                        .map(|e| e.source.clone())
                        .unwrap_or_default(),
                    format!(
                        "the logged `{}` has no CASCADE: the tables were truncated by name",
                        stmt.trim()
                    ),
                );
            }
        }
        truncate::score_migrations(facts, &members, &["truncate"], &mut f);
        f.confirm.push(format!(
            "SELECT relname, pg_xact_commit_timestamp(xmin) FROM pg_class WHERE relname IN ({}) — one shared time confirms one TRUNCATE … CASCADE",
            facts.views(&members).map(|t| format!("'{}'", t.stats.name)).collect::<Vec<_>>().join(", ")
        ));
        f.confirm.push("the client output of the session had `NOTICE: truncate cascades to table …` for each child".into());
        f.refute
            .push("different pg_class commit times per table mean separate TRUNCATEs".into());
        verdict.findings.push(f.finish());
    }
}

fn delete_cascades(facts: &Facts, verdict: &mut Verdict) {
    // Parents whose committed deletes are echoed in ON DELETE CASCADE children.
    let deleting: BTreeSet<usize> = facts
        .tables
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            delete::committed_deletes(t) > 0
                || crate::analysis::signatures::deleted_before_restart(t) > 0
        })
        .map(|(i, _)| i)
        .collect();
    let mut used = BTreeSet::new();
    for &p in &deleting {
        if used.contains(&p) {
            continue;
        }
        // Is p itself a cascaded child of another deleting table? Then start from that one.
        let is_child = facts.fk_edges().any(|(fk, child, parent)| {
            fk.on_delete == "cascade"
                && child == Some(p)
                && parent.is_some_and(|q| deleting.contains(&q) && q != p)
        });
        if is_child {
            continue;
        }
        let mut members = vec![p];
        let mut frontier = vec![p];
        let mut edges: Vec<&ForeignKey> = Vec::new();
        while let Some(q) = frontier.pop() {
            for fk in facts.fks_referencing(q) {
                if fk.on_delete != "cascade" {
                    continue;
                }
                if let Some(c) = facts.resolve(&format!("{}.{}", fk.schema, fk.table))
                    && deleting.contains(&c)
                    && !members.contains(&c)
                {
                    members.push(c);
                    frontier.push(c);
                    edges.push(fk);
                }
            }
        }
        if members.len() < 2 {
            continue;
        }
        used.extend(members.iter().copied());
        let Some(parent_table) = facts.tables.get(p) else {
            continue;
        };
        facts.sort_by_name(&mut members);
        let mut f = Finding::new(
            Kind::Cascade,
            facts.names(&members),
            format!(
                "DELETE on {} cascaded along ON DELETE CASCADE to {} more tables",
                parent_table.name,
                members.len() - 1
            ),
        );
        f.parent = Some(parent_table.name.clone());
        f.fk_path = path(facts, p, &edges);
        for t in facts.views(&members) {
            match t.counted {
                Some(counted) if delete::committed_deletes(t) == 0 => f.scored(
                    Reason::StatsSignature,
                    t.cite_count(),
                    format!(
                        "{}: a count(*) finds {counted} rows of {} expected, file and oid kept: deleted before the counters restarted",
                        t.name,
                        t.expected.unwrap_or(0)
                    ),
                ),
                _ => f.scored(
                    Reason::StatsSignature,
                    t.cite("n_tup_del"),
                    format!(
                        "{}: n_tup_del {} with n_live_tup {} = n_tup_ins − n_tup_del: the deletes committed",
                        t.name,
                        t.del(),
                        t.live()
                    ),
                ),
            }
        }
        // Every member but `p` joined through an edge, and there are at least two.
        if let Some(fk) = edges.first() {
            f.scored(
                Reason::FkLinked,
                format!("catalog:pg_constraint.{}", fk.name),
                format!("ON DELETE CASCADE path: {}", f.fk_path.join("; ")),
            );
        }
        let parent_events = facts.events_for(p, &[EventKind::Delete, EventKind::DeleteAll]);
        if let Some(e) = parent_events
            .iter()
            .rev()
            .find(|e| committed(e) != Some(false))
        {
            f.cite_logged(e);
            let child_logged: Vec<String> = members
                .iter()
                .filter(|i| **i != p)
                .filter(|i| {
                    !facts
                        .events_for(**i, &[EventKind::Delete, EventKind::DeleteAll])
                        .is_empty()
                })
                .filter_map(|i| facts.tables.get(*i))
                .map(|t| t.name.clone())
                .collect();
            if child_logged.is_empty() {
                f.note(Fact::for_(
                    e.source.clone(),
                    "no DELETE on the children is logged: cascaded deletes are not logged, only the parent's statement",
                ));
            } else {
                f.note(Fact::against(
                    e.source.clone(),
                    format!("DELETEs on {} are logged too: some rows may have gone by separate statements", child_logged.join(", ")),
                ));
            }
        }
        f.confirm.push("in WAL: the children's Heap/DELETE records under the parent DELETE's xid, with one COMMIT".into());
        f.refute.push("child deletes in separate transactions (other xids, other logged statements) mean separate DELETEs".into());
        verdict.findings.push(f.finish());
    }
}

fn drop_cascades(facts: &Facts, verdict: &mut Verdict) {
    for e in facts.events_of(&[EventKind::DropType, EventKind::DropTable]) {
        if !e.cascade || committed(e) == Some(false) {
            continue;
        }
        let mut tables: Vec<String> = e
            .tables
            .iter()
            .map(|t| {
                facts
                    .table(t)
                    .map(|v| v.name.clone())
                    .unwrap_or_else(|| t.clone())
            })
            .collect();
        tables.sort();
        let reason = if e.kind == EventKind::DropType {
            format!(
                "`{}` drops the columns of that type and their indexes, not rows: the rows of the tables that used it are still there (look for pg_attribute.attisdropped)",
                e.text
            )
        } else {
            format!(
                "`{}` drops the dependent foreign-key constraints of the referencing tables, not their rows (which remain, as orphans): the dropped table itself is the drop_recreate hypothesis",
                e.text
            )
        };
        verdict.ruled_out.push(RuledOut {
            kind: Kind::Cascade,
            tables,
            reason,
            source: e.source.clone(),
        });
    }
}

/// This hypothesis in the registry (`ALL` of the hypotheses module), with its advice.
pub const HYPOTHESIS: Hypothesis = Hypothesis {
    title: "Cascade along foreign keys",
    loss: true,
    hypothesize,
    recovery_note: None,
    prevention: &[
        "Revoke TRUNCATE from application and migration roles that do not need it (REVOKE TRUNCATE ON ALL TABLES IN SCHEMA … FROM …).",
        "Review ON DELETE CASCADE foreign keys (see the blast radius): prefer RESTRICT where a parent delete should never take children with it; never TRUNCATE … CASCADE outside a maintenance window.",
    ],
};

pub fn hypothesize(facts: &Facts) -> Verdict {
    let mut verdict = Verdict::default();
    truncate_cascades(facts, &mut verdict);
    delete_cascades(facts, &mut verdict);
    drop_cascades(facts, &mut verdict);
    let claimed: BTreeSet<&String> = verdict
        .findings
        .iter()
        .flat_map(|f| f.tables.iter())
        .collect();
    for (i, t) in facts.affected_tables() {
        if claimed.contains(&t.name) {
            continue;
        }
        let linked = facts.fks_referencing(i).len() + facts.fks_held(i);
        let reason = if linked == 0 {
            "no foreign key joins it to another table: nothing could cascade into it".to_string()
        } else {
            "no table joined to it by a foreign key lost rows in the same transaction".to_string()
        };
        verdict.ruled_out.push(RuledOut {
            kind: Kind::Cascade,
            tables: vec![t.name.clone()],
            reason,
            source: format!("catalog:pg_constraint.{}", t.name),
        });
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::*;

    #[test]
    fn truncate_parent_cascade_is_one_finding_naming_parent_and_path() {
        // Scenario 4: all four tables truncated in one xid.
        let (tables, fks) = lab_schema();
        let when = at(12, 9, 55);
        let tables: Vec<_> = tables
            .into_iter()
            .map(|t| {
                let rfn = t.oid + 50;
                truncated(t, rfn, when)
            })
            .collect();
        let ev = with_log(
            evidence(tables, fks),
            vec![event(
                EventKind::Truncate,
                when,
                12,
                "TRUNCATE parent CASCADE;",
                &["parent"],
            )],
        );
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1, "{:?}", v.findings);
        let f = &v.findings[0];
        assert_eq!(f.tables.len(), 4);
        assert_eq!(f.parent.as_deref(), Some("public.parent"));
        assert_eq!(f.fk_path.len(), 3);
        assert!(
            f.fk_path
                .iter()
                .any(|p| p.contains("child_restrict") && p.contains("NO ACTION"))
        );
        assert_eq!(f.confidence, 1.0);
        assert_eq!(f.statement.as_deref(), Some("TRUNCATE parent CASCADE;"));
    }

    #[test]
    fn delete_with_on_delete_cascade_groups_parent_and_children() {
        // Scenario 5: parent −500, child_cascade −1000, grandchild −1000, child_restrict intact.
        let (mut tables, fks) = lab_schema();
        tables[0] = deleted(tables[0].clone(), 500);
        tables[1] = deleted(tables[1].clone(), 1000);
        tables[2] = deleted(tables[2].clone(), 1000);
        let ev = with_log(
            evidence(tables, fks),
            vec![event(
                EventKind::Delete,
                at(12, 10, 2),
                20,
                "DELETE FROM parent WHERE id <= 500;",
                &["parent"],
            )],
        );
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1);
        let f = &v.findings[0];
        assert_eq!(
            f.tables,
            vec!["public.child_cascade", "public.grandchild", "public.parent"]
        );
        assert_eq!(f.parent.as_deref(), Some("public.parent"));
        assert!(!f.tables.contains(&"public.child_restrict".to_string()));
    }

    #[test]
    fn drop_type_cascade_is_ruled_out_as_row_loss() {
        let ev = with_log(
            evidence(vec![table("orders", 17065, 1000)], vec![]),
            vec![event(
                EventKind::DropType,
                at(12, 10, 59),
                30,
                "DROP TYPE order_status CASCADE;",
                &[],
            )],
        );
        let v = hypothesize(&Facts::new(&ev));
        assert!(v.findings.is_empty());
        assert!(v.ruled_out.iter().any(|r| r.reason.contains("not rows")));
    }

    #[test]
    fn separate_truncates_at_different_times_are_not_a_cascade() {
        let (tables, fks) = lab_schema();
        let a = truncated(tables[0].clone(), 1, at(12, 0, 1));
        let b = truncated(tables[3].clone(), 2, at(12, 30, 0));
        let ev = evidence(vec![a, b], fks);
        assert!(hypothesize(&Facts::new(&ev)).findings.is_empty());
    }
}
