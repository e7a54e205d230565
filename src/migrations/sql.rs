//! What one SQL text would do to data: the destructive statements in it, with line numbers.
//!
//! Parsed with `squawk-syntax` (a pure-Rust, error-tolerant PostgreSQL grammar; see
//! ../shared/migrations.md §3): it never drops a whole file for one bad statement, and it parses
//! PL/pgSQL, so `DO $$…$$` blocks, function bodies and `EXECUTE 'literal'` strings are read too —
//! the blind spot of every linter. Text a parser cannot read is still searched by the tokenised
//! keyword scanner (`keywords.rs`), whose findings are labelled `keyword`.
//!
//! This module owns SQL text only; it knows nothing of git, files or frameworks.

use rowan::{GreenNodeData, NodeOrToken};
use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SourceFile, SyntaxKind, SyntaxNode};

use super::keywords;
// Shared with the keyword scanner and the ORM readers, which must not depend on this parser.
pub(crate) use super::found::truncate_chars;
pub use super::found::{FoundOperation, LineIndex};

/// Everything one SQL text tells: what it destroys, what tables it creates (for the cross-check
/// with the database), its meaning as canonical statements (for "edited after commit"), and what
/// could not be parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqlScan {
    pub operations: Vec<FoundOperation>,
    /// Tables created (`CREATE TABLE`, `CREATE TABLE AS`), as written.
    pub creates: Vec<String>,
    /// One canonical string per statement: tokens without whitespace or comments, keywords and
    /// unquoted identifiers lower-cased. Equal lists mean the same SQL, whatever the formatting.
    pub canonical: Vec<String>,
    /// Parse problems, `line N: message`, at most a few.
    pub problems: Vec<String>,
}

/// The reusable entry point: destructive statements of one SQL text (a migration file, a string
/// from an ORM migration, a statement from a log). Statements found only in SQL comments are
/// included with `active: false` (a reader who greps finds them too); filter on `active` for what
/// would run.
pub fn destructive_statements(text: &str) -> Vec<FoundOperation> {
    scan(text).operations
}

/// Scans one SQL text. Never fails: what cannot be parsed is reported in `problems` and searched
/// by the keyword scanner.
pub fn scan(text: &str) -> SqlScan {
    scan_prepared(&preprocess(text))
}

/// Scans a text `preprocess` already made parseable (preprocessing twice is not the same: a
/// `COPY … FROM stdin` whose data lines are gone would blank the rest of the text).
pub fn scan_prepared(prepared: &str) -> SqlScan {
    scan_prepared_with(prepared, Prefilter::On)
}

/// Whether the scan skips, before walking them, the parts of a tree that cannot hold a finding:
/// a subtree with no node the destructive-statement walk acts on, and a DO block or function
/// body whose text names none of the statements that walk reports (so it is not parsed as
/// PL/pgSQL). `Off` walks everything, as the scan did before; the tests compare both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefilter {
    On,
    Off,
}

/// `scan_prepared`, with the prefilter on or off (the same scan either way).
pub fn scan_prepared_with(prepared: &str, prefilter: Prefilter) -> SqlScan {
    let lines = LineIndex::new(prepared);
    let parse = SourceFile::parse(prepared);
    let root = parse.tree();
    let mut scan = SqlScan::default();
    let mut walker = Walker {
        text: prepared,
        lines: &lines,
        out: &mut scan.operations,
        creates: &mut scan.creates,
        prefilter,
    };
    walker.walk(root.syntax(), &[], "sql");
    canonical_and_commented_out(root.syntax(), &lines, &mut scan);

    let errors = parse.errors();
    if !errors.is_empty() {
        for e in errors.iter().take(3) {
            let line = lines.line(u32::from(e.range().start()));
            scan.problems.push(format!("line {line}: {}", e.message()));
        }
        if errors.len() > 3 {
            scan.problems
                .push(format!("… {} more parse errors", errors.len() - 3));
        }
        // Where the grammar failed, the keywords still speak: add what the parser did not see.
        let error_lines: Vec<u32> = errors
            .iter()
            .map(|e| lines.line(u32::from(e.range().start())))
            .collect();
        for found in keywords::scan(prepared) {
            let near_error = error_lines
                .iter()
                .any(|l| found.line + 2 >= *l && found.line <= l + 2);
            let already = scan
                .operations
                .iter()
                .any(|o| o.line == found.line && o.kind == found.kind);
            if near_error && !already {
                scan.operations.push(found);
            }
        }
    }
    // Show placeholders as the template wrote them, not as the parser saw them.
    for op in scan.operations.iter_mut() {
        op.statement = op.statement.replace(PLACEHOLDER, "${…}");
        for o in op.objects.iter_mut() {
            *o = o.replace(PLACEHOLDER, "${…}");
        }
    }
    scan.operations.sort();
    scan.operations.dedup();
    scan.creates.sort();
    scan.creates.dedup();
    scan
}

// --- Statement by statement (the migration history's statement cache) -----------------------
//
// A migration file rewritten in many commits mostly keeps its statements. `migrations::assemble`
// splits every version into statements, scans each distinct statement once and puts the file's
// scan together from them: the same `SqlScan` as `scan` of the whole text, which is what every
// statement-level fact of a scan depends on (a statement's findings, creates and canonical form
// come from its own syntax tree; lines are shifted by where it starts). What this cannot carry
// falls back to the whole text: a statement the grammar cannot fully read (its error recovery
// may cross a semicolon), `BEGIN ATOMIC` bodies (semicolons inside a statement), a BOM.

