//! Classification: what one log entry means for the timeline. Destructive statements with the
//! tables they name, DDL, transaction control, errors, server lifecycle, maintenance, sessions,
//! pgaudit and migration bookkeeping; everything else is only counted. Pure functions over text.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;

use crate::evidence::{EventKind, MigrationMark};
use crate::logs::entry::Entry;
use crate::logs::sql::{self, Lexer, Token, qualified_name, split_statements};

/// How a statement moves its session's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxControl {
    Begin,
    Commit,
    Rollback,
}

/// Statements counted, not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CountKind {
    Select,
    Insert,
    Update,
    Delete,
    Other,
}

impl CountKind {
    pub fn name(self) -> &'static str {
        match self {
            CountKind::Select => "select",
            CountKind::Insert => "insert",
            CountKind::Update => "update",
            CountKind::Delete => "delete",
            CountKind::Other => "other",
        }
    }

    /// Writes rolled back with their transaction are what a rollback hypothesis needs.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            CountKind::Insert | CountKind::Update | CountKind::Delete
        )
    }
}

/// A kept event, before the reader adds time, source and session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub kind: EventKind,
    pub tables: Vec<String>,
    pub cascade: bool,
    pub rows: Option<i64>,
    pub migration: Option<MigrationMark>,
    /// Replaces the entry's message as the event text (the statement rather than `statement: …`).
    pub text: Option<String>,
    /// The database the event names when its session has none (autovacuum's `db.schema.table`).
    pub database: Option<String>,
}

impl Classified {
    fn new(kind: EventKind) -> Classified {
        Classified {
            kind,
            tables: Vec::new(),
            cascade: false,
            rows: None,
            migration: None,
            text: None,
            database: None,
        }
    }
}

/// What one statement is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementVerdict<'a> {
    Keep(Classified),
    Count {
        kind: CountKind,
        table: Option<Cow<'a, str>>,
    },
    Tx(TxControl),
}

/// The statements of one entry: nearly always one, which then needs no heap list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statements<'a> {
    One(StatementVerdict<'a>),
    Many(Vec<StatementVerdict<'a>>),
}

impl<'a> IntoIterator for Statements<'a> {
    type Item = StatementVerdict<'a>;
    type IntoIter = std::iter::Chain<
        std::option::IntoIter<StatementVerdict<'a>>,
        std::vec::IntoIter<StatementVerdict<'a>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        match self {
            // An empty Vec does not allocate.
            Statements::One(v) => Some(v).into_iter().chain(Vec::new()),
            Statements::Many(list) => None.into_iter().chain(list),
        }
    }
}

/// What one entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Statements the entry logged (one per top-level statement of the text).
    Statements(Statements<'a>),
    /// An error (`ERROR`, `FATAL`, `PANIC`) with the tables of its STATEMENT.
    Error(Classified),
    /// `connection authorized` (with the application name, if any).
    Connection {
        user: Option<String>,
        database: Option<String>,
        application: Option<String>,
    },
    /// `connection received: host=… port=…`: where the session comes from.
    ConnectionReceived {
        host: String,
    },
    /// `disconnection:`: the session ended.
    Disconnection,
    /// Other kept events (lifecycle, maintenance, audit, raw lines).
    Event(Classified),
    Ignore,
}

/// A migration tool's bookkeeping table (`migrations::frameworks`, the one registry): the tool
/// and the column holding the version it records.
fn migration_table(table: &str) -> Option<(&'static str, &'static str)> {
    crate::migrations::frameworks::by_tracking_table(table).map(|f| (f.tool, f.version_column))
}

/// Classifies one entry.
pub fn classify<'a>(e: &'a Entry<'_>) -> Verdict<'a> {
    if e.raw {
        return Verdict::Event(Classified::new(EventKind::Raw));
    }
    let msg: &str = &e.message;
    match e.severity {
        "LOG" => classify_log(msg, e.detail.as_deref()),
        "ERROR" | "FATAL" | "PANIC" => {
            let mut c = Classified::new(EventKind::Error);
            if let Some(stmt) = e.statement.as_deref() {
                for part in split_statements(stmt) {
                    match classify_statement(part, None) {
                        StatementVerdict::Keep(k) => push_tables(&mut c.tables, k.tables),
                        StatementVerdict::Count { table: Some(t), .. } => {
                            push_tables(&mut c.tables, vec![t.into_owned()])
                        }
                        _ => {}
                    }
                }
            }
            Verdict::Error(c)
        }
        _ => Verdict::Ignore,
    }
}

/// The SQLSTATE of common errors, from their English message, for stderr logs whose prefix has
/// no `%e` (csvlog and jsonlog always carry it). `None` for anything not in the table.
pub fn sqlstate_of_message(msg: &str) -> Option<&'static str> {
    const KNOWN: [(&str, &str); 22] = [
        ("duplicate key value violates unique constraint", "23505"),
        ("violates foreign key constraint", "23503"),
        ("null value in column", "23502"),
        ("violates check constraint", "23514"),
        ("division by zero", "22012"),
        ("value too long for type", "22001"),
        ("invalid input syntax for type", "22P02"),
        ("deadlock detected", "40P01"),
        ("could not serialize access", "40001"),
        ("canceling statement due to statement timeout", "57014"),
        ("canceling statement due to user request", "57014"),
        ("canceling statement due to lock timeout", "55P03"),
        ("canceling statement due to conflict with recovery", "40001"),
        (
            "terminating connection due to administrator command",
            "57P01",
        ),
        (
            "terminating connection due to idle-in-transaction timeout",
            "25P03",
        ),
        ("current transaction is aborted", "25P02"),
        ("syntax error at or near", "42601"),
        ("permission denied for", "42501"),
        ("password authentication failed for user", "28P01"),
        (
            "cannot truncate a table referenced in a foreign key constraint",
            "0A000",
        ),
        ("the database system is in recovery mode", "57P03"),
        ("the database system is starting up", "57P03"),
    ];
    if msg.starts_with("relation \"") && msg.ends_with("\" does not exist") {
        return Some("42P01");
    }
    if msg.starts_with("column \"") && msg.contains("\" does not exist") {
        return Some("42703");
    }
    if msg.starts_with("database \"") && msg.ends_with("\" does not exist") {
        return Some("3D000");
    }
    KNOWN
        .iter()
        .find(|(text, _)| msg.contains(text))
        .map(|(_, code)| *code)
}

fn push_tables(into: &mut Vec<String>, tables: Vec<String>) {
    for t in tables {
        if !into.contains(&t) {
            into.push(t);
        }
    }
}

