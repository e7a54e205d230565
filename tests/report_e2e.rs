//! `pgtriage report` end to end: a real incident on a real PostgreSQL (the tests/support
//! harness), gathered and analysed by the real binary in one go (`report --db … --repo …`).

mod support;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use support::PgCluster;

/// pg-forensics.md's lab schema: parent ← child_cascade ← grandchild (ON DELETE CASCADE) and
/// child_restrict (NO ACTION). Autovacuum is off on them so the snapshot sees the incident as
/// it was left, dead tuples and all.
const SCHEMA: &str = "
CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL) WITH (autovacuum_enabled = false);
CREATE TABLE child_cascade (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent(id) ON DELETE CASCADE, note text) WITH (autovacuum_enabled = false);
CREATE TABLE grandchild (id int PRIMARY KEY, child_id int NOT NULL REFERENCES child_cascade(id) ON DELETE CASCADE) WITH (autovacuum_enabled = false);
CREATE TABLE child_restrict (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent(id)) WITH (autovacuum_enabled = false);
CREATE TABLE users (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 1000) g;
INSERT INTO child_cascade SELECT g, (g + 1) / 2, 'c' FROM generate_series(1, 2000) g;
INSERT INTO grandchild SELECT g, g FROM generate_series(1, 2000) g;
INSERT INTO child_restrict SELECT g, 500 + g FROM generate_series(1, 500) g;
INSERT INTO users SELECT g FROM generate_series(1, 11) g;
VACUUM ANALYZE;
";

use support::git;

/// An application repository whose second migration resets the data with TRUNCATE … CASCADE.
fn repo_with_reset_migration(dir: &Path) {
    std::fs::create_dir_all(dir.join("migrations")).expect("mkdir");
    std::fs::write(dir.join("migrations/001_init.sql"), SCHEMA).expect("write");
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
            "init",
        ],
    );
    std::fs::write(
        dir.join("migrations/002_reset.sql"),
        "TRUNCATE parent CASCADE;\n",
    )
    .expect("write");
    git(dir, &["add", "."]);
    git(
        dir,
        &[
            "-c",
            "user.name=mallory",
            "-c",
            "user.email=m@example.com",
            "commit",
            "-q",
            "-m",
            "reset demo data",
        ],
    );
}

fn report(args: &[&str]) -> (Value, String) {
    let json = Command::cargo_bin("pgtriage")
        .expect("binary")
        .arg("report")
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run");
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let md = Command::cargo_bin("pgtriage")
        .expect("binary")
        .arg("report")
        .args(args)
        .output()
        .expect("run");
    assert!(
        md.status.success(),
        "{}",
        String::from_utf8_lossy(&md.stderr)
    );
    (
        serde_json::from_slice(&json.stdout).expect("json"),
        String::from_utf8_lossy(&md.stdout).into_owned(),
    )
}

fn table<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == name))
        .unwrap_or(&Value::Null)
}

#[test]
fn delete_with_on_delete_cascade_is_one_cascade_with_urgent_autovacuum_advice() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("report_delete_cascade");
    cluster.psql_script(&db, SCHEMA, false);
    cluster.psql(&db, "DELETE FROM parent WHERE id <= 500");
    cluster.flush_stats(&db);
    let url = cluster.url(&db);
    let (json, md) = report(&["--db", &url]);
    if let Ok(dir) = std::env::var("PGTRIAGE_DUMP") {
        let _ = std::fs::write(format!("{dir}/e2e_delete.json"), json.to_string());
    }

    let top = &json["hypotheses"][0];
    assert_eq!(top["kind"], "cascade", "{top}");
    assert_eq!(top["parent"], "public.parent");
    let tables: Vec<&str> = top["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    assert_eq!(
        tables,
        ["public.child_cascade", "public.grandchild", "public.parent"]
    );
    assert_eq!(table(&json, "parent")["deletes"], 500);
    assert_eq!(table(&json, "child_cascade")["deletes"], 1000);
    assert_eq!(table(&json, "child_restrict")["deletes"], 0);
    assert_eq!(table(&json, "child_restrict")["explanation"], Value::Null);
    // Dead tuples of the deleted rows are on disk and nothing vacuumed since: say so first.
    let actions = json["immediate_actions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // One block for the cascade's three tables, a line each.
    assert!(
        actions.iter().any(|a| a["command"]
            .as_str()
            .unwrap_or_default()
            .lines()
            .any(|l| l == "ALTER TABLE public.parent SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);")),
        "{actions:?}"
    );
    // Impact first (the postmortem's shape), then the urgent actions before anything else.
    let first_section = md.find("## ").map(|i| &md[i..]).unwrap_or_default();
    assert!(first_section.starts_with("## Impact"), "{md}");
    let second = first_section[3..]
        .find("\n## ")
        .map(|i| &first_section[3 + i + 1..])
        .unwrap_or_default();
    assert!(second.starts_with("## Immediate actions"), "{md}");
    assert!(md.contains("ALTER TABLE public.grandchild SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);"));
    assert!(
        md.contains("| `public.parent` | `public.child_cascade`")
            || md.contains("`public.parent` |"),
        "{md}"
    );
}

