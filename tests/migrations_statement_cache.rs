//! The migration scanner's statement cache (`sql::split_statements` / `join_statements`, used
//! by `migrations::assemble` across versions) must give exactly the scan of the whole text:
//! same operations and lines, creates, canonical units and problems. So must its prefilter
//! (`sql::Prefilter`: statements and bodies that cannot hold a finding are not walked).

use pgtriage::migrations::sql;
use proptest::prelude::*;

fn same_as_whole(text: &str) {
    assert_eq!(
        sql::scan_by_statement(text),
        sql::scan(text),
        "text:\n{text}"
    );
    same_with_prefilter(text);
}

fn same_with_prefilter(text: &str) {
    let prepared = sql::preprocess(text);
    assert_eq!(
        sql::scan_prepared_with(&prepared, sql::Prefilter::On),
        sql::scan_prepared_with(&prepared, sql::Prefilter::Off),
        "text:\n{text}"
    );
}

/// Texts where a cut in the wrong place would change the scan.
const TRICKY: &[&str] = &[
    "",
    ";",
    ";;;",
    "-- only a comment\n",
    "DROP TABLE a; DROP TABLE a;",
    "TRUNCATE a; TRUNCATE a;\nTRUNCATE a;",
    "select 'a;b'; drop table x;\n",
    "select E'it\\'s; here'; truncate t;",
    "select \"odd;name\" from t; delete from t;",
    "/* a ; /* nested ; */ still ; */ drop table c;",
    "-- drop table users;\ndelete from t; -- truncate t;\n",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n  DELETE FROM s;\n  EXECUTE 'DROP TABLE old CASCADE';\nEND $$;\nDROP TABLE z;",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $fn$ BEGIN TRUNCATE a; END $fn$;\n",
    "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC DELETE FROM q; SELECT 1; END;\nDROP TABLE r;",
    "CREATE RULE r AS ON INSERT TO t DO ALSO (DELETE FROM u; DELETE FROM v);\nDROP TABLE w;",
    "DO $$ BEGIN DELETE FROM audit_log; END $$;\n\n\nALTER TABLE t DROP COLUMN c;\n",
    "COPY t (a) FROM stdin;\n1;2\n\\.\nDROP TABLE t;\n",
    "\\connect db\nDROP TABLE ${schema}.users;\nDELETE FROM {{ t }};\n",
    "CREATE TABLE a (id int);\nCREATE TABLE IF NOT EXISTS b AS SELECT 1;\nDROP TABLE a;",
    "DROP TABLE oops CASCADE\nDELETE FROM x;\nSELECT FROM WHERE;\nTRUNCATE y;",
    "select 'unterminated; drop table x;",
    "-- +goose Up\nCREATE TABLE t (a int);\n-- +goose Down\nDROP TABLE t;\n",
    "ALTER TABLE t ALTER COLUMN c TYPE varchar(10); ALTER TABLE t ALTER COLUMN c TYPE text;",
    "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d; UPDATE t SET a = 1;",
    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE;\r\nDROP SCHEMA x CASCADE;\r\n",
    "\u{feff}DROP TABLE bom; DROP TABLE after;",
    "drop table users;\nCREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM s; END $$;",
    ")); DROP TABLE after_close;",
    "((( DROP TABLE inside_open;",
    // CREATE SCHEMA's elements: the grammar reads the next statement as one more element.
    "CREATE SCHEMA sc CREATE TABLE inner_t (id int);\nDROP TABLE after_schema;",
    "CREATE SCHEMA sc;\nCREATE TABLE sc.t (id int);\nDROP TABLE sc.t;",
    "CREATE SCHEMA sc CREATE TABLE inner_t (id int);CREATE FUNCTION r() RETURNS void LANGUAGE plpgsql AS E'BEGIN \\x44ELETE FROM s; END';",
];

#[test]
fn tricky_texts_scan_the_same_statement_by_statement() {
    for text in TRICKY {
        same_as_whole(text);
    }
}

#[test]
fn the_sql_cases_scan_the_same_statement_by_statement() {
    same_as_whole(include_str!("data/sql-cases.sql"));
}

