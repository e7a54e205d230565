//! ORM migrations in their own language: Alembic and Django (Python), Rails (Ruby), Laravel
//! (PHP), Knex/Sequelize/TypeORM (JavaScript/TypeScript), Ecto (Elixir), Liquibase (XML/YAML),
//! and hand-written migration scripts.
//!
//! A small lexer splits the file into code, comments and string literals. Framework calls
//! (`op.drop_table('x')`, `migrations.DeleteModel('X')`, `remove_column :t, :c`, …) are matched in
//! code — and in comments, where they are reported inactive ("commented out", seed 000). Every
//! string literal that holds SQL (`op.execute("…")`, `RunSQL`, `execute <<~SQL`, `DB::statement`,
//! `knex.raw`, `queryRunner.query`) is parsed as SQL by `sql.rs`.

use std::sync::LazyLock;

use regex::Regex;

use super::sql::{self, FoundOperation, LineIndex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seg {
    Code,
    Comment,
    Str,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    kind: Seg,
    start: usize,
    end: usize,
    /// The literal's content (without quotes) for strings; the text after the marker for
    /// comments.
    inner: (usize, usize),
}

#[derive(Debug, Clone, Copy, Default)]
struct Lang {
    hash_comment: bool,
    slash_comment: bool,
    triple_quotes: bool,
    backtick: bool,
    ruby_heredoc: bool,
    php_heredoc: bool,
    xml: bool,
}

fn lang_of(path: &str) -> Lang {
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "py" => Lang {
            hash_comment: true,
            triple_quotes: true,
            ..Lang::default()
        },
        "rb" => Lang {
            hash_comment: true,
            ruby_heredoc: true,
            ..Lang::default()
        },
        "exs" | "ex" => Lang {
            hash_comment: true,
            triple_quotes: true,
            ..Lang::default()
        },
        "php" => Lang {
            hash_comment: true,
            slash_comment: true,
            php_heredoc: true,
            ..Lang::default()
        },
        "js" | "ts" | "cjs" | "mjs" | "go" | "java" | "kt" => Lang {
            slash_comment: true,
            backtick: true,
            ..Lang::default()
        },
        "xml" => Lang {
            xml: true,
            ..Lang::default()
        },
        "yaml" | "yml" | "sh" => Lang {
            hash_comment: true,
            ..Lang::default()
        },
        _ => Lang::default(),
    }
}

