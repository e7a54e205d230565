//! The report as data: mapped from the analysis (which computed every value), serialised as the JSON
//! contract (`"format": "pgtriage-report/1"`) and rendered by the Markdown templates and the
//! terminal summary, so every output says the same thing. Deterministic: nothing here reads a
//! clock; every collection is sorted.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analysis::advice::{Action, Gap};
use crate::analysis::finding::{Finding, RuledOut};
use crate::analysis::scoring::Reason;
use crate::analysis::{Analysis, IncidentWindow, analyze_within};
use crate::evidence::{Evidence, Input};
// The view's rows are computed by `analysis`; their old paths keep working.
pub use crate::analysis::blast_radius::BlastRadius;
pub use crate::analysis::migration_runs::MigrationRow;
pub use crate::analysis::postmortem::{GanttInstant, GanttSection, KindCount, TimelineRow};
pub use crate::analysis::summary::Verification;
pub use crate::analysis::tables::TableRow;
pub use crate::analysis::timeline::TimelineEntry;

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
    /// What happened, in one line ("4 tables emptied by TRUNCATE; 143 rows deleted").
    pub title: String,
    /// Every table that lost rows, however removed, the total and the loss window.
    pub impact: crate::analysis::impact::Impact,
    pub summary: String,
    /// What happened, five to ten sentences, each citing.
    pub story: Vec<crate::analysis::narrative::Cited>,
    pub causes: crate::analysis::narrative::Causes,
    pub immediate_actions: Vec<Action>,
    pub tables: Vec<TableRow>,
    pub hypotheses: Vec<Finding>,
    pub ruled_out: Vec<RuledOut>,
    pub timeline: Vec<TimelineRow>,
    pub migrations: Vec<MigrationRow>,
    pub fk_blast_radius: Vec<BlastRadius>,
    /// Whether the blast radius bears on this incident (a cascade finding, an ON DELETE
    /// CASCADE key to or from a lost table): the Markdown shows it only then.
    pub fk_blast_radius_matters: bool,
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
    /// Follow-up work as checkboxes, each with a suggested owner role.
    pub action_items: Vec<crate::analysis::narrative::ActionItem>,
    /// Where we got lucky (`lucky: true`) and what made it harder.
    pub lessons: Vec<crate::analysis::narrative::Lesson>,
    /// `ruled_out` grouped per kind: one reason and the tables.
    pub ruled_out_groups: Vec<crate::analysis::narrative::RuledOutGroup>,
    /// Timeline events outside the story, counted per kind.
    pub routine_events: Vec<KindCount>,
    /// The timeline diagram: one section per finding the story links events to.
    pub gantt: Vec<GanttSection>,
    /// `--verify FILE`: what the verification after recovery passed and what still fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_verified: Option<crate::report::verified::RecoveryVerified>,
    /// `--redact`: `literals` (string and number literals replaced) or `all` (also hosts and
    /// users); absent when nothing was redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoringRow {
    pub reason: Reason,
    pub points: i32,
    pub meaning: &'static str,
}

/// Which timeline entries to keep: the incident window.
pub type Window = IncidentWindow;

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

/// Analyses the evidence (facts once) and maps the analysis to the report.
pub fn build(evidence: &Evidence, window: Window) -> Report {
    build_from(evidence, &analyze_within(evidence, &window))
}

/// The report of `analysis`: a mapping, no reasoning (that is `analysis`'s).
pub fn build_from(evidence: &Evidence, analysis: &Analysis) -> Report {
    let pm = &analysis.postmortem;
    let impact = pm.impact.clone().unwrap_or_else(|| {
        // An analysis made without its postmortem (never by `analyze`): the facts again.
        crate::analysis::impact::impact(&crate::analysis::facts::Facts::new(evidence), analysis)
    });
    Report {
        title: impact.title.clone(),
        impact,
        story: pm.story.clone(),
        causes: pm.causes.clone(),
        action_items: pm.action_items.clone(),
        lessons: pm.lessons.clone(),
        ruled_out_groups: pm.ruled_out_groups.clone(),
        routine_events: pm.routine_events.clone(),
        gantt: pm.gantt.clone(),
        recovery_verified: None,
        redacted: None,
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
        summary: analysis.summary.clone(),
        immediate_actions: analysis.advice.immediate_actions.clone(),
        tables: analysis.tables.clone(),
        hypotheses: analysis.findings.clone(),
        ruled_out: analysis.ruled_out.clone(),
        timeline: pm.timeline.clone(),
        migrations: analysis.migrations.clone(),
        fk_blast_radius: analysis.blast_radius.clone(),
        fk_blast_radius_matters: pm.blast_radius_matters,
        recovery: analysis.recovery.clone(),
        recovery_notes: analysis.advice.recovery.clone(),
        gaps: analysis.advice.gaps.clone(),
        prevention: analysis.advice.prevention.clone(),
        verification: analysis.verification.clone(),
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
    use crate::evidence::{EventKind, TxOutcome};

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
            // A finding that explains a table has its own heading; one that explains none is
            // one line of "Also fits".
            let heading = format!(
                "### #{} {} — confidence {:.2}",
                h["rank"],
                h["kind"].as_str().unwrap_or(""),
                h["confidence"].as_f64().unwrap_or(-1.0)
            );
            let line = format!(
                "#{} {} ({:.2})",
                h["rank"],
                h["kind"].as_str().unwrap_or(""),
                h["confidence"].as_f64().unwrap_or(-1.0)
            );
            assert!(
                md.contains(&heading) || md.contains(&line),
                "missing {heading}"
            );
        }
        // A flagged table is a row of the Impact table with its rows lost, or, when the Impact
        // table does not list it, a row of "Table counters" with its expected and live rows.
        let lost: Vec<&serde_json::Value> = json["impact"]["tables"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        for t in json["tables"].as_array().into_iter().flatten() {
            if t["status"] != "intact" {
                let name = format!(
                    "{}.{}",
                    t["schema"].as_str().unwrap_or(""),
                    t["name"].as_str().unwrap_or("")
                );
                let row = match lost.iter().find(|r| r["table"] == name.as_str()) {
                    Some(r) => format!(
                        "| `{name}` | {} | {} |",
                        r["removed_by"].as_str().unwrap_or(""),
                        r["rows_lost"]
                    ),
                    None => format!("| `{name}` | {} | {} |", t["expected_rows"], t["live_rows"]),
                };
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
        assert!(r.timeline.iter().all(|e| e.entry.at >= at(19, 0, 0)));
        assert!(
            r.timeline
                .iter()
                .any(|e| e.entry.source == "log:postgresql.log:900")
        );
    }
}