fn classify_log<'a>(msg: &'a str, detail: Option<&str>) -> Verdict<'a> {
    if let Some(stmt) = msg.strip_prefix("statement: ") {
        return statements(stmt, detail);
    }
    if let Some(rest) = msg.strip_prefix("execute ") {
        return match text_after(rest, ": ") {
            Some(stmt) => statements(stmt, detail),
            None => Verdict::Ignore,
        };
    }
    if let Some(rest) = msg.strip_prefix("duration: ") {
        // Only a duration line that carries the text counts: with log_statement the text was
        // logged (and counted) already, and parse/bind are not executions.
        let Some(what) = text_after(rest, " ms  ") else {
            return Verdict::Ignore;
        };
        if let Some(stmt) = what.strip_prefix("statement: ") {
            return statements(stmt, detail);
        }
        if let Some(x) = what.strip_prefix("execute ") {
            return match text_after(x, ": ") {
                Some(stmt) => statements(stmt, detail),
                None => Verdict::Ignore,
            };
        }
        return Verdict::Ignore;
    }
    if let Some(rest) = msg.strip_prefix("AUDIT: ") {
        return Verdict::Event(audit(rest));
    }
    if let Some(rest) = msg.strip_prefix("connection authorized: ") {
        let field = |key: &str| -> Option<String> {
            let (_, v) = rest.split_once(key)?;
            // application_name is last and may hold spaces; the others end at a space.
            let end = if key == "application_name=" {
                " SSL enabled"
            } else {
                " "
            };
            let value = v.split_once(end).map_or(v, |(value, _)| value);
            Some(value.to_string()).filter(|s| !s.is_empty())
        };
        return Verdict::Connection {
            user: field("user="),
            database: field("database="),
            application: field("application_name="),
        };
    }
    if let Some(rest) = msg.strip_prefix("connection received: host=") {
        let host = rest.split(' ').next().unwrap_or("").to_string();
        return Verdict::ConnectionReceived { host };
    }
    if msg.starts_with("replication connection authorized: ") {
        return Verdict::Event(Classified::new(EventKind::Connection));
    }
    if msg.starts_with("disconnection: ") {
        return Verdict::Disconnection;
    }
    if let Some(c) = maintenance(msg) {
        return Verdict::Event(c);
    }
    match lifecycle(msg) {
        Some(kind) => Verdict::Event(Classified::new(kind)),
        None => Verdict::Ignore,
    }
}

/// The text after the first `needle` in `hay`, found with `find`'s searchers.
fn text_after<'a>(hay: &'a str, needle: &str) -> Option<&'a str> {
    // A match of a whole UTF-8 needle in UTF-8 text ends on a char boundary.
    hay.get(find(hay, needle)? + needle.len()..)
}

/// `str::find` builds a searcher per call; for these short needles memchr's is cheaper.
fn find(hay: &str, needle: &str) -> Option<usize> {
    match needle {
        " ms  " => MS.find(hay.as_bytes()),
        ": " => COLON.find(hay.as_bytes()),
        _ => memchr::memmem::find(hay.as_bytes(), needle.as_bytes()),
    }
}

/// Searchers built once (building one per line showed in profiles).
static MS: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b" ms  "));
static COLON: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b": "));
static FROM_LOWER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b" from "));
static FROM_UPPER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b" FROM "));

/// Entries not worth building: a `duration:` line that only times a statement already logged
/// (half of a log written with log_statement=all + log_min_duration_statement=0).
pub fn is_noise(severity: &str, message: &[u8]) -> bool {
    severity == "LOG" && message.starts_with(b"duration: ") && MS.find(message).is_none()
}

/// Entries `classify` ignores whatever their prefix fields and follow-up lines say: a LOG
/// `duration:` line that does not carry a statement to count, such as the timing of a bind step
/// (`duration: 0.004 ms  bind P_2: SELECT …` and its `DETAIL:  parameters: …`, a third of the
/// lines of a log of prepared statements). The same reading as `classify_log`'s, on the bytes of
/// the message (its first line).
pub fn is_ignored_duration(severity: &str, message: &[u8]) -> bool {
    if severity != "LOG" {
        return false;
    }
    let Some(rest) = message.strip_prefix(b"duration: ") else {
        return false;
    };
    match MS.find(rest).and_then(|i| rest.get(i + 5..)) {
        None => true,
        Some(what) => !what.starts_with(b"statement: ") && !what.starts_with(b"execute "),
    }
}

fn lifecycle(msg: &str) -> Option<EventKind> {
    const STARTS: [(&str, EventKind); 34] = [
        ("starting PostgreSQL ", EventKind::ServerStart),
        (
            "received smart shutdown request",
            EventKind::ShutdownRequest,
        ),
        ("received fast shutdown request", EventKind::ShutdownRequest),
        ("received immediate shutdown request", EventKind::Crash),
        ("database system is shut down", EventKind::ServerShutdown),
        ("abnormal database system shutdown", EventKind::Crash),
        ("server process (PID ", EventKind::Crash),
        (
            "terminating any other active server processes",
            EventKind::Crash,
        ),
        (
            "all server processes terminated; reinitializing",
            EventKind::Crash,
        ),
        (
            "database system was not properly shut down; automatic recovery in progress",
            EventKind::CrashRecovery,
        ),
        (
            "starting point-in-time recovery to ",
            EventKind::RecoveryStart,
        ),
        ("starting archive recovery", EventKind::RecoveryStart),
        ("entering standby mode", EventKind::RecoveryStart),
        ("recovery stopping ", EventKind::RecoveryStop),
        (
            "last completed transaction was at log time ",
            EventKind::LastCompletedTransaction,
        ),
        ("selected new timeline ID: ", EventKind::NewTimeline),
        ("received promote request", EventKind::Promotion),
        ("promote trigger file found", EventKind::Promotion),
        ("archive recovery complete", EventKind::Promotion),
        (
            "database system is ready to accept connections",
            EventKind::ReadyToAcceptConnections,
        ),
        (
            "database system is ready to accept read-only connections",
            EventKind::ReadyToAcceptConnections,
        ),
        ("database system was interrupted", EventKind::Other),
        ("database system was shut down", EventKind::Other),
        ("redo starts at ", EventKind::Other),
        ("redo done at ", EventKind::Other),
        ("redo is not required", EventKind::Other),
        ("consistent recovery state reached", EventKind::Other),
        ("restored log file ", EventKind::Other),
        ("pausing at the end of recovery", EventKind::Other),
        ("recovery has paused", EventKind::Other),
        (
            "received SIGHUP, reloading configuration files",
            EventKind::Other,
        ),
        ("parameter \"", EventKind::Other),
        (
            "unexpected EOF on client connection with an open transaction",
            EventKind::Other,
        ),
        (
            "shutting down due to startup process failure",
            EventKind::Crash,
        ),
    ];
    for (start, kind) in STARTS {
        if msg.starts_with(start) {
            // A background worker exiting with code 1 at shutdown is normal, not a crash.
            return Some(kind);
        }
    }
    if msg.starts_with("process ")
        && (msg.contains(" still waiting for ") || msg.contains(" detected deadlock "))
    {
        return Some(EventKind::Other);
    }
    if (msg.starts_with("background worker ") || msg.contains(" process (PID "))
        && msg.contains(") was terminated by signal ")
    {
        return Some(EventKind::Crash);
    }
    None
}

