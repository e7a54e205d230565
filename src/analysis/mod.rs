//! From evidence to everything the report says. Pure functions over `evidence::Evidence`: no
//! SQL, no files, no git. `analyze` derives the facts once, runs every hypothesis (one per file
//! under `hypotheses/`), consolidates and ranks the findings, then computes what the report
//! shows from them: the table of tables (`tables`), the timeline (`timeline`), the migration
//! cross-check (`migration_check`, `migration_runs`), the blast radius (`blast_radius`), the
//! summary (`summary`), advice and recovery plans. `report` renders an `Analysis` and computes
//! nothing.

pub mod advice;
pub mod blast_radius;
pub mod consolidate;
pub mod facts;
pub mod finding;
pub mod fk_graph;
pub mod hypotheses;
pub mod impact;
pub mod migration_check;
pub mod migration_runs;
pub mod narrative;
pub mod postmortem;
pub mod quote;
pub mod recovery;
pub mod scoring;
pub mod signatures;
pub mod status;
pub mod summary;
pub mod tables;
pub mod timeline;
pub mod wal_join;

#[cfg(test)]
pub mod fixtures;

use crate::evidence::Evidence;
pub use consolidate::IncidentWindow;
use facts::Facts;
use finding::{Finding, Kind, RuledOut};

/// Everything the analysis concludes from one evidence value: the ranked findings and what the
/// report shows about them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Analysis {
    /// Sorted by rank (1 first).
    pub findings: Vec<Finding>,
    /// Sorted by (kind, tables, reason).
    pub ruled_out: Vec<RuledOut>,
    /// Table → index of its explanation in `findings`.
    explanations: std::collections::HashMap<String, usize>,
    /// Every table now and every baseline table gone, sorted by name.
    pub tables: Vec<tables::TableRow>,
    /// `schema.name` of the tables that lost rows.
    pub affected: std::collections::BTreeSet<String>,
    /// The events worth showing, within the incident window, sorted.
    pub timeline: Vec<timeline::TimelineEntry>,
    /// The destructive migrations, what they touched and whether they ran.
    pub migrations: Vec<migration_runs::MigrationRow>,
    pub blast_radius: Vec<blast_radius::BlastRadius>,
    /// The opening paragraph.
    pub summary: String,
    pub advice: advice::Advice,
    /// One recovery plan per independent loss event.
    pub recovery: Vec<recovery::Plan>,
    pub verification: summary::Verification,
    /// The postmortem draft's impact, story and timeline links (`postmortem`).
    pub postmortem: postmortem::Postmortem,
}

impl Analysis {
    /// A table's explanation: the first finding, in rank order, that lists it.
    pub fn explanation(&self, table: &str) -> Option<&Finding> {
        self.explanations
            .get(table)
            .and_then(|i| self.findings.get(*i))
    }

    /// Whether `finding` is the explanation of at least one of its tables.
    pub fn explains_any(&self, finding: &Finding) -> bool {
        finding
            .tables
            .iter()
            .any(|t| self.explanation(t).map(|e| e.rank) == Some(finding.rank))
    }
}

/// Runs every hypothesis and ranks what they found, with no incident window given.
pub fn analyze(evidence: &Evidence) -> Analysis {
    analyze_within(evidence, &IncidentWindow::default())
}