/// A text made parseable (`preprocess`) and cut into statements: each piece is a byte range of
/// `prepared` (leading whitespace skipped, up to and including its semicolon; the last piece is
/// whatever follows the last semicolon) and the 1-based line it starts on.
#[derive(Debug, Clone)]
pub struct Statements {
    pub prepared: String,
    pub pieces: Vec<(std::ops::Range<usize>, u32)>,
}

impl Statements {
    /// The text of a byte range of `prepared`; `""` for a range that is not one (the ranges in
    /// `pieces` are cut at token boundaries `split_statements` read with `get`, so they all are).
    pub fn slice(&self, range: std::ops::Range<usize>) -> &str {
        self.prepared.get(range).unwrap_or("")
    }

    /// Each statement's text, in order (one per entry of `pieces`).
    pub fn texts(&self) -> impl Iterator<Item = &str> + '_ {
        self.pieces
            .iter()
            .map(|(range, _)| self.slice(range.clone()))
    }
}

/// Cuts an SQL text into statements at the semicolons outside parentheses, with the grammar's
/// own lexer (so a semicolon in a string, a quoted name, a comment or a dollar-quoted body is
/// never a cut). `None` when the text must be scanned whole (see above).
pub fn split_statements(text: &str) -> Option<Statements> {
    use squawk_lexer::TokenKind;
    let prepared = preprocess(text);
    if prepared.starts_with('\u{feff}') {
        return None;
    }
    let mut pieces = Vec::new();
    let mut pos = 0usize;
    let mut line = 1u32;
    let mut start: Option<(usize, u32)> = None;
    let mut depth = 0i64;
    // The statement's first words, to find `CREATE SCHEMA s CREATE TABLE …`: the grammar reads
    // the statement after such a one as one more schema element (across the semicolon).
    let mut words = 0u8;
    let mut schema_statement = false;
    for token in squawk_lexer::tokenize(&prepared) {
        let end = pos + token.len as usize;
        let piece = prepared.get(pos..end)?;
        match token.kind {
            TokenKind::Whitespace if start.is_none() => {}
            _ => {
                if start.is_none() {
                    start = Some((pos, line));
                }
                match token.kind {
                    TokenKind::OpenParen => depth += 1,
                    TokenKind::CloseParen => depth -= 1,
                    TokenKind::Ident if piece.eq_ignore_ascii_case("atomic") => return None,
                    TokenKind::Semi if depth <= 0 => {
                        if let Some((from, at)) = start.take() {
                            pieces.push((from..end, at));
                        }
                        depth = 0;
                        words = 0;
                        schema_statement = false;
                    }
                    _ => {}
                }
                if token.kind == TokenKind::Ident {
                    words = words.saturating_add(1);
                    match words {
                        1 => schema_statement = piece.eq_ignore_ascii_case("create"),
                        2 => schema_statement &= piece.eq_ignore_ascii_case("schema"),
                        _ if schema_statement
                            && (piece.eq_ignore_ascii_case("create")
                                || piece.eq_ignore_ascii_case("grant")) =>
                        {
                            return None;
                        }
                        _ => {}
                    }
                }
            }
        }
        line += memchr::memchr_iter(b'\n', piece.as_bytes()).count() as u32;
        pos = end;
    }
    if pos != prepared.len() {
        return None;
    }
    if let Some((from, at)) = start {
        pieces.push((from..prepared.len(), at));
    }
    Some(Statements { prepared, pieces })
}

/// The scan of a whole text from the scans of its statements (`scan_prepared` of each piece of
/// `split_statements`, with the line each starts on): `None` when one of them is not fully
/// parsed — the whole text must then be scanned, as its problems and keyword fallback are the
/// whole text's.
pub fn join_statements<'a>(parts: impl IntoIterator<Item = (&'a SqlScan, u32)>) -> Option<SqlScan> {
    let mut scan = SqlScan::default();
    for (part, first_line) in parts {
        if !part.problems.is_empty() {
            return None;
        }
        scan.operations
            .extend(part.operations.iter().cloned().map(|mut op| {
                op.line += first_line - 1;
                op
            }));
        scan.creates.extend(part.creates.iter().cloned());
        scan.canonical.extend(part.canonical.iter().cloned());
    }
    scan.operations.sort();
    scan.operations.dedup();
    scan.creates.sort();
    scan.creates.dedup();
    Some(scan)
}

/// `scan`, statement by statement, without a cache: what `migrations::assemble` does across
/// versions, for one text (the tests compare it with `scan`).
pub fn scan_by_statement(text: &str) -> SqlScan {
    let Some(statements) = split_statements(text) else {
        return scan(text);
    };
    let scans: Vec<SqlScan> = statements.texts().map(scan_prepared).collect();
    join_statements(
        scans
            .iter()
            .zip(statements.pieces.iter().map(|(_, line)| *line)),
    )
    .unwrap_or_else(|| scan_prepared(&statements.prepared))
}

/// One pass over the tree's tokens (its green nodes: a cursor allocates for every node it
/// visits): each statement's canonical form, and the destructive statements in SQL comments
/// (`-- DROP TABLE users;`), listed inactive because a reader searching with grep finds them and
/// needs to know they never run.
fn canonical_and_commented_out(root: &SyntaxNode, lines: &LineIndex, scan: &mut SqlScan) {
    let green = root.green();
    let mut offset = u32::from(root.text_range().start());
    for child in green.children() {
        match child {
            NodeOrToken::Node(node) => {
                let is_statement = ast::Stmt::can_cast(kind_of(node.kind()));
                let mut canonical = String::new();
                for_each_token(node, offset, |kind, text, at| {
                    if kind == SyntaxKind::COMMENT {
                        commented_out(text, at, lines, &mut scan.operations);
                    } else if is_statement {
                        push_canonical(&mut canonical, kind, text);
                    }
                });
                offset += u32::from(node.text_len());
                if !canonical.is_empty() {
                    scan.canonical.push(canonical);
                }
            }
            NodeOrToken::Token(token) => {
                if kind_of(token.kind()) == SyntaxKind::COMMENT {
                    commented_out(token.text(), offset, lines, &mut scan.operations);
                }
                offset += u32::from(token.text_len());
            }
        }
    }
}

