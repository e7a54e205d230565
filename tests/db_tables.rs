//! `pgtriage tables` and `pgtriage collect` on the real binary against a real server: the
//! counters after TRUNCATE, DELETE and a rolled-back INSERT, the evidence file, a pg_monitor role.

mod support;

use assert_cmd::Command;
use pgtriage::evidence::Evidence;
use serde_json::Value;
use support::{PgCluster, SUPERUSER_PASSWORD};

/// The binary with no connection settings inherited from whoever runs the tests.
pub fn pgtriage() -> Command {
    let mut c = Command::cargo_bin("pgtriage").expect("binary");
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGSSLMODE",
        "PGOPTIONS",
        "PGAPPNAME",
    ] {
        c.env_remove(var);
    }
    c
}

const SCHEMA: &str = "
CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE child_cascade (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent(id) ON DELETE CASCADE, note text);
CREATE TABLE child_restrict (id serial PRIMARY KEY, parent_id int NOT NULL REFERENCES parent(id), note text);
CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, msg text);
CREATE TABLE never_used (id int);
CREATE SCHEMA billing;
CREATE TABLE billing.events (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE billing.events_2026 PARTITION OF billing.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 100) g;
INSERT INTO child_cascade SELECT g, 1 + g % 100, 'c' FROM generate_series(1, 200) g;
INSERT INTO child_restrict (parent_id, note) SELECT 51 + g % 50, 'r' FROM generate_series(1, 100) g;
INSERT INTO audit_log (msg) SELECT 'm' || g FROM generate_series(1, 30) g;
INSERT INTO billing.events SELECT g, '2026-03-01' FROM generate_series(1, 10) g;
-- Dead rows are asserted: keep autovacuum from removing them mid-test.
ALTER TABLE child_cascade SET (autovacuum_enabled = false);
ALTER TABLE audit_log SET (autovacuum_enabled = false);
";

const INCIDENT: &str = "
TRUNCATE child_restrict;
DELETE FROM child_cascade;
BEGIN;
INSERT INTO audit_log (msg) SELECT 'x' FROM generate_series(1, 500);
ROLLBACK;
";

fn tables_json(args: &[&str]) -> Value {
    let out = pgtriage()
        .arg("tables")
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "tables failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("tables --format json is JSON")
}

fn row<'a>(doc: &'a Value, schema: &str, name: &str) -> &'a Value {
    doc["tables"]
        .as_array()
        .expect("tables[]")
        .iter()
        .find(|t| t["schema"] == schema && t["name"] == name)
        .unwrap_or_else(|| panic!("no {schema}.{name} in {doc}"))
}

fn incident_database(cluster: &PgCluster, hint: &str) -> String {
    let db = cluster.fresh_database(hint);
    cluster.psql_script(&db, SCHEMA, false);
    // VACUUM only once the inserting backend has flushed its counts (it does so as it exits,
    // after psql has gone): a VACUUM before that flush would count the rows twice in n_live_tup.
    cluster.flush_stats(&db);
    cluster.psql(&db, "VACUUM ANALYZE");
    cluster.psql_script(&db, INCIDENT, false);
    cluster.flush_stats(&db);
    db
}

