//! `unlogged_crash` on a real PostgreSQL: an UNLOGGED table with rows and a permanent one, a
//! baseline, `pg_ctl stop -m immediate` (a crash), a start (crash recovery), then `collect` and
//! `report` by the real binary. The unlogged table is reported lost, with the baseline's rows;
//! the permanent table, whose counters the same crash zeroed, is not (the statistics-reset
//! false alarm stays a false alarm); and the recovery plan does not offer a point-in-time
//! recovery, which would bring the unlogged table back empty.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{ClusterOptions, PgCluster, path_str as path, pgtriage_stdout as pgtriage};

/// Every violation of `schemas/NAME` by `doc`.
fn schema_errors(name: &str, doc: &Value) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("schema")).expect("json");
    let validator = jsonschema::validator_for(&schema).expect("a JSON Schema");
    validator
        .iter_errors(doc)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect()
}

fn finding_for<'a>(report: &'a Value, table: &str) -> &'a Value {
    let rank = report["tables"]
        .as_array()
        .and_then(|ts| {
            ts.iter()
                .find(|t| t["schema"] == "public" && t["name"] == table)
        })
        .map(|t| t["explanation_rank"].clone())
        .unwrap_or(Value::Null);
    report["hypotheses"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["rank"] == rank))
        .unwrap_or(&Value::Null)
}

