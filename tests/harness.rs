//! The test harness itself: a real server starts, logs in three formats, and is gone afterwards.

mod support;

use support::PgCluster;

#[test]
fn throwaway_cluster_runs_sql_and_logs_every_format() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("harness");
    cluster.psql(
        &db,
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)",
    );
    assert_eq!(cluster.psql(&db, "SELECT count(*) FROM t"), "2");
    let text = cluster.wait_for_log(
        |t| t.contains("INSERT INTO t VALUES"),
        std::time::Duration::from_secs(5),
    );
    assert!(
        text.contains("LOG:  statement: CREATE TABLE t (id int)"),
        "{text}"
    );
    for ext in ["csv", "json"] {
        let path = cluster.log_dir().join(format!("postgresql.{ext}"));
        let body = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            body.contains("INSERT INTO t VALUES"),
            "{} lacks the statement",
            path.display()
        );
    }
}

#[test]
fn private_cluster_is_removed_when_dropped() {
    let dir;
    {
        let cluster = support::PgCluster::start(support::ClusterOptions::default());
        dir = cluster.dir.clone();
        assert_eq!(cluster.psql("postgres", "SELECT 1"), "1");
    }
    assert!(!dir.exists(), "{} left behind", dir.display());
}