#[test]
fn tables_shows_what_truncate_delete_and_rollback_did() {
    let cluster = PgCluster::shared();
    let db = incident_database(&cluster, "tables_incident");
    let doc = tables_json(&["--db", &cluster.url(&db)]);

    // TRUNCATE: live 0, no delete counted: the rows vanished.
    let t = row(&doc, "public", "child_restrict");
    assert_eq!(
        (&t["inserts"], &t["deletes"], &t["live_rows"]),
        (&Value::from(100), &Value::from(0), &Value::from(0))
    );
    assert_eq!(t["expected_rows"], 100);
    assert_eq!(t["status"], "wiped");

    // DELETE without WHERE: every row accounted for by `deletes`.
    let t = row(&doc, "public", "child_cascade");
    assert_eq!(t["inserts"], 200);
    assert_eq!(t["deletes"], 200);
    assert_eq!(t["live_rows"], 0);
    assert_eq!(t["dead_rows"], 200);
    assert_eq!(t["status"], "intact");

    // Rolled-back INSERT: inserts inflated, live unchanged, not a loss.
    let t = row(&doc, "public", "audit_log");
    assert_eq!(t["inserts"], 530);
    assert_eq!(t["live_rows"], 30);
    assert_eq!(t["dead_rows"], 500);
    assert_eq!(t["status"], "intact");

    let t = row(&doc, "public", "parent");
    assert_eq!(
        (t["live_rows"].clone(), t["status"].clone()),
        (Value::from(100), Value::from("intact"))
    );
    assert!(t["last_vacuum"].is_string(), "VACUUM ANALYZE ran: {t}");
    assert_eq!(
        row(&doc, "public", "never_used")["status"],
        "never_populated"
    );
    assert_eq!(row(&doc, "billing", "events_2026")["live_rows"], 10);

    // Sorted by (schema, name).
    let names: Vec<String> = doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}.{}",
                t["schema"].as_str().unwrap(),
                t["name"].as_str().unwrap()
            )
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // The terminal table, piped: plain text, no escape codes, the same statuses.
    let out = pgtriage()
        .args(["tables", "--db", &cluster.url(&db)])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "escape codes in a pipe: {text}");
    let line = text
        .lines()
        .find(|l| l.contains("child_restrict"))
        .expect("child_restrict line");
    assert!(line.contains("wiped"), "{line}");
}

