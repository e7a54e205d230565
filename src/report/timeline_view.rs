//! Rendering of `pgtriage timeline`: a terminal table, one JSON document
//! (`"format": "pgtriage-timeline/1"`), or JSON Lines (one event per line).

use serde::Serialize;

use crate::error::UserError;
use crate::evidence::{EventKind, LogEvent, LogProblem, Timeline};
use crate::report::term::{count, new_table};

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

/// `[pid] user@database (application)`: the pid first, so a narrowed column still tells
/// sessions apart.
fn who(e: &LogEvent) -> String {
    let s = &e.session;
    let mut parts = Vec::new();
    if let Some(p) = s.pid {
        parts.push(format!("[{p}]"));
    }
    match (&s.user, &s.database) {
        (Some(u), Some(d)) => parts.push(format!("{u}@{d}")),
        (Some(u), None) => parts.push(u.clone()),
        (None, Some(d)) => parts.push(format!("@{d}")),
        (None, None) => {}
    }
    if let Some(a) = &s.application {
        parts.push(format!("({a})"));
    }
    parts.join(" ")
}

pub fn problem_line(p: &LogProblem) -> String {
    match p.line {
        Some(l) => format!("{}:{l}: {} × {}", p.path, p.count, p.message),
        None => format!("{}: {}", p.path, p.message),
    }
}

/// Routine session lines: a third of a busy log. The terminal view counts them instead of
/// listing them unless `--all`; JSON and JSON Lines always hold every event.
pub fn routine(e: &LogEvent) -> bool {
    matches!(e.kind, EventKind::Connection | EventKind::Disconnection)
}

/// `a, b, c +2 more`, within about `max` characters.
fn table_list(tables: &[String], max: usize) -> String {
    let mut out = String::new();
    for (i, t) in tables.iter().enumerate() {
        let next = if out.is_empty() {
            t.clone()
        } else {
            format!("{out}, {t}")
        };
        if next.chars().count() > max && i > 0 {
            return format!("{out} +{} more", tables.len() - i);
        }
        out = next;
    }
    one_line(&out, max)
}

/// The citation as the terminal shows it: `FILE:LINE` with the file's name alone when no two
/// files read share a name (the footer lists each path in full), the whole citation otherwise.
fn short_source(source: &str, full_paths: bool) -> String {
    let cited = source.strip_prefix("log:").unwrap_or(source);
    if full_paths {
        return cited.to_string();
    }
    match cited.rsplit_once(':') {
        Some((path, line)) => {
            let name = std::path::Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.to_string());
            format!("{name}:{line}")
        }
        None => cited.to_string(),
    }
}

/// The terminal table (routine connection lines counted unless `all`), then what was read and
/// what went wrong.
pub fn render_table(t: &Timeline, all: bool) -> String {
    let names: Vec<String> = t
        .sources
        .iter()
        .map(|s| {
            std::path::Path::new(&s.path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    // Two sources with one file name (two hosts' postgresql.log): their full paths tell them
    // apart.
    let full_paths = names
        .iter()
        .enumerate()
        .any(|(i, n)| names.iter().skip(i + 1).any(|m| m == n));
    let mut table = new_table(&["at (UTC)", "kind", "session", "tables", "text", "line"]);
    let mut hidden = 0u64;
    for e in &t.events {
        if !all && routine(e) {
            hidden += 1;
            continue;
        }
        let mut kind = kind_name(&e.kind);
        if e.cascade {
            kind.push_str(" cascade");
        }
        if let Some(o) = e.outcome {
            kind = format!("{kind}, {}", kind_name(&o));
        }
        let mut text = e.text.clone();
        if let Some(m) = &e.migration {
            text = format!("{} {}: {}", m.tool, m.version, text);
        }
        if let Some(r) = e.rows {
            text = format!("{text} ({})", count(r, "row"));
        }
        if let Some(s) = &e.sqlstate {
            text = format!("{s} {text}");
        }
        // A failed statement's text is in the DETAIL/STATEMENT line: without it the row only
        // says "syntax error at or near …" and not what was attempted.
        if e.kind == EventKind::Error
            && let Some(d) = &e.detail
        {
            text = format!("{text} — {}", d.trim_start_matches("STATEMENT:").trim());
        }
        table.add_row(vec![
            e.at.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
            kind,
            one_line(&who(e), 28),
            table_list(&e.tables, 30),
            one_line(&text, 96),
            short_source(&e.source, full_paths),
        ]);
    }
    let mut out = format!("{table}\n");
    let counted: u64 = t.counts.iter().map(|c| c.count).sum();
    let listed = t.events.len() as u64 - hidden;
    out.push_str(&format!("{} listed", count(listed, "event")));
    if hidden > 0 {
        out.push_str(&format!(
            "; {} counted, not listed (--all lists them)",
            count(hidden, "connection/disconnection line")
        ));
    }
    out.push_str(&format!(
        "; {} counted, not listed (see --format json: counts)\n",
        count(counted, "other statement")
    ));
    for s in &t.sources {
        out.push_str(&format!(
            "read {} ({}, {}{}, {}, {}, sha256 {})\n",
            s.path,
            s.format,
            s.compression,
            s.line_prefix
                .as_deref()
                .map(|p| format!(", prefix {p:?}"))
                .unwrap_or_default(),
            count(s.lines, "line"),
            count(s.bytes, "byte"),
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