/// The destructive statements in one comment token starting at byte `at`.
fn commented_out(text: &str, at: u32, lines: &LineIndex, out: &mut Vec<FoundOperation>) {
    let inner = text
        .strip_prefix("--")
        .or_else(|| {
            text.strip_prefix("/*")
                .map(|t| t.strip_suffix("*/").unwrap_or(t))
        })
        .unwrap_or(text);
    let trimmed = inner.trim_start();
    if trimmed.starts_with('+') || trimmed.starts_with("migrate:") || trimmed.starts_with("atlas:")
    {
        return;
    }
    let (body, why) = match trimmed.strip_prefix("rollback") {
        Some(rest) => (rest, "Liquibase --rollback: runs only on rollback"),
        None => (inner, "commented out: never runs"),
    };
    let base = lines.line(at) - 1;
    for mut op in keywords::scan(body) {
        op.line += base;
        op.active = false;
        op.found_by = "keyword";
        op.note = Some(why.to_string());
        out.push(op);
    }
}

fn kind_of(raw: rowan::SyntaxKind) -> SyntaxKind {
    SyntaxKind::from(raw.0)
}

/// Calls `f(kind, text, start)` for every token under `node` (which starts at byte `start`), in
/// order. A loop with its own stack: nesting is the input's to choose.
fn for_each_token(node: &GreenNodeData, start: u32, mut f: impl FnMut(SyntaxKind, &str, u32)) {
    let mut at = start;
    let mut stack = vec![node.children()];
    while let Some(children) = stack.last_mut() {
        match children.next() {
            None => {
                stack.pop();
            }
            Some(NodeOrToken::Node(n)) => stack.push(n.children()),
            Some(NodeOrToken::Token(t)) => {
                f(kind_of(t.kind()), t.text(), at);
                at += u32::from(t.text_len());
            }
        }
    }
}

/// Is `node`, or a node under it, of a kind `wanted` accepts?
fn green_has_node(node: &GreenNodeData, wanted: fn(SyntaxKind) -> bool) -> bool {
    if wanted(kind_of(node.kind())) {
        return true;
    }
    let mut stack = vec![node.children()];
    while let Some(children) = stack.last_mut() {
        match children.next() {
            None => {
                stack.pop();
            }
            Some(NodeOrToken::Node(n)) => {
                if wanted(kind_of(n.kind())) {
                    return true;
                }
                stack.push(n.children());
            }
            Some(NodeOrToken::Token(_)) => {}
        }
    }
    false
}

/// The node kinds `Walker::visit` acts on; every other node is only passed through.
fn walked(kind: SyntaxKind) -> bool {
    matches!(
        kind,
        SyntaxKind::DROP_TABLE
            | SyntaxKind::DROP_SCHEMA
            | SyntaxKind::DROP_TYPE
            | SyntaxKind::DROP_DOMAIN
            | SyntaxKind::DROP_DATABASE
            | SyntaxKind::DROP_OWNED
            | SyntaxKind::DROP_EXTENSION
            | SyntaxKind::TRUNCATE
            | SyntaxKind::DELETE
            | SyntaxKind::UPDATE
            | SyntaxKind::MERGE
            | SyntaxKind::ALTER_TABLE
            | SyntaxKind::CREATE_TABLE
            | SyntaxKind::CREATE_TABLE_AS
            | SyntaxKind::DO
            | SyntaxKind::CREATE_FUNCTION
            | SyntaxKind::CREATE_PROCEDURE
            | SyntaxKind::PLPGSQL_DYN_EXECUTE_STMT
    )
}

/// Could the body of this DO block or function hold a finding? Inside a body the walk reports
/// only DROP, TRUNCATE, DELETE, UPDATE, MERGE, ALTER TABLE and EXECUTE (a CREATE TABLE there is
/// no created table), so a body is worth parsing only if its text names one of them — or could
/// spell one in escapes the parser decodes (a backslash in an `E'…'` body, a `UESCAPE`).
/// Nested bodies are part of the text, so the test covers them too.
fn body_may_hold_finding(node: &SyntaxNode) -> bool {
    const WORDS: [&[u8]; 8] = [
        b"drop",
        b"truncate",
        b"delete",
        b"update",
        b"merge",
        b"alter",
        b"execute",
        b"uescape",
    ];
    let mut found = false;
    for_each_token(&node.green(), 0, |_, text, _| {
        if found {
            return;
        }
        let bytes = text.as_bytes();
        found = memchr::memchr(b'\\', bytes).is_some()
            || (0..bytes.len()).any(|i| {
                WORDS.iter().any(|w| {
                    bytes
                        .get(i..i + w.len())
                        .is_some_and(|b| b.eq_ignore_ascii_case(w))
                })
            });
    });
    found
}

