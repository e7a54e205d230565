//! The postmortem's first screen: every table that lost rows however they were removed, how
//! many (exact or estimated, and from what), the loss window, a title that says what happened,
//! and — when nothing was lost — what that verdict could not check.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analysis::Analysis;
use crate::analysis::facts::{ExpectedFrom, Facts, TableView, committed};
use crate::analysis::finding::{Finding, Kind};
use crate::analysis::signatures::committed_deletes;
use crate::evidence::EventKind;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// `loss` (committed rows are gone), `no_loss` (the evidence shows none gone) or `unknown`
    /// (no database snapshot to count with).
    pub verdict: &'static str,
    /// What happened, in one line: "4 tables emptied by TRUNCATE; 143 rows deleted".
    pub title: String,
    /// Every table that lost rows, in the order of the finding that explains it.
    pub tables: Vec<ImpactRow>,
    /// The sum of `rows_lost`, when every row count is known.
    pub total_rows: Option<i64>,
    /// True when every row count of the total is exact (none estimated).
    pub total_exact: bool,
    pub window: LossWindow,
    /// What the verdict rests on that is an estimate or was not checked.
    pub caveats: Vec<String>,
    /// The errors the log shows sessions hitting on the lost tables after the loss (the
    /// application's side of the impact), when it shows any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorWindow>,
}

/// Errors naming a lost table, logged after its loss by sessions other than the ones that
/// removed the rows: `relation "session" does not exist` between a DROP and the re-creation.
/// A syntax error is not one (the statement never reached the table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorWindow {
    pub count: usize,
    /// The applications (else users) the failing sessions logged, sorted.
    pub applications: Vec<String>,
    /// The lost tables the errors name, sorted.
    pub tables: Vec<String>,
    /// The first error: its time, its message and its log line.
    pub first: Instant,
    /// The last error, when there is more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Instant>,
    /// The first logged CREATE TABLE of a dropped table after the loss, which ends the errors a
    /// missing table causes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recreated: Option<Instant>,
    /// How long the errors could last, in words: from the loss to the re-creation, else to the
    /// last error.
    pub lasted: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImpactRow {
    pub table: String,
    /// `TRUNCATE`, `DELETE`, `TRUNCATE … CASCADE`, `ON DELETE CASCADE`, `DROP TABLE`,
    /// `restore` or `unexplained`.
    pub removed_by: String,
    pub rows_lost: Option<i64>,
    /// True for a count (WAL records, `count(*)`), false for an estimate from statistics.
    pub exact: bool,
    /// Where the number comes from, in words.
    pub counted_from: String,
    /// Rank of the finding that explains it.
    pub finding: Option<usize>,
    pub at: Option<DateTime<Utc>>,
}

/// One instant of the loss window, with where it is seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instant {
    pub at: DateTime<Utc>,
    pub what: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct LossWindow {
    /// The last moment the rows are known to have been there: the baseline's collection, or
    /// the last logged write to a lost table before the loss.
    pub last_known_good: Option<Instant>,
    /// The first loss (its commit when the WAL shows it, else its statement).
    pub loss_at: Option<Instant>,
    /// The last loss, when there was more than one.
    pub last_loss_at: Option<Instant>,
    /// When the evidence was collected: the loss was detected no later than this.
    pub detected_by: Option<Instant>,
    /// From the first loss to the evidence's collection, in words ("4.1 s", "2 h 5 min").
    pub since_loss: Option<String>,
}

/// What removed the rows, as the postmortem's reader names it.
fn removed_by(f: &Finding) -> String {
    let statement = f
        .statement
        .as_deref()
        .unwrap_or("")
        .trim_start()
        .to_uppercase();
    match f.kind {
        Kind::Truncate => "TRUNCATE".into(),
        Kind::Delete => "DELETE".into(),
        Kind::Cascade if statement.starts_with("TRUNCATE") => "TRUNCATE … CASCADE".into(),
        Kind::Cascade => "ON DELETE CASCADE".into(),
        Kind::DropRecreate => "DROP TABLE".into(),
        Kind::Restore => "restore".into(),
        other => other.as_str().into(),
    }
}