fn lex(text: &str, lang: Lang) -> Vec<Segment> {
    let b = text.as_bytes();
    let mut segs = Vec::new();
    let mut code_start = 0;
    let mut i = 0;
    let push = |segs: &mut Vec<Segment>, code_start: &mut usize, seg: Segment| {
        if seg.start > *code_start {
            segs.push(Segment {
                kind: Seg::Code,
                start: *code_start,
                end: seg.start,
                inner: (*code_start, seg.start),
            });
        }
        *code_start = seg.end;
        segs.push(seg);
    };
    let line_end = |from: usize| {
        b.get(from..)
            .and_then(|r| memchr::memchr(b'\n', r))
            .map_or(b.len(), |n| from + n)
    };
    while let Some(rest @ &[c, ..]) = b.get(i..) {
        if lang.xml
            && let Some(body) = rest.strip_prefix(b"<!--")
        {
            let end = memchr::memmem::find(body, b"-->").map_or(b.len(), |n| i + 4 + n + 3);
            push(
                &mut segs,
                &mut code_start,
                seg(
                    Seg::Comment,
                    i,
                    end,
                    i + 4,
                    end.saturating_sub(3).max(i + 4),
                ),
            );
            i = end;
        } else if lang.xml
            && let Some(body) = rest.strip_prefix(b"<![CDATA[")
        {
            let end = memchr::memmem::find(body, b"]]>").map_or(b.len(), |n| i + 9 + n + 3);
            push(
                &mut segs,
                &mut code_start,
                seg(Seg::Str, i, end, i + 9, end.saturating_sub(3).max(i + 9)),
            );
            i = end;
        } else if lang.xml && (rest.starts_with(b"<sql>") || rest.starts_with(b"<sql ")) {
            // Liquibase `<sql>…</sql>`: the element's text is SQL.
            let open_end = memchr::memchr(b'>', rest).map_or(b.len(), |n| i + n + 1);
            let close = b
                .get(open_end..)
                .and_then(|r| memchr::memmem::find(r, b"</sql>"))
                .map_or(b.len(), |n| open_end + n);
            push(
                &mut segs,
                &mut code_start,
                seg(Seg::Str, i, close, open_end.min(close), close),
            );
            i = close.max(i + 1);
        } else if lang.xml {
            i += 1;
        } else if (lang.hash_comment && c == b'#' && !(lang.php_heredoc && rest.starts_with(b"#[")))
            || (lang.slash_comment && rest.starts_with(b"//"))
        {
            let end = line_end(i);
            let skip = if c == b'#' { 1 } else { 2 };
            push(
                &mut segs,
                &mut code_start,
                seg(Seg::Comment, i, end, i + skip, end),
            );
            i = end;
        } else if lang.slash_comment
            && let Some(body) = rest.strip_prefix(b"/*")
        {
            let end = memchr::memmem::find(body, b"*/").map_or(b.len(), |n| i + 2 + n + 2);
            push(
                &mut segs,
                &mut code_start,
                seg(
                    Seg::Comment,
                    i,
                    end,
                    i + 2,
                    end.saturating_sub(2).max(i + 2),
                ),
            );
            i = end;
        } else if lang.triple_quotes
            && let Some((q, body)) = triple_quote(rest)
        {
            let end = memchr::memmem::find(body, q).map_or(b.len(), |n| i + 3 + n + 3);
            push(
                &mut segs,
                &mut code_start,
                seg(Seg::Str, i, end, i + 3, end.saturating_sub(3).max(i + 3)),
            );
            i = end;
        } else if lang.ruby_heredoc
            && let Some(after) = rest.strip_prefix(b"<<")
            && let Some((tag, taglen)) = heredoc_tag(after)
        {
            let body_start = line_end(i) + 1;
            let (content_end, end) = heredoc_end(b, body_start, &tag);
            // The rest of the opening line stays code.
            push(
                &mut segs,
                &mut code_start,
                seg(Seg::Str, i, i + 2 + taglen, i, i),
            );
            segs.push(seg(
                Seg::Code,
                i + 2 + taglen,
                body_start.min(b.len()),
                i,
                i,
            ));
            segs.push(seg(
                Seg::Str,
                body_start.min(b.len()),
                end,
                body_start.min(b.len()),
                content_end,
            ));
            code_start = end;
            i = end;
        } else if lang.php_heredoc
            && let Some(after) = rest.strip_prefix(b"<<<")
        {
            // The tag ends its line: only that line is decoded.
            let first_line = after.split(|x| *x == b'\n').next().unwrap_or_default();
            let tag: String = String::from_utf8_lossy(first_line)
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '\'' || *c == '"')
                .collect();
            let clean = tag.trim_matches(['\'', '"']).to_string();
            let body_start = line_end(i) + 1;
            let (content_end, end) = heredoc_end(b, body_start, &clean);
            push(
                &mut segs,
                &mut code_start,
                seg(Seg::Str, i, end, body_start.min(b.len()), content_end),
            );
            i = end;
        } else if c == b'"' || c == b'\'' || (lang.backtick && c == b'`') {
            let mut j = i + 1;
            while let Some(&bj) = b.get(j) {
                if bj == c {
                    break;
                }
                if bj == b'\\' {
                    j += 1;
                } else if bj == b'\n' && c != b'`' {
                    break;
                }
                j += 1;
            }
            let end = (j + 1).min(b.len());
            push(
                &mut segs,
                &mut code_start,
                seg(Seg::Str, i, end, i + 1, j.min(b.len())),
            );
            i = end;
        } else {
            i += 1;
        }
    }
    if code_start < b.len() {
        segs.push(seg(Seg::Code, code_start, b.len(), code_start, b.len()));
    }
    segs
}

fn seg(kind: Seg, start: usize, end: usize, a: usize, z: usize) -> Segment {
    Segment {
        kind,
        start,
        end,
        inner: (a.min(z), z),
    }
}

/// `"""…` or `'''…`: the quote and what follows it.
fn triple_quote(rest: &[u8]) -> Option<(&'static [u8], &[u8])> {
    [&b"\"\"\""[..], &b"'''"[..]]
        .into_iter()
        .find_map(|q| rest.strip_prefix(q).map(|body| (q, body)))
}

