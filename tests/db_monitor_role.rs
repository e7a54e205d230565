//! A managed-service style role: `pg_monitor` and nothing else (no superuser, no
//! `pg_read_server_files`, no SELECT on the tables). Every command that reads the database
//! still works, and what the role cannot see is named under `not_visible`.

mod support;

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use support::{ClusterOptions, PgCluster};

fn pgtriage(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("pgtriage")
        .unwrap()
        .env_remove("DATABASE_URL")
        .env_remove("PGOPTIONS")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_pg_monitor_only_role_collects_and_names_its_gaps() {
    let cluster = PgCluster::start(ClusterOptions {
        archive: false,
        ..ClusterOptions::default()
    });
    let db = cluster.fresh_database("monitor");
    cluster.psql(
        &db,
        "CREATE ROLE watcher LOGIN PASSWORD 'watcher-pw-123' NOSUPERUSER; GRANT pg_monitor TO watcher; \
         CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 30); \
         CREATE SEQUENCE private_seq; SELECT nextval('private_seq')",
    );
    cluster.flush_stats(&db);
    let url = cluster.tcp_url(&db, "watcher", "watcher-pw-123");
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("ev.json");
    let (code, _, err) = pgtriage(&["collect", "--db", &url, "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let ev: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let db_part = &ev["database"];
    let orders = db_part["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "orders")
        .expect("pg_monitor sees the table statistics");
    assert_eq!(orders["n_tup_ins"], 30);
    // pg_monitor reads every setting (pg_read_all_settings) and pg_control_*.
    assert_eq!(db_part["settings"]["log_statement"], "all");
    let gaps: Vec<String> = db_part["not_visible"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{} {}",
                g["what"].as_str().unwrap_or(""),
                g["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        gaps.iter().any(|g| g.contains("private_seq")),
        "the sequence it may not read is named: {gaps:?}"
    );
    for args in [
        vec!["tables", "--db", url.as_str(), "--format", "json"],
        vec!["audit", "--db", url.as_str(), "--format", "json"],
    ] {
        let (code, out, err) = pgtriage(&args);
        assert!(
            code == 0 || (args[0] == "audit" && code == 1),
            "{args:?}: {err}"
        );
        assert!(
            serde_json::from_str::<Value>(&out).is_ok(),
            "{args:?}: {out}"
        );
        assert!(!out.contains("watcher-pw-123"));
    }
    let (code, out, err) = pgtriage(&[
        "verify",
        "--baseline",
        out.to_str().unwrap(),
        "--db",
        &url,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "verify as pg_monitor: {err}{out}");
}
