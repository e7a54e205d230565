//! The server log is the cluster's, not the database's: a `DELETE FROM reviews` another database
//! ran (a staging copy on the same cluster, its tables named like production's) is in the same
//! log as this database's statements. Real PostgreSQL 15, two databases with the same table:
//! the other database's DELETE of every row must not be this database's loss, and the evidence
//! records the server's name for the database (`current_database`), which the log uses.

mod support;

use serde_json::Value;
use support::{ClusterOptions, PgCluster, path_str as path, pgtriage_stdout as pgtriage};

#[test]
fn another_databases_delete_of_a_same_named_table_is_not_this_ones_loss() {
    let pg = PgCluster::start(ClusterOptions {
        extra_conf: vec![
            "log_statement = 'mod'".into(),
            "log_line_prefix = '%m [%p] %u@%d '".into(),
            "autovacuum = off".into(),
        ],
        ..ClusterOptions::default()
    });
    let work = tempfile::tempdir().expect("tempdir");
    let prod = pg.fresh_database("prod");
    let staging = pg.fresh_database("staging");
    for (db, rows) in [(&prod, 600), (&staging, 250)] {
        pg.psql_script(
            db,
            &format!(
                "CREATE TABLE reviews (id int PRIMARY KEY, v text);
                 INSERT INTO reviews SELECT g, 'r' FROM generate_series(1, {rows}) g;"
            ),
            false,
        );
    }
    // A routine one-row DELETE in production, then staging's reset empties its copy.
    pg.psql(&prod, "DELETE FROM reviews WHERE id = 17");
    pg.psql(&staging, "DELETE FROM reviews");
    pg.flush_stats(&prod);
    pg.flush_stats(&staging);
    pg.wait_for_log(
        |t| t.contains(&format!("@{staging} LOG:  statement: DELETE FROM reviews")),
        std::time::Duration::from_secs(5),
    );

    let log = pg.log_dir().join("postgresql.log");
    let collect = |db: &str| {
        let evidence = work.path().join(format!("{db}.json"));
        pgtriage(&[
            "collect",
            "--db",
            &pg.url(db),
            "--log",
            path(&log),
            "-o",
            path(&evidence),
        ]);
        let doc: Value =
            serde_json::from_slice(&std::fs::read(&evidence).expect("evidence")).expect("json");
        assert_eq!(doc["database"]["server"]["current_database"], db);
        let report: Value =
            serde_json::from_slice(&pgtriage(&["report", path(&evidence), "--format", "json"]))
                .expect("report json");
        report
    };

    // Production: the staging DELETE is not pinned to its reviews, and nothing is a loss.
    let report = collect(&prod);
    let hypotheses = report["hypotheses"].as_array().cloned().unwrap_or_default();
    assert!(
        hypotheses.iter().all(|h| h["loss"] == false),
        "production lost nothing: {hypotheses:#?}"
    );
    assert!(
        hypotheses
            .iter()
            .all(|h| h["statement"] != "DELETE FROM reviews"),
        "staging's DELETE pinned to production: {hypotheses:#?}"
    );

    // Staging, read from the same log: its own DELETE is its loss.
    let report = collect(&staging);
    let finding = report["hypotheses"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["tables"][0] == "public.reviews"))
        .unwrap_or_else(|| panic!("no finding on staging's reviews: {report:#}"));
    assert_eq!(finding["kind"], "delete");
    assert_eq!(finding["loss"], true);
    assert_eq!(finding["statement"], "DELETE FROM reviews");
}
