//! `pgtriage audit` against real servers: a misconfigured one (no statement logging, a prefix
//! without time or pid, no commit timestamps, an archive_command that fails) and a
//! well-configured one; cascade chains computed from a real schema; a real repository.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use support::{ClusterOptions, PgCluster};

const SCHEMA: &str = "
CREATE TABLE listing_status (symbol_id int PRIMARY KEY);
CREATE TABLE balance_sheet (id int PRIMARY KEY,
    symbol_id int REFERENCES listing_status (symbol_id) ON DELETE CASCADE);
CREATE TABLE balance_sheet_lines (id int PRIMARY KEY,
    sheet_id int REFERENCES balance_sheet (id) ON DELETE CASCADE);
CREATE TABLE overview (id int PRIMARY KEY, symbol_id int REFERENCES listing_status (symbol_id));
";

fn audit(url: &str, extra: &[&str]) -> (i32, Value) {
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .args(["audit", "--db", url, "--format", "json"])
        .args(extra)
        .output()
        .expect("run pgtriage audit");
    let code = out.status.code().unwrap_or(-1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "audit printed no JSON ({e}); exit {code}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, report)
}

fn finding<'a>(report: &'a Value, subject: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["subject"] == subject))
}

use support::git;

/// The application of seeds 000 and 001: an ETL that TRUNCATEs with CASCADE, a commented-out
/// DROP, and a migration that drops a table.
fn application_repo(dir: &Path) {
    std::fs::create_dir_all(dir.join("db/migrations")).expect("mkdir");
    std::fs::create_dir_all(dir.join("etl")).expect("mkdir");
    std::fs::write(
        dir.join("db/migrations/001_init.sql"),
        "CREATE TABLE IF NOT EXISTS legacy_quotes (id int);\n-- DROP TABLE listing_status;\nDROP TABLE legacy_quotes;\n",
    )
    .expect("write");
    std::fs::create_dir_all(dir.join("db/migrate")).expect("mkdir");
    std::fs::write(
        dir.join("db/migrate/20240102000000_drop_legacy_users.rb"),
        "class DropLegacyUsers < ActiveRecord::Migration[7.1]\n  def change\n    drop_table :legacy_users\n    # drop_table :listing_status\n  end\nend\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("etl/extract_listing_status.py"),
        "def load(db):\n    db.execute(\"TRUNCATE TABLE listing_status CASCADE\")\n\nCLEANUP = [\n    # \"DROP TABLE IF EXISTS ticker_info\",\n]\n",
    )
    .expect("write");
    git(dir, &["init", "-q"]);
    git(dir, &["add", "."]);
    git(
        dir,
        &[
            "-c",
            "user.name=dev",
            "-c",
            "user.email=dev@example.com",
            "commit",
            "-q",
            "-m",
            "etl",
        ],
    );
}

#[test]
fn a_misconfigured_server_fails_with_each_fix() {
    let cluster = PgCluster::start(ClusterOptions {
        archive: false,
        extra_conf: vec![
            "log_statement = 'none'".into(),
            "log_destination = 'stderr'".into(),
            "log_line_prefix = '%u@%d '".into(),
            "track_commit_timestamp = off".into(),
            "archive_mode = on".into(),
            "archive_command = 'false'".into(),
        ],
    });
    let db = cluster.fresh_database("audit_bad");
    cluster.psql_script(&db, SCHEMA, false);
    // Make the archiver try (and fail).
    cluster.psql("postgres", "SELECT pg_switch_wal()");
    let start = Instant::now();
    while cluster.psql("postgres", "SELECT failed_count FROM pg_stat_archiver") == "0" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "archiver never failed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, report) = audit(&cluster.url(&db), &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["worst"], "high");

    let f = finding(&report, "log_statement").expect("log_statement finding");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["value"], "none");
    assert_eq!(
        f["fix"],
        "ALTER SYSTEM SET log_statement = 'mod'; SELECT pg_reload_conf();"
    );
    let f = finding(&report, "log_line_prefix").expect("prefix finding");
    assert_eq!(f["severity"], "high");
    assert_eq!(
        finding(&report, "track_commit_timestamp").expect("tct")["severity"],
        "medium"
    );
    let f = finding(&report, "pg_stat_archiver").expect("archiver finding");
    assert_eq!(f["severity"], "high", "{f:#}");

    // Blast radius: DELETE follows CASCADE only; TRUNCATE … CASCADE empties every referencing table.
    let radius = report["blast_radius"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["table"] == "public.listing_status"))
        .expect("listing_status radius");
    assert_eq!(
        radius["delete_cascades_to"],
        serde_json::json!(["public.balance_sheet", "public.balance_sheet_lines"])
    );
    assert_eq!(
        radius["truncate_cascade_empties"],
        serde_json::json!([
            "public.balance_sheet",
            "public.balance_sheet_lines",
            "public.overview"
        ])
    );
    let f = finding(&report, "public.listing_status").expect("cascade finding");
    assert!(
        f["fix"]
            .as_str()
            .is_some_and(|s| s.contains("ON DELETE RESTRICT")),
        "{f:#}"
    );
}

#[test]
fn repository_statements_are_found_with_file_and_line() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("audit_repo");
    cluster.psql_script(&db, SCHEMA, false);
    let repo = tempfile::tempdir().expect("tempdir");
    application_repo(repo.path());
    let repo_arg = repo.path().to_string_lossy().to_string();
    let (code, report) = audit(&cluster.url(&db), &["--repo", &repo_arg]);
    assert_eq!(code, 1, "{report:#}");
    // The repository: the active TRUNCATE … CASCADE with what it would empty; the migration's
    // DROP; nothing for the commented-out statements.
    let f = finding(&report, "etl/extract_listing_status.py:2").expect("etl finding");
    assert_eq!(f["severity"], "high");
    assert!(
        f["problem"].as_str().is_some_and(|p| p.contains(
            "it also empties public.balance_sheet, public.balance_sheet_lines, public.overview"
        )),
        "{f:#}"
    );
    let f = finding(&report, "db/migrations/001_init.sql:3").expect("migration finding");
    assert_eq!(f["severity"], "medium");
    let paths: Vec<String> = report["repository"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| format!("{}:{}", s["path"].as_str().unwrap_or(""), s["line"]))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        paths,
        vec![
            "db/migrate/20240102000000_drop_legacy_users.rb:3",
            "db/migrations/001_init.sql:3",
            "etl/extract_listing_status.py:2"
        ]
    );
}

#[test]
fn a_well_configured_server_passes() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("audit_good");
    cluster.psql_script(
        &db,
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1);",
        false,
    );
    cluster.archive_everything();
    let (code, report) = audit(&cluster.url(&db), &[]);
    assert_eq!(code, 0, "{report:#}");
    for subject in [
        "log_statement",
        "log_line_prefix",
        "track_commit_timestamp",
        "wal_level",
        "archive_mode",
        "pg_stat_archiver",
    ] {
        assert!(
            report["passed"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["subject"] == subject)),
            "{subject} did not pass: {report:#}"
        );
    }
    // The terminal table says the same.
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .args(["audit", "--db", &cluster.url(&db)])
        .output()
        .expect("audit");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 high"));
}
