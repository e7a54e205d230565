//! Connecting the ways psql users do (PG* variables, a socket directory, ~/.pgpass,
//! DATABASE_URL) and every bad connection input: exit 2, one line, no password. Real binary,
//! real server.

mod support;

use assert_cmd::Command;
use support::{PgCluster, SUPERUSER_PASSWORD};

fn pgtriage() -> Command {
    let mut c = Command::cargo_bin("pgtriage").expect("binary");
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGSSLMODE",
        "PGOPTIONS",
        "PGAPPNAME",
    ] {
        c.env_remove(var);
    }
    c
}

/// Runs `tables --format json`; returns (exit code, stdout, stderr).
fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd
        .args(["--format", "json"])
        .output()
        .expect("run pgtriage");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_lists_table(out: &(i32, String, String), table: &str) {
    assert_eq!(out.0, 0, "stderr: {}", out.2);
    assert!(
        out.1.contains(&format!("\"name\": \"{table}\"")),
        "{}",
        out.1
    );
}

#[test]
fn pg_variables_with_a_socket_directory() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("env_socket");
    cluster.psql(&db, "CREATE TABLE via_socket (id int)");
    let out = run(pgtriage()
        .arg("tables")
        .env("PGHOST", cluster.socket_dir())
        .env("PGPORT", cluster.port.to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", &db));
    assert_lists_table(&out, "via_socket");
    assert!(
        out.1.contains(&format!(
            "postgres@{}:{}/{db}",
            cluster.socket_dir().display(),
            cluster.port
        )),
        "{}",
        out.1
    );
}

#[test]
fn pg_variables_over_tcp_with_pgpassword_and_sslmode_prefer() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("env_tcp");
    cluster.psql(&db, "CREATE TABLE via_tcp (id int)");
    let out = run(pgtriage()
        .arg("tables")
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", cluster.port.to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", &db)
        .env("PGSSLMODE", "prefer")
        .env("PGPASSWORD", SUPERUSER_PASSWORD));
    assert_lists_table(&out, "via_tcp");
    assert!(!out.1.contains(SUPERUSER_PASSWORD));
}

#[test]
fn pgpass_file_supplies_the_password() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("pgpass");
    cluster.psql(&db, "CREATE TABLE via_pgpass (id int)");
    let home = tempfile::tempdir().unwrap();
    let pgpass = home.path().join(".pgpass");
    std::fs::write(
        &pgpass,
        format!(
            "127.0.0.1:{}:*:postgres:{SUPERUSER_PASSWORD}\n",
            cluster.port
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = run(pgtriage()
        .args([
            "tables",
            "--db",
            &format!("postgres://postgres@127.0.0.1:{}/{db}", cluster.port),
        ])
        .env("HOME", home.path()));
    assert_lists_table(&out, "via_pgpass");

    // PGPASSFILE points elsewhere: same result.
    let out = run(pgtriage()
        .arg("tables")
        .env("HOME", "/nonexistent")
        .env("PGPASSFILE", &pgpass)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", cluster.port.to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", &db));
    assert_lists_table(&out, "via_pgpass");
}

#[test]
fn database_url_is_used_and_db_flag_wins_over_it() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("database_url");
    cluster.psql(&db, "CREATE TABLE via_database_url (id int)");
    let out = run(pgtriage()
        .arg("tables")
        .env("DATABASE_URL", cluster.url(&db)));
    assert_lists_table(&out, "via_database_url");
    let out = run(pgtriage()
        .args(["tables", "--db", &cluster.url(&db)])
        .env("DATABASE_URL", "postgres://nobody:x@127.0.0.1:1/none"));
    assert_lists_table(&out, "via_database_url");
}