/// Rows the table lost to `f`: a WAL count when the WAL names them, else the statistics'.
pub(crate) fn rows_lost(t: &TableView, f: &Finding) -> (Option<i64>, bool, String) {
    if let Some(tx) = &f.transaction
        && let Some(n) = tx
            .rows
            .iter()
            .filter(|r| r.table == t.name && r.change != "insert")
            .filter_map(|r| r.rows.map(|n| n as i64))
            .reduce(|a, b| a + b)
        && n > 0
    {
        return (
            Some(n),
            true,
            format!("WAL records of transaction {}", tx.xid),
        );
    }
    if t.expected.is_some() && t.missing() > 0 {
        let how = match (t.expected_from, t.counted.is_some()) {
            (ExpectedFrom::Baseline, false) => {
                "baseline n_live_tup and counters since, less n_live_tup now"
            }
            (ExpectedFrom::Baseline, true) => {
                "baseline n_live_tup and counters since, less a count(*) now (the counters restarted)"
            }
            (ExpectedFrom::BaselineRows, false) => {
                "baseline n_live_tup less n_live_tup now (a restore reset the counters)"
            }
            (ExpectedFrom::BaselineRows, true) => {
                "baseline n_live_tup less a count(*) now (a restore reset the counters)"
            }
            (ExpectedFrom::Catalog, _) => {
                "reltuples (the catalog's estimate) less a count(*) now (the counters restarted)"
            }
            (_, true) => "n_tup_ins − n_tup_del less a count(*) now",
            _ => "n_tup_ins − n_tup_del − n_live_tup",
        };
        return (Some(t.missing()), false, how.into());
    }
    if matches!(f.kind, Kind::Delete | Kind::Cascade) && t.has_counters() {
        let k = committed_deletes(t);
        if k > 0 {
            return (Some(k), false, "n_tup_del (committed deletes)".into());
        }
    }
    // Counters that restarted since the baseline (crash recovery zeroes them) count nothing of
    // what the table held: the baseline's rows, less what is live now, are what it lost.
    if t.counters_restarted
        && let Some(b) = t.baseline
        && b.oid == t.stats.oid
        && let Some(n) = b.n_live_tup
        && n > t.live()
    {
        return (
            Some(n - t.live()),
            false,
            "baseline n_live_tup less n_live_tup now (the counters restarted since)".into(),
        );
    }
    // Without a baseline: a file emptied under the catalog's last estimate (an UNLOGGED table
    // reset by crash recovery keeps pg_class's pages and rows over a 0-byte file).
    if t.counters_restarted
        && t.stats.size_bytes == Some(0)
        && !t.rewritten()
        && t.stats.reltuples >= 1.0
    {
        return (
            Some(t.stats.reltuples as i64),
            false,
            "pg_class.reltuples of the last VACUUM or ANALYZE (an estimate): the file is empty now"
                .into(),
        );
    }
    (None, false, "not counted by the evidence".into())
}

/// When a finding's loss took effect: its commit in the WAL, else its statement.
fn loss_instant(f: &Finding) -> Option<Instant> {
    let source = crate::analysis::narrative::statement_source(f).unwrap_or_default();
    if let Some(tx) = &f.transaction
        && let Some(at) = tx.commit_at
    {
        return Some(Instant {
            at,
            what: format!("transaction {} of the {} committed", tx.xid, removed_by(f)),
            source: tx.source.clone(),
        });
    }
    f.at.map(|at| Instant {
        at,
        what: match &f.statement {
            Some(s) => format!("`{}`", s.trim()),
            None => f.kind.title().to_string(),
        },
        source,
    })
}

/// "4.1 s", "12 min 3 s", "2 h 5 min", "3 d 4 h".
pub fn span(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let total = s.round() as i64;
    let (d, h, m, sec) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min {sec} s")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn rows_text(n: Option<i64>) -> String {
    match n {
        Some(n) => crate::analysis::finding::rows(n),
        None => "an uncounted number of rows".into(),
    }
}

/// Logged statements that show a table's rows were there: a write of rows to it. DDL is not
/// one — an `ALTER TABLE … ADD COLUMN` run after the `DROP TYPE … CASCADE` that emptied a
/// column says nothing about the rows, and placing "last known good" after the change that
/// caused the loss would put the cause outside the window.
const ROW_WRITES: &[EventKind] = &[
    EventKind::BulkLoad,
    EventKind::UpdateAll,
    EventKind::MigrationBookkeeping,
];

