//! How a `verify` result reads: terminal tables, JSON, and the Markdown section `report` can
//! include (`markdown_section`). Renders a `checks::verify::VerifyReport`; decides nothing.

use crate::checks::verify::{CheckStatus, VerifyReport};
use crate::report::term::{count, new_table};

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn rows(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "?".to_string())
}

/// The headline: PASS, or FAIL with how many checks did not pass.
pub fn headline(r: &VerifyReport) -> String {
    if r.passed {
        format!(
            "PASS: {}, {}, {} checked against the baseline of {}",
            count(r.tables.len() as u64, "table"),
            count(r.foreign_keys.len() as u64, "foreign key"),
            count(r.sequences.len() as u64, "sequence"),
            r.baseline.taken_at.format("%Y-%m-%d %H:%M:%S UTC")
        )
    } else {
        format!(
            "FAIL: {} of {} did not pass (baseline of {})",
            r.failures,
            count(
                (r.tables.len() + r.foreign_keys.len() + r.sequences.len()) as u64,
                "check"
            ),
            r.baseline.taken_at.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

/// `--format json`.
pub fn json(r: &VerifyReport) -> String {
    let mut s =
        serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// `--format table`: the verdict, then one table per kind of check.
pub fn terminal(r: &VerifyReport) -> String {
    let mut out = String::new();
    for line in &r.verdict {
        out.push_str(&format!("* {line}\n"));
    }
    out.push('\n');
    let mut t = new_table(&[
        "status",
        "table",
        "baseline rows",
        "rows now",
        "from",
        "note",
    ]);
    for c in &r.tables {
        t.add_row(vec![
            c.status.as_str().to_string(),
            format!("{}.{}", c.schema, c.name),
            format!("{} ({})", rows(c.baseline_rows), c.baseline_source.as_str()),
            rows(c.rows),
            c.source.as_str().to_string(),
            c.note.clone(),
        ]);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    if !r.foreign_keys.is_empty() {
        out.push('\n');
        let mut t = new_table(&[
            "status",
            "foreign key",
            "child → parent",
            "orphans",
            "sample",
            "note",
        ]);
        for f in &r.foreign_keys {
            t.add_row(vec![
                f.status.as_str().to_string(),
                f.name.clone(),
                format!("{} → {}", f.child, f.parent),
                f.orphans
                    .map(|n| format!("{n}{}", if f.orphans_capped { "+" } else { "" }))
                    .unwrap_or_else(|| "?".into()),
                f.sample.join("; "),
                f.note.clone(),
            ]);
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    if !r.sequences.is_empty() {
        out.push('\n');
        let mut t = new_table(&[
            "status",
            "sequence",
            "column",
            "next value",
            "column max",
            "fix",
        ]);
        for s in &r.sequences {
            t.add_row(vec![
                s.status.as_str().to_string(),
                s.sequence.clone(),
                s.column.clone(),
                rows(s.next_value),
                rows(s.column_max),
                s.fix.clone().unwrap_or_else(|| s.note.clone()),
            ]);
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    if !r.new_tables.is_empty() {
        out.push_str(&format!(
            "\nNot in the baseline ({}): {}\n",
            r.new_tables.len(),
            r.new_tables.join(", ")
        ));
    }
    if let Some(e) = &r.exact_count {
        out.push_str(&format!(
            "\nExact counts: {} counted in {} ms of a {} ms budget",
            count(e.counted as u64, "table"),
            e.spent_ms,
            e.budget_ms
        ));
        if e.not_counted.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&format!(
                "; not counted ({}): {}\n",
                e.not_counted.len(),
                e.not_counted.join(", ")
            ));
        }
    }
    out.push_str(&format!("\n{}\n", headline(r)));
    out
}

/// The Markdown section for a postmortem: the verdict, what failed with its fix, and a count of
/// what passed. Self-contained (starts with its own `##` heading).
pub fn markdown_section(r: &VerifyReport) -> String {
    let mut md = String::from("## Verification against the baseline\n\n");
    md.push_str(&format!("**{}**\n\n", md_cell(&headline(r))));
    md.push_str(&format!(
        "Baseline: `{}` on {} at {}. Checked: `{}` on {} at {}. Row tolerance {}%.\n\n",
        r.baseline.database,
        r.baseline.server,
        r.baseline.taken_at.to_rfc3339(),
        r.current.database,
        r.current.server,
        r.current.taken_at.to_rfc3339(),
        r.tolerance_pct
    ));
    for line in &r.verdict {
        md.push_str(&format!("- {}\n", md_cell(line)));
    }
    md.push('\n');
    let failed_tables: Vec<_> = r
        .tables
        .iter()
        .filter(|t| t.status != CheckStatus::Pass)
        .collect();
    if !failed_tables.is_empty() {
        md.push_str("| status | table | baseline rows | rows now | from | note |\n|---|---|---|---|---|---|\n");
        for c in failed_tables {
            md.push_str(&format!(
                "| {} | `{}.{}` | {} ({}) | {} | {} | {} |\n",
                c.status.as_str(),
                c.schema,
                c.name,
                rows(c.baseline_rows),
                c.baseline_source.as_str(),
                rows(c.rows),
                c.source.as_str(),
                md_cell(&c.note)
            ));
        }
        md.push('\n');
    }
    let failed_fks: Vec<_> = r
        .foreign_keys
        .iter()
        .filter(|f| f.status != CheckStatus::Pass)
        .collect();
    if !failed_fks.is_empty() {
        md.push_str("| status | foreign key | child → parent | orphans | sample keys | note |\n|---|---|---|---|---|---|\n");
        for f in failed_fks {
            md.push_str(&format!(
                "| {} | `{}` | `{}` → `{}` | {} | {} | {} |\n",
                f.status.as_str(),
                f.name,
                f.child,
                f.parent,
                f.orphans
                    .map(|n| format!("{n}{}", if f.orphans_capped { "+" } else { "" }))
                    .unwrap_or_else(|| "?".into()),
                md_cell(&f.sample.join("; ")),
                md_cell(&f.note)
            ));
        }
        md.push('\n');
    }
    let failed_seqs: Vec<_> = r
        .sequences
        .iter()
        .filter(|s| s.status != CheckStatus::Pass)
        .collect();
    if !failed_seqs.is_empty() {
        md.push_str("Sequences behind their column (run the fix after checking it; pgtriage never does):\n\n");
        for s in failed_seqs {
            md.push_str(&format!(
                "- `{}` feeds `{}`: next value {}, column max {}. {}\n",
                s.sequence,
                s.column,
                rows(s.next_value),
                rows(s.column_max),
                s.fix
                    .as_ref()
                    .map(|f| format!("Fix: `{f}`"))
                    .unwrap_or_else(|| md_cell(&s.note))
            ));
        }
        md.push('\n');
    }
    let passed = |n: usize, of: usize, what: &str| format!("{n} of {of} {what}");
    md.push_str(&format!(
        "Passed: {}, {}, {}.\n",
        passed(
            r.tables
                .iter()
                .filter(|t| t.status == CheckStatus::Pass)
                .count(),
            r.tables.len(),
            "tables"
        ),
        passed(
            r.foreign_keys
                .iter()
                .filter(|t| t.status == CheckStatus::Pass)
                .count(),
            r.foreign_keys.len(),
            "foreign keys"
        ),
        passed(
            r.sequences
                .iter()
                .filter(|t| t.status == CheckStatus::Pass)
                .count(),
            r.sequences.len(),
            "sequences"
        ),
    ));
    if !r.new_tables.is_empty() {
        md.push_str(&format!(
            "\nTables not in the baseline: {}.\n",
            r.new_tables
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(e) = &r.exact_count {
        md.push_str(&format!(
            "\nExact counts: {} in {} ms of a {} ms budget{}.\n",
            count(e.counted as u64, "table"),
            e.spent_ms,
            e.budget_ms,
            if e.not_counted.is_empty() {
                String::new()
            } else {
                format!("; not counted: {}", md_cell(&e.not_counted.join(", ")))
            }
        ));
    }
    md
}