#[test]
fn bad_connection_inputs_exit_2_with_one_line_and_no_password() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("bad_inputs");
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let port = cluster.port;
    let secret = "s3cret-Pw";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unreachable host",
            format!("postgres://postgres:{secret}@host.invalid:5432/{db}"),
            "check the host",
        ),
        (
            "wrong port",
            format!("postgres://postgres:{secret}@127.0.0.1:{closed_port}/{db}"),
            "connection refused",
        ),
        (
            "wrong password",
            format!("postgres://postgres:{secret}@127.0.0.1:{port}/{db}"),
            "password authentication failed",
        ),
        (
            "missing database",
            format!("postgres://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/no_such_db"),
            "does not exist",
        ),
        (
            "server rejects the read-only setting",
            format!(
                "postgres://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/{db}?options=-c%20default_transaction_read_only%3Dmaybe"
            ),
            "rejected the read-only session settings",
        ),
        (
            "URL that does not parse",
            format!("postgres://postgres:{secret}@127.0.0.1:port/{db}"),
            "cannot parse the connection URL",
        ),
        (
            "not a URL",
            "host=127.0.0.1 dbname=x".to_string(),
            "postgres://",
        ),
        (
            "sslmode=require without TLS",
            format!("postgres://postgres:{secret}@127.0.0.1:{port}/{db}?sslmode=require"),
            "does not support TLS",
        ),
    ];
    for (case, url, expected) in cases {
        let (code, stdout, stderr) = run(pgtriage().args(["tables", "--db", &url]));
        assert_eq!(code, 2, "{case}: exit code; stderr: {stderr}");
        assert!(stdout.is_empty(), "{case}: stdout: {stdout}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{case}: not one line: {stderr}"
        );
        assert!(stderr.contains(expected), "{case}: {stderr}");
        for pw in [secret, SUPERUSER_PASSWORD] {
            assert!(!stderr.contains(pw), "{case}: password leaked: {stderr}");
        }
        assert!(
            !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
            "{case}: {stderr}"
        );
    }

    // The same through the environment.
    let (code, _, stderr) = run(pgtriage()
        .arg("tables")
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", port.to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", &db)
        .env("PGPASSWORD", secret));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    assert!(!stderr.contains(secret), "{stderr}");
    let (code, _, stderr) = run(pgtriage()
        .arg("tables")
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", port.to_string())
        .env("PGSSLMODE", "sometimes"));
    assert_eq!(code, 2);
    assert!(stderr.contains("PGSSLMODE"), "{stderr}");
    let (code, _, stderr) = run(pgtriage()
        .arg("tables")
        .env("PGHOST", cluster.socket_dir().join("nowhere"))
        .env("PGPORT", port.to_string()));
    assert_eq!(code, 2);
    assert!(stderr.contains("socket"), "{stderr}");
}

#[test]
fn a_port_that_is_not_postgres_or_never_answers() {
    use std::io::{Read, Write};
    // Another service on the port (an HTTP server, say).
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http_port = http.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = http.accept() {
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            // Close our side cleanly and drain until the client gives up.
            let _ = s.shutdown(std::net::Shutdown::Write);
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    let (code, _, stderr) = run(pgtriage().args([
        "tables",
        "--db",
        &format!("postgres://u:hidden-pw@127.0.0.1:{http_port}/db"),
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("did not answer like PostgreSQL"),
        "{stderr}"
    );
    assert!(!stderr.contains("hidden-pw"), "{stderr}");

    // A port that accepts and then says nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let (code, _, stderr) = run(pgtriage().args([
        "tables",
        "--connect-timeout",
        "1",
        "--db",
        &format!("postgres://u:hidden-pw@127.0.0.1:{silent_port}/db"),
    ]));
    drop(silent);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no answer within 1s"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn without_pguser_the_operating_system_user_connects() {
    // As with libpq: no user in the URL and no PGUSER means the OS user (here via USER).
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("os_user");
    let role = format!("osuser_{}", std::process::id());
    cluster.psql(
        &db,
        &format!("CREATE ROLE {role} LOGIN; CREATE TABLE via_os_user (id int)"),
    );
    let out = run(pgtriage()
        .arg("tables")
        .env("USER", &role)
        .env("PGHOST", cluster.socket_dir())
        .env("PGPORT", cluster.port.to_string())
        .env("PGDATABASE", &db));
    assert_lists_table(&out, "via_os_user");
    assert!(
        out.1.contains(&format!("\"read_from\": \"{role}@")),
        "{}",
        out.1
    );
}