/// `<<~SQL`, `<<-SQL`, `<<SQL`, `<<~'SQL'` → (tag, bytes consumed after `<<`).
fn heredoc_tag(rest: &[u8]) -> Option<(String, usize)> {
    let mut k = 0;
    if matches!(rest.first(), Some(b'~' | b'-')) {
        k += 1;
    }
    let quoted = matches!(rest.get(k), Some(b'\'' | b'"'));
    if quoted {
        k += 1;
    }
    let tag: String = rest
        .get(k..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| c.is_ascii_uppercase() || **c == b'_')
        .map(|c| char::from(*c))
        .collect();
    if tag.is_empty() {
        return None;
    }
    k += tag.len();
    if quoted {
        k += 1;
    }
    Some((tag, k))
}

/// Finds the line that is only the heredoc tag: (content end, segment end).
fn heredoc_end(b: &[u8], body_start: usize, tag: &str) -> (usize, usize) {
    let mut pos = body_start;
    while let Some(tail) = b.get(pos..).filter(|t| !t.is_empty()) {
        let line = tail.split(|x| *x == b'\n').next().unwrap_or_default();
        let end = pos + line.len();
        let line = String::from_utf8_lossy(line);
        let t = line.trim().trim_end_matches(';');
        if !tag.is_empty() && t == tag {
            return (pos, end);
        }
        pos = end + 1;
    }
    (b.len(), b.len())
}

struct Rule {
    re: Regex,
    kind: &'static str,
    /// Capture groups naming the table and the column.
    table: Option<usize>,
    column: Option<usize>,
    note: Option<&'static str>,
    /// `orm` for a framework call.
    cascade_word: Option<&'static str>,
}

fn rule(
    re: &str,
    kind: &'static str,
    table: Option<usize>,
    column: Option<usize>,
    note: Option<&'static str>,
) -> Rule {
    Rule {
        re: Regex::new(re).unwrap_or_else(|e| panic!("built-in pattern {re}: {e}")),
        kind,
        table,
        column,
        note,
        cascade_word: None,
    }
}

