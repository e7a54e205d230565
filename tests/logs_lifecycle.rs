//! Server lifecycle on the timeline, from a private real server that is crashed and restarted:
//! the three log formats it wrote at once must tell the same story.

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

fn lifecycle(t: &Timeline) -> Vec<(EventKind, String)> {
    t.events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::ServerStart
                    | EventKind::ShutdownRequest
                    | EventKind::ServerShutdown
                    | EventKind::Crash
                    | EventKind::CrashRecovery
                    | EventKind::ReadyToAcceptConnections
                    | EventKind::DropTable
            )
        })
        .map(|e| (e.kind, e.text.clone()))
        .collect()
}

#[test]
fn crash_restart_and_open_transactions() {
    let mut pg = PgCluster::start(ClusterOptions {
        archive: false,
        ..ClusterOptions::default()
    });
    let db = pg.fresh_database("life");
    pg.psql(
        &db,
        "CREATE TABLE keep (id int); CREATE TABLE gone (id int)",
    );
    // A session that deletes inside a transaction and is still open when the server stops.
    let mut open = std::process::Command::new(pg.bindir.join("psql"))
        .arg("-X")
        .arg("-h")
        .arg(pg.socket_dir())
        .args(["-p", &pg.port.to_string(), "-U", "postgres", "-d", &db])
        .args([
            "-c",
            "BEGIN",
            "-c",
            "DELETE FROM keep",
            "-c",
            "SELECT pg_sleep(60)",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("psql");
    pg.wait_for_log(
        |t| t.contains("pg_sleep(60)"),
        std::time::Duration::from_secs(20),
    );
    pg.psql(&db, "DROP TABLE gone");
    pg.stop_server("immediate");
    let _ = open.kill();
    let _ = open.wait();
    pg.start_server();
    pg.psql(&db, "SELECT 1");
    pg.stop_server("fast");

    let dir = pg.log_dir();
    let stderr = read(&dir.join("postgresql.log"));
    let csv = read(&dir.join("postgresql.csv"));
    let json = read(&dir.join("postgresql.json"));
    let story = lifecycle(&stderr);
    assert_eq!(story, lifecycle(&csv), "stderr and csvlog disagree");
    assert_eq!(story, lifecycle(&json), "stderr and jsonlog disagree");
    let kinds: Vec<EventKind> = story.iter().map(|(k, _)| *k).collect();
    let pos = |k: EventKind| kinds.iter().position(|x| *x == k);
    let crash = pos(EventKind::Crash).expect("immediate stop on the timeline");
    let recovery = pos(EventKind::CrashRecovery).expect("crash recovery on the timeline");
    assert!(pos(EventKind::DropTable).is_some_and(|d| d < crash));
    assert!(crash < recovery);
    assert_eq!(kinds.last(), Some(&EventKind::ServerShutdown));
    assert!(
        kinds
            .iter()
            .filter(|k| **k == EventKind::ServerStart)
            .count()
            >= 2
    );
    for t in [&stderr, &csv, &json] {
        // The DELETE never committed: the crash rolled its transaction back.
        let del: Vec<_> = t
            .events
            .iter()
            .filter(|e| e.kind == EventKind::DeleteAll)
            .collect();
        assert_eq!(del.len(), 1);
        assert_eq!(del[0].outcome, Some(TxOutcome::RolledBack), "{:?}", del[0]);
    }
}

/// pgaudit's `AUDIT:` lines (when the extension is installed here: postgresql-15-pgaudit).
#[test]
fn pgaudit_lines_agree_across_formats() {
    let bindir = support::find_bindir();
    let share = std::process::Command::new(bindir.join("pg_config"))
        .arg("--sharedir")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if !std::path::Path::new(&share)
        .join("extension/pgaudit.control")
        .exists()
    {
        eprintln!("pgaudit is not installed ({share}/extension): skipping the AUDIT line test");
        return;
    }
    let pg = PgCluster::start(ClusterOptions {
        archive: false,
        extra_conf: vec![
            "shared_preload_libraries = 'pgaudit'".into(),
            "pgaudit.log = 'ddl,write'".into(),
        ],
    });
    let db = pg.fresh_database("audit");
    pg.psql(&db, "CREATE TABLE important (id int primary key, v text)");
    pg.psql(
        &db,
        "INSERT INTO important SELECT g, 'v,' || g FROM generate_series(1, 20) g",
    );
    pg.psql(&db, "DELETE FROM important WHERE id > 10");
    pg.psql(&db, "DROP TABLE important");
    pg.psql(&db, "SELECT 'audit-done'");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let dir = pg.log_dir();
    let audits = |t: &Timeline| {
        t.events
            .iter()
            .filter(|e| e.kind == EventKind::Audit)
            .map(|e| (e.tables.clone(), e.text.clone(), e.outcome))
            .collect::<Vec<_>>()
    };
    let stderr = audits(&read(&dir.join("postgresql.log")));
    assert_eq!(stderr, audits(&read(&dir.join("postgresql.csv"))));
    assert_eq!(stderr, audits(&read(&dir.join("postgresql.json"))));
    assert!(stderr.len() >= 4, "{stderr:#?}");
    // Here pgaudit leaves the object columns empty: the tables come from the statement.
    assert!(
        stderr
            .iter()
            .any(|(tables, text, _)| tables == &vec!["important".to_string()]
                && text.contains("DDL,CREATE TABLE"))
    );
    assert!(
        stderr
            .iter()
            .any(|(tables, text, _)| tables == &vec!["important".to_string()]
                && text.contains("DDL,DROP TABLE"))
    );
    assert!(stderr.iter().any(
        |(tables, text, _)| tables.contains(&"important".to_string())
            && text.contains("WRITE,DELETE")
    ));
}

/// Without log_connections, a pg_dump still shows as a tool session in csvlog and jsonlog (they
/// carry application_name on every line); stderr with this prefix (no %a) cannot tell.
#[test]
fn tool_sessions_without_log_connections() {
    let pg = PgCluster::start(ClusterOptions {
        archive: false,
        extra_conf: vec![
            "log_connections = off".into(),
            "log_disconnections = off".into(),
        ],
    });
    let db = pg.fresh_database("nolog");
    pg.psql(&db, "CREATE TABLE t (id int)");
    let dump = pg
        .server_tool("pg_dump")
        .arg("-h")
        .arg(pg.socket_dir())
        .args(["-p", &pg.port.to_string(), "-U", "postgres", &db])
        .output()
        .expect("pg_dump");
    assert!(dump.status.success());
    pg.psql(&db, "SELECT 'nolog-done'");
    std::thread::sleep(std::time::Duration::from_millis(500));
    for f in ["postgresql.csv", "postgresql.json"] {
        let t = read(&pg.log_dir().join(f));
        let tools: Vec<_> = t
            .events
            .iter()
            .filter(|e| e.kind == EventKind::ToolSession)
            .filter(|e| e.session.application.as_deref() == Some("pg_dump"))
            .collect();
        assert_eq!(tools.len(), 1, "{f}: {tools:#?}");
        assert_eq!(tools[0].session.database.as_deref(), Some(db.as_str()));
        assert!(
            !t.events.iter().any(|e| e.kind == EventKind::Connection),
            "{f}"
        );
    }
}
