//! `pg_restore --clean --if-exists` into the same database, as an operator "rolls back" to last
//! night's dump: the database keeps its oid, every table is dropped and created again by the
//! restore's own session and loaded from the dump. The rows written after the dump are the loss,
//! not the baseline's rows plus the dump's, and the restore's DROPs are the restore, not a
//! second loss beside it (an empty table among them included). Real PostgreSQL 15, real
//! pg_dump / pg_restore, `log_statement = ddl` and `log_connections` (the log names pg_restore).

mod support;

use serde_json::Value;
use support::{
    ClusterOptions, PgCluster, client_tool, path_str as path, pgtriage_stdout as pgtriage,
};

fn tool(pg: &PgCluster, name: &str, args: &[&str]) {
    let out = std::process::Command::new(client_tool(&pg.bindir, name))
        .arg("-h")
        .arg(pg.socket_dir())
        .args(["-p", &pg.port.to_string(), "-U", "postgres"])
        .args(args)
        .output()
        .expect(name);
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_restore_over_the_same_database_loses_the_rows_after_the_dump() {
    let pg = PgCluster::start(ClusterOptions {
        extra_conf: vec![
            "log_statement = 'ddl'".into(),
            "log_connections = on".into(),
            "autovacuum = off".into(),
        ],
        ..ClusterOptions::default()
    });
    let work = tempfile::tempdir().expect("tempdir");
    let db = pg.fresh_database("restore_clean");
    pg.psql_script(
        &db,
        "CREATE TABLE customers (id int PRIMARY KEY, v text);
         CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id), v text);
         CREATE TABLE audit (id int PRIMARY KEY, v text);
         INSERT INTO customers SELECT g, 'c' FROM generate_series(1, 100) g;
         INSERT INTO orders SELECT g, 1 + g % 100, 'o' FROM generate_series(1, 300) g;",
        false,
    );
    let dump = work.path().join("nightly.dump");
    tool(&pg, "pg_dump", &["-Fc", "-f", path(&dump), &db]);
    // The shop keeps taking orders after the dump; the baseline sees them.
    pg.psql(
        &db,
        "INSERT INTO orders SELECT g, 1 + g % 100, 'late' FROM generate_series(301, 340) g",
    );
    pg.flush_stats(&db);
    let baseline = work.path().join("baseline.json");
    pgtriage(&["collect", "--db", &pg.url(&db), "-o", path(&baseline)]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    tool(
        &pg,
        "pg_restore",
        &["--clean", "--if-exists", "-d", &db, path(&dump)],
    );
    pg.flush_stats(&db);

    let evidence = work.path().join("evidence.json");
    let log = pg.log_dir().join("postgresql.log");
    pgtriage(&[
        "collect",
        "--db",
        &pg.url(&db),
        "--log",
        path(&log),
        "--baseline",
        path(&baseline),
        "-o",
        path(&evidence),
    ]);
    let report: Value =
        serde_json::from_slice(&pgtriage(&["report", path(&evidence), "--format", "json"]))
            .expect("report json");
    let first = &report["hypotheses"][0];
    assert_eq!(first["kind"], "restore", "{:#}", report["hypotheses"]);
    // The restore's own DROPs are the restore: no drop_recreate loss beside it.
    assert!(
        report["hypotheses"].as_array().is_some_and(|hs| hs
            .iter()
            .all(|h| h["kind"] != "drop_recreate" || h["loss"] == false)),
        "{:#}",
        report["hypotheses"]
    );
    // The 40 orders after the dump are the loss; customers came back whole.
    let impact = report["impact"]["tables"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let lost = |t: &str| {
        impact
            .iter()
            .find(|r| r["table"] == t)
            .map(|r| r["rows_lost"].as_i64().unwrap_or(-1))
    };
    assert_eq!(lost("public.orders"), Some(40), "{impact:#?}");
    assert_eq!(lost("public.customers"), None, "{impact:#?}");
    assert_eq!(report["impact"]["title"], "40 rows lost to a restore");
}