#[test]
fn crash_recovery_empties_the_unlogged_table_and_the_report_names_it() {
    let mut pg = PgCluster::start(ClusterOptions::default());
    let db = pg.fresh_database("unlogged");
    pg.psql_script(
        &db,
        "CREATE UNLOGGED TABLE sessions (id int PRIMARY KEY, token text) WITH (autovacuum_enabled = false);
         CREATE TABLE orders (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
         INSERT INTO sessions SELECT g, md5(g::text) FROM generate_series(1, 1000) g;
         INSERT INTO orders SELECT g FROM generate_series(1, 1000) g;",
        false,
    );
    // In a session of its own: INSERT then VACUUM ANALYZE in one session double-counts
    // n_live_tup (README, `collect --exact-counts`).
    pg.psql(&db, "VACUUM ANALYZE sessions");
    pg.psql(&db, "VACUUM ANALYZE orders");
    pg.flush_stats(&db);
    let work = tempfile::tempdir().expect("tempdir");
    let baseline = work.path().join("baseline.json");
    pgtriage(&[
        "collect",
        "--tables-only",
        "--db",
        &pg.url(&db),
        "-o",
        path(&baseline),
    ]);

    pg.stop_server("immediate");
    pg.start_server();
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM sessions"), "0");
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM orders"), "1000");
    let url = pg.url(&db);
    let log = pg.log_dir().join("postgresql.log");
    let evidence = work.path().join("evidence.json");
    pgtriage(&[
        "collect",
        "--db",
        &url,
        "--log",
        path(&log),
        "-o",
        path(&evidence),
    ]);
    let collected: Value =
        serde_json::from_slice(&std::fs::read(&evidence).expect("evidence")).expect("json");
    let sessions = collected["database"]["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == "sessions"))
        .cloned()
        .unwrap_or(Value::Null);
    // What the hypothesis rests on, measured: persistence u, an empty file, pg_class's pages
    // and rows of the last ANALYZE kept.
    assert_eq!(sessions["persistence"], "u", "{sessions}");
    assert_eq!(sessions["size_bytes"], 0, "{sessions}");
    assert!(sessions["relpages"].as_i64() > Some(0), "{sessions}");
    assert_eq!(sessions["reltuples"], 1000.0, "{sessions}");

    // With the baseline: the rows lost are the baseline's.
    let report: Value = serde_json::from_slice(&pgtriage(&[
        "report",
        path(&evidence),
        "--baseline",
        path(&baseline),
        "--format",
        "json",
    ]))
    .expect("report json");
    // The new kind is part of the JSON contract.
    let errors = schema_errors("report.json", &report);
    assert!(errors.is_empty(), "{errors:#?}");
    let errors = schema_errors("evidence.json", &collected);
    assert!(errors.is_empty(), "{errors:#?}");
    let f = finding_for(&report, "sessions");
    assert_eq!(f["kind"], "unlogged_crash", "{f}");
    assert_eq!(f["loss"], true);
    assert!(
        f["tables"]
            .as_array()
            .is_some_and(|t| t == &["public.sessions"]),
        "{f}"
    );
    assert!(
        f["summary"]
            .as_str()
            .is_some_and(|s| s.contains("1000 rows gone")),
        "{f}"
    );
    assert!(
        f["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["text"]
                .as_str()
                .is_some_and(|t| t.contains("not properly shut down"))),
        "the crash recovery line of the log is cited: {f}"
    );
    let impact = report["impact"]["tables"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let row = impact
        .iter()
        .find(|r| r["table"] == "public.sessions")
        .unwrap_or_else(|| panic!("sessions not in the impact: {impact:?}"));
    assert_eq!(row["removed_by"], "unlogged_crash");
    assert_eq!(row["rows_lost"], 1000);
    // The permanent table went through the same crash: its counters are zeroed, its rows kept.
    assert!(
        impact.iter().all(|r| r["table"] != "public.orders"),
        "orders reported lost: {impact:?}"
    );
    let orders = finding_for(&report, "orders");
    assert_eq!(orders["kind"], "stats_reset", "{orders}");
    assert_eq!(orders["loss"], false);
    assert!(
        orders["tables"]
            .as_array()
            .is_some_and(|t| !t.contains(&Value::from("public.sessions"))),
        "the statistics reset says the rows of the emptied table are still there: {orders}"
    );
    // No point-in-time recovery for rows that were never in the WAL.
    let plans = report["recovery"].as_array().cloned().unwrap_or_default();
    let plan = plans
        .iter()
        .find(|p| {
            p["tables"]
                .as_array()
                .is_some_and(|ts| ts.iter().any(|t| t["table"] == "public.sessions"))
        })
        .unwrap_or_else(|| panic!("no plan for sessions: {plans:?}"));
    assert_eq!(plan["restore_from"], "dump", "{plan}");
    assert!(
        plan["notes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n.as_str().is_some_and(|n| n.contains("UNLOGGED"))),
        "{plan}"
    );
    assert!(
        report["prevention"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p.as_str().is_some_and(|p| p.contains("UNLOGGED"))),
        "{}",
        report["prevention"]
    );

    // Without a baseline: the same table, its rows an honest estimate from the catalog.
    let report: Value =
        serde_json::from_slice(&pgtriage(&["report", path(&evidence), "--format", "json"]))
            .expect("report json");
    let f = finding_for(&report, "sessions");
    assert_eq!(f["kind"], "unlogged_crash", "{f}");
    assert!(
        f["summary"]
            .as_str()
            .is_some_and(|s| s.contains("rows lost unknown, estimated from the catalog")),
        "{f}"
    );
    assert_eq!(finding_for(&report, "orders")["loss"], false);
    let row = report["impact"]["tables"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["table"] == "public.sessions"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(row["rows_lost"], 1000, "{row}");
    assert_eq!(row["exact"], false, "an estimate, said as one: {row}");
    assert!(
        row["counted_from"]
            .as_str()
            .is_some_and(|c| c.contains("reltuples")),
        "{row}"
    );

    // The Markdown's title says what happened, and its top finding is this kind.
    let md = String::from_utf8(pgtriage(&["report", path(&evidence)])).expect("utf-8");
    assert!(
        md.starts_with("# 1000 rows lost from 1 table: UNLOGGED table emptied by crash recovery"),
        "{md}"
    );
    assert!(md.contains("### #1 unlogged_crash"), "{md}");
    assert!(
        md.contains("public.sessions is UNLOGGED and emptied by crash recovery"),
        "{md}"
    );
    pg.stop_server("fast");
}