const FRAGMENTS: &[&str] = &[
    "DROP TABLE a",
    "drop table if exists public.b cascade",
    "TRUNCATE c",
    "DELETE FROM d",
    "DELETE FROM d WHERE x = 1",
    "UPDATE e SET f = 1",
    "ALTER TABLE g DROP COLUMN h",
    "CREATE TABLE i (id int)",
    "SELECT 1",
    "SELECT 'x;y'",
    "SELECT $$;$$",
    "DO $$ BEGIN TRUNCATE j; END $$",
    "CREATE FUNCTION k() RETURNS void LANGUAGE plpgsql AS $b$ BEGIN DELETE FROM l; END $b$",
    "-- DROP TABLE commented",
    "/* TRUNCATE hidden; */",
    "BEGIN ATOMIC",
    "END",
    "(",
    ")",
    "'",
    "\"",
    "$$",
    "E'\\''",
    "COPY m FROM stdin",
    "\\.",
    "\\set x 1",
    "${p}",
    "-- +goose Down",
    "CREATE RULE n AS ON DELETE TO o DO ALSO (DELETE FROM p; DELETE FROM q)",
    // Bodies the prefilter reads as text: spelled in escapes, nested, computed, or harmless.
    "CREATE FUNCTION r() RETURNS void LANGUAGE plpgsql AS E'BEGIN \\x44ELETE FROM s; END'",
    "CREATE FUNCTION r2() RETURNS void LANGUAGE sql AS E'\\x54RUNCATE s'",
    "CREATE FUNCTION u() RETURNS void LANGUAGE plpgsql AS U&'BEGIN \\0044ROP TABLE v; END'",
    "CREATE FUNCTION u2() RETURNS void LANGUAGE plpgsql AS U&'BEGIN !0044ROP TABLE v; END' UESCAPE '!'",
    "CREATE FUNCTION s() RETURNS void LANGUAGE plpgsql AS 'BEGIN EXECUTE ''TRUNCATE t''; END'",
    "DO $$ BEGIN PERFORM 1; END $$",
    "DO $$ BEGIN DO $x$ BEGIN DELETE FROM y; END $x$; END $$",
    "DO $$ BEGIN EXECUTE format('DROP TABLE %I', t); END $$",
    "CREATE PROCEDURE p() LANGUAGE sql AS $$ UPDATE z SET a = 1 $$",
    "CREATE FUNCTION w() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    "CREATE FUNCTION x() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE TABLE made (a int); ALTER TABLE made DROP COLUMN a; END $$",
    "CREATE OR REPLACE FUNCTION y() RETURNS void LANGUAGE plpgsql AS $$ BEGIN MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE; END $$",
    "CREATE FUNCTION z() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
    "CREATE SCHEMA sc CREATE TABLE inner_t (id int)",
    "CREATE TEMP TABLE tmp AS SELECT 1",
];

fn sql_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        8 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        1 => "[a-z_]{1,8}",
        1 => "\\PC{0,6}",
    ];
    let sep = proptest::sample::select(&[";", ";\n", " ", "\n", ";\n\n", " ;; ", "\r\n"][..]);
    proptest::collection::vec((piece, sep), 0..24).prop_map(|v| {
        v.into_iter()
            .map(|(p, s)| format!("{p}{s}"))
            .collect::<String>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_sql_scans_the_same_statement_by_statement(text in sql_text()) {
        prop_assert_eq!(sql::scan_by_statement(&text), sql::scan(&text), "text:\n{}", text);
    }

    #[test]
    fn random_sql_scans_the_same_with_the_prefilter_off(text in sql_text()) {
        let prepared = sql::preprocess(&text);
        prop_assert_eq!(
            sql::scan_prepared_with(&prepared, sql::Prefilter::On),
            sql::scan_prepared_with(&prepared, sql::Prefilter::Off),
            "text:\n{}",
            text
        );
    }
}

/// The texts above would pass by always falling back to the whole text: a clean migration is
/// really put together from its statements.
#[test]
fn a_clean_migration_is_put_together_from_its_statements() {
    let text = "CREATE TABLE a (id int);\n-- note\nDROP TABLE b CASCADE;\nDO $$ BEGIN TRUNCATE c; END $$;\nselect 'x;y';\n-- fix\n";
    let statements = sql::split_statements(text).expect("cut");
    let pieces: Vec<(&str, u32)> = statements
        .texts()
        .zip(statements.pieces.iter().map(|(_, line)| *line))
        .collect();
    assert_eq!(
        pieces,
        vec![
            ("CREATE TABLE a (id int);", 1),
            ("-- note\nDROP TABLE b CASCADE;", 2),
            ("DO $$ BEGIN TRUNCATE c; END $$;", 4),
            ("select 'x;y';", 5),
            ("-- fix\n", 6),
        ]
    );
    let scans: Vec<sql::SqlScan> = statements.texts().map(sql::scan_prepared).collect();
    let joined = sql::join_statements(scans.iter().zip(pieces.iter().map(|p| p.1)))
        .expect("every statement parsed cleanly");
    assert_eq!(joined, sql::scan(text));
    let lines: Vec<(u32, &str)> = joined.operations.iter().map(|o| (o.line, o.kind)).collect();
    assert_eq!(lines, vec![(3, "drop_table"), (4, "truncate")]);
    // A statement the grammar cannot read makes the whole text be scanned whole.
    assert!(
        sql::split_statements("SELECT FROM WHERE; DROP TABLE x;").is_some_and(|s| {
            let scans: Vec<sql::SqlScan> = s.texts().map(sql::scan_prepared).collect();
            sql::join_statements(scans.iter().map(|s| (s, 1))).is_none()
        })
    );
    // BEGIN ATOMIC bodies hold semicolons inside one statement: not cut.
    assert!(
        sql::split_statements(
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;"
        )
        .is_none()
    );
}
