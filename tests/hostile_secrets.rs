//! Passwords a real PostgreSQL 15 logs verbatim (`log_statement = all`) never reach pgtriage's
//! evidence, timeline or report: every form the server accepts (and some it rejects, which it
//! logs again as the error's STATEMENT), written by a real server in its three log formats and
//! read by the real binary.

mod support;

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use support::{ClusterOptions, PgCluster};

/// Each statement carries a password `PwNN…`; `NN` is unique, so a leak names its form.
const FORMS: &[&str] = &[
    "CREATE ROLE r1 LOGIN PASSWORD 'Pw01-plain';",
    "CREATE USER r2 WITH ENCRYPTED PASSWORD 'Pw02-encrypted';",
    "ALTER ROLE r1 PASSWORD E'Pw03\\'escaped';",
    "ALTER USER r2 PASSWORD $$Pw04-dollar$$;",
    "ALTER ROLE r1 WITH PASSWORD $tag$Pw05-tagged$tag$ VALID UNTIL 'infinity';",
    "CREATE ROLE r3 PASSWORD 'Pw06-doubled''quote';",
    "CREATE ROLE r4 PASSWORD U&'Pw07\\0041uni';",
    // Fails (the role exists): the server logs it again as the error's STATEMENT.
    "CREATE ROLE r1 PASSWORD 'Pw08-duplicate';",
    // A syntax error that quotes the password in the message itself.
    "CREATE ROLE r5 PASSWORD Pw09unquoted;",
    "CREATE ROLE r6 PASSWORD /* why */ 'Pw10-commented';",
    "CREATE ROLE r7\n  LOGIN\n  PASSWORD\n  'Pw11-multiline';",
    "CREATE EXTENSION dblink;",
    "SELECT dblink_connect('c1', 'host=127.0.0.1 port=1 dbname=x user=u password=Pw12-conninfo');",
    "SELECT * FROM dblink('host=127.0.0.1 port=1 password=''Pw13 quoted'' user=u', 'select 1') AS t(x int);",
    "SELECT * FROM dblink('postgresql://u:Pw14-url@127.0.0.1:1/x', 'select 1') AS t(x int);",
    "CREATE EXTENSION postgres_fdw;",
    "CREATE SERVER fs FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '1', dbname 'x');",
    "CREATE USER MAPPING FOR postgres SERVER fs OPTIONS (user 'u', password 'Pw15-mapping');",
    "ALTER USER MAPPING FOR postgres SERVER fs OPTIONS (SET password 'Pw16-mapping-set');",
    "CREATE PUBLICATION p FOR ALL TABLES;",
    "CREATE SUBSCRIPTION s1 CONNECTION 'host=127.0.0.1 port=1 dbname=x password=Pw17-subscription' PUBLICATION p WITH (connect = false);",
    "ALTER SUBSCRIPTION s1 CONNECTION 'host=127.0.0.1 port=1 password=Pw18-sub-alter';",
    "DO $$BEGIN EXECUTE 'ALTER ROLE r2 PASSWORD ''Pw19-do-execute'''; END$$;",
    "PREPARE q AS SELECT dblink_connect('c2', $1);",
    "EXECUTE q('host=127.0.0.1 port=1 password=Pw20-parameter');",
    "BEGIN; CREATE ROLE r8 PASSWORD 'Pw21-rolled-back'; ROLLBACK;",
    "CREATE USER MAPPING FOR r1 SERVER fs OPTIONS (user 'u', \"password\" 'Pw22-quoted-option');",
    "CREATE ROLE pgtriage LOGIN PASSWORD 'Pw23-pgtriage-own' IN ROLE pg_monitor;",
    "CREATE TABLE payments (id int); DELETE FROM payments;",
];

fn secrets() -> Vec<String> {
    (1..=23).map(|n| format!("Pw{n:02}")).collect()
}

fn pgtriage(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("pgtriage")
        .expect("binary")
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("PGDATABASE")
        .output()
        .expect("run pgtriage")
}

fn leaks(what: &str, text: &str) -> Vec<String> {
    secrets()
        .into_iter()
        .filter(|s| text.contains(s.as_str()))
        .map(|s| format!("{s} in {what}"))
        .collect()
}

#[test]
fn no_password_from_a_real_server_log_reaches_any_output() {
    let pg = PgCluster::start(ClusterOptions {
        archive: false,
        ..ClusterOptions::default()
    });
    let db = pg.fresh_database("secrets");
    let script = FORMS.join("\n");
    let out = pg.psql_script(&db, &script, true);
    assert!(
        out.status.success() || !out.stderr.is_empty(),
        "psql did not run"
    );
    pg.psql(&db, "SELECT 'end of corpus'");
    let stderr_log = pg.wait_for_log(
        |t| t.contains("end of corpus"),
        std::time::Duration::from_secs(10),
    );
    // The corpus is meaningful only if the server really wrote every password.
    for s in secrets() {
        assert!(
            stderr_log.contains(&s),
            "the server log lacks {s}: {stderr_log}"
        );
    }
    let log_dir = pg.log_dir();
    let log = log_dir.to_str().expect("utf-8 path");
    let tmp = tempfile::tempdir().expect("tempdir");
    let evidence = tmp.path().join("evidence.json");
    let report_md = tmp.path().join("report.md");
    let report_json = tmp.path().join("report.json");

    let mut found = Vec::new();
    for (name, args) in [
        ("timeline table", vec!["timeline", "--log", log]),
        (
            "timeline json",
            vec!["timeline", "--log", log, "--format", "json"],
        ),
        (
            "timeline jsonl",
            vec!["timeline", "--log", log, "--format", "jsonl"],
        ),
    ] {
        let out = pgtriage(&args);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        found.extend(leaks(name, &String::from_utf8_lossy(&out.stdout)));
        found.extend(leaks(name, &String::from_utf8_lossy(&out.stderr)));
    }
    let out = pgtriage(&["collect", "--log", log, "-o", evidence.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "collect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = std::fs::read_to_string(&evidence).expect("evidence written");
    found.extend(leaks("evidence", &ev));
    for (path, format) in [(&report_md, "md"), (&report_json, "json")] {
        let out = pgtriage(&[
            "report",
            evidence.to_str().unwrap(),
            "--format",
            format,
            "-o",
            path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "report: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        found.extend(leaks(
            format,
            &std::fs::read_to_string(path).expect("report written"),
        ));
    }
    let out = pgtriage(&["report", "--log", log, "--format", "md"]);
    found.extend(leaks("report --log", &String::from_utf8_lossy(&out.stdout)));
    assert!(found.is_empty(), "passwords leaked: {found:?}");

    // Redacted, not dropped: the statements are still on the timeline, with the marker.
    for kept in [
        "CREATE ROLE r1 LOGIN PASSWORD '[redacted]'",
        "CREATE USER MAPPING FOR postgres SERVER fs",
        "password=[redacted]",
    ] {
        assert!(ev.contains(kept), "evidence lacks {kept:?}");
    }
    assert!(
        ev.contains("DELETE FROM payments"),
        "the incident itself is still there"
    );
}
