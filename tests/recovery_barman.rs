//! The Barman plan, run as printed against a real Barman: a real PostgreSQL 15 whose
//! `archive_command` is `barman-wal-archive … HOST SERVER %p`, pushing each segment over a real
//! ssh connection (an sshd on a free localhost port, with keys generated here) into a Barman
//! whose backups are taken with pg_basebackup (`backup_method = postgres`); a backup, rows
//! written after it, a DELETE; then the report's `barman recover`, `pgtriage recover` on the
//! recovered directory, `psql -f restore.sql` and `pgtriage verify`, each taken from the JSON
//! report and run exactly as printed.

mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::printed::{
    assert_every_command_is_tested, collect, is_root, report_json, run_printed, step, text,
};
use support::{ClusterOptions, PgCluster};

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir("/tmp")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} (scripts/test.sh installs it): {e}"))
}

fn chown_postgres(p: &Path) {
    let o = run(
        "chown",
        &["-R", "postgres:postgres", &p.display().to_string()],
    );
    assert!(o.status.success(), "chown: {}", text(&o));
}

/// Barman as its configured user (`barman_user = postgres`; barman started as root switches).
fn barman(conf: &Path, args: &[&str]) -> Output {
    let conf = conf.display().to_string();
    let mut all = vec!["-u", "postgres", "--", "barman", "--config", conf.as_str()];
    all.extend_from_slice(args);
    run("runuser", &all)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The sshd this test started; stopped (by its own pid) when the test ends, pass or fail.
struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An sshd on a free localhost port that lets `postgres` in with a key generated here; the
/// client side (key, known host, options) is an ssh_config file `ssh` is pointed at by a
/// wrapper first on the archive_command's PATH, so nothing in the system's ssh setup or in the
/// postgres user's home changes.
fn start_sshd(dir: &Path) -> (Sshd, u16) {
    let ssh = dir.join("ssh");
    std::fs::create_dir_all(&ssh).expect("mkdir ssh");
    let s = |n: &str| ssh.join(n).display().to_string();
    for key in ["host_key", "client_key"] {
        let o = run(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-f", &s(key)],
        );
        assert!(o.status.success(), "ssh-keygen: {}", text(&o));
    }
    std::fs::copy(ssh.join("client_key.pub"), ssh.join("authorized_keys"))
        .expect("authorized_keys");
    let port = free_port();
    let host_pub = std::fs::read_to_string(ssh.join("host_key.pub")).expect("host key");
    std::fs::write(
        ssh.join("known_hosts"),
        format!("[127.0.0.1]:{port} {host_pub}"),
    )
    .expect("known_hosts");
    std::fs::write(
        ssh.join("ssh_config"),
        format!(
            "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
            s("client_key"),
            s("known_hosts")
        ),
    )
    .expect("ssh_config");
    std::fs::write(
        ssh.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nStrictModes no\nUsePAM yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nAllowUsers postgres\nPidFile {}\n",
            s("host_key"),
            s("authorized_keys"),
            s("sshd.pid")
        ),
    )
    .expect("sshd_config");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    std::fs::write(
        bin.join("ssh"),
        format!(
            "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
            s("ssh_config")
        ),
    )
    .expect("ssh wrapper");
    let o = run("chmod", &["0755", &bin.join("ssh").display().to_string()]);
    assert!(o.status.success(), "chmod: {}", text(&o));
    // UsePAM: without it sshd refuses the postgres account, whose password is locked.
    // sshd's privilege separation directory, which a container may lack.
    std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
    chown_postgres(dir);
    let o = run("chmod", &["0600", &s("client_key")]);
    assert!(o.status.success(), "chmod: {}", text(&o));
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f", &s("sshd_config")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd (scripts/test.sh installs openssh-server)");
    let sshd = Sshd(child);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "sshd never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (sshd, port)
}