const Q: &str = r#"['"]"#;

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let name = r#"[:'"]?([\w.]+)['"]?"#;
    let mut rules = vec![
        // Alembic
        rule(
            &format!(r"\bop\.drop_table\(\s*{Q}([\w.]+){Q}"),
            "drop_table",
            Some(1),
            None,
            None,
        ),
        rule(
            &format!(r"\bop\.drop_column\(\s*{Q}([\w.]+){Q}\s*,\s*{Q}(\w+){Q}"),
            "drop_column",
            Some(1),
            Some(2),
            None,
        ),
        rule(
            &format!(r"\bbatch_op\.drop_column\(\s*{Q}(\w+){Q}"),
            "drop_column",
            None,
            Some(1),
            None,
        ),
        rule(
            &format!(r"\bop\.alter_column\(\s*{Q}([\w.]+){Q}\s*,\s*{Q}(\w+){Q}[^)]*\btype_\s*="),
            "alter_column_type",
            Some(1),
            Some(2),
            Some("column type changed: values that do not fit are lost or the cast fails"),
        ),
        // Django
        rule(
            &format!(r"\bDeleteModel\(\s*(?:name\s*=\s*)?{Q}(\w+){Q}"),
            "drop_table",
            Some(1),
            None,
            Some("Django emits DROP TABLE … CASCADE"),
        ),
        rule(
            &format!(
                r"\bRemoveField\(\s*(?:model_name\s*=\s*)?{Q}(\w+){Q}\s*,\s*(?:name\s*=\s*)?{Q}(\w+){Q}"
            ),
            "drop_column",
            Some(1),
            Some(2),
            None,
        ),
        // Rails
        rule(
            &format!(r"(?m)^\s*(?:#[ \t]*)?drop_table\s*\(?\s*{name}"),
            "drop_table",
            Some(1),
            None,
            None,
        ),
        rule(
            &format!(r"(?m)^\s*(?:#[ \t]*)?drop_join_table\s*\(?\s*{name}\s*,\s*{name}"),
            "drop_table",
            Some(1),
            None,
            None,
        ),
        rule(
            &format!(
                r"(?m)^\s*(?:#[ \t]*)?remove_(?:column|reference|belongs_to)\s*\(?\s*{name}\s*,\s*{name}"
            ),
            "drop_column",
            Some(1),
            Some(2),
            None,
        ),
        rule(
            &format!(r"(?m)^\s*(?:#[ \t]*)?remove_columns\s*\(?\s*{name}"),
            "drop_column",
            Some(1),
            None,
            None,
        ),
        rule(
            &format!(r"(?m)^\s*(?:#[ \t]*)?remove_timestamps\s*\(?\s*{name}"),
            "drop_column",
            Some(1),
            None,
            None,
        ),
        rule(
            &format!(r"(?m)^\s*(?:#[ \t]*)?change_column\s*\(?\s*{name}\s*,\s*{name}"),
            "alter_column_type",
            Some(1),
            Some(2),
            Some("column type changed: values that do not fit are lost or the cast fails"),
        ),
        rule(
            &format!(r"(?m)^\s*create_table\s*\(?\s*{name}[^\n]*\bforce:\s*(?:true|:cascade)"),
            "drop_table",
            Some(1),
            None,
            Some("create_table with force: drops the existing table first"),
        ),
        rule(
            r"\b([A-Z]\w*)\.(?:unscoped\.)?delete_all\b",
            "delete_all",
            Some(1),
            None,
            Some("ActiveRecord delete_all: every row of the model's table"),
        ),
        rule(
            r"\b([A-Z]\w*)\.(?:unscoped\.)?destroy_all\b",
            "delete_all",
            Some(1),
            None,
            Some("ActiveRecord destroy_all: every row of the model's table"),
        ),
        rule(
            r"\b([A-Z]\w*)\.(?:unscoped\.)?update_all\b",
            "update_all",
            Some(1),
            None,
            None,
        ),
        // Laravel
        rule(
            &format!(r"Schema::(?:drop|dropIfExists)\(\s*{Q}([\w.]+){Q}"),
            "drop_table",
            Some(1),
            None,
            None,
        ),
        rule(
            r"Schema::dropAllTables\(",
            "drop_table",
            None,
            None,
            Some("drops every table"),
        ),
        rule(
            &format!(r"->dropColumn\(\s*\[?\s*{Q}(\w+){Q}"),
            "drop_column",
            None,
            Some(1),
            None,
        ),
        rule(
            &format!(r"DB::table\(\s*{Q}(\w+){Q}\s*\)\s*->truncate\(\)"),
            "truncate",
            Some(1),
            None,
            None,
        ),
        rule(
            &format!(r"DB::table\(\s*{Q}(\w+){Q}\s*\)\s*->delete\(\)"),
            "delete_all",
            Some(1),
            None,
            None,
        ),
        // Knex / Sequelize / TypeORM
        rule(
            &format!(r"\.dropTable(?:IfExists)?\(\s*{Q}([\w.]+){Q}"),
            "drop_table",
            Some(1),
            None,
            None,
        ),
        rule(
            r"\.dropAllTables\(",
            "drop_table",
            None,
            None,
            Some("drops every table"),
        ),
        rule(
            &format!(r"\.(?:removeColumn|dropColumn)\(\s*{Q}([\w.]+){Q}\s*,\s*{Q}(\w+){Q}"),
            "drop_column",
            Some(1),
            Some(2),
            None,
        ),
        rule(
            &format!(r"\btable\.dropColumns?\(\s*{Q}(\w+){Q}"),
            "drop_column",
            None,
            Some(1),
            None,
        ),
        rule(
            &format!(r"\bknex\(\s*{Q}(\w+){Q}\s*\)\s*\.(?:del|delete)\(\s*\)"),
            "delete_all",
            Some(1),
            None,
            None,
        ),
        rule(
            &format!(r"\bknex\(\s*{Q}(\w+){Q}\s*\)\s*\.truncate\(\s*\)"),
            "truncate",
            Some(1),
            None,
            None,
        ),
        rule(
            &format!(r"\.bulkDelete\(\s*{Q}(\w+){Q}\s*,\s*(?:null|\{{\s*\}})"),
            "delete_all",
            Some(1),
            None,
            None,
        ),
        rule(
            &format!(r"\.clearTable\(\s*{Q}([\w.]+){Q}"),
            "truncate",
            Some(1),
            None,
            Some("TypeORM clearTable is TRUNCATE"),
        ),
        rule(
            &format!(r"\.changeColumn\(\s*{Q}([\w.]+){Q}\s*,\s*{Q}(\w+){Q}"),
            "alter_column_type",
            Some(1),
            Some(2),
            Some("column type changed: values that do not fit are lost or the cast fails"),
        ),
        // Ecto
        rule(
            r"\bdrop(?:_if_exists)?\s*\(?\s*table\(\s*:?(\w+)",
            "drop_table",
            Some(1),
            None,
            None,
        ),
        rule(
            r"(?m)^\s*(?:#[ \t]*)?remove(?:_if_exists)?\s+:(\w+)",
            "drop_column",
            None,
            Some(1),
            None,
        ),
        // Liquibase XML
        rule(
            r#"<dropTable\b[^>]*\btableName="([\w.]+)""#,
            "drop_table",
            Some(1),
            None,
            None,
        ),
        rule(
            r#"<dropColumn\b[^>]*\btableName="([\w.]+)"[^>]*\bcolumnName="(\w+)""#,
            "drop_column",
            Some(1),
            Some(2),
            None,
        ),
        rule(
            r#"<delete\b[^>]*\btableName="([\w.]+)"\s*/>"#,
            "delete_all",
            Some(1),
            None,
            None,
        ),
        rule(
            r#"<modifyDataType\b[^>]*\btableName="([\w.]+)"[^>]*\bcolumnName="(\w+)""#,
            "alter_column_type",
            Some(1),
            Some(2),
            Some("column type changed: values that do not fit are lost or the cast fails"),
        ),
        // Liquibase YAML
        rule(
            r"(?s)-\s*dropTable:\s*\n(?:\s+\w+:[^\n]*\n)*?\s+tableName:\s*([\w.]+)",
            "drop_table",
            Some(1),
            None,
            None,
        ),
    ];
    for r in rules.iter_mut() {
        if r.kind == "drop_table" {
            r.cascade_word = Some("cascade");
        }
    }
    rules
});