/// Autovacuum, autoanalyze and checkpoints.
fn maintenance(msg: &str) -> Option<Classified> {
    if msg.starts_with("automatic ") && msg.contains(" of table \"") {
        let kind = if msg.starts_with("automatic analyze") {
            EventKind::Autoanalyze
        } else if msg.contains("vacuum") {
            EventKind::Autovacuum
        } else {
            return None;
        };
        let mut c = Classified::new(kind);
        let (_, rest) = msg.split_once(" of table \"")?;
        // "db.schema.table": the database is the first part.
        let full = rest.split_once('"').map_or(rest, |(full, _)| full);
        let (db, table) = full.split_once('.').unwrap_or(("", full));
        // The catalogs' own maintenance is not evidence about the application's data.
        if ["pg_catalog.", "information_schema.", "pg_toast."]
            .iter()
            .any(|s| table.starts_with(s))
        {
            return None;
        }
        c.tables.push(table.to_string());
        c.database = (!db.is_empty()).then(|| db.to_string());
        if let Some((_, tuples)) = msg.split_once("tuples: ") {
            let n: String = tuples.chars().take_while(char::is_ascii_digit).collect();
            c.rows = n.parse().ok();
        }
        return Some(c);
    }
    if msg.starts_with("checkpoint starting:") || msg.starts_with("checkpoint complete:") {
        return Some(Classified::new(EventKind::Checkpoint));
    }
    None
}

/// `AUDIT: SESSION,1,1,WRITE,DELETE,,,DELETE FROM important WHERE id > 10,<not logged>`.
fn audit(rest: &str) -> Classified {
    let mut c = Classified::new(EventKind::Audit);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(rest.as_bytes());
    if let Some(Ok(rec)) = reader.records().next() {
        let object = rec.get(6).unwrap_or("");
        if !object.is_empty() {
            c.tables.push(object.to_string());
        }
        if let Some(stmt) = rec.get(7) {
            if let StatementVerdict::Keep(k) = classify_statement(stmt, None) {
                push_tables(&mut c.tables, k.tables);
                c.cascade = k.cascade;
            } else if let StatementVerdict::Count { table: Some(t), .. } =
                classify_statement(stmt, None)
            {
                push_tables(&mut c.tables, vec![t.into_owned()]);
            }
        }
    }
    c
}

fn statements<'a>(text: &'a str, detail: Option<&str>) -> Verdict<'a> {
    // `EXECUTE name` logs the prepared text as `DETAIL:  prepare: …`.
    let one = |s: &'a str| {
        if let Some(prepared) = detail.and_then(|d| d.strip_prefix("prepare: "))
            && first_word(s).eq_ignore_ascii_case("execute")
        {
            return into_owned(classify_statement(prepared, None));
        }
        classify_statement(s, detail)
    };
    // One statement (no `;` inside): no list to build.
    let trimmed = text.trim_end_matches(|c: char| c.is_whitespace() || c == ';');
    if memchr::memchr(b';', trimmed.as_bytes()).is_none() {
        return Verdict::Statements(Statements::One(one(trimmed)));
    }
    let out = split_statements(text).into_iter().map(one).collect();
    Verdict::Statements(Statements::Many(out))
}

fn into_owned(v: StatementVerdict<'_>) -> StatementVerdict<'static> {
    match v {
        StatementVerdict::Keep(k) => StatementVerdict::Keep(k),
        StatementVerdict::Tx(t) => StatementVerdict::Tx(t),
        StatementVerdict::Count { kind, table } => StatementVerdict::Count {
            kind,
            table: table.map(|t| Cow::Owned(t.into_owned())),
        },
    }
}

fn first_word(s: &str) -> &str {
    // ASCII text (nearly always) is read on bytes; other text takes the Unicode path.
    let s = s.trim_start_matches(ASCII_SPACES);
    let b = s.as_bytes();
    if b.first().is_none_or(u8::is_ascii) {
        let len = b
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        return s.get(..len).unwrap_or("");
    }
    split_while(s.trim_start(), |c| c.is_ascii_alphanumeric() || c == '_').0
}

/// `s` cut where the first char failing `keep` starts.
fn split_while(s: &str, keep: impl Fn(char) -> bool) -> (&str, &str) {
    s.find(|c: char| !keep(c))
        .and_then(|end| s.split_at_checked(end))
        .unwrap_or((s, ""))
}

/// A fast name for the common case: an unquoted, unqualified-or-qualified plain name.
fn plain_name_at(s: &str) -> Option<&str> {
    let (name, rest) = split_while(s.trim_start(), |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'
    });
    let next = rest.chars().next();
    (!name.is_empty() && next.is_none_or(|c| c.is_whitespace() || c == '(' || c == ';'))
        .then_some(name)
}

/// Classifies one statement. `detail` supplies bind parameters (`parameters: $1 = '…'`).
pub fn classify_statement<'a>(stmt: &'a str, detail: Option<&str>) -> StatementVerdict<'a> {
    let word = first_word_after_comments(stmt);
    // Lower-cased into a stack buffer: no allocation per statement.
    let mut buf = [0u8; 16];
    let lower = match buf.get_mut(..word.len()) {
        Some(lower) => {
            lower.copy_from_slice(word.as_bytes());
            lower.make_ascii_lowercase();
            std::str::from_utf8(lower).unwrap_or("")
        }
        // Longer than any keyword decided here.
        None => "",
    };
    match lower {
        "select" => {
            if sql::contains_ignore_case(stmt, "pg_stat_reset") {
                let mut c = Classified::new(EventKind::StatsReset);
                c.text = Some(stmt.to_string());
                return StatementVerdict::Keep(c);
            }
            StatementVerdict::Count {
                kind: CountKind::Select,
                table: select_table(stmt),
            }
        }
        "insert" => insert(stmt, detail),
        "update" => update(stmt, detail),
        "delete" => delete(stmt),
        "truncate" => truncate(stmt),
        "drop" => drop_statement(stmt),
        "alter" => alter(stmt),
        "create" | "comment" | "grant" | "revoke" | "reassign" | "security" => {
            let mut c = keep(EventKind::Ddl, stmt);
            if let Some(t) = created_table(stmt) {
                c.tables.push(t);
            }
            StatementVerdict::Keep(c)
        }
        "copy" => copy(stmt),
        "begin" | "start" => StatementVerdict::Tx(TxControl::Begin),
        "commit" | "end" => {
            if sql::contains_ignore_case(stmt, "prepared") {
                StatementVerdict::Count {
                    kind: CountKind::Other,
                    table: None,
                }
            } else {
                StatementVerdict::Tx(TxControl::Commit)
            }
        }
        "rollback" | "abort" => {
            let mut t = Lexer::new(stmt).skip(1);
            match t.next() {
                Some(tok) if tok.is_kw("to") || tok.is_kw("prepared") => StatementVerdict::Count {
                    kind: CountKind::Other,
                    table: None,
                },
                _ => StatementVerdict::Tx(TxControl::Rollback),
            }
        }
        "with" => with_statement(stmt, detail),
        _ => StatementVerdict::Count {
            kind: CountKind::Other,
            table: None,
        },
    }
}

