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

/// `[%x]` before `[%p]`: `%m [%p] [%l] …` (the transaction id taken for the pid) and
/// `%m [%l] [%p] …` fit every line alike and neither number counts lines. Only the session
/// markers tell them apart: read with the xid as pid, the BEGIN is in "session 0" and its
/// COMMIT in "session 726", and the committed DELETE came out rolled back, exit 0, no word.
#[test]
fn only_the_session_markers_tell_the_xid_from_the_pid() {
    let prefix = "%m [%x] [%p] %q%u@%d ";
    rolled_back_delete(prefix);
    let pg = cluster_with_prefix(prefix);
    let db = pg.fresh_database("markers");
    pg.psql(
        &db,
        "CREATE TABLE payments (id int); INSERT INTO payments VALUES (1), (2)",
    );
    pg.psql_script(
        &db,
        "BEGIN;\nDELETE FROM payments WHERE id = 1;\nCOMMIT;\n",
        false,
    );
    pg.psql(&db, "SELECT 'done'");
    pg.wait_for_log(|t| t.contains("'done'"), std::time::Duration::from_secs(10));
    let t = read(&pg.log_dir().join("postgresql.log"));
    let one = t
        .events
        .iter()
        .find(|e| {
            e.kind == EventKind::Delete && e.text.starts_with("DELETE FROM payments WHERE id = 1")
        })
        .unwrap_or_else(|| panic!("no DELETE … WHERE: {:#?}", t.events));
    assert_eq!(
        one.outcome,
        Some(TxOutcome::Committed),
        "{one:#?}\n{:#?}",
        t.problems
    );
    assert_eq!(
        t.sources[0].line_prefix.as_deref(),
        Some("%m [%l] [%p] %q%u@%d ")
    );
    // The choice is said, naming both readings.
    assert!(
        t.problems
            .iter()
            .any(|p| p.message.contains("session markers")
                && p.message.contains("\"%m [%l] [%p] %q%u@%d \"")
                && p.message.contains("\"%m [%p] [%l] %q%u@%d \"")),
        "{:#?}",
        t.problems
    );
}