/// Runs every hypothesis, consolidates what they found (`consolidate`: one finding per event,
/// contradictions rule out, losses outside `window` are not losses) and ranks it.
pub fn analyze_within(evidence: &Evidence, window: &IncidentWindow) -> Analysis {
    let evidence = facts::with_unseen_outcomes(evidence);
    let facts = Facts::new(&evidence);
    let mut analysis = rank_findings(&facts, window);
    analysis.tables = tables::table_rows(&facts, &analysis);
    analysis.affected = tables::affected(&analysis.tables);
    analysis.timeline = timeline::report_timeline(&facts, &analysis.findings, window);
    let named: std::collections::BTreeSet<&str> = analysis
        .findings
        .iter()
        .flat_map(|f| f.tables.iter().map(String::as_str))
        .collect();
    analysis.migrations = facts
        .migrations
        .as_ref()
        .map(|h| migration_runs::migration_rows(&facts, h, &analysis.affected, &named))
        .unwrap_or_default();
    analysis.blast_radius = blast_radius::blast_radius(&facts, &analysis.affected, &named);
    analysis.summary = summary::summarize(&facts, &analysis, &analysis.affected);
    analysis.advice = advice::advise(&facts, &analysis);
    analysis.recovery = recovery::plans_from(&facts, &analysis);
    analysis.verification = summary::verification(&facts);
    analysis.postmortem = postmortem::postmortem(&facts, &analysis);
    analysis
}

/// The findings: every hypothesis, judged against the WAL, consolidated and ranked.
fn rank_findings(facts: &Facts, window: &IncidentWindow) -> Analysis {
    let mut findings = Vec::new();
    let mut ruled_out = Vec::new();
    let wal = wal_join::WalContext::new(facts);
    for hypothesis in hypotheses::ALL {
        let verdict = (hypothesis.hypothesize)(facts);
        for f in verdict.findings {
            let f = match &wal {
                Some(w) => w.judge(f),
                None => f,
            };
            if f.confidence > 0.0 {
                findings.push(f);
            } else {
                // Scored to nothing: the evidence against it won. Say why.
                let against = f
                    .score
                    .iter()
                    .find(|s| s.points < 0)
                    .map(|s| (s.text.clone(), s.source.clone()))
                    .unwrap_or_else(|| ("no evidence supports it".into(), String::new()));
                ruled_out.push(RuledOut {
                    kind: f.kind,
                    tables: f.tables,
                    reason: against.0,
                    source: against.1,
                });
            }
        }
        ruled_out.extend(verdict.ruled_out);
    }
    if let Some(w) = &wal {
        let from_wal = w.unexplained(&findings, facts);
        findings.extend(from_wal.into_iter().filter(|f| f.confidence > 0.0));
    }
    let (mut findings, more_ruled_out) = consolidate::consolidate(facts, findings, window);
    ruled_out.extend(more_ruled_out);
    rank(&mut findings);
    consolidate::same_transaction(facts, &mut findings);
    // An explanation ruled out for a table another finding of the same kind explains is noise.
    let listed: std::collections::HashSet<(Kind, &str)> = findings
        .iter()
        .flat_map(|f| f.tables.iter().map(move |t| (f.kind, t.as_str())))
        .collect();
    ruled_out.retain(|r| {
        !r.tables
            .iter()
            .all(|t| listed.contains(&(r.kind, t.as_str())))
    });
    ruled_out.sort_by(|a, b| {
        (a.kind, &a.tables, &a.reason, &a.source).cmp(&(b.kind, &b.tables, &b.reason, &b.source))
    });
    ruled_out.dedup();
    let mut explanations = std::collections::HashMap::new();
    for (i, f) in findings.iter().enumerate() {
        for t in &f.tables {
            explanations.entry(t.clone()).or_insert(i);
        }
    }
    Analysis {
        findings,
        ruled_out,
        explanations,
        ..Analysis::default()
    }
}

