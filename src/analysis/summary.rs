//! The report's opening paragraph and the command that verifies a recovery, from the facts and
//! the ranked findings.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::analysis::Analysis;
use crate::analysis::facts::Facts;
use crate::analysis::finding::Finding;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Verification {
    pub command: String,
    pub note: String,
}

/// `pgtriage verify` against the baseline (or a placeholder for one), on the live database.
pub fn verification(facts: &Facts) -> Verification {
    let evidence = facts.evidence;
    {
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
    }
}

pub fn summarize(facts: &Facts, analysis: &Analysis, affected: &BTreeSet<String>) -> String {
    let mut s = String::new();
    let total = facts.tables.len();
    let missing: i64 = facts.tables.iter().map(|t| t.missing()).sum();
    // Tables whose counters restarted cannot be counted from them: say so, not "none missing".
    let uncounted = facts
        .tables
        .iter()
        .filter(|t| t.counters_restarted && !t.rows_counted)
        .count();
    if facts.evidence.database.is_none() {
        s.push_str("No database snapshot was available, so row counts are unknown; this draft rests on the log and the migration history. ");
    } else if affected.is_empty() && uncounted == total {
        // Said below: none of them can be counted.
    } else if affected.is_empty() && uncounted > 0 {
        s.push_str(&format!(
            "None of the other {} tables shows rows missing that no DELETE accounts for. ",
            total - uncounted
        ));
    } else if affected.is_empty() {
        s.push_str(&format!(
            "None of the {total} tables shows rows missing that no DELETE accounts for. "
        ));
    } else {
        s.push_str(&format!(
            "{} of {} tables lost rows ({} rows {}). ",
            affected.len(),
            total,
            missing,
            facts.expected_basis()
        ));
    }
    if uncounted > 0 {
        s.push_str(&format!(
            "{uncounted} of {total} tables cannot be counted from the statistics: their counters restarted{}; count(*) tells whether their rows are there. ",
            facts
                .cluster()
                .postmaster_start
                .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default()
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
