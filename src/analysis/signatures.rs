//! Signatures several hypotheses share, so that no hypothesis imports another: the storage
//! replaced by a TRUNCATE (and the transactions that did it, grouped), and the deletes that can
//! have committed. Each says which PostgreSQL behaviour it rests on; the hypotheses that read
//! them (`truncate`, `cascade`, `rollback`, `delete`) keep the reasoning of their kind.
//!
//! TRUNCATE (pg-forensics.md, scenario 3): a new relfilenode, `reltuples` −1 (0 after VACUUM),
//! no deleted row counted; tables truncated in one statement share one `pg_class` commit time.
//! DELETE (scenarios 1, 2, 5b, 6c): `n_tup_del` counts attempts; only what `n_live_tup` (or the
//! dead tuples counted as committed modifications) also lost can have committed.
//! Undone statements (`undone`): `log_statement` `mod` logs a DELETE or TRUNCATE but not the
//! ROLLBACK that undid it, so what the table still shows decides — a rolled-back DELETE adds to
//! `n_tup_del` while `n_live_tup` does not fall and no dead tuple appears (pgstat counts the
//! attempt, live/dead move only at commit), its rows are still there for a `count(*)`; a
//! rolled-back TRUNCATE leaves the table on its file (a committed one swaps it); either adds
//! one to `pg_stat_database.xact_rollback`.

use std::collections::BTreeMap;

use crate::analysis::facts::{Facts, TableView, committed};
use crate::analysis::finding::{Fact, Finding};
use crate::analysis::scoring::Reason;
use crate::evidence::{EventKind, LogEvent};

/// What a table shows against a logged statement having taken effect: the fact and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undone {
    pub reason: String,
    pub source: String,
}

/// Why table `i` shows that the logged DELETE or TRUNCATE `e` did not take effect (rolled back,
/// or failed), from the table alone; `None` when it may have. Meant for a statement whose
/// outcome the log does not show (`committed(e) == None`): the database decides it.
pub fn undone(facts: &Facts, i: usize, e: &LogEvent) -> Option<Undone> {
    let t = facts.tables.get(i)?;
    // A partitioned table holds no rows and has no file: its partitions say.
    if t.stats.relkind == "p" {
        return None;
    }
    // The baseline can only speak of a statement that came after it.
    let baseline = t
        .baseline
        .filter(|b| b.oid == t.stats.oid)
        .filter(|_| facts.baseline_at().is_some_and(|at| at < e.at));
    let fact = match e.kind {
        EventKind::Truncate => match baseline {
            Some(b) if b.relfilenode == t.stats.relfilenode => Undone {
                reason: format!(
                    "relfilenode {} is the baseline's: a committed TRUNCATE gives the table a new file",
                    t.stats.relfilenode
                ),
                source: t.cite_catalog("relfilenode"),
            },
            _ if !t.rewritten() => Undone {
                reason: format!(
                    "relfilenode = oid ({}): the table is still on its first file, and a committed TRUNCATE gives it a new one",
                    t.stats.oid
                ),
                source: t.cite_catalog("relfilenode"),
            },
            _ => return None,
        },
        EventKind::Delete | EventKind::DeleteAll => {
            if let Some(counted) = t.counted {
                // A count cannot size a DELETE … WHERE against an estimate: only a DELETE of
                // every row is told by rows that are still there.
                if e.kind != EventKind::DeleteAll || counted == 0 || t.affected() {
                    return None;
                }
                Undone {
                    reason: format!(
                        "a count(*) after the snapshot finds {counted} rows where {} gives {}: the rows it would have removed are there",
                        expected_label(t),
                        t.expected.unwrap_or(0)
                    ),
                    source: t.cite_count(),
                }
            } else if t.counters_restarted || !t.has_counters() {
                return None;
            } else {
                // Deletes counted since the statement's side of the baseline (attempts:
                // rolled-back ones too), and how many of them can have committed.
                let attempted = match baseline {
                    Some(b) if b.n_tup_del.is_some_and(|d| d <= t.del()) => {
                        t.del() - b.n_tup_del.unwrap_or(0)
                    }
                    _ => t.del(),
                };
                let k = committed_deletes(t);
                // A DELETE of every row that committed leaves none of the rows before it: when
                // the deletes that cannot have committed are at least the rows still live, that
                // statement is among them, whatever routine deletes committed beside it.
                let all_undone = e.kind == EventKind::DeleteAll && attempted - k >= t.live().max(1);
                if (k > 0 && !all_undone) || (e.kind == EventKind::Delete && attempted == 0) {
                    return None;
                }
                Undone {
                    reason: format!(
                        "n_tup_del counted {attempted} deletes{}{}, but n_live_tup {} did not fall by them and n_dead_tup is {}: deletes that commit leave dead tuples, rolled-back ones are only counted",
                        if baseline.is_some() {
                            " since the baseline"
                        } else {
                            ""
                        },
                        if k > 0 {
                            format!(" ({k} of them can have committed)")
                        } else {
                            String::new()
                        },
                        t.live(),
                        t.dead()
                    ),
                    source: t.cite("n_tup_del"),
                }
            }
        }
        _ => return None,
    };
    let rollbacks = facts
        .evidence
        .database
        .as_ref()
        .and_then(|d| d.database_stats.as_ref())
        .map(|s| s.xact_rollback);
    let before = facts
        .evidence
        .baseline
        .as_ref()
        .and_then(|b| b.database_stats.as_ref())
        .map(|s| s.xact_rollback);
    let reason = match (rollbacks, before) {
        (Some(now), Some(then)) if now > then => format!(
            "{}; pg_stat_database.xact_rollback rose from {then} to {now} since the baseline",
            fact.reason
        ),
        _ => fact.reason,
    };
    Some(Undone {
        reason: format!(
            "`{}` did not take effect (it rolled back or failed; the log does not show how its transaction ended): {reason}",
            e.text.trim()
        ),
        source: fact.source,
    })
}

