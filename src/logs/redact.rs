//! Secret redaction: the passwords a server log repeats verbatim when `log_statement` is `ddl` or
//! `all`, removed from an event's text and details before the event is stored, so that no
//! evidence file, timeline or report (documents people share) ever carries one.
//!
//! What is redacted (case-insensitive, wherever it stands in the statement, its DETAIL, its
//! STATEMENT repeat or an error message):
//! - the string literal after the word `PASSWORD` (or any word ending in it, or `"password"`):
//!   `CREATE/ALTER ROLE|USER … [ENCRYPTED] PASSWORD '…'`, `E'…'`, `U&'…'`, `$tag$…$tag$`, and
//!   `OPTIONS (password '…')` / `OPTIONS (SET password '…')` of user mappings and servers;
//! - `password=…` inside any string literal (a libpq conninfo: `dblink('… password=…')`,
//!   `CREATE/ALTER SUBSCRIPTION … CONNECTION '…'`, `postgres_fdw` servers), quoted or not, and
//!   `PASSWORD ''…''` inside a string that holds SQL (`dblink_exec`, `EXECUTE '…'`);
//! - the `:secret@` of any `scheme://user:secret@host` URL;
//! - statements inside dollar-quoted bodies (`DO $$ … $$`) and inside double-quoted text
//!   (pgaudit's CSV) are searched the same way;
//! - then every other copy of a secret found so in the same entry (a syntax error's
//!   `at or near "…"`).
//!
//! Over-redacting is acceptable; a leak is not. Pure functions over text.

use crate::logs::sql::{Lexer, Token};

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Redacts every part of one event (its text and detail lines) in place; a secret found in one
/// part is removed from all of them.
pub fn redact_parts(parts: &mut [String]) {
    if !parts.iter().any(|p| suspicious(p)) {
        return;
    }
    let mut secrets: Vec<String> = Vec::new();
    for part in parts.iter_mut() {
        if suspicious(part)
            && let Some(clean) = redact_text(part, &mut secrets)
        {
            *part = clean;
        }
    }
    secrets.retain(|s| !s.is_empty() && s != REDACTED && !REDACTED.contains(s.as_str()));
    if secrets.is_empty() {
        return;
    }
    // Longest first, so a secret that contains another goes whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    for part in parts.iter_mut() {
        for s in &secrets {
            // A very short secret replaced everywhere would shred the text: only its quoted
            // copies (an error's `at or near "x"`) go then.
            if s.chars().count() >= 4 {
                if part.contains(s.as_str()) {
                    *part = part.replace(s.as_str(), REDACTED);
                }
            } else {
                for q in [format!("\"{s}\""), format!("'{s}'")] {
                    if part.contains(&q) {
                        *part = part.replace(&q, &format!("\"{REDACTED}\""));
                    }
                }
            }
        }
    }
}

