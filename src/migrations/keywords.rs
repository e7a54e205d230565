//! The last fallback: a tokenised keyword scanner for text no grammar could read (templated SQL,
//! other dialects, half-written files). It skips comments and quoted strings, knows statement
//! boundaries, and reads keywords in their place — `GRANT TRUNCATE ON t` and `ON DELETE CASCADE`
//! are not a TRUNCATE or a DELETE, which a regex linter gets wrong (supabase#44609).
//! Its findings are labelled `keyword`, so a reader knows no parser confirmed them.

use super::found::{FoundOperation, LineIndex, truncate_chars};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A keyword or unquoted identifier, upper-cased.
    Word(String),
    /// A quoted identifier or other name-like token, as written.
    Name(String),
    Semi,
    Other,
}

struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn tokenize(text: &str) -> Vec<Token> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Where the line holding `from` ends (or the text does).
    let line_end = |from: usize| find(b, from, b"\n").unwrap_or(b.len());
    while let Some(&c) = b.get(i) {
        let next = b.get(i + 1).copied();
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && next == Some(b'-') {
            i = line_end(i);
        } else if c == b'#' {
            // Comments of the host languages (Python, Ruby, shell) — never SQL text.
            i = line_end(i);
        } else if c == b'/' && next == Some(b'*') {
            i = find(b, i + 2, b"*/").map_or(b.len(), |n| n + 2);
        } else if c == b'\'' {
            // A string literal is data, not code; '' is an escaped quote, and in an E'' string
            // a backslash escapes the next byte.
            let escapes = i
                .checked_sub(1)
                .and_then(|p| b.get(p))
                .is_some_and(|p| matches!(p, b'E' | b'e'));
            let mut j = i + 1;
            while let Some(&bj) = b.get(j) {
                if bj == b'\\' && escapes {
                    j += 2;
                    continue;
                }
                if bj == b'\'' {
                    if b.get(j + 1) == Some(&b'\'') {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            out.push(Token {
                tok: Tok::Other,
                start: i,
                end: (j + 1).min(b.len()),
            });
            i = j + 1;
        } else if c == b'$' {
            // Dollar quotes: the body is code (DO blocks, functions); read it as tokens.
            let tag_len = b
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .take_while(|x| x.is_ascii_alphanumeric() || **x == b'_')
                .count();
            let e = i + 1 + tag_len;
            if b.get(e) == Some(&b'$') {
                out.push(Token {
                    tok: Tok::Semi,
                    start: i,
                    end: e + 1,
                });
                i = e + 1;
            } else {
                i += 1;
            }
        } else if c == b'"' {
            let end = find(b, i + 1, b"\"").map_or(b.len(), |j| j + 1);
            out.push(Token {
                tok: Tok::Name(lossy(b, i, end)),
                start: i,
                end,
            });
            i = end;
        } else if is_word_byte(c) {
            // Non-ASCII bytes are word bytes: a word never starts or ends inside a character.
            let len = b
                .get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|x| is_word_byte(**x) || **x == b'.')
                .count();
            let j = i + len;
            out.push(Token {
                tok: Tok::Word(lossy(b, i, j).to_ascii_uppercase()),
                start: i,
                end: j,
            });
            i = j;
        } else if c == b';' {
            out.push(Token {
                tok: Tok::Semi,
                start: i,
                end: i + 1,
            });
            i += 1;
        } else {
            out.push(Token {
                tok: Tok::Other,
                start: i,
                end: i + 1,
            });
            i += 1;
        }
    }
    out
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The text of a token's span (tokens start and end on character boundaries; were one not to,
/// the broken character shows as U+FFFD rather than failing the scan).
fn lossy(b: &[u8], start: usize, end: usize) -> String {
    String::from_utf8_lossy(b.get(start..end).unwrap_or_default()).into_owned()
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|n| from + n)
}

/// Words before DELETE/UPDATE/TRUNCATE that make them part of another statement (triggers,
/// policies, grants, foreign keys, ON CONFLICT, SELECT … FOR UPDATE).
const NOT_A_COMMAND_AFTER: &[&str] = &[
    "GRANT", "REVOKE", "ON", "BEFORE", "AFTER", "OR", "FOR", "OF", "INSTEAD", "DO", "ALL",
];

/// Keyword findings in `text`, with 1-based lines.
pub fn scan(text: &str) -> Vec<FoundOperation> {
    let tokens = tokenize(text);
    let lines = LineIndex::new(text);
    let mut out = Vec::new();
    let mut stmt_start = 0;
    let mut stmt_end = 0;
    let mut i = 0;
    while let Some(token) = tokens.get(i) {
        if token.tok == Tok::Semi {
            stmt_start = i + 1;
            i += 1;
            continue;
        }
        let first_word = match tokens.get(stmt_start).map(|t| &t.tok) {
            Some(Tok::Word(w)) => w.as_str(),
            _ => "",
        };
        if matches!(first_word, "GRANT" | "REVOKE") {
            i += 1;
            continue;
        }
        // The statement's end is searched once per statement, not once per token: a long text
        // without a semicolon would otherwise take quadratic time (found by the property tests).
        if stmt_end <= i {
            stmt_end = tokens
                .get(i..)
                .and_then(|rest| rest.iter().position(|t| t.tok == Tok::Semi))
                .map_or(tokens.len(), |n| i + n);
        }
        let end = stmt_end;
        let Some(stmt) = tokens.get(i..end) else {
            break;
        };
        let word = |k: usize| match stmt.get(k).map(|t| &t.tok) {
            Some(Tok::Word(w)) => w.as_str(),
            _ => "",
        };
        let prev = match i
            .checked_sub(1)
            .filter(|p| *p >= stmt_start)
            .and_then(|p| tokens.get(p))
            .map(|t| &t.tok)
        {
            Some(Tok::Word(w)) => w.as_str(),
            Some(Tok::Other) => ",",
            _ => "",
        };
        let standalone = !NOT_A_COMMAND_AFTER.contains(&prev) && prev != ",";
        let has = |w: &str| stmt.iter().any(|t| t.tok == Tok::Word(w.to_string()));
        let names_after = |k: usize| -> Vec<String> {
            stmt.iter()
                .skip(k)
                .filter_map(|t| match &t.tok {
                    Tok::Word(w)
                        if !matches!(
                            w.as_str(),
                            "IF" | "EXISTS"
                                | "ONLY"
                                | "CASCADE"
                                | "RESTRICT"
                                | "TABLE"
                                | "RESTART"
                                | "IDENTITY"
                                | "CONTINUE"
                                | "FROM"
                                | "BY"
                                | "WITH"
                                | "FORCE"
                        ) =>
                    {
                        Some(lossy(text.as_bytes(), t.start, t.end))
                    }
                    Tok::Name(n) => Some(n.clone()),
                    _ => None,
                })
                .take_while(|_| true)
                .collect()
        };
        let found = match (word(0), word(1)) {
            ("DROP", "TABLE") => Some(("drop_table", names_after(2))),
            ("DROP", "SCHEMA") => Some(("drop_schema", names_after(2))),
            ("DROP", "TYPE") | ("DROP", "DOMAIN") => Some(("drop_type", names_after(2))),
            ("DROP", "DATABASE") => Some(("drop_database", names_after(2))),
            ("DROP", "OWNED") => Some(("drop_owned", names_after(2))),
            ("TRUNCATE", _) if standalone => Some(("truncate", names_after(1))),
            ("DELETE", "FROM") if standalone && !has("WHERE") => {
                Some(("delete_all", names_after(2).into_iter().take(1).collect()))
            }
            ("UPDATE", _) if standalone && !has("WHERE") && has("SET") => {
                Some(("update_all", names_after(1).into_iter().take(1).collect()))
            }
            ("ALTER", "TABLE") => {
                let drop_col = stmt.windows(2).any(|w| {
                    matches!(w, [a, b] if a.tok == Tok::Word("DROP".into())
                        && b.tok == Tok::Word("COLUMN".into()))
                });
                drop_col.then(|| ("drop_column", names_after(2).into_iter().take(1).collect()))
            }
            _ => None,
        };
        if let Some((kind, objects)) = found {
            let stmt_end = stmt.last().map_or(token.end, |t| t.end);
            let statement = lossy(text.as_bytes(), token.start, stmt_end)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let objects = if matches!(
                kind,
                "drop_table" | "drop_schema" | "drop_type" | "truncate"
            ) {
                objects
            } else {
                objects.into_iter().take(1).collect()
            };
            out.push(FoundOperation {
                line: lines.line(token.start as u32),
                kind,
                cascade: has("CASCADE"),
                objects,
                statement: truncate_chars(&statement, 240),
                active: true,
                found_by: "keyword",
                note: Some(
                    "found by the keyword scanner: no parser could read this statement".to_string(),
                ),
            });
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<&'static str> {
        scan(text).into_iter().map(|o| o.kind).collect()
    }

    #[test]
    fn grant_truncate_is_not_a_truncate() {
        assert!(kinds("grant truncate on table public.x to anon;").is_empty());
        assert!(kinds("GRANT SELECT, TRUNCATE ON t TO r;").is_empty());
        assert_eq!(kinds("TRUNCATE t;"), vec!["truncate"]);
    }

    #[test]
    fn trigger_and_foreign_key_words_are_not_commands() {
        assert!(
            kinds("CREATE TRIGGER trg BEFORE DELETE ON users FOR EACH ROW EXECUTE FUNCTION a();")
                .is_empty()
        );
        assert!(
            kinds("ALTER TABLE a ADD FOREIGN KEY (b) REFERENCES c ON DELETE CASCADE;").is_empty()
        );
        assert!(kinds("INSERT INTO t VALUES (1) ON CONFLICT DO UPDATE SET a = 1;").is_empty());
    }

    #[test]
    fn comments_and_strings_are_skipped() {
        assert!(kinds("-- DROP TABLE x;\n/* TRUNCATE y; */ SELECT 'DELETE FROM z';").is_empty());
        assert_eq!(
            kinds("DO $$ BEGIN DELETE FROM z; END $$;"),
            vec!["delete_all"]
        );
    }

    #[test]
    fn templated_drop_is_found_with_its_line() {
        let ops = scan("SELECT 1;\nDROP TABLE {{ index .Options \"Namespace\" }}.users CASCADE;");
        assert_eq!(ops[0].kind, "drop_table");
        assert_eq!(ops[0].line, 2);
        assert!(ops[0].cascade);
    }
}