fn first_word_after_comments(stmt: &str) -> &str {
    let t = stmt.trim_start();
    if !t.starts_with("--") && !t.starts_with("/*") && !t.starts_with('(') {
        return first_word(t);
    }
    let mut lx = Lexer::new(stmt);
    loop {
        match lx.next() {
            Some(Token::Word(w)) => return w,
            Some(Token::Punct(b'(')) => continue,
            _ => return "",
        }
    }
}

fn keep(kind: EventKind, stmt: &str) -> Classified {
    let mut c = Classified::new(kind);
    c.text = Some(stmt.to_string());
    c
}

/// `SELECT … FROM name`: the first table, for the per-table counts.
fn select_table(stmt: &str) -> Option<Cow<'_, str>> {
    let b = stmt.as_bytes();
    let i = match (FROM_LOWER.find(b), FROM_UPPER.find(b)) {
        (Some(a), Some(c)) => a.min(c),
        (a, c) => a.or(c)?,
    };
    let rest = stmt.get(i + " from ".len()..)?;
    if let Some(n) = plain_name_at(rest) {
        return Some(Cow::Borrowed(n));
    }
    let mut t = Lexer::new(rest).peekable();
    qualified_name(&mut t).map(Cow::Owned)
}

/// The whitespace `str::trim_start` skips, of ASCII (`u8::is_ascii_whitespace` lacks `\x0B`).
const ASCII_SPACES: [char; 6] = ['\t', '\n', '\x0B', '\x0C', '\r', ' '];

fn is_ascii_space(c: u8) -> bool {
    matches!(c, b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r' | b' ')
}

/// `name_after` on bytes for the usual text (`UPDATE pgbench_accounts SET …`): the keywords,
/// each followed by ASCII blanks, then a plain lower-case name followed by a blank, `(`, `;` or
/// the end. `None` for anything else (comments, quotes, `ONLY`, upper case, other scripts): the
/// lexer reads those. Gives what the lexer's reading gives for the text it accepts.
fn name_after_plain<'a>(stmt: &'a str, keywords: &[&str]) -> Option<(&'a str, usize)> {
    // `trim_ascii_start` skips the blanks the lexer skips between tokens.
    let mut rest = stmt.as_bytes();
    for kw in keywords {
        let (word, after) = rest.trim_ascii_start().split_at_checked(kw.len())?;
        if !word.eq_ignore_ascii_case(kw.as_bytes())
            || !after.first().is_some_and(u8::is_ascii_whitespace)
        {
            return None;
        }
        rest = after;
    }
    let rest = rest.trim_ascii_start();
    let len = rest
        .iter()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || **c == b'_' || **c == b'.')
        .count();
    let (name, after) = rest.split_at_checked(len)?;
    let next_ok = after
        .first()
        .is_none_or(|c| is_ascii_space(*c) || *c == b'(' || *c == b';');
    // `only` (and `only.x`, which the lexer reads as ONLY then `.x`) is left to the lexer.
    if len == 0 || !next_ok || name.starts_with(b"only") {
        return None;
    }
    let end = stmt.len() - after.len();
    Some((stmt.get(end - len..end)?, end))
}

/// After `KEYWORD [ONLY]`: the table name, fast path first.
fn name_after<'a>(stmt: &'a str, keywords: &[&str]) -> (Option<Cow<'a, str>>, usize) {
    if let Some((name, end)) = name_after_plain(stmt, keywords) {
        return (Some(Cow::Borrowed(name)), end);
    }
    name_after_lexed(stmt, keywords)
}

/// `name_after` by lexing: comments, quoted names and `ONLY` understood.
fn name_after_lexed<'a>(stmt: &'a str, keywords: &[&str]) -> (Option<Cow<'a, str>>, usize) {
    let mut lx = Lexer::new(stmt);
    for kw in keywords {
        match lx.next() {
            Some(t) if t.is_kw(kw) => {}
            _ => return (None, 0),
        }
    }
    let mut rest = lx.remaining();
    let mut peek = Lexer::new(rest);
    if peek.next().is_some_and(|t| t.is_kw("only")) {
        rest = peek.remaining();
    }
    let off = stmt.len() - rest.len();
    if let Some(n) = plain_name_at(rest)
        && !n.eq_ignore_ascii_case("only")
    {
        let start = off + (rest.len() - rest.trim_start().len());
        return (Some(Cow::Borrowed(n)), start + n.len());
    }
    let mut lx = Lexer::new(rest);
    let name = lx.qualified_name();
    let end = off + lx.offset();
    (name.map(Cow::Owned), end)
}

/// Whether the tokens after `from` hold a top-level keyword.
fn has_top_level(stmt: &str, from: usize, kw: &str) -> bool {
    if let Some(known) = top_level_plain(stmt.get(from..).unwrap_or(""), kw) {
        return known;
    }
    has_top_level_lexed(stmt, from, kw)
}

/// `has_top_level` without the lexer, for the usual text (`SET a = a + $1 WHERE id = 5`): when
/// nothing before the keyword can nest or quote (no parenthesis, quote, comment or dollar
/// quote), a whole word equal to it is the top-level token the lexer would find. `None` when
/// that cannot be told this way; the lexer decides then. (Lexing every UPDATE's SET list was a
/// tenth of the time of reading a pgbench log.)
fn top_level_plain(s: &str, kw: &str) -> Option<bool> {
    let b = s.as_bytes();
    let k = kw.as_bytes();
    let &first = k.first()?;
    // Bytes before `plain_upto` were checked: none opens a nesting, a quote or a comment.
    let mut plain_upto = 0usize;
    for i in memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), b) {
        if !b
            .get(i..i + k.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(k))
        {
            continue;
        }
        // A pair (`--`, `/*`, `$x`) may straddle the previous check's end.
        if !b
            .get(plain_upto.saturating_sub(1)..i)
            .is_some_and(plain_sql)
        {
            return None;
        }
        plain_upto = i;
        let before = i.checked_sub(1).and_then(|j| b.get(j)).copied();
        let after = b.get(i + k.len()).copied();
        match before {
            // `1where` lexes as a number then a word, `$q$…$q$where` as a string then a word:
            // left to the lexer.
            Some(c) if c.is_ascii_digit() || c == b'$' => return None,
            // Inside a longer word (`somewhere`).
            Some(c) if sql::is_word_byte(c) => continue,
            _ => {}
        }
        if after.is_some_and(sql::is_word_byte) {
            // A longer word starting here (`whereas`).
            continue;
        }
        return Some(true);
    }
    // No whole-word occurrence (the lexer finds none either, quoted or not).
    Some(false)
}

/// No byte that makes the lexer nest, quote or skip a comment: `(`, `)`, `'`, `"`, `--`, `/*`,
/// or a `$` other than a `$1` parameter.
fn plain_sql(b: &[u8]) -> bool {
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'(' | b')' | b'\'' | b'"' => return false,
            b'-' | b'/' if matches!((c, b.get(i + 1)), (b'-', Some(b'-')) | (b'/', Some(b'*'))) => {
                return false;
            }
            b'$' if !b.get(i + 1).is_some_and(u8::is_ascii_digit) => return false,
            _ => {}
        }
    }
    true
}

