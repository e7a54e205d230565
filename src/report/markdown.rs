//! Markdown reports from minijinja templates. The defaults in `templates/` are embedded in the
//! binary; `--template FILE` replaces the main template, and any partial placed next to it
//! (`partials/NAME.md.j2`) replaces the embedded one of that name.

use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use minijinja::{Environment, Error, ErrorKind, TemplateSource, context};

use crate::error::UserError;
use crate::report::model::Report;

pub const MAIN_TEMPLATE: &str = "report.md.j2";

/// The embedded default templates, by the name templates include them with.
pub const DEFAULT_TEMPLATES: &[(&str, &str)] = &[
    ("report.md.j2", include_str!("../../templates/report.md.j2")),
    (
        "partials/immediate_actions.md.j2",
        include_str!("../../templates/partials/immediate_actions.md.j2"),
    ),
    (
        "partials/summary.md.j2",
        include_str!("../../templates/partials/summary.md.j2"),
    ),
    (
        "partials/tables.md.j2",
        include_str!("../../templates/partials/tables.md.j2"),
    ),
    (
        "partials/timeline.md.j2",
        include_str!("../../templates/partials/timeline.md.j2"),
    ),
    (
        "partials/hypotheses.md.j2",
        include_str!("../../templates/partials/hypotheses.md.j2"),
    ),
    (
        "partials/ruled_out.md.j2",
        include_str!("../../templates/partials/ruled_out.md.j2"),
    ),
    (
        "partials/migrations.md.j2",
        include_str!("../../templates/partials/migrations.md.j2"),
    ),
    (
        "partials/blast_radius.md.j2",
        include_str!("../../templates/partials/blast_radius.md.j2"),
    ),
    (
        "partials/recovery.md.j2",
        include_str!("../../templates/partials/recovery.md.j2"),
    ),
    (
        "partials/gaps.md.j2",
        include_str!("../../templates/partials/gaps.md.j2"),
    ),
    (
        "partials/prevention.md.j2",
        include_str!("../../templates/partials/prevention.md.j2"),
    ),
    (
        "partials/verification.md.j2",
        include_str!("../../templates/partials/verification.md.j2"),
    ),
    (
        "partials/impact.md.j2",
        include_str!("../../templates/partials/impact.md.j2"),
    ),
    (
        "partials/story.md.j2",
        include_str!("../../templates/partials/story.md.j2"),
    ),
    (
        "partials/recovery_verified.md.j2",
        include_str!("../../templates/partials/recovery_verified.md.j2"),
    ),
    (
        "partials/action_items.md.j2",
        include_str!("../../templates/partials/action_items.md.j2"),
    ),
    (
        "partials/lessons.md.j2",
        include_str!("../../templates/partials/lessons.md.j2"),
    ),
    (
        "partials/sources.md.j2",
        include_str!("../../templates/partials/sources.md.j2"),
    ),
];

fn embedded(name: &str) -> Option<&'static str> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
}

/// A table cell: no pipes or line breaks that would break the row, no HTML, no link.
fn cell(value: minijinja::Value) -> minijinja::Value {
    let s = if value.is_none() || value.is_undefined() {
        "—".to_string()
    } else {
        value.to_string()
    };
    minijinja::Value::from_safe_string(prose(&s.replace(['\n', '\r'], " ")).replace('|', "\\|"))
}

/// Inline code that survives backticks in the text (HTML is not read inside a code span, so
/// `<` stays as it is).
fn code(value: String) -> minijinja::Value {
    minijinja::Value::from_safe_string(code_span(&value))
}

fn code_span(value: &str) -> String {
    let text = value.replace(['\n', '\r'], " ");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    if longest == 0 {
        return format!("`{text}`");
    }
    let ticks = "`".repeat(longest + 1);
    format!("{ticks} {text} {ticks}")
}

/// Text outside code: a backslash, `<`, `[` and `]` escaped (no HTML, no link or image written
/// by a name), inline code spans the analysis wrote (`` `…` ``) kept as they are.
pub fn prose(text: &str) -> String {
    fn escape(out: &mut String, part: &str) {
        for c in part.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '<' => out.push_str("&lt;"),
                '[' => out.push_str("\\["),
                ']' => out.push_str("\\]"),
                '*' => out.push_str("\\*"),
                // Unpaired: it would pair with a backtick further on and swallow the text between.
                '`' => out.push_str("\\`"),
                _ => out.push(c),
            }
        }
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some((before, from_open)) =
        rest.find('`').and_then(|open| rest.split_at_checked(open))
    {
        let after = from_open.trim_start_matches('`');
        let fence = from_open
            .get(..from_open.len() - after.len())
            .unwrap_or_default();
        // A code span closes with a run of exactly as many backticks.
        let close = after.match_indices(fence).find_map(|(i, _)| {
            let (inside, closing) = after.split_at_checked(i)?;
            let tail = closing.get(fence.len()..)?;
            (!tail.starts_with('`') && !inside.ends_with('`')).then_some((inside, tail))
        });
        let Some((inside, tail)) = close else { break };
        escape(&mut out, before);
        out.push_str(fence);
        out.push_str(inside);
        out.push_str(fence);
        rest = tail;
    }
    escape(&mut out, rest);
    out
}