#[test]
fn truncate_cascade_from_a_migration_is_seen_in_catalog_and_git() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("report_truncate_cascade");
    cluster.psql_script(&db, SCHEMA, false);
    cluster.psql(&db, "TRUNCATE parent CASCADE");
    cluster.flush_stats(&db);
    let repo = tempfile::tempdir().expect("tempdir");
    repo_with_reset_migration(repo.path());
    let url = cluster.url(&db);
    let (json, md) = report(&[
        "--db",
        &url,
        "--repo",
        repo.path().to_str().unwrap_or_default(),
    ]);

    // Every truncated table is explained by a TRUNCATE of the four in one transaction.
    let top = &json["hypotheses"][0];
    assert!(
        top["kind"] == "truncate" || top["kind"] == "cascade",
        "{top}"
    );
    let tables: Vec<&str> = top["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    assert_eq!(
        tables,
        [
            "public.child_cascade",
            "public.child_restrict",
            "public.grandchild",
            "public.parent"
        ]
    );
    let reasons: Vec<&str> = top["score"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["reason"].as_str())
        .collect();
    for r in [
        "stats_signature",
        "catalog_signature",
        "one_transaction",
        "migration_operation",
    ] {
        assert!(reasons.contains(&r), "{r} missing in {reasons:?}");
    }
    for t in ["parent", "child_cascade", "grandchild", "child_restrict"] {
        assert_eq!(table(&json, t)["status"], "wiped", "{t}");
        assert_eq!(table(&json, t)["deletes"], 0, "{t}");
    }
    assert_eq!(table(&json, "users")["status"], "intact");
    // Without the log, TRUNCATE naming all four and TRUNCATE parent CASCADE look the same: it
    // is one event, so one finding, which says the other kind fits exactly as well rather than
    // pick one silently (issue 9: one finding per event, no two findings for one statement).
    let evidence_texts: Vec<&str> = top["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(
        evidence_texts
            .iter()
            .any(|t| t.contains("also fits") && t.contains("does not decide between them")),
        "{top}"
    );
    assert!(md.contains("the evidence does not decide between them"));
    // The migration that did it, with its commit.
    let m = json["migrations"].as_array().cloned().unwrap_or_default();
    assert!(
        m.iter()
            .any(|m| m["path"] == "migrations/002_reset.sql" && m["author"] == "mallory"),
        "{m:?}"
    );
    assert!(md.contains("migrations/002_reset.sql"));
    // Determinism on a live database: the JSON of two runs differs only if the database did.
    let (again, _) = report(&[
        "--db",
        &url,
        "--repo",
        repo.path().to_str().unwrap_or_default(),
    ]);
    assert_eq!(json["hypotheses"], again["hypotheses"]);
}

#[test]
fn with_the_server_log_truncate_cascade_is_pinned_to_statement_session_and_time() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("report_truncate_cascade_log");
    cluster.psql_script(&db, SCHEMA, false);
    cluster.psql(&db, "TRUNCATE parent CASCADE");
    cluster.flush_stats(&db);
    cluster.wait_for_log(
        |t| t.contains("TRUNCATE parent CASCADE"),
        std::time::Duration::from_secs(10),
    );
    let log = cluster.log_dir().join("postgresql.log");
    let url = cluster.url(&db);
    let dir = tempfile::tempdir().expect("tempdir");
    let evidence = dir.path().join("evidence.json");
    // Collect once, analyse anywhere.
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .args([
            "collect",
            "--db",
            &url,
            "--log",
            log.to_str().unwrap_or_default(),
            "-o",
        ])
        .arg(&evidence)
        .output()
        .expect("collect");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (json, md) = report(&[evidence.to_str().unwrap_or_default()]);

    let top = &json["hypotheses"][0];
    assert_eq!(top["kind"], "cascade", "{top}");
    assert_eq!(top["parent"], "public.parent");
    assert!(
        top["ties_with"].as_array().is_none_or(|t| t.is_empty()),
        "{top}"
    );
    assert_eq!(top["statement"], "TRUNCATE parent CASCADE");
    assert_eq!(top["session"]["database"], db.as_str());
    let at = top["at"].as_str().unwrap_or_default();
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    for t in ["parent", "child_cascade", "grandchild", "child_restrict"] {
        assert_eq!(table(&json, t)["explanation"], "cascade", "{t}");
    }
    // The log input is in the chain of custody with its hash.
    let inputs = json["sources"].as_array().cloned().unwrap_or_default();
    assert!(
        inputs
            .iter()
            .any(|i| i["kind"] == "log" && i["sha256"].as_str().is_some_and(|h| h.len() == 64)),
        "{inputs:?}"
    );
    assert!(md.contains("`TRUNCATE parent CASCADE`"));
    assert!(md.contains("### #1 cascade"));
}
