//! TLS against a real server: a CA and certificates made by `openssl` for this test, a cluster
//! with `ssl = on` whose pg_hba.conf admits TCP clients over TLS only, and the real binary.
//! Every sslmode with libpq's meaning, the evidence saying what was encrypted and checked, and
//! every error one line with exit 2.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use support::{ClusterOptions, PgCluster, SUPERUSER_PASSWORD, TestCa};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs pgtriage with a clean environment: HOME is `home` (so ~/.postgresql is the test's),
/// no PG* variable from the outside.
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
    let out = cmd.output().expect("run pgtriage");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn url(host: &str, port: u16, db: &str, query: &str) -> String {
    format!("postgres://postgres:{SUPERUSER_PASSWORD}@{host}:{port}/{db}?{query}")
}

fn fails_with(run: &Run, expected: &[&str]) {
    assert_eq!(run.code, 2, "exit code; stderr: {}", run.stderr);
    let line = run.stderr.trim_end();
    assert!(!line.contains('\n'), "not one line: {line}");
    for e in expected {
        assert!(line.contains(e), "expected `{e}` in: {line}");
    }
    assert!(
        !line.contains(SUPERUSER_PASSWORD),
        "password leaked: {line}"
    );
    assert!(!line.contains("panicked"), "{line}");
}

/// Collects into an evidence file and returns its `connection` object.
fn collect(home: &Path, work: &Path, url: &str, env: &[(&str, &str)]) -> serde_json::Value {
    collect_to(home, work, url, env).0
}

