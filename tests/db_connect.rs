//! The read-only session against a real server: it connects the ways psql users do, it cannot
//! write, and every bad input is one line without the password.

mod support;

use pgtriage::db::{ConnectionSettings, Session};
use support::{PgCluster, SUPERUSER_PASSWORD};

fn settings(url: &str) -> ConnectionSettings {
    ConnectionSettings {
        url: Some(url.to_string()),
        statement_timeout_ms: 30_000,
        lock_timeout_ms: 2_000,
        connect_timeout_s: 5,
    }
}

#[test]
fn socket_session_is_read_only_and_names_its_target() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("connect_socket");
    cluster.psql(&db, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    let mut session = Session::connect(&settings(&cluster.url(&db))).expect("connect");
    assert_eq!(
        session.target(),
        format!(
            "postgres@{}:{}/{db}",
            cluster.socket_dir().display(),
            cluster.port
        )
    );
    assert!(session.server_version_num() >= 120000);
    assert_eq!(session.transaction_read_only().unwrap(), "on");

    // Every way of writing is refused by the server.
    for sql in [
        "INSERT INTO t VALUES (2)",
        "CREATE TABLE u (id int)",
        "DELETE FROM t",
        "TRUNCATE t",
    ] {
        let err = session
            .try_statement(sql)
            .expect_err(&format!("`{sql}` must be refused"));
        assert!(err.contains("read-only transaction"), "{sql}: {err}");
    }
    drop(session);
    assert_eq!(cluster.psql(&db, "SELECT count(*) FROM t"), "1");
    // And the server saw who we are.
    let log = cluster.wait_for_log(
        |t| t.contains("application_name=pgtriage"),
        std::time::Duration::from_secs(5),
    );
    assert!(log.contains("application_name=pgtriage"));
}

#[test]
fn tcp_session_with_password_never_shows_it() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("connect_tcp");
    let url = cluster.tcp_url(&db, "postgres", SUPERUSER_PASSWORD);
    let mut session = Session::connect(&settings(&url)).expect("connect over TCP");
    assert_eq!(
        session.target(),
        format!("postgres@127.0.0.1:{}/{db}", cluster.port)
    );
    assert_eq!(session.transaction_read_only().unwrap(), "on");
}

#[test]
fn connection_failures_are_one_line_without_the_password() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("connect_fail");
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cases = [
        (
            cluster.tcp_url(&db, "postgres", "wrong-pw-xyz"),
            "password authentication failed",
            "wrong-pw-xyz",
        ),
        (
            cluster.tcp_url("no_such_db", "postgres", SUPERUSER_PASSWORD),
            "does not exist",
            SUPERUSER_PASSWORD,
        ),
        (
            format!("postgres://postgres:hidden-pw@127.0.0.1:{closed_port}/{db}"),
            "connection refused",
            "hidden-pw",
        ),
        (
            format!("postgres://postgres:hidden-pw@127.0.0.1:notaport/{db}"),
            "cannot parse",
            "hidden-pw",
        ),
        (
            format!(
                "{}&sslmode=require",
                cluster
                    .tcp_url(&db, "postgres", SUPERUSER_PASSWORD)
                    .replace(&format!("/{db}"), &format!("/{db}?connect_timeout=5"))
            ),
            "TLS",
            SUPERUSER_PASSWORD,
        ),
    ];
    for (url, expected, secret) in cases {
        let err = match Session::connect(&settings(&url)) {
            Ok(_) => panic!("{url} should fail"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(expected), "{url}: {err}");
        assert!(!err.contains(secret), "password leaked: {err}");
        assert!(!err.contains('\n'), "not one line: {err}");
    }
}
