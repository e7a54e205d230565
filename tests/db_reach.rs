//! Reaching a server the ways psql users do, and never hanging on one: the client-side
//! deadline (a SIGSTOPped server mid-session and at connect), timeouts that would mean
//! "never", `.pgpass` for a socket directory given as `?host=/dir`, unencoded URL passwords,
//! connection services and `PGCONNECT_TIMEOUT`. Real server, real binary.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use pgtriage::db::{ConnectionSettings, Session};
use support::{ClusterOptions, PgCluster, SUPERUSER_PASSWORD};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn pgtriage(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::cargo_bin("pgtriage").expect("binary");
    for (k, _) in std::env::vars() {
        if k.starts_with("PG") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out = cmd.output().expect("run pgtriage");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: start.elapsed(),
    }
}

fn one_line_exit_2(r: &Run, expected: &[&str]) {
    assert_eq!(r.code, 2, "exit code; stderr: {}", r.stderr);
    let line = r.stderr.trim_end();
    assert!(!line.contains('\n'), "not one line: {line}");
    for e in expected {
        assert!(line.contains(e), "expected `{e}` in: {line}");
    }
}

fn signal(pid: &str, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, pid])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill {sig} {pid}");
}

/// The postmaster and every child of it.
fn server_pids(cluster: &PgCluster) -> Vec<String> {
    let pidfile = std::fs::read_to_string(cluster.data.join("postmaster.pid")).expect("pid file");
    let postmaster = pidfile.lines().next().expect("pid").trim().to_string();
    let children = Command::new("pgrep")
        .args(["-P", &postmaster])
        .output()
        .expect("pgrep");
    let mut pids = vec![postmaster];
    pids.extend(
        String::from_utf8_lossy(&children.stdout)
            .split_whitespace()
            .map(str::to_string),
    );
    pids
}

