//! Issue 16: a full snapshot runs its three slow statements (tables, foreign keys, sequences) on
//! sibling sessions that import the main transaction's exported snapshot. They must read exactly
//! what one connection reads, and where a sibling cannot connect the main session reads it
//! itself and the evidence says why.

mod support;

use pgtriage::db::{ConnectionSettings, Session};
use pgtriage::evidence::DatabaseSnapshot;
use support::PgCluster;

fn settings(url: &str) -> ConnectionSettings {
    ConnectionSettings {
        url: Some(url.to_string()),
        statement_timeout_ms: 30_000,
        lock_timeout_ms: 2_000,
        connect_timeout_s: 5,
    }
}

/// What the three slow statements read (the rest depends on the role's privileges).
fn slow_parts(s: &DatabaseSnapshot) -> serde_json::Value {
    serde_json::json!({
        "tables": s.tables,
        "foreign_keys": s.foreign_keys,
        "sequences": s.sequences,
    })
}

#[test]
fn siblings_read_what_one_connection_reads_and_a_refused_sibling_is_recorded() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("snapshot_siblings");
    let role = format!("lonely_{}", std::process::id());
    cluster.psql(
        &db,
        &format!(
            "CREATE TABLE parent (id serial PRIMARY KEY, v text);
             CREATE TABLE child (id int GENERATED ALWAYS AS IDENTITY, parent_id int REFERENCES parent(id) ON DELETE CASCADE);
             CREATE UNLOGGED TABLE scratch (x int);
             CREATE TABLE measure (at date, v int) PARTITION BY RANGE (at);
             CREATE TABLE measure_2026 PARTITION OF measure FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
             INSERT INTO parent (v) SELECT 'row ' || g FROM generate_series(1, 500) g;
             INSERT INTO child (parent_id) SELECT id FROM parent;
             INSERT INTO measure VALUES ('2026-03-01', 1);
             DELETE FROM parent WHERE id > 400;
             CREATE ROLE {role} LOGIN CONNECTION LIMIT 1;
             GRANT pg_monitor TO {role};
             GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};"
        ),
    );

    // The superuser: three siblings import the snapshot, nothing is recorded.
    let mut session = Session::connect(&settings(&cluster.url(&db))).expect("connect");
    let together = session.snapshot().expect("snapshot");
    assert_eq!(session.security().single_connection, None);
    drop(session);
    let marker = format!("@{db} ");
    let imports = |log: &str| {
        log.lines()
            .filter(|l| l.contains(&marker) && l.contains("statement: SET TRANSACTION SNAPSHOT"))
            .filter_map(|l| l.split_once('[').and_then(|(_, r)| r.split_once(']')))
            .map(|(pid, _)| pid.to_string())
            .collect::<std::collections::BTreeSet<String>>()
    };
    let log = cluster.wait_for_log(
        |t| imports(t).len() >= 3,
        std::time::Duration::from_secs(10),
    );
    assert_eq!(imports(&log).len(), 3, "three sibling sessions import it");
    let exporter: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&marker) && l.contains("SELECT pg_export_snapshot()"))
        .collect();
    assert!(
        !exporter.is_empty(),
        "the main session exports its snapshot"
    );

    // CONNECTION LIMIT 1: the role's siblings are refused, the main session reads everything
    // (table sizes by pg_relation_size(): the role may not run pg_stat_file) and says why.
    let url = format!(
        "postgres:///{db}?host={}&port={}&user={role}",
        cluster.socket_dir().display(),
        cluster.port
    );
    let mut alone = Session::connect(&settings(&url)).expect("connect as the limited role");
    let by_one = alone.snapshot().expect("snapshot on one connection");
    let why = alone
        .security()
        .single_connection
        .clone()
        .unwrap_or_default();
    assert!(why.contains("too many connections"), "{why}");
    drop(alone);

    assert_eq!(slow_parts(&together), slow_parts(&by_one));
    let parent = together
        .tables
        .iter()
        .find(|t| t.name == "parent")
        .expect("parent");
    assert!(parent.size_bytes.unwrap_or(0) > 0, "{parent:?}");
    let measure = together
        .tables
        .iter()
        .find(|t| t.name == "measure")
        .expect("the partitioned table");
    assert_eq!(measure.size_bytes, Some(0), "no storage of its own");
    assert_eq!(together.foreign_keys.len(), 1);
    assert_eq!(together.foreign_keys[0].columns, vec!["parent_id"]);
    assert_eq!(together.foreign_keys[0].ref_columns, vec!["id"]);
    assert_eq!(together.sequences.len(), 2, "{:?}", together.sequences);
    cluster.psql(&db, &format!("DROP OWNED BY {role}"));
    cluster.psql("postgres", &format!("DROP ROLE {role}"));
}