/// A whole fenced code block for a command: the fence is longer than any run of backticks in
/// the command (a name holding a fence cannot close it and write its own SQL), and every line
/// is indented like the first, so the block stays inside its list item.
fn fenced(value: String, lang: Option<String>, indent: Option<usize>) -> minijinja::Value {
    let longest = value.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let pad = " ".repeat(indent.unwrap_or(0));
    let mut out = format!("{fence}{}\n", lang.unwrap_or_default());
    for line in value.split('\n') {
        out.push_str(&pad);
        out.push_str(line.trim_end_matches('\r'));
        out.push('\n');
    }
    out.push_str(&pad);
    out.push_str(&fence);
    minijinja::Value::from_safe_string(out)
}

/// Every value printed outside a code block: one line, always. A name or statement with a line
/// break in it (a table may be called anything) cannot start a heading, a list, a table row or a
/// code fence of its own.
fn one_line(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &minijinja::Value,
) -> Result<(), Error> {
    match value.as_str() {
        Some(s) if !value.is_safe() => out
            .write_str(&prose(&s.replace("\r\n", " ").replace(['\n', '\r'], " ")))
            .map_err(|_| Error::new(ErrorKind::WriteFailure, "cannot write")),
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// A Mermaid gantt task name: the characters its grammar reads (`:` ends the name, `;` and `#`
/// start data and entities, a line break ends the task) written as Mermaid entity codes, so the
/// label says what the statement says; shortened to 70 characters.
fn mermaid(value: String) -> minijinja::Value {
    let one_line = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = if one_line.chars().count() > 70 {
        format!("{}…", one_line.chars().take(69).collect::<String>())
    } else {
        one_line
    };
    let mut out = String::with_capacity(short.len() + 16);
    for c in short.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ':' => out.push_str("#58;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '"' => out.push_str("#quot;"),
            '%' => out.push_str("#37;"),
            '`' => out.push_str("#96;"),
            _ => out.push(c),
        }
    }
    minijinja::Value::from_safe_string(out)
}

/// `2026-11-23T12:09:55.403Z` → `2026-11-23 12:09:55.403 UTC`.
fn utc(value: String) -> String {
    match chrono::DateTime::parse_from_rfc3339(&value) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S%.3f UTC")
            .to_string(),
        Err(_) => value,
    }
}

/// For a Mermaid `dateFormat YYYY-MM-DDTHH:mm:ss.SSS` (millisecond precision).
fn mermaid_time(value: String) -> String {
    match chrono::DateTime::parse_from_rfc3339(&value) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.3f")
            .to_string(),
        Err(_) => value,
    }
}

/// `stats_signature +35`.
fn score_line(line: minijinja::Value) -> String {
    let reason = line
        .get_attr("reason")
        .map(|v| v.to_string())
        .unwrap_or_default();
    let points = line
        .get_attr("points")
        .ok()
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(0);
    format!("{reason} {points:+}")
}

fn lines(value: String) -> Vec<String> {
    value.lines().map(str::to_string).collect()
}

