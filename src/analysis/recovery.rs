//! Recovery plans: one per independent loss event. A plan names the findings it undoes, the
//! tables and the rows expected back, the recovery target computed from the event that removed
//! those rows (and checked against the evidence), the commands in order, and what the recovered
//! copy will not have. Pure: computed from the evidence and the analysis; `pgtriage recover`
//! rehearses the same plans, so the report and the rehearsal never disagree.
//!
//! Every command here is meant to run as printed: shell words quoted with `quote::shell`, SQL
//! names with `quote::qualified`, connection strings from `quote::connection_url`. Paths the
//! report cannot know (the base backup, the dump, the evidence file) are shell variables the
//! plan's `variables` list explains.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analysis::Analysis;
use crate::analysis::facts::Facts;
use crate::analysis::finding::{Finding, Kind};
use crate::analysis::quote::{connection_url, quote_literal, shell};
use crate::evidence::{EventKind, Evidence, TxOutcome};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// 1-based; `pgtriage recover --plan N` rehearses plan N.
    pub id: usize,
    /// What removed the rows, in one line.
    pub event: String,
    pub kind: Kind,
    /// Ranks of the findings this plan undoes.
    pub findings: Vec<usize>,
    pub at: Option<DateTime<Utc>>,
    pub tables: Vec<PlanTable>,
    /// Sum of the tables' rows expected back, when every one is known.
    pub rows_expected_back: Option<i64>,
    pub target: Option<Target>,
    /// Where the rows come back from: `pitr` (base backup + WAL archive), `dump`, `none`.
    /// JSON `restore_from`: `source` is a citation in every pgtriage contract.
    #[serde(rename = "restore_from")]
    pub source: &'static str,
    /// The archiving tool the server's archive_command names: `cp`, `pgbackrest`, `wal-g`,
    /// `barman`, `other`, or `none` when archiving is off.
    pub archiver: &'static str,
    /// A managed service told from its settings: `rds`, `cloudsql`, `azure`.
    pub provider: Option<&'static str>,
    /// The shell variables the commands use, each with what to set it to.
    pub variables: Vec<Variable>,
    pub steps: Vec<Step>,
    /// What the recovered copy will not have.
    pub cost: String,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanTable {
    pub table: String,
    /// Rows the table should hold once recovered (the baseline's count, or inserts − deletes).
    pub expected_rows: Option<i64>,
    pub rows_expected_back: Option<i64>,
    /// `baseline` or `counters`: where the expected count comes from.
    pub expected_from: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// `recovery_target_time`, UTC; none means "replay the timeline to its end".
    pub time: Option<DateTime<Utc>>,
    /// The same time as postgresql.conf takes it (`2026-11-23 12:09:55.000000+00`).
    pub time_setting: Option<String>,
    /// `recovery_target_lsn`, when known: the last commit before the loss (then `inclusive` is
    /// true: stop just after it). `pgtriage recover` finds it in the WAL archive.
    pub lsn: Option<String>,
    /// False for a time target: the transaction committing at the target is the destructive one.
    pub inclusive: bool,
    /// The destructive statement changes data before it commits (DROP DATABASE invalidates and
    /// removes the database first): a time target, which stops only at commits, is too late,
    /// and `recover` stops at the last commit before it instead (`lsn`).
    pub needs_lsn: bool,
    /// `recovery_target_timeline`: `latest`, the timeline the WAL shows the loss on, or the old
    /// timeline a restore left behind.
    pub timeline: String,
    /// The lost writes are on a timeline the server has left (a restore or failover): its WAL
    /// is in the old primary's archive.
    pub old_timeline: bool,
    /// The evidence the target was computed from.
    pub source: String,
    /// Whether the evidence confirms the target: after the last logged write into each lost
    /// table before the loss, before the destructive commit.
    pub checked: bool,
    pub check: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variable {
    pub name: &'static str,
    pub meaning: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub title: String,
    pub why: String,
    /// `sh` (a shell command), `sql` (run in psql against the named database).
    pub language: &'static str,
    pub command: Option<String>,
    /// False for commands no test can run here (a cloud provider's CLI, pgBackRest, …).
    pub tested: bool,
}

/// A loss event: the findings that removed rows at one moment, with the tables they explain.
struct Event<'a> {
    findings: Vec<&'a Finding>,
    tables: BTreeSet<String>,
    at: Option<DateTime<Utc>>,
}

/// Groups the loss findings that explain at least one table into independent events: findings
/// at the same moment (one statement seen by several hypotheses) are one event; findings
/// without a time join the event of the same tables, else stand alone.
fn events<'a>(analysis: &'a Analysis) -> Vec<Event<'a>> {
    let mut out: Vec<Event<'a>> = Vec::new();
    let losses = analysis
        .findings
        .iter()
        .filter(|f| f.loss && analysis.explains_any(f));
    for f in losses {
        let explained: BTreeSet<String> = f
            .tables
            .iter()
            .filter(|t| analysis.explanation(t).map(|e| e.rank) == Some(f.rank))
            .cloned()
            .collect();
        let same = out.iter_mut().find(|e| match (e.at, f.at) {
            (Some(a), Some(b)) => a == b,
            (_, None) => explained.iter().any(|t| e.tables.contains(t)),
            _ => false,
        });
        match same {
            Some(e) => {
                e.findings.push(f);
                e.tables.extend(explained);
            }
            None => out.push(Event {
                findings: vec![f],
                tables: explained,
                at: f.at,
            }),
        }
    }
    out
}