/// Table-creating calls, for the cross-check with the database.
static CREATES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r#"\bop\.create_table\(\s*['"]([\w.]+)['"]"#,
        r"(?m)^\s*create_table\s*\(?\s*[:'\x22]?(\w+)",
        r#"Schema::create\(\s*['"](\w+)['"]"#,
        r#"\.createTable(?:IfNotExists)?\(\s*['"]([\w.]+)['"]"#,
        r"\bcreate(?:_if_not_exists)?\s*\(?\s*table\(\s*:?(\w+)",
        r#"<createTable\b[^>]*\btableName="([\w.]+)""#,
    ]
    .iter()
    .filter_map(|p| Regex::new(p).ok())
    .collect()
});

static DJANGO_CREATE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"\bCreateModel\(\s*(?:name\s*=\s*)?['"](\w+)['"]"#).ok());
static DJANGO_DB_TABLE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"['"]db_table['"]\s*:\s*['"]([\w.]+)['"]"#).ok());

static DOWN_START: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?m)^\s*(?:def\s+(?:downgrade|down)\b|(?:public\s+)?function\s+down\b|exports\.down\b|(?:async\s+)?down\s*\(|down\s*:\s*(?:async\s*)?(?:function|\())",
    )
    .ok()
});
static UP_START: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?m)^\s*(?:def\s+(?:upgrade|up|change)\b|(?:public\s+)?function\s+up\b|exports\.up\b|(?:async\s+)?up\s*\(|up\s*:\s*(?:async\s*)?(?:function|\())",
    )
    .ok()
});

/// What one ORM/script migration says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrmScan {
    pub operations: Vec<FoundOperation>,
    pub creates: Vec<String>,
    /// Canonical code: one entry per non-empty code line after removing comments, whitespace,
    /// quote style and trailing commas; SQL strings canonicalised as SQL.
    pub canonical: Vec<String>,
    pub problems: Vec<String>,
}