/// A finding's evidence as the Markdown lists it, every fact kept and each said once:
///
/// - the same fact about several tables is one line naming them all, the numbers that differ
///   written per table in the order named (`48/8/7/115`), cited by its first source and how
///   many more (each is in the JSON's `evidence[]`);
/// - facts in a row from one source (a statement and "its transaction committed") are one line.
///
/// `evidence` is `hypotheses[].evidence` (`supports`, `text`, `source`), `tables` the finding's
/// tables. Returns `supports`, `text`, `source` and `more` (further sources) per line.
fn evidence_lines(evidence: minijinja::Value, tables: minijinja::Value) -> minijinja::Value {
    #[derive(serde::Deserialize)]
    struct Fact {
        supports: bool,
        text: String,
        source: String,
    }
    #[derive(serde::Serialize)]
    struct Line {
        supports: bool,
        text: String,
        source: String,
        more: usize,
    }
    let facts: Vec<Fact> = serde_json::to_value(&evidence)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let tables: Vec<String> = serde_json::to_value(&tables)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    // `table: fact` → (table, fact) when the table is one of the finding's.
    let split = |text: &str| -> Option<(String, String)> {
        let (table, rest) = text.split_once(": ")?;
        tables
            .iter()
            .any(|t| t == table)
            .then(|| (table.to_string(), rest.to_string()))
    };
    // Groups of per-table facts with one shape (digits aside), in first-seen order.
    struct Group {
        supports: bool,
        shape: (String, String),
        tables: Vec<String>,
        texts: Vec<String>,
        sources: Vec<String>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for f in &facts {
        let Some((table, rest)) = split(&f.text) else {
            groups.push(Group {
                supports: f.supports,
                shape: (String::new(), String::new()),
                tables: Vec::new(),
                texts: vec![f.text.clone()],
                sources: vec![f.source.clone()],
            });
            continue;
        };
        let shape = (skeleton(&rest), f.source.replace(&table, "\u{0}"));
        match groups
            .iter_mut()
            .find(|g| !g.tables.is_empty() && g.supports == f.supports && g.shape == shape)
        {
            Some(g) if !g.tables.contains(&table) => {
                g.tables.push(table);
                g.texts.push(rest);
                g.sources.push(f.source.clone());
            }
            _ => groups.push(Group {
                supports: f.supports,
                shape,
                tables: vec![table],
                texts: vec![rest],
                sources: vec![f.source.clone()],
            }),
        }
    }
    let mut lines: Vec<Line> = Vec::new();
    for g in groups {
        let text = if g.tables.is_empty() {
            g.texts.concat()
        } else {
            format!("{}: {}", g.tables.join(", "), merge_numbers(&g.texts))
        };
        let source = g.sources.first().cloned().unwrap_or_default();
        let more = g.sources.len().saturating_sub(1);
        match lines.last_mut() {
            Some(last)
                if more == 0
                    && last.more == 0
                    && last.source == source
                    && last.supports == g.supports =>
            {
                last.text = format!("{}; {text}", last.text);
            }
            _ => lines.push(Line {
                supports: g.supports,
                text,
                source,
                more,
            }),
        }
    }
    // Statements alone in a row, from one kind of source (a migration's logged DROP TABLEs):
    // one line listing them, cited by the first and how many more. A statement with more said
    // about it (`; its transaction committed`) keeps its own line.
    let mut joined: Vec<Line> = Vec::new();
    for line in lines {
        match joined.last_mut() {
            Some(last)
                if is_statement(&last.text)
                    && is_statement(&line.text)
                    && last.supports == line.supports
                    && source_kind(&last.source) == source_kind(&line.source) =>
            {
                last.text = format!("{}, {}", last.text, line.text);
                last.more += 1 + line.more;
            }
            _ => joined.push(line),
        }
    }
    minijinja::Value::from(Serde(&joined))
}

/// A fact that is one SQL statement that writes or changes a table and nothing else
/// (`` `DROP TABLE a` ``), or a list of them; a quoted log message or a `ROLLBACK` is not.
fn is_statement(text: &str) -> bool {
    const WRITES: [&str; 7] = [
        "DROP", "DELETE", "TRUNCATE", "ALTER", "UPDATE", "INSERT", "CREATE",
    ];
    let parts: Vec<&str> = text.split('`').collect();
    parts.len() >= 3
        && parts.len() % 2 == 1
        && parts.iter().enumerate().all(|(i, part)| {
            if i % 2 == 0 {
                let (first, last) = (i == 0, i + 1 == parts.len());
                if first || last {
                    part.is_empty()
                } else {
                    *part == ", "
                }
            } else {
                let word = part.split_whitespace().next().unwrap_or_default();
                WRITES.iter().any(|w| word.eq_ignore_ascii_case(w))
            }
        })
}

/// `log` of `log:postgresql.log:175`: which kind of source a citation is.
fn source_kind(source: &str) -> &str {
    source.split(':').next().unwrap_or_default()
}

/// The story timeline's rows, with one migration commit's operations (same file, same commit,
/// same time) on one row: `path committed by author: `op1`, `op2`…`, the findings of all of
/// them, cited by the first operation's line and how many more (each is in the JSON's
/// `timeline[]`). Every other row is kept as it is, with `more` 0.
fn story_rows(rows: minijinja::Value) -> minijinja::Value {
    use serde_json::{Map, Value};
    let rows: Vec<Value> = serde_json::to_value(&rows)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let str_of = |r: &Map<String, Value>, key: &str| {
        r.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut out: Vec<Map<String, Value>> = Vec::new();
    for mut row in rows.into_iter().filter_map(|r| match r {
        Value::Object(map) => Some(map),
        _ => None,
    }) {
        row.insert("more".into(), Value::from(0));
        let merged = out.last_mut().and_then(|last| {
            let (kind, at) = (row.get("kind"), row.get("at"));
            if kind.and_then(Value::as_str) != Some("migration_commit")
                || last.get("kind") != kind
                || last.get("at") != at
            {
                return None;
            }
            let text = str_of(&row, "text");
            let (head, op) = text.split_once(": ")?;
            let last_text = str_of(last, "text");
            if !last_text.starts_with(&format!("{head}: ")) {
                return None;
            }
            let mut findings: Vec<u64> = [last.get("findings"), row.get("findings")]
                .into_iter()
                .flatten()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_u64)
                .collect();
            findings.sort_unstable();
            findings.dedup();
            let more = last.get("more").and_then(Value::as_u64).unwrap_or(0) + 1;
            last.insert("text".into(), Value::from(format!("{last_text}, {op}")));
            last.insert("findings".into(), Value::from(findings));
            last.insert("more".into(), Value::from(more));
            Some(())
        });
        let merged = merged.or_else(|| {
            let last = out.last_mut()?;
            same_statement_run(last, &row).then(|| {
                let text = format!("{}; {}", str_of(last, "text"), str_of(&row, "text"));
                let more = last.get("more").and_then(Value::as_u64).unwrap_or(0) + 1;
                last.insert("text".into(), Value::from(text));
                last.insert("more".into(), Value::from(more));
                last.insert(
                    "until".into(),
                    row.get("at").cloned().unwrap_or(Value::Null),
                );
            })
        });
        if merged.is_none() {
            out.push(row);
        }
    }
    for row in &mut out {
        row.remove("until");
    }
    minijinja::Value::from(Serde(&out))
}

/// Whether a story row continues the row before it as one run of statements: logged
/// statements of one kind (DROP TABLE, CREATE TABLE, DELETE…, not errors, each with its own
/// message), from one session, with one outcome, supporting the same findings, each within a
/// second of the one before — a migration's five DROP TABLEs, a script's re-creations.
fn same_statement_run(
    last: &serde_json::Map<String, serde_json::Value>,
    row: &serde_json::Map<String, serde_json::Value>,
) -> bool {
    use serde_json::Value;
    let text = |r: &serde_json::Map<String, Value>, key: &str| {
        r.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let kind = text(row, "kind");
    let statement = kind == "ddl"
        || kind == "bulk_load"
        || crate::evidence::EventKind::is_destructive_name(&kind);
    let time = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    let close = match (
        time(last.get("until").or(last.get("at"))),
        time(row.get("at")),
    ) {
        (Some(a), Some(b)) => (0..1000).contains(&(b - a).num_milliseconds()),
        _ => false,
    };
    let findings = row.get("findings").and_then(Value::as_array);
    statement
        && close
        && text(last, "kind") == kind
        && text(last, "source").starts_with("log:")
        && text(row, "source").starts_with("log:")
        && findings.is_some_and(|f| !f.is_empty())
        && last.get("findings").and_then(Value::as_array) == findings
        && last.get("session").is_some_and(|s| !s.is_null())
        && last.get("session") == row.get("session")
        && last.get("outcome") == row.get("outcome")
}

/// What part of the database's life a routine timeline event belongs to: the collapsed
/// routine block is one line per part, not per kind, so eleven kinds of setup noise read as
/// five lines.
fn routine_group(kind: &str) -> &'static str {
    match kind {
        "server_start"
        | "ready_to_accept_connections"
        | "shutdown_request"
        | "server_shutdown"
        | "crash"
        | "crash_recovery"
        | "recovery_start"
        | "recovery_stop"
        | "last_completed_transaction"
        | "new_timeline"
        | "promotion"
        | "stats_reset"
        | "checkpoint" => "server life",
        "ddl" | "catalog_change" | "migration_commit" => "schema",
        "vacuum" | "analyze" | "autovacuum" | "autoanalyze" => "maintenance",
        "connection" | "disconnection" | "tool_session" | "audit" => "sessions",
        k if crate::evidence::EventKind::is_destructive_name(k)
            || k.starts_with("wal_")
            || matches!(
                k,
                "bulk_load" | "migration_bookkeeping" | "begin" | "commit" | "rollback"
            ) =>
        {
            if k.starts_with("drop_") {
                "schema"
            } else {
                "writes"
            }
        }
        _ => "other",
    }
}

/// The routine (non-story) timeline rows as the collapsed block lists them: one group per
/// part of the database's life (`routine_group`), in the order of its first event, with its
/// first and last time and every event's text and citation. Each event is in the JSON.
fn routine_groups(rows: minijinja::Value) -> minijinja::Value {
    use serde_json::{Map, Value};
    let rows: Vec<Map<String, Value>> = serde_json::to_value(&rows)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut groups: Vec<Map<String, Value>> = Vec::new();
    for row in rows {
        let kind = row.get("kind").and_then(Value::as_str).unwrap_or_default();
        let name = routine_group(kind);
        let at = row.get("at").cloned().unwrap_or(Value::Null);
        if !groups
            .iter()
            .any(|g| g.get("group").and_then(Value::as_str) == Some(name))
        {
            let mut g = Map::new();
            g.insert("group".into(), Value::from(name));
            g.insert("first".into(), at.clone());
            g.insert("events".into(), Value::Array(Vec::new()));
            groups.push(g);
        }
        let Some(g) = groups
            .iter_mut()
            .find(|g| g.get("group").and_then(Value::as_str) == Some(name))
        else {
            continue;
        };
        g.insert("last".into(), at);
        if let Some(Value::Array(events)) = g.get_mut("events") {
            events.push(Value::Object(row));
        }
    }
    minijinja::Value::from(Serde(&groups))
}

/// The report's migration rows (`migrations[]`, one per destructive operation) as the Markdown
/// tells them: one row per migration file version (same path, commit, active or not), with its
/// operations' kinds, statements and lost tables together; an operation that would not run (a
/// down migration, a comment) and names no lost table is only counted (`hidden`: it cannot bear
/// on the loss, and each is in the JSON). Returns `{groups, hidden}`. `contributing` is
/// `causes.contributing`: a group a factor cites (by source or in its text) gets `told`, that
/// factor's index, and is said there instead of in the cross-check.
fn migration_groups(rows: minijinja::Value, contributing: minijinja::Value) -> minijinja::Value {
    use serde_json::{Map, Value};
    let list = |v: &minijinja::Value| -> Vec<Map<String, Value>> {
        serde_json::to_value(v)
            .ok()
            .and_then(|v| serde_json::from_value::<Vec<Value>>(v).ok())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| match r {
                Value::Object(map) => Some(map),
                _ => None,
            })
            .collect()
    };
    let str_of = |r: &Map<String, Value>, key: &str| {
        r.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let strs_of = |r: &Map<String, Value>, key: &str| -> Vec<String> {
        r.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let factors = list(&contributing);
    let mut groups: Vec<Map<String, Value>> = Vec::new();
    let mut hidden = 0usize;
    for row in list(&rows) {
        let active = row.get("active").and_then(Value::as_bool).unwrap_or(true);
        let tables = strs_of(&row, "affected_tables");
        if !active && tables.is_empty() {
            hidden += 1;
            continue;
        }
        let key = |r: &Map<String, Value>| {
            (
                str_of(r, "path"),
                str_of(r, "commit"),
                r.get("active").cloned(),
                str_of(r, "note"),
            )
        };
        let (kind, statement, source, ran) = (
            str_of(&row, "kind"),
            str_of(&row, "statement"),
            str_of(&row, "source"),
            str_of(&row, "ran"),
        );
        match groups.iter_mut().find(|g| key(g) == key(&row)) {
            Some(g) => {
                let mut push = |field: &str, value: String| {
                    if let Some(Value::Array(a)) = g.get_mut(field)
                        && !value.is_empty()
                        && !a.contains(&Value::from(value.clone()))
                    {
                        a.push(Value::from(value));
                    }
                };
                push("kinds", kind);
                push("statements", statement);
                push("sources", source);
                push("rans", ran);
                for t in tables {
                    push("affected_tables", t);
                }
            }
            None => {
                let mut g = row.clone();
                let one = |v: String| Value::from(if v.is_empty() { vec![] } else { vec![v] });
                g.insert("kinds".into(), one(kind));
                g.insert("statements".into(), one(statement));
                g.insert("sources".into(), one(source));
                g.insert("rans".into(), one(ran));
                groups.push(g);
            }
        }
    }
    for g in groups.iter_mut() {
        let sources = strs_of(g, "sources");
        let told = factors.iter().position(|f| {
            let text = str_of(f, "text");
            let cited = strs_of(f, "sources");
            sources
                .iter()
                .any(|s| cited.contains(s) || text.contains(s.as_str()))
        });
        g.insert("told".into(), told.map_or(Value::Null, Value::from));
        let rans = strs_of(g, "rans");
        g.insert("ran".into(), Value::from(rans.join("; ")));
    }
    let mut out = Map::new();
    out.insert("groups".into(), Value::from(groups));
    out.insert("hidden".into(), Value::from(hidden));
    minijinja::Value::from(Serde(&out))
}

/// A text with every run of digits (and a leading minus) as `#`: the shape facts share.
fn skeleton(text: &str) -> String {
    number_split(text)
        .into_iter()
        .map(|(part, number)| if number { "#" } else { part })
        .collect()
}

/// Text and number runs in order (`true` for a number).
fn number_split(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        let number = first.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != number)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at_checked(end).unwrap_or((rest, ""));
        out.push((run, number));
        rest = tail;
    }
    out
}

