//! Checks that judge a database against an expectation, as opposed to hypotheses that explain an
//! incident: `verify` (is everything back after a restore?) and `audit` (would we be able to
//! tell what happened next time, and what would a cascade empty?).
//!
//! Pure functions over plain values (`evidence::probes`): the live facts are gathered by
//! `db::verify` and `db::audit`, the repository's statements by `migrations::repo_scan`;
//! rendering lives in `report::verify_view` and `report::audit_view`. Nothing here reads a
//! file or a socket.

pub mod audit;
pub mod verify;

// One identifier quoter for the whole tool (`evidence::relation`, reserved words included):
// these paths keep working for the code that used them.
pub use crate::evidence::relation::quote_ident;

/// `schema.name`, each part quoted when it must be.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    crate::evidence::RelationName::new(schema, name).sql()
}

/// An SQL string literal.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
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
