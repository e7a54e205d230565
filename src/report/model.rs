//! The report as data: built once from the evidence and the analysis, serialised as the JSON
//! contract (`"format": "pgtriage-report/1"`) and rendered by the Markdown templates and the
//! terminal summary, so every output says the same thing. Deterministic: nothing here reads a
//! clock; every collection is sorted.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analysis::advice::{Action, Gap, advise};
use crate::analysis::facts::Facts;
use crate::analysis::finding::{Finding, Kind, RuledOut};
use crate::analysis::scoring::Reason;
use crate::analysis::{Analysis, IncidentWindow, analyze_within};
use crate::evidence::{EventKind, Evidence, Input};

pub const REPORT_FORMAT: &str = "pgtriage-report/1";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub tool_version: String,
    /// When the evidence was collected (not when the report was made: same evidence, same bytes).
    pub collected_at: DateTime<Utc>,
    pub database: Option<String>,
    /// How the database session was reached (TLS and what was checked, a pooler), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    pub summary: String,
    pub immediate_actions: Vec<Action>,
    pub tables: Vec<TableRow>,
    pub hypotheses: Vec<Finding>,
    pub ruled_out: Vec<RuledOut>,
    pub timeline: Vec<TimelineEntry>,
    pub migrations: Vec<MigrationRow>,
    pub fk_blast_radius: Vec<BlastRadius>,
    /// One recovery plan per independent loss event (see `analysis::recovery`).
    pub recovery: Vec<crate::analysis::recovery::Plan>,
    /// What to do for findings that lost no committed rows (re-run an import, ANALYZE).
    pub recovery_notes: Vec<Action>,
    pub gaps: Vec<Gap>,
    pub prevention: Vec<String>,
    pub verification: Verification,
    pub sources: Vec<Input>,
    pub scoring: Vec<ScoringRow>,
    /// Whether expected rows are exact (a baseline was given) or inferred from counters.
    pub expected_rows_from: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableRow {
    pub schema: String,
    pub name: String,
    pub inserts: Option<i64>,
    pub updates: Option<i64>,
    pub deletes: Option<i64>,
    pub live_rows: Option<i64>,
    pub dead_rows: Option<i64>,
    pub expected_rows: Option<i64>,
    /// `baseline` (exact), `counters` (inferred: inserts − deletes) or `none`.
    pub expected_from: &'static str,
    /// Expected − live, when positive.
    pub missing_rows: Option<i64>,
    /// `wiped`, `partial`, `intact`, `never_populated`, `unknown`.
    pub status: &'static str,
    /// When the table's counters restarted, if they did: its status reads "counters since T".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counters_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The kind of the first hypothesis, in rank order, that lists the table.
    pub explanation: Option<Kind>,
    pub explanation_rank: Option<usize>,
}

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationRow {
    pub kind: String,
    pub objects: Vec<String>,
    pub statement: String,
    pub source: String,
    pub path: String,
    pub commit: String,
    pub committed_at: DateTime<Utc>,
    pub author: String,
    pub active: bool,
    /// Tables it names that lost rows (or were dropped).
    pub affected_tables: Vec<String>,
    /// What the log or the tracking table says about it running.
    pub ran: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlastRadius {
    pub table: String,
    /// Tables a `DELETE` on it would reach through ON DELETE CASCADE (transitively).
    pub delete_cascades_to: Vec<String>,
    /// Tables `TRUNCATE … CASCADE` on it would empty (every referencing table, transitively).
    pub truncate_cascades_to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub command: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoringRow {
    pub reason: Reason,
    pub points: i32,
    pub meaning: &'static str,
}

/// Which timeline entries to keep.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Window {
    fn contains(&self, at: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| at >= s) && self.until.is_none_or(|u| at <= u)
    }
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

/// The session's security in one sentence: encrypted or not, what of the certificate was
/// checked, and a pooler between (the evidence keeps the fields).
fn connection_sentence(c: &crate::evidence::SessionSecurity) -> String {
    let mut text = if c.over_socket {
        "Unix-domain socket (local; TLS does not apply)".to_string()
    } else if c.encrypted {
        let how = [c.tls_version.as_deref(), c.tls_cipher.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        let checked = match c.certificate_checked.as_str() {
            "full" => "server certificate and host name verified",
            "ca" => "server certificate verified (host name not checked)",
            _ => "server certificate not checked",
        };
        let root = c
            .root_certificate
            .as_deref()
            .map(|r| format!(" against {r}"))
            .unwrap_or_default();
        if how.is_empty() {
            format!("TLS; {checked}{root} (sslmode={})", c.sslmode)
        } else {
            format!("TLS ({how}); {checked}{root} (sslmode={})", c.sslmode)
        }
    } else {
        format!("not encrypted (sslmode={})", c.sslmode)
    };
    if let Some(cert) = &c.client_certificate {
        text.push_str(&format!("; client certificate {cert}"));
    }
    if let Some(p) = &c.pooler {
        text.push_str(&format!("; through a pooler: {p}"));
    }
    text
}

pub fn build(evidence: &Evidence, window: Window) -> Report {
    let analysis = analyze_within(
        evidence,
        &IncidentWindow {
            since: window.since,
            until: window.until,
        },
    );
    build_from(evidence, &analysis, window)
}

pub fn build_from(evidence: &Evidence, analysis: &Analysis, window: Window) -> Report {
    let facts = Facts::new(evidence);
    let advice = advise(evidence, analysis);
    let cited: BTreeSet<&str> = analysis
        .findings
        .iter()
        .flat_map(|f| f.evidence.iter().map(|e| e.source.as_str()))
        .collect();

    let mut tables: Vec<TableRow> = facts
        .tables
        .iter()
        .map(|t| {
            let explanation = analysis.explanation(&t.name);
            TableRow {
                schema: t.stats.schema.clone(),
                name: t.stats.name.clone(),
                inserts: t.stats.n_tup_ins,
                updates: t.stats.n_tup_upd,
                deletes: t.stats.n_tup_del,
                live_rows: t.stats.n_live_tup,
                dead_rows: t.stats.n_dead_tup,
                expected_rows: t.expected,
                expected_from: t.expected_from.as_str(),
                missing_rows: t.expected.map(|_| t.missing()).filter(|m| *m > 0),
                status: t.status.as_str(),
                counters_since: evidence
                    .database
                    .as_ref()
                    .filter(|_| t.counters_restarted)
                    .and_then(crate::analysis::status::counters_since),
                explanation: explanation.map(|f| f.kind),
                explanation_rank: explanation.map(|f| f.rank),
            }
        })
        .collect();
    // Tables that are gone since the baseline.
    for t in &facts.gone {
        let name = t.qualified_name();
        let explanation = analysis.explanation(&name);
        tables.push(TableRow {
            schema: t.schema.clone(),
            name: t.name.clone(),
            inserts: None,
            updates: None,
            deletes: None,
            live_rows: None,
            dead_rows: None,
            expected_rows: t.n_live_tup,
            expected_from: "baseline",
            missing_rows: t.n_live_tup.filter(|n| *n > 0),
            status: "wiped",
            counters_since: None,
            explanation: explanation.map(|f| f.kind),
            explanation_rank: explanation.map(|f| f.rank),
        });
    }
    tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));

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
    let named: BTreeSet<&str> = analysis
        .findings
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
    if let Some(wal) = crate::analysis::wal_join::WalContext::new(&facts) {
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

    let affected: BTreeSet<String> = tables
        .iter()
        .filter(|t| t.status == "wiped" || t.status == "partial")
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();

    let migrations = evidence
        .migrations
        .iter()
        .flat_map(|h| h.operations.iter().map(move |op| (h, op)))
        .map(|(h, op)| {
            let affected_tables: Vec<String> = op
                .objects
                .iter()
                .filter_map(|o| {
                    let name = facts.table(o).map(|t| t.name.clone()).unwrap_or_else(|| {
                        if o.contains('.') {
                            o.to_lowercase()
                        } else {
                            format!("public.{}", o.to_lowercase())
                        }
                    });
                    (affected.contains(&name) || named.contains(name.as_str())).then_some(name)
                })
                .collect();
            let ran = crate::analysis::migration_runs::applied_for(h, &op.path).map(|a| {
                format!(
                    "recorded as applied in {}{}{}",
                    a.table,
                    a.applied_at
                        .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                        .unwrap_or_default(),
                    match a.success {
                        Some(false) => " (failed)",
                        _ => "",
                    }
                )
            });
            MigrationRow {
                kind: op.kind.clone(),
                objects: op.objects.clone(),
                statement: op.statement.clone(),
                source: op.source.clone(),
                path: op.path.clone(),
                commit: op.commit.clone(),
                committed_at: op.committed_at,
                author: op.author.clone(),
                active: op.active,
                affected_tables,
                ran,
                note: op.note.clone(),
            }
        })
        .collect();

    let fk_blast_radius = blast_radius(&facts, &affected, &named);

    let verification = {
        // A URL libpq and pgtriage both parse (a socket directory goes in the query string).
        let target = crate::analysis::recovery::live_url(evidence)
            .map(|u| format!(" --db {}", crate::analysis::quote::shell(&u)))
            .unwrap_or_default();
        let baseline = evidence
            .inputs
            .iter()
            .find(|i| i.kind == "baseline")
            .map(|i| crate::analysis::quote::shell(&i.name))
            .unwrap_or_else(|| "EVIDENCE-FROM-BEFORE-THE-LOSS.json".into());
        Verification {
            command: format!("pgtriage verify --baseline {baseline}{target}"),
            note: if evidence.baseline.is_some() {
                "after recovery: passes (exit 0) when every table has at least its baseline rows"
                    .into()
            } else {
                "no baseline was given: use an evidence file collected before the loss, or this evidence file once the data is back".into()
            },
        }
    };

    let summary = summarize(&facts, analysis, &affected);
    Report {
        format: REPORT_FORMAT,
        tool_version: evidence.tool_version.clone(),
        collected_at: evidence.collected_at,
        database: evidence.database.as_ref().map(|d| {
            format!(
                "{}@{}:{}/{}",
                d.server.user, d.server.host, d.server.port, d.server.database
            )
        }),
        connection: evidence.connection.as_ref().map(connection_sentence),
        summary,
        immediate_actions: advice.immediate_actions,
        tables,
        hypotheses: analysis.findings.clone(),
        ruled_out: analysis.ruled_out.clone(),
        timeline,
        migrations,
        fk_blast_radius,
        recovery: crate::analysis::recovery::plans(evidence, analysis),
        recovery_notes: advice.recovery,
        gaps: advice.gaps,
        prevention: advice.prevention,
        verification,
        sources: evidence.inputs.clone(),
        scoring: Reason::ALL
            .iter()
            .map(|r| ScoringRow {
                reason: *r,
                points: r.points(),
                meaning: r.meaning(),
            })
            .collect(),
        expected_rows_from: if evidence.baseline.is_some() {
            "baseline"
        } else {
            "counters"
        },
    }
}

/// The FK blast radius of the tables this incident touches: the same cascade reach `audit`
/// computes (`checks::audit::blast_radius_where`), for the affected and named tables, each FK
/// tree once from its top (a table inside a listed radius is part of it).
fn blast_radius(
    facts: &Facts,
    affected: &BTreeSet<String>,
    named: &BTreeSet<&str>,
) -> Vec<BlastRadius> {
    let wanted = |fk_name: &str| {
        facts
            .resolve(fk_name)
            .and_then(|i| facts.tables.get(i))
            .is_some_and(|t| affected.contains(&t.name) || named.contains(t.name.as_str()))
    };
    crate::checks::audit::blast_radius_where(facts.foreign_keys, wanted, true)
        .into_iter()
        .filter(|b| !b.truncate_cascade_empties.is_empty())
        .filter_map(|b| {
            let name = &facts.tables.get(facts.resolve(&b.table)?)?.name;
            Some(BlastRadius {
                table: name.clone(),
                delete_cascades_to: b.delete_cascades_to,
                truncate_cascades_to: b.truncate_cascade_empties,
            })
        })
        .collect()
}

fn summarize(facts: &Facts, analysis: &Analysis, affected: &BTreeSet<String>) -> String {
    let mut s = String::new();
    let total = facts.tables.len();
    let missing: i64 = facts.tables.iter().map(|t| t.missing()).sum();
    if facts.evidence.database.is_none() {
        s.push_str("No database snapshot was available, so row counts are unknown; this draft rests on the log and the migration history. ");
    } else if affected.is_empty() {
        s.push_str(&format!(
            "None of the {total} tables shows rows missing that no DELETE accounts for. "
        ));
    } else {
        s.push_str(&format!(
            "{} of {} tables lost rows ({} rows expected but not there{}). ",
            affected.len(),
            total,
            missing,
            if facts.evidence.baseline.is_some() {
                ", counted against the baseline"
            } else {
                ", inferred from inserts − deletes: no baseline was given"
            }
        ));
    }
    let explaining: Vec<&Finding> = analysis
        .findings
        .iter()
        .filter(|f| analysis.explains_any(f))
        .collect();
    for f in explaining.iter().take(3) {
        s.push_str(&format!(
            "#{} {} (confidence {:.2}){}: {}. ",
            f.rank,
            f.kind.as_str(),
            f.confidence,
            f.at.map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default(),
            f.summary
        ));
        if let Some(stmt) = &f.statement {
            let who = f.session.as_ref().map(|s| {
                format!(
                    " by {}@{}{}",
                    s.user.as_deref().unwrap_or("?"),
                    s.database.as_deref().unwrap_or("?"),
                    s.application
                        .as_ref()
                        .map(|a| format!(" ({a})"))
                        .unwrap_or_default()
                )
            });
            if f.session.as_ref().is_some_and(|s| s.user.is_some()) {
                s.push_str(&format!(
                    "The statement was `{}`{}. ",
                    stmt.trim(),
                    who.unwrap_or_default()
                ));
            } else {
                s.push_str(&format!("The log says `{}`. ", stmt.trim()));
            }
        }
    }
    let unexplained: Vec<String> = affected
        .iter()
        .filter(|t| analysis.explanation(t).is_none())
        .cloned()
        .collect();
    if !unexplained.is_empty() {
        s.push_str(&format!(
            "No hypothesis explains the missing rows of {}: see the forensic gaps. ",
            unexplained.join(", ")
        ));
    }
    if explaining.len() > 3 {
        s.push_str(&format!(
            "{} more explanations follow. ",
            explaining.len() - 3
        ));
    }
    let ties: Vec<&Finding> = analysis
        .findings
        .iter()
        .filter(|f| !f.ties_with.is_empty() && analysis.explains_any(f))
        .collect();
    if !ties.is_empty() {
        s.push_str("Some tables have two explanations that fit equally well (marked below): the evidence does not decide between them. ");
    }
    let not_lost: Vec<&str> = explaining
        .iter()
        .filter(|f| !f.loss)
        .map(|f| f.kind.as_str())
        .collect();
    if !not_lost.is_empty() {
        s.push_str(&format!(
            "Not a loss: {} — those tables did not lose committed rows. ",
            not_lost.join(", ")
        ));
    }
    if analysis.findings.is_empty() {
        s.push_str(
            "No hypothesis fits the evidence; see the forensic gaps for what could not be seen. ",
        );
    }
    s.trim_end().to_string()
}

impl Report {
    /// The JSON report: pretty-printed, fields in declaration order, trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::*;
    use crate::evidence::TxOutcome;

    /// Seed 002's numbers with the storage facts a real server would have shown.
    pub fn seed_002() -> Evidence {
        let when = at(18, 25, 0);
        let mut assets = deleted(table("assets", 17001, 81), 33);
        assets.n_live_tup = Some(0);
        assets.n_dead_tup = Some(0);
        let assets = truncated(assets, 17201, when);
        let data_imports = truncated(table("data_imports", 17002, 8), 17202, when);
        let raw = truncated(table("raw_import_records", 17003, 115), 17203, when);
        let mut collection = deleted(table("collection_flows", 17005, 143), 101);
        collection.n_live_tup = Some(2);
        let users = table("users", 16400, 11);
        let fks = vec![
            fk("assets", "raw_import_records", "no_action"),
            fk("collection_data_gaps", "collection_flows", "cascade"),
        ];
        let mut failed = event(
            EventKind::Delete,
            at(20, 27, 38),
            900,
            "DELETE FROM migration.collection_flows WHERE status \\!= 'completed';",
            &["collection_flows"],
        );
        failed.outcome = Some(TxOutcome::Aborted);
        let trunc = event(
            EventKind::Truncate,
            when,
            700,
            "TRUNCATE assets, data_imports, raw_import_records;",
            &["assets", "data_imports", "raw_import_records"],
        );
        let mut ev = with_log(
            evidence(vec![assets, collection, data_imports, raw, users], fks),
            vec![trunc, failed],
        );
        ev.inputs.push(Input {
            kind: "log".into(),
            name: "postgresql.log".into(),
            sha256: Some("ab".repeat(32)),
            bytes: Some(1234),
            revision: None,
        });
        ev
    }

    #[test]
    fn markdown_and_json_say_the_same() {
        let ev = seed_002();
        let report = build(&ev, Window::default());
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap_or_default();
        let md = match crate::report::markdown::render(&report, None) {
            Ok(md) => md,
            Err(e) => panic!("{e}"),
        };
        if let Ok(dir) = std::env::var("PGTRIAGE_DUMP") {
            let _ = std::fs::write(format!("{dir}/seed002.md"), &md);
            let _ = std::fs::write(format!("{dir}/seed002.json"), report.to_json());
        }
        assert_eq!(json["format"], "pgtriage-report/1");
        for h in json["hypotheses"].as_array().into_iter().flatten() {
            let heading = format!(
                "### {}. {} — confidence {:.2}",
                h["rank"],
                h["kind"].as_str().unwrap_or(""),
                h["confidence"].as_f64().unwrap_or(-1.0)
            );
            assert!(md.contains(&heading), "missing {heading}");
        }
        for t in json["tables"].as_array().into_iter().flatten() {
            if t["status"] != "intact" {
                let row = format!(
                    "| `{}.{}` | {} | {} |",
                    t["schema"].as_str().unwrap_or(""),
                    t["name"].as_str().unwrap_or(""),
                    t["expected_rows"],
                    t["live_rows"]
                );
                assert!(md.contains(&row), "missing {row}");
            }
        }
        let top = &json["hypotheses"][0];
        assert_eq!(top["kind"], "truncate");
        assert!(md.contains("TRUNCATE assets, data_imports, raw_import_records;"));
    }

    #[test]
    fn same_evidence_same_bytes() {
        let ev = seed_002();
        let a = build(&ev, Window::default());
        let b = build(&ev, Window::default());
        assert_eq!(a.to_json(), b.to_json());
        assert_eq!(
            crate::report::markdown::render(&a, None).ok(),
            crate::report::markdown::render(&b, None).ok()
        );
    }

    #[test]
    fn the_window_filters_the_timeline() {
        let ev = seed_002();
        let r = build(
            &ev,
            Window {
                since: Some(at(19, 0, 0)),
                until: None,
            },
        );
        assert!(r.timeline.iter().all(|e| e.at >= at(19, 0, 0)));
        assert!(
            r.timeline
                .iter()
                .any(|e| e.source == "log:postgresql.log:900")
        );
    }
}