/// Texts of one shape as one: a number equal in all is written once, a number that differs as
/// each text's value in order (`48/8/7/115`).
fn merge_numbers(texts: &[String]) -> String {
    let split: Vec<Vec<(&str, bool)>> = texts.iter().map(|t| number_split(t)).collect();
    let Some(first) = split.first() else {
        return String::new();
    };
    let mut out = String::new();
    for (i, (part, number)) in first.iter().enumerate() {
        if !number {
            out.push_str(part);
            continue;
        }
        let values: Vec<&str> = split
            .iter()
            .map(|s| s.get(i).map_or("?", |p| p.0))
            .collect();
        if values.iter().all(|v| v == part) {
            out.push_str(part);
        } else {
            out.push_str(&values.join("/"));
        }
    }
    out
}

/// `2026-11-23T12:09:55.403Z` → `12:09:55.403` (the day is in the heading).
fn hms(value: String) -> String {
    match chrono::DateTime::parse_from_rfc3339(&value) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%H:%M:%S%.3f")
            .to_string(),
        Err(_) => value,
    }
}

fn fixed2(value: f64) -> String {
    format!("{value:.2}")
}

/// Where `--template` looks for partials: the directory of the given template.
pub fn environment(
    user_template: Option<&Path>,
) -> Result<(Environment<'static>, String), UserError> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| UserError::new(format!("template syntax: {e}")))?,
    );
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    env.set_formatter(one_line);
    env.add_filter("fenced", fenced);
    env.add_filter("cell", cell);
    env.add_filter("code", code);
    env.add_filter("mermaid", mermaid);
    env.add_filter("utc", utc);
    env.add_filter("mermaid_time", mermaid_time);
    env.add_filter("fixed2", fixed2);
    env.add_filter("hms", hms);
    env.add_filter("lines", lines);
    env.add_filter("score_line", score_line);
    env.add_filter("evidence_lines", evidence_lines);
    env.add_filter("story_rows", story_rows);
    env.add_filter("routine_groups", routine_groups);
    env.add_filter("migration_groups", migration_groups);
    let (user_dir, main) = match user_template {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                UserError::new(format!("{}: cannot read template: {e}", path.display()))
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "user.md.j2".into());
            // The user's file is the main template, whatever its name; it may extend or include
            // the embedded ones.
            let main = format!("user:{name}");
            env.add_template_owned(main.clone(), text)
                .map_err(|e| UserError::new(format!("{}: {}", path.display(), describe(&e))))?;
            (path.parent().map(Path::to_path_buf), main)
        }
        None => (None, MAIN_TEMPLATE.to_string()),
    };
    env.set_loader(move |name| load(user_dir.as_deref(), name));
    Ok((env, main))
}