#[test]
fn a_backend_stopped_mid_session_ends_in_the_deadline() {
    let cluster = PgCluster::start(ClusterOptions {
        archive: false,
        ..ClusterOptions::default()
    });
    let db = cluster.fresh_database("sigstop");
    cluster.psql(&db, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    let mut session = Session::connect(&ConnectionSettings {
        url: Some(cluster.url(&db)),
        statement_timeout_ms: 1_000,
        lock_timeout_ms: 500,
        connect_timeout_s: 5,
    })
    .expect("connect");
    let pid = session
        .query_texts("SELECT pg_backend_pid()::text")
        .expect("pid")
        .remove(0);
    signal(&pid, "-STOP");
    let start = Instant::now();
    let result = session.snapshot();
    let took = start.elapsed();
    signal(&pid, "-CONT");
    let err = result.expect_err("a stopped server must not give a snapshot");
    let deadline = Duration::from_millis(1_000) + pgtriage::db::DEADLINE_MARGIN;
    assert!(took >= deadline, "gave up before the deadline: {took:?}");
    assert!(took < deadline + Duration::from_secs(3), "took {took:?}");
    assert!(err.message().contains("no answer from the server"), "{err}");
    // The session is given up for good: the next call fails at once.
    let start = Instant::now();
    assert!(session.transaction_read_only().is_err());
    assert!(start.elapsed() < Duration::from_secs(1));
    drop(session);
}

#[test]
fn a_stopped_server_ends_collect_with_one_line() {
    let cluster = PgCluster::start(ClusterOptions {
        archive: false,
        ..ClusterOptions::default()
    });
    let db = cluster.fresh_database("sigstop_cli");
    let work = tempfile::tempdir().unwrap();
    let pids = server_pids(&cluster);
    signal(&pids[0], "-STOP");
    // A child listed a moment ago may have exited since (an autovacuum worker, the backend
    // that created the database): only the postmaster must be there to stop.
    for p in pids.iter().skip(1) {
        let _ = Command::new("kill").args(["-STOP", p]).status();
    }
    let out = work.path().join("ev.json");
    let r = pgtriage(
        work.path(),
        &[
            "collect",
            "--db",
            &cluster.tcp_url(&db, "postgres", SUPERUSER_PASSWORD),
            "--connect-timeout",
            "3",
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    );
    for p in &pids {
        let _ = Command::new("kill").args(["-CONT", p]).status();
    }
    one_line_exit_2(&r, &["no answer within 3s"]);
    assert!(r.took < Duration::from_secs(8), "took {:?}", r.took);
}

#[test]
fn timeouts_meaning_never_or_out_of_range_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let url = "postgres://nobody@127.0.0.1:1/x";
    let r = pgtriage(
        work.path(),
        &["tables", "--db", url, "--statement-timeout", "0"],
        &[],
    );
    one_line_exit_2(&r, &["--statement-timeout 0", "forever"]);
    let r = pgtriage(
        work.path(),
        &["tables", "--db", url, "--lock-timeout", "0"],
        &[],
    );
    one_line_exit_2(&r, &["--lock-timeout 0", "forever"]);
    let r = pgtriage(
        work.path(),
        &["tables", "--db", url, "--lock-timeout", "99999999999"],
        &[],
    );
    one_line_exit_2(&r, &["--lock-timeout 99999999999", "2147483647"]);
    assert!(!r.stderr.contains("pooler"), "{}", r.stderr);
}

#[test]
fn unencoded_url_passwords_get_the_percent_encoding_hint() {
    let work = tempfile::tempdir().unwrap();
    for pw in ["se/cret", "se#cret", "se?cret"] {
        let url = format!("postgres://bob:{pw}@db.example:5432/x");
        let r = pgtriage(work.path(), &["tables", "--db", &url], &[]);
        one_line_exit_2(&r, &["percent-encode"]);
        assert!(!r.stderr.contains(pw), "password leaked: {}", r.stderr);
        assert!(
            !r.stderr.contains("cret"),
            "part of the password leaked: {}",
            r.stderr
        );
    }
}

/// A cluster whose socket asks `app` for a password (the superuser keeps trust for the harness).
fn password_socket_cluster() -> (PgCluster, String) {
    let cluster = PgCluster::start(ClusterOptions {
        archive: false,
        ..ClusterOptions::default()
    });
    let db = cluster.fresh_database("pgpass_socket");
    cluster.psql(
        &db,
        "CREATE ROLE app LOGIN PASSWORD 'app-secret-pw'; CREATE TABLE visible_to_app (id int); \
         GRANT SELECT ON visible_to_app TO app",
    );
    cluster.set_hba(
        "local all postgres trust\nlocal all app scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n",
    );
    (cluster, db)
}

#[test]
fn pgpass_matches_a_socket_directory_given_in_the_url() {
    let (cluster, db) = password_socket_cluster();
    let work = tempfile::tempdir().unwrap();
    let dir = cluster.socket_dir().display().to_string();
    let passfile = work.path().join("pgpass");
    std::fs::write(
        &passfile,
        format!(
            "# a socket directory is matched as written\n{dir}:{}:*:app:app-secret-pw\n",
            cluster.port
        ),
    )
    .unwrap();
    set_mode(&passfile, 0o600);
    let url = format!("postgres:///{db}?host={dir}&port={}&user=app", cluster.port);
    let r = pgtriage(
        work.path(),
        &["tables", "--db", &url, "--format", "json"],
        &[("PGPASSFILE", passfile.to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("visible_to_app"), "{}", r.stdout);
    assert!(!r.stdout.contains("app-secret-pw"));
    // ~/.pgpass by default, and `passfile=` in the URL.
    std::fs::copy(&passfile, work.path().join(".pgpass")).unwrap();
    set_mode(&work.path().join(".pgpass"), 0o600);
    let r = pgtriage(work.path(), &["tables", "--db", &url], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A passfile others may read is ignored, as libpq does, and the message says so.
    set_mode(&work.path().join(".pgpass"), 0o644);
    let r = pgtriage(work.path(), &["tables", "--db", &url], &[]);
    one_line_exit_2(&r, &["group or world access", "chmod 0600"]);
}

#[test]
fn connection_services_as_psql_reads_them() {
    let (cluster, db) = password_socket_cluster();
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let service = format!(
        "# pgtriage test\n[triage]\nhost={}\nport={}\ndbname={db}\nuser=app\npassword=app-secret-pw\n",
        cluster.socket_dir().display(),
        cluster.port
    );
    let lists = |r: &Run| {
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("visible_to_app"), "{}", r.stdout);
    };
    // PGSERVICEFILE, named in the URL.
    let file = work.path().join("services.conf");
    std::fs::write(&file, &service).unwrap();
    let r = pgtriage(
        &home,
        &[
            "tables",
            "--db",
            "postgres:///?service=triage",
            "--format",
            "json",
        ],
        &[("PGSERVICEFILE", file.to_str().unwrap())],
    );
    lists(&r);
    // PGSERVICE with ~/.pg_service.conf, no URL at all.
    std::fs::write(home.join(".pg_service.conf"), &service).unwrap();
    let r = pgtriage(
        &home,
        &["tables", "--format", "json"],
        &[("PGSERVICE", "triage")],
    );
    lists(&r);
    // PGSYSCONFDIR/pg_service.conf when the user's file lacks the service.
    std::fs::write(home.join(".pg_service.conf"), "[other]\nhost=/nowhere\n").unwrap();
    let sysconf = work.path().join("etc");
    std::fs::create_dir_all(&sysconf).unwrap();
    std::fs::write(sysconf.join("pg_service.conf"), &service).unwrap();
    let r = pgtriage(
        &home,
        &["tables", "--format", "json"],
        &[
            ("PGSERVICE", "triage"),
            ("PGSYSCONFDIR", sysconf.to_str().unwrap()),
        ],
    );
    lists(&r);
    // The URL's own parameters win over the service's.
    let r = pgtriage(
        &home,
        &["tables", "--db", "postgres:///no_such_db?service=triage"],
        &[("PGSYSCONFDIR", sysconf.to_str().unwrap())],
    );
    one_line_exit_2(&r, &["no_such_db"]);
    // An unknown service, and a broken file, are one line naming the files and lines.
    let r = pgtriage(&home, &["tables"], &[("PGSERVICE", "nope")]);
    one_line_exit_2(&r, &["service `nope`", ".pg_service.conf"]);
    std::fs::write(&file, "[triage]\nhost\n").unwrap();
    let r = pgtriage(
        &home,
        &["tables"],
        &[
            ("PGSERVICE", "triage"),
            ("PGSERVICEFILE", file.to_str().unwrap()),
        ],
    );
    one_line_exit_2(&r, &["services.conf:2"]);
    assert!(!r.stderr.contains("app-secret-pw"));
}

#[test]
fn pgconnect_timeout_bounds_a_server_that_never_answers() {
    // Accepts the TCP connection and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });
    let work = tempfile::tempdir().unwrap();
    let url = format!("postgres://bob@127.0.0.1:{port}/x?sslmode=disable");
    let r = pgtriage(
        work.path(),
        &["tables", "--db", &url],
        &[("PGCONNECT_TIMEOUT", "2")],
    );
    one_line_exit_2(&r, &["no answer within 2s"]);
    assert!(r.took < Duration::from_secs(6), "took {:?}", r.took);
    // The flag wins over the variable.
    let r = pgtriage(
        work.path(),
        &["tables", "--db", &url, "--connect-timeout", "1"],
        &[("PGCONNECT_TIMEOUT", "30")],
    );
    one_line_exit_2(&r, &["no answer within 1s"]);
    // And connect_timeout in the URL over the variable.
    let r = pgtriage(
        work.path(),
        &["tables", "--db", &format!("{url}&connect_timeout=2")],
        &[("PGCONNECT_TIMEOUT", "30")],
    );
    one_line_exit_2(&r, &["no answer within 2s"]);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
