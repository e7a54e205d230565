//! `pgtriage report --redact[=all]`: a postmortem to share outside the team. String and number
//! literals in statements become `$1`, `$2`… (as pg_stat_statements normalises them; the shape
//! of the statement stays), with the project's SQL lexer (`logs::sql`), in the JSON report and
//! so in the Markdown rendered from it. Statements are whole fields (`statement`, `detail`, a
//! logged statement's `text`) or inline code in prose (`` `DELETE … WHERE id = 8` ``); the
//! commands pgtriage prints to run (`command`) are its own and keep their values. With `all`,
//! user and host names are replaced too (`user_1`, `host_1`), commands included.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::logs::sql::{Lexer, Token};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Literals in statements.
    Literals,
    /// Literals, and user and host names everywhere.
    All,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Literals => "literals",
            Mode::All => "all",
        }
    }
}

/// A statement with its string and number literals replaced by `$1`, `$2`… in order.
pub fn statement(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut lexer = Lexer::new(sql);
    let mut copied = 0;
    let mut n = 0;
    loop {
        let start = lexer.offset();
        let Some(tok) = lexer.next() else { break };
        if matches!(tok, Token::Str(_) | Token::Number(_)) {
            let end = lexer.position();
            n += 1;
            out.push_str(sql.get(copied..start).unwrap_or(""));
            out.push_str(&format!("${n}"));
            copied = end;
        }
    }
    out.push_str(sql.get(copied..).unwrap_or(""));
    out
}

/// Bind parameters (`$1 = '3', $2 = 'x'`) with every value replaced by `…`: the names stay,
/// so the redacted statement's `$1` is still told apart from `$2`.
fn values(params: &str) -> String {
    let mut out = String::with_capacity(params.len());
    let mut lexer = Lexer::new(params);
    let mut copied = 0;
    loop {
        let start = lexer.offset();
        let Some(tok) = lexer.next() else { break };
        if matches!(tok, Token::Str(_) | Token::Number(_)) {
            out.push_str(params.get(copied..start).unwrap_or(""));
            out.push('…');
            copied = lexer.position();
        }
    }
    out.push_str(params.get(copied..).unwrap_or(""));
    out
}

