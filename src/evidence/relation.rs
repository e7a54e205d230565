//! One name for a relation: `RelationName` (schema + name, in the catalog's exact spelling)
//! with PostgreSQL's rules — unquoted identifiers fold to lower case, quoted ones keep their
//! case, an unqualified name is resolved along a `search_path` — and the two ways pgtriage
//! writes a name back: quoted for SQL (reserved words included) and quoted for a POSIX shell.
//! Every layer (log classifier, catalog, baseline matching, hypotheses, printed commands) can
//! use it; it depends on nothing.

use std::fmt;

/// PostgreSQL 15's reserved key words (Appendix C, "reserved" and "reserved (can be function or
/// type)"): as a table, schema or column name they must be double-quoted.
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// Whether `word` (already folded) is a reserved key word.
pub fn is_reserved(word: &str) -> bool {
    RESERVED.contains(&word)
}

/// An identifier as SQL needs it written: bare when it reads back as itself (lower case,
/// digits, `_`, `$`, not starting with a digit or `$`, not reserved), else double-quoted with
/// inner quotes doubled — what `quote_ident()` does.
pub fn quote_ident(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain && !is_reserved(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A word for a POSIX shell: bare when it is made only of characters no shell treats
/// specially, else single-quoted (an inner `'` written `'\''`).
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A schema-qualified relation, in the catalog's exact spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationName {
    pub schema: String,
    pub name: String,
}

/// A name as written in SQL: parts, each folded or kept by its quoting; `schema` is `None`
/// when the text did not qualify it (resolve it with `resolve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenName {
    pub schema: Option<String>,
    pub name: String,
}

impl RelationName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        RelationName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// From pgtriage's own `schema.name` (exact spelling, unquoted, as the JSON report and the
    /// evidence write it). The schema is everything before the first dot; a name without one
    /// is taken to be in `public`.
    pub fn from_qualified(text: &str) -> Self {
        match text.split_once('.') {
            Some((schema, name)) => RelationName::new(schema, name),
            None => RelationName::new("public", text),
        }
    }

    /// `schema.name`, unquoted: the spelling of the JSON report and the evidence.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// `schema.name` for SQL, each part quoted when it must be.
    pub fn sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    /// The SQL spelling as one shell word (for `psql -c`, `pg_dump -t`, …).
    pub fn shell(&self) -> String {
        shell_quote(&self.sql())
    }

    /// Whether `written` (as SQL text would name it) denotes this relation when unqualified
    /// names are looked up along `search_path`.
    pub fn is_named_by(&self, written: &WrittenName, search_path: &[&str]) -> bool {
        if written.name != self.name {
            return false;
        }
        match &written.schema {
            Some(s) => *s == self.schema,
            None => search_path.contains(&self.schema.as_str()),
        }
    }
}

impl fmt::Display for RelationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

impl WrittenName {
    /// Parses `name`, `schema.name`, `"Schema"."Name"` (or `db.schema.name`, whose database part
    /// is dropped) with PostgreSQL's rules: unquoted parts fold to lower case, quoted parts
    /// keep their case with `""` read as `"`. `None` for text that is not a name.
    pub fn parse(text: &str) -> Option<WrittenName> {
        let mut parts: Vec<String> = Vec::new();
        let mut chars = text.trim().chars().peekable();
        loop {
            let mut part = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            part.push('"');
                        }
                        Some('"') => break,
                        Some(c) => part.push(c),
                        None => return None,
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || c == '_' || c == '$' {
                        part.push(c.to_ascii_lowercase());
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
            if part.is_empty() {
                return None;
            }
            parts.push(part);
            match chars.next() {
                Some('.') => continue,
                None => break,
                Some(_) => return None,
            }
        }
        let name = parts.pop()?;
        let schema = parts.pop();
        if parts.len() > 1 {
            return None;
        }
        Some(WrittenName { schema, name })
    }

    /// The relation this name denotes among `candidates`: a qualified name must match exactly;
    /// an unqualified one is looked up along `search_path`, first schema first.
    pub fn resolve<'a>(
        &self,
        candidates: &'a [RelationName],
        search_path: &[&str],
    ) -> Option<&'a RelationName> {
        match &self.schema {
            Some(s) => candidates
                .iter()
                .find(|c| c.schema == *s && c.name == self.name),
            None => search_path.iter().find_map(|s| {
                candidates
                    .iter()
                    .find(|c| c.schema == *s && c.name == self.name)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoted_folds_quoted_keeps_case() {
        let w = WrittenName::parse("Sales.Orders").unwrap_or_else(|| unreachable!());
        assert_eq!(w.schema.as_deref(), Some("sales"));
        assert_eq!(w.name, "orders");
        let w = WrittenName::parse("\"Sales\".\"Order \"\"Items\"\"\"")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(w.schema.as_deref(), Some("Sales"));
        assert_eq!(w.name, "Order \"Items\"");
        let w = WrittenName::parse("\"UserAccounts\"").unwrap_or_else(|| unreachable!());
        assert_eq!((w.schema, w.name.as_str()), (None, "UserAccounts"));
        assert!(WrittenName::parse("a b").is_none());
        assert!(WrittenName::parse("\"open").is_none());
    }

    #[test]
    fn quoting_round_trips_through_parsing() {
        for (schema, name) in [
            ("public", "orders"),
            ("Sales", "UserAccounts"),
            ("order", "user"),
            ("public", "table"),
            ("app", "with \"quotes\""),
            ("app", "1st"),
            ("app", "window"),
        ] {
            let r = RelationName::new(schema, name);
            let w = WrittenName::parse(&r.sql()).unwrap_or_else(|| unreachable!());
            assert!(r.is_named_by(&w, &[]), "{r} written {}", r.sql());
        }
        assert_eq!(
            RelationName::new("public", "order").sql(),
            "public.\"order\""
        );
        assert_eq!(RelationName::new("Sales", "x").sql(), "\"Sales\".x");
    }

    #[test]
    fn unqualified_names_follow_the_search_path() {
        let cands = [
            RelationName::new("public", "orders"),
            RelationName::new("app", "orders"),
            RelationName::new("app", "Orders"),
        ];
        let w = WrittenName::parse("orders").unwrap_or_else(|| unreachable!());
        assert_eq!(w.resolve(&cands, &["app", "public"]), Some(&cands[1]));
        assert_eq!(w.resolve(&cands, &["public"]), Some(&cands[0]));
        let w = WrittenName::parse("\"Orders\"").unwrap_or_else(|| unreachable!());
        assert_eq!(w.resolve(&cands, &["public", "app"]), Some(&cands[2]));
    }

    #[test]
    fn shell_words_survive_a_shell() {
        assert_eq!(shell_quote("public.orders"), "public.orders");
        assert_eq!(
            RelationName::new("Sales", "it's").shell(),
            "'\"Sales\".\"it'\\''s\"'"
        );
        let word = RelationName::new("order", "User Accounts").shell();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {word}"))
            .output();
        if let Ok(out) = out {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "\"order\".\"User Accounts\""
            );
        }
    }
}