fn load(user_dir: Option<&Path>, name: &str) -> Result<Option<TemplateSource>, Error> {
    if let Some(dir) = user_dir {
        // Never leave the template's directory.
        if !name.split('/').any(|p| p == ".." || p.is_empty()) && !name.starts_with('/') {
            let candidate: PathBuf = dir.join(name);
            if candidate.is_file() {
                // A symlink may point anywhere (`partials/summary.md.j2 -> /etc/shadow`): what
                // it resolves to must still be inside the template's directory.
                let inside = match (candidate.canonicalize(), dir.canonicalize()) {
                    (Ok(c), Ok(d)) => c.starts_with(&d),
                    _ => false,
                };
                if !inside {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "{} leads outside the template directory {}; templates are read only from inside it",
                            candidate.display(),
                            dir.display()
                        ),
                    ));
                }
                let text = std::fs::read_to_string(&candidate).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("cannot read {}", candidate.display()),
                    )
                    .with_source(e)
                })?;
                return Ok(Some(TemplateSource::from(text)));
            }
        }
    }
    Ok(embedded(name).map(TemplateSource::from))
}

fn describe(e: &Error) -> String {
    // minijinja's Display names the template and line; keep it to one line.
    let mut s = e.to_string();
    if let Some(detail) = e.detail()
        && !s.contains(detail)
    {
        s = format!("{s}: {detail}");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s = format!("{s}: {inner}");
        source = inner.source();
    }
    s.replace('\n', " ")
}