/// `has_top_level` by lexing: parentheses counted, strings, quotes and comments skipped.
fn has_top_level_lexed(stmt: &str, from: usize, kw: &str) -> bool {
    if !sql::contains_ignore_case(stmt.get(from..).unwrap_or(""), kw) {
        return false;
    }
    let mut depth = 0i32;
    for t in Lexer::new(stmt.get(from..).unwrap_or("")) {
        match t {
            Token::Punct(b'(') => depth += 1,
            Token::Punct(b')') => depth -= 1,
            t if depth == 0 && t.is_kw(kw) => return true,
            _ => {}
        }
    }
    false
}

fn insert<'a>(stmt: &'a str, detail: Option<&str>) -> StatementVerdict<'a> {
    let (table, end) = name_after(stmt, &["insert", "into"]);
    if let Some(t) = &table
        && let Some((tool, col)) = migration_table(t)
        && let Some(values) = stmt.get(end..)
        && let Some(version) = inserted_value(values, col, detail)
    {
        let mut c = keep(EventKind::MigrationBookkeeping, stmt);
        c.tables.push(t.to_string());
        let version = if tool == "django" {
            inserted_value(values, "app", detail)
                .map_or(version.clone(), |app| format!("{app}.{version}"))
        } else {
            version
        };
        c.migration = Some(MigrationMark {
            tool: tool.to_string(),
            version,
        });
        return StatementVerdict::Keep(c);
    }
    if table.is_some() && has_top_level(stmt, end, "select") {
        let mut c = keep(EventKind::BulkLoad, stmt);
        c.tables.extend(table.map(Cow::into_owned));
        return StatementVerdict::Keep(c);
    }
    StatementVerdict::Count {
        kind: CountKind::Insert,
        table,
    }
}

/// The value inserted into `column`: `(cols) VALUES (vals)`, with `$n` looked up in the
/// DETAIL's `parameters: $1 = '…'`.
fn inserted_value(rest: &str, column: &str, detail: Option<&str>) -> Option<String> {
    let mut toks = Lexer::new(rest).take(400).peekable();
    let mut cols = Vec::new();
    if toks.next_if_eq(&Token::Punct(b'(')).is_some() {
        for t in toks.by_ref() {
            if t == Token::Punct(b')') {
                break;
            }
            cols.extend(sql::name_part(&t));
        }
    }
    if !toks.next().is_some_and(|t| t.is_kw("values")) {
        return None;
    }
    // Without a column list the version is the first column for every tool that has one.
    let idx = if cols.is_empty() {
        0
    } else {
        cols.iter().position(|c| c.eq_ignore_ascii_case(column))?
    };
    let mut values = Vec::new();
    let mut depth = 0;
    for t in toks {
        match t {
            Token::Punct(b'(') => depth += 1,
            Token::Punct(b')') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Token::Punct(b',') => {}
            other if depth == 1 => values.push(other),
            _ => {}
        }
    }
    value_text(values.get(idx)?, detail)
}

fn value_text(t: &Token<'_>, detail: Option<&str>) -> Option<String> {
    match t {
        Token::Str(s) => Some(s.clone()),
        Token::Number(n) => Some(n.to_string()),
        Token::Param(p) => parameter(detail?, p),
        _ => None,
    }
}

/// `$2` from `parameters: $1 = '…', $2 = '…'`.
fn parameter(detail: &str, p: &str) -> Option<String> {
    let params = detail.strip_prefix("parameters: ")?;
    let key = format!("{p} = ");
    let (_, rest) = params.split_once(&key)?;
    if let Some(q) = rest.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = q.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push('\'');
                    continue;
                }
                break;
            }
            out.push(c);
        }
        return Some(out);
    }
    let value = rest.split_once(',').map_or(rest, |(value, _)| value);
    Some(value.trim().to_string()).filter(|v| v != "NULL")
}

fn update<'a>(stmt: &'a str, detail: Option<&str>) -> StatementVerdict<'a> {
    let (table, end) = name_after(stmt, &["update"]);
    if let Some(t) = &table
        && let Some(("alembic", col)) = migration_table(t)
        && let Some(set) = stmt.get(end..)
    {
        // UPDATE alembic_version SET version_num='abc' WHERE …
        let toks: Vec<Token<'_>> = Lexer::new(set).take(200).collect();
        let version = toks.windows(3).find_map(|w| match w {
            [name, Token::Punct(b'='), value]
                if sql::name_part(name).is_some_and(|n| n.eq_ignore_ascii_case(col)) =>
            {
                value_text(value, detail)
            }
            _ => None,
        });
        if let Some(version) = version {
            let mut c = keep(EventKind::MigrationBookkeeping, stmt);
            c.tables.push(t.to_string());
            c.migration = Some(MigrationMark {
                tool: "alembic".into(),
                version,
            });
            return StatementVerdict::Keep(c);
        }
    }
    if table.is_some() && !has_top_level(stmt, end, "where") {
        let mut c = keep(EventKind::UpdateAll, stmt);
        c.tables.extend(table.map(Cow::into_owned));
        return StatementVerdict::Keep(c);
    }
    StatementVerdict::Count {
        kind: CountKind::Update,
        table,
    }
}

fn delete(stmt: &str) -> StatementVerdict<'_> {
    let (table, end) = name_after(stmt, &["delete", "from"]);
    let Some(table) = table else {
        return StatementVerdict::Count {
            kind: CountKind::Delete,
            table: None,
        };
    };
    let kind = if has_top_level(stmt, end, "where") {
        EventKind::Delete
    } else {
        EventKind::DeleteAll
    };
    let mut c = keep(kind, stmt);
    c.tables.push(table.into_owned());
    StatementVerdict::Keep(c)
}

/// Comma-separated names after the leading keywords, skipping `IF EXISTS`, `ONLY`, `*`.
fn name_list(stmt: &str, skip: usize) -> (Vec<String>, bool) {
    let mut toks = Lexer::new(stmt).skip(skip).peekable();
    let mut names = Vec::new();
    let mut cascade = false;
    let mut expect_name = true;
    while let Some(t) = toks.peek().cloned() {
        if t.is_kw("if") || t.is_kw("exists") || t.is_kw("only") || t == Token::Punct(b'*') {
            toks.next();
            continue;
        }
        if t == Token::Punct(b',') {
            toks.next();
            expect_name = true;
            continue;
        }
        if t.is_kw("cascade") {
            cascade = true;
            toks.next();
            continue;
        }
        if expect_name {
            match qualified_name(&mut toks) {
                Some(n) => names.push(n),
                None => break,
            }
            expect_name = false;
        } else {
            toks.next();
        }
    }
    (names, cascade)
}