/// Makes a migration text parseable without moving any line: psql meta-commands and `COPY …
/// FROM stdin` data become blank lines, `${…}` and `{{ … }}` placeholders become identifiers.
/// Drizzle's `--> statement-breakpoint` and goose/dbmate annotations are already SQL comments.
pub fn preprocess(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_copy_data = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        // `body` is `line` without its terminator: what follows it is `\n`, `\r\n` or nothing.
        let ending = line.get(body.len()..).unwrap_or_default();
        let trimmed = body.trim_start();
        if in_copy_data {
            if trimmed.starts_with("\\.") {
                in_copy_data = false;
            }
            out.push_str(ending);
            continue;
        }
        if trimmed.starts_with('\\') {
            out.push_str(ending);
            continue;
        }
        let upper = trimmed.to_ascii_uppercase();
        if upper.starts_with("COPY ") && upper.contains("FROM STDIN") {
            in_copy_data = true;
        }
        replace_placeholders(body, &mut out);
        out.push_str(ending);
    }
    out
}

/// What `${…}` and `{{ … }}` become for the parser: an identifier.
const PLACEHOLDER: &str = "__placeholder__";

fn replace_placeholders(line: &str, out: &mut String) {
    let mut rest = line;
    loop {
        let placeholder = rest
            .strip_prefix("${")
            .and_then(|r| r.split_once('}'))
            .or_else(|| rest.strip_prefix("{{").and_then(|r| r.split_once("}}")));
        if let Some((_, after)) = placeholder {
            out.push_str(PLACEHOLDER);
            rest = after;
            continue;
        }
        let mut chars = rest.chars();
        let Some(ch) = chars.next() else {
            break;
        };
        out.push(ch);
        rest = chars.as_str();
    }
}