/// Scans an ORM migration or script. `app` is the Django app label (the directory above
/// `migrations/`), used to name the tables Django creates and drops.
pub fn scan(path: &str, framework: &str, text: &str, app: Option<&str>) -> OrmScan {
    let lang = lang_of(path);
    let segs = lex(text, lang);
    let lines = LineIndex::new(text);
    let mut out = OrmScan::default();
    let down = down_ranges(text);
    let in_down = |pos: usize| down.iter().any(|(a, z)| pos >= *a && pos < *z);
    let seg_at = |pos: usize| {
        let i = segs.partition_point(|s| s.end <= pos);
        segs.get(i)
            .filter(|s| s.start <= pos)
            .map(|s| s.kind)
            .unwrap_or(Seg::Code)
    };
    let state_only = state_operation_ranges(text);

    // Framework calls.
    for rule in RULES.iter() {
        for caps in rule.re.captures_iter(text) {
            let Some(m) = caps.get(0) else { continue };
            let seg_kind = seg_at(m.start() + m.as_str().len() - m.as_str().trim_start().len());
            if seg_kind == Seg::Str {
                continue;
            }
            let group =
                |g: Option<usize>| g.and_then(|g| caps.get(g)).map(|c| c.as_str().to_string());
            let mut table = group(rule.table);
            if framework == "django"
                && let (Some(t), Some(app)) = (&table, app)
            {
                table = Some(format!("{app}_{}", t.to_ascii_lowercase()));
            }
            let objects = match (table, group(rule.column)) {
                (Some(t), Some(c)) => vec![format!("{t}.{c}")],
                (Some(t), None) => vec![t],
                (None, Some(c)) => vec![c],
                (None, None) => vec![],
            };
            let call_line = text
                .get(m.start()..)
                .and_then(|r| r.split('\n').next())
                .unwrap_or_default();
            let cascade = rule
                .cascade_word
                .is_some_and(|w| call_line.to_ascii_lowercase().contains(w))
                || framework == "django" && rule.kind == "drop_table";
            let mut op = FoundOperation {
                line: lines.line(
                    m.start() as u32 + (m.as_str().len() - m.as_str().trim_start().len()) as u32,
                ),
                kind: rule.kind,
                cascade,
                objects,
                statement: sql::truncate_chars(
                    &call_line.split_whitespace().collect::<Vec<_>>().join(" "),
                    240,
                ),
                active: true,
                found_by: "orm",
                note: rule.note.map(str::to_string),
            };
            mark_inert(
                &mut op,
                seg_kind == Seg::Comment,
                in_down(m.start()),
                state_only
                    .iter()
                    .any(|(a, z)| m.start() >= *a && m.start() < *z),
            );
            out.operations.push(op);
        }
    }

    // SQL in strings, in code and in comments.
    for s in &segs {
        let (a, z) = s.inner;
        let Some(content) = text.get(a..z) else {
            continue;
        };
        match s.kind {
            Seg::Str => {
                if !looks_like_sql(content) {
                    continue;
                }
                let scan = sql::scan(content);
                let base = lines.line(a as u32) - 1;
                for mut op in scan.operations {
                    op.line += base;
                    if op.found_by == "sql" {
                        op.note =
                            Some(op.note.map_or("SQL in a string literal".to_string(), |n| {
                                format!("SQL in a string literal; {n}")
                            }));
                    }
                    let in_comment = false;
                    mark_inert(&mut op, in_comment, in_down(a), false);
                    out.operations.push(op);
                }
                if !in_down(a) {
                    out.creates.extend(scan.creates);
                }
            }
            Seg::Comment => {
                // Quoted SQL inside a comment: `# "DROP TABLE IF EXISTS ticker_info",`.
                let base = lines.line(a as u32) - 1;
                let quoted = quoted_pieces(content);
                let pieces: Vec<&str> = if quoted.is_empty() {
                    vec![content]
                } else {
                    quoted
                };
                for piece in pieces {
                    let found = if looks_like_sql(piece) && !quoted_pieces(content).is_empty() {
                        sql::scan(piece).operations
                    } else {
                        super::keywords::scan(piece)
                    };
                    for mut op in found {
                        op.line += base;
                        op.found_by = if op.found_by == "keyword" {
                            "keyword"
                        } else {
                            op.found_by
                        };
                        mark_inert(&mut op, true, false, false);
                        out.operations.push(op);
                    }
                }
            }
            Seg::Code => {}
        }
    }

    // Tables created, for the cross-check.
    for re in CREATES.iter() {
        for caps in re.captures_iter(text) {
            if let (Some(m), Some(t)) = (caps.get(0), caps.get(1))
                && seg_at(m.start()) == Seg::Code
                && !in_down(m.start())
            {
                out.creates.push(t.as_str().to_string());
            }
        }
    }
    if framework == "django"
        && let Some(re) = DJANGO_CREATE.as_ref()
    {
        let db_tables: Vec<String> = DJANGO_DB_TABLE
            .as_ref()
            .map(|r| {
                r.captures_iter(text)
                    .filter_map(|c| c.get(1))
                    .map(|m| m.as_str().to_string())
                    .collect()
            })
            .unwrap_or_default();
        out.creates.extend(db_tables);
        for caps in re.captures_iter(text) {
            if let (Some(app), Some(m)) = (app, caps.get(1)) {
                out.creates
                    .push(format!("{app}_{}", m.as_str().to_ascii_lowercase()));
            }
        }
    }

    out.canonical = canonical(text, &segs);
    out.operations.sort();
    out.operations.dedup();
    out.creates.sort();
    out.creates.dedup();
    out
}

