//! From what each hypothesis found to what an investigator would sign: one finding per event, a
//! finding a fact contradicts is ruled out (with that fact as the reason), a restore absorbs the
//! re-creations it made, and findings outside the incident window (given with `--since`/`--until`,
//! or inferred from the losses) or of routine size are not counted as losses. Pure: no I/O.
//!
//! Hypotheses never see each other's findings (no hypothesis imports another); this is the one
//! place that compares them.

use chrono::{DateTime, Duration, Utc};

use crate::analysis::facts::Facts;
use crate::analysis::finding::{Fact, Finding, Kind, Link, Relation, RuledOut};
use crate::analysis::scoring::Reason;
use crate::analysis::signatures::committed_deletes;
use crate::evidence::EventKind;

/// The time the incident is known (or said) to lie in. Both ends optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IncidentWindow {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl IncidentWindow {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| at >= s) && self.until.is_none_or(|u| at <= u)
    }
}

/// How long before the first large loss a smaller one still counts as part of the incident
/// when no window is given: an incident is an hour of damage, not a day of routine work.
const INFERRED_LEAD: i64 = 60;

/// A DELETE that removed less than this share (1/N) of a table's rows, in a table nothing else
/// is missing from, is routine work, not the incident.
const ROUTINE_SHARE: i64 = 20;

/// Applies every rule of this module, in order. Findings come in unranked; ranking follows.
pub fn consolidate(
    facts: &Facts,
    findings: Vec<Finding>,
    window: &IncidentWindow,
) -> (Vec<Finding>, Vec<RuledOut>) {
    let mut ruled_out = Vec::new();
    let findings = rule_out_contradicted(findings, &mut ruled_out);
    let findings = one_per_event(findings);
    let findings = restore_absorbs(findings, &mut ruled_out);
    let mut findings = rollback_over_reset(findings);
    routine_deletes(facts, &mut findings);
    outside_window(facts, &mut findings, window);
    caused_by_dropped_columns(facts, &mut findings);
    (findings, ruled_out)
}

/// A table both a statistics reset and a rollback describe: the reset explains why its counters
/// start late, the rollback what they counted since (inserts that never committed, their dead
/// tuples still there). The rollback is the table's explanation; the reset keeps the others.
fn rollback_over_reset(findings: Vec<Finding>) -> Vec<Finding> {
    let rolled_back: std::collections::BTreeSet<String> = findings
        .iter()
        .filter(|f| f.kind == Kind::Rollback)
        .flat_map(|f| f.tables.iter().cloned())
        .collect();
    findings
        .into_iter()
        .filter_map(|mut f| {
            if f.kind == Kind::StatsReset {
                f.tables.retain(|t| !rolled_back.contains(t));
                if f.tables.is_empty() {
                    return None;
                }
            }
            Some(f)
        })
        .collect()
}

/// "Same transaction": two findings pinned to statements of one session with no COMMIT or
/// ROLLBACK of that session between them, inside a `BEGIN` the log shows — one unit of work
/// (a migration, a cleanup script), to be undone together. Needs the ranks: call after ranking.
pub fn same_transaction(facts: &Facts, findings: &mut [Finding]) {
    let Some(timeline) = facts.evidence.timeline.as_ref() else {
        return;
    };
    let events = &timeline.events;
    let same_session = |a: &crate::evidence::SessionInfo, b: &crate::evidence::SessionInfo| {
        a.pid.is_some()
            && a.pid == b.pid
            && (a.session_id.is_none() || b.session_id.is_none() || a.session_id == b.session_id)
    };
    // Each finding's statement as a position in the log.
    let position = |f: &Finding| -> Option<usize> {
        let (at, statement, session) = (f.at?, f.statement.as_ref()?, f.session.as_ref()?);
        events
            .iter()
            .position(|e| e.at == at && &e.text == statement && same_session(&e.session, session))
    };
    // (index in `findings`, its rank, its statement's position in the log).
    let pinned: Vec<(usize, usize, usize)> = findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| position(f).map(|p| (i, f.rank, p)))
        .collect();
    let ends = [EventKind::Commit, EventKind::Rollback];
    let mut links: Vec<(usize, Link)> = Vec::new();
    for (n, &(i, rank_i, pi)) in pinned.iter().enumerate() {
        for &(j, rank_j, pj) in pinned.iter().skip(n + 1) {
            let (first, last) = (pi.min(pj), pi.max(pj));
            // Both are positions `position` found in `events`, so these are always there.
            let (Some(earlier), Some(span), Some(last_event)) = (
                events.get(..first),
                events.get(first..last),
                events.get(last),
            ) else {
                continue;
            };
            // Empty when both findings are pinned to one statement.
            let Some(first_event) = span.first() else {
                continue;
            };
            let session = &first_event.session;
            if !same_session(session, &last_event.session) {
                continue;
            }
            let of_session = |e: &&crate::evidence::LogEvent| same_session(&e.session, session);
            let ended_between = span
                .iter()
                .filter(of_session)
                .any(|e| ends.contains(&e.kind));
            // The transaction began before the first statement and did not end before it.
            let begun = earlier
                .iter()
                .filter(of_session)
                .rev()
                .find(|e| e.kind == EventKind::Begin || ends.contains(&e.kind))
                .is_some_and(|e| e.kind == EventKind::Begin);
            if ended_between || !begun {
                continue;
            }
            // Each finding quotes the other's statement, whichever of the two came first.
            let (Some(event_i), Some(event_j)) = (events.get(pi), events.get(pj)) else {
                continue;
            };
            for (from, rank, e) in [(i, rank_j, event_j), (j, rank_i, event_i)] {
                links.push((
                    from,
                    Link {
                        relation: Relation::SameTransaction,
                        rank: Some(rank),
                        source: e.source.clone(),
                        text: format!(
                            "same transaction as #{rank} (`{}`, pid {}): committed or rolled back together",
                            e.text.trim(),
                            session.pid.unwrap_or_default()
                        ),
                    },
                ));
            }
        }
    }
    for (i, link) in links {
        if let Some(f) = findings.get_mut(i)
            && !f.links.contains(&link)
        {
            f.links.push(link);
        }
    }
}