#[test]
fn collect_writes_evidence_that_round_trips_and_reads_offline() {
    let cluster = PgCluster::shared();
    let db = incident_database(&cluster, "collect_roundtrip");
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before.json");
    let after = dir.path().join("after.json");
    let url = cluster.tcp_url(&db, "postgres", SUPERUSER_PASSWORD);

    pgtriage()
        .args(["collect", "--db", &url, "-o"])
        .arg(&before)
        .assert()
        .success();
    pgtriage()
        .args(["collect", "--db", &url, "--baseline"])
        .arg(&before)
        .arg("-o")
        .arg(&after)
        .assert()
        .success();

    let text = std::fs::read_to_string(&after).unwrap();
    assert!(
        !text.contains(SUPERUSER_PASSWORD),
        "password in the evidence file"
    );
    let evidence = Evidence::load(&after).expect("loads");
    // serde round trip: same bytes.
    assert_eq!(evidence.to_json(), text);
    assert_eq!(evidence.format, "pgtriage-evidence/1");

    assert_eq!(evidence.inputs.len(), 2);
    assert_eq!(evidence.inputs[0].kind, "database");
    assert_eq!(
        evidence.inputs[0].name,
        format!("postgres@127.0.0.1:{}/{db}", cluster.port)
    );
    assert_eq!(evidence.inputs[1].kind, "baseline");
    let (sha, bytes) = pgtriage::io::sha256_file(&before).unwrap();
    assert_eq!(evidence.inputs[1].sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(evidence.inputs[1].bytes, Some(bytes));

    let snap = evidence.database.as_ref().unwrap();
    assert_eq!(snap.server.database, db);
    assert!(snap.server.datid.is_some());
    assert_eq!(snap.server.timeline_id, Some(1));
    assert!(snap.server.system_identifier.is_some());
    assert!(snap.server.postmaster_start_time.is_some());
    assert_eq!(snap.server.in_recovery, Some(false));
    assert!(snap.database_stats.is_some());
    assert!(snap.archiver.is_some());
    assert!(snap.bgwriter_stats_reset.is_some());
    assert_eq!(
        snap.settings.get("log_statement").map(String::as_str),
        Some("all")
    );
    assert_eq!(
        snap.settings
            .get("track_commit_timestamp")
            .map(String::as_str),
        Some("on")
    );
    assert!(snap.settings.contains_key("archive_command"));
    assert!(snap.not_visible.is_empty(), "{:?}", snap.not_visible);

    // TRUNCATE swapped the file and left its commit time on the catalog row.
    let truncated = snap
        .tables
        .iter()
        .find(|t| t.name == "child_restrict")
        .unwrap();
    assert_ne!(truncated.relfilenode, truncated.oid);
    assert_eq!(truncated.reltuples, -1.0);
    assert_eq!(truncated.size_bytes, Some(0));
    assert!(truncated.catalog_commit_time.is_some());
    assert!(truncated.n_ins_since_vacuum.is_some());
    let partition = snap
        .tables
        .iter()
        .find(|t| t.name == "events_2026")
        .unwrap();
    assert_eq!(
        partition.partition_parent.as_deref(),
        Some("billing.events")
    );
    let partitioned = snap.tables.iter().find(|t| t.name == "events").unwrap();
    assert_eq!(partitioned.relkind, "p");

    let fk = snap
        .foreign_keys
        .iter()
        .find(|f| f.table == "child_cascade")
        .unwrap();
    assert_eq!(
        (
            fk.columns.clone(),
            fk.ref_table.as_str(),
            fk.ref_columns.clone(),
            fk.on_delete.as_str(),
            fk.on_update.as_str()
        ),
        (
            vec!["parent_id".to_string()],
            "parent",
            vec!["id".to_string()],
            "cascade",
            "no_action"
        )
    );
    assert_eq!(snap.foreign_keys.len(), 2);

    let seq = snap
        .sequences
        .iter()
        .find(|s| s.name == "child_restrict_id_seq")
        .unwrap();
    assert_eq!(seq.owned_by_table.as_deref(), Some("public.child_restrict"));
    assert_eq!(seq.owned_by_column.as_deref(), Some("id"));
    assert_eq!(seq.last_value, Some(100));
    let identity = snap
        .sequences
        .iter()
        .find(|s| s.name == "audit_log_id_seq")
        .unwrap();
    assert_eq!(identity.owned_by_column.as_deref(), Some("id"));

    // Offline: the same statuses from the file as from the live server.
    let offline = tables_json(&[before.to_str().unwrap()]);
    assert_eq!(row(&offline, "public", "child_restrict")["status"], "wiped");
    assert_eq!(row(&offline, "public", "audit_log")["expected_rows"], 530);
    // With a baseline (here taken after the incident), expected rows are arithmetic from it:
    // the baseline's live rows plus what was inserted and deleted since.
    let offline = tables_json(&[after.to_str().unwrap()]);
    assert_eq!(row(&offline, "public", "audit_log")["expected_rows"], 30);
    assert_eq!(
        row(&offline, "public", "child_restrict")["expected_rows"],
        0
    );
    assert_eq!(
        row(&offline, "public", "child_restrict")["status"],
        "intact"
    );
}

#[test]
fn pg_monitor_role_and_plain_role_see_what_they_may() {
    let cluster = PgCluster::shared();
    let db = incident_database(&cluster, "monitor_role");
    let suffix = std::process::id();
    let monitor = format!("mon_{suffix}");
    let plain = format!("plain_{suffix}");
    cluster.psql(
        &db,
        &format!(
            "CREATE ROLE {monitor} LOGIN PASSWORD 'mon-pw' IN ROLE pg_monitor; \
             CREATE ROLE {plain} LOGIN PASSWORD 'plain-pw'; \
             GRANT CONNECT ON DATABASE {db} TO {monitor}, {plain}"
        ),
    );

    let doc = tables_json(&["--db", &cluster.tcp_url(&db, &monitor, "mon-pw")]);
    assert_eq!(row(&doc, "public", "child_restrict")["status"], "wiped");
    assert_eq!(row(&doc, "public", "parent")["live_rows"], 100);

    // A role without pg_monitor: whatever it may not read is a gap with a reason, not a crash.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain.json");
    pgtriage()
        .args([
            "collect",
            "--db",
            &cluster.tcp_url(&db, &plain, "plain-pw"),
            "-o",
        ])
        .arg(&file)
        .assert()
        .success();
    let evidence = Evidence::load(&file).unwrap();
    let snap = evidence.database.unwrap();
    assert_eq!(snap.tables.len(), 7);
    let gaps: Vec<&str> = snap.not_visible.iter().map(|g| g.what.as_str()).collect();
    assert!(
        gaps.iter().any(|g| g.starts_with("settings.")),
        "hidden settings should be listed: {gaps:?}"
    );
    assert!(
        gaps.iter().any(|g| g.starts_with("sequences.last_value")),
        "{gaps:?}"
    );
    for g in &snap.not_visible {
        assert!(!g.reason.is_empty());
    }
}

#[test]
fn a_locked_table_costs_its_size_not_the_snapshot() {
    // A paused point-in-time recovery holds AccessExclusiveLock on the tables it was truncating
    // (pg-forensics.md 11b); an open migration does the same. Here a session holds the lock.
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("locked_table");
    cluster.psql(
        &db,
        "CREATE TABLE busy (id int); INSERT INTO busy VALUES (1)",
    );
    let mut holder = std::process::Command::new(cluster.bindir.join("psql"))
        .arg("-X")
        .arg("-h")
        .arg(cluster.socket_dir())
        .args(["-p", &cluster.port.to_string(), "-U", "postgres", "-d", &db])
        .args([
            "-c",
            "BEGIN; LOCK TABLE busy IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(20); COMMIT;",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("psql holding the lock");
    // Wait until the lock is held.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while cluster.psql(
        &db,
        "SELECT count(*) FROM pg_locks WHERE relation = 'busy'::regclass AND mode = 'AccessExclusiveLock' AND granted",
    ) != "1"
    {
        assert!(std::time::Instant::now() < deadline, "lock never taken");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let started = std::time::Instant::now();
    let doc = tables_json(&["--db", &cluster.url(&db), "--lock-timeout", "300"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(row(&doc, "public", "busy")["inserts"].is_number());
    let gaps = doc["not_visible"].as_array().unwrap();
    assert!(
        gaps.iter().any(|g| g["what"] == "tables.size_bytes"
            && g["reason"].as_str().unwrap_or("").contains("lock timeout")),
        "{gaps:?}"
    );
}

/// Seed 002's `DROP TYPE … CASCADE`: the column is gone, the rows stay. The snapshot records the
/// dropped column with the drop's commit time, and the report warns not to rewrite the table
/// while the values are still in the heap, naming the logged statement that dropped it.
#[test]
fn a_column_dropped_by_drop_type_cascade_is_recorded_and_reported() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("dropped_column");
    cluster.psql_script(
        &db,
        "CREATE TYPE flow_status AS ENUM ('running', 'paused', 'completed');
         CREATE TABLE flows (id int PRIMARY KEY, name text, status flow_status);
         INSERT INTO flows SELECT g, 'f' || g, 'paused' FROM generate_series(1, 20) g;
         DROP TYPE flow_status CASCADE;",
        false,
    );
    cluster.flush_stats(&db);
    let dir = tempfile::tempdir().unwrap();
    let evidence_path = dir.path().join("evidence.json");
    let log = cluster.log_dir().join("postgresql.log");
    cluster.wait_for_log(
        |t| t.contains("DROP TYPE flow_status CASCADE"),
        std::time::Duration::from_secs(5),
    );
    pgtriage()
        .args(["collect", "--db", &cluster.url(&db), "--log"])
        .arg(&log)
        .arg("-o")
        .arg(&evidence_path)
        .assert()
        .success();
    let evidence = Evidence::load(&evidence_path).expect("loads");
    let snap = evidence.database.as_ref().expect("database");
    let dropped: Vec<_> = snap
        .dropped_columns
        .iter()
        .filter(|c| c.table == "flows")
        .collect();
    assert_eq!(dropped.len(), 1, "{:?}", snap.dropped_columns);
    assert_eq!(dropped[0].schema, "public");
    assert_eq!(dropped[0].attnum, 3, "status was the third column");
    assert!(
        dropped[0].dropped_at.is_some(),
        "track_commit_timestamp is on"
    );

    let out = pgtriage()
        .args(["report", "--format", "json"])
        .arg(&evidence_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let action = report["immediate_actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"].as_str().unwrap_or("").contains("public.flows"))
        .unwrap_or_else(|| panic!("no action for flows: {}", report["immediate_actions"]));
    let why = action["why"].as_str().unwrap();
    assert!(why.contains("DROP TYPE flow_status CASCADE"), "{why}");
    assert!(
        action["source"]
            .as_str()
            .unwrap()
            .starts_with("catalog:public.flows.attnum_3")
    );
}