/// Collects and also returns the evidence file's path. The suffix counter is shared by every
/// test thread of this binary, so a path is never rebuilt from it afterwards.
fn collect_to(
    home: &Path,
    work: &Path,
    url: &str,
    env: &[(&str, &str)],
) -> (serde_json::Value, PathBuf) {
    let out = work.join(format!("ev-{}.json", rand_suffix()));
    let run = pgtriage(
        home,
        &["collect", "--db", url, "-o", out.to_str().unwrap()],
        env,
    );
    assert_eq!(run.code, 0, "collect failed: {}{}", run.stdout, run.stderr);
    let text = std::fs::read_to_string(&out).expect("evidence");
    assert!(!text.contains(SUPERUSER_PASSWORD), "password in evidence");
    assert!(!text.contains("PRIVATE KEY"), "a key in the evidence");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    (v["connection"].clone(), out)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn empty_home(work: &Path, name: &str) -> PathBuf {
    let h = work.join(name);
    std::fs::create_dir_all(&h).unwrap();
    h
}

#[test]
fn every_sslmode_and_every_tls_error() {
    let ca = TestCa::create(&["localhost"]);
    let cluster = PgCluster::start_tls(&ca);
    let db = cluster.fresh_database("tls");
    cluster.psql(&db, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let home = empty_home(work, "home");
    let port = cluster.port;
    let ca_path = ca.ca_cert.to_str().unwrap().to_string();

    // disable: pg_hba.conf has only hostssl lines.
    let r = pgtriage(
        &home,
        &[
            "tables",
            "--db",
            &url("127.0.0.1", port, &db, "sslmode=disable"),
        ],
        &[],
    );
    fails_with(&r, &["no encryption", "try sslmode=require"]);

    // allow: plain first, then TLS when the server wants it; prefer and require: TLS, unchecked.
    for mode in ["allow", "prefer", "require"] {
        let c = collect(
            &home,
            work,
            &url("127.0.0.1", port, &db, &format!("sslmode={mode}")),
            &[],
        );
        assert_eq!(c["sslmode"], mode);
        assert_eq!(c["encrypted"], true, "{mode}: {c}");
        assert_eq!(c["certificate_checked"], "none", "{mode}: {c}");
        assert!(
            c["tls_version"].as_str().unwrap_or("").starts_with("TLS"),
            "{c}"
        );
    }
    // The default sslmode is prefer.
    let c = collect(
        &home,
        work,
        &url("127.0.0.1", port, &db, "connect_timeout=5"),
        &[],
    );
    assert_eq!(c["sslmode"], "prefer");
    assert_eq!(c["encrypted"], true);

    // verify-ca: by IP address, the host name is not checked.
    let c = collect(
        &home,
        work,
        &url(
            "127.0.0.1",
            port,
            &db,
            &format!("sslmode=verify-ca&sslrootcert={ca_path}"),
        ),
        &[],
    );
    assert_eq!(c["certificate_checked"], "ca", "{c}");
    assert_eq!(c["root_certificate"], ca_path.as_str());
    // verify-full by the certificate's name.
    let (c, last) = collect_to(
        &home,
        work,
        &url(
            "localhost",
            port,
            &db,
            &format!("sslmode=verify-full&sslrootcert={ca_path}"),
        ),
        &[],
    );
    assert_eq!(c["certificate_checked"], "full", "{c}");
    // The report says it too.
    let md = pgtriage(
        &home,
        &["report", last.to_str().unwrap(), "--format", "md"],
        &[],
    );
    assert_eq!(md.code, 0, "{}", md.stderr);
    assert!(
        md.stdout.contains("Database session: TLS (TLSv1.3")
            && md
                .stdout
                .contains("server certificate and host name verified"),
        "{}",
        md.stdout.lines().take(8).collect::<Vec<_>>().join("\n")
    );

    // verify-full by a name the certificate does not hold: both names said.
    let r = pgtriage(
        &home,
        &[
            "tables",
            "--db",
            &url(
                "127.0.0.1",
                port,
                &db,
                &format!("sslmode=verify-full&sslrootcert={ca_path}"),
            ),
        ],
        &[],
    );
    fails_with(&r, &["`localhost`", "`127.0.0.1`", "verify-full"]);

    // A CA that did not sign the server's certificate.
    let other = ca.other_ca_cert.to_str().unwrap();
    for mode in ["verify-ca", "verify-full"] {
        let r = pgtriage(
            &home,
            &[
                "tables",
                "--db",
                &url(
                    "localhost",
                    port,
                    &db,
                    &format!("sslmode={mode}&sslrootcert={other}"),
                ),
            ],
            &[],
        );
        fails_with(&r, &["not signed by a CA in", other]);
    }

    // ~/.postgresql/root.crt makes require check the CA, as libpq does; a wrong one is refused.
    let home_wrong = empty_home(work, "home-wrong-root");
    std::fs::create_dir_all(home_wrong.join(".postgresql")).unwrap();
    std::fs::copy(&ca.other_ca_cert, home_wrong.join(".postgresql/root.crt")).unwrap();
    let r = pgtriage(
        &home_wrong,
        &[
            "tables",
            "--db",
            &url("127.0.0.1", port, &db, "sslmode=require"),
        ],
        &[],
    );
    fails_with(&r, &["not signed by a CA in", ".postgresql/root.crt"]);
    // … and the right one passes, recorded as checked against it.
    std::fs::copy(&ca.ca_cert, home_wrong.join(".postgresql/root.crt")).unwrap();
    let c = collect(
        &home_wrong,
        work,
        &url("127.0.0.1", port, &db, "sslmode=require"),
        &[],
    );
    assert_eq!(c["certificate_checked"], "ca", "{c}");

    // verify-ca with no root file anywhere.
    let r = pgtriage(
        &home,
        &[
            "tables",
            "--db",
            &url("localhost", port, &db, "sslmode=verify-ca"),
        ],
        &[],
    );
    fails_with(
        &r,
        &[
            "root certificate file",
            ".postgresql/root.crt",
            "does not exist",
            "sslrootcert=system",
        ],
    );

    // sslrootcert=system: only with verify-full; the test CA is not in the system store.
    let r = pgtriage(
        &home,
        &[
            "tables",
            "--db",
            &url("localhost", port, &db, "sslmode=require&sslrootcert=system"),
        ],
        &[],
    );
    fails_with(&r, &["weak sslmode `require`", "verify-full"]);
    let r = pgtriage(
        &home,
        &[
            "tables",
            "--db",
            &url(
                "localhost",
                port,
                &db,
                "sslmode=verify-full&sslrootcert=system",
            ),
        ],
        &[],
    );
    fails_with(&r, &["not signed by a CA in the system's trusted roots"]);

    // The PG* variables, as psql reads them.
    let c = collect(
        &home,
        work,
        &format!("postgres:///{db}"),
        &[
            ("PGHOST", "localhost"),
            ("PGPORT", &port.to_string()),
            ("PGUSER", "postgres"),
            ("PGPASSWORD", SUPERUSER_PASSWORD),
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", &ca_path),
        ],
    );
    assert_eq!(c["certificate_checked"], "full", "{c}");

    // prefer falls back to plain text when the handshake fails (here: a root file that did not
    // sign the server's certificate), as libpq does — where pg_hba.conf allows plain text.
    cluster.set_hba(
        "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n",
    );
    let home_prefer = empty_home(work, "home-prefer");
    std::fs::create_dir_all(home_prefer.join(".postgresql")).unwrap();
    std::fs::copy(&ca.other_ca_cert, home_prefer.join(".postgresql/root.crt")).unwrap();
    let c = collect(
        &home_prefer,
        work,
        &url("127.0.0.1", port, &db, "sslmode=prefer"),
        &[],
    );
    assert_eq!(c["encrypted"], false, "{c}");
    // … while require with the same file refuses.
    let r = pgtriage(
        &home_prefer,
        &[
            "tables",
            "--db",
            &url("127.0.0.1", port, &db, "sslmode=require"),
        ],
        &[],
    );
    fails_with(&r, &["not signed by a CA in"]);
}

#[test]
fn client_certificates_with_libpq_defaults_and_key_permissions() {
    let ca = TestCa::create(&["localhost"]);
    let cluster = PgCluster::start_tls(&ca);
    let db = cluster.fresh_database("tls_cert");
    // Certificate authentication only: the CN must be the user name.
    cluster.set_hba("local all all trust\nhostssl all all 127.0.0.1/32 cert\n");
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let port = cluster.port;
    let plain_url = format!("postgres://postgres@localhost:{port}/{db}?sslmode=verify-full");

    // No client certificate: the server refuses.
    let home = empty_home(work, "home-none");
    std::fs::create_dir_all(home.join(".postgresql")).unwrap();
    std::fs::copy(&ca.ca_cert, home.join(".postgresql/root.crt")).unwrap();
    let r = pgtriage(&home, &["tables", "--db", &plain_url], &[]);
    fails_with(&r, &["cannot connect"]);

    // ~/.postgresql/postgresql.crt and .key are the defaults.
    std::fs::copy(&ca.client_cert, home.join(".postgresql/postgresql.crt")).unwrap();
    let key = home.join(".postgresql/postgresql.key");
    std::fs::copy(&ca.client_key, &key).unwrap();
    set_mode(&key, 0o644);
    let r = pgtriage(&home, &["tables", "--db", &plain_url], &[]);
    fails_with(
        &r,
        &["postgresql.key", "group or world access", "chmod 0600"],
    );
    set_mode(&key, 0o600);
    let c = collect(&home, work, &plain_url, &[]);
    assert_eq!(c["encrypted"], true);
    assert!(
        c["client_certificate"]
            .as_str()
            .unwrap_or("")
            .ends_with(".postgresql/postgresql.crt"),
        "{c}"
    );

    // sslcert/sslkey in the URL; an unreadable key is one line naming it.
    let other_home = empty_home(work, "home-explicit");
    let url = format!(
        "{plain_url}&sslrootcert={}&sslcert={}&sslkey={}",
        ca.ca_cert.display(),
        ca.client_cert.display(),
        work.join("missing.key").display()
    );
    let r = pgtriage(&other_home, &["tables", "--db", &url], &[]);
    fails_with(&r, &["missing.key"]);
    let url = format!(
        "{plain_url}&sslrootcert={}&sslcert={}&sslkey={}",
        ca.ca_cert.display(),
        ca.client_cert.display(),
        ca.client_key.display()
    );
    let r = pgtriage(&other_home, &["tables", "--db", &url], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn require_against_a_server_without_tls() {
    let cluster = PgCluster::start(ClusterOptions {
        archive: false,
        ..ClusterOptions::default()
    });
    let db = cluster.fresh_database("no_tls");
    let work = tempfile::tempdir().unwrap();
    let home = empty_home(work.path(), "home");
    for mode in ["require", "verify-ca", "verify-full"] {
        let root = if mode == "require" {
            String::new()
        } else {
            // A root file, so the mode's own file check passes and the server's answer decides.
            let ca = TestCa::create(&["localhost"]);
            let p = work.path().join(format!("{mode}.crt"));
            std::fs::copy(&ca.ca_cert, &p).unwrap();
            format!("&sslrootcert={}", p.display())
        };
        let r = pgtriage(
            &home,
            &[
                "tables",
                "--db",
                &url(
                    "localhost",
                    cluster.port,
                    &db,
                    &format!("sslmode={mode}{root}"),
                ),
            ],
            &[],
        );
        fails_with(&r, &["does not support TLS", &format!("sslmode={mode}")]);
    }
    // prefer falls back to plain text, and says so in the evidence.
    let c = collect(
        &home,
        work.path(),
        &url("127.0.0.1", cluster.port, &db, "sslmode=prefer"),
        &[],
    );
    assert_eq!(c["encrypted"], false, "{c}");
    // Over the socket TLS is never used, whatever the mode (as libpq).
    let c = collect(
        &home,
        work.path(),
        &format!("{}&sslmode=require", cluster.url(&db)),
        &[],
    );
    assert_eq!(c["encrypted"], false, "{c}");
    assert_eq!(c["over_socket"], true, "{c}");
}