/// How positions inside a re-parsed text (a PL/pgSQL body, an EXECUTE string) map back to the
/// file: innermost last.
#[derive(Clone, Copy)]
enum Layer<'a> {
    Plpgsql(&'a squawk_syntax::plpgsql::Plpgsql),
    Sql(&'a squawk_syntax::sql_body::SqlBody),
    Decoded(&'a squawk_syntax::decoded_text::DecodedText),
}

struct Walker<'a> {
    text: &'a str,
    lines: &'a LineIndex,
    out: &'a mut Vec<FoundOperation>,
    creates: &'a mut Vec<String>,
    prefilter: Prefilter,
}

impl Walker<'_> {
    fn line_of(&self, node: &SyntaxNode, layers: &[Layer]) -> u32 {
        let mut range = node.text_range();
        for layer in layers.iter().rev() {
            range = match layer {
                Layer::Plpgsql(b) => b.source_range(range),
                Layer::Sql(b) => b.source_range(range),
                Layer::Decoded(d) => d.source_range(range),
            };
        }
        let start = u32::from(range.start()).min(self.text.len() as u32);
        // Skip leading whitespace/comments of the node so the line is the keyword's.
        let first_token = node
            .descendants_with_tokens()
            .filter_map(|e| e.into_token())
            .find(|t| !matches!(t.kind(), SyntaxKind::WHITESPACE | SyntaxKind::COMMENT));
        let skew = first_token
            .map(|t| u32::from(t.text_range().start()) - u32::from(node.text_range().start()))
            .unwrap_or(0);
        let pos = if layers.is_empty() {
            start + skew
        } else {
            start
        };
        self.lines.line(pos)
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        node: &SyntaxNode,
        layers: &[Layer],
        context: &'static str,
        kind: &'static str,
        cascade: bool,
        objects: Vec<String>,
        note: Option<String>,
    ) {
        let line = self.line_of(node, layers);
        let note = match (context, note) {
            ("function_body", None) => Some(
                "inside a function body: runs when the function is called, not when the migration runs"
                    .to_string(),
            ),
            (_, n) => n,
        };
        self.out.push(FoundOperation {
            line,
            kind,
            cascade,
            objects,
            statement: statement_text(node),
            active: true,
            found_by: context,
            note,
        });
    }

    /// Visits every node under `root`: statements nested in CTEs, ALTER TABLE actions, MERGE
    /// actions and SQL-standard function bodies are all descendants.
    /// With the prefilter on, a subtree holding no node of a kind `visit` acts on is not
    /// entered (most of a migration: column lists, expressions, whole CREATE INDEX statements).
    fn walk(&mut self, root: &SyntaxNode, layers: &[Layer], context: &'static str) {
        let mut pending = vec![root.clone()];
        while let Some(node) = pending.pop() {
            let first_child = pending.len();
            for child in node.children() {
                if self.prefilter == Prefilter::Off || green_has_node(&child.green(), walked) {
                    pending.push(child);
                }
            }
            // Popped in the order of the text, as a preorder walk visits them.
            if let Some(children) = pending.get_mut(first_child..) {
                children.reverse();
            }
            // Only the kinds `visit` acts on: what to report is asked of those alone.
            if !walked(node.kind()) {
                continue;
            }
            let ctx = if context == "sql"
                && node
                    .ancestors()
                    .any(|a| a.kind() == SyntaxKind::ATOMIC_BODY)
            {
                "function_body"
            } else {
                context
            };
            self.visit(&node, layers, ctx);
        }
    }

    fn visit(&mut self, node: &SyntaxNode, layers: &[Layer], ctx: &'static str) {
        let cascade = has_child(node, SyntaxKind::CASCADE);
        match node.kind() {
            SyntaxKind::DROP_TABLE => {
                let objects = child_texts(node, SyntaxKind::TABLE_NAME_REF);
                self.push(node, layers, ctx, "drop_table", cascade, objects, None);
            }
            SyntaxKind::DROP_SCHEMA => {
                let objects = child_texts(node, SyntaxKind::SCHEMA_REF);
                self.push(node, layers, ctx, "drop_schema", cascade, objects, None);
            }
            SyntaxKind::DROP_TYPE | SyntaxKind::DROP_DOMAIN => {
                let mut objects = child_texts(node, SyntaxKind::TYPE_NAME_REF);
                objects.extend(child_texts(node, SyntaxKind::DOMAIN_REF));
                let note = cascade
                    .then(|| "CASCADE drops every column of this type, with its data".to_string());
                self.push(node, layers, ctx, "drop_type", cascade, objects, note);
            }
            SyntaxKind::DROP_DATABASE => {
                let objects = child_texts(node, SyntaxKind::DATABASE_REF);
                self.push(node, layers, ctx, "drop_database", cascade, objects, None);
            }
            SyntaxKind::DROP_OWNED => {
                let objects = node
                    .descendants()
                    .filter(|n| n.kind() == SyntaxKind::ROLE_NAME_REF)
                    .map(|n| compact(&n.text().to_string()))
                    .collect();
                let note = Some("drops every object the role owns in this database".to_string());
                self.push(node, layers, ctx, "drop_owned", cascade, objects, note);
            }
            SyntaxKind::DROP_EXTENSION if cascade => {
                let objects = node
                    .children()
                    .filter(|n| {
                        n.kind() != SyntaxKind::IF_EXISTS && n.kind() != SyntaxKind::CASCADE
                    })
                    .map(|n| compact(&n.text().to_string()))
                    .collect();
                let note = Some(
                    "CASCADE drops every column whose type the extension provides".to_string(),
                );
                self.push(node, layers, ctx, "drop_extension", true, objects, note);
            }
            SyntaxKind::TRUNCATE => {
                let objects = node
                    .descendants()
                    .filter(|n| n.kind() == SyntaxKind::TABLE_NAME_REF)
                    .map(|n| compact(&n.text().to_string()))
                    .collect();
                self.push(node, layers, ctx, "truncate", cascade, objects, None);
            }
            SyntaxKind::DELETE if !has_child(node, SyntaxKind::WHERE_CLAUSE) => {
                let objects = child_texts(node, SyntaxKind::RELATION_NAME);
                let note = node
                    .ancestors()
                    .skip(1)
                    .any(|a| a.kind() == SyntaxKind::WITH_TABLE)
                    .then(|| "DELETE inside a WITH query".to_string());
                self.push(node, layers, ctx, "delete_all", false, objects, note);
            }
            SyntaxKind::UPDATE if !has_child(node, SyntaxKind::WHERE_CLAUSE) => {
                let objects = child_texts(node, SyntaxKind::RELATION_NAME);
                self.push(node, layers, ctx, "update_all", false, objects, None);
            }
            SyntaxKind::MERGE
                if node
                    .descendants()
                    .any(|n| n.kind() == SyntaxKind::MERGE_DELETE) =>
            {
                let objects = child_texts(node, SyntaxKind::TABLE_RELATION_NAME);
                let note = Some("MERGE … THEN DELETE removes every matched row".to_string());
                self.push(node, layers, ctx, "merge_delete", false, objects, note);
            }
            SyntaxKind::ALTER_TABLE => self.visit_alter_table(node, layers, ctx),
            SyntaxKind::CREATE_TABLE | SyntaxKind::CREATE_TABLE_AS => {
                if layers.is_empty()
                    && let Some(name) = node.children().find(|n| n.kind() == SyntaxKind::TABLE_NAME)
                {
                    self.creates.push(compact(&name.text().to_string()));
                }
            }
            SyntaxKind::DO if self.skips_body(node) => {}
            SyntaxKind::DO => {
                if let Some(body) = ast::Do::cast(node.clone()).and_then(|d| d.plpgsql()) {
                    let mut inner = layers.to_vec();
                    inner.push(Layer::Plpgsql(&body));
                    self.walk(&body.syntax(), &inner, "do_block");
                }
            }
            SyntaxKind::CREATE_FUNCTION | SyntaxKind::CREATE_PROCEDURE if self.skips_body(node) => {
            }
            SyntaxKind::CREATE_FUNCTION | SyntaxKind::CREATE_PROCEDURE => {
                let (plpgsql, sql_body) = match ast::CreateFunction::cast(node.clone()) {
                    Some(f) => (f.plpgsql(), f.sql_body()),
                    None => match ast::CreateProcedure::cast(node.clone()) {
                        Some(p) => (p.plpgsql(), p.sql_body()),
                        None => (None, None),
                    },
                };
                if let Some(body) = plpgsql {
                    let mut inner = layers.to_vec();
                    inner.push(Layer::Plpgsql(&body));
                    self.walk(&body.syntax(), &inner, "function_body");
                }
                if let Some(body) = sql_body {
                    let mut inner = layers.to_vec();
                    inner.push(Layer::Sql(&body));
                    self.walk(&body.syntax(), &inner, "function_body");
                }
            }
            SyntaxKind::PLPGSQL_DYN_EXECUTE_STMT => self.visit_execute(node, layers, ctx),
            _ => {}
        }
    }

    /// A body the prefilter need not parse (see `body_may_hold_finding`).
    fn skips_body(&self, node: &SyntaxNode) -> bool {
        self.prefilter == Prefilter::On && !body_may_hold_finding(node)
    }

    fn visit_alter_table(&mut self, node: &SyntaxNode, layers: &[Layer], ctx: &'static str) {
        let table = node
            .children()
            .find(|n| n.kind() == SyntaxKind::TABLE_RELATION_NAME)
            .and_then(|n| {
                n.children()
                    .find(|c| c.kind() == SyntaxKind::TABLE_NAME_REF)
            })
            .map(|n| compact(&n.text().to_string()))
            .unwrap_or_default();
        for action in node.children() {
            match action.kind() {
                SyntaxKind::DROP_COLUMN => {
                    let column = child_texts(&action, SyntaxKind::COLUMN_NAME_REF);
                    let objects = column.iter().map(|c| format!("{table}.{c}")).collect();
                    let cascade = has_child(&action, SyntaxKind::CASCADE);
                    self.push(node, layers, ctx, "drop_column", cascade, objects, None);
                }
                SyntaxKind::ALTER_COLUMN => {
                    let Some(set_type) =
                        action.children().find(|n| n.kind() == SyntaxKind::SET_TYPE)
                    else {
                        continue;
                    };
                    let column = child_texts(&action, SyntaxKind::COLUMN_NAME_REF);
                    let has_using = has_child(&set_type, SyntaxKind::USING_EXPR);
                    let target = set_type
                        .children()
                        .find(|n| n.kind() != SyntaxKind::USING_EXPR)
                        .map(|n| compact(&n.text().to_string()))
                        .unwrap_or_default();
                    if !has_using && widening_type(&target) {
                        continue;
                    }
                    let objects = column.iter().map(|c| format!("{table}.{c}")).collect();
                    let note = Some(format!(
                        "column type changed to {target}{}: values that do not fit are lost or the cast fails",
                        if has_using {
                            " with a USING expression"
                        } else {
                            ""
                        }
                    ));
                    self.push(node, layers, ctx, "alter_column_type", false, objects, note);
                }
                SyntaxKind::DETACH_PARTITION => {
                    let objects = child_texts(&action, SyntaxKind::TABLE_NAME_REF);
                    let note = Some(format!(
                        "the partition's rows leave {table} (they stay in the detached table)"
                    ));
                    self.push(node, layers, ctx, "detach_partition", false, objects, note);
                }
                SyntaxKind::SET_UNLOGGED => {
                    let note = Some(
                        "an unlogged table is emptied by crash recovery and is not replicated"
                            .to_string(),
                    );
                    self.push(
                        node,
                        layers,
                        ctx,
                        "set_unlogged",
                        false,
                        vec![table.clone()],
                        note,
                    );
                }
                _ => {}
            }
        }
    }

    /// `EXECUTE 'literal'` is re-parsed as SQL; anything computed is opaque dynamic SQL, with the
    /// keywords of its string pieces as a hint.
    fn visit_execute(&mut self, node: &SyntaxNode, layers: &[Layer], _ctx: &'static str) {
        let Some(expr) = node
            .children()
            .find(|n| n.kind() == SyntaxKind::PLPGSQL_EXPR)
        else {
            return;
        };
        let literals: Vec<ast::Literal> =
            expr.descendants().filter_map(ast::Literal::cast).collect();
        // The expression is one string literal and nothing else (no `||`, no function call).
        let single_literal = match literals.as_slice() {
            [literal] => (compact(&expr.text().to_string())
                == compact(&literal.syntax().text().to_string()))
            .then_some(literal),
            _ => None,
        };
        if let Some(decoded) = single_literal.and_then(|l| l.decoded_value()) {
            let parse = SourceFile::parse(decoded.text());
            let mut inner = layers.to_vec();
            inner.push(Layer::Decoded(&decoded));
            self.walk(&parse.syntax_node(), &inner, "execute_string");
            return;
        }
        let mut hints: Vec<&'static str> = Vec::new();
        for lit in &literals {
            if let Some(decoded) = lit.decoded_value() {
                for found in keywords::scan(decoded.text()) {
                    hints.push(found.kind);
                }
            }
        }
        hints.sort();
        hints.dedup();
        let note = if hints.is_empty() {
            "EXECUTE of a computed string: what it runs cannot be known from the file".to_string()
        } else {
            format!(
                "EXECUTE of a computed string; its text pieces suggest {}",
                hints.join(", ")
            )
        };
        self.push(
            node,
            layers,
            "execute_string",
            "dynamic_sql",
            false,
            Vec::new(),
            Some(note),
        );
    }
}

