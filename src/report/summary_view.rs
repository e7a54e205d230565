//! The terminal summary of `pgtriage report` (stdout is a TTY and no `-o`): the urgent actions,
//! the affected tables and the ranked hypotheses, in tables that fit the screen.

use crate::report::model::Report;
use crate::report::term::{bold, new_table};

fn opt(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "—".into())
}

pub fn render(report: &Report) -> String {
    // The postmortem's title and impact first, as in the Markdown.
    let mut out = format!("{}\n", report.title);
    let impact = &report.impact;
    for r in &impact.tables {
        out.push_str(&format!(
            "  {}: {} by {} ({})\n",
            r.table,
            r.rows_lost
                .map(|n| format!("{n} rows lost"))
                .unwrap_or_else(|| "rows lost not counted".into()),
            r.removed_by,
            if r.exact { "exact" } else { "estimated" }
        ));
    }
    if let Some(total) = impact.total_rows.filter(|_| impact.tables.len() > 1) {
        out.push_str(&format!(
            "  total: {total} rows ({})\n",
            if impact.total_exact {
                "exact"
            } else {
                "estimated"
            }
        ));
    }
    out.push('\n');
    if !report.immediate_actions.is_empty() {
        out.push_str(&bold("IMMEDIATE ACTIONS"));
        out.push('\n');
        for (i, a) in report.immediate_actions.iter().enumerate() {
            out.push_str(&format!("{}. {}: {}\n", i + 1, a.title, a.why));
            if let Some(c) = &a.command {
                out.push_str(&format!("   {c}\n"));
            }
        }
        out.push('\n');
    }
    out.push_str(&report.summary);
    out.push_str("\n\n");
    let shown: Vec<_> = report
        .tables
        .iter()
        .filter(|t| t.status != "intact")
        .collect();
    if !shown.is_empty() {
        let mut table = new_table(&[
            "table",
            "expected",
            "actual",
            "inserts",
            "deletes",
            "status",
            "explained by",
        ]);
        for t in shown {
            table.add_row(vec![
                format!("{}.{}", t.schema, t.name),
                opt(t.expected_rows),
                opt(t.live_rows),
                opt(t.inserts),
                opt(t.deletes),
                t.status.to_string(),
                match (t.explanation_rank, t.explanation) {
                    (Some(r), Some(k)) => format!("#{r} {}", k.as_str()),
                    _ => "—".into(),
                },
            ]);
        }
        out.push_str(&table.to_string());
        out.push_str("\n\n");
    }
    if !report.hypotheses.is_empty() {
        let mut table = new_table(&[
            "#",
            "kind",
            "confidence",
            "tables",
            "when (UTC)",
            "statement",
        ]);
        for h in report.hypotheses.iter().take(15) {
            let tables = match h.tables.get(..4) {
                Some(first) if h.tables.len() > 4 => {
                    format!("{} and {} more", first.join(", "), h.tables.len() - 4)
                }
                _ => h.tables.join(", "),
            };
            table.add_row(vec![
                h.rank.to_string(),
                format!(
                    "{}{}",
                    h.kind.as_str(),
                    if h.loss { "" } else { " (no loss)" }
                ),
                format!(
                    "{:.2}{}",
                    h.confidence,
                    if h.ties_with.is_empty() { "" } else { " (tie)" }
                ),
                tables,
                h.at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_else(|| "—".into()),
                h.statement.clone().unwrap_or_else(|| "—".into()),
            ]);
        }
        out.push_str(&table.to_string());
        out.push('\n');
    }
    out.push_str("\nFull report: pgtriage report … -o report.md (or --format json).\n");
    out.push_str(&top_recovery_step(report));
    out
}

/// The last lines: what to do first to get the rows back, so the summary ends on an action.
fn top_recovery_step(report: &Report) -> String {
    let Some((plan, step)) = report
        .recovery
        .iter()
        .find_map(|p| p.steps.first().map(|s| (p, s)))
    else {
        return if report.hypotheses.iter().any(|h| h.loss) {
            format!(
                "\n{} none pgtriage can run from this evidence; see the report's Recovery section.\n",
                bold("Top recovery step:")
            )
        } else {
            format!(
                "\n{} none needed: no rows were found lost.\n",
                bold("Top recovery step:")
            )
        };
    };
    let mut out = format!(
        "\n{} {} (plan {} for {})\n",
        bold("Top recovery step:"),
        step.title,
        plan.id,
        plan.event
    );
    for line in step.command.as_deref().unwrap_or(&step.why).lines() {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::analysis::fixtures::*;
    use crate::report::model::{Window, build};

    #[test]
    fn the_terminal_summary_shows_affected_tables_and_ranked_hypotheses() {
        let t = truncated(table("invoices", 16529, 1000), 16549, at(12, 9, 40));
        let ev = evidence(vec![t, table("users", 16400, 11)], vec![]);
        let text = super::render(&build(&ev, Window::default()));
        assert!(text.contains("public.invoices"));
        assert!(
            !text.contains("public.users"),
            "intact tables are not listed"
        );
        assert!(text.contains("#1 truncate"));
        assert!(text.starts_with(&format!("{}\n", build(&ev, Window::default()).title)));
        assert!(
            text.contains("public.invoices: 1000 rows lost by TRUNCATE (estimated)"),
            "{text}"
        );
        let tail = text
            .get(text.rfind("Full report:").expect("the closing lines")..)
            .expect("a char boundary");
        assert!(
            tail.contains("Top recovery step: ") && tail.contains("(plan 1 for "),
            "the summary ends with the top recovery step: {text}"
        );
        assert!(
            !text.contains('\u{1b}'),
            "no escape codes when not on a terminal"
        );
    }
}