/// "Caused by": a DELETE … WHERE col IS NULL on a table one of whose columns was dropped
/// before it (DROP TYPE … CASCADE, ALTER TABLE … DROP COLUMN, often in a migration) and added
/// back empty. Every row that existed then had NULL there, so the DELETE removed rows the drop
/// had made to look abandoned: the drop is the cause, the DELETE the damage.
fn caused_by_dropped_columns(facts: &Facts, findings: &mut [Finding]) {
    let Some(db) = facts.evidence.database.as_ref() else {
        return;
    };
    let drops = facts.events_of(&[EventKind::DropType, EventKind::DropColumn]);
    for f in findings.iter_mut().filter(|f| f.kind == Kind::Delete) {
        let (Some(at), Some(statement)) = (f.at, f.statement.clone()) else {
            continue;
        };
        if !statement.to_uppercase().contains(" IS NULL") {
            continue;
        }
        for table in f.tables.clone() {
            let Some(t) = facts.table(&table) else {
                continue;
            };
            let dropped = db.dropped_columns.iter().find(|d| {
                d.schema == t.stats.schema
                    && d.table == t.stats.name
                    && d.dropped_at.is_none_or(|when| when <= at)
            });
            let Some(dropped) = dropped else { continue };
            // The statement that dropped it: the last DROP TYPE … CASCADE or DROP COLUMN
            // (naming this table) that committed before the DELETE.
            let cause = drops
                .iter()
                .filter(|e| e.at <= at && crate::analysis::facts::committed(e) != Some(false))
                .filter(|e| {
                    (e.kind == EventKind::DropType && e.cascade)
                        || e.tables
                            .iter()
                            .any(|n| facts.resolve(n) == facts.resolve(&table))
                })
                .max_by_key(|e| e.at);
            let op = facts
                .evidence
                .migrations
                .iter()
                .flat_map(|m| m.operations.iter())
                .find(|op| {
                    cause.is_some_and(|c| {
                        c.text.to_lowercase().contains(&op.statement.to_lowercase())
                    })
                });
            let (source, what) = match (cause, op) {
                (Some(c), Some(op)) => (
                    c.source.clone(),
                    format!("`{}` (migration {}, {})", c.text.trim(), op.path, op.source),
                ),
                (Some(c), None) => (c.source.clone(), format!("`{}`", c.text.trim())),
                (None, _) => (
                    format!("catalog:{}.pg_attribute.{}", t.name, dropped.attnum),
                    format!("the drop of column {} of {}", dropped.attnum, t.name),
                ),
            };
            let link = Link {
                relation: Relation::CausedBy,
                rank: None,
                source,
                text: format!(
                    "caused by {what}: it dropped column {} of {}{}; every row that existed then had NULL in the column added back, which `{}` matched",
                    dropped.attnum,
                    t.name,
                    dropped
                        .dropped_at
                        .map(|d| format!(" at {}", d.format("%Y-%m-%d %H:%M:%S UTC")))
                        .unwrap_or_default(),
                    statement.trim()
                ),
            };
            f.note(Fact::for_(link.source.clone(), link.text.clone()));
            f.links.push(link);
        }
    }
}

/// A fact the kind cannot produce rules the finding out; the fact is the reason.
fn rule_out_contradicted(findings: Vec<Finding>, ruled_out: &mut Vec<RuledOut>) -> Vec<Finding> {
    let mut kept = Vec::new();
    for f in findings {
        match f.score.iter().find(|l| l.reason == Reason::Contradicted) {
            Some(line) => ruled_out.push(RuledOut {
                kind: f.kind,
                tables: f.tables.clone(),
                reason: line.text.clone(),
                source: line.source.clone(),
            }),
            None => kept.push(f),
        }
    }
    kept
}

/// What identifies the event a finding describes: the logged statement it is pinned to, or
/// else the transaction its tables' catalog rows share (time + tables).
fn event_key(f: &Finding) -> Option<String> {
    let logged = f
        .score
        .iter()
        .find(|l| l.reason == Reason::LogStatement && l.source.starts_with("log:"))
        .map(|l| l.source.clone())
        .or_else(|| {
            f.statement.as_ref().and_then(|_| {
                f.evidence
                    .iter()
                    .find(|e| e.source.starts_with("log:"))
                    .map(|e| e.source.clone())
            })
        });
    // The statement too: one log line can hold several (`psql -c "TRUNCATE a; DELETE FROM b"`
    // is one query, logged once), each its own event (random incidents seed 8181: the DELETE's
    // table was folded into the TRUNCATE's finding as one event).
    if let (Some(source), Some(statement)) = (logged, f.statement.as_ref()) {
        return Some(format!("log:{source}:{}", statement.trim()));
    }
    let one_tx = f.score.iter().any(|l| l.reason == Reason::OneTransaction);
    match (f.at, one_tx) {
        (Some(at), true) => Some(format!("tx:{}", at.to_rfc3339())),
        _ => None,
    }
}

/// More specific kinds first when two describe one event equally well: a cascade says more
/// than the TRUNCATE or DELETE it started with. The registry (`hypotheses!`) lists the kinds in
/// this order.
fn specificity(kind: Kind) -> usize {
    Kind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(usize::MAX)
}