pub fn impact(facts: &Facts, analysis: &Analysis) -> Impact {
    let evidence = facts.evidence;
    let mut rows: Vec<ImpactRow> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut losses: Vec<&Finding> = Vec::new();
    for f in analysis.findings.iter().filter(|f| f.loss) {
        let mut counted = false;
        for name in &f.tables {
            if analysis.explanation(name).map(|e| e.rank) != Some(f.rank)
                || !seen.insert(name.clone())
            {
                continue;
            }
            let (n, exact, how) = match facts.table(name) {
                Some(t) => rows_lost(t, f),
                None => match facts.gone.iter().find(|g| g.qualified_name() == *name) {
                    Some(g) => (
                        g.n_live_tup,
                        false,
                        "baseline n_live_tup (the table is gone)".into(),
                    ),
                    None => (None, false, "not counted by the evidence".into()),
                },
            };
            // A listed table that lost nothing countable and is intact was named by the finding
            // (a statement touched it) but lost no row: not part of the impact.
            // A table of unknown state (a restore zeroed its counters) stays, uncounted.
            let intact = facts
                .table(name)
                .is_some_and(|t| t.status == crate::analysis::facts::Status::Intact);
            if n.unwrap_or(0) <= 0 && intact {
                continue;
            }
            counted = true;
            rows.push(ImpactRow {
                table: name.clone(),
                removed_by: removed_by(f),
                rows_lost: n,
                exact,
                counted_from: how,
                finding: Some(f.rank),
                at: loss_instant(f).map(|i| i.at),
            });
        }
        if counted {
            losses.push(f);
        }
    }
    // Rows missing that no finding explains still belong in the impact.
    for t in facts.tables.iter().filter(|t| t.affected()) {
        if seen.contains(&t.name) || analysis.explanation(&t.name).is_some_and(|f| !f.loss) {
            continue;
        }
        rows.push(ImpactRow {
            table: t.name.clone(),
            removed_by: "unexplained".into(),
            rows_lost: Some(t.missing()).filter(|n| *n > 0),
            exact: false,
            counted_from: "n_tup_ins − n_tup_del − n_live_tup".into(),
            finding: None,
            at: None,
        });
    }
    let total_rows = rows
        .iter()
        .map(|r| r.rows_lost)
        .try_fold(0i64, |acc, n| n.map(|n| acc + n));
    let total_exact = !rows.is_empty() && rows.iter().all(|r| r.exact);

    let verdict = if !rows.is_empty() {
        "loss"
    } else if evidence.database.is_none() {
        "unknown"
    } else {
        "no_loss"
    };
    let window = loss_window(facts, &losses, &rows);
    let title = title(analysis, &rows, verdict);
    let caveats = caveats(facts, verdict, &rows);
    let errors = error_window(facts, &losses, &rows, &window);
    Impact {
        verdict,
        title,
        tables: rows,
        total_rows,
        total_exact,
        window,
        caveats,
        errors,
    }
}

