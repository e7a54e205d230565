//! The report's timeline: which events are worth showing (log events, migration commits, the
//! maintenance and catalog times of the tables the findings name, server start, statistics
//! resets, WAL loss transactions) and which are key (shown in the diagram). Filtered by the
//! incident window and sorted; nothing here reads a clock.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analysis::IncidentWindow;
use crate::analysis::facts::Facts;
use crate::analysis::finding::Finding;
use crate::evidence::EventKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub source: String,
    pub text: String,
    pub tables: Vec<String>,
    /// Shown in the diagram of key events.
    pub key: bool,
    /// For a log event: the session it ran in, its transaction's outcome and the log's DETAIL
    /// (a failed statement's text, a cascade's list); null for other sources.
    pub session: Option<crate::evidence::SessionInfo>,
    pub outcome: Option<crate::evidence::TxOutcome>,
    pub detail: Option<String>,
}

/// Log events that make a forensic timeline (the `timeline` command has the rest).
fn timeline_worthy(kind: EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Begin
            | EventKind::Commit
            | EventKind::Connection
            | EventKind::Disconnection
            | EventKind::Checkpoint
            | EventKind::Raw
            | EventKind::Other
    )
}

fn key_event(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Truncate
            | EventKind::DeleteAll
            | EventKind::Delete
            | EventKind::DropTable
            | EventKind::DropSchema
            | EventKind::DropType
            | EventKind::DropDatabase
            | EventKind::Crash
            | EventKind::CrashRecovery
            | EventKind::RecoveryStart
            | EventKind::RecoveryStop
            | EventKind::NewTimeline
            | EventKind::Promotion
            | EventKind::StatsReset
            | EventKind::ServerStart
    )
}

fn kind_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The timeline of `findings`: events they cite are key.
pub fn report_timeline(
    facts: &Facts,
    findings: &[Finding],
    window: &IncidentWindow,
) -> Vec<TimelineEntry> {
    let evidence = facts.evidence;
    let cited: BTreeSet<&str> = findings
        .iter()
        .flat_map(|f| f.evidence.iter().map(|e| e.source.as_str()))
        .collect();
    // Timeline: log events, migration commits, maintenance and catalog times of the tables
    // the findings name, server start and stats resets.
    let mut timeline = Vec::new();
    if let Some(tl) = &evidence.timeline {
        for e in tl.events.iter().filter(|e| timeline_worthy(e.kind)) {
            timeline.push(TimelineEntry {
                session: Some(e.session.clone()),
                outcome: e.outcome,
                detail: e.detail.clone(),
                at: e.at,
                kind: kind_name(&e.kind),
                source: e.source.clone(),
                text: e.text.clone(),
                tables: e.tables.clone(),
                key: key_event(e.kind) || cited.contains(e.source.as_str()),
            });
        }
    }
    if let Some(h) = &evidence.migrations {
        for op in &h.operations {
            timeline.push(TimelineEntry {
                session: None,
                outcome: None,
                detail: None,
                at: op.committed_at,
                kind: "migration_commit".into(),
                source: op.source.clone(),
                text: format!(
                    "{} committed by {}: `{}`{}",
                    op.path,
                    op.author,
                    op.statement,
                    if op.active { "" } else { " (inactive)" }
                ),
                tables: op.objects.clone(),
                key: op.active && cited.contains(op.source.as_str()),
            });
        }
    }
    let named: BTreeSet<&str> = findings
        .iter()
        .flat_map(|f| f.tables.iter().map(String::as_str))
        .collect();
    for t in facts
        .tables
        .iter()
        .filter(|t| named.contains(t.name.as_str()))
    {
        let s = t.stats;
        for (kind, at, col) in [
            ("vacuum", s.last_vacuum, "last_vacuum"),
            ("autovacuum", s.last_autovacuum, "last_autovacuum"),
            ("analyze", s.last_analyze, "last_analyze"),
            ("autoanalyze", s.last_autoanalyze, "last_autoanalyze"),
            (
                "catalog_change",
                s.catalog_commit_time,
                "catalog_commit_time",
            ),
        ] {
            if let Some(at) = at {
                let source = if col == "catalog_commit_time" {
                    t.cite_catalog(col)
                } else {
                    t.cite(col)
                };
                timeline.push(TimelineEntry {
                    session: None,
                    outcome: None,
                    detail: None,
                    at,
                    kind: kind.into(),
                    text: if kind == "catalog_change" {
                        format!(
                            "{}'s pg_class row committed (TRUNCATE, CREATE or rewrite)",
                            t.name
                        )
                    } else {
                        format!("last {kind} of {}", t.name)
                    },
                    key: kind == "catalog_change" && cited.contains(source.as_str()),
                    source,
                    tables: vec![t.name.clone()],
                });
            }
        }
    }
    if let Some(d) = &evidence.database {
        if let Some(at) = d.server.postmaster_start_time {
            timeline.push(TimelineEntry {
                session: None,
                outcome: None,
                detail: None,
                at,
                kind: "server_start".into(),
                source: "catalog:pg_postmaster_start_time".into(),
                text: "the running postmaster started".into(),
                tables: vec![],
                key: true,
            });
        }
        if let Some(at) = d.database_stats.as_ref().and_then(|s| s.stats_reset) {
            timeline.push(TimelineEntry {
                session: None,
                outcome: None,
                detail: None,
                at,
                kind: "stats_reset".into(),
                source: "stats:pg_stat_database.stats_reset".into(),
                text: "pg_stat_database.stats_reset: statistics reset by pg_stat_reset*()".into(),
                tables: vec![],
                key: true,
            });
        }
        if let Some(at) = d.bgwriter_stats_reset {
            timeline.push(TimelineEntry {
                session: None,
                outcome: None,
                detail: None,
                at,
                kind: "stats_reset".into(),
                source: "stats:pg_stat_bgwriter.stats_reset".into(),
                text: "pg_stat_bgwriter.stats_reset: initdb, crash recovery or archive recovery"
                    .into(),
                tables: vec![],
                key: false,
            });
        }
    }
    // WAL: every loss transaction on a known table, at its COMMIT/ABORT time, with its LSN.
    if let Some(wal) = crate::analysis::wal_join::WalContext::new(facts) {
        // Only those touching a table a finding names: an application's routine deletes stay out.
        for tx in wal
            .transactions()
            .filter(|tx| tx.rows.iter().any(|r| named.contains(r.table.as_str())))
        {
            let Some(at) = tx.commit_at else { continue };
            timeline.push(TimelineEntry {
                session: None,
                outcome: None,
                detail: None,
                at,
                kind: format!("wal_{}", tx.outcome.as_str()),
                text: format!(
                    "xid {} {} at LSN {}: {}",
                    tx.xid,
                    tx.outcome.as_str(),
                    tx.commit_lsn.as_deref().unwrap_or("?"),
                    crate::analysis::wal_join::describe(tx)
                ),
                tables: tx.rows.iter().map(|r| r.table.clone()).collect(),
                key: tx.outcome == crate::evidence::WalOutcome::Committed,
                source: tx.source.clone(),
            });
        }
    }
    timeline.retain(|e| window.contains(e.at));
    timeline.sort_by(|a, b| {
        (a.at, &a.source, &a.kind, &a.text).cmp(&(b.at, &b.source, &b.kind, &b.text))
    });

    timeline
}
