//! Prefix inference checks itself, on logs a real PostgreSQL 15 wrote with prefixes whose
//! `[%l-1]` looks like a pid: the session comes out right (a rolled-back DELETE is rolled back),
//! and a reading rejected or left ambiguous is said, never chosen silently.

mod support;

use pgtriage::evidence::{EventKind, Timeline, TxOutcome};
use pgtriage::logs::{LogOptions, read_timeline};
use support::{ClusterOptions, PgCluster};

fn read(path: &std::path::Path) -> Timeline {
    read_timeline(&LogOptions {
        paths: vec![path.display().to_string()],
        ..LogOptions::default()
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cluster_with_prefix(prefix: &str) -> PgCluster {
    PgCluster::start(ClusterOptions {
        archive: false,
        extra_conf: vec![
            format!("log_line_prefix = '{prefix}'"),
            "log_destination = 'stderr'".into(),
        ],
    })
}

fn rolled_back_delete(prefix: &str) {
    let pg = cluster_with_prefix(prefix);
    let db = pg.fresh_database("prefix");
    pg.psql(
        &db,
        "CREATE TABLE payments (id int); INSERT INTO payments VALUES (1), (2)",
    );
    pg.psql_script(
        &db,
        "BEGIN;\nDELETE FROM payments;\nSELECT 1;\nSELECT 2;\nROLLBACK;\n",
        false,
    );
    pg.psql_script(
        &db,
        "BEGIN;\nDELETE FROM payments WHERE id = 1;\nCOMMIT;\n",
        false,
    );
    pg.psql(&db, "SELECT 'done'");
    pg.wait_for_log(|t| t.contains("'done'"), std::time::Duration::from_secs(10));
    let t = read(&pg.log_dir().join("postgresql.log"));
    let deletes: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.tables.iter().any(|x| x.ends_with("payments")))
        .filter(|e| matches!(e.kind, EventKind::DeleteAll | EventKind::Delete))
        .collect();
    let all = deletes
        .iter()
        .find(|e| e.kind == EventKind::DeleteAll)
        .unwrap_or_else(|| panic!("{prefix}: no DELETE without WHERE: {:#?}", t.events));
    assert_eq!(
        all.outcome,
        Some(TxOutcome::RolledBack),
        "{prefix}: the rolled-back DELETE: {all:#?}\nproblems: {:#?}",
        t.problems
    );
}

#[test]
fn line_number_in_brackets_is_not_read_as_the_pid() {
    rolled_back_delete("%t [%p]: [%l-1] user=%u,db=%d ");
}

#[test]
fn line_number_without_user_and_db() {
    rolled_back_delete("%m [%p]: [%l-1] ");
}
