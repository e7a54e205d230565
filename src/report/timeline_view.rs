//! Rendering of `pgtriage timeline`: a terminal table, one JSON document
//! (`"format": "pgtriage-timeline/1"`), or JSON Lines (one event per line).

use serde::Serialize;

use crate::error::UserError;
use crate::evidence::{LogEvent, LogProblem, Timeline, TxOutcome};
use crate::report::term::new_table;

pub const TIMELINE_FORMAT: &str = "pgtriage-timeline/1";

fn kind_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

fn who(e: &LogEvent) -> String {
    let s = &e.session;
    let mut out = String::new();
    if let Some(u) = &s.user {
        out.push_str(u);
    }
    if let Some(d) = &s.database {
        out.push('@');
        out.push_str(d);
    }
    if let Some(a) = &s.application {
        out.push_str(&format!(" ({a})"));
    }
    if let Some(p) = s.pid {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("[{p}]"));
    }
    out
}

fn outcome(o: Option<TxOutcome>) -> String {
    o.map(|o| kind_name(&o)).unwrap_or_default()
}

pub fn problem_line(p: &LogProblem) -> String {
    match p.line {
        Some(l) => format!("{}:{l}: {} × {}", p.path, p.count, p.message),
        None => format!("{}: {}", p.path, p.message),
    }
}

/// The terminal table, then what was read and what went wrong.
pub fn render_table(t: &Timeline) -> String {
    let mut table = new_table(&[
        "at (UTC)", "kind", "tables", "outcome", "session", "text", "source",
    ]);
    for e in &t.events {
        let mut kind = kind_name(&e.kind);
        if e.cascade {
            kind.push_str(" cascade");
        }
        let mut text = e.text.clone();
        if let Some(m) = &e.migration {
            text = format!("{} {}: {}", m.tool, m.version, text);
        }
        if let Some(r) = e.rows {
            text = format!("{text} ({r} rows)");
        }
        if let Some(s) = &e.sqlstate {
            text = format!("{s} {text}");
        }
        table.add_row(vec![
            e.at.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
            kind,
            e.tables.join(", "),
            outcome(e.outcome),
            who(e),
            one_line(&text, 100),
            e.source.clone(),
        ]);
    }
    let mut out = format!("{table}\n");
    let counted: u64 = t.counts.iter().map(|c| c.count).sum();
    out.push_str(&format!(
        "{} events; {} other statements counted, not listed (see --format json: counts)\n",
        t.events.len(),
        counted
    ));
    for s in &t.sources {
        out.push_str(&format!(
            "read {} ({}, {}{}, {} lines, {} bytes, sha256 {})\n",
            s.path,
            s.format,
            s.compression,
            s.line_prefix
                .as_deref()
                .map(|p| format!(", prefix {p:?}"))
                .unwrap_or_default(),
            s.lines,
            s.bytes,
            s.sha256.as_deref().unwrap_or("-")
        ));
        if let Some(r) = &s.read_range {
            // What a window read of the file, with the command that checks its hash.
            out.push_str(&format!(
                "  read bytes {}..{} ({} lines), sha256 {}; check: dd if={} iflag=skip_bytes,count_bytes skip={} count={} bs=1M status=none | sha256sum\n",
                r.start,
                r.end,
                r.lines,
                r.sha256,
                crate::evidence::relation::shell_quote(&s.path),
                r.start,
                r.end - r.start
            ));
        }
    }
    for p in &t.problems {
        out.push_str(&format!("problem: {}\n", problem_line(p)));
    }
    out
}

#[derive(Serialize)]
struct Document<'a> {
    format: &'static str,
    #[serde(flatten)]
    timeline: &'a Timeline,
}

pub fn render_json(t: &Timeline) -> Result<String, UserError> {
    let mut s = serde_json::to_string_pretty(&Document {
        format: TIMELINE_FORMAT,
        timeline: t,
    })
    .map_err(|e| UserError::new(format!("cannot write JSON: {e}")))?;
    s.push('\n');
    Ok(s)
}

pub fn render_jsonl(t: &Timeline) -> Result<String, UserError> {
    let mut out = String::new();
    for e in &t.events {
        out.push_str(
            &serde_json::to_string(e)
                .map_err(|e| UserError::new(format!("cannot write JSON: {e}")))?,
        );
        out.push('\n');
    }
    Ok(out)
}
