//! The timeline from logs a real PostgreSQL wrote: the same incidents come out of the stderr,
//! csvlog and jsonlog files the server wrote at the same time.

mod support;

use std::path::Path;

use pgtriage::evidence::{EventKind, LogEvent, Timeline, TxOutcome};
use pgtriage::logs::{LogOptions, read_timeline};
use support::PgCluster;

fn read(path: &Path) -> Timeline {
    read_timeline(&LogOptions {
        paths: vec![path.display().to_string()],
        ..LogOptions::default()
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

type Comparable = (EventKind, Vec<String>, Option<TxOutcome>, bool, String);

/// Events of one database, as comparable tuples (kind, tables, outcome, cascade, text).
fn summary(t: &Timeline, db: &str) -> Vec<Comparable> {
    t.events
        .iter()
        .filter(|e| e.session.database.as_deref() == Some(db))
        .filter(|e| {
            !matches!(
                e.kind,
                EventKind::Connection | EventKind::Disconnection | EventKind::ToolSession
            )
        })
        .map(|e| {
            (
                e.kind,
                e.tables.clone(),
                e.outcome,
                e.cascade,
                e.text.clone(),
            )
        })
        .collect()
}

fn find<'a>(t: &'a Timeline, db: &str, kind: EventKind) -> Vec<&'a LogEvent> {
    t.events
        .iter()
        .filter(|e| e.session.database.as_deref() == Some(db) && e.kind == kind)
        .collect()
}

/// Waits until the three log files all mention `marker` (the collector writes them apart).
fn wait_for_all(pg: &PgCluster, marker: &str) {
    let start = std::time::Instant::now();
    loop {
        let all = ["postgresql.log", "postgresql.csv", "postgresql.json"]
            .iter()
            .all(|f| {
                std::fs::read_to_string(pg.log_dir().join(f))
                    .map(|t| t.contains(marker))
                    .unwrap_or(false)
            });
        if all || start.elapsed() > std::time::Duration::from_secs(20) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn destructive_statements_and_outcomes_agree_across_formats() {
    let pg = PgCluster::shared();
    let db = pg.fresh_database("formats");
    pg.psql_script(
        &db,
        "CREATE TABLE parent (id int PRIMARY KEY, name text);\n\
         CREATE TABLE \"Child Table\" (id int PRIMARY KEY, parent_id int REFERENCES parent(id) ON DELETE CASCADE);\n",
        true,
    );
    pg.psql_script(
        &db,
        "CREATE SCHEMA audit;\n\
         CREATE TABLE audit.log_rows (id int);\n\
         INSERT INTO parent SELECT g, 'p'||g FROM generate_series(1, 100) g;\n\
         INSERT INTO \"Child Table\" SELECT g, g FROM generate_series(1, 100) g;\n\
         BEGIN;\n\
         DELETE FROM parent WHERE id <= 10;\n\
         ROLLBACK;\n\
         BEGIN;\n\
         DELETE FROM parent WHERE id <= 20;\n\
         COMMIT;\n\
         BEGIN;\n\
         INSERT INTO audit.log_rows SELECT g FROM generate_series(1, 5) g;\n\
         SELECT 1/0;\n\
         COMMIT;\n\
         UPDATE parent SET name = 'x';\n\
         TRUNCATE audit.log_rows, \"Child Table\" CASCADE;\n\
         ALTER TABLE parent DROP COLUMN name;\n\
         SELECT pg_stat_reset();\n\
         CREATE TABLE alembic_version (version_num varchar(32) NOT NULL);\n\
         INSERT INTO alembic_version (version_num) VALUES ('ae1027a6acf');\n\
         UPDATE alembic_version SET version_num='b2c3' WHERE alembic_version.version_num = 'ae1027a6acf';\n\
         DROP TABLE parent CASCADE;\n\
         DROP SCHEMA audit CASCADE;\n\
         BEGIN;\n\
         DELETE FROM alembic_version;\n",
        true,
    );
    let marker = format!("formats-done-{db}");
    pg.psql(&db, &format!("SELECT '{marker}'"));
    wait_for_all(&pg, &marker);

    let dir = pg.log_dir();
    let stderr = read(&dir.join("postgresql.log"));
    let csv = read(&dir.join("postgresql.csv"));
    let json = read(&dir.join("postgresql.json"));
    assert_eq!(stderr.sources[0].format, "stderr");
    assert_eq!(
        stderr.sources[0].line_prefix.as_deref(),
        Some("%m [%p] %q%u@%d ")
    );
    assert_eq!(csv.sources[0].format, "csvlog");
    assert_eq!(json.sources[0].format, "jsonlog");

    let s = summary(&stderr, &db);
    assert_eq!(s, summary(&csv, &db), "stderr and csvlog disagree");
    assert_eq!(s, summary(&json, &db), "stderr and jsonlog disagree");

    for t in [&stderr, &csv, &json] {
        // The first DELETE was rolled back, the second committed.
        let deletes = find(t, &db, EventKind::Delete);
        assert_eq!(deletes.len(), 2, "{deletes:#?}");
        assert_eq!(deletes[0].outcome, Some(TxOutcome::RolledBack));
        assert_eq!(deletes[1].outcome, Some(TxOutcome::Committed));
        assert_eq!(deletes[0].tables, vec!["parent".to_string()]);
        // The bulk insert inside the transaction that hit 1/0 was aborted with it.
        let bulk: Vec<_> = find(t, &db, EventKind::BulkLoad)
            .into_iter()
            .filter(|e| e.tables == vec!["audit.log_rows".to_string()])
            .collect();
        assert_eq!(bulk.len(), 1);
        assert_eq!(bulk[0].outcome, Some(TxOutcome::Aborted));
        let errors = find(t, &db, EventKind::Error);
        // stderr has no SQLSTATE without %e in the prefix: it is read from the message there.
        let want = Some("22012");
        assert!(
            errors
                .iter()
                .any(|e| e.text == "division by zero" && e.sqlstate.as_deref() == want),
            "{errors:#?}"
        );
        let upd = find(t, &db, EventKind::UpdateAll);
        assert_eq!(upd[0].outcome, Some(TxOutcome::Committed));
        let tr = find(t, &db, EventKind::Truncate);
        assert_eq!(
            tr[0].tables,
            vec!["audit.log_rows".to_string(), "Child Table".to_string()]
        );
        assert!(tr[0].cascade);
        assert_eq!(
            find(t, &db, EventKind::DropColumn)[0].tables,
            vec!["parent".to_string()]
        );
        assert_eq!(find(t, &db, EventKind::StatsReset).len(), 1);
        let marks: Vec<_> = find(t, &db, EventKind::MigrationBookkeeping)
            .iter()
            .filter_map(|e| {
                e.migration
                    .as_ref()
                    .map(|m| (m.tool.clone(), m.version.clone()))
            })
            .collect();
        assert_eq!(
            marks,
            vec![
                ("alembic".into(), "ae1027a6acf".into()),
                ("alembic".into(), "b2c3".into())
            ]
        );
        let drop = find(t, &db, EventKind::DropTable);
        assert!(drop[0].cascade);
        assert_eq!(
            find(t, &db, EventKind::DropSchema)[0].tables,
            vec!["audit".to_string()]
        );
        // psql ended with its transaction open: the DELETE rolled back with the session.
        let all = find(t, &db, EventKind::DeleteAll);
        assert_eq!(all[0].outcome, Some(TxOutcome::RolledBack), "{all:#?}");
        // Rollbacks are on the timeline with what they undid.
        assert!(find(t, &db, EventKind::Rollback).len() >= 3);
        // Sources point at the line.
        assert!(deletes[0].source.starts_with("log:"));
    }
    // Every event's source line really holds its statement (stderr).
    let text = std::fs::read_to_string(dir.join("postgresql.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    for e in find(&stderr, &db, EventKind::Delete) {
        let n: usize = e
            .source
            .rsplit(':')
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        assert!(
            lines[n - 1].contains("DELETE FROM parent"),
            "{}: {}",
            e.source,
            lines[n - 1]
        );
    }
    assert!(
        stderr.sources[0]
            .sha256
            .as_deref()
            .is_some_and(|h| h.len() == 64)
    );
    assert!(stderr.counts.iter().any(|c| c.kind == "select"));
}

#[test]
fn tool_sessions_connections_and_autovacuum() {
    let pg = PgCluster::shared();
    let db = pg.fresh_database("tools");
    pg.psql(
        &db,
        "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 2000)",
    );
    pg.psql(&db, "DELETE FROM t WHERE id > 100");
    let dump = pg
        .server_tool("pg_dump")
        .args(["-h"])
        .arg(pg.socket_dir())
        .args(["-p", &pg.port.to_string(), "-U", "postgres", &db])
        .output()
        .expect("pg_dump");
    assert!(dump.status.success());
    pg.psql(&db, "VACUUM ANALYZE t");
    pg.psql(
        &db,
        "ALTER TABLE t SET (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0)",
    );
    let marker = format!("tools-done-{db}");
    pg.psql(&db, &format!("SELECT '{marker}'"));
    wait_for_all(&pg, &marker);
    let dir = pg.log_dir();
    for f in ["postgresql.log", "postgresql.csv", "postgresql.json"] {
        let t = read(&dir.join(f));
        let tools = find(&t, &db, EventKind::ToolSession);
        assert!(
            tools
                .iter()
                .any(|e| e.session.application.as_deref() == Some("pg_dump")),
            "{f}: {tools:#?}"
        );
        assert!(!find(&t, &db, EventKind::Disconnection).is_empty(), "{f}");
        let dump_copy = t
            .counts
            .iter()
            .any(|c| c.table.as_deref() == Some("public.t") && c.kind == "select");
        assert!(dump_copy, "{f}: pg_dump's COPY counted");
    }
}
