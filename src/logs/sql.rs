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

    /// The text from the next token on (after skipping blanks and comments).
    pub fn remaining(&mut self) -> &'a str {
        self.skip_blank();
        // Blanks and comments end on ASCII bytes or at the end, so on a char boundary.
        self.s.get(self.pos..).unwrap_or_default()
    }

    /// Byte offset just after the last token read (no blanks skipped).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The text not read yet.
    fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or_default()
    }

    /// The text of the token read from `start` to here. A token starts on a char boundary and a
    /// word, number or parameter ends before an ASCII byte or at the end, so on one too.
    fn text_from(&self, start: usize) -> &'a str {
        self.s.get(start..self.pos).unwrap_or_default()
    }

    fn skip_blank(&mut self) {
        loop {
            self.pos += self
                .rest()
                .iter()
                .take_while(|c| c.is_ascii_whitespace())
                .count();
            let rest = self.rest();
            if rest.starts_with(b"--") {
                self.pos += memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            } else if rest.starts_with(b"/*") {
                self.pos += comment_len(rest);
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
        let body = self.rest();
        let mut rest = body;
        let mut out = Vec::new();
        let after = loop {
            match rest {
                [b'\\', c, tail @ ..] if backslash => {
                    out.push(*c);
                    rest = tail;
                }
                [c, d, tail @ ..] if *c == q && *d == q => {
                    out.push(q);
                    rest = tail;
                }
                [c, tail @ ..] if *c == q => break tail,
                [c, tail @ ..] => {
                    out.push(*c);
                    rest = tail;
                }
                [] => break rest,
            }
        };
        self.pos += body.len() - after.len();
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Length of the `/* … */` comment `text` starts with, nested ones included (PostgreSQL nests
/// them); all of `text` when the comment is not closed.
fn comment_len(text: &[u8]) -> usize {
    let mut depth = 0usize;
    let mut rest = text;
    loop {
        rest = match rest {
            [b'/', b'*', tail @ ..] => {
                depth += 1;
                tail
            }
            [b'*', b'/', tail @ ..] => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return text.len() - tail.len();
                }
                tail
            }
            [_, tail @ ..] => tail,
            [] => return text.len(),
        };
    }
}

pub fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        self.skip_blank();
        let start = self.pos;
        let rest = self.rest();
        let (&c, after) = rest.split_first()?;
        if c == b'\'' {
            self.pos += 1;
            return Some(Token::Str(self.quoted(b'\'', false)));
        }
        if (c == b'E' || c == b'e') && after.first() == Some(&b'\'') {
            self.pos += 2;
            return Some(Token::Str(self.quoted(b'\'', true)));
        }
        if c == b'"' {
            self.pos += 1;
            return Some(Token::Quoted(self.quoted(b'"', false)));
        }
        if c == b'$' {
            let digits = after.iter().take_while(|d| d.is_ascii_digit()).count();
            if digits > 0 {
                self.pos += 1 + digits;
                return Some(Token::Param(self.text_from(start)));
            }
            // Dollar quote: $tag$ … $tag$ (an unclosed one runs to the end).
            let tag_len = after
                .iter()
                .take_while(|d| d.is_ascii_alphanumeric() || **d == b'_')
                .count();
            if let Some((tag, body)) = rest
                .split_at_checked(tag_len + 2)
                .filter(|(tag, _)| tag.last() == Some(&b'$'))
            {
                let content = memchr::memmem::find(body, tag)
                    .and_then(|end| body.get(..end))
                    .unwrap_or(body);
                self.pos += (2 * tag.len() + content.len()).min(rest.len());
                return Some(Token::Str(String::from_utf8_lossy(content).into_owned()));
            }
            self.pos += 1;
            return Some(Token::Punct(c));
        }
        if c.is_ascii_digit() {
            self.pos += rest
                .iter()
                .take_while(|d| d.is_ascii_digit() || **d == b'.')
                .count();
            return Some(Token::Number(self.text_from(start)));
        }
        if is_word_byte(c) {
            // Multi-byte characters are word bytes throughout, so the word ends on a boundary.
            self.pos += rest.iter().take_while(|d| is_word_byte(**d)).count();
            return Some(Token::Word(self.text_from(start)));
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
    memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), h).any(|i| {
        h.get(i..i + n.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(n))
    })
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
    fn unclosed_quotes_and_comments_run_to_the_end() {
        assert_eq!(
            Lexer::new("DO $body$ never closed").collect::<Vec<_>>(),
            vec![Token::Word("DO"), Token::Str(" never closed".into())]
        );
        assert_eq!(
            Lexer::new("x /* a /* b */ still open").collect::<Vec<_>>(),
            vec![Token::Word("x")]
        );
        assert_eq!(
            Lexer::new("E'dangling\\").collect::<Vec<_>>(),
            vec![Token::Str("dangling\\".into())]
        );
        assert_eq!(
            Lexer::new("$ $1 $$é$$ é").collect::<Vec<_>>(),
            vec![
                Token::Punct(b'$'),
                Token::Param("$1"),
                Token::Str("é".into()),
                Token::Word("é")
            ]
        );
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