/// One point-in-time recovery to before the earliest loss recovers a later loss too when none
/// of the later loss's tables was written between the two: the copy then holds every row the
/// later statement removed. Such events become one plan (one rehearsal, one restore.sql); a
/// later loss whose tables were written in between (or whose writes the log does not show)
/// keeps its own plan, since the earlier target would miss those rows. A restore, a timeline
/// switch, a DROP DATABASE (a commit-LSN target) or a WAL-exact target is never merged.
fn merge_covered<'a>(facts: &Facts, events: Vec<Event<'a>>) -> Vec<Event<'a>> {
    if !facts.has_log() {
        return events;
    }
    let mergeable = |e: &Event| {
        e.at.is_some()
            && e.findings.iter().all(|f| {
                f.kind != Kind::Restore
                    && f.transaction.is_none()
                    && !f.statement.as_deref().is_some_and(|s| {
                        let s = s.trim_start().to_ascii_uppercase();
                        s.starts_with("DROP DATABASE") || s.starts_with("DROP TABLESPACE")
                    })
            })
    };
    let writes = [EventKind::BulkLoad, EventKind::Ddl, EventKind::UpdateAll];
    // Every table of `later` was last written before `earliest`.
    let covered = |earliest: DateTime<Utc>, later: &Event| {
        let Some(until) = later.at else { return false };
        later.tables.iter().all(|t| {
            facts.resolve(t).is_some_and(|i| {
                facts
                    .events_for(i, &writes)
                    .into_iter()
                    .filter(|e| e.at < until && e.outcome != Some(TxOutcome::Aborted))
                    .map(|e| e.at)
                    .max()
                    .is_some_and(|w| w < earliest)
            })
        })
    };
    // Where a plan for `e` would stop: before its cause, when one destroyed values first.
    let start_of =
        |e: &Event, at: DateTime<Utc>| earliest_cause(facts, &e.findings, at).map_or(at, |c| c.at);
    let mut out: Vec<Event<'a>> = Vec::new();
    for e in events {
        let host = out.iter_mut().find(|o| {
            mergeable(o)
                && mergeable(&e)
                && match (o.at, e.at) {
                    // The earlier event's own tables are checked against its loss (its
                    // target may stop sooner, before its cause, on purpose); the later
                    // event's against where the merged plan stops.
                    (Some(a), Some(b)) if a <= b => covered(start_of(o, a), &e) && covered(a, o),
                    (Some(_), Some(b)) => covered(start_of(&e, b), o) && covered(b, &e),
                    _ => false,
                }
        });
        match host {
            Some(o) => {
                o.findings.extend(e.findings);
                o.tables.extend(e.tables);
                o.at = match (o.at, e.at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            None => out.push(e),
        }
    }
    out
}

/// The archiving tool the server's `archive_command` names, and the matching
/// `restore_command`, when it can be derived.
pub fn archiver(archive_command: &str) -> (&'static str, Option<String>) {
    let cmd = archive_command.trim();
    if cmd.is_empty() || cmd == "(disabled)" {
        return ("none", None);
    }
    if cmd.contains("pgbackrest") {
        return (
            "pgbackrest",
            Some(format!(
                "pgbackrest {} archive-get %f \"%p\"",
                pgbackrest_options(cmd)
            )),
        );
    }
    if cmd.contains("wal-g") {
        return ("wal-g", Some("wal-g wal-fetch %f %p".into()));
    }
    if cmd.contains("barman-wal-archive") {
        let mut words = cmd
            .split_whitespace()
            .skip_while(|w| !w.ends_with("barman-wal-archive"));
        if words.next().is_some() {
            let args: Vec<&str> = words
                .filter(|w| !w.starts_with('-') && *w != "%p")
                .collect();
            if let [host, server, ..] = args.as_slice() {
                return (
                    "barman",
                    Some(format!("barman-wal-restore {host} {server} %f %p")),
                );
            }
        }
        return ("barman", None);
    }
    match wal_archive_dir(cmd) {
        Some(dir) => ("cp", Some(format!("cp {}/%f %p", shell(&dir)))),
        None => ("other", None),
    }
}

/// The options of a `pgbackrest … archive-push %p` archive_command that every pgBackRest
/// command of this cluster needs too: where its configuration is, the stanza, the repository.
/// Command-specific ones (`--archive-async`, `--process-max`) are left out: restore and
/// archive-get would reject them on the command line. Without a stanza, `--stanza=main`.
pub fn pgbackrest_options(archive_command: &str) -> String {
    let mut words: Vec<String> = archive_command
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
        .filter(|w| {
            [
                "--config=",
                "--config-path=",
                "--config-include-path=",
                "--stanza=",
                "--repo",
            ]
            .iter()
            .any(|p| w.starts_with(p))
        })
        .map(|w| match w.split_once('=') {
            Some((k, v)) => format!("{k}={}", shell(v)),
            None => w.to_string(),
        })
        .collect();
    if !words.iter().any(|w| w.starts_with("--stanza=")) {
        words.push("--stanza=main".into());
    }
    words.join(" ")
}

/// The archive directory of a plain `cp %p DIR/%f` archive_command (with or without the usual
/// `test ! -f DIR/%f &&` guard).
pub fn wal_archive_dir(archive_command: &str) -> Option<String> {
    let words: Vec<&str> = archive_command.split_whitespace().collect();
    let cp = words
        .iter()
        .position(|w| *w == "cp" || w.ends_with("/cp"))?;
    let dest = words.get(cp + 1..)?.iter().rfind(|w| w.ends_with("/%f"))?;
    let dir = dest
        .trim_end_matches("/%f")
        .trim_matches(|c| c == '"' || c == '\'');
    (!dir.is_empty()).then(|| dir.to_string())
}

/// A managed PostgreSQL service, told from its settings.
pub fn provider(evidence: &Evidence) -> Option<&'static str> {
    let d = evidence.database.as_ref()?;
    let has = |prefix: &str| d.settings.keys().any(|k| k.starts_with(prefix));
    let setting = |name: &str| d.settings.get(name).map(String::as_str).unwrap_or("");
    if has("rds.")
        || setting("data_directory").starts_with("/rdsdbdata")
        || setting("archive_command").contains("rds_wal_archive")
        || d.server.version.contains("Aurora")
    {
        Some("rds")
    } else if has("cloudsql.") {
        Some("cloudsql")
    } else if has("azure.") {
        Some("azure")
    } else {
        None
    }
}

/// The earliest statement that caused one of `findings`' losses by destroying values itself,
/// before `loss_at` (seed 002: the DROP TYPE … CASCADE that dropped the column whose NULLs a
/// DELETE then matched). Stopping before the loss brings the rows back without the dropped
/// column's values; stopping before the cause brings back both.
fn earliest_cause<'a>(
    facts: &Facts<'a>,
    findings: &[&Finding],
    loss_at: DateTime<Utc>,
) -> Option<&'a crate::evidence::LogEvent> {
    let drops = facts.events_of(&[EventKind::DropType, EventKind::DropColumn]);
    findings
        .iter()
        .flat_map(|f| f.links.iter())
        .filter(|l| l.relation == crate::analysis::finding::Relation::CausedBy)
        .filter_map(|l| {
            drops
                .iter()
                .copied()
                .find(|e| e.source == l.source && e.at < loss_at)
        })
        .min_by_key(|e| e.at)
}