/// The errors sessions hit on the lost tables after their loss (see `ErrorWindow`). A table's
/// loss time is its row's; the sessions that removed rows are the loss findings'.
fn error_window(
    facts: &Facts,
    losses: &[&Finding],
    rows: &[ImpactRow],
    window: &LossWindow,
) -> Option<ErrorWindow> {
    let loss = window.loss_at.as_ref()?;
    let removers: BTreeSet<i32> = losses
        .iter()
        .filter_map(|f| f.session.as_ref().and_then(|s| s.pid))
        .collect();
    let mut errors: Vec<(&crate::evidence::LogEvent, &str)> = Vec::new();
    let mut created_again: std::collections::BTreeMap<&str, Instant> = Default::default();
    for r in rows {
        let Some(lost_at) = r.at else { continue };
        // A table gone since (dropped, not created again) still has its errors in the log.
        for e in facts.events_named(&r.table, &[EventKind::Error]) {
            let syntax = e.sqlstate.as_deref() == Some("42601")
                || e.text.trim_start().starts_with("syntax error");
            let remover = e.session.pid.is_some_and(|p| removers.contains(&p));
            if e.at >= lost_at
                && !syntax
                && !remover
                && !errors.iter().any(|(x, _)| x.source == e.source)
            {
                errors.push((e, r.table.as_str()));
            }
        }
        if r.removed_by == "DROP TABLE" {
            let created = facts
                .events_named(&r.table, &[EventKind::Ddl])
                .into_iter()
                .filter(|e| e.at >= lost_at)
                .find(|e| {
                    e.text
                        .trim_start()
                        .get(..12)
                        .is_some_and(|w| w.eq_ignore_ascii_case("CREATE TABLE"))
                });
            if let Some(e) = created {
                created_again.insert(
                    r.table.as_str(),
                    Instant {
                        at: e.at,
                        what: format!("{} created again", r.table),
                        source: e.source.clone(),
                    },
                );
            }
        }
    }
    errors.sort_by(|a, b| (a.0.at, &a.0.source).cmp(&(b.0.at, &b.0.source)));
    let (first, _) = errors.first()?;
    let instant = |e: &crate::evidence::LogEvent| Instant {
        at: e.at,
        what: e.text.trim().to_string(),
        source: e.source.clone(),
    };
    let last = errors
        .last()
        .filter(|(e, _)| errors.len() > 1 && e.source != first.source)
        .map(|(e, _)| instant(e));
    let tables: BTreeSet<String> = errors.iter().map(|(_, t)| t.to_string()).collect();
    // The errors a missing table causes end when it exists again (the last of the tables the
    // errors name, when each was created again); else the log's last error is the end seen.
    let recreated = tables
        .iter()
        .map(|t| created_again.get(t.as_str()).cloned())
        .collect::<Option<Vec<Instant>>>()
        .and_then(|all| all.into_iter().max_by_key(|c| c.at));
    let end = recreated
        .as_ref()
        .map(|c| c.at)
        .or(last.as_ref().map(|l| l.at))
        .unwrap_or(first.at);
    let lasted = format!(
        "{} from the loss to {}",
        span((end - loss.at).num_milliseconds() as f64 / 1000.0),
        if recreated.is_some() {
            "the re-creation"
        } else if last.is_some() {
            "the last error"
        } else {
            "the error"
        }
    );
    let applications: BTreeSet<String> = errors
        .iter()
        .filter_map(|(e, _)| {
            e.session
                .application
                .clone()
                .filter(|a| !a.is_empty() && a != "[unknown]")
                .or_else(|| e.session.user.clone())
        })
        .collect();
    Some(ErrorWindow {
        count: errors.len(),
        applications: applications.into_iter().collect(),
        tables: tables.into_iter().collect(),
        first: instant(first),
        last,
        recreated,
        lasted,
    })
}

fn title(analysis: &Analysis, rows: &[ImpactRow], verdict: &str) -> String {
    if verdict == "loss" {
        // One clause per way of removal, in the order the findings rank them.
        let mut order: Vec<&str> = Vec::new();
        for r in rows {
            if !order.contains(&r.removed_by.as_str()) {
                order.push(&r.removed_by);
            }
        }
        let clauses: Vec<String> = order
            .iter()
            .map(|how| {
                let these: Vec<&ImpactRow> = rows.iter().filter(|r| r.removed_by == *how).collect();
                let n = these.len();
                let sum = these
                    .iter()
                    .map(|r| r.rows_lost)
                    .try_fold(0i64, |a, n| n.map(|n| a + n));
                match *how {
                    "TRUNCATE" | "TRUNCATE … CASCADE" => {
                        format!("{} emptied by {how}", plural(n, "table", "tables"))
                    }
                    "DELETE" => format!("{} deleted", rows_text(sum)),
                    "ON DELETE CASCADE" => {
                        format!("{} deleted by ON DELETE CASCADE", rows_text(sum))
                    }
                    "DROP TABLE" => format!("{} dropped", plural(n, "table", "tables")),
                    "restore" => match sum {
                        Some(_) => format!("{} lost to a restore", rows_text(sum)),
                        None => format!(
                            "{} restored to an earlier point; rows lost not counted",
                            plural(n, "table", "tables")
                        ),
                    },
                    // Any other kind says what it is in its registry title.
                    other => match Kind::from_name(other) {
                        Some(kind) => format!(
                            "{} lost from {}: {}",
                            rows_text(sum),
                            plural(n, "table", "tables"),
                            kind.title()
                        ),
                        None => format!(
                            "{} missing from {}, cause unknown",
                            rows_text(sum),
                            plural(n, "table", "tables")
                        ),
                    },
                }
            })
            .collect();
        return clauses.join("; ");
    }
    if verdict == "unknown" {
        return "Rows lost unknown: no database snapshot in the evidence".into();
    }
    // Nothing lost: say what the evidence shows instead.
    let top = analysis.findings.iter().find(|f| analysis.explains_any(f));
    match top {
        Some(f) if f.kind == Kind::StatsReset => {
            let crash = f.summary.to_lowercase().contains("crash")
                || f.evidence
                    .iter()
                    .any(|e| e.text.to_lowercase().contains("crash recovery"));
            if crash {
                "No data lost: statistics reset by crash recovery".into()
            } else {
                "No data lost: statistics reset".into()
            }
        }
        Some(f) if f.kind == Kind::NeverPopulated => format!(
            "No data lost: {} never populated",
            plural(f.tables.len(), "table", "tables")
        ),
        Some(f) if f.kind == Kind::Rollback => {
            "No data lost: the destructive transaction did not commit".into()
        }
        _ => "No data lost: no table shows missing rows".into(),
    }
}

