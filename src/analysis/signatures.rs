//! Signatures several hypotheses share, so that no hypothesis imports another: the storage
//! replaced by a TRUNCATE (and the transactions that did it, grouped), and the deletes that can
//! have committed. Each says which PostgreSQL behaviour it rests on; the hypotheses that read
//! them (`truncate`, `cascade`, `rollback`, `delete`) keep the reasoning of their kind.
//!
//! TRUNCATE (pg-forensics.md, scenario 3): a new relfilenode, `reltuples` −1 (0 after VACUUM),
//! no deleted row counted; tables truncated in one statement share one `pg_class` commit time.
//! DELETE (scenarios 1, 2, 5b, 6c): `n_tup_del` counts attempts; only what `n_live_tup` (or the
//! dead tuples counted as committed modifications) also lost can have committed.

use std::collections::BTreeMap;

use crate::analysis::facts::{Facts, TableView, committed};
use crate::analysis::finding::{Fact, Finding};
use crate::analysis::scoring::Reason;
use crate::evidence::EventKind;

/// How many of the counted deletes can have committed: the deletes the live count also lost,
/// or those still visible as dead tuples counted as committed modifications.
pub fn committed_deletes(t: &TableView) -> i64 {
    let (del, gone) = match t.baseline {
        Some(b) if b.oid == t.stats.oid && b.n_tup_del.is_some_and(|d| d <= t.del()) => {
            let b_live = b.n_live_tup.unwrap_or(0);
            (
                t.del() - b.n_tup_del.unwrap_or(0),
                b_live + (t.ins() - b.n_tup_ins.unwrap_or(0)) - t.live(),
            )
        }
        _ => (t.del(), t.ins() - t.live()),
    };
    // Committed deletes also leave dead tuples and count in n_mod_since_analyze (until the next
    // vacuum/analyze); rolled-back ones do neither. This holds when n_live_tup is off, e.g. an
    // ANALYZE that ran before the inserting session flushed its counts.
    let unvacuumed = del
        .min(t.stats.n_mod_since_analyze.unwrap_or(0))
        .min(t.dead());
    del.min(gone).max(unvacuumed).max(0)
}

/// Rows a `count(*)` finds gone from a table whose counters restarted since, its file and oid
/// kept: only a DELETE removes rows and keeps both, and it ran before the counters restarted
/// (so `n_tup_del` never counted it).
pub fn deleted_before_restart(t: &TableView) -> i64 {
    match t.counted {
        Some(_)
            if t.counters_restarted && t.affected() && !storage_signature(t) && !oid_changed(t) =>
        {
            t.missing()
        }
        _ => 0,
    }
}

/// Tables that lost rows with the storage signature of a TRUNCATE, grouped by the transaction
/// that did it (shared catalog commit time, or one logged statement), as table indices.
pub fn groups(facts: &Facts) -> Vec<Vec<usize>> {
    let mut by_time: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let restarted_cluster = facts.counters_restarted_cluster();
    for (i, t) in facts.tables.iter().enumerate() {
        // A partitioned table holds no rows and has no file: a TRUNCATE through it empties its
        // partitions, which carry the signature (and get its logged statement).
        if t.stats.relkind == "p" {
            continue;
        }
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
    let cascading: Vec<(usize, &[usize])> = groups
        .iter()
        .enumerate()
        .filter(|(_, (key, members))| {
            key.starts_with("log:")
                && members.iter().any(|i| {
                    facts
                        .events_for(*i, &[EventKind::Truncate])
                        .iter()
                        .any(|e| e.cascade && committed(e) != Some(false))
                })
        })
        .map(|(g, (_, members))| (g, members.as_slice()))
        .collect();
    if cascading.is_empty() {
        return;
    }
    let lone: BTreeMap<usize, usize> = groups
        .iter()
        .enumerate()
        .filter_map(|(g, (key, members))| match members.as_slice() {
            [only] if key.starts_with("table:") => Some((*only, g)),
            _ => None,
        })
        .collect();
    let mut moved: Vec<(usize, usize)> = Vec::new();
    for (g, members) in cascading {
        let reached = crate::analysis::fk_graph::referencing_closure(
            facts,
            members,
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
    // Both are positions in `groups`, which nothing has resized since.
    for (from, to) in moved {
        let members = groups
            .get_mut(from)
            .map(|(_, members)| std::mem::take(members))
            .unwrap_or_default();
        if let Some((_, into)) = groups.get_mut(to) {
            into.extend(members);
            facts.sort_by_name(into);
        }
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
        crate::analysis::facts::ExpectedFrom::BaselineRows => {
            "the baseline's live rows: a restore resets the counters"
        }
        crate::analysis::facts::ExpectedFrom::Catalog => {
            "the catalog's reltuples (an estimate; the counters restarted)"
        }
        _ => "inserts − deletes",
    }
}

/// A new oid since the baseline: dropped and re-created, not truncated.
pub fn oid_changed(t: &TableView) -> bool {
    t.baseline.is_some_and(|b| b.oid != t.stats.oid)
}

/// Adds the per-table facts of the TRUNCATE signature to `f`.
pub fn score_tables(facts: &Facts, members: &[usize], f: &mut Finding) {
    for t in facts.views(members) {
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
    let times: Vec<_> = facts
        .views(members)
        .filter_map(|t| t.stats.catalog_commit_time)
        .collect();
    if let (Some(first_table), [first, rest @ ..]) = (facts.views(members).next(), times.as_slice())
        && members.len() > 1
        && times.len() == members.len()
        && rest.iter().all(|t| t == first)
    {
        f.scored(
            Reason::OneTransaction,
            first_table.cite_catalog("catalog_commit_time"),
            format!(
                "{} share one pg_class commit time ({}): one transaction replaced their storage",
                facts.names(members).join(", "),
                first.format("%Y-%m-%d %H:%M:%S%.3f UTC")
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
                crate::migrations::prefix(&op.commit, 8),
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