/// The recovery target of one event. Times for now: the destructive statement's logged time
/// with `recovery_target_inclusive = false` stops replay before any transaction that committed
/// at or after it — the destructive one included, since a transaction commits after its
/// statement starts. (A commit LSN from the WAL would be exact: slot it in here.)
fn target_for(facts: &Facts, event: &Event, timeline_id: Option<i64>) -> Option<Target> {
    // A merged event's target is its earliest loss.
    let first = event
        .findings
        .iter()
        .find(|f| f.at.is_some() && f.at == event.at)
        .or(event.findings.first())?;
    let source = first
        .evidence
        .iter()
        .find(|e| e.supports && e.source.starts_with("log:"))
        .or(first.evidence.first())
        .map(|e| e.source.clone())
        .unwrap_or_default();
    // A restore that switched timelines: the lost writes are on the old timeline, after the
    // restore's target. Replay that timeline to its end.
    if first.kind == Kind::Restore && timeline_id.is_some_and(|t| t > 1) {
        let old = timeline_id.unwrap_or(2) - 1;
        return Some(Target {
            time: None,
            time_setting: None,
            lsn: None,
            inclusive: false,
            needs_lsn: false,
            timeline: old.to_string(),
            old_timeline: true,
            source,
            checked: false,
            check: format!(
                "the server now runs on timeline {}: the writes the restore lost are in timeline {old}'s WAL, so the copy replays timeline {old} to its end (no time target); the restore's own target cannot be checked from here",
                old + 1
            ),
        });
    }
    // The WAL names the loss's own COMMIT record: stopping just before it is exact, where a
    // time target rounds to a millisecond shared with other commits.
    let wal_tx = crate::analysis::wal_join::first_loss_transaction(event.findings.iter().copied());
    if let Some(tx) = wal_tx {
        let lsn = tx.commit_lsn.clone().unwrap_or_default();
        let at = tx.commit_at.or(event.at);
        return Some(Target {
            time: at,
            time_setting: at.map(target_time_text),
            lsn: Some(lsn.clone()),
            inclusive: false,
            needs_lsn: false,
            timeline: tx.timeline.to_string(),
            old_timeline: timeline_id.is_some_and(|now| now != i64::from(tx.timeline)),
            source: tx.source.clone(),
            checked: true,
            check: format!(
                "exact: replay stops just before the COMMIT record of xid {} at LSN {lsn} ({}) on timeline {}, so every transaction that committed before it is kept and nothing of the loss; recovery_target_xid = '{}' is the same target by transaction. A time target{} is the fallback: it may also drop other transactions that committed in the same millisecond",
                tx.xid,
                tx.source,
                tx.timeline,
                tx.xid,
                at.map(|t| format!(" ({})", target_time_text(t)))
                    .unwrap_or_default()
            ),
        });
    }
    let loss_at = event.at?;
    let cause = earliest_cause(facts, &event.findings, loss_at);
    let at = cause.map_or(loss_at, |c| c.at);
    let writes = [EventKind::BulkLoad, EventKind::Ddl, EventKind::UpdateAll];
    let mut last_writes = Vec::new();
    let mut unchecked = Vec::new();
    for t in &event.tables {
        let Some(i) = facts.resolve(t) else {
            unchecked.push(t.clone());
            continue;
        };
        let last = facts
            .events_for(i, &writes)
            .into_iter()
            .filter(|e| e.at < at && e.outcome != Some(TxOutcome::Aborted))
            .map(|e| (e.at, e.source.clone()))
            .max();
        match last {
            Some((w, src)) => last_writes.push(format!(
                "{t} last written at {} ({src})",
                w.format("%H:%M:%S%.3f")
            )),
            None => unchecked.push(t.clone()),
        }
    }
    let checked = facts.has_log() && unchecked.is_empty();
    let mut check = match cause {
        Some(c) => format!(
            "before `{}` at {} ({}), which caused the loss at {} ({source}): the copy keeps the dropped column's values too",
            c.text.trim(),
            at.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
            c.source,
            loss_at.format("%Y-%m-%d %H:%M:%S%.3f UTC")
        ),
        None => format!(
            "before the destructive statement at {} ({source})",
            at.format("%Y-%m-%d %H:%M:%S%.3f UTC")
        ),
    };
    if !last_writes.is_empty() {
        check.push_str(&format!(
            " and after the last logged write: {}",
            last_writes.join("; ")
        ));
    }
    if !unchecked.is_empty() {
        check.push_str(&format!(
            "; cannot be checked for {}: {}",
            unchecked.join(", "),
            if facts.has_log() {
                "the log shows no earlier write into it (plain INSERTs are not classified)"
            } else {
                "no log was given"
            }
        ));
    }
    let needs_lsn = event.findings.iter().any(|f| {
        f.statement.as_deref().is_some_and(|s| {
            let s = s.trim_start().to_ascii_uppercase();
            s.starts_with("DROP DATABASE") || s.starts_with("DROP TABLESPACE")
        })
    });
    Some(Target {
        time: Some(at),
        time_setting: Some(target_time_text(at)),
        lsn: None,
        inclusive: false,
        needs_lsn,
        timeline: "latest".into(),
        old_timeline: false,
        source,
        checked,
        check,
    })
}

/// `recovery_target_time` as PostgreSQL reads it (microseconds, UTC offset).
pub fn target_time_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

/// The postgresql.conf lines of a point-in-time recovery to `target`.
pub fn recovery_settings(target: &Target, restore_command: &str) -> Vec<String> {
    let mut lines = vec![format!(
        "restore_command = {}",
        quote_literal(restore_command)
    )];
    if let Some(lsn) = &target.lsn {
        lines.push(format!("recovery_target_lsn = {}", quote_literal(lsn)));
        lines.push(format!("recovery_target_inclusive = {}", target.inclusive));
        lines.push("recovery_target_action = 'pause'".into());
    } else if let Some(t) = target.time {
        lines.push(format!(
            "recovery_target_time = {}",
            quote_literal(&target_time_text(t))
        ));
        lines.push("recovery_target_inclusive = false".into());
        lines.push("recovery_target_action = 'pause'".into());
    }
    lines.push(format!(
        "recovery_target_timeline = {}",
        quote_literal(&target.timeline)
    ));
    lines
}

/// The live database the plans restore into, as a connection URL.
pub fn live_url(evidence: &Evidence) -> Option<String> {
    let s = &evidence.database.as_ref()?.server;
    Some(connection_url(&s.host, s.port, &s.database, &s.user))
}

