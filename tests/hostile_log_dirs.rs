//! Log directories as they are found: a real PostgreSQL 15 writing `stderr,csvlog,jsonlog` (the
//! same events three times), next to an empty file just rotated, a README and a PgBouncer log.
//! Every event is read once, the odd files are skipped with a note, nothing aborts.

mod support;

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use pgtriage::logs::{LogOptions, read_timeline};
use support::{ClusterOptions, PgCluster};

const PGBOUNCER: &str = "2026-11-23 12:00:00.123 UTC [811] LOG kernel file descriptor limit: 1024 (hard: 524288); max_client_conn: 100, max expected fd use: 112
2026-11-23 12:00:00.124 UTC [811] LOG listening on 127.0.0.1:6432
2026-11-23 12:00:05.001 UTC [811] LOG C-0x55d5c8a1b2c0: shop/app@127.0.0.1:41234 login attempt: db=shop user=app tls=no
2026-11-23 12:01:00.000 UTC [811] LOG stats: 0 xacts/s, 0 queries/s, in 0 B/s, out 0 B/s, xact 0 us, query 0 us, wait 0 us
";

#[test]
fn a_mixed_directory_reads_each_event_once_and_skips_what_is_not_a_log() {
    let pg = PgCluster::start(ClusterOptions {
        archive: false,
        ..ClusterOptions::default()
    });
    let db = pg.fresh_database("dirs");
    pg.psql(
        &db,
        "CREATE TABLE payments (id int); INSERT INTO payments VALUES (1)",
    );
    pg.psql(&db, "DELETE FROM payments");
    pg.psql(&db, "SELECT 'dirs-done'");
    pg.wait_for_log(
        |t| t.contains("'dirs-done'"),
        std::time::Duration::from_secs(10),
    );
    std::thread::sleep(std::time::Duration::from_millis(500));

    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["postgresql.log", "postgresql.csv", "postgresql.json"] {
        std::fs::copy(pg.log_dir().join(f), dir.path().join(f)).expect("copy log");
    }
    std::fs::write(dir.path().join("postgresql-2026-11-24.log"), "").expect("empty");
    std::fs::write(
        dir.path().join("README"),
        "Logs of the shop database.\nAsk ops.\n",
    )
    .expect("readme");
    std::fs::write(dir.path().join("pgbouncer.log"), PGBOUNCER).expect("pgbouncer");

    let t = read_timeline(&LogOptions {
        paths: vec![dir.path().display().to_string()],
        ..LogOptions::default()
    })
    .unwrap_or_else(|e| panic!("the directory aborted: {e}"));
    let deletes: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.text == "DELETE FROM payments")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:#?}");
    assert!(
        deletes[0].source.contains("postgresql.csv"),
        "{}",
        deletes[0].source
    );
    let said = |path: &str, what: &str| {
        t.problems
            .iter()
            .any(|p| p.path.ends_with(path) && p.message.contains(what))
    };
    assert!(said("README", "skipped"), "{:#?}", t.problems);
    assert!(
        said(
            "pgbouncer.log",
            "PgBouncer log, not a PostgreSQL server log"
        ),
        "{:#?}",
        t.problems
    );
    assert!(
        said("postgresql-2026-11-24.log", "empty file"),
        "{:#?}",
        t.problems
    );
    assert!(
        said("postgresql.log", "another format"),
        "{:#?}",
        t.problems
    );
    assert!(
        said("postgresql.json", "another format"),
        "{:#?}",
        t.problems
    );
    // Every file stays listed as a source (chain of custody), the odd ones aside.
    assert_eq!(t.sources.len(), 4, "{:#?}", t.sources);

    // Named on its own, a PgBouncer log is an error saying what it is.
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .arg("timeline")
        .arg("--log")
        .arg(dir.path().join("pgbouncer.log"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PgBouncer") && !err.contains("--log-line-prefix"),
        "{err}"
    );

    // --threads far beyond the cores is capped: this small log reads at once.
    let start = std::time::Instant::now();
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .arg("timeline")
        .arg("--log")
        .arg(dir.path().join("postgresql.log"))
        .args(["--threads", "100000"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_symlink_loop_is_called_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.log");
    std::os::unix::fs::symlink(&b, &a).expect("symlink");
    std::os::unix::fs::symlink(&a, &b).expect("symlink");
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .arg("timeline")
        .arg("--log")
        .arg(&a)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("symlink loop"), "{err}");
}