/// Renders the report as Markdown with the embedded templates or the user's.
pub fn render(report: &Report, user_template: Option<&Path>) -> Result<String, UserError> {
    render_value(
        &serde_json::to_value(report).map_err(|e| UserError::new(format!("report: {e}")))?,
        user_template,
    )
}

/// Renders a JSON report (`Report::to_json`'s value, possibly redacted) as Markdown.
pub fn render_value(
    report: &serde_json::Value,
    user_template: Option<&Path>,
) -> Result<String, UserError> {
    let (env, main) = environment(user_template)?;
    let template = env
        .get_template(&main)
        .map_err(|e| UserError::new(format!("template: {}", describe(&e))))?;
    let mut out = template
        .render(context! { report => Serde(report) })
        .map_err(|e| UserError::new(format!("template: {}", describe(&e))))?;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(tighten(&out))
}

/// The words budget: a blank line right after a heading, and a second blank line in a row, add
/// length and nothing else — GFM ends an ATX heading at its line, so what follows renders the
/// same. Lines inside a code fence are kept as they are (a command's blank lines are its own).
fn tighten(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut fence: Option<(char, usize)> = None;
    let mut after_heading = false;
    let mut after_blank = false;
    for line in markdown.split_inclusive('\n') {
        let text = line.trim_end_matches(['\n', '\r']);
        let opener = text.trim_start();
        let marker = opener.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |m| opener.chars().take_while(|c| *c == m).count());
        match fence {
            Some((m, len)) => {
                if marker == Some(m) && run >= len && opener.trim_end().len() == run {
                    fence = None;
                }
                out.push_str(line);
                after_heading = false;
                after_blank = false;
                continue;
            }
            None if run >= 3 => fence = marker.map(|m| (m, run)),
            None => {}
        }
        let blank = text.trim().is_empty();
        if blank && (after_heading || after_blank) {
            continue;
        }
        out.push_str(line);
        after_heading = text.starts_with('#');
        after_blank = blank;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// One row per file version; a down-migration operation naming no lost table is counted;
    /// a factor citing a file's operation (by source or in its text) marks the file told; a
    /// down migration that names a lost table stays listed (a rollback may have run it).
    #[test]
    fn migration_groups_join_a_files_operations_and_count_what_cannot_bear_on_the_loss() {
        let op =
            |path: &str, commit: &str, stmt: &str, active: bool, tables: &[&str], line: u32| {
                json!({"path": path, "commit": commit, "kind": "drop_table", "statement": stmt,
                   "source": format!("git:{commit}:{path}:{line}"), "active": active,
                   "affected_tables": tables, "ran": "recorded as applied", "note": null,
                   "committed_at": "2026-11-23T13:25:20Z", "author": "A"})
            };
        let rows = json!([
            op(
                "m/2.py",
                "bbb",
                "op.drop_table(\"a\")",
                true,
                &["public.a"],
                3
            ),
            op(
                "m/2.py",
                "bbb",
                "op.drop_table(\"b\")",
                true,
                &["public.b"],
                4
            ),
            op("m/1.py", "aaa", "op.drop_table(\"x\")", false, &[], 9),
            op(
                "m/1.py",
                "aaa",
                "op.drop_table(\"a\")",
                false,
                &["public.a"],
                10
            ),
            op("m/3.py", "ccc", "DROP TABLE c", true, &[], 1),
        ]);
        let run = |contributing: serde_json::Value| -> serde_json::Value {
            serde_json::to_value(migration_groups(
                minijinja::Value::from(Serde(&rows)),
                minijinja::Value::from(Serde(&contributing)),
            ))
            .unwrap_or_default()
        };
        let out = run(json!([]));
        assert_eq!(out["hidden"], 1, "{out}");
        let groups = out["groups"].as_array().cloned().unwrap_or_default();
        assert_eq!(groups.len(), 3, "{out}");
        assert_eq!(groups[0]["statements"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            groups[0]["affected_tables"],
            json!(["public.a", "public.b"])
        );
        assert_eq!(groups[0]["sources"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            groups[1]["active"], false,
            "the rollback that names a lost table stays"
        );
        assert!(groups.iter().all(|g| g["told"].is_null()), "{out}");
        let out = run(json!([
            {"text": "runs `DROP TABLE c` (git:ccc:m/3.py:1)", "sources": []},
            {"text": "b", "sources": ["git:bbb:m/2.py:4"]},
        ]));
        let told: Vec<serde_json::Value> = out["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| g["told"].clone())
            .collect();
        assert_eq!(told, vec![json!(1), json!(null), json!(0)], "{out}");
    }

    fn lines_of(evidence: serde_json::Value, tables: &[&str]) -> Vec<serde_json::Value> {
        let v = evidence_lines(
            minijinja::Value::from(Serde(&evidence)),
            minijinja::Value::from(Serde(&tables)),
        );
        serde_json::to_value(&v)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    #[test]
    fn one_fact_about_several_tables_is_one_line_with_every_number() {
        let ev = json!([
            {"supports": true, "source": "stats:s.a.n_live_tup", "text": "s.a: n_live_tup 0 while 48 rows are expected; n_tup_del 33"},
            {"supports": true, "source": "catalog:s.a.relfilenode", "text": "s.a: relfilenode 16499 ≠ oid 16445"},
            {"supports": true, "source": "stats:s.b.n_live_tup", "text": "s.b: n_live_tup 0 while 8 rows are expected; n_tup_del 0"},
            {"supports": true, "source": "catalog:s.b.relfilenode", "text": "s.b: relfilenode 16507 ≠ oid 16422"},
            {"supports": false, "source": "stats:s.c.n_live_tup", "text": "s.c: n_live_tup 0 while 7 rows are expected; n_tup_del 1"},
            {"supports": true, "source": "log:x.log:63", "text": "`TRUNCATE s.a, s.b`"},
            {"supports": true, "source": "log:x.log:63", "text": "its transaction committed"},
        ]);
        let lines = lines_of(ev, &["s.a", "s.b", "s.c"]);
        let texts: Vec<&str> = lines.iter().filter_map(|l| l["text"].as_str()).collect();
        assert_eq!(
            texts,
            [
                "s.a, s.b: n_live_tup 0 while 48/8 rows are expected; n_tup_del 33/0",
                "s.a, s.b: relfilenode 16499/16507 ≠ oid 16445/16422",
                // A fact against is never merged with one for.
                "s.c: n_live_tup 0 while 7 rows are expected; n_tup_del 1",
                "`TRUNCATE s.a, s.b`; its transaction committed",
            ]
        );
        assert_eq!(lines[0]["source"], "stats:s.a.n_live_tup");
        assert_eq!(lines[0]["more"], 1);
        assert_eq!(lines[2]["supports"], false);
        assert_eq!(lines[3]["more"], 0);
    }

    #[test]
    fn facts_of_another_shape_or_table_stay_apart() {
        let ev = json!([
            {"supports": true, "source": "stats:s.a.n_tup_del", "text": "s.a: n_tup_del 10 with n_live_tup 190"},
            {"supports": true, "source": "stats:s.b.n_tup_del", "text": "s.b: n_tup_del 1, the rows are gone"},
            {"supports": true, "source": "stats:other.n_tup_del", "text": "other: n_tup_del 5 with n_live_tup 1"},
        ]);
        let lines = lines_of(ev, &["s.a", "s.b"]);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines.iter().all(|l| l["more"] == 0));
    }

    /// A migration's logged DROP TABLEs are one line; the statement whose transaction is known
    /// keeps its own line, and so do quoted log messages and a ROLLBACK.
    #[test]
    fn logged_statements_in_a_row_are_one_line_and_log_messages_stay_apart() {
        let ev = json!([
            {"supports": true, "source": "log:p.log:176", "text": "`DROP TABLE account`"},
            {"supports": true, "source": "log:p.log:177", "text": "`DROP TABLE \"user\"`"},
            {"supports": true, "source": "log:p.log:175", "text": "`DROP TABLE session`"},
            {"supports": true, "source": "log:p.log:175", "text": "its transaction committed"},
            {"supports": true, "source": "log:p.log:180", "text": "`insert or update on table \"t\" violates foreign key constraint`"},
            {"supports": true, "source": "log:p.log:181", "text": "`ROLLBACK`"},
            {"supports": false, "source": "log:p.log:182", "text": "`DELETE FROM t`"},
            {"supports": true, "source": "git:abc:m.sql:3", "text": "`DROP TABLE x`"},
        ]);
        let lines = lines_of(ev, &[]);
        let texts: Vec<&str> = lines.iter().filter_map(|l| l["text"].as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "`DROP TABLE account`, `DROP TABLE \"user\"`",
                "`DROP TABLE session`; its transaction committed",
                "`insert or update on table \"t\" violates foreign key constraint`",
                "`ROLLBACK`",
                "`DELETE FROM t`",
                "`DROP TABLE x`",
            ]
        );
        assert_eq!(lines[0]["more"], 1);
        assert_eq!(lines[0]["source"], "log:p.log:176");
    }

    #[test]
    fn routine_events_are_one_group_per_part_of_the_databases_life_in_order_of_first_event() {
        let rows: Vec<serde_json::Value> = [
            ("stats_reset", "t0"),
            ("ddl", "t1"),
            ("vacuum", "t2"),
            ("server_start", "t3"),
            ("analyze", "t4"),
            ("drop_table", "t5"),
            ("tool_session", "t6"),
            ("bulk_load", "t7"),
            ("raw", "t8"),
        ]
        .iter()
        .map(|(kind, at)| serde_json::json!({"kind": kind, "at": at, "text": kind}))
        .collect();
        let groups = serde_json::to_value(routine_groups(minijinja::Value::from(Serde(&rows))))
            .unwrap_or_default();
        let summary: Vec<(String, String, String, usize)> = groups
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                (
                    g["group"].as_str().unwrap_or_default().to_string(),
                    g["first"].as_str().unwrap_or_default().to_string(),
                    g["last"].as_str().unwrap_or_default().to_string(),
                    g["events"].as_array().map_or(0, Vec::len),
                )
            })
            .collect();
        let want = [
            ("server life", "t0", "t3", 2),
            ("schema", "t1", "t5", 2),
            ("maintenance", "t2", "t4", 2),
            ("sessions", "t6", "t6", 1),
            ("writes", "t7", "t7", 1),
            ("other", "t8", "t8", 1),
        ];
        assert_eq!(
            summary,
            want.map(|(g, f, l, n)| (g.to_string(), f.to_string(), l.to_string(), n))
        );
    }

    #[test]
    fn story_rows_of_a_user_template_may_hold_anything() {
        // `--template` may apply the filter to any list: a value that is not an event is left
        // out (it used to panic on `row["more"] = …`).
        let rows = json!([1, "x", null, {"kind": "delete", "text": "DELETE FROM t"}]);
        let out = serde_json::to_value(story_rows(minijinja::Value::from(Serde(&rows))))
            .unwrap_or_default();
        assert_eq!(
            out,
            json!([{"kind": "delete", "text": "DELETE FROM t", "more": 0}])
        );
        let (env, _) = environment(None).expect("environment");
        let rendered = env
            .render_str("{{ [1, 2] | story_rows | length }}", context! {})
            .expect("render");
        assert_eq!(rendered, "0");
    }

    #[test]
    fn number_runs_split_at_every_digit_boundary() {
        assert_eq!(
            number_split("n_live_tup 0 while 48 rows; é9"),
            [
                ("n_live_tup ", false),
                ("0", true),
                (" while ", false),
                ("48", true),
                (" rows; é", false),
                ("9", true)
            ]
        );
        assert!(number_split("").is_empty());
        assert_eq!(skeleton("oid 16445 ≠ 16499"), "oid # ≠ #");
    }

    #[test]
    fn prose_keeps_code_spans_and_escapes_the_rest() {
        assert_eq!(prose("a [b] `x [y]` c"), "a \\[b\\] `x [y]` c");
        // A span closes only with a run of as many backticks.
        assert_eq!(prose("``a`b`` *"), "``a`b`` \\*");
        // Unpaired backticks are escaped, multibyte text around them too.
        assert_eq!(prose("é ` ≠"), "é \\` ≠");
    }

    #[test]
    fn one_migration_commits_operations_are_one_story_row() {
        let row = |text: &str, line: u32, findings: Vec<u32>| {
            json!({"at": "2026-11-23T13:25:20Z", "kind": "migration_commit", "text": text,
                   "source": format!("git:3dd6f43:m.py:{line}"), "findings": findings})
        };
        let rows = json!([
            row(
                "m.py committed by Dana: `op.drop_table(\"session\")`",
                20,
                vec![1]
            ),
            row(
                "m.py committed by Dana: `op.drop_table(\"account\")`",
                21,
                vec![]
            ),
            row("n.py committed by Dana: `op.drop_table(\"x\")`", 5, vec![]),
        ]);
        let out: Vec<serde_json::Value> =
            serde_json::to_value(story_rows(minijinja::Value::from(Serde(&rows))))
                .ok()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(
            out[0]["text"],
            "m.py committed by Dana: `op.drop_table(\"session\")`, `op.drop_table(\"account\")`"
        );
        assert_eq!(out[0]["source"], "git:3dd6f43:m.py:20");
        assert_eq!(out[0]["more"], 1);
        assert_eq!(out[0]["findings"], json!([1]));
        assert_eq!(out[1]["more"], 0);
    }

    #[test]
    fn a_sessions_statements_within_a_second_of_each_other_are_one_story_row() {
        let session = json!({"pid": 7, "user": "app"});
        let row = |at: &str, kind: &str, text: &str, line: u32, pid: u32| {
            json!({"at": at, "kind": kind, "text": text, "findings": [1], "outcome": "committed",
                   "source": format!("log:p.log:{line}"),
                   "session": if pid == 7 { session.clone() } else { json!({"pid": pid}) }})
        };
        let rows = json!([
            row(
                "2026-11-23T15:25:27.220Z",
                "drop_table",
                "DROP TABLE a",
                1,
                7
            ),
            row(
                "2026-11-23T15:25:27.900Z",
                "drop_table",
                "DROP TABLE b",
                2,
                7
            ),
            // Within a second of the one before, not of the first: still the same run.
            row(
                "2026-11-23T15:25:28.700Z",
                "drop_table",
                "DROP TABLE c",
                3,
                7
            ),
            // Another session, another kind, a gap of a second, an error: rows of their own.
            row(
                "2026-11-23T15:25:28.800Z",
                "drop_table",
                "DROP TABLE d",
                4,
                8
            ),
            row("2026-11-23T15:25:28.900Z", "ddl", "CREATE TABLE a ()", 5, 8),
            row("2026-11-23T15:25:29.900Z", "ddl", "CREATE TABLE b ()", 6, 8),
            row(
                "2026-11-23T15:25:30.000Z",
                "error",
                "relation \"a\" does not exist",
                7,
                8
            ),
            row(
                "2026-11-23T15:25:30.100Z",
                "error",
                "relation \"b\" does not exist",
                8,
                8
            ),
        ]);
        let out: Vec<serde_json::Value> =
            serde_json::to_value(story_rows(minijinja::Value::from(Serde(&rows))))
                .ok()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
        let texts: Vec<(&str, u64)> = out
            .iter()
            .map(|r| {
                (
                    r["text"].as_str().unwrap_or_default(),
                    r["more"].as_u64().unwrap_or(9),
                )
            })
            .collect();
        assert_eq!(
            texts,
            [
                ("DROP TABLE a; DROP TABLE b; DROP TABLE c", 2),
                ("DROP TABLE d", 0),
                ("CREATE TABLE a ()", 0),
                ("CREATE TABLE b ()", 0),
                ("relation \"a\" does not exist", 0),
                ("relation \"b\" does not exist", 0),
            ]
        );
        assert_eq!(out[0]["at"], "2026-11-23T15:25:27.220Z");
        assert_eq!(out[0]["source"], "log:p.log:1");
        assert!(out.iter().all(|r| r.get("until").is_none()));
    }
}