/// Target types to which any value of the common source types converts without loss.
fn widening_type(target: &str) -> bool {
    let t = target.to_ascii_lowercase();
    matches!(
        t.as_str(),
        "text"
            | "varchar"
            | "charactervarying"
            | "bigint"
            | "int8"
            | "numeric"
            | "decimal"
            | "doubleprecision"
            | "float8"
            | "jsonb"
            | "timestamptz"
    )
}

fn has_child(node: &SyntaxNode, kind: SyntaxKind) -> bool {
    node.children().any(|n| n.kind() == kind)
}

fn child_texts(node: &SyntaxNode, kind: SyntaxKind) -> Vec<String> {
    node.children()
        .filter(|n| n.kind() == kind)
        .map(|n| {
            // RELATION_NAME / TABLE_RELATION_NAME carry ONLY: keep the name itself.
            let name = n
                .children()
                .find(|c| {
                    matches!(
                        c.kind(),
                        SyntaxKind::RELATION_NAME_REF | SyntaxKind::TABLE_NAME_REF
                    )
                })
                .unwrap_or_else(|| n.clone());
            compact(&name.text().to_string())
        })
        .collect()
}

/// Removes the whitespace between the parts of a name — `public . users` → `public.users` —
/// but never inside a quoted identifier: `"Order Items"` stays `"Order Items"`.
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            // `""` inside a quoted name toggles twice: still inside.
            quoted = !quoted;
        }
        if quoted || !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The statement as a reader wants to see it: whitespace collapsed, comments dropped, bounded.
