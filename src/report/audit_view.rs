//! How an `audit` result reads: terminal tables and JSON. Renders a
//! `checks::audit::AuditReport`; decides nothing.

use crate::checks::audit::{AuditReport, Severity};
use crate::report::term::new_table;

/// `--format json`.
pub fn json(r: &AuditReport) -> String {
    let mut s =
        serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// `--format table`: findings (worst first) with their fixes, what passed, the blast radius.
pub fn terminal(r: &AuditReport) -> String {
    let mut out = String::new();
    if r.findings.is_empty() {
        out.push_str("No findings.\n");
    } else {
        let mut t = new_table(&["severity", "area", "subject", "value", "problem", "fix"]);
        for f in &r.findings {
            t.add_row(vec![
                f.severity.as_str().to_string(),
                f.category.clone(),
                f.subject.clone(),
                f.value.clone(),
                f.problem.clone(),
                f.fix.clone(),
            ]);
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    if !r.passed.is_empty() {
        out.push_str("\nPassed:\n");
        for p in &r.passed {
            out.push_str(&format!("  ok  {} = {}\n", p.subject, p.value));
        }
    }
    if !r.blast_radius.is_empty() {
        out.push('\n');
        let mut t = new_table(&["table", "DELETE cascades to", "TRUNCATE … CASCADE empties"]);
        for b in &r.blast_radius {
            t.add_row(vec![
                b.table.clone(),
                if b.delete_cascades_to.is_empty() {
                    "-".to_string()
                } else {
                    b.delete_cascades_to.join(", ")
                },
                b.truncate_cascade_empties.join(", "),
            ]);
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    for p in &r.problems {
        out.push_str(&format!("\nnot visible: {p}"));
    }
    if !r.problems.is_empty() {
        out.push('\n');
    }
    let count = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
    out.push_str(&format!(
        "\n{} high, {} medium, {} low{}\n",
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        if count(Severity::High) > 0 {
            ": FAIL (high-severity findings)"
        } else {
            ""
        }
    ));
    out
}