fn truncate(stmt: &str) -> StatementVerdict<'_> {
    let mut lx = Lexer::new(stmt);
    lx.next();
    let skip = if Lexer::new(stmt).nth(1).is_some_and(|t| t.is_kw("table")) {
        2
    } else {
        1
    };
    let (mut names, cascade) = name_list(stmt, skip);
    names.retain(|n| !matches!(n.as_str(), "restart" | "continue" | "identity" | "restrict"));
    let mut c = keep(EventKind::Truncate, stmt);
    c.tables = names;
    c.cascade = cascade;
    StatementVerdict::Keep(c)
}

fn drop_statement(stmt: &str) -> StatementVerdict<'_> {
    let toks: Vec<Token<'_>> = Lexer::new(stmt).take(3).collect();
    let second = toks.get(1);
    let kind_of = |kw: &str| second.is_some_and(|t| t.is_kw(kw));
    let (kind, skip) = if kind_of("table") {
        (EventKind::DropTable, 2)
    } else if kind_of("schema") {
        (EventKind::DropSchema, 2)
    } else if kind_of("type") || kind_of("domain") {
        (EventKind::DropType, 2)
    } else if kind_of("database") {
        (EventKind::DropDatabase, 2)
    } else if kind_of("owned") {
        (EventKind::DropOwned, 3)
    } else {
        let (_, cascade) = name_list(stmt, 2);
        let mut c = keep(EventKind::Ddl, stmt);
        c.cascade = cascade;
        return StatementVerdict::Keep(c);
    };
    let (names, cascade) = name_list(stmt, skip);
    let mut c = keep(kind, stmt);
    c.cascade = cascade;
    if matches!(kind, EventKind::DropTable | EventKind::DropSchema) {
        c.tables = names;
    }
    StatementVerdict::Keep(c)
}

fn alter(stmt: &str) -> StatementVerdict<'_> {
    let toks: Vec<Token<'_>> = Lexer::new(stmt).take(2).collect();
    if !toks.get(1).is_some_and(|t| t.is_kw("table")) {
        return StatementVerdict::Keep(keep(EventKind::Ddl, stmt));
    }
    let mut lx = Lexer::new(stmt).skip(2).peekable();
    while lx
        .peek()
        .is_some_and(|t| t.is_kw("if") || t.is_kw("exists") || t.is_kw("only"))
    {
        lx.next();
    }
    let table = qualified_name(&mut lx);
    let rest: Vec<Token<'_>> = lx.collect();
    let mut depth = 0i32;
    let mut drops_column = false;
    for (i, t) in rest.iter().enumerate() {
        match t {
            Token::Punct(b'(') => depth += 1,
            Token::Punct(b')') => depth -= 1,
            t if depth == 0 && t.is_kw("drop") => {
                let next = rest.get(i + 1);
                let preceding = rest.get(i.saturating_sub(3)..i).unwrap_or_default();
                let after_alter_column = i >= 2 && preceding.iter().any(|p| p.is_kw("alter"));
                let not_column = next.is_none_or(|n| {
                    ["constraint", "default", "not", "identity", "expression"]
                        .iter()
                        .any(|k| n.is_kw(k))
                });
                if next.is_some_and(|n| n.is_kw("column")) || (!not_column && !after_alter_column) {
                    drops_column = true;
                }
            }
            t if depth == 0 && t.is_kw("cascade") => {}
            _ => {}
        }
    }
    let mut c = keep(
        if drops_column {
            EventKind::DropColumn
        } else {
            EventKind::Ddl
        },
        stmt,
    );
    c.cascade = rest.iter().any(|t| t.is_kw("cascade"));
    c.tables.extend(table);
    StatementVerdict::Keep(c)
}

/// `CREATE [UNLOGGED|TEMP] TABLE [IF NOT EXISTS] name`, `CREATE INDEX … ON name`.
fn created_table(stmt: &str) -> Option<String> {
    let mut lx = Lexer::new(stmt).peekable();
    let first = lx.next()?;
    if !first.is_kw("create") && !first.is_kw("comment") {
        return None;
    }
    loop {
        let t = lx.next()?;
        if t.is_kw("table") {
            while lx
                .peek()
                .is_some_and(|t| t.is_kw("if") || t.is_kw("not") || t.is_kw("exists"))
            {
                lx.next();
            }
            return qualified_name(&mut lx);
        }
        if t.is_kw("on") {
            while lx.peek().is_some_and(|t| t.is_kw("only")) {
                lx.next();
            }
            return qualified_name(&mut lx);
        }
        if matches!(t, Token::Punct(b'(')) {
            return None;
        }
    }
}

fn copy(stmt: &str) -> StatementVerdict<'_> {
    let (table, end) = name_after(stmt, &["copy"]);
    if has_top_level(stmt, end, "from") {
        let mut c = keep(EventKind::BulkLoad, stmt);
        c.tables.extend(table.map(Cow::into_owned));
        return StatementVerdict::Keep(c);
    }
    StatementVerdict::Count {
        kind: CountKind::Select,
        table,
    }
}

