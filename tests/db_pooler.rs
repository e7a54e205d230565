//! Through a real PgBouncer in transaction and session mode: PgBouncer refuses the startup
//! options pgtriage sends to PostgreSQL, so pgtriage sets read-only and its timeouts inside every
//! transaction instead, checks `transaction_read_only` there, and says in the evidence that it
//! went through a pooler.

mod support;

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use pgtriage::db::{ConnectionSettings, Session};
use support::{ClusterOptions, PgBouncer, PgCluster, SUPERUSER_PASSWORD};

fn through(pool_mode: &str) {
    let cluster = PgCluster::start(ClusterOptions {
        archive: false,
        ..ClusterOptions::default()
    });
    let db = cluster.fresh_database(&format!("pooled_{pool_mode}"));
    cluster.psql(
        &db,
        "CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 50); DELETE FROM orders WHERE id > 10",
    );
    cluster.flush_stats(&db);
    let bouncer = PgBouncer::start(&cluster, pool_mode);

    // The real binary: collect through the pooler.
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("ev.json");
    let run = Command::cargo_bin("pgtriage")
        .unwrap()
        .env_remove("PGOPTIONS")
        .env_remove("DATABASE_URL")
        .args([
            "collect",
            "--db",
            &bouncer.url(&db),
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{pool_mode}: {}{}\npgbouncer log:\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
        bouncer.log()
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains(SUPERUSER_PASSWORD));
    let ev: serde_json::Value = serde_json::from_str(&text).unwrap();
    let pooler = ev["connection"]["pooler"].as_str().unwrap_or("");
    assert!(
        pooler.contains("startup options refused"),
        "{pool_mode}: {}",
        ev["connection"]
    );
    assert!(pooler.contains("every transaction"), "{pooler}");
    // The snapshot's slow statements ran on sibling sessions importing its snapshot through the
    // pooler too (each in its own transaction, on its own server connection).
    assert!(
        ev["connection"].get("single_connection").is_none(),
        "{pool_mode}: {}",
        ev["connection"]
    );
    let orders = ev["database"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "orders")
        .expect("orders in the snapshot")
        .clone();
    assert_eq!(orders["n_tup_del"], 40, "{orders}");

    // The session API: read-only and the timeouts hold inside each transaction.
    let mut s = Session::connect(&ConnectionSettings {
        url: Some(bouncer.url(&db)),
        statement_timeout_ms: 1_500,
        lock_timeout_ms: 700,
        connect_timeout_s: 5,
    })
    .expect("connect through pgbouncer");
    assert!(s.security().pooler.is_some());
    assert_eq!(s.transaction_read_only().unwrap(), "on");
    for _ in 0..3 {
        // Several transactions: in transaction mode each may get another server connection.
        let got = s
            .query_texts(
                "SELECT current_setting('statement_timeout') || ' ' || current_setting('lock_timeout')",
            )
            .unwrap();
        assert_eq!(got, vec!["1500ms 700ms".to_string()]);
    }
    let err = s
        .query_texts("INSERT INTO orders VALUES (99) RETURNING id::text")
        .expect_err("a write must be refused");
    assert!(err.message().contains("read-only transaction"), "{err}");
    let err = s
        .query_texts("SELECT pg_sleep(5)::text")
        .expect_err("the statement timeout must hold through the pooler");
    assert!(err.message().contains("statement timeout"), "{err}");
    drop(s);
    assert_eq!(cluster.psql(&db, "SELECT count(*) FROM orders"), "10");
}

#[test]
fn through_pgbouncer_in_transaction_mode() {
    through("transaction");
}

#[test]
fn through_pgbouncer_in_session_mode() {
    through("session");
}