/// Waits until the archiver has pushed every segment written so far to Barman, then has
/// Barman move them from its incoming directory into its WAL archive.
fn archive_everything(cluster: &PgCluster, conf: &Path) {
    let segment = cluster.psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
    let start = Instant::now();
    while cluster.psql(
        "postgres",
        &format!("SELECT coalesce(last_archived_wal >= '{segment}', false) FROM pg_stat_archiver"),
    ) != "t"
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "segment {segment} never reached Barman: {}\n{}",
            cluster.psql(
                "postgres",
                "SELECT row(pg_stat_archiver.*)::text FROM pg_stat_archiver"
            ),
            std::fs::read_to_string(cluster.log_dir().join("postgresql.log"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("archive") || l.contains("barman") || l.contains("ssh"))
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = barman(conf, &["archive-wal", "main"]);
    assert!(o.status.success(), "archive-wal: {}", text(&o));
}

/// A server archiving to Barman over ssh: a backup, rows written after it, a DELETE of most
/// rows of a mixed-case table in a non-public schema. The plan's `barman recover`, the
/// rehearsal on the recovered directory, restore.sql and verify, each run as printed.
#[test]
fn barman_plan_runs_as_printed_and_brings_the_rows_back() {
    assert!(
        is_root(),
        "this test starts an sshd and runs Barman as postgres: run it as root"
    );
    let tmp = tempfile::Builder::new()
        .prefix("pgtriage-barman-")
        .tempdir()
        .expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let o = run("chmod", &["0755", &dir.display().to_string()]);
    assert!(o.status.success(), "chmod: {}", text(&o));
    let (_sshd, ssh_port) = start_sshd(&dir);
    let conf = dir.join("barman.conf");
    std::fs::create_dir_all(dir.join("home")).expect("barman home");
    std::fs::write(&conf, "").expect("barman.conf");
    chown_postgres(&dir);
    let cluster = PgCluster::start(ClusterOptions {
        extra_conf: vec![
            "archive_mode = on".into(),
            "wal_level = replica".into(),
            format!(
                "archive_command = 'PATH={}:/usr/bin:/bin barman-wal-archive --user=postgres --port={ssh_port} --config={} 127.0.0.1 main %p'",
                dir.join("bin").display(),
                conf.display()
            ),
        ],
        archive: false,
    });
    std::fs::write(
        &conf,
        format!(
            "[barman]\nbarman_home = {home}\nbarman_user = postgres\nlog_file = {d}/barman.log\nlog_level = INFO\n\n[main]\ndescription = pgtriage test\nconninfo = host={sock} port={port} user=postgres dbname=postgres\nstreaming_conninfo = host={sock} port={port} user=postgres\nbackup_method = postgres\narchiver = on\nstreaming_archiver = off\npath_prefix = {bindir}\n",
            home = dir.join("home").display(),
            d = dir.display(),
            sock = cluster.dir.display(),
            port = cluster.port,
            bindir = cluster.bindir.display(),
        ),
    )
    .expect("write barman.conf");
    chown_postgres(&dir);

    let db = cluster.fresh_database("barman");
    cluster.psql_script(
        &db,
        r#"CREATE SCHEMA "Billing";
           CREATE TABLE "Billing"."Payments" (id int PRIMARY KEY, "Amount" numeric(10,2), note text);
           INSERT INTO "Billing"."Payments" SELECT g, g * 0.5, 'p' || g FROM generate_series(1, 600) g;
           CREATE TABLE public.steady (id int PRIMARY KEY);
           INSERT INTO public.steady SELECT generate_series(1, 20);"#,
        false,
    );
    archive_everything(&cluster, &conf);
    let o = barman(&conf, &["backup", "main"]);
    assert!(o.status.success(), "barman backup: {}", text(&o));
    // Written after the backup: only the WAL Barman received over ssh has these.
    cluster.psql(
        &db,
        r#"INSERT INTO "Billing"."Payments" SELECT g, 1, 'late' FROM generate_series(601, 650) g"#,
    );
    cluster.flush_stats(&db);
    cluster.psql(&db, "ANALYZE");
    let work = cluster.dir.join("work-barman");
    std::fs::create_dir_all(&work).expect("workdir");
    collect(&cluster, &db, &work, "baseline.json", &[]);
    std::thread::sleep(Duration::from_millis(1100));
    cluster.psql_script(
        &db,
        "SET application_name = 'billing-cleanup';\nDELETE FROM \"Billing\".\"Payments\" WHERE id > 100;",
        false,
    );
    cluster.psql(&db, "INSERT INTO public.steady VALUES (21)");
    cluster.flush_stats(&db);
    archive_everything(&cluster, &conf);
    let log = cluster.log_dir().join("postgresql.log");
    collect(
        &cluster,
        &db,
        &work,
        "evidence.json",
        &[
            "--log",
            &log.display().to_string(),
            "--baseline",
            "baseline.json",
        ],
    );
    let report = report_json(&work);
    let plans = report["recovery"].as_array().expect("recovery[]");
    let plan = plans
        .iter()
        .find(|p| p["archiver"] == "barman")
        .unwrap_or_else(|| panic!("a Barman plan: {plans:#?}"));
    assert_eq!(plan["restore_from"], "pitr", "{plan:#}");
    assert_every_command_is_tested(plan);
    let recover = step(plan, "Recover the backup with Barman");
    assert!(recover.contains("--exclusive"), "{recover}");
    assert!(recover.contains("--target-action pause"), "{recover}");
    assert!(
        recover.contains(&format!("--config {}", conf.display())),
        "the archive_command's Barman configuration is kept: {recover}"
    );

    let o = barman(&conf, &["list-backups", "--minimal", "main"]);
    assert!(o.status.success(), "list-backups: {}", text(&o));
    let backup_id = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| panic!("one backup: {}", text(&o)));
    let pitr_dir = cluster.dir.join("barman-recovered");
    let pitr_s = pitr_dir.display().to_string();
    let vars = [
        ("EVIDENCE", "evidence.json"),
        ("PITR_DIR", pitr_s.as_str()),
        ("BACKUP_ID", backup_id.as_str()),
    ];
    let o = run_printed(recover, &cluster.dir, &cluster, &vars, true);
    assert!(o.status.success(), "{recover}: {}", text(&o));
    let auto = std::fs::read_to_string(pitr_dir.join("postgresql.auto.conf")).unwrap_or_default();
    assert!(auto.contains("restore_command"), "{auto}");
    assert!(pitr_dir.join("recovery.signal").exists());

    let rehearse = step(plan, "Rehearse");
    assert!(!rehearse.contains("--wal-archive"), "{rehearse}");
    let o = run_printed(rehearse, &work, &cluster, &vars, false);
    assert!(o.status.success(), "{rehearse}: {}\n{auto}", text(&o));
    let rec: Value = serde_json::from_str(
        &std::fs::read_to_string(work.join("recovered-plan-1/recover.json")).expect("recover.json"),
    )
    .expect("recover.json parses");
    let payments = rec["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["table"] == "Billing.Payments")
        .unwrap_or_else(|| panic!("{rec:#}"));
    assert_eq!(
        payments["rows_found"], 650,
        "the 50 rows written after the backup came from the WAL Barman received: {rec:#}"
    );

    for prefix in ["Put back", "Check"] {
        let cmd = step(plan, prefix);
        let o = run_printed(cmd, &work, &cluster, &vars, false);
        assert!(o.status.success(), "{cmd}: {}", text(&o));
    }
    assert_eq!(
        cluster.psql(
            &db,
            r#"SELECT count(*) || ',' || count(*) FILTER (WHERE note = 'late') FROM "Billing"."Payments""#
        ),
        "650,50"
    );
    assert_eq!(
        cluster.psql(&db, "SELECT count(*) FROM public.steady"),
        "21"
    );
}