/// The recovery plans, from the facts `analyze` derived (once: `Analysis::recovery` holds the
/// result, which `report` prints and `recover` rehearses).
pub fn plans_from(facts: &Facts, analysis: &Analysis) -> Vec<Plan> {
    let evidence = facts.evidence;
    let setting = |name: &str| {
        evidence
            .database
            .as_ref()
            .and_then(|d| d.settings.get(name))
            .map(String::as_str)
    };
    let archive_on = setting("archive_mode").is_some_and(|m| m == "on" || m == "always");
    let (archiver_name, restore_command) = if archive_on {
        archiver(setting("archive_command").unwrap_or(""))
    } else {
        ("none", None)
    };
    let provider = provider(evidence);
    let timeline_id = evidence
        .database
        .as_ref()
        .and_then(|d| d.server.timeline_id);
    let live = live_url(evidence);
    let baseline = evidence
        .inputs
        .iter()
        .find(|i| i.kind == "baseline")
        .map(|i| shell(&i.name));

    let mut out = Vec::new();
    for event in merge_covered(facts, events(analysis)) {
        let id = out.len() + 1;
        // An event holds at least the finding that made it.
        let Some(&first) = event.findings.first() else {
            continue;
        };
        let tables: Vec<PlanTable> = event
            .tables
            .iter()
            .map(|t| match facts.table(t) {
                Some(v) => PlanTable {
                    table: t.clone(),
                    expected_rows: v.expected,
                    // The rows the explaining finding says were lost (the Impact table's
                    // number): a committed DELETE leaves inserts − deletes = live, so
                    // "expected − live" would say 0 for it.
                    rows_expected_back: event
                        .findings
                        .iter()
                        .find(|f| analysis.explanation(t).map(|e| e.rank) == Some(f.rank))
                        .and_then(|f| crate::analysis::impact::rows_lost(v, f).0)
                        .or(v.expected.map(|_| v.missing())),
                    expected_from: v.expected_from.as_str(),
                },
                None => PlanTable {
                    table: t.clone(),
                    expected_rows: facts
                        .gone
                        .iter()
                        .find(|g| g.qualified_name() == *t)
                        .and_then(|g| g.n_live_tup),
                    rows_expected_back: facts
                        .gone
                        .iter()
                        .find(|g| g.qualified_name() == *t)
                        .and_then(|g| g.n_live_tup),
                    expected_from: "baseline",
                },
            })
            .collect();
        let rows_expected_back = tables
            .iter()
            .map(|t| t.rows_expected_back)
            .sum::<Option<i64>>();
        let target = target_for(facts, &event, timeline_id);
        // One clause per loss statement, earliest first (a merged plan has several).
        let mut by_time: Vec<&Finding> = event.findings.clone();
        by_time.sort_by_key(|f| (f.at, f.rank));
        by_time.dedup_by_key(|f| f.at);
        let mut clauses: Vec<String> = Vec::new();
        for f in by_time {
            let statement = f
                .statement
                .as_deref()
                .map(|s| format!("`{}`", s.trim()))
                .unwrap_or_else(|| f.kind.title().to_string());
            let clause = format!(
                "{statement}{}{}",
                f.at.or(event.at)
                    .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S%.3f UTC")))
                    .unwrap_or_default(),
                f.session
                    .as_ref()
                    .and_then(|s| s.user.as_ref().map(|u| format!(" by {u}")))
                    .unwrap_or_default()
            );
            if !clauses.contains(&clause) {
                clauses.push(clause);
            }
        }
        let event_text = clauses.join("; then ");

        let drops_database = event.findings.iter().any(|f| {
            f.statement.as_deref().is_some_and(|s| {
                s.trim_start()
                    .to_ascii_uppercase()
                    .starts_with("DROP DATABASE")
            })
        });
        let mut notes = Vec::new();
        let mut steps = Vec::new();
        let mut variables = vec![Variable {
            name: "EVIDENCE",
            meaning: "this evidence file (the one the report was made from)".into(),
        }];
        let out_dir = format!("recovered-plan-{id}");
        // An UNLOGGED table's rows are in no WAL and no base backup: a point-in-time recovery
        // brings it back empty, so only a logical dump can have them.
        let unlogged: Vec<&String> = event
            .tables
            .iter()
            .filter(|t| {
                facts
                    .table(t)
                    .is_some_and(|v| v.stats.persistence.as_deref() == Some("u"))
            })
            .collect();
        let all_unlogged = !unlogged.is_empty() && unlogged.len() == event.tables.len();
        if !unlogged.is_empty() {
            notes.push(format!(
                "{} {}: the rows are in neither the WAL, the WAL archive, a base backup nor a standby, so a point-in-time recovery brings {} back empty; only a logical dump (pg_dump copies unlogged tables' rows) or a copy the application keeps has them",
                unlogged.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", "),
                if unlogged.len() == 1 { "is UNLOGGED" } else { "are UNLOGGED" },
                if unlogged.len() == 1 { "it" } else { "them" }
            ));
        }
        let pitr_possible = archive_on && target.is_some() && !all_unlogged;
        let source = if pitr_possible
            && restore_command.is_some()
            && (archiver_name == "cp"
                || archiver_name == "pgbackrest"
                || (archiver_name == "barman"
                    && barman_server(setting("archive_command").unwrap_or("")).is_some()))
        {
            "pitr"
        } else {
            "dump"
        };
        if pitr_possible && let (Some(t), Some(rc)) = (&target, &restore_command) {
            {
                let since = t
                    .time
                    .map(|x| format!(" before {}", x.format("%Y-%m-%d %H:%M:%S UTC")))
                    .unwrap_or_default();
                variables.push(Variable {
                    name: "BASE_BACKUP",
                    meaning: format!(
                        "a plain-format base backup (pg_basebackup -Fp) of this cluster taken{since}{}",
                        if t.old_timeline {
                            format!(" on timeline {} (the old primary's)", t.timeline)
                        } else {
                            String::new()
                        }
                    ),
                });
                if archiver_name == "cp" {
                    let archive = if t.old_timeline {
                        // The lost writes are on the old timeline: its WAL is in the archive the
                        // old primary wrote, which need not be this server's.
                        variables.push(Variable {
                            name: "OLD_WAL_ARCHIVE",
                            meaning: format!(
                                "the WAL archive of timeline {} (the old primary's archive_command directory; this server archives into {})",
                                t.timeline,
                                wal_archive_dir(setting("archive_command").unwrap_or(""))
                                    .unwrap_or_default()
                            ),
                        });
                        "\"$OLD_WAL_ARCHIVE\"".to_string()
                    } else {
                        shell(
                            &wal_archive_dir(setting("archive_command").unwrap_or(""))
                                .unwrap_or_default(),
                        )
                    };
                    steps.push(Step {
                        title: "Rehearse the point-in-time recovery and extract the lost rows".into(),
                        why: "pgtriage starts a scratch PostgreSQL of the same major version on a copy of the base backup, with its own data directory, port and socket, replays the archive to the target (paused), copies the lost tables' rows out, then stops and removes it. The live server is never touched".into(),
                        language: "sh",
                        command: Some(format!(
                            "pgtriage recover \"$EVIDENCE\" --plan {id} --base-backup \"$BASE_BACKUP\" --wal-archive {archive} --out {out_dir}"
                        )),
                        tested: true,
                    });
                    if drops_database {
                        notes.push("DROP DATABASE marks the database invalid and removes its files before it commits, so a copy recovered by time alone has no database left: only `pgtriage recover` (which stops at the last commit before the drop, read from the archive with pg_waldump) is offered".into());
                    } else {
                        variables.push(Variable {
                        name: "PITR_DIR",
                        meaning: "a new, empty directory for the recovered copy's data (never the live data directory)".into(),
                    });
                        variables.push(Variable {
                            name: "PITR_PORT",
                            meaning: "a free port for the recovered copy".into(),
                        });
                        steps.push(Step {
                        title: "Or by hand: a recovered copy to inspect".into(),
                        why: "the same recovery, left running for you: a copy of the base backup in a new data directory on its own port, recovery.signal, restore_command from the server's archive_command, the target with recovery_target_inclusive = false and recovery_target_action = 'pause'. Run as the server's OS user with the server's bin directory on PATH. While paused, the startup process still holds the lock of the destructive transaction on the lost tables: reading them waits forever, so once replay has paused (pg_get_wal_replay_pause_state() = 'paused'), end recovery on this copy with SELECT pg_promote(); stop it with pg_ctl -D \"$PITR_DIR\" stop".into(),
                        language: "sh",
                        command: Some(manual_pitr(t, rc, evidence)),
                        // Run as printed by tests/recover_e2e.rs (a time target) and
                        // tests/recovery_commands.rs (an old timeline to its end).
                        tested: true,
                    });
                    }
                } else if archiver_name == "pgbackrest" {
                    variables.push(Variable {
                        name: "PITR_DIR",
                        meaning: "a new directory for the restored copy's data (never the live data directory); pgBackRest restores into it".into(),
                    });
                    steps.push(Step {
                        title: "Restore the backup with pgBackRest into a new directory".into(),
                        why: format!(
                            "the server archives with pgBackRest (archive_command names it): its own restore writes the latest backup before the target into $PITR_DIR with recovery.signal, restore_command = '{rc}' and the target (exclusive, paused). Run as the server's OS user. Started as it is, that copy recovers and pauses; the next step rehearses it instead"
                        ),
                        language: "sh",
                        command: Some(pgbackrest_restore(
                            &pgbackrest_options(setting("archive_command").unwrap_or("")),
                            t,
                        )),
                        tested: true,
                    });
                    steps.push(Step {
                        title: "Rehearse the point-in-time recovery and extract the lost rows".into(),
                        why: "pgtriage starts a scratch PostgreSQL on a copy of the restored directory, with its own port and socket, keeps pgBackRest's restore_command, replays to the plan's target (paused), copies the lost tables' rows out, then stops it. The live server is never touched".into(),
                        language: "sh",
                        command: Some(format!(
                            "pgtriage recover \"$EVIDENCE\" --plan {id} --base-backup \"$PITR_DIR\" --out {out_dir}"
                        )),
                        tested: true,
                    });
                } else if archiver_name == "barman"
                    && barman_server(setting("archive_command").unwrap_or("")).is_some()
                {
                    let (server, config) =
                        barman_server(setting("archive_command").unwrap_or("")).unwrap_or_default();
                    variables.push(Variable {
                        name: "BACKUP_ID",
                        meaning: format!("the id of the last Barman backup of {server} taken before the loss (`barman list-backups {server}` on the Barman server lists them)"),
                    });
                    variables.push(Variable {
                        name: "PITR_DIR",
                        meaning: "a new directory for the recovered copy's data (never the live data directory); Barman recovers into it".into(),
                    });
                    steps.push(Step {
                        title: "Recover the backup with Barman into a new directory".into(),
                        why: format!(
                            "the server archives with Barman (archive_command names barman-wal-archive): on the Barman server, as its user, barman recover copies backup $BACKUP_ID and the WAL up to the target into $PITR_DIR, with recovery.signal, a restore_command reading the copied WAL and the target (exclusive, paused). The next step rehearses that copy (the server's own restore_command would be '{rc}')"
                        ),
                        language: "sh",
                        command: Some(barman_recover(&server, config.as_deref(), t)),
                        // Run as printed by tests/recovery_barman.rs against a real Barman.
                        tested: true,
                    });
                    steps.push(Step {
                        title: "Rehearse the point-in-time recovery and extract the lost rows".into(),
                        why: "pgtriage starts a scratch PostgreSQL on a copy of the recovered directory, with its own port and socket, keeps Barman's restore_command, replays to the plan's target (paused), copies the lost tables' rows out, then stops it. The live server is never touched".into(),
                        language: "sh",
                        command: Some(format!(
                            "pgtriage recover \"$EVIDENCE\" --plan {id} --base-backup \"$PITR_DIR\" --out {out_dir}"
                        )),
                        tested: true,
                    });
                } else {
                    // No test here can run WAL-G (in no registry this project reaches): a
                    // documented step, no command. Nor a Barman archive_command naming no server.
                    steps.push(Step {
                        title: format!("Point-in-time recovery with {archiver_name}"),
                        why: native_restore_text(archiver_name, t, rc),
                        language: "text",
                        command: None,
                        tested: false,
                    });
                }
            }
        }
        if let (Some(p), Some(t), false) =
            (provider, target.as_ref().and_then(|t| t.time), all_unlogged)
        {
            if p == "rds" {
                variables.push(Variable {
                    name: "DB_INSTANCE",
                    meaning: "the RDS DB instance identifier of this server (aws rds describe-db-instances lists them)".into(),
                });
            }
            steps.push(Step {
                title: format!("Point-in-time restore on {}", provider_name(p)),
                why: provider_restore_text(p, t),
                language: if p == "rds" { "sh" } else { "text" },
                command: provider_command(p, t),
                // The aws command is parsed and validated by the real AWS CLI in
                // tests/recovery_tools.rs; gcloud and az are documented steps (no command).
                tested: p == "rds",
            });
        }
        variables.push(Variable {
            name: "DUMP",
            meaning: "a pg_dump -Fc of this database taken before the loss".into(),
        });
        steps.push(Step {
            title: if source == "pitr" {
                "Or from a dump taken before the loss".into()
            } else {
                "Extract the lost rows from a dump taken before the loss".into()
            },
            why: "pgtriage restores the dump's schema (pre-data) and then only the lost tables' data (pg_restore -n SCHEMA -t TABLE) into a scratch server and copies their rows out; rows written between the dump and the loss are not in it, and recover.json lists what is still missing".into(),
            language: "sh",
            command: Some(format!(
                "pgtriage recover \"$EVIDENCE\" --plan {id} --dump \"$DUMP\" --out {out_dir}"
            )),
            tested: true,
        });
        if let Some(url) = &live {
            steps.push(Step {
                title: "Put back only the missing rows".into(),
                why: format!(
                    "{out_dir}/restore.sql runs in one transaction, inserts a row only when its primary key (or, for a table without one, the whole row) is not there, never updates or deletes, and is safe to run twice. Read it first"
                ),
                language: "sh",
                command: Some(format!(
                    "psql {} -X -v ON_ERROR_STOP=1 -f {out_dir}/restore.sql",
                    shell(url)
                )),
                tested: true,
            });
            let baseline = baseline.clone().unwrap_or_else(|| {
                variables.push(Variable {
                    name: "BASELINE",
                    meaning: "an evidence file collected before the loss".into(),
                });
                "\"$BASELINE\"".into()
            });
            steps.push(Step {
                title: "Check that the rows are back".into(),
                why: "exit 0 when every table has at least its baseline rows; --exact counts the rows (n_live_tup restarts from zero after a restore and lags a bulk insert)".into(),
                language: "sh",
                command: Some(format!(
                    "pgtriage verify --exact --baseline {baseline} --db {}",
                    shell(url)
                )),
                tested: true,
            });
        }

        let cost = match (&target, source) {
            (Some(t), "pitr") if t.time.is_some() => format!(
                "the recovered copy stops before {}: every write after it (to any table) is not in the copy, so only the lost tables' missing rows are taken from it; rows changed after the target keep their live version",
                t.time.map(|x| x.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()).unwrap_or_default()
            ),
            (Some(t), "pitr") => format!(
                "the copy replays timeline {} to its end; rows the live server changed since keep their live version",
                t.timeline
            ),
            _ => "rows written between the dump and the loss are not in a dump: recover.json lists the tables still short".into(),
        };
        if !archive_on {
            notes.push(format!(
                "archive_mode = {}: no WAL archive, so point-in-time recovery is not possible; a dump from before the loss is the only copy",
                setting("archive_mode").unwrap_or("unknown")
            ));
        } else if target.is_none() {
            notes.push("the evidence does not pin when the rows were removed: no recovery target can be computed; give the log that covers the loss".into());
        }
        if archive_on && archiver_name == "none" {
            notes.push("archive_mode is on but archive_command is not in the evidence (not visible to the role, or archive_library is used): set restore_command for your archive by hand, with the target above".into());
        }
        if archive_on && archiver_name == "other" {
            notes.push(format!(
                "archive_command = {}: pgtriage cannot tell which tool archives; write the matching restore_command yourself",
                setting("archive_command").unwrap_or("")
            ));
        }
        if first.kind == Kind::Restore {
            if target.as_ref().is_some_and(|t| t.old_timeline) {
                notes.push("a restore or failover lost these rows: keep the old primary's data directory and its timeline's WAL until they are back — they are the only copy".into());
            } else {
                notes.push("a restore replaced the data with an older copy: the writes it lacks are in the WAL archive after the base backup — keep both until they are back".into());
            }
        }
        if event.findings.iter().any(|f| f.kind == Kind::DropRecreate) {
            notes.push("the table was dropped and re-created: restore.sql inserts into the new table, column by column as the old one had them (check that the new table still has those columns); where a row written since took an old row's key (a serial restarted at 1), the new row stays and the old one is skipped — psql's INSERT count shows how many came back".into());
        }
        out.push(Plan {
            id,
            event: event_text,
            kind: first.kind,
            findings: {
                let mut ranks: Vec<usize> = event.findings.iter().map(|f| f.rank).collect();
                ranks.sort_unstable();
                ranks
            },
            at: event.at,
            tables,
            rows_expected_back,
            target,
            source,
            archiver: archiver_name,
            provider,
            variables,
            steps,
            cost,
            notes,
        });
    }
    out
}