fn loss_window(facts: &Facts, losses: &[&Finding], rows: &[ImpactRow]) -> LossWindow {
    let evidence = facts.evidence;
    let mut instants: Vec<Instant> = losses.iter().filter_map(|f| loss_instant(f)).collect();
    instants.sort_by(|a, b| (a.at, &a.source).cmp(&(b.at, &b.source)));
    let loss_at = instants.first().cloned();
    let last_loss_at = instants
        .last()
        .filter(|l| loss_at.as_ref().is_some_and(|f| f.at != l.at))
        .cloned();
    let lost: BTreeSet<&str> = rows.iter().map(|r| r.table.as_str()).collect();
    let last_known_good = loss_at.as_ref().and_then(|loss| {
        let baseline = evidence
            .baseline
            .as_ref()
            .map(|b| b.server.server_time)
            .filter(|t| *t <= loss.at)
            .map(|at| Instant {
                at,
                what: "baseline collected: the rows were there".into(),
                source: evidence
                    .inputs
                    .iter()
                    .find(|i| i.kind == "baseline")
                    .map(|i| format!("baseline:{}", i.name))
                    .unwrap_or_else(|| "evidence:baseline".into()),
            });
        let last_write = evidence.timeline.as_ref().and_then(|tl| {
            tl.events
                .iter()
                .filter(|e| e.at < loss.at && ROW_WRITES.contains(&e.kind))
                .filter(|e| e.tables.iter().any(|t| lost.contains(t.as_str())))
                .filter(|e| committed(e) != Some(false))
                .max_by_key(|e| (e.at, e.source.as_str()))
                .map(|e| Instant {
                    at: e.at,
                    what: format!("last logged write to a lost table: `{}`", e.text.trim()),
                    source: e.source.clone(),
                })
        });
        match (baseline, last_write) {
            (Some(b), Some(w)) => Some(if w.at > b.at { w } else { b }),
            (b, w) => b.or(w),
        }
    });
    let detected_by = Some(Instant {
        at: evidence.collected_at,
        what: "evidence collected by pgtriage (the loss was detected no later)".into(),
        source: "evidence:collected_at".into(),
    });
    let since_loss = loss_at
        .as_ref()
        .map(|l| span((evidence.collected_at - l.at).num_milliseconds() as f64 / 1000.0));
    LossWindow {
        last_known_good,
        loss_at,
        last_loss_at,
        detected_by,
        since_loss,
    }
}