fn statement_text(node: &SyntaxNode) -> String {
    let mut out = String::new();
    for token in node
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
    {
        match token.kind() {
            SyntaxKind::COMMENT => continue,
            SyntaxKind::WHITESPACE => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            _ => {
                let t = token.text();
                if t.contains('\n') {
                    out.push_str(&t.split_whitespace().collect::<Vec<_>>().join(" "));
                } else {
                    out.push_str(t);
                }
            }
        }
    }
    let out = out.trim().to_string();
    truncate_chars(&out, 240)
}

/// `$tag$ body $tag$` → ` body `; an unclosed `$tag$ body` (the lexer reads it to the end of
/// the text) → ` body`; `None` for a token that does not start with `$tag$`.
fn dollar_quoted_body(text: &str) -> Option<&str> {
    let (tag, _) = text.strip_prefix('$')?.split_once('$')?;
    let delimiter = text.get(..tag.len() + 2)?;
    let body = text.strip_prefix(delimiter)?;
    Some(body.strip_suffix(delimiter).unwrap_or(body))
}

/// Appends one token to a statement's meaning as tokens: whitespace and comments dropped,
/// keywords and unquoted identifiers lower-cased, dollar-quoted bodies canonicalised
/// recursively (formatters rewrite function bodies too).
fn push_canonical(out: &mut String, kind: SyntaxKind, text: &str) {
    if matches!(
        kind,
        SyntaxKind::WHITESPACE | SyntaxKind::COMMENT | SyntaxKind::SEMICOLON
    ) {
        return;
    }
    if !out.is_empty() {
        out.push(' ');
    }
    // The body is re-read only when it is shorter than the token: an unclosed `$$` whose
    // body were the token itself would be re-read for ever.
    if kind == SyntaxKind::DOLLAR_QUOTED_STRING
        && let Some(inner) = dollar_quoted_body(text)
    {
        let parse = SourceFile::parse(inner);
        out.push_str("$$ ");
        let mut body = String::new();
        for_each_token(&parse.syntax_node().green(), 0, |kind, text, _| {
            push_canonical(&mut body, kind, text)
        });
        out.push_str(&body);
        out.push_str(" $$");
    } else if kind == SyntaxKind::IDENT && text.starts_with('"')
        || matches!(kind, SyntaxKind::STRING | SyntaxKind::ESC_STRING)
    {
        out.push_str(text);
    } else {
        let from = out.len();
        out.push_str(text);
        if let Some(appended) = out.get_mut(from..) {
            appended.make_ascii_lowercase();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(&'static str, bool, Vec<String>, &'static str)> {
        destructive_statements(sql)
            .into_iter()
            .map(|o| (o.kind, o.cascade, o.objects, o.found_by))
            .collect()
    }

    #[test]
    fn drop_table_cascade_names_every_table() {
        let ops = kinds("DROP TABLE IF EXISTS public.users, \"Orders\" CASCADE;");
        assert_eq!(
            ops,
            vec![(
                "drop_table",
                true,
                vec!["public.users".to_string(), "\"Orders\"".to_string()],
                "sql"
            )]
        );
    }

    #[test]
    fn delete_with_where_is_not_destructive_but_without_is() {
        assert!(kinds("DELETE FROM users WHERE id = 1;").is_empty());
        assert_eq!(kinds("DELETE FROM users;")[0].0, "delete_all");
    }

    #[test]
    fn line_numbers_point_at_the_statement() {
        let ops = destructive_statements("-- header\n\nSELECT 1;\n  TRUNCATE a;\n");
        assert_eq!(ops[0].line, 4);
    }

    #[test]
    fn do_block_execute_literal_is_reparsed() {
        let sql =
            "DO $$\nBEGIN\n  EXECUTE 'DROP TABLE old CASCADE';\n  DELETE FROM audit_log;\nEND $$;";
        let ops = destructive_statements(sql);
        let found: Vec<_> = ops.iter().map(|o| (o.kind, o.found_by, o.line)).collect();
        assert!(
            found.contains(&("drop_table", "execute_string", 3)),
            "{found:?}"
        );
        assert!(found.contains(&("delete_all", "do_block", 4)), "{found:?}");
    }

    #[test]
    fn placeholders_and_meta_commands_keep_lines() {
        let sql = "\\connect mydb\nDROP TABLE ${schema}.users;\n";
        let ops = destructive_statements(sql);
        assert_eq!(ops[0].kind, "drop_table");
        assert_eq!(ops[0].line, 2);
    }

    #[test]
    fn formatting_does_not_change_the_canonical_form() {
        let a = scan(
            "drop table users;\nCREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM s; END $$;",
        );
        let b = scan(
            "DROP   TABLE\n  USERS ;\n-- comment\ncreate function f() returns void language plpgsql as $fn$\nbegin\n  delete from s;\nend\n$fn$;",
        );
        assert_eq!(a.canonical, b.canonical);
        let c = scan("DROP TABLE users CASCADE;");
        assert_ne!(a.canonical[0], c.canonical[0]);
    }

    #[test]
    fn placeholders_and_dollar_quotes_are_read_by_character() {
        // Placeholders next to multi-byte characters, an unclosed one, a line that ends in CR LF.
        let mut out = String::new();
        replace_placeholders("é${schéma}ü{{ naïve }}ß${", &mut out);
        assert_eq!(out, "é__placeholder__ü__placeholder__ß${");
        assert_eq!(
            preprocess("DROP TABLE ${s}.ü;\r\n\\c db\r\n{{x"),
            "DROP TABLE __placeholder__.ü;\r\n\r\n{{x"
        );
        assert_eq!(dollar_quoted_body("$tag$ body $tag$"), Some(" body "));
        assert_eq!(dollar_quoted_body("$é$ü$é$"), Some("ü"));
        assert_eq!(dollar_quoted_body("$$"), Some(""));
        assert_eq!(dollar_quoted_body("$a$a$"), Some("a$"));
        assert_eq!(dollar_quoted_body("$a$ unclosed"), Some(" unclosed"));
        assert_eq!(dollar_quoted_body("é$x$"), None);
        assert_eq!(dollar_quoted_body("$x"), None);
        // Unclosed dollar quotes at the end of a text: the canonical form is computed (it used
        // to recurse on the token itself until the stack overflowed).
        for text in [
            "SELECT $$",
            "SELECT $a$a",
            "SELECT $a$ x",
            "DO $é$ BEGIN",
            "SELECT $$ $",
        ] {
            scan(text);
            scan_by_statement(text);
        }
        // A canonical form of a body with a non-ASCII tag (formatters keep it whole).
        let a = scan("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $é$ DELETE FROM s $é$;");
        let b = scan("create function f() returns void language sql as $é$delete  from s$é$;");
        assert_eq!(a.canonical, b.canonical);
    }

    /// How the scan read canonical forms and commented-out statements before it read green
    /// nodes (through cursors): the reference the green reading must equal.
    fn canonical_by_cursor(node: &SyntaxNode) -> String {
        let mut out = String::new();
        for token in node
            .descendants_with_tokens()
            .filter_map(|e| e.into_token())
        {
            let kind = token.kind();
            if matches!(
                kind,
                SyntaxKind::WHITESPACE | SyntaxKind::COMMENT | SyntaxKind::SEMICOLON
            ) {
                continue;
            }
            let text = token.text();
            if !out.is_empty() {
                out.push(' ');
            }
            if kind == SyntaxKind::DOLLAR_QUOTED_STRING
                && let Some(inner) = dollar_quoted_body(text)
            {
                let parse = SourceFile::parse(inner);
                out.push_str("$$ ");
                out.push_str(&canonical_by_cursor(&parse.syntax_node()));
                out.push_str(" $$");
            } else if kind == SyntaxKind::IDENT && text.starts_with('"')
                || matches!(kind, SyntaxKind::STRING | SyntaxKind::ESC_STRING)
            {
                out.push_str(text);
            } else {
                out.push_str(&text.to_ascii_lowercase());
            }
        }
        out
    }

    fn by_cursor(prepared: &str) -> (Vec<String>, Vec<FoundOperation>) {
        let lines = LineIndex::new(prepared);
        let root = SourceFile::parse(prepared).tree();
        let canonical = root
            .stmts()
            .map(|s| canonical_by_cursor(s.syntax()))
            .filter(|c| !c.is_empty())
            .collect();
        let mut comments = Vec::new();
        for token in root
            .syntax()
            .descendants_with_tokens()
            .filter_map(|e| e.into_token())
            .filter(|t| t.kind() == SyntaxKind::COMMENT)
        {
            commented_out(
                token.text(),
                u32::from(token.text_range().start()),
                &lines,
                &mut comments,
            );
        }
        (canonical, comments)
    }

    #[test]
    fn the_green_reading_is_the_cursor_reading() {
        let texts = [
            include_str!("../../tests/data/sql-cases.sql"),
            "-- DROP TABLE a;\nCREATE TABLE \"Mixed\" (Id INT); /* TRUNCATE b; */ SELECT E'x', 'Y', $$ DROP $$;",
            "DO $f$ BEGIN -- DELETE FROM c;\n PERFORM 1; END $f$; select 1 -- rollback DROP TABLE d;\n;",
            "SELECT FROM WHERE; -- TRUNCATE e;\n((( DROP TABLE f",
            "SELECT $$",
            "",
        ];
        for text in texts {
            let prepared = preprocess(text);
            let lines = LineIndex::new(&prepared);
            let root = SourceFile::parse(&prepared).tree();
            let mut green = SqlScan::default();
            canonical_and_commented_out(root.syntax(), &lines, &mut green);
            let (canonical, mut comments) = by_cursor(&prepared);
            assert_eq!(green.canonical, canonical, "{text}");
            green.operations.sort();
            comments.sort();
            assert_eq!(green.operations, comments, "{text}");
        }
    }

    /// The prefilter's escape guard is not idle: a body spelled in escapes is parsed and its
    /// finding reported.
    #[test]
    fn a_body_spelled_in_escapes_is_still_read() {
        for text in [
            "CREATE FUNCTION r() RETURNS void LANGUAGE plpgsql AS E'BEGIN \\x44ELETE FROM s; END';",
            "DO $$ BEGIN EXECUTE 'TRUNCATE t'; END $$;",
        ] {
            let prepared = preprocess(text);
            let on = scan_prepared_with(&prepared, Prefilter::On);
            assert_eq!(on, scan_prepared_with(&prepared, Prefilter::Off), "{text}");
            assert_eq!(on.operations.len(), 1, "{text}: {:?}", on.operations);
        }
        let harmless = "DO $$ BEGIN PERFORM 1; END $$;";
        assert!(scan(harmless).operations.is_empty());
    }

    #[test]
    fn widening_type_change_is_not_reported() {
        assert!(kinds("ALTER TABLE t ALTER COLUMN c TYPE text;").is_empty());
        assert_eq!(
            kinds("ALTER TABLE t ALTER COLUMN c TYPE varchar(10);")[0].0,
            "alter_column_type"
        );
    }
}