/// A complete hand-made point-in-time recovery into `$PITR_DIR` on `$PITR_PORT`.
fn manual_pitr(target: &Target, restore_command: &str, evidence: &Evidence) -> String {
    // The heredoc is unquoted so $PITR_DIR and $PITR_PORT expand; escape what else would.
    let conf_escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('$', "\\$")
            .replace('`', "\\`")
    };
    let mut lines = vec![
        "cp -a \"$BASE_BACKUP\" \"$PITR_DIR\"".to_string(),
        "chmod 0700 \"$PITR_DIR\"".into(),
        "rm -f \"$PITR_DIR/postmaster.pid\" \"$PITR_DIR/standby.signal\"".into(),
        "cat >> \"$PITR_DIR/postgresql.auto.conf\" <<EOF".into(),
        "port = $PITR_PORT".into(),
        "listen_addresses = ''".into(),
        "unix_socket_directories = '$PITR_DIR'".into(),
        "archive_mode = off".into(),
        "hot_standby = on".into(),
    ];
    // The old timeline's WAL is in the archive the user names: left for the shell to expand.
    let old_archive = target.old_timeline;
    lines.extend(recovery_settings(target, restore_command).iter().map(|l| {
        if old_archive && l.starts_with("restore_command") {
            "restore_command = 'cp \"$OLD_WAL_ARCHIVE/%f\" \"%p\"'".to_string()
        } else {
            conf_escape(l)
        }
    }));
    lines.push("EOF".into());
    lines.push("touch \"$PITR_DIR/recovery.signal\"".into());
    lines.push("pg_ctl -D \"$PITR_DIR\" -l \"$PITR_DIR/recovery.log\" -w -t 3600 start".into());
    let db = evidence
        .database
        .as_ref()
        .map(|d| d.server.database.clone())
        .unwrap_or_else(|| "postgres".into());
    let user = evidence
        .database
        .as_ref()
        .map(|d| d.server.user.clone())
        .unwrap_or_else(|| "postgres".into());
    lines.push(format!(
        "psql \"postgresql:///{}?host=$PITR_DIR&port=$PITR_PORT&user={}\" -X -c 'SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp()'",
        db.replace(['"', '$', '`', '\\'], ""),
        user.replace(['"', '$', '`', '\\'], "")
    ));
    lines.join("\n")
}