/// Points first (the confidence is the same sum, clamped), then confidence; at equal points a finding that explains a loss before one that says
/// nothing was lost (the cautious reading), then kind and tables for a stable order. Findings
/// sharing a table at equal confidence are marked as ties: the report says both fit equally.
fn rank(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.points
            .cmp(&a.points)
            .then(b.confidence.total_cmp(&a.confidence))
            .then(b.loss.cmp(&a.loss))
            .then(kind_order(a.kind).cmp(&kind_order(b.kind)))
            .then(a.tables.cmp(&b.tables))
    });
    for (i, f) in findings.iter_mut().enumerate() {
        f.rank = i + 1;
    }
    // Ties: findings with equal points sharing a table. Per table: (index, points, rank) of
    // the findings listing it.
    let mut by_table: std::collections::HashMap<&str, Vec<(usize, i32, usize)>> =
        std::collections::HashMap::new();
    for (i, f) in findings.iter().enumerate() {
        for t in &f.tables {
            by_table
                .entry(t.as_str())
                .or_default()
                .push((i, f.points, f.rank));
        }
    }
    let ties: Vec<std::collections::BTreeSet<usize>> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            f.tables
                .iter()
                .filter_map(|t| by_table.get(t.as_str()))
                .flatten()
                .filter(|(j, points, _)| *j != i && *points == f.points)
                .map(|(_, _, rank)| *rank)
                .collect()
        })
        .collect();
    for (f, t) in findings.iter_mut().zip(ties) {
        f.ties_with = t.into_iter().collect();
    }
}

fn kind_order(kind: Kind) -> usize {
    Kind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::*;
    use crate::evidence::EventKind;

    /// Seed 002, done right: several tables, several causes at once.
    fn seed_002() -> Evidence {
        let when = at(18, 25, 0);
        let mut assets = deleted(table("assets", 17001, 81), 33);
        assets.n_live_tup = Some(0);
        assets.n_dead_tup = Some(0);
        let assets = truncated(assets, 17201, when);
        let data_imports = truncated(table("data_imports", 17002, 8), 17202, when);
        let raw = truncated(table("raw_import_records", 17003, 115), 17203, when);
        let mut discovery = deleted(table("discovery_flows", 17004, 8), 1);
        discovery = truncated(discovery, 17204, when);
        let users = table("users", 16400, 11);
        let tables = vec![assets, data_imports, discovery, raw, users];
        let fks = vec![
            fk("assets", "raw_import_records", "no_action"),
            fk("discovery_flows", "data_imports", "no_action"),
        ];
        let mut failed = event(
            EventKind::Delete,
            at(20, 27, 38),
            900,
            "DELETE FROM migration.collection_flows WHERE status \\!= 'completed';",
            &["migration.collection_flows"],
        );
        failed.outcome = Some(crate::evidence::TxOutcome::Aborted);
        with_log(evidence(tables, fks), vec![failed])
    }

    #[test]
    fn seed_002_wiped_tables_are_explained_by_truncate_first() {
        let ev = seed_002();
        let a = analyze(&ev);
        for t in [
            "public.assets",
            "public.data_imports",
            "public.raw_import_records",
            "public.discovery_flows",
        ] {
            let f = a.explanation(t).map(|f| f.kind);
            assert!(
                matches!(f, Some(Kind::Truncate) | Some(Kind::Cascade)),
                "{t}: {f:?}"
            );
        }
        assert!(a.explanation("public.users").is_none());
        assert!(
            a.findings
                .windows(2)
                .all(|w| w[0].confidence >= w[1].confidence)
        );
        assert!(
            a.ruled_out
                .iter()
                .any(|r| r.kind == Kind::Restore && r.reason.contains("no restore"))
        );
    }

    #[test]
    fn stats_loss_never_reads_as_data_loss() {
        let mut ev = evidence(
            vec![
                zeroed(table("parent", 16391, 1050)),
                zeroed(table("child_restrict", 16423, 700)),
            ],
            vec![],
        );
        if let Some(d) = ev.database.as_mut() {
            d.server.postmaster_start_time = Some(at(12, 13, 7));
            d.bgwriter_stats_reset = Some(at(12, 13, 9));
        }
        let a = analyze(&ev);
        assert_eq!(a.findings[0].kind, Kind::StatsReset);
        assert!(
            a.findings
                .iter()
                .all(|f| !f.loss || f.confidence < a.findings[0].confidence)
        );
    }

    #[test]
    fn same_evidence_same_analysis() {
        let ev = seed_002();
        assert_eq!(analyze(&ev), analyze(&ev));
    }
}