/// One finding per event: findings pinned to the same logged statement (or the same
/// transaction) are one event; the best-supported one keeps the others' tables and says which
/// other kinds also describe it.
fn one_per_event(mut findings: Vec<Finding>) -> Vec<Finding> {
    // Stable: findings equally supported and equally specific keep their order.
    findings.sort_by(|fa, fb| {
        fb.points
            .cmp(&fa.points)
            .then(specificity(fa.kind).cmp(&specificity(fb.kind)))
    });
    // Each kept finding with its event key.
    let mut out: Vec<(Option<String>, Finding)> = Vec::new();
    for f in findings {
        let key = event_key(&f);
        let same = key.as_ref().and_then(|k| {
            out.iter_mut()
                .find(|(o, _)| o.as_ref() == Some(k))
                .map(|(_, kept)| kept)
                .filter(|kept| kept.kind.is_loss() == f.kind.is_loss())
        });
        match same {
            Some(kept) => {
                for t in &f.tables {
                    if !kept.tables.contains(t) {
                        kept.tables.push(t.clone());
                    }
                }
                kept.tables.sort();
                if kept.kind != f.kind {
                    let equally = if f.points == kept.points {
                        " exactly as well — the evidence does not decide between them"
                    } else {
                        ", less well"
                    };
                    let source = f
                        .score
                        .first()
                        .map(|l| l.source.clone())
                        .unwrap_or_default();
                    kept.note(Fact::for_(
                        source,
                        format!(
                            "the same event also fits `{}`{equally} ({}): one event, one finding",
                            f.kind.as_str(),
                            f.summary
                        ),
                    ));
                }
            }
            None => out.push((key, f)),
        }
    }
    out.into_iter().map(|(_, f)| f).collect()
}

/// A restore re-creates every table it restores: the drop_recreate findings on tables a restore
/// finding covers are that restore, not separate losses.
fn restore_absorbs(findings: Vec<Finding>, ruled_out: &mut Vec<RuledOut>) -> Vec<Finding> {
    /// What a restore finding says about the tables it put back.
    struct Restored {
        tables: Vec<String>,
        at: Option<DateTime<Utc>>,
        summary: String,
        /// The restoring session's pid, when the log pinned one.
        pid: Option<i32>,
    }
    let restores: Vec<Restored> = findings
        .iter()
        .filter(|f| f.kind == Kind::Restore)
        .map(|f| Restored {
            tables: f.tables.clone(),
            at: f.at,
            summary: f.summary.clone(),
            pid: f.session.as_ref().and_then(|s| s.pid),
        })
        .collect();
    if restores.is_empty() {
        return findings;
    }
    let mut kept = Vec::new();
    // (statement, source) of each re-creation a restore absorbed.
    let mut absorbed: Vec<(String, String)> = Vec::new();
    for f in findings {
        let by = (f.kind == Kind::DropRecreate)
            .then(|| {
                restores.iter().find(|r| {
                    // The restoring session's own DROPs (`pg_restore --clean`) are the restore,
                    // empty tables it re-created included (random incidents seed 3434: one
                    // empty table left the DROPs a loss of their own, ranked above the restore).
                    let by_the_restore = r.pid.is_some()
                        && f.session.as_ref().and_then(|s| s.pid) == r.pid
                        && f.session.as_ref().and_then(|s| s.application.as_deref())
                            == Some("pg_restore");
                    (by_the_restore || f.tables.iter().all(|t| r.tables.contains(t)))
                        && match (f.at, r.at) {
                            (Some(d), Some(at)) => d + Duration::minutes(5) >= at,
                            _ => true,
                        }
                })
            })
            .flatten();
        match by {
            Some(Restored {
                summary: restore, ..
            }) => {
                absorbed.push((
                    f.statement.clone().unwrap_or_else(|| f.summary.clone()),
                    f.score
                        .first()
                        .map(|l| l.source.clone())
                        .unwrap_or_default(),
                ));
                ruled_out.push(RuledOut {
                    kind: f.kind,
                    tables: f.tables.clone(),
                    reason: format!(
                        "the restore re-created it ({}): the re-creation is that restore, not a separate loss",
                        restore
                    ),
                    source: f
                        .score
                        .first()
                        .map(|l| l.source.clone())
                        .unwrap_or_default(),
                });
            }
            None => kept.push(f),
        }
    }
    for f in kept.iter_mut().filter(|f| f.kind == Kind::Restore) {
        for (what, source) in absorbed.iter() {
            f.links.push(Link {
                relation: Relation::RestoredOver,
                rank: None,
                source: source.clone(),
                text: format!(
                    "restored over: `{what}` re-created the table as part of the restore"
                ),
            });
        }
    }
    kept
}

/// A DELETE of a small share of a table nothing else is missing from (or whose loss another
/// kind explains) is routine work: kept as a finding, not counted as a loss.
fn routine_deletes(facts: &Facts, findings: &mut [Finding]) {
    let explained_by_other: Vec<(String, Kind)> = findings
        .iter()
        .filter(|f| f.loss && f.kind != Kind::Delete)
        .flat_map(|f| f.tables.iter().map(move |t| (t.clone(), f.kind)))
        .collect();
    for f in findings
        .iter_mut()
        .filter(|f| f.kind == Kind::Delete && f.loss)
    {
        // A DELETE without WHERE is never routine, whatever the counters can still measure.
        let whole = f
            .statement
            .as_deref()
            .is_some_and(|s| !s.to_uppercase().contains("WHERE"));
        let routine = !whole
            && f.tables.iter().all(|name| {
                let Some(t) = facts.table(name) else {
                    return false;
                };
                if t.stats.relkind == "p" {
                    return true; // no rows of its own: its partitions decide
                }
                // What it removed: the deletes the counters saw, or what a count finds under the
                // estimate when the counters restarted since.
                let k = committed_deletes(t)
                    .max(crate::analysis::signatures::count_below_estimate(t).unwrap_or(0));
                let had = (t.live() + k).max(t.expected.unwrap_or(0));
                // One row, from a table that still holds the rest, is routine-sized whatever
                // the table's size (a 19-row table's one-row DELETE … WHERE id = 12 is 5 %).
                let small = k * ROUTINE_SHARE < had || (k == 1 && had > 1);
                let rest_explained =
                    !t.affected() || explained_by_other.iter().any(|(n, _)| n == name);
                small && rest_explained
            });
        if routine {
            f.loss = false;
            f.note(Fact::for_(
                f.score
                    .first()
                    .map(|l| l.source.clone())
                    .unwrap_or_default(),
                format!(
                    "routine-sized: under 1/{ROUTINE_SHARE} of the table's rows, and nothing else is missing that it would explain: not counted as a loss"
                ),
            ));
        }
    }
}