/// pgBackRest's own restore of the backup before the target into a new `$PITR_DIR`: the
/// commit LSN when the WAL named it (exclusive: stop just before the loss's COMMIT), else the
/// time; the timeline to follow; paused at the target.
fn pgbackrest_restore(options: &str, target: &Target) -> String {
    let goal = match (&target.lsn, target.time) {
        (Some(lsn), _) => format!(
            " --type=lsn --target={} --target-exclusive --target-action=pause",
            shell(lsn)
        ),
        (None, Some(t)) => format!(
            " --type=time --target={} --target-exclusive --target-action=pause",
            shell(&target_time_text(t))
        ),
        (None, None) => String::new(),
    };
    format!(
        "mkdir -m 0700 \"$PITR_DIR\"\npgbackrest {options} --pg1-path=\"$PITR_DIR\"{goal} --target-timeline={} restore",
        shell(&target.timeline)
    )
}

/// The Barman server name and the Barman configuration file (`--config=`/`-c`) an
/// `archive_command` of `barman-wal-archive [options] HOST SERVER %p` names.
fn barman_server(archive_command: &str) -> Option<(String, Option<String>)> {
    let words: Vec<&str> = archive_command
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
        .collect();
    let mut rest = words
        .iter()
        .skip_while(|w| !w.ends_with("barman-wal-archive"));
    rest.next()?;
    let mut config = None;
    let mut positional = Vec::new();
    while let Some(w) = rest.next() {
        if let Some(v) = w.strip_prefix("--config=") {
            config = Some(v.to_string());
        } else if *w == "-c" || *w == "--config" {
            config = rest.next().map(|v| v.to_string());
        } else if ["-U", "--user", "--port"].contains(w) {
            rest.next();
        } else if !w.starts_with('-') && *w != "%p" {
            positional.push(*w);
        }
    }
    match positional.as_slice() {
        [_host, server, ..] => Some((server.to_string(), config)),
        _ => None,
    }
}

