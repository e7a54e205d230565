//! Just enough SQL reading to classify a logged statement: a lexer that skips comments, strings
//! and dollar quotes, qualified names with quoted identifiers, top-level statement splitting.
//! Works on any text without panicking; it is not a parser and does not try to be one.

/// A token of SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    /// An unquoted word (keyword or identifier), as written.
    Word(&'a str),
    /// A `"quoted identifier"`, with `""` already unescaped when needed.
    Quoted(String),
    /// A `'string'` (or `$$string$$`, `E'…'`) literal's content.
    Str(String),
    Number(&'a str),
    /// `$1`.
    Param(&'a str),
    Punct(u8),
}

impl Token<'_> {
    pub fn is_kw(&self, kw: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

pub struct Lexer<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(s: &'a str) -> Lexer<'a> {
        Lexer {
            s,
            b: s.as_bytes(),
            pos: 0,
        }
    }

    /// Byte offset of the next token (after skipping blanks and comments).
    pub fn offset(&mut self) -> usize {
        self.skip_blank();
        self.pos
    }

    /// Byte offset just after the last token read (no blanks skipped).
    pub fn position(&self) -> usize {
        self.pos
    }

    fn skip_blank(&mut self) {
        let b = self.b;
        loop {
            while self.pos < b.len() && b[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            if b[self.pos..].starts_with(b"--") {
                while self.pos < b.len() && b[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else if b[self.pos..].starts_with(b"/*") {
                // Comments nest in PostgreSQL.
                let mut depth = 0usize;
                while self.pos < b.len() {
                    if b[self.pos..].starts_with(b"/*") {
                        depth += 1;
                        self.pos += 2;
                    } else if b[self.pos..].starts_with(b"*/") {
                        depth -= 1;
                        self.pos += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        self.pos += 1;
                    }
                }
            } else {
                return;
            }
        }
    }

    /// Reads a qualified name (`a`, `s.a`, `"S"."A b"`), leaving the lexer right after it.
    pub fn qualified_name(&mut self) -> Option<String> {
        let save = self.pos;
        let Some(mut name) = self.next().as_ref().and_then(name_part) else {
            self.pos = save;
            return None;
        };
        loop {
            let before = self.pos;
            if self.next() != Some(Token::Punct(b'.')) {
                self.pos = before;
                return Some(name);
            }
            match self.next().as_ref().and_then(name_part) {
                Some(part) => {
                    name.push('.');
                    name.push_str(&part);
                }
                None => {
                    self.pos = before;
                    return Some(name);
                }
            }
        }
    }

    fn quoted(&mut self, q: u8, backslash: bool) -> String {
        // self.pos is just after the opening quote.
        let b = self.b;
        let mut out = Vec::new();
        while self.pos < b.len() {
            let c = b[self.pos];
            if backslash && c == b'\\' && self.pos + 1 < b.len() {
                out.push(b[self.pos + 1]);
                self.pos += 2;
                continue;
            }
            if c == q {
                if b.get(self.pos + 1) == Some(&q) {
                    out.push(q);
                    self.pos += 2;
                    continue;
                }
                self.pos += 1;
                break;
            }
            out.push(c);
            self.pos += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

pub fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        self.skip_blank();
        let b = self.b;
        let start = self.pos;
        let c = *b.get(start)?;
        if c == b'\'' {
            self.pos += 1;
            return Some(Token::Str(self.quoted(b'\'', false)));
        }
        if (c == b'E' || c == b'e') && b.get(start + 1) == Some(&b'\'') {
            self.pos += 2;
            return Some(Token::Str(self.quoted(b'\'', true)));
        }
        if c == b'"' {
            self.pos += 1;
            return Some(Token::Quoted(self.quoted(b'"', false)));
        }
        if c == b'$' {
            let digits = b[start + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            if digits > 0 {
                self.pos += 1 + digits;
                return Some(Token::Param(&self.s[start..self.pos]));
            }
            // Dollar quote: $tag$ … $tag$.
            let tag_len = b[start + 1..]
                .iter()
                .take_while(|d| d.is_ascii_alphanumeric() || **d == b'_')
                .count();
            if b.get(start + 1 + tag_len) == Some(&b'$') {
                let tag = &b[start..start + tag_len + 2];
                let body = start + tag_len + 2;
                let end = memchr::memmem::find(&b[body..], tag).map_or(b.len(), |i| body + i);
                self.pos = (end + tag.len()).min(b.len());
                return Some(Token::Str(
                    String::from_utf8_lossy(&b[body..end]).into_owned(),
                ));
            }
            self.pos += 1;
            return Some(Token::Punct(c));
        }
        if c.is_ascii_digit() {
            while self.pos < b.len() && (b[self.pos].is_ascii_digit() || b[self.pos] == b'.') {
                self.pos += 1;
            }
            return Some(Token::Number(&self.s[start..self.pos]));
        }
        if is_word_byte(c) {
            while self.pos < b.len() && is_word_byte(b[self.pos]) {
                self.pos += 1;
            }
            // Multi-byte characters are word bytes throughout, so this is a char boundary.
            return Some(Token::Word(self.s.get(start..self.pos).unwrap_or("")));
        }
        self.pos += 1;
        Some(Token::Punct(c))
    }
}

/// A name as PostgreSQL resolves it: unquoted parts fold to lower case, quoted parts stay.
pub fn name_part(t: &Token<'_>) -> Option<String> {
    match t {
        Token::Word(w) => Some(w.to_lowercase()),
        Token::Quoted(q) => Some(q.clone()),
        _ => None,
    }
}

/// Reads a qualified name (`a`, `s.a`, `"S"."A b"`, `db.s.a`) from the tokens.
pub fn qualified_name<'a>(
    tokens: &mut std::iter::Peekable<impl Iterator<Item = Token<'a>>>,
) -> Option<String> {
    let first = tokens.next()?;
    let mut name = name_part(&first)?;
    while tokens.peek() == Some(&Token::Punct(b'.')) {
        tokens.next();
        match tokens.next().as_ref().and_then(name_part) {
            Some(part) => {
                name.push('.');
                name.push_str(&part);
            }
            None => break,
        }
    }
    Some(name)
}

/// Splits SQL text into its top-level statements (on `;` outside strings, quotes, comments and
/// parentheses). A single statement is returned as is, without allocating.
pub fn split_statements(s: &str) -> Vec<&str> {
    let trimmed = s.trim_end_matches(|c: char| c.is_whitespace() || c == ';');
    if memchr::memchr(b';', trimmed.as_bytes()).is_none() {
        return vec![trimmed];
    }
    let mut out = Vec::new();
    let mut lexer = Lexer::new(trimmed);
    let mut start = 0;
    let mut depth = 0i32;
    loop {
        let before = lexer.offset();
        let Some(tok) = lexer.next() else { break };
        match tok {
            Token::Punct(b'(') => depth += 1,
            Token::Punct(b')') => depth -= 1,
            Token::Punct(b';') if depth <= 0 => {
                let part = trimmed.get(start..before).unwrap_or("").trim();
                if !part.is_empty() {
                    out.push(part);
                }
                start = before + 1;
            }
            _ => {}
        }
    }
    let part = trimmed.get(start..).unwrap_or("").trim();
    if !part.is_empty() {
        out.push(part);
    }
    out
}

/// Whether `needle` (lower-case ASCII) occurs in `hay`, ignoring ASCII case.
pub fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let n = needle.as_bytes();
    let h = hay.as_bytes();
    let Some(&first) = n.first() else {
        return true;
    };
    memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), h)
        .any(|i| h.len() - i >= n.len() && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_names_strings_comments() {
        let toks: Vec<_> = Lexer::new(
            "/* a /* nested */ c */ DELETE -- x\n FROM \"My \"\"T\"\"\".t WHERE a = E'it\\'s' AND b = $tag$x;y$tag$ AND c = $1",
        )
        .collect();
        assert!(toks[0].is_kw("delete"));
        assert_eq!(toks[2], Token::Quoted("My \"T\"".into()));
        assert!(toks.contains(&Token::Str("it's".into())));
        assert!(toks.contains(&Token::Str("x;y".into())));
        assert!(toks.contains(&Token::Param("$1")));
    }

    #[test]
    fn qualified_names_fold_case() {
        let mut t = Lexer::new("Public.\"Orders\" x").peekable();
        assert_eq!(qualified_name(&mut t).as_deref(), Some("public.Orders"));
    }

    #[test]
    fn splits_top_level_only() {
        assert_eq!(split_statements("SELECT 1;"), vec!["SELECT 1"]);
        assert_eq!(
            split_statements("DELETE FROM a; SELECT ';' ; DO $$ BEGIN; END $$"),
            vec!["DELETE FROM a", "SELECT ';'", "DO $$ BEGIN; END $$"]
        );
    }
}