/// `WITH … ( … ) DELETE/UPDATE/INSERT/SELECT …`: the main statement decides.
fn with_statement<'a>(stmt: &'a str, detail: Option<&str>) -> StatementVerdict<'a> {
    let mut depth = 0i32;
    let mut lx = Lexer::new(stmt);
    let mut saw_close = false;
    loop {
        let from_here = lx.remaining();
        let Some(t) = lx.next() else { break };
        match t {
            Token::Punct(b'(') => depth += 1,
            Token::Punct(b')') => {
                depth -= 1;
                saw_close = true;
            }
            Token::Word(w) if depth == 0 && saw_close => {
                let w = w.to_ascii_lowercase();
                if matches!(w.as_str(), "delete" | "update" | "insert" | "select") {
                    return classify_statement(from_here, detail);
                }
            }
            _ => {}
        }
    }
    StatementVerdict::Count {
        kind: CountKind::Other,
        table: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(stmt: &str) -> Classified {
        match classify_statement(stmt, None) {
            StatementVerdict::Keep(c) => c,
            other => panic!("{stmt}: {other:?}"),
        }
    }

    fn counted(stmt: &str) -> (CountKind, Option<String>) {
        match classify_statement(stmt, None) {
            StatementVerdict::Count { kind, table } => (kind, table.map(|t| t.into_owned())),
            other => panic!("{stmt}: {other:?}"),
        }
    }

    #[test]
    fn destructive_statements() {
        let c = kept("DELETE FROM child_restrict;");
        assert_eq!(
            (c.kind, c.tables),
            (EventKind::DeleteAll, vec!["child_restrict".to_string()])
        );
        let c = kept("delete from ONLY public.\"Parent\" p where id <= 500");
        assert_eq!(
            (c.kind, c.tables),
            (EventKind::Delete, vec!["public.Parent".to_string()])
        );
        let c = kept("DELETE FROM t USING (SELECT 1 WHERE true) s");
        assert_eq!(c.kind, EventKind::DeleteAll);
        let c = kept("TRUNCATE TABLE ONLY a, s.b * RESTART IDENTITY CASCADE");
        assert_eq!(c.tables, vec!["a".to_string(), "s.b".to_string()]);
        assert!(c.cascade);
        let c = kept("TRUNCATE parent");
        assert!(!c.cascade);
        let c = kept("UPDATE accounts SET balance = 0");
        assert_eq!(c.kind, EventKind::UpdateAll);
        assert_eq!(
            counted("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 5;"),
            (CountKind::Update, Some("pgbench_accounts".into()))
        );
        let c = kept("UPDATE t SET a = (SELECT x FROM y WHERE z)");
        assert_eq!(c.kind, EventKind::UpdateAll);
        let c = kept("DROP TABLE IF EXISTS a, \"B\" CASCADE");
        assert_eq!(
            (c.kind, c.tables.clone(), c.cascade),
            (EventKind::DropTable, vec!["a".into(), "B".into()], true)
        );
        assert_eq!(kept("DROP SCHEMA app CASCADE").kind, EventKind::DropSchema);
        assert_eq!(
            kept("DROP TYPE order_status CASCADE").kind,
            EventKind::DropType
        );
        assert_eq!(kept("DROP DATABASE s09").kind, EventKind::DropDatabase);
        assert_eq!(kept("DROP OWNED BY app CASCADE").kind, EventKind::DropOwned);
        assert_eq!(kept("DROP INDEX i").kind, EventKind::Ddl);
        let c = kept("ALTER TABLE public.users DROP COLUMN email");
        assert_eq!(
            (c.kind, c.tables),
            (EventKind::DropColumn, vec!["public.users".to_string()])
        );
        assert_eq!(kept("ALTER TABLE u DROP email").kind, EventKind::DropColumn);
        assert_eq!(kept("ALTER TABLE u DROP CONSTRAINT c").kind, EventKind::Ddl);
        assert_eq!(
            kept("ALTER TABLE u ALTER COLUMN c DROP DEFAULT").kind,
            EventKind::Ddl
        );
        assert_eq!(
            kept("ALTER TABLE u ALTER c DROP NOT NULL").kind,
            EventKind::Ddl
        );
        let c = kept("CREATE TABLE IF NOT EXISTS s.t (id int)");
        assert_eq!(
            (c.kind, c.tables),
            (EventKind::Ddl, vec!["s.t".to_string()])
        );
        assert_eq!(
            kept("WITH d AS (SELECT 1) DELETE FROM t").kind,
            EventKind::DeleteAll
        );
        assert_eq!(kept("/* app */ DELETE FROM t").kind, EventKind::DeleteAll);
    }

    #[test]
    fn transactions_and_counts() {
        for (s, tx) in [
            ("BEGIN", TxControl::Begin),
            (
                "start transaction isolation level serializable",
                TxControl::Begin,
            ),
            ("COMMIT", TxControl::Commit),
            ("END;", TxControl::Commit),
            ("ROLLBACK", TxControl::Rollback),
            ("abort", TxControl::Rollback),
        ] {
            assert_eq!(classify_statement(s, None), StatementVerdict::Tx(tx), "{s}");
        }
        assert_eq!(counted("ROLLBACK TO SAVEPOINT a").0, CountKind::Other);
        assert_eq!(
            counted("SELECT abalance FROM pgbench_accounts WHERE aid = 1"),
            (CountKind::Select, Some("pgbench_accounts".into()))
        );
        assert_eq!(
            counted("INSERT INTO pgbench_history (tid) VALUES (1)"),
            (CountKind::Insert, Some("pgbench_history".into()))
        );
        assert_eq!(
            kept("INSERT INTO t SELECT g FROM generate_series(1,10) g").kind,
            EventKind::BulkLoad
        );
        assert_eq!(
            kept("COPY public.parent (id) FROM stdin").kind,
            EventKind::BulkLoad
        );
        assert_eq!(
            counted("COPY public.parent (id) TO stdout").0,
            CountKind::Select
        );
        assert_eq!(kept("SELECT pg_stat_reset()").kind, EventKind::StatsReset);
    }

    #[test]
    fn migration_bookkeeping() {
        let mark = |s: &str, d: Option<&str>| match classify_statement(s, d) {
            StatementVerdict::Keep(c) => c.migration.map(|m| (m.tool, m.version)),
            _ => None,
        };
        assert_eq!(
            mark(
                "UPDATE alembic_version SET version_num='ae1027a6acf' WHERE alembic_version.version_num = '1975ea83b712'",
                None
            ),
            Some(("alembic".into(), "ae1027a6acf".into()))
        );
        assert_eq!(
            mark(
                "INSERT INTO alembic_version (version_num) VALUES ('1975ea83b712')",
                None
            ),
            Some(("alembic".into(), "1975ea83b712".into()))
        );
        assert_eq!(
            mark(
                "INSERT INTO \"schema_migrations\" (\"version\") VALUES ($1)",
                Some("parameters: $1 = '20240101000000'")
            ),
            Some(("schema_migrations".into(), "20240101000000".into()))
        );
        assert_eq!(
            mark(
                "INSERT INTO \"flyway_schema_history\" (\"installed_rank\", \"version\", \"description\") VALUES (2, '2', 'drop')",
                None
            ),
            Some(("flyway".into(), "2".into()))
        );
        assert_eq!(
            mark(
                "INSERT INTO \"django_migrations\" (\"app\", \"name\", \"applied\") VALUES ('shop', '0002_remove', now())",
                None
            ),
            Some(("django".into(), "shop.0002_remove".into()))
        );
        assert_eq!(
            mark(
                "insert into knex_migrations (name, batch) values ('20240101_drop.js', 2)",
                None
            ),
            Some(("knex".into(), "20240101_drop.js".into()))
        );
        assert_eq!(
            mark(
                "INSERT INTO goose_db_version (version_id, is_applied) VALUES (3, true)",
                None
            ),
            Some(("goose".into(), "3".into()))
        );
        assert_eq!(
            mark(
                "INSERT INTO _sqlx_migrations ( version, description, success) VALUES ( 20240101, 'x', TRUE )",
                None
            ),
            Some(("sqlx".into(), "20240101".into()))
        );
        assert_eq!(
            mark(
                "INSERT INTO \"_prisma_migrations\" (\"id\",\"checksum\",\"migration_name\") VALUES ('a','b','20240101_init')",
                None
            ),
            Some(("prisma".into(), "20240101_init".into()))
        );
    }

    #[test]
    fn log_messages() {
        let e = |msg: &str| Entry {
            severity: "LOG",
            message: Cow::Owned(msg.to_string()),
            ..Entry::default()
        };
        let kind = |msg: &str| match classify(&e(msg)) {
            Verdict::Event(c) => Some(c.kind),
            _ => None,
        };
        assert_eq!(
            kind("starting PostgreSQL 15.18 on x86_64"),
            Some(EventKind::ServerStart)
        );
        assert_eq!(
            kind(
                "recovery stopping before commit of transaction 779, time 2026-11-23 12:13:24.431043+00"
            ),
            Some(EventKind::RecoveryStop)
        );
        assert_eq!(
            kind("selected new timeline ID: 2"),
            Some(EventKind::NewTimeline)
        );
        assert_eq!(
            kind("server process (PID 12) was terminated by signal 9: Killed"),
            Some(EventKind::Crash)
        );
        let vac = e(
            "automatic vacuum of table \"s06.public.parent\": index scans: 1\npages: 32 removed\ntuples: 5000 removed, 1000 remain",
        );
        match classify(&vac) {
            Verdict::Event(c) => {
                assert_eq!(c.kind, EventKind::Autovacuum);
                assert_eq!(c.tables, vec!["public.parent".to_string()]);
                assert_eq!(c.rows, Some(5000));
            }
            other => panic!("{other:?}"),
        }
        match classify(&e(
            "AUDIT: SESSION,1,1,DDL,DROP TABLE,TABLE,public.important,DROP TABLE important,<not logged>",
        )) {
            Verdict::Event(c) => assert_eq!(
                (c.kind, c.tables),
                (
                    EventKind::Audit,
                    vec!["public.important".to_string(), "important".to_string()]
                )
            ),
            other => panic!("{other:?}"),
        }
        match classify(&e(
            "connection authorized: user=postgres database=s09 application_name=pg_dump",
        )) {
            Verdict::Connection { application, .. } => {
                assert_eq!(application.as_deref(), Some("pg_dump"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(classify(&e("duration: 0.1 ms")), Verdict::Ignore));
        assert!(matches!(
            classify(&e("duration: 0.1 ms  parse <unnamed>: DELETE FROM t")),
            Verdict::Ignore
        ));
        match classify(&e("execute <unnamed>: DELETE FROM t")) {
            Verdict::Statements(v) => {
                let v: Vec<_> = v.into_iter().collect();
                assert!(
                    matches!(&v[0], StatementVerdict::Keep(c) if c.kind == EventKind::DeleteAll)
                )
            }
            other => panic!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod sqlstate_tests {
    use super::sqlstate_of_message;

    #[test]
    fn common_errors_get_their_sqlstate() {
        assert_eq!(
            sqlstate_of_message("duplicate key value violates unique constraint \"orders_pkey\""),
            Some("23505")
        );
        assert_eq!(
            sqlstate_of_message("relation \"gone\" does not exist"),
            Some("42P01")
        );
        assert_eq!(sqlstate_of_message("deadlock detected"), Some("40P01"));
        assert_eq!(sqlstate_of_message("something else entirely"), None);
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_keyword_search_agrees_with_the_lexer() {
        for (s, kw) in [
            (
                " SET abalance = abalance + -4049 WHERE aid = 61391;",
                "where",
            ),
            (" SET abalance = abalance + $1 WHERE aid = $2;", "where"),
            (" SET somewhere = 1", "where"),
            (" SET somewhere = 1 where x", "where"),
            (" SET a = 1where", "where"),
            (" SET a = $1where", "where"),
            (" SET a = $q$x$q$where", "where"),
            (" SET a = 'where'", "where"),
            (" SET a = (SELECT 1 WHERE true)", "where"),
            (" SET a = 1 -- where\n", "where"),
            (" SET a = 1 /* where */", "where"),
            (" SET \"where\" = 1", "where"),
            (" (a, b) SELECT 1", "select"),
            (" VALUES (1) ", "select"),
            (" SET a = 1.where", "where"),
            (" SET é = 1 WHERE", "where"),
            (" SET éwhere = 1", "where"),
            ("", "where"),
            ("WHERE", "where"),
        ] {
            let lexed = has_top_level_lexed(s, 0, kw);
            if let Some(fast) = top_level_plain(s, kw) {
                assert_eq!(fast, lexed, "{s:?} {kw}");
            }
            assert_eq!(has_top_level(s, 0, kw), lexed, "{s:?} {kw}");
        }
        // The usual statement is decided without the lexer.
        assert_eq!(
            top_level_plain(" SET abalance = abalance + $1 WHERE aid = $2;", "where"),
            Some(true)
        );
    }

    fn first_word_unicode(s: &str) -> &str {
        let s = s.trim_start();
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        s.get(..end).unwrap()
    }

    #[test]
    fn plain_names_agree_with_the_lexer() {
        for (s, kws) in [
            ("UPDATE pgbench_accounts SET a = 1", &["update"][..]),
            ("update  public.t\tSET", &["update"]),
            (
                "INSERT INTO pgbench_history (tid) VALUES (1)",
                &["insert", "into"],
            ),
            ("insert into t(a) values (1)", &["insert", "into"]),
            ("DELETE FROM t;", &["delete", "from"]),
            ("DELETE FROM t", &["delete", "from"]),
            ("UPDATE ONLY t SET", &["update"]),
            ("UPDATE only t SET", &["update"]),
            ("UPDATE only.t SET", &["update"]),
            ("UPDATE onlyx SET", &["update"]),
            ("UPDATE \x0Bt SET", &["update"]),
            ("UPDATE\x0Bt SET", &["update"]),
            ("UPDATE /* c */ t SET", &["update"]),
            ("UPDATE \"T\" SET", &["update"]),
            ("UPDATE T SET", &["update"]),
            ("UPDATE t\u{a0}SET", &["update"]),
            ("UPDATE 1t SET", &["update"]),
            ("UPDATE", &["update"]),
            ("UPDATE ", &["update"]),
            ("DELETE FROMt", &["delete", "from"]),
        ] {
            assert_eq!(name_after(s, kws), name_after_lexed(s, kws), "{s:?}");
        }
        assert!(name_after_plain("UPDATE pgbench_accounts SET a = 1", &["update"]).is_some());
    }

    proptest! {
        #[test]
        fn plain_names_agree_with_the_lexer_on_any_text(
            s in proptest::string::string_regex(
                "(UPDATE|update|INSERT|into|DELETE|from|ONLY|only|[ \t\n\x0B]|[a-z_.]{1,6}|[A-Z0-9\\(;\"$]|/\\*|\\*/|--|\u{a0}|é){0,10}"
            ).unwrap_or_else(|e| panic!("{e}")),
            kws in prop_oneof![
                Just(&["update"][..]),
                Just(&["insert", "into"][..]),
                Just(&["delete", "from"][..]),
            ],
        ) {
            prop_assert_eq!(name_after(&s, kws), name_after_lexed(&s, kws), "{:?}", s);
            prop_assert_eq!(first_word(&s), first_word_unicode(&s), "{:?}", s);
        }

        #[test]
        fn plain_keyword_search_agrees_with_the_lexer_on_any_text(
            s in proptest::string::string_regex(
                "([ a-zA-Z0-9_$.;,=+*/'\"()\\-\n\t]|where|WHERE|select|from|--|/\\*|\\*/|\\$\\$|é){0,24}"
            ).unwrap_or_else(|e| panic!("{e}")),
            kw in prop_oneof![Just("where"), Just("select"), Just("from")],
        ) {
            prop_assert_eq!(has_top_level(&s, 0, kw), has_top_level_lexed(&s, 0, kw), "{:?}", s);
        }
    }
}