/// Barman's own recovery of `$BACKUP_ID` into a new `$PITR_DIR`, run on the Barman server:
/// the commit LSN when the WAL named it (exclusive: stop just before the loss's COMMIT), else
/// the time; the timeline to follow; paused at the target.
fn barman_recover(server: &str, config: Option<&str>, target: &Target) -> String {
    let goal = match (&target.lsn, target.time) {
        (Some(lsn), _) => format!(" --target-lsn {} --exclusive", shell(lsn)),
        (None, Some(t)) => format!(" --target-time {} --exclusive", shell(&target_time_text(t))),
        (None, None) => String::new(),
    };
    let config = config
        .map(|c| format!(" --config {}", shell(c)))
        .unwrap_or_default();
    format!(
        "barman{config} recover{goal} --target-tli {} --target-action pause {} \"$BACKUP_ID\" \"$PITR_DIR\"",
        shell(&target.timeline),
        shell(server)
    )
}

/// What to do with a tool no test here can run, as text: the tool's own restore with the
/// target, then `pgtriage recover --base-backup` on the restored directory.
fn native_restore_text(archiver: &str, target: &Target, restore_command: &str) -> String {
    let time = target
        .time
        .map(target_time_text)
        .unwrap_or_else(|| format!("the end of timeline {}", target.timeline));
    let how = match archiver {
        "wal-g" => format!(
            "fetch the last base backup taken before {time} into a NEW data directory with WAL-G's backup-fetch (see https://github.com/wal-g/wal-g/blob/master/docs/PostgreSQL.md), create recovery.signal in it"
        ),
        _ => format!(
            "on the Barman server, recover the last backup taken before {time} into a NEW directory with `barman recover` and its --target-time, --exclusive and --target-action pause options (see https://docs.pgbarman.org/), which also writes recovery.signal"
        ),
    };
    format!(
        "the server archives with {archiver}: {how}, with restore_command = '{restore_command}'. Then run `pgtriage recover \"$EVIDENCE\" --plan N --base-backup DIR --out DIR` on that directory: it keeps the directory's restore_command and stops at this plan's target. pgtriage prints no {archiver} command: no test here can run {archiver}, so none is offered as runnable"
    )
}

/// The provider's name as people say it.
pub fn provider_name(p: &str) -> &'static str {
    match p {
        "rds" => "Amazon RDS / Aurora",
        "cloudsql" => "Google Cloud SQL",
        _ => "Azure Database for PostgreSQL",
    }
}

/// The provider's own point-in-time restore to a new instance, at the target: printed as a
/// command for RDS only, whose CLI (the AWS CLI, from PyPI) a test runs against a closed local
/// endpoint to prove it parses and validates; gcloud and az cannot be installed here.
fn provider_command(p: &str, t: DateTime<Utc>) -> Option<String> {
    let time = provider_time(t);
    (p == "rds").then(|| format!(
        "aws rds restore-db-instance-to-point-in-time --source-db-instance-identifier \"$DB_INSTANCE\" --target-db-instance-identifier \"$DB_INSTANCE-pitr\" --restore-time {time}"
    ))
}