fn mark_inert(op: &mut FoundOperation, commented: bool, down: bool, state_only: bool) {
    let why = if commented {
        Some("commented out: never runs")
    } else if state_only {
        Some(
            "in SeparateDatabaseAndState(state_operations=…): changes Django's state, not the database",
        )
    } else if down {
        Some("in the down migration: runs only on rollback")
    } else {
        None
    };
    if let Some(why) = why {
        op.active = false;
        op.note = Some(match op.note.take() {
            Some(n) => format!("{why}; {n}"),
            None => why.to_string(),
        });
    }
}

fn looks_like_sql(s: &str) -> bool {
    let upper = s
        .trim_start()
        .get(..s.trim_start().len().min(4000))
        .unwrap_or("")
        .to_ascii_uppercase();
    [
        "DROP ", "TRUNCATE", "DELETE ", "UPDATE ", "ALTER ", "CREATE ", "DO ", "DO$", "INSERT ",
        "WITH ",
    ]
    .iter()
    .any(|k| upper.contains(k))
}

fn quoted_pieces(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find(['"', '\'']) {
        let Some((_, from_quote)) = rest.split_at_checked(open) else {
            break;
        };
        let mut chars = from_quote.chars();
        let Some(quote) = chars.next() else { break };
        let after = chars.as_str();
        match after.split_once(quote) {
            Some((piece, tail)) => {
                out.push(piece);
                rest = tail;
            }
            // An unclosed quote: a later one may still open a piece.
            None => rest = after,
        }
    }
    out
}

/// Byte ranges of down/downgrade functions: from their `def`/`function` line to the next up
/// function or the end of the file.
fn down_ranges(text: &str) -> Vec<(usize, usize)> {
    let (Some(down), Some(up)) = (DOWN_START.as_ref(), UP_START.as_ref()) else {
        return Vec::new();
    };
    let ups: Vec<usize> = up.find_iter(text).map(|m| m.start()).collect();
    down.find_iter(text)
        .map(|m| {
            let end = ups
                .iter()
                .copied()
                .find(|u| *u > m.start())
                .unwrap_or(text.len());
            (m.start(), end)
        })
        .collect()
}