/// Losses outside the incident window are history, not the incident. Without `--since`, the
/// window opens an hour before the earliest large loss (a table wiped or partly emptied by it).
fn outside_window(facts: &Facts, findings: &mut [Finding], window: &IncidentWindow) {
    let inferred_start = findings
        .iter()
        .filter(|f| f.loss)
        .filter(|f| {
            f.tables
                .iter()
                .any(|t| facts.table(t).is_some_and(|v| v.affected()))
        })
        .filter_map(|f| f.at)
        .min()
        .map(|t| t - Duration::minutes(INFERRED_LEAD));
    let given = window.since.is_some() || window.until.is_some();
    for f in findings.iter_mut().filter(|f| f.loss) {
        let Some(at) = f.at else { continue };
        let outside = if given {
            !window.contains(at)
        } else {
            inferred_start.is_some_and(|s| at < s)
        };
        if outside {
            f.loss = false;
            let why = if given {
                "outside the incident window given with --since/--until".to_string()
            } else {
                format!(
                    "more than {INFERRED_LEAD} minutes before the first large loss: earlier routine work, not the incident"
                )
            };
            f.note(Fact::against(
                "analysis:incident_window",
                format!(
                    "{} at {}: {why}; not counted as a loss",
                    f.kind.as_str(),
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::analyze;
    use crate::analysis::finding::Kind;
    use crate::analysis::fixtures::*;
    use crate::evidence::{EventKind, TxOutcome};

    /// `TRUNCATE "Accounts" CASCADE` on a quoted mixed-case parent whose children reference it
    /// through a chain of two foreign keys, with track_commit_timestamp off (no shared commit
    /// time to group by) and an older routine DELETE on the middle table: one finding, with the
    /// statement, for all three tables; the old DELETE is not a loss.
    #[test]
    fn truncate_cascade_through_two_fks_is_one_finding() {
        let when = at(12, 30, 0);
        let mut accounts = truncated(table("Accounts", 16385, 200), 16425, when);
        let mut contacts = truncated(deleted(table("Contacts", 16392, 600), 1), 16429, when);
        let mut log = truncated(table("activity_log", 16402, 1200), 16431, when);
        for t in [&mut accounts, &mut contacts, &mut log] {
            t.catalog_commit_time = None;
            t.n_dead_tup = Some(0);
        }
        let mut fks = vec![
            fk("Contacts", "Accounts", "cascade"),
            fk("activity_log", "Contacts", "no_action"),
        ];
        fks[0].columns = vec!["account_id".into()];
        let ev = with_log(
            evidence(
                vec![accounts, contacts, log, table("other", 16410, 100)],
                fks,
            ),
            vec![
                event(
                    EventKind::Delete,
                    at(12, 20, 0),
                    40,
                    "DELETE FROM \"Contacts\" WHERE id = 600",
                    &["public.Contacts"],
                ),
                event(
                    EventKind::Truncate,
                    when,
                    52,
                    "TRUNCATE \"Accounts\" CASCADE",
                    &["public.Accounts"],
                ),
            ],
        );
        let a = analyze(&ev);
        let losses: Vec<_> = a.findings.iter().filter(|f| f.loss).collect();
        assert_eq!(losses.len(), 1, "{:#?}", a.findings);
        let f = losses[0];
        assert!(matches!(f.kind, Kind::Cascade | Kind::Truncate));
        assert_eq!(
            f.tables,
            ["public.Accounts", "public.Contacts", "public.activity_log"]
        );
        assert_eq!(
            f.statement.as_deref(),
            Some("TRUNCATE \"Accounts\" CASCADE")
        );
        for t in ["public.Accounts", "public.Contacts", "public.activity_log"] {
            assert_eq!(a.explanation(t).map(|e| e.rank), Some(f.rank), "{t}");
        }
    }

    /// `psql -c "DELETE FROM notes; TRUNCATE refunds"` is one query, logged on one line: two
    /// statements, two events, each table told by its own statement.
    #[test]
    fn two_statements_on_one_log_line_are_two_findings() {
        let when = at(12, 30, 0);
        let refunds = truncated(table("refunds", 16385, 197), 16425, when);
        let notes = deleted(table("notes", 16392, 1383), 1383);
        let mut events = vec![
            event(
                EventKind::DeleteAll,
                when,
                54,
                "DELETE FROM notes",
                &["notes"],
            ),
            event(
                EventKind::Truncate,
                when,
                54,
                "TRUNCATE refunds",
                &["refunds"],
            ),
        ];
        for e in &mut events {
            e.outcome = Some(TxOutcome::Committed);
        }
        let ev = with_log(evidence(vec![refunds, notes], vec![]), events);
        let a = analyze(&ev);
        let by = |t: &str| a.explanation(t).map(|f| (f.kind, f.statement.clone()));
        assert_eq!(
            by("public.notes"),
            Some((Kind::Delete, Some("DELETE FROM notes".into()))),
            "{:#?}",
            a.findings
        );
        assert_eq!(
            by("public.refunds"),
            Some((Kind::Truncate, Some("TRUNCATE refunds".into())))
        );
    }

    /// One statement, one finding: `TRUNCATE accounts CASCADE` fits both `cascade` and
    /// `truncate`; never two findings at 1.00 for it.
    #[test]
    fn one_statement_is_one_finding() {
        let when = at(12, 30, 0);
        let ev = with_log(
            evidence(
                vec![
                    truncated(table("accounts", 16385, 200), 16425, when),
                    truncated(table("contacts", 16392, 600), 16429, when),
                ],
                vec![fk("contacts", "accounts", "cascade")],
            ),
            vec![event(
                EventKind::Truncate,
                when,
                52,
                "TRUNCATE accounts CASCADE",
                &["public.accounts"],
            )],
        );
        let a = analyze(&ev);
        let on_it: Vec<_> = a
            .findings
            .iter()
            .filter(|f| f.statement.as_deref() == Some("TRUNCATE accounts CASCADE"))
            .collect();
        assert_eq!(on_it.len(), 1, "{:#?}", a.findings);
        assert_eq!(on_it[0].kind, Kind::Cascade);
        assert!(
            on_it[0]
                .evidence
                .iter()
                .any(|e| e.text.contains("also fits `truncate`"))
        );
    }

    /// A fact that contradicts a finding rules it out, with that fact as the reason: a logged
    /// TRUNCATE naming both FK-linked tables, without CASCADE, is no cascade.
    #[test]
    fn contradicted_finding_is_ruled_out_with_the_fact() {
        let when = at(12, 30, 0);
        let ev = with_log(
            evidence(
                vec![
                    truncated(table("accounts", 16385, 200), 16425, when),
                    truncated(table("contacts", 16392, 600), 16429, when),
                ],
                vec![fk("contacts", "accounts", "cascade")],
            ),
            vec![event(
                EventKind::Truncate,
                when,
                52,
                "TRUNCATE accounts, contacts",
                &["public.accounts", "public.contacts"],
            )],
        );
        let a = analyze(&ev);
        assert!(
            a.findings.iter().all(|f| f.kind != Kind::Cascade),
            "{:#?}",
            a.findings
        );
        assert!(
            a.ruled_out
                .iter()
                .any(|r| r.kind == Kind::Cascade && r.reason.contains("has no CASCADE")),
            "{:#?}",
            a.ruled_out
        );
        assert_eq!(
            a.explanation("public.contacts").map(|f| f.kind),
            Some(Kind::Truncate)
        );
    }

    /// A statement whose outcome the log does not show is cited but earns no log points.
    #[test]
    fn unknown_outcome_earns_no_log_points() {
        let when = at(12, 30, 0);
        let mut e = event(
            EventKind::Truncate,
            when,
            52,
            "TRUNCATE orders",
            &["public.orders"],
        );
        e.outcome = Some(TxOutcome::Unknown);
        let ev = with_log(
            evidence(
                vec![truncated(table("orders", 16385, 200), 16425, when)],
                vec![],
            ),
            vec![e],
        );
        let a = analyze(&ev);
        let f = a.explanation("public.orders").expect("explained");
        assert_eq!(f.kind, Kind::Truncate);
        assert_eq!(f.statement.as_deref(), Some("TRUNCATE orders"));
        assert!(
            f.score
                .iter()
                .all(|l| !matches!(l.reason, crate::analysis::scoring::Reason::LogStatement)),
            "{:#?}",
            f.score
        );
    }

    /// A routine DELETE of 1 row in 1000 is kept, not counted as a loss.
    #[test]
    fn routine_delete_is_not_a_loss() {
        let ev = with_log(
            evidence(vec![deleted(table("orders", 16385, 1000), 1)], vec![]),
            vec![event(
                EventKind::Delete,
                at(12, 30, 0),
                52,
                "DELETE FROM orders WHERE id = 42",
                &["public.orders"],
            )],
        );
        let a = analyze(&ev);
        let f = a.explanation("public.orders").expect("kept as a finding");
        assert_eq!(f.kind, Kind::Delete);
        assert!(!f.loss);
    }

    /// One row of a small table (19, random-incident seed 1796281520 #195) is routine too; the
    /// one row of a one-row table, which it empties, is not.
    #[test]
    fn a_one_row_delete_from_a_small_table_is_routine_unless_it_empties_it() {
        let delete_one = |name: &str, rows: i64| {
            with_log(
                evidence(vec![deleted(table(name, 16385, rows), 1)], vec![]),
                vec![event(
                    EventKind::Delete,
                    at(12, 30, 0),
                    52,
                    &format!("DELETE FROM {name} WHERE id = 12"),
                    &[&format!("public.{name}")],
                )],
            )
        };
        let a = analyze(&delete_one("limits", 19));
        let limits = a.explanation("public.limits").expect("kept");
        assert!(!limits.loss);
        // Issue #14's "1 rows".
        assert!(
            limits.summary.contains(": 1 row removed"),
            "{}",
            limits.summary
        );
        let a = analyze(&delete_one("settings", 1));
        assert!(a.explanation("public.settings").expect("explained").loss);
    }

    /// Findings outside the incident window are not losses: with --since after a DELETE, the
    /// DELETE is history; without it, one hours before the TRUNCATE that wiped a table is too.
    #[test]
    fn findings_outside_the_window_are_not_losses() {
        let when = at(12, 30, 0);
        let ev = with_log(
            evidence(
                vec![
                    deleted(table("events", 16380, 1000), 400),
                    truncated(table("orders", 16385, 200), 16425, when),
                ],
                vec![],
            ),
            vec![
                event(
                    EventKind::Delete,
                    at(9, 0, 0),
                    10,
                    "DELETE FROM events WHERE kind = 'debug'",
                    &["public.events"],
                ),
                event(
                    EventKind::Truncate,
                    when,
                    52,
                    "TRUNCATE orders",
                    &["public.orders"],
                ),
            ],
        );
        let inferred = analyze(&ev);
        let del = inferred.explanation("public.events").expect("delete kept");
        assert!(!del.loss, "{del:#?}");
        assert!(
            inferred
                .explanation("public.orders")
                .is_some_and(|f| f.loss)
        );
        let given = crate::analysis::analyze_within(
            &ev,
            &super::IncidentWindow {
                since: Some(at(12, 0, 0)),
                until: None,
            },
        );
        assert!(!given.explanation("public.events").expect("kept").loss);
    }
}

#[cfg(test)]
mod more_tests {
    use crate::analysis::analyze;
    use crate::analysis::finding::{Kind, Relation};
    use crate::analysis::fixtures::*;
    use crate::evidence::{DroppedColumn, EventKind};

    /// Seed 002's chain: migration 086's `DROP TYPE … CASCADE` dropped collection_flows.status
    /// (added back empty); the janitor's `DELETE … WHERE status IS NULL` then removed every
    /// old flow. The DELETE is linked "caused by" the DROP.
    #[test]
    fn a_dropped_column_causes_the_delete_of_its_nulls() {
        let mut ev = with_log(
            evidence(
                vec![deleted(
                    table("migration.collection_flows", 16600, 145),
                    143,
                )],
                vec![],
            ),
            vec![
                event(
                    EventKind::DropType,
                    at(12, 0, 0),
                    47,
                    "DROP TYPE IF EXISTS migration.collectionflowstatus CASCADE",
                    &[],
                ),
                event(
                    EventKind::Delete,
                    at(12, 0, 1),
                    60,
                    "DELETE FROM migration.collection_flows WHERE status IS NULL",
                    &["migration.collection_flows"],
                ),
            ],
        );
        if let Some(db) = ev.database.as_mut() {
            db.dropped_columns.push(DroppedColumn {
                schema: "migration".into(),
                table: "collection_flows".into(),
                attnum: 2,
                dropped_at: Some(at(12, 0, 0)),
            });
        }
        let a = analyze(&ev);
        let f = a
            .explanation("migration.collection_flows")
            .expect("the delete is found");
        assert_eq!(f.kind, Kind::Delete);
        let link = f
            .links
            .iter()
            .find(|l| l.relation == Relation::CausedBy)
            .expect("a caused_by link");
        assert_eq!(link.source, "log:postgresql.log:47");
        assert!(
            link.text
                .contains("DROP TYPE IF EXISTS migration.collectionflowstatus CASCADE")
        );
    }

    /// A never_populated reading that a baseline with rows contradicts is ruled out with the
    /// baseline as the reason (incident 12), and takes no other table down with it.
    #[test]
    fn never_populated_against_a_baseline_with_rows_is_ruled_out() {
        let mut ev = evidence(
            vec![
                empty_new("pinned_stocks", 16526),
                empty_new("drafts", 16530),
            ],
            vec![],
        );
        let mut gone = table("pinned_stocks", 16526, 60);
        gone.relfilenode = 16526;
        ev.baseline = Some(snapshot(vec![gone, empty_new("drafts", 16530)], vec![]));
        let a = analyze(&ev);
        assert!(
            a.findings.iter().all(|f| !(f.kind == Kind::NeverPopulated
                && f.tables.contains(&"public.pinned_stocks".to_string()))),
            "{:#?}",
            a.findings
        );
        assert!(a.ruled_out.iter().any(|r| r.kind == Kind::NeverPopulated
            && r.tables == ["public.pinned_stocks"]
            && r.reason.contains("the baseline counted 60 rows")));
        assert_eq!(
            a.explanation("public.drafts").map(|f| f.kind),
            Some(Kind::NeverPopulated)
        );
    }
}

/// Regression tests for the classes of miss the randomized generator found
/// (scripts/random-incidents.sh 200 200): a loss whose counters restarted afterwards, and a
/// statement on a partitioned table.
#[cfg(test)]
mod generator_misses {
    use crate::analysis::analyze;
    use crate::analysis::finding::Kind;
    use crate::analysis::fixtures::*;
    use crate::evidence::{EventKind, TxOutcome};

    fn reset_at(ev: &mut crate::evidence::Evidence, when: chrono::DateTime<chrono::Utc>) {
        if let Some(d) = ev.database.as_mut()
            && let Some(s) = d.database_stats.as_mut()
        {
            s.stats_reset = Some(when);
        }
    }

    /// `DELETE FROM "check"` (logged, committed), then `pg_stat_reset()`: the counters are
    /// zero and the catalog still counts the rows, yet the log shows them deleted. A delete,
    /// never "nothing was lost".
    #[test]
    fn a_logged_delete_before_a_stats_reset_is_still_a_loss() {
        let mut ev = with_log(
            evidence(
                vec![
                    zeroed(table("check", 16400, 300)),
                    zeroed(table("other", 16410, 50)),
                ],
                vec![],
            ),
            vec![event(
                EventKind::DeleteAll,
                at(12, 0, 0),
                20,
                "DELETE FROM \"check\"",
                &["public.check"],
            )],
        );
        reset_at(&mut ev, at(12, 1, 0));
        let a = analyze(&ev);
        let f = a.explanation("public.check").expect("explained");
        assert_eq!(f.kind, Kind::Delete, "{:#?}", a.findings);
        assert!(f.loss);
        assert_eq!(
            a.explanation("public.other").map(|f| f.kind),
            Some(Kind::StatsReset)
        );
    }

    /// TRUNCATE, then the counters restarted (no log): new file, reltuples −1, counters zero.
    /// That is a TRUNCATE the counters cannot measure, not a table never written.
    #[test]
    fn a_truncate_before_a_reset_is_not_never_populated() {
        let t = zeroed(truncated(table("select", 16400, 300), 16450, at(12, 0, 0)));
        let mut ev = evidence(vec![t, zeroed(table("other", 16410, 50))], vec![]);
        reset_at(&mut ev, at(12, 1, 0));
        let a = analyze(&ev);
        let f = a.explanation("public.select").expect("explained");
        assert_eq!(f.kind, Kind::Truncate, "{:#?}", a.findings);
        assert!(!f.summary.contains("0 rows gone"), "{}", f.summary);
    }

    /// A routine one-row DELETE logged on a partitioned table reaches its partitions, but is no
    /// loss: the parent holds no rows, the partition lost 1 of 243.
    #[test]
    fn a_routine_delete_on_a_partitioned_table_is_not_a_loss() {
        let mut parent = zeroed(table("Ops.Sessions", 16700, 0));
        parent.relkind = "p".into();
        let mut part = deleted(table("Ops.Sessions_p2", 16710, 243), 1);
        part.partition_parent = Some("Ops.Sessions".into());
        let ev = with_log(
            evidence(vec![parent, part], vec![]),
            vec![event(
                EventKind::Delete,
                at(12, 0, 0),
                30,
                "DELETE FROM \"Ops\".\"Sessions\" WHERE id = 173",
                &["Ops.Sessions"],
            )],
        );
        let a = analyze(&ev);
        assert!(a.findings.iter().all(|f| !f.loss), "{:#?}", a.findings);
        assert!(a.explanation("Ops.Sessions").is_none());
    }

    /// A rolled-back INSERT into a partitioned table names the parent; the partition holds the
    /// aborted rows and is explained by the rollback.
    #[test]
    fn a_statement_on_a_partitioned_table_reaches_its_partitions() {
        let mut parent = zeroed(table("billing.Sessions", 16700, 0));
        parent.relkind = "p".into();
        parent.reltuples = -1.0;
        parent.relpages = 0;
        parent.size_bytes = Some(0);
        let mut part = table("billing.Sessions_p1", 16710, 500);
        part.partition_parent = Some("billing.Sessions".into());
        part.n_tup_ins = Some(2500);
        part.n_dead_tup = Some(2000);
        part.n_ins_since_vacuum = Some(2000);
        let mut insert = event(
            EventKind::BulkLoad,
            at(12, 0, 0),
            30,
            "INSERT INTO billing.\"Sessions\" SELECT …",
            &["billing.Sessions"],
        );
        insert.outcome = Some(TxOutcome::RolledBack);
        let ev = with_log(evidence(vec![parent, part], vec![]), vec![insert]);
        let a = analyze(&ev);
        let f = a.explanation("billing.Sessions_p1").expect("explained");
        assert_eq!(f.kind, Kind::Rollback);
        assert_eq!(
            f.statement.as_deref(),
            Some("INSERT INTO billing.\"Sessions\" SELECT …")
        );
        assert!(a.explanation("billing.Sessions").is_none_or(|f| !f.loss));
    }
}

#[cfg(test)]
mod same_transaction_tests {
    use crate::analysis::analyze;
    use crate::analysis::finding::{Kind, Relation};
    use crate::analysis::fixtures::*;
    use crate::evidence::EventKind;

    /// A cleanup script: BEGIN; TRUNCATE staging; DELETE FROM orders WHERE …; COMMIT — two
    /// findings, one transaction; each links to the other by rank. A second session's DELETE
    /// at the same time is not linked.
    #[test]
    fn statements_of_one_transaction_are_linked() {
        let when = at(14, 0, 0);
        let staging = truncated(table("staging", 16500, 400), 16600, at(14, 0, 1));
        let orders = deleted(table("orders", 16501, 1000), 600);
        let other = deleted(table("carts", 16502, 50), 40);
        let mut other_delete = event(
            EventKind::Delete,
            at(14, 0, 2),
            13,
            "DELETE FROM carts WHERE created_at < now()",
            &["carts"],
        );
        other_delete.session.pid = Some(31000);
        let ev = with_log(
            evidence(vec![staging, orders, other], vec![]),
            vec![
                event(EventKind::Begin, when, 10, "BEGIN", &[]),
                event(
                    EventKind::Truncate,
                    at(14, 0, 1),
                    11,
                    "TRUNCATE staging",
                    &["staging"],
                ),
                event(
                    EventKind::Delete,
                    at(14, 0, 2),
                    12,
                    "DELETE FROM orders WHERE status = 'old'",
                    &["orders"],
                ),
                other_delete,
                event(EventKind::Commit, at(14, 0, 3), 14, "COMMIT", &[]),
            ],
        );
        let a = analyze(&ev);
        let find = |kind: Kind, table: &str| {
            a.findings
                .iter()
                .find(|f| f.kind == kind && f.tables.iter().any(|t| t == table))
                .unwrap_or_else(|| panic!("{kind:?} {table}: {:#?}", a.findings))
        };
        let truncate = find(Kind::Truncate, "public.staging");
        let delete = find(Kind::Delete, "public.orders");
        let carts = find(Kind::Delete, "public.carts");
        let linked = |from: &crate::analysis::finding::Finding, to: usize| {
            from.links
                .iter()
                .any(|l| l.relation == Relation::SameTransaction && l.rank == Some(to))
        };
        assert!(linked(truncate, delete.rank), "{:#?}", truncate.links);
        assert!(linked(delete, truncate.rank), "{:#?}", delete.links);
        // Each quotes the other's statement, not its own (the later one quoted itself).
        let quotes = |from: &crate::analysis::finding::Finding, text: &str| {
            from.links
                .iter()
                .any(|l| l.relation == Relation::SameTransaction && l.text.contains(text))
        };
        assert!(
            quotes(truncate, "DELETE FROM orders"),
            "{:#?}",
            truncate.links
        );
        assert!(quotes(delete, "TRUNCATE staging"), "{:#?}", delete.links);
        assert!(
            carts
                .links
                .iter()
                .all(|l| l.relation != Relation::SameTransaction),
            "another session's statement is another transaction"
        );
    }
    /// The other order: the DELETE first, the TRUNCATE (which ranks first) after it. The
    /// TRUNCATE's link quoted its own statement before (the later event, whichever finding).
    #[test]
    fn each_linked_statement_quotes_the_other_one() {
        let staging = truncated(table("staging", 16500, 400), 16600, at(14, 0, 2));
        let orders = deleted(table("orders", 16501, 1000), 600);
        let ev = with_log(
            evidence(vec![staging, orders], vec![]),
            vec![
                event(EventKind::Begin, at(14, 0, 0), 10, "BEGIN", &[]),
                event(
                    EventKind::Delete,
                    at(14, 0, 1),
                    11,
                    "DELETE FROM orders WHERE status = 'old'",
                    &["orders"],
                ),
                event(
                    EventKind::Truncate,
                    at(14, 0, 2),
                    12,
                    "TRUNCATE staging",
                    &["staging"],
                ),
                event(EventKind::Commit, at(14, 0, 3), 13, "COMMIT", &[]),
            ],
        );
        let a = analyze(&ev);
        let link_of = |kind: Kind| {
            a.findings
                .iter()
                .find(|f| f.kind == kind)
                .and_then(|f| {
                    f.links
                        .iter()
                        .find(|l| l.relation == Relation::SameTransaction)
                })
                .map(|l| l.text.clone())
                .unwrap_or_else(|| panic!("{kind:?} not linked: {:#?}", a.findings))
        };
        let truncate = link_of(Kind::Truncate);
        let delete = link_of(Kind::Delete);
        assert!(truncate.contains("DELETE FROM orders"), "{truncate}");
        assert!(delete.contains("TRUNCATE staging"), "{delete}");
    }
}

#[cfg(test)]
mod rollback_after_reset {
    use crate::analysis::analyze;
    use crate::analysis::finding::Kind;
    use crate::analysis::fixtures::*;

    /// Generator miss (seed session3, incidents 9 and 17): `pg_stat_reset()`, then a bulk
    /// insert that failed (`SELECT 1/0` before COMMIT), log_statement = none. The table's
    /// counters count only the 1,050 aborted inserts (all dead): the rollback explains the
    /// table, not the reset, which still explains the untouched tables.
    #[test]
    fn a_rollback_after_a_stats_reset_explains_its_table() {
        let mut base = deleted(table("order.refunds", 16417, 1454), 1);
        base.n_dead_tup = Some(0);
        let mut now = zeroed(table("order.refunds", 16417, 1453));
        now.n_tup_ins = Some(1050);
        now.n_dead_tup = Some(1050);
        now.reltuples = 1453.0;
        let quiet = zeroed(table("order.events", 16420, 300));
        let mut ev = evidence(vec![now, quiet], vec![]);
        if let Some(d) = ev.database.as_mut()
            && let Some(s) = d.database_stats.as_mut()
        {
            s.stats_reset = Some(at(12, 30, 0));
            s.xact_rollback = 1;
        }
        ev.baseline = Some(snapshot(
            vec![base, table("order.events", 16420, 300)],
            vec![],
        ));
        let a = analyze(&ev);
        assert_eq!(
            a.explanation("order.refunds").map(|f| f.kind),
            Some(Kind::Rollback),
            "{:#?}",
            a.findings
        );
        assert_eq!(
            a.explanation("order.events").map(|f| f.kind),
            Some(Kind::StatsReset)
        );
        assert!(a.findings.iter().all(|f| !f.loss));
    }
}

#[cfg(test)]
mod truncate_before_restart {
    use crate::analysis::analyze;
    use crate::analysis::finding::Kind;
    use crate::analysis::fixtures::*;

    /// Generator miss (seed 1796277461 #32): `TRUNCATE "user"."order"` unlogged
    /// (log_statement = ddl), then a crash — here `pg_stat_reset()` — and 13 inserts since, no
    /// baseline. The counters count only the 13 (`intact` before); the file was replaced before
    /// they restarted and nothing says what it held: `unknown`, explained by the TRUNCATE the
    /// file swap shows. A table whose file was replaced after the restart is `unknown` too: the
    /// rows its old file held were inserted before the restart, which the counters never saw
    /// (random incidents seed 777001 #128: a crash, then an unlogged TRUNCATE).
    #[test]
    fn a_file_replaced_before_the_counters_restarted_is_not_intact() {
        let mut order = truncated(zeroed(table("order", 16430, 200)), 16457, at(12, 0, 0));
        order.n_tup_ins = Some(13);
        order.n_live_tup = Some(13);
        let mut later = truncated(zeroed(table("staging", 16440, 50)), 16460, at(12, 45, 0));
        later.n_tup_ins = Some(5);
        later.n_live_tup = Some(5);
        let quiet = zeroed(table("events", 16420, 300));
        let mut ev = evidence(vec![order, later, quiet], vec![]);
        if let Some(d) = ev.database.as_mut()
            && let Some(s) = d.database_stats.as_mut()
        {
            s.stats_reset = Some(at(12, 30, 0));
        }
        let a = analyze(&ev);
        let status = |name: &str| {
            a.tables
                .iter()
                .find(|t| t.name == name)
                .map(|t| t.status)
                .unwrap_or_else(|| panic!("{name}: {:#?}", a.tables))
        };
        assert_eq!(status("order"), "unknown");
        assert_eq!(
            a.explanation("public.order").map(|f| f.kind),
            Some(Kind::Truncate),
            "{:#?}",
            a.findings
        );
        assert_eq!(status("staging"), "unknown");
        assert_eq!(
            a.explanation("public.staging").map(|f| f.kind),
            Some(Kind::Truncate),
            "{:#?}",
            a.findings
        );
        // A baseline on the new file was taken after the swap: it is history, not this loss.
        let mut base = truncated(table("order", 16430, 0), 16457, at(12, 0, 0));
        base.n_live_tup = Some(13);
        base.n_tup_ins = Some(13);
        ev.baseline = Some(snapshot(vec![base], vec![]));
        let a = analyze(&ev);
        let with_baseline = a
            .tables
            .iter()
            .find(|t| t.name == "order")
            .map(|t| t.status);
        assert_eq!(with_baseline, Some("intact"), "{:#?}", a.tables);
        assert!(
            a.explanation("public.order")
                .is_none_or(|f| f.kind != Kind::Truncate),
            "{:#?}",
            a.findings
        );
    }
}
