//! Every case of ../shared/sql-cases.sql (copied to tests/data/) classified as expected by the
//! SQL scanner: what is destructive, with CASCADE, and where it was found (plain SQL, a DO block,
//! a function body, an EXECUTE string).

use pgtriage::migrations::sql;

const CASES: &str = include_str!("data/sql-cases.sql");

/// (kind, cascade, found_by) of one expected operation.
type Expected = (&'static str, bool, &'static str);

/// (case, [expected operations]) — an empty list means "nothing destructive".
fn expected() -> Vec<(&'static str, Vec<Expected>)> {
    vec![
        (
            "drop_table_multi_cascade",
            vec![("drop_table", true, "sql")],
        ),
        ("truncate_cascade", vec![("truncate", true, "sql")]),
        ("truncate_bare", vec![("truncate", false, "sql")]),
        ("delete_no_where", vec![("delete_all", false, "sql")]),
        ("delete_where", vec![]),
        ("delete_using", vec![]),
        ("delete_only_returning", vec![("delete_all", false, "sql")]),
        ("cte_delete", vec![("delete_all", false, "sql")]),
        ("update_no_where", vec![("update_all", false, "sql")]),
        ("merge_delete", vec![("merge_delete", false, "sql")]),
        ("drop_type_cascade", vec![("drop_type", true, "sql")]),
        (
            "alter_drop_column",
            vec![("drop_column", false, "sql"), ("drop_column", true, "sql")],
        ),
        (
            "alter_drop_column_no_keyword",
            vec![("drop_column", false, "sql")],
        ),
        (
            "alter_column_type_using",
            vec![("alter_column_type", false, "sql")],
        ),
        ("drop_schema_cascade", vec![("drop_schema", true, "sql")]),
        ("drop_matview", vec![]),
        ("drop_owned", vec![("drop_owned", true, "sql")]),
        ("drop_database_force", vec![("drop_database", false, "sql")]),
        ("drop_sequence", vec![]),
        ("drop_function_cascade", vec![]),
        (
            "drop_extension_cascade",
            vec![("drop_extension", true, "sql")],
        ),
        ("drop_index_concurrently", vec![]),
        ("drop_constraint", vec![]),
        ("detach_partition", vec![("detach_partition", false, "sql")]),
        ("set_unlogged", vec![("set_unlogged", false, "sql")]),
        (
            "do_block_dynamic",
            vec![
                ("drop_table", true, "execute_string"),
                ("delete_all", false, "do_block"),
            ],
        ),
        (
            "do_block_language_format",
            vec![("dynamic_sql", false, "execute_string")],
        ),
        (
            "create_function_plpgsql",
            vec![("delete_all", false, "function_body")],
        ),
        (
            "create_function_sql_atomic",
            vec![("delete_all", false, "function_body")],
        ),
        ("create_policy_supabase", vec![]),
        ("alter_default_privileges", vec![]),
        ("create_trigger", vec![]),
        ("create_index_concurrently_gin", vec![]),
        ("comment_on_column", vec![]),
        ("rename_column", vec![]),
        ("goose_annotations", vec![("drop_table", false, "sql")]),
        ("comment_with_semicolon", vec![("drop_table", false, "sql")]),
        ("pg_dump_header", vec![]),
        ("flyway_placeholder", vec![("drop_table", false, "sql")]),
        ("psql_set", vec![]),
        ("psql_connect_then_drop", vec![("drop_table", false, "sql")]),
        ("copy_from_stdin", vec![]),
        ("escape_string", vec![]),
    ]
}

/// The cases of the file, by their `-- @case NAME` markers.
fn cases() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in CASES.lines() {
        if let Some(name) = line.strip_prefix("-- @case ") {
            out.push((name.trim().to_string(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

#[test]
fn every_case_is_classified_as_expected() {
    let cases = cases();
    let expected = expected();
    assert_eq!(
        cases.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        expected.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        "the expectation table covers every case of sql-cases.sql, in order"
    );
    let mut wrong = Vec::new();
    for ((name, text), (_, want)) in cases.iter().zip(&expected) {
        let got: Vec<(&str, bool, &str)> = sql::destructive_statements(text)
            .iter()
            .map(|o| (o.kind, o.cascade, o.found_by))
            .collect();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        let mut want_sorted = want.clone();
        want_sorted.sort();
        if got_sorted != want_sorted {
            wrong.push(format!("{name}: got {got:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}

#[test]
fn whole_file_scan_cites_the_right_lines_and_objects() {
    let ops = sql::destructive_statements(CASES);
    let at = |line: u32| ops.iter().filter(move |o| o.line == line);
    let line_of = |needle: &str| {
        CASES
            .lines()
            .position(|l| l.starts_with(needle))
            .map(|i| i as u32 + 1)
            .unwrap_or(0)
    };
    let drop_multi = at(line_of("DROP TABLE IF EXISTS public.users"))
        .next()
        .expect("drop on its line");
    assert_eq!(drop_multi.objects, vec!["public.users", "\"Orders\""]);
    // The DELETE inside the DO block is cited at its own line, not the DO's.
    let audit = ops
        .iter()
        .find(|o| o.objects == vec!["audit_log".to_string()])
        .expect("audit_log delete");
    assert_eq!(audit.line, line_of("  DELETE FROM audit_log;"));
    // The table hidden behind `\connect` is found at its line.
    assert!(at(line_of("DROP TABLE t;")).any(|o| o.kind == "drop_table"));
    // The placeholder is shown as the template wrote it.
    let templated = at(line_of("DROP TABLE ${schema}.users;"))
        .next()
        .expect("templated drop");
    assert_eq!(templated.objects, vec!["${…}.users"]);
}

#[test]
fn grant_truncate_from_supabase_dumps_is_not_a_truncate() {
    let text = "grant truncate on table \"public\".\"profiles\" to \"anon\";\n\
                grant delete, truncate, update on table \"public\".\"profiles\" to \"service_role\";\n";
    assert!(sql::destructive_statements(text).is_empty());
}

#[test]
fn unparsable_text_still_yields_keywords_labelled_as_such() {
    let text = "CREATE TABLE t (id int AUTOINCREMENT UNSIGNED);\n\
                DROP TABLE {{ index .Options \"Namespace\" }}.sessions;\n\
                DELETE FROM {{ index .Options \"Namespace\" }}.audit_log_entries;\n";
    let scan = sql::scan(text);
    let kinds: Vec<_> = scan.operations.iter().map(|o| (o.kind, o.line)).collect();
    assert!(kinds.contains(&("drop_table", 2)), "{kinds:?}");
    assert!(kinds.contains(&("delete_all", 3)), "{kinds:?}");
    assert!(!scan.problems.is_empty(), "parse problems are reported");
}