/// The text with its secrets replaced, or `None` when it holds none; the secrets found are
/// added to `secrets`.
pub fn redact_text(text: &str, secrets: &mut Vec<String>) -> Option<String> {
    let mut spans: Vec<(usize, usize, &'static str)> = Vec::new();
    scan_sql(text, 0, text.len(), &mut spans, secrets, 0);
    if spans.is_empty() {
        return None;
    }
    spans.sort_by_key(|s| (s.0, std::cmp::Reverse(s.1)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0usize;
    for (start, end, with) in spans {
        if start < at {
            // Inside a span already replaced (nested finds): extend it if it reaches further.
            if end > at {
                at = end;
            }
            continue;
        }
        out.push_str(text.get(at..start).unwrap_or(""));
        out.push_str(with);
        at = end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    Some(out)
}

/// Whether the text could hold a secret at all (the cheap test before lexing).
pub fn suspicious(text: &str) -> bool {
    let b = text.as_bytes();
    memchr::memmem::find(b, b"://").is_some() || find_password(b, 0).is_some()
}

/// The next `password` (any case) at or after `from`.
fn find_password(b: &[u8], from: usize) -> Option<usize> {
    memchr::memchr2_iter(b'p', b'P', b.get(from..)?)
        .map(|k| from + k)
        .find(|&k| {
            b.get(k..k + 8)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"password"))
        })
}

fn is_password_word(w: &str) -> bool {
    w.len()
        .checked_sub(8)
        .and_then(|i| w.get(i..))
        .is_some_and(|tail| tail.eq_ignore_ascii_case("password"))
}

/// SQL text `text[from..to]`: a literal after the word PASSWORD goes whole; other literals are
/// searched for conninfo passwords and embedded SQL.
fn scan_sql(
    text: &str,
    from: usize,
    to: usize,
    spans: &mut Vec<(usize, usize, &'static str)>,
    secrets: &mut Vec<String>,
    depth: u8,
) {
    let Some(sub) = text.get(from..to) else {
        return;
    };
    if depth > 4
        || (memchr::memmem::find(sub.as_bytes(), b"://").is_none()
            && find_password(sub.as_bytes(), 0).is_none())
    {
        return;
    }
    let mut lx = Lexer::new(sub);
    // The last word was PASSWORD (possibly followed by `=`, `U`, `&`): the next literal is a secret.
    let mut after_password = false;
    // CREATE/ALTER …: a bare word after PASSWORD is then an unquoted password, not prose
    // (`password authentication failed`).
    let mut role_statement = false;
    loop {
        let start = lx.offset();
        let Some(tok) = lx.next() else { break };
        let end = lx.position();
        let (abs_start, abs_end) = (from + start, from + end);
        if let Token::Word(w) = &tok
            && (w.eq_ignore_ascii_case("create") || w.eq_ignore_ascii_case("alter"))
        {
            role_statement = true;
        }
        match &tok {
            Token::Str(content) => {
                if after_password {
                    spans.push((abs_start, abs_end, "'[redacted]'"));
                    secrets.push(content.clone());
                    if let Some(raw) = literal_body(text, abs_start, abs_end) {
                        secrets.push(raw.to_string());
                    }
                    after_password = false;
                } else {
                    scan_literal(text, abs_start, abs_end, spans, secrets, depth);
                }
            }
            Token::Quoted(content) => {
                if content.eq_ignore_ascii_case("password") || is_password_word(content) {
                    after_password = true;
                } else {
                    after_password = false;
                    if abs_end >= abs_start + 2 {
                        scan_sql(text, abs_start + 1, abs_end - 1, spans, secrets, depth + 1);
                    }
                }
            }
            Token::Word(w) if is_password_word(w) => after_password = true,
            Token::Word(w) if after_password && w.eq_ignore_ascii_case("u") => {}
            Token::Punct(b'&' | b'=') if after_password => {}
            // An unquoted password is a syntax error the server logs with its STATEMENT.
            Token::Word(_) | Token::Number(_)
                if after_password
                    && role_statement
                    && !matches!(&tok, Token::Word(w) if w.eq_ignore_ascii_case("null")) =>
            {
                let raw = text.get(abs_start..abs_end).unwrap_or("");
                secrets.push(raw.to_string());
                spans.push((abs_start, abs_end, REDACTED));
                after_password = false;
            }
            _ => after_password = false,
        }
        if end >= sub.len() {
            break;
        }
    }
}

/// The body of a literal `'…'`, `E'…'` or `$tag$…$tag$` spanning `text[start..end]`, as written.
fn literal_body(text: &str, start: usize, end: usize) -> Option<&str> {
    let raw = text.get(start..end)?;
    let b = raw.as_bytes();
    let (open, close) = match b {
        [b'\'', ..] => (1, 1),
        [b'E' | b'e', ..] => (2, 1),
        [b'$', after @ ..] => {
            let tag = 2 + after.iter().take_while(|c| **c != b'$').count();
            (tag.min(b.len()), tag)
        }
        _ => return None,
    };
    let close = if b.len() >= open + close { close } else { 0 };
    raw.get(open..b.len().saturating_sub(close).max(open))
}

/// A string literal's text: `password=` values (libpq conninfo), `user:secret@` URLs, and
/// `PASSWORD ''…''` of SQL inside the string; a dollar-quoted body is SQL and is scanned as such.
fn scan_literal(
    text: &str,
    start: usize,
    end: usize,
    spans: &mut Vec<(usize, usize, &'static str)>,
    secrets: &mut Vec<String>,
    depth: u8,
) {
    // `b` ends where the literal does: every search below stays inside it.
    let (Some(raw), Some(b)) = (text.get(start..end), text.as_bytes().get(..end)) else {
        return;
    };
    let backslash = matches!(raw.as_bytes().first(), Some(b'E' | b'e'));
    if let [b'$', after @ ..] = raw.as_bytes() {
        let tag = 2 + after.iter().take_while(|c| **c != b'$').count();
        if start + tag <= end.saturating_sub(tag) {
            scan_sql(text, start + tag, end - tag, spans, secrets, depth + 1);
        }
    }
    let blanks = |at: usize| run(b, at, |c| matches!(c, b' ' | b'\t'));
    let mut from = start;
    while let Some(k) = find_password(b, from) {
        from = k + 8;
        let uri = k
            .checked_sub(1)
            .and_then(|before| b.get(before))
            .is_some_and(|c| matches!(c, b'?' | b'&'));
        let mut j = k + 8;
        j += blanks(j);
        let conninfo = b.get(j) == Some(&b'=');
        if conninfo {
            j += 1;
            j += blanks(j);
        }
        let rest = b.get(j..).unwrap_or_default();
        let (vstart, vend) = if let Some(body) = rest.strip_prefix(b"''") {
            // A quote written doubled inside the literal: `password=''a b''` or `PASSWORD ''x''`.
            let close = memchr::memmem::find(body, b"''").map_or(end, |i| j + 2 + i);
            (j + 2, close)
        } else if let Some(body) = rest.strip_prefix(b"\\'").filter(|_| backslash) {
            let close = memchr::memmem::find(body, b"\\'").map_or(end, |i| j + 2 + i);
            (j + 2, close)
        } else if !conninfo {
            continue;
        } else if rest.first() == Some(&b'\'') && rest.len() > 1 {
            // A conninfo quote in text that is not itself a literal (a dollar-quoted body).
            (j + 1, value_end(b, j + 1, |c| c == b'\''))
        } else {
            let stop = |c: u8| c.is_ascii_whitespace() || c == b'\'' || (uri && c == b'&');
            (j, value_end(b, j, stop))
        };
        if vend > vstart {
            if let Some(s) = text.get(vstart..vend) {
                secrets.push(s.to_string());
            }
            spans.push((vstart, vend, REDACTED));
        }
        from = from.max(vend);
    }
    // scheme://user:secret@host
    let mut from = start;
    while let Some(i) = b.get(from..).and_then(|r| memchr::memmem::find(r, b"://")) {
        let u = from + i + 3;
        let k = u + run(b, u, |c| {
            !matches!(c, b'@' | b'/' | b'?' | b'#' | b'\'' | b'"' | b' ' | b'\n')
        });
        if b.get(k) == Some(&b'@')
            && let Some(c) = b.get(u..k).and_then(|user| memchr::memchr(b':', user))
            && u + c + 1 < k
        {
            if let Some(s) = text.get(u + c + 1..k) {
                secrets.push(s.to_string());
            }
            spans.push((u + c + 1, k, REDACTED));
        }
        from = k.max(u);
    }
}

/// How many bytes of `b` from `at` on are `keep`.
fn run(b: &[u8], at: usize, keep: impl Fn(u8) -> bool) -> usize {
    b.get(at..)
        .map_or(0, |r| r.iter().take_while(|c| keep(**c)).count())
}

/// Where a value starting at `at` ends: at the first byte that is `stop`, a backslash escaping
/// the byte after it; at most at the end of `b`.
fn value_end(b: &[u8], mut at: usize, stop: impl Fn(u8) -> bool) -> usize {
    while let Some(&c) = b.get(at)
        && !stop(c)
    {
        at += if c == b'\\' { 2 } else { 1 };
    }
    at.min(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(text: &str) -> String {
        let mut parts = vec![text.to_string()];
        redact_parts(&mut parts);
        parts.pop().unwrap_or_default()
    }

    #[test]
    fn role_passwords() {
        for (stmt, secret) in [
            ("CREATE ROLE a LOGIN PASSWORD 's3cret-a'", "s3cret-a"),
            ("create user b with encrypted password 'p''q-x'", "p'q-x"),
            ("ALTER ROLE c PASSWORD E'back\\'slash'", "slash"),
            ("ALTER USER d WITH PASSWORD $$dollar-pw$$", "dollar-pw"),
            (
                "ALTER USER d WITH PASSWORD $tg$tagged-pw$tg$ VALID UNTIL 'infinity'",
                "tagged-pw",
            ),
            ("CREATE ROLE e PASSWORD U&'uni\\0041code'", "uni"),
            (
                "CREATE ROLE f PASSWORD /* c */ 'commented-pw'",
                "commented-pw",
            ),
            ("CREATE ROLE f PASSWORD unquotedpw LOGIN", "unquotedpw"),
            ("STATEMENT: alter role f password unquotedpw", "unquotedpw"),
            (
                "CREATE USER MAPPING FOR g SERVER s OPTIONS (user 'g', password 'fdw-pw')",
                "fdw-pw",
            ),
            (
                "ALTER USER MAPPING FOR g SERVER s OPTIONS (SET \"password\" 'fdw-pw2')",
                "fdw-pw2",
            ),
            (
                "SELECT dblink_connect('host=h dbname=d password=conn-pw user=u')",
                "conn-pw",
            ),
            (
                "SELECT dblink('host=h password = ''quoted pw'' user=u', 'select 1')",
                "quoted pw",
            ),
            (
                "CREATE SUBSCRIPTION s CONNECTION 'host=h password=sub-pw' PUBLICATION p",
                "sub-pw",
            ),
            (
                "SELECT dblink('postgresql://u:url-pw@h/d', 'select 1')",
                "url-pw",
            ),
            (
                "SELECT dblink('postgresql://u@h/d?password=q-pw&sslmode=disable', 'x')",
                "q-pw",
            ),
            (
                "DO $$BEGIN EXECUTE 'ALTER ROLE x PASSWORD ''do-pw'''; END$$",
                "do-pw",
            ),
            (
                "DO $$BEGIN ALTER ROLE x PASSWORD 'body-pw'; END$$",
                "body-pw",
            ),
            (
                "SELECT dblink_exec('dbname=d', 'ALTER ROLE x PASSWORD ''exec-pw''')",
                "exec-pw",
            ),
            (
                "CREATE SERVER s FOREIGN DATA WRAPPER w OPTIONS (sslpassword 'ssl-pw')",
                "ssl-pw",
            ),
        ] {
            let out = clean(stmt);
            assert!(!out.contains(secret), "{stmt} -> {out}");
            assert!(out.contains(REDACTED), "{stmt} -> {out}");
        }
    }

    #[test]
    fn copies_in_other_parts_go_too() {
        let mut parts = vec![
            "syntax error at or near \"x9\"".to_string(),
            "STATEMENT: CREATE ROLE r PASSWORD 'x9' FOO".to_string(),
        ];
        redact_parts(&mut parts);
        assert!(!parts.iter().any(|p| p.contains("x9")), "{parts:?}");
    }

    #[test]
    fn harmless_text_is_untouched() {
        for s in [
            "DELETE FROM payments WHERE id = 1",
            "SET password_encryption = 'scram-sha-256'",
            "ALTER ROLE a PASSWORD NULL",
            "password authentication failed for user \"bob\"",
        ] {
            assert_eq!(clean(s), s);
        }
        // Nothing panics on cut-off or odd text.
        for s in [
            "PASSWORD '",
            "password=",
            "x://",
            "'password=''",
            "$$ password $",
            "é password é",
        ] {
            let _ = clean(s);
        }
    }
}
