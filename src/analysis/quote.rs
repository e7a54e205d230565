//! Quoting for the commands pgtriage prints: shell words and libpq connection strings. SQL
//! identifiers are quoted by the one quoter, `evidence::relation::quote_ident` (reserved words
//! included), re-exported here with the qualified and literal forms so a printed command needs
//! one import.

pub use crate::checks::{quote_literal, quote_qualified};
pub use crate::evidence::relation::quote_ident;

/// One shell word, as POSIX `sh` reads it back: bare when it holds only characters no shell
/// treats specially, else in single quotes (an inner `'` becomes `'\''`).
pub fn shell(word: &str) -> String {
    let safe = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '-' | '.' | '/' | ':' | '@' | '%' | '+' | '=' | ',')
        });
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `schema.table` as one SQL name (each part quoted when it must be), from a `schema.table`
/// string as findings carry it (the first dot splits: schema names with dots are not supported).
pub fn qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, table)) => quote_qualified(schema, table),
        None => quote_qualified("public", name),
    }
}

/// A percent-encoded URL component: unreserved characters and `/` stay, the rest is `%XX`.
fn url_part(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A connection URL that both libpq and pgtriage parse. A unix-socket directory cannot be the
/// URL's host (`postgres://user@/dir:5432/db` is rejected), so it goes in the query string:
/// `postgresql:///db?host=/dir&port=N&user=U`. Never carries a password.
pub fn connection_url(host: &str, port: u16, database: &str, user: &str) -> String {
    if host.starts_with('/') || host.is_empty() {
        let mut url = format!("postgresql:///{}?", url_part(database));
        if !host.is_empty() {
            url.push_str(&format!("host={}&", url_part(host)));
        }
        url.push_str(&format!("port={port}&user={}", url_part(user)));
        url
    } else {
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        format!(
            "postgresql://{}@{host}:{port}/{}",
            url_part(user),
            url_part(database)
        )
    }
}

#[cfg(test)]
mod tests {

    /// The quoters that were four (checks, db::verify, db::tracking, advice) are one: a
    /// reserved word and a mixed-case name come out the same from each path (`sql_name` did
    /// not quote reserved words).
    #[test]
    fn every_path_quotes_alike() {
        for (schema, table, want) in [
            ("public", "user", "public.\"user\""),
            ("public", "Orders", "public.\"Orders\""),
            ("Sales", "order", "\"Sales\".\"order\""),
            ("app", "plain_name", "app.plain_name"),
        ] {
            let written = format!("{schema}.{table}");
            assert_eq!(crate::analysis::advice::sql_name(&written), want);
            assert_eq!(super::qualified(&written), want);
            assert_eq!(crate::checks::quote_qualified(schema, table), want);
            assert_eq!(
                crate::evidence::RelationName::new(schema, table).sql(),
                want
            );
        }
        assert_eq!(crate::checks::quote_ident("select"), "\"select\"");
    }
    use super::*;

    #[test]
    fn shell_words_survive_sh() {
        assert_eq!(shell("recovered-1"), "recovered-1");
        assert_eq!(shell("public.\"Invoices\""), "'public.\"Invoices\"'");
        assert_eq!(shell("it's"), "'it'\\''s'");
        assert_eq!(shell(""), "''");
        assert_eq!(shell("a b"), "'a b'");
    }

    #[test]
    fn socket_directories_go_in_the_query_string() {
        assert_eq!(
            connection_url("/tmp/pg dir", 5433, "shop", "postgres"),
            "postgresql:///shop?host=/tmp/pg%20dir&port=5433&user=postgres"
        );
        assert_eq!(
            connection_url("db.example.com", 5432, "shop", "app"),
            "postgresql://app@db.example.com:5432/shop"
        );
    }

    #[test]
    fn qualified_names_quote_each_part() {
        assert_eq!(qualified("public.invoices"), "public.invoices");
        assert_eq!(qualified("Sales.Invoices"), "\"Sales\".\"Invoices\"");
    }
}