fn caveats(facts: &Facts, verdict: &str, rows: &[ImpactRow]) -> Vec<String> {
    let evidence = facts.evidence;
    let mut out = Vec::new();
    let Some(db) = &evidence.database else {
        return vec!["No database snapshot: rows lost cannot be counted; the findings rest on the log and the migration history.".into()];
    };
    if verdict == "no_loss" {
        out.push("\"No data lost\" is an estimate: it rests on the statistics collector's n_live_tup and the planner's reltuples, not on counted rows; verify's --exact counts them.".into());
    } else if rows.iter().any(|r| !r.exact) {
        out.push("Rows marked estimated come from the statistics counters (n_live_tup, n_tup_del), not from counted rows.".into());
    }
    let crashed = evidence.timeline.as_ref().is_some_and(|tl| {
        tl.events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Crash | EventKind::CrashRecovery))
    });
    // Unlogged tables (pg_class.relpersistence = 'u'): crash recovery empties them, and no WAL
    // archive or replica holds their rows.
    let known = !db.tables.is_empty() && db.tables.iter().all(|t| t.persistence.is_some());
    let unlogged: Vec<String> = db
        .tables
        .iter()
        .filter(|t| t.persistence.as_deref() == Some("u"))
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();
    let lost_unlogged = rows.iter().any(|r| unlogged.contains(&r.table));
    if verdict == "no_loss" || crashed || lost_unlogged {
        let after_crash = if crashed {
            "; this cluster went through crash recovery"
        } else {
            ""
        };
        if !known {
            out.push(format!(
                "Unlogged tables were not checked: crash recovery empties them, and the evidence does not record which tables are unlogged (pg_class.relpersistence = 'u'){after_crash}."
            ));
        } else if unlogged.is_empty() {
            out.push(format!(
                "No table is unlogged (pg_class.relpersistence = 'p' for all {}): crash recovery empties none{after_crash}.",
                db.tables.len()
            ));
        } else {
            let shown = unlogged.len().min(20);
            let more = if unlogged.len() > shown {
                format!(" and {} more", unlogged.len() - shown)
            } else {
                String::new()
            };
            out.push(format!(
                "Unlogged (pg_class.relpersistence = 'u'): {}{more} — crash recovery empties them and no WAL archive or replica holds their rows{after_crash}.",
                unlogged
                    .iter()
                    .take(shown)
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut missing: Vec<&str> = Vec::new();
        for (setting, risk) in [
            (
                "fsync",
                "off: a crash can lose or corrupt committed transactions",
            ),
            (
                "synchronous_commit",
                "off: the transactions acknowledged in the last moments before a crash (up to 3 × wal_writer_delay) can be lost",
            ),
            (
                "full_page_writes",
                "off: a crash in the middle of a page write can leave torn pages that WAL replay cannot repair",
            ),
        ] {
            match db.settings.get(setting).map(String::as_str) {
                Some("off") => out.push(format!("{setting} = {risk}.")),
                Some(v) if setting == "full_page_writes" => out.push(format!(
                    "{setting} = {v}: WAL replay repairs pages torn by a crash."
                )),
                Some(v) => out.push(format!(
                    "{setting} = {v}: no acknowledged commit is lost to a crash on this account."
                )),
                // Not collected by older evidence: said once, for the settings that lose commits.
                None if setting == "full_page_writes" => {}
                None => missing.push(setting),
            }
        }
        if !missing.is_empty() {
            out.push(format!(
                "{} {} not in the evidence: whether a crash could lose acknowledged commits was not checked.",
                missing.join(" and "),
                if missing.len() == 1 { "is" } else { "are" }
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::analyze;
    use crate::analysis::fixtures::*;
    use crate::evidence::Evidence;

    fn impact_of(ev: &Evidence) -> Impact {
        analyze(ev).postmortem.impact.unwrap_or_else(|| {
            panic!("no impact");
        })
    }

    /// Seed 002's collection_flows: rows inserted, then a migration's `DROP TYPE … CASCADE`
    /// empties their status column and re-adds it (`ALTER TABLE … ADD COLUMN`), then the
    /// janitor's DELETE matches the NULLs.
    fn dropped_type_then_delete() -> Evidence {
        let flows = deleted(table("migration.collection_flows", 16471, 145), 143);
        let tables = vec![flows];
        let t = |s: u32| at(16, 7, s);
        let events = vec![
            event(
                EventKind::BulkLoad,
                t(0),
                38,
                "INSERT INTO migration.collection_flows (status) SELECT 'running' FROM generate_series(1, 145) g",
                &["migration.collection_flows"],
            ),
            event(
                EventKind::DropType,
                t(10),
                47,
                "DROP TYPE IF EXISTS migration.collectionflowstatus CASCADE",
                &["migration.collection_flows"],
            ),
            event(
                EventKind::Ddl,
                t(11),
                49,
                "ALTER TABLE migration.collection_flows ADD COLUMN status migration.collectionflowstatus",
                &["migration.collection_flows"],
            ),
            event(
                EventKind::Delete,
                t(20),
                59,
                "DELETE FROM migration.collection_flows WHERE status IS NULL",
                &["migration.collection_flows"],
            ),
        ];
        with_log(evidence(tables, vec![]), events)
    }

    /// A DELETE empties `shop.orders` at 12:30:00; the log then shows errors naming it by its
    /// bare name: the application's (its impact), a syntax error, the deleting session's own,
    /// and one from before the loss.
    fn delete_then_errors() -> Evidence {
        let orders = deleted(table("shop.orders", 16500, 150), 150);
        let error = |when, line, pid: i32, app: &str, text: &str| {
            let mut e = event(EventKind::Error, when, line, text, &["orders"]);
            e.session.pid = Some(pid);
            e.session.application = Some(app.into());
            e.severity = Some("ERROR".into());
            e.outcome = None;
            e
        };
        let mut delete = event(
            EventKind::Delete,
            at(12, 30, 0),
            50,
            "DELETE FROM shop.orders",
            &["shop.orders"],
        );
        delete.session.pid = Some(700);
        let events = vec![
            error(
                at(12, 0, 0),
                10,
                900,
                "api",
                "duplicate key value violates unique constraint \"orders_pkey\"",
            ),
            delete,
            error(
                at(12, 30, 5),
                60,
                700,
                "psql",
                "current transaction is aborted",
            ),
            error(
                at(12, 30, 9),
                70,
                901,
                "psql",
                "syntax error at or near \"orders\"",
            ),
            error(
                at(12, 31, 0),
                80,
                900,
                "api",
                "insert or update on table \"order_items\" violates foreign key constraint \"order_items_order_id_fkey\"",
            ),
            error(
                at(12, 33, 0),
                90,
                902,
                "billing",
                "insert or update on table \"invoices\" violates foreign key constraint \"invoices_order_id_fkey\"",
            ),
        ];
        with_log(evidence(vec![orders], vec![]), events)
    }

    #[test]
    fn errors_naming_a_lost_table_after_its_loss_are_the_applications_impact() {
        let ev = delete_then_errors();
        let analysis = analyze(&ev);
        let impact = analysis.postmortem.impact.clone().expect("impact");
        let errors = impact.errors.expect("errors on the lost table");
        // Not the error before the loss, the syntax error or the deleting session's own.
        assert_eq!(errors.count, 2, "{errors:?}");
        assert_eq!(errors.applications, ["api", "billing"]);
        assert_eq!(errors.tables, ["shop.orders"]);
        assert_eq!(errors.first.source, "log:postgresql.log:80");
        assert_eq!(
            errors.last.as_ref().map(|l| l.source.as_str()),
            Some("log:postgresql.log:90")
        );
        assert_eq!(errors.recreated, None);
        assert_eq!(errors.lasted, "3 min 0 s from the loss to the last error");
        // In the story timeline, linked to the DELETE's finding; the error before the loss is
        // routine.
        let rank = analysis
            .findings
            .first()
            .map(|f| f.rank)
            .expect("a finding");
        for (line, told) in [(10, false), (60, true), (80, true), (90, true)] {
            let row = analysis
                .postmortem
                .timeline
                .iter()
                .find(|r| r.entry.source == format!("log:postgresql.log:{line}"))
                .expect("timeline row");
            assert_eq!(row.story, told, "{row:?}");
            assert_eq!(row.findings.contains(&rank), told, "{row:?}");
        }
    }

    #[test]
    fn errors_on_a_dropped_table_never_created_again_are_its_impact() {
        // The log's DROP of a table the database no longer has, then the application's query.
        let mut drop = event(
            EventKind::DropTable,
            at(12, 0, 0),
            5,
            "DROP TABLE session",
            &["session"],
        );
        drop.session.application = Some("alembic".into());
        let mut error = event(
            EventKind::Error,
            at(12, 0, 30),
            9,
            "relation \"session\" does not exist at character 35",
            &["session"],
        );
        error.session.pid = Some(901);
        error.session.application = Some("better-auth".into());
        error.outcome = None;
        let ev = with_log(
            evidence(vec![table("users", 16400, 11)], vec![]),
            vec![drop, error],
        );
        let analysis = analyze(&ev);
        let impact = analysis.postmortem.impact.clone().expect("impact");
        assert!(
            impact.tables.iter().any(|r| r.table == "public.session"),
            "{impact:?}"
        );
        let errors = impact.errors.expect("errors on the dropped table");
        assert_eq!(errors.count, 1);
        assert_eq!(errors.tables, ["public.session"]);
        assert_eq!(errors.applications, ["better-auth"]);
        assert_eq!(errors.recreated, None);
        assert_eq!(errors.lasted, "30.0 s from the loss to the error");
        let row = analysis
            .postmortem
            .timeline
            .iter()
            .find(|r| r.entry.source == "log:postgresql.log:9")
            .expect("timeline row");
        assert!(row.story && !row.findings.is_empty(), "{row:?}");
    }

    #[test]
    fn last_known_good_is_the_last_write_of_rows_not_a_later_ddl() {
        let ev = dropped_type_then_delete();
        let impact = impact_of(&ev);
        assert_eq!(impact.verdict, "loss", "{impact:#?}");
        let loss = impact.window.loss_at.as_ref().map(|l| l.source.as_str());
        assert_eq!(loss, Some("log:postgresql.log:59"), "{impact:#?}");
        let good = impact
            .window
            .last_known_good
            .as_ref()
            .unwrap_or_else(|| panic!("no last known good: {impact:#?}"));
        // The INSERT that wrote the rows, not the ADD COLUMN after the DROP TYPE.
        assert_eq!(good.source, "log:postgresql.log:38", "{good:?}");
        assert_eq!(good.at, at(16, 7, 0));
        assert!(good.what.contains("INSERT INTO"), "{good:?}");
    }

    #[test]
    fn a_baseline_later_than_the_last_write_is_the_last_known_good() {
        let mut ev = dropped_type_then_delete();
        // Collected before the DELETE, with the rows there.
        let mut base = snapshot(
            vec![table("migration.collection_flows", 16471, 145)],
            vec![],
        );
        base.server.server_time = at(16, 7, 5);
        ev.baseline = Some(base);
        let good = impact_of(&ev).window.last_known_good;
        assert_eq!(good.map(|g| g.at), Some(at(16, 7, 5)));
    }

    fn crashed(persistence: &[Option<&str>]) -> Evidence {
        let tables = persistence
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut t = zeroed(table(&format!("t{i}"), 16400 + i as u32, 100));
                t.persistence = p.map(str::to_string);
                t
            })
            .collect();
        let mut ev = with_log(
            evidence(tables, vec![]),
            vec![event(
                EventKind::CrashRecovery,
                at(12, 13, 7),
                3,
                "database system was not properly shut down; automatic recovery in progress",
                &[],
            )],
        );
        if let Some(d) = ev.database.as_mut() {
            d.server.postmaster_start_time = Some(at(12, 13, 7));
            d.bgwriter_stats_reset = Some(at(12, 13, 9));
            d.settings.insert("fsync".into(), "on".into());
            d.settings.insert("synchronous_commit".into(), "off".into());
            d.settings.insert("full_page_writes".into(), "off".into());
        }
        ev
    }

    fn caveat<'a>(impact: &'a Impact, needle: &str) -> Option<&'a str> {
        impact
            .caveats
            .iter()
            .map(String::as_str)
            .find(|c| c.contains(needle))
    }

    #[test]
    fn unlogged_tables_are_named_when_the_evidence_records_persistence() {
        let impact = impact_of(&crashed(&[Some("p"), Some("u"), Some("u")]));
        let line = caveat(&impact, "relpersistence").unwrap_or_else(|| panic!("{impact:#?}"));
        assert!(line.starts_with("Unlogged"), "{line}");
        assert!(line.contains("public.t1, public.t2"), "{line}");
        assert!(!line.contains("public.t0"), "{line}");
        assert!(line.contains("crash recovery"), "{line}");
        assert!(caveat(&impact, "not checked").is_none(), "{impact:#?}");
        // The durability settings, as collected.
        assert!(caveat(&impact, "fsync = on").is_some(), "{impact:#?}");
        assert!(caveat(&impact, "synchronous_commit = off").is_some());
        assert!(caveat(&impact, "full_page_writes = off").is_some());
    }

    #[test]
    fn no_unlogged_table_is_said_so_and_old_evidence_keeps_not_checked() {
        let impact = impact_of(&crashed(&[Some("p"), Some("p")]));
        let line = caveat(&impact, "relpersistence").unwrap_or_else(|| panic!("{impact:#?}"));
        assert!(line.starts_with("No table is unlogged"), "{line}");
        assert!(line.contains("all 2"), "{line}");
        let old = impact_of(&crashed(&[None, None]));
        let line = caveat(&old, "relpersistence").unwrap_or_else(|| panic!("{old:#?}"));
        assert!(
            line.starts_with("Unlogged tables were not checked"),
            "{line}"
        );
    }
}