/// Byte ranges of Django `state_operations=[…]` lists.
fn state_operation_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    for (pos, _) in text.match_indices("state_operations") {
        let Some(open) = text.get(pos..).and_then(|r| r.find('[')).map(|n| pos + n) else {
            continue;
        };
        let mut depth = 0i32;
        let mut end = b.len();
        for (k, c) in b.iter().enumerate().skip(open) {
            match c {
                b'[' | b'(' => depth += 1,
                b']' | b')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push((open, end));
    }
    out
}

/// Code without comments, whitespace or quote style, one entry per source line; SQL strings as
/// their canonical SQL. Black, ruff, prettier and rubocop rewrites leave it unchanged apart from
/// line wrapping, which `meaning_differs` ignores by comparing the concatenation.
fn canonical(text: &str, segs: &[Segment]) -> Vec<String> {
    let mut lines: Vec<String> = vec![String::new()];
    for s in segs {
        match s.kind {
            Seg::Comment => {}
            Seg::Str => {
                let content = text.get(s.inner.0..s.inner.1).unwrap_or("");
                let piece = if looks_like_sql(content) {
                    sql::scan(content).canonical.join(" ; ")
                } else {
                    content.to_string()
                };
                if let Some(l) = lines.last_mut() {
                    l.push('"');
                    l.push_str(&piece);
                    l.push('"');
                }
            }
            Seg::Code => {
                let code = text.get(s.start..s.end).unwrap_or("");
                for (k, part) in code.split('\n').enumerate() {
                    if k > 0 {
                        lines.push(String::new());
                    }
                    if let Some(l) = lines.last_mut() {
                        l.extend(part.chars().filter(|c| !c.is_whitespace()));
                    }
                }
            }
        }
    }
    // Trailing commas before a closing bracket are style, not meaning.
    let joined = lines.join("\n");
    let mut cleaned = String::with_capacity(joined.len());
    let chars: Vec<char> = joined.chars().collect();
    for (k, c) in chars.iter().enumerate() {
        if *c == ',' {
            let next = chars.iter().skip(k + 1).find(|x| !x.is_whitespace());
            if matches!(next, Some(')' | ']' | '}')) {
                continue;
            }
        }
        cleaned.push(*c);
    }
    cleaned
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(path: &str, framework: &str, text: &str) -> Vec<(u32, &'static str, Vec<String>, bool)> {
        scan(path, framework, text, Some("shop"))
            .operations
            .into_iter()
            .map(|o| (o.line, o.kind, o.objects, o.active))
            .collect()
    }

    #[test]
    fn seed_000_commented_out_drop_is_inactive() {
        let text = "PHASE_4_4_CLEANUP_SQL = [\n    # Step 5: Drop old ticker_info table\n    # \"DROP TABLE IF EXISTS ticker_info\",\n]\n";
        let found = ops(
            "scripts/aurora_ticker_unification_migration.py",
            "script",
            text,
        );
        assert_eq!(
            found,
            vec![(3, "drop_table", vec!["ticker_info".to_string()], false)]
        );
    }

    #[test]
    fn alembic_drops_and_execute_strings() {
        let text = "def upgrade():\n    op.drop_table('session')\n    op.execute(\"TRUNCATE audit CASCADE\")\n    # op.drop_table('user')\n\ndef downgrade():\n    op.drop_column('users', 'email')\n";
        let found = ops("alembic/versions/1_x.py", "alembic", text);
        assert!(
            found.contains(&(2, "drop_table", vec!["session".to_string()], true)),
            "{found:?}"
        );
        assert!(
            found.contains(&(3, "truncate", vec!["audit".to_string()], true)),
            "{found:?}"
        );
        assert!(
            found.contains(&(4, "drop_table", vec!["user".to_string()], false)),
            "{found:?}"
        );
        assert!(
            found.contains(&(7, "drop_column", vec!["users.email".to_string()], false)),
            "{found:?}"
        );
    }

    #[test]
    fn django_delete_model_names_the_table() {
        let text = "class Migration(migrations.Migration):\n    operations = [\n        migrations.DeleteModel(\n            name='Order',\n        ),\n        migrations.RemoveField(model_name='item', name='price'),\n    ]\n";
        let found = ops("shop/migrations/0002_x.py", "django", text);
        assert!(
            found.contains(&(3, "drop_table", vec!["shop_order".to_string()], true)),
            "{found:?}"
        );
        assert!(
            found.contains(&(6, "drop_column", vec!["shop_item.price".to_string()], true)),
            "{found:?}"
        );
    }

    #[test]
    fn rails_heredoc_sql_is_parsed() {
        let text = "class X < ActiveRecord::Migration[7.0]\n  def up\n    execute <<~SQL\n      DELETE FROM sessions;\n    SQL\n    remove_column :users, :email\n  end\nend\n";
        let found = ops("db/migrate/20240101_x.rb", "rails", text);
        assert!(
            found.contains(&(4, "delete_all", vec!["sessions".to_string()], true)),
            "{found:?}"
        );
        assert!(
            found.contains(&(6, "drop_column", vec!["users.email".to_string()], true)),
            "{found:?}"
        );
    }

    #[test]
    fn formatter_rewrite_keeps_canonical_form() {
        let a = scan(
            "a.py",
            "alembic",
            "op.drop_table('x')  # old\nop.add_column('t', sa.Column('c', sa.Integer(),))\n",
            None,
        );
        let b = scan(
            "a.py",
            "alembic",
            "op.drop_table(\"x\")\nop.add_column(\n    \"t\", sa.Column(\"c\", sa.Integer())\n)\n",
            None,
        );
        assert_eq!(a.canonical.concat(), b.canonical.concat());
    }
}
