//! Checks that judge a database against an expectation, as opposed to hypotheses that explain an
//! incident: `verify` (is everything back after a restore?) and `audit` (would we be able to
//! tell what happened next time, and what would a cascade empty?).
//!
//! Pure functions over plain values: the live facts are gathered by `db::verify` and
//! `db::audit`, rendering lives in `report::verify_view` and `report::audit_view`.

pub mod audit;
pub mod repo_scan;
pub mod verify;

/// Quotes an SQL identifier the way `quote_ident()` does: bare when it is a plain lower-case
/// name, double-quoted (with inner quotes doubled) otherwise. Used in the fixes we suggest.
pub fn quote_ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain && !is_reserved(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `schema.name`, each part quoted when it must be.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// An SQL string literal.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The reserved words a table or column is most likely to be named after; quoting them is
/// required, quoting anything else is harmless, so this list need not be complete.
fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "all"
            | "and"
            | "any"
            | "array"
            | "as"
            | "asc"
            | "case"
            | "check"
            | "column"
            | "constraint"
            | "create"
            | "default"
            | "desc"
            | "distinct"
            | "do"
            | "else"
            | "end"
            | "for"
            | "foreign"
            | "from"
            | "grant"
            | "group"
            | "having"
            | "in"
            | "limit"
            | "not"
            | "null"
            | "offset"
            | "on"
            | "only"
            | "or"
            | "order"
            | "primary"
            | "references"
            | "select"
            | "table"
            | "then"
            | "to"
            | "union"
            | "unique"
            | "user"
            | "using"
            | "when"
            | "where"
            | "with"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(quote_ident("orders"), "orders");
        assert_eq!(quote_ident("order"), "\"order\"");
        assert_eq!(quote_ident("Orders"), "\"Orders\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_qualified("public", "user"), "public.\"user\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