/// A logged statement that may have taken effect on table `i`: seen to commit, or of an
/// outcome the log does not show that the table does not show undone.
pub fn may_have_committed(facts: &Facts, i: usize, e: &LogEvent) -> bool {
    match committed(e) {
        Some(seen) => seen,
        None => undone(facts, i, e).is_none(),
    }
}

/// How many of the counted deletes can have committed: the deletes the live count also lost,
/// or those still visible as dead tuples counted as committed modifications.
pub fn committed_deletes(t: &TableView) -> i64 {
    let mod_since_analyze = t.stats.n_mod_since_analyze.unwrap_or(0);
    // What a counter gained since the baseline; all of it when it fell since (a vacuum or an
    // analyze restarted it, so it counts from then).
    let gained = |now: i64, then: Option<i64>| match then {
        Some(b) if now >= b => now - b,
        _ => now,
    };
    let (del, gone, dead, modified, updated) = match t.baseline {
        Some(b) if b.oid == t.stats.oid && b.n_tup_del.is_some_and(|d| d <= t.del()) => {
            let b_live = b.n_live_tup.unwrap_or(0);
            (
                t.del() - b.n_tup_del.unwrap_or(0),
                b_live + (t.ins() - b.n_tup_ins.unwrap_or(0)) - t.live(),
                // Dead tuples and modifications the baseline already counted are older work
                // (an update, a routine delete), not the deletes counted since.
                gained(t.dead(), b.n_dead_tup),
                gained(mod_since_analyze, b.n_mod_since_analyze),
                gained(t.upd(), b.n_tup_upd),
            )
        }
        _ => (
            t.del(),
            t.ins() - t.live(),
            t.dead(),
            mod_since_analyze,
            t.upd(),
        ),
    };
    // Every UPDATE leaves one dead tuple too (its old version, committed or not), so on a table
    // no vacuum has visited the dead tuples a DELETE can account for are those the updates do
    // not (random incidents seed 90517 #163: 13 updates, then a rolled-back DELETE of all 211
    // rows read as 13 committed deletes, a loss). HOT pruning removes dead tuples, so this can
    // count fewer committed deletes than there were, never more; the rows n_live_tup lost
    // (`gone` below) still count them. After a vacuum `n_dead_tup` restarted and the cumulative
    // update count no longer applies.
    let dead = if t.stats.last_vacuum.is_none() && t.stats.last_autovacuum.is_none() {
        (dead - updated).max(0)
    } else {
        dead
    };
    // Committed deletes also leave dead tuples and count in n_mod_since_analyze (until the next
    // vacuum/analyze); rolled-back ones do neither. This holds when n_live_tup is off, e.g. an
    // ANALYZE that ran before the inserting session flushed its counts.
    let unvacuumed = del.min(modified).min(dead);
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

/// Rows a `count(*)` finds under the catalog's estimate by more than its noise but not by half
/// (status `unknown` by count, `status::assess_counted`): routine deletes since the last
/// VACUUM/ANALYZE or a loss, which the count alone cannot tell apart; a committed DELETE in the
/// log can. `None` when the count is not short in that way.
pub fn count_below_estimate(t: &TableView) -> Option<i64> {
    let counted = t.counted?;
    let expected = t.expected?;
    (t.status == crate::analysis::status::TableStatus::Unknown && counted < expected)
        .then_some(expected - counted)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::analyze;
    use crate::analysis::finding::Kind;
    use crate::analysis::fixtures::*;
    use crate::evidence::{Evidence, TxOutcome};

    /// As `log_statement = mod` logs it: the statements, no BEGIN, COMMIT or ROLLBACK (the
    /// reader takes them as autocommit, committed).
    fn logged_as_mod(mut ev: Evidence, events: Vec<LogEvent>) -> Evidence {
        if let Some(d) = ev.database.as_mut() {
            d.settings.insert("log_statement".into(), "mod".into());
        }
        with_log(ev, events)
    }

    /// Measured on PostgreSQL 15 (tests/log_mod_rollbacks.rs): `BEGIN; DELETE FROM ledger;
    /// ROLLBACK;` counts 500 deletes while n_live_tup stays 500 and no dead tuple appears;
    /// `BEGIN; TRUNCATE notes; ROLLBACK;` leaves relfilenode = oid. A committed `DELETE FROM
    /// audit` in the same run is the control.
    fn mod_run() -> Evidence {
        let mut ledger = table("ledger", 16385, 500);
        ledger.n_tup_del = Some(500);
        let notes = table("notes", 16392, 300);
        let audit = deleted(table("audit", 16406, 400), 400);
        logged_as_mod(
            evidence(vec![ledger, notes, audit], vec![]),
            vec![
                event(
                    EventKind::DeleteAll,
                    at(12, 10, 0),
                    40,
                    "DELETE FROM ledger",
                    &["ledger"],
                ),
                event(
                    EventKind::Truncate,
                    at(12, 10, 1),
                    41,
                    "TRUNCATE notes",
                    &["notes"],
                ),
                event(
                    EventKind::DeleteAll,
                    at(12, 10, 2),
                    42,
                    "DELETE FROM audit",
                    &["audit"],
                ),
            ],
        )
    }

    #[test]
    fn under_log_statement_mod_a_rolled_back_delete_and_truncate_are_ruled_out_by_the_tables() {
        let a = analyze(&mod_run());
        let ruled = |kind: Kind, table: &str| {
            a.ruled_out
                .iter()
                .find(|r| r.kind == kind && r.tables.iter().any(|t| t == table))
                .unwrap_or_else(|| panic!("{kind:?} on {table} ruled out: {:#?}", a.ruled_out))
        };
        let ledger = ruled(Kind::Delete, "public.ledger");
        assert!(ledger.reason.contains("did not take effect"), "{ledger:?}");
        assert!(
            ledger.reason.contains("n_live_tup 500 did not fall"),
            "{ledger:?}"
        );
        assert_eq!(ledger.source, "stats:public.ledger.n_tup_del");
        let notes = ruled(Kind::Truncate, "public.notes");
        assert!(
            notes.reason.contains("relfilenode = oid (16392)"),
            "{notes:?}"
        );
        assert!(a.explanation("public.ledger").is_none());
        assert!(a.explanation("public.notes").is_none());
        // The control: the committed DELETE is still the loss, pinned to its statement.
        let audit = a.explanation("public.audit").expect("audit explained");
        assert_eq!(audit.kind, Kind::Delete);
        assert_eq!(audit.statement.as_deref(), Some("DELETE FROM audit"));
        // The log cannot show the commit: the timeline says so.
        let outcomes: Vec<_> = a
            .timeline
            .iter()
            .filter(|e| e.kind == "delete_all" || e.kind == "truncate")
            .map(|e| e.outcome)
            .collect();
        assert!(
            outcomes.iter().all(|o| *o == Some(TxOutcome::Unknown)),
            "{outcomes:?}"
        );
    }

    /// Random-incident seed 1796281520 #3: a routine `DELETE … WHERE id = 65` committed, then
    /// `BEGIN; DELETE FROM "Products"; ROLLBACK;` under log_statement = mod. n_tup_del 382,
    /// n_live_tup 381, no dead tuples: one delete can have committed, and the 381 that cannot
    /// are the rows still there — the DELETE of every row is undone, not the routine one's
    /// statement (it was pinned to the one-row finding, which its missing WHERE made a loss).
    #[test]
    fn a_rolled_back_delete_of_every_row_beside_a_routine_one_is_undone() {
        let mut products = table("products", 16448, 381);
        products.n_tup_ins = Some(382);
        products.n_tup_del = Some(382);
        products.n_dead_tup = Some(0);
        products.n_mod_since_analyze = Some(0);
        let ev = logged_as_mod(
            evidence(vec![products], vec![]),
            vec![
                event(
                    EventKind::Delete,
                    at(12, 0, 0),
                    40,
                    "DELETE FROM products WHERE id = 65",
                    &["products"],
                ),
                event(
                    EventKind::DeleteAll,
                    at(12, 10, 0),
                    47,
                    "DELETE FROM products",
                    &["products"],
                ),
            ],
        );
        let a = analyze(&ev);
        assert!(
            a.findings
                .iter()
                .all(|f| !f.loss && f.statement.as_deref() != Some("DELETE FROM products")),
            "{:#?}",
            a.findings
        );
    }

    /// The same log read as `log_statement = all` writes it would show the ROLLBACK; a log that
    /// does show transaction control keeps the reader's outcomes.
    #[test]
    fn outcomes_are_kept_when_the_log_shows_transaction_control() {
        let mut ev = mod_run();
        if let Some(d) = ev.database.as_mut() {
            d.settings.insert("log_statement".into(), "all".into());
        }
        assert!(matches!(
            crate::analysis::facts::with_unseen_outcomes(&ev),
            std::borrow::Cow::Borrowed(_)
        ));
        let ev = mod_run();
        let settled = crate::analysis::facts::with_unseen_outcomes(&ev);
        assert!(
            settled
                .timeline
                .iter()
                .flat_map(|t| &t.events)
                .all(|e| e.outcome == Some(TxOutcome::Unknown))
        );
    }

    /// Random incident (seed logmod, #23): 14 updates and a routine one-row DELETE left 15 dead
    /// tuples and n_mod_since_analyze 108 before the baseline; then `BEGIN; DELETE FROM
    /// billing.customers; ROLLBACK;` under log_statement = mod added 92 to n_tup_del and nothing
    /// else. The baseline's dead tuples are not the DELETE's: no delete committed since.
    #[test]
    fn dead_tuples_the_baseline_already_counted_are_no_committed_deletes() {
        let mut before = table("billing.customers", 16394, 92);
        before.n_tup_ins = Some(93);
        before.n_tup_upd = Some(14);
        before.n_tup_del = Some(1);
        before.n_dead_tup = Some(15);
        before.n_mod_since_analyze = Some(108);
        let mut now = before.clone();
        now.n_tup_del = Some(93);
        let mut ev = logged_as_mod(
            evidence(vec![now], vec![]),
            vec![event(
                EventKind::DeleteAll,
                at(12, 10, 0),
                40,
                "DELETE FROM billing.customers",
                &["billing.customers"],
            )],
        );
        let mut baseline = snapshot(vec![before], vec![]);
        baseline.server.server_time = at(12, 5, 0);
        ev.baseline = Some(baseline);
        let facts = crate::analysis::facts::Facts::new(&ev);
        let t = facts.table("billing.customers").expect("table");
        assert_eq!(committed_deletes(t), 0);
        let a = analyze(&ev);
        assert!(
            a.explanation("billing.customers").is_none_or(|f| !f.loss),
            "{:#?}",
            a.findings
        );
        assert!(
            a.ruled_out
                .iter()
                .any(|r| r.kind == Kind::Delete && r.reason.contains("did not take effect"))
        );
    }

    /// After a crash every counter is zero; the count(*) collect takes then decides: the rows
    /// of a rolled-back `DELETE FROM t` are all there, those of the committed one are gone.
    #[test]
    fn after_a_crash_the_count_decides_a_delete_of_unknown_outcome() {
        let counted = |rows: i64| {
            let mut t = zeroed(table("ledger", 16385, rows));
            t.reltuples = 500.0;
            t
        };
        let mut ev = logged_as_mod(
            evidence(vec![counted(500)], vec![]),
            vec![event(
                EventKind::DeleteAll,
                at(12, 10, 0),
                40,
                "DELETE FROM ledger",
                &["ledger"],
            )],
        );
        if let Some(d) = ev.database.as_mut() {
            d.server.postmaster_start_time = Some(at(12, 13, 7));
            d.bgwriter_stats_reset = Some(at(12, 13, 9));
        }
        let with_count = |ev: &Evidence, rows: i64| {
            let mut ev = ev.clone();
            ev.exact_counts = Some(crate::evidence::ExactRowCounts {
                budget_ms: 10_000,
                spent_ms: 3,
                counted: [("public.ledger".to_string(), rows)].into_iter().collect(),
                not_counted: Default::default(),
            });
            analyze(&ev)
        };
        let rolled_back = with_count(&ev, 500);
        assert!(
            rolled_back
                .explanation("public.ledger")
                .is_none_or(|f| !f.loss),
            "{:#?}",
            rolled_back.findings
        );
        assert!(rolled_back.ruled_out.iter().any(|r| r.kind == Kind::Delete
            && r.reason.contains("did not take effect")
            && r.source == "evidence:exact_counts.counted.public.ledger"));
        let committed = with_count(&ev, 0);
        let f = committed.explanation("public.ledger").expect("explained");
        assert_eq!(f.kind, Kind::Delete, "{:#?}", committed.findings);
        assert_eq!(f.statement.as_deref(), Some("DELETE FROM ledger"));
    }
}