/// Prose with every inline code span (`` `…` ``) read as a statement.
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('`') {
        let Some((code, tail)) = after.split_once('`') else {
            break;
        };
        out.push_str(before);
        out.push('`');
        out.push_str(&statement(code));
        out.push('`');
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Event kinds whose `text` is the logged statement itself.
fn statement_kind(kind: &str) -> bool {
    matches!(
        kind,
        "truncate"
            | "delete"
            | "delete_all"
            | "update_all"
            | "drop_table"
            | "drop_schema"
            | "drop_type"
            | "drop_database"
            | "drop_owned"
            | "drop_column"
            | "ddl"
            | "bulk_load"
            | "migration_bookkeeping"
            | "audit"
    )
}

fn walk(v: &mut Value, key: &str) {
    match v {
        Value::String(s) => {
            *s = match key {
                "statement" => statement(s),
                "detail" => s
                    .split('\n')
                    .map(|line| {
                        if line.contains("parameters:") {
                            values(line)
                        } else {
                            statement(line)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                "parameters" => values(s),
                // pgtriage's own commands, citations and digests hold no data of the incident.
                "command" | "source" | "sha256" | "revision" | "format" => return,
                _ => prose(s),
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, key)),
        Value::Object(map) => {
            let whole = map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(statement_kind);
            for (k, item) in map.iter_mut() {
                if k == "text" && whole {
                    if let Value::String(s) = item {
                        *s = statement(s);
                    }
                } else {
                    walk(item, k);
                }
            }
        }
        _ => {}
    }
}

/// Whether a name found between `before` and `after` stands as a whole name (no identifier
/// character either side).
fn whole_word(before: &str, after: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    !before.chars().next_back().is_some_and(word) && !after.chars().next().is_some_and(word)
}

fn replace_names(s: &str, names: &[(String, String)]) -> String {
    let mut out = s.to_string();
    for (name, placeholder) in names.iter().filter(|(n, _)| !n.is_empty()) {
        let mut result = String::with_capacity(out.len());
        // `done` is the text already written; `rest` the text still to search.
        let mut done = 0;
        let mut rest = out.as_str();
        while let Some((head, tail)) = rest.split_once(name.as_str()) {
            result.push_str(head);
            let before = out.get(..done + head.len()).unwrap_or_default();
            result.push_str(if whole_word(before, tail) {
                placeholder
            } else {
                name
            });
            done += head.len() + name.len();
            rest = tail;
        }
        result.push_str(rest);
        out = result;
    }
    out
}

fn walk_names(v: &mut Value, names: &[(String, String)]) {
    match v {
        Value::String(s) => *s = replace_names(s, names),
        Value::Array(items) => items.iter_mut().for_each(|i| walk_names(i, names)),
        Value::Object(map) => map.values_mut().for_each(|i| walk_names(i, names)),
        _ => {}
    }
}

/// User and host names in the evidence, each with its placeholder; longest first so a name
/// inside another is replaced after it.
pub fn people_and_hosts(evidence: &crate::evidence::Evidence) -> Vec<(String, String)> {
    let mut users: BTreeSet<String> = BTreeSet::new();
    let mut hosts: BTreeSet<String> = BTreeSet::new();
    if let Some(d) = &evidence.database {
        users.insert(d.server.user.clone());
        hosts.insert(d.server.host.clone());
    }
    for e in evidence.timeline.iter().flat_map(|t| t.events.iter()) {
        users.extend(e.session.user.clone());
        hosts.extend(e.session.host.clone());
    }
    for op in evidence.migrations.iter().flat_map(|m| m.operations.iter()) {
        users.insert(op.author.clone());
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, u) in users.iter().filter(|u| !u.is_empty()).enumerate() {
        out.push((u.clone(), format!("user_{}", i + 1)));
    }
    for (i, h) in hosts
        .iter()
        .filter(|h| !h.is_empty() && h.as_str() != "[local]")
        .enumerate()
    {
        out.push((h.clone(), format!("host_{}", i + 1)));
    }
    out.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    out
}

/// The JSON report with statements' literals (and with `All`, users and hosts) replaced.
pub fn report(mut json: Value, mode: Mode, evidence: &crate::evidence::Evidence) -> Value {
    walk(&mut json, "");
    if mode == Mode::All {
        walk_names(&mut json, &people_and_hosts(evidence));
    }
    if let Value::Object(map) = &mut json {
        map.insert("redacted".into(), Value::String(mode.as_str().into()));
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_become_numbered_placeholders_and_the_shape_stays() {
        assert_eq!(
            statement("DELETE FROM t WHERE email = 'bob@example.com' AND id > 48;"),
            "DELETE FROM t WHERE email = $1 AND id > $2;"
        );
        assert_eq!(
            statement("UPDATE \"T 1\" SET note = E'it\\'s' WHERE x = $$a$$"),
            "UPDATE \"T 1\" SET note = $1 WHERE x = $2"
        );
        // Identifiers with digits and quoted names are not literals.
        assert_eq!(
            statement("SELECT t1.c2 FROM s3.t1"),
            "SELECT t1.c2 FROM s3.t1"
        );
    }

    #[test]
    fn bind_parameters_keep_their_names_and_lose_their_values() {
        assert_eq!(
            values("$1 = '3', $2 = 'it''s', $3 = NULL, $4 = 12"),
            "$1 = …, $2 = …, $3 = NULL, $4 = …"
        );
    }

    #[test]
    fn prose_is_redacted_inside_code_spans_only() {
        assert_eq!(
            prose("48 rows: `DELETE FROM a WHERE id > 48` ran; migration.assets's rows"),
            "48 rows: `DELETE FROM a WHERE id > $1` ran; migration.assets's rows"
        );
    }

    #[test]
    fn names_next_to_multibyte_text_are_replaced_whole() {
        let names = vec![("zoë".to_string(), "user_1".to_string())];
        assert_eq!(
            replace_names("zoë@db, zoëx, «zoë»", &names),
            "user_1@db, zoëx, «user_1»"
        );
    }

    #[test]
    fn names_are_replaced_only_as_whole_words() {
        let names = vec![("app".to_string(), "user_1".to_string())];
        assert_eq!(
            replace_names("role app (application), app@db", &names),
            "role user_1 (application), user_1@db"
        );
    }
}