fn provider_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Why (and, for the providers without a tested command, how) to restore on the provider.
fn provider_restore_text(p: &str, t: DateTime<Utc>) -> String {
    let time = provider_time(t);
    let copy = "copy the lost rows from the new instance (pgtriage recover --dump on a pg_dump -Fc of the lost tables taken from it)";
    match p {
        "rds" => format!(
            "a managed service restores to a NEW instance at a time ($DB_INSTANCE: the instance identifier); {copy}"
        ),
        "cloudsql" => format!(
            "a managed service restores to a NEW instance at a time: clone the instance to {time} (Cloud SQL's point-in-time recovery: `gcloud sql instances clone` with --point-in-time, see https://cloud.google.com/sql/docs/postgres/backup-recovery/pitr), then {copy}. No command is printed: the gcloud CLI cannot be installed here, so no test could run it"
        ),
        _ => format!(
            "a managed service restores to a NEW server at a time: restore the flexible server to {time} (`az postgres flexible-server restore` with --source-server and --restore-time, see https://learn.microsoft.com/azure/postgresql/flexible-server/how-to-restore-server-cli), then {copy}. No command is printed: the Azure CLI cannot be installed here, so no test could run it"
        ),
    }
}

/// Where the managed provider keeps the server log.
pub fn provider_logs(p: &str) -> &'static str {
    match p {
        "rds" => {
            "aws rds download-db-log-file-portion --db-instance-identifier \"$DB_INSTANCE\" --log-file-name error/postgresql.log.YYYY-MM-DD-HH --output text"
        }
        // Documented, not commands: neither CLI can be installed here to test one.
        "cloudsql" => {
            "Cloud SQL sends the log to Cloud Logging: export the entries of resource type cloudsql_database for the loss window (see https://cloud.google.com/sql/docs/postgres/logging)"
        }
        _ => {
            "Azure keeps the server logs of a flexible server as downloadable files once server logs are enabled (see https://learn.microsoft.com/azure/postgresql/flexible-server/how-to-configure-server-logs)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_commands_name_their_tool() {
        let (tool, rc) = archiver("test ! -f /mnt/arch/%f && cp %p /mnt/arch/%f");
        assert_eq!(tool, "cp");
        assert_eq!(rc.as_deref(), Some("cp /mnt/arch/%f %p"));
        let (tool, rc) = archiver("pgbackrest --stanza=prod archive-push %p");
        assert_eq!(tool, "pgbackrest");
        assert_eq!(
            rc.as_deref(),
            Some("pgbackrest --stanza=prod archive-get %f \"%p\"")
        );
        // The configuration and repository options come along; push-only ones do not.
        let (_, rc) = archiver(
            "pgbackrest --config=/etc/pgbackrest/db1.conf --archive-async --stanza=db1 --repo1-path=/r archive-push %p",
        );
        assert_eq!(
            rc.as_deref(),
            Some(
                "pgbackrest --config=/etc/pgbackrest/db1.conf --stanza=db1 --repo1-path=/r archive-get %f \"%p\""
            )
        );
        assert_eq!(
            pgbackrest_options("pgbackrest archive-push %p"),
            "--stanza=main"
        );
        assert_eq!(archiver("wal-g wal-push %p").0, "wal-g");
        let (tool, rc) = archiver("barman-wal-archive backup-host pg %p");
        assert_eq!(tool, "barman");
        assert_eq!(
            rc.as_deref(),
            Some("barman-wal-restore backup-host pg %f %p")
        );
        assert_eq!(archiver("/usr/local/bin/ship %p").0, "other");
        assert_eq!(archiver("").0, "none");
    }

    #[test]
    fn only_a_provider_command_a_test_runs_is_printed() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T16:07:02.485Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let rds = provider_command("rds", t).unwrap_or_default();
        assert!(
            rds.ends_with("--restore-time 2026-11-23T16:07:02.485Z"),
            "{rds}"
        );
        assert_eq!(provider_command("cloudsql", t), None);
        assert_eq!(provider_command("azure", t), None);
        for p in ["cloudsql", "azure"] {
            let why = provider_restore_text(p, t);
            assert!(
                why.contains("2026-11-23T16:07:02.485Z") && why.contains("https://"),
                "{why}"
            );
            assert!(why.contains("no test could run it"), "{why}");
        }
        let target = Target {
            time: Some(t),
            time_setting: None,
            lsn: None,
            inclusive: false,
            needs_lsn: false,
            timeline: "latest".into(),
            old_timeline: false,
            source: String::new(),
            checked: true,
            check: String::new(),
        };
        for tool in ["wal-g", "barman"] {
            let why = native_restore_text(tool, &target, "x");
            assert!(why.contains("2026-11-23 16:07:02.485000+00"), "{why}");
            assert!(why.contains("no test here can run"), "{why}");
        }
        let restore = pgbackrest_restore("--stanza=main", &target);
        assert!(
            restore.contains(
                "--type=time --target='2026-11-23 16:07:02.485000+00' --target-exclusive --target-action=pause --target-timeline=latest restore"
            ),
            "{restore}"
        );
    }

    #[test]
    fn barman_server_and_config_come_from_the_archive_command() {
        assert_eq!(
            barman_server("barman-wal-archive --port 2222 -U barman -c /etc/b.conf bk pg %p"),
            Some(("pg".into(), Some("/etc/b.conf".into())))
        );
        assert_eq!(
            barman_server("/usr/bin/barman-wal-archive --config=/x.conf bk main %p"),
            Some(("main".into(), Some("/x.conf".into())))
        );
        assert_eq!(barman_server("barman-wal-archive bk %p"), None);
        let t = Target {
            time: None,
            time_setting: None,
            lsn: Some("0/3000028".into()),
            inclusive: false,
            needs_lsn: false,
            timeline: "1".into(),
            old_timeline: false,
            source: String::new(),
            checked: true,
            check: String::new(),
        };
        assert_eq!(
            barman_recover("main", Some("/x.conf"), &t),
            "barman --config /x.conf recover --target-lsn 0/3000028 --exclusive --target-tli 1 --target-action pause main \"$BACKUP_ID\" \"$PITR_DIR\""
        );
    }

    #[test]
    fn targets_are_exclusive_and_pause() {
        let t = Target {
            time: Some(
                DateTime::parse_from_rfc3339("2026-11-23T16:07:02.485Z")
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_default(),
            ),
            time_setting: None,
            lsn: None,
            inclusive: false,
            needs_lsn: false,
            timeline: "latest".into(),
            old_timeline: false,
            source: String::new(),
            checked: true,
            check: String::new(),
        };
        let lines = recovery_settings(&t, "cp /a/%f %p");
        assert!(lines.contains(&"recovery_target_time = '2026-11-23 16:07:02.485000+00'".into()));
        assert!(lines.contains(&"recovery_target_inclusive = false".into()));
        assert!(lines.contains(&"recovery_target_action = 'pause'".into()));
        assert!(lines.contains(&"recovery_target_timeline = 'latest'".into()));
    }
}
