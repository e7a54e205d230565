//! A managed service is told from the settings only it defines: a server whose configuration
//! sets `rds.force_ssl` (as every RDS/Aurora instance does) is recognised, the report says where
//! that provider keeps the server log and how to download it. The setting is a real configuration line of a real server (PostgreSQL
//! keeps a dotted name it has no extension for as a placeholder, which `current_setting` reads).

mod support;

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use support::{ClusterOptions, PgCluster};

fn pgtriage(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .env_remove("DATABASE_URL")
        .env_remove("PGOPTIONS")
        .args(args)
        .output()
        .expect("run pgtriage");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_rds_server_is_recognised_and_the_report_says_where_its_logs_are() {
    let cluster = PgCluster::start(ClusterOptions {
        extra_conf: vec!["rds.force_ssl = 1".into()],
        archive: true,
    });
    let db = cluster.fresh_database("provider");
    cluster.psql(
        &db,
        "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 200); \
         ANALYZE orders; TRUNCATE orders",
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let evidence = tmp.path().join("evidence.json");
    let url = cluster.url(&db);
    let (code, _, err) = pgtriage(&[
        "collect",
        "--db",
        &url,
        "-o",
        evidence.to_str().expect("path"),
    ]);
    assert_eq!(code, 0, "{err}");
    let ev: Value =
        serde_json::from_str(&std::fs::read_to_string(&evidence).expect("read")).expect("json");
    assert_eq!(
        ev["database"]["settings"]["rds.force_ssl"], "1",
        "{:#}",
        ev["database"]["settings"]
    );

    let (code, out, err) = pgtriage(&[
        "report",
        evidence.to_str().expect("path"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).expect("report json");
    let gaps = report["gaps"].to_string();
    assert!(gaps.contains("Amazon RDS / Aurora"), "{gaps}");
    assert!(
        gaps.contains("aws rds download-db-log-file-portion"),
        "{gaps}"
    );
    // A plain server names no provider.
    let plain = PgCluster::shared();
    let db = plain.fresh_database("no_provider");
    let evidence = tmp.path().join("plain.json");
    let url = plain.url(&db);
    let (code, _, err) = pgtriage(&[
        "collect",
        "--db",
        &url,
        "-o",
        evidence.to_str().expect("path"),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = pgtriage(&[
        "report",
        evidence.to_str().expect("path"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("managed service"), "{out}");
}
