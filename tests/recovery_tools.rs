//! The archiving tools' and providers' commands the report prints, run as printed with the real
//! tools: a real pgBackRest stanza over a real PostgreSQL 15 with `archive_command = pgbackrest
//! … archive-push`, a loss, then the plan's `pgbackrest … restore`, `pgtriage recover` on the
//! restored directory, `psql -f restore.sql` and `pgtriage verify`; and the AWS CLI (from PyPI)
//! parsing and validating the printed RDS commands, sent to a closed local proxy so nothing
//! leaves the machine. WAL-G, gcloud and az commands are not printed (documented steps: no test
//! here can run them), which the last test checks; Barman's are run by tests/recovery_barman.rs.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::printed::{
    assert_every_command_is_tested, collect, is_root, report_json, run_printed, step, text,
};
use support::{ClusterOptions, PgCluster};

fn chown_postgres(p: &Path) {
    if is_root() {
        let o = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(p)
            .output()
            .expect("chown");
        assert!(o.status.success(), "chown: {}", text(&o));
    }
}

fn pgbackrest(conf: &Path, args: &[&str]) -> Output {
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "pgbackrest"]);
        c
    } else {
        Command::new("pgbackrest")
    };
    c.arg(format!("--config={}", conf.display()))
        .args(["--stanza=main"])
        .args(args)
        .current_dir("/tmp")
        .stdin(Stdio::null())
        .output()
        .expect("pgbackrest (scripts/test.sh installs it)")
}

/// Waits until the archiver has pushed every segment written so far.
fn archive_everything(cluster: &PgCluster) {
    let segment = cluster.psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
    let start = Instant::now();
    while cluster.psql(
        "postgres",
        &format!("SELECT coalesce(last_archived_wal >= '{segment}', false) FROM pg_stat_archiver"),
    ) != "t"
    {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "segment {segment} never reached the pgBackRest repository"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A server archiving with pgBackRest: a full backup, rows written after it, a DELETE of most
/// rows of a mixed-case table in a non-public schema. The plan's pgBackRest restore, the
/// rehearsal on the restored directory, restore.sql and verify, each run as printed.
#[test]
fn pgbackrest_plan_runs_as_printed_and_brings_the_rows_back() {
    let repo_dir = tempfile::Builder::new()
        .prefix("pgtriage-pgbackrest-")
        .tempdir()
        .expect("tempdir");
    let pgbr = repo_dir.path().to_path_buf();
    for d in ["repo", "log", "lock", "spool"] {
        std::fs::create_dir_all(pgbr.join(d)).expect("mkdir");
    }
    let conf = pgbr.join("pgbackrest.conf");
    std::fs::write(&conf, "").expect("conf");
    chown_postgres(&pgbr);
    let cluster = PgCluster::start(ClusterOptions {
        extra_conf: vec![
            "archive_mode = on".into(),
            format!(
                "archive_command = 'pgbackrest --config={} --stanza=main archive-push %p'",
                conf.display()
            ),
        ],
        archive: false,
    });
    std::fs::write(
        &conf,
        format!(
            "[global]\nrepo1-path={p}/repo\nlog-path={p}/log\nlock-path={p}/lock\nspool-path={p}/spool\nlog-level-console=warn\nlog-level-file=info\nstart-fast=y\n\n[main]\npg1-path={data}\npg1-socket-path={sock}\npg1-port={port}\npg1-user=postgres\n",
            p = pgbr.display(),
            data = cluster.data.display(),
            sock = cluster.dir.display(),
            port = cluster.port
        ),
    )
    .expect("write pgbackrest.conf");
    chown_postgres(&conf);
    let o = pgbackrest(&conf, &["stanza-create"]);
    assert!(o.status.success(), "stanza-create: {}", text(&o));

    let db = cluster.fresh_database("pgbr");
    cluster.psql_script(
        &db,
        r#"CREATE SCHEMA "Billing";
           CREATE TABLE "Billing"."Payments" (id int PRIMARY KEY, "Amount" numeric(10,2), note text);
           INSERT INTO "Billing"."Payments" SELECT g, g * 0.5, 'p' || g FROM generate_series(1, 600) g;
           CREATE TABLE public.steady (id int PRIMARY KEY);
           INSERT INTO public.steady SELECT generate_series(1, 20);"#,
        false,
    );
    let o = pgbackrest(&conf, &["--type=full", "backup"]);
    assert!(o.status.success(), "backup: {}", text(&o));
    // Written after the backup: only the archived WAL has these.
    cluster.psql(
        &db,
        r#"INSERT INTO "Billing"."Payments" SELECT g, 1, 'late' FROM generate_series(601, 650) g"#,
    );
    cluster.flush_stats(&db);
    cluster.psql(&db, "ANALYZE");
    let work = cluster.dir.join("work-pgbr");
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
    archive_everything(&cluster);
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
        .find(|p| p["archiver"] == "pgbackrest")
        .unwrap_or_else(|| panic!("a pgBackRest plan: {plans:#?}"));
    assert_eq!(plan["restore_from"], "pitr", "{plan:#}");
    assert_every_command_is_tested(plan);
    let restore = step(plan, "Restore the backup with pgBackRest");
    assert!(restore.contains("--target-exclusive"), "{restore}");
    assert!(
        restore.contains(&format!("--config={}", conf.display())),
        "the archive_command's configuration is kept: {restore}"
    );

    let pitr_dir = cluster.dir.join("pgbr-restored");
    let pitr_s = pitr_dir.display().to_string();
    let vars = [("EVIDENCE", "evidence.json"), ("PITR_DIR", pitr_s.as_str())];
    let o = run_printed(restore, &cluster.dir, &cluster, &vars, true);
    assert!(o.status.success(), "{restore}: {}", text(&o));
    let auto = std::fs::read_to_string(pitr_dir.join("postgresql.auto.conf")).unwrap_or_default();
    assert!(auto.contains("archive-get"), "{auto}");
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
        "the 50 rows written after the backup came from pgBackRest's archive: {rec:#}"
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

/// The AWS CLI is on PATH (scripts/test.sh installs it from PyPI).
fn aws_cli() -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", "command -v aws"])
        .output()
        .expect("sh");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !path.is_empty(),
        "the AWS CLI is not installed: scripts/test.sh installs it (python3 -m pip install awscli)"
    );
    PathBuf::from(path)
}

/// A server configured as RDS is (`rds.force_ssl`), archiving, a TRUNCATE in the log: the plan's
/// `aws rds restore-db-instance-to-point-in-time` and the gap's `aws rds
/// download-db-log-file-portion` are run as printed by the real AWS CLI. With dummy credentials
/// and HTTPS_PROXY on a closed local port, the CLI parses the arguments, validates every
/// parameter against the RDS API model (a malformed --restore-time fails here), signs the request
/// and fails only when connecting: "Failed to connect to proxy URL". A misspelt option fails
/// before that, which shows the check is real.
#[test]
fn the_printed_aws_rds_commands_parse_and_validate_with_the_real_cli() {
    let aws = aws_cli();
    let cluster = PgCluster::start(ClusterOptions {
        extra_conf: vec!["rds.force_ssl = 1".into()],
        archive: true,
    });
    let db = cluster.fresh_database("rds");
    cluster.psql_script(
        &db,
        "CREATE TABLE orders (id int PRIMARY KEY);\nINSERT INTO orders SELECT generate_series(1, 300);",
        false,
    );
    cluster.flush_stats(&db);
    cluster.psql(&db, "ANALYZE");
    let work = cluster.dir.join("work-rds");
    std::fs::create_dir_all(&work).expect("workdir");
    collect(&cluster, &db, &work, "baseline.json", &[]);
    std::thread::sleep(Duration::from_millis(1100));
    cluster.psql(&db, "TRUNCATE orders");
    cluster.flush_stats(&db);
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
    let plan = &report["recovery"][0];
    assert_eq!(plan["provider"], "rds", "{plan:#}");
    assert_every_command_is_tested(plan);
    let restore = step(plan, "Point-in-time restore on Amazon RDS");
    assert!(restore.starts_with("aws rds restore-db-instance-to-point-in-time"));
    let gaps = report["gaps"].to_string();
    let download = report["gaps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["effect"].as_str())
        .find_map(|e| e.split_once("--log: ").map(|(_, c)| c.to_string()))
        .unwrap_or_default();
    assert!(
        download.starts_with("aws rds download-db-log-file-portion"),
        "{gaps}"
    );

    let home = cluster.dir.join("aws-home");
    std::fs::create_dir_all(&home).expect("home");
    let home_s = home.display().to_string();
    let aws_dir = aws
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let run = |cmd: &str| {
        let o = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(&work)
            .env(
                "PATH",
                format!("{aws_dir}:{}", std::env::var("PATH").unwrap_or_default()),
            )
            .env("HOME", &home_s)
            .env("DB_INSTANCE", "orders-prod")
            .env("AWS_ACCESS_KEY_ID", "AKIDPGTRIAGETEST")
            .env("AWS_SECRET_ACCESS_KEY", "not-a-secret")
            .env("AWS_DEFAULT_REGION", "eu-west-1")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_RETRY_MODE", "standard")
            // Every request goes to a closed local port: nothing leaves the machine.
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env_remove("NO_PROXY")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .output()
            .expect("aws");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    for cmd in [restore, download.as_str()] {
        let (code, err) = run(cmd);
        assert!(
            err.contains("Failed to connect to proxy URL"),
            "{cmd}: the CLI must accept every argument and fail only at the network: {code:?} {err}"
        );
        assert!(
            !err.contains("usage:") && !err.contains("validation"),
            "{err}"
        );
    }
    // The same check catches what is wrong: a malformed time and a misspelt option.
    let bad_time = restore.replace(
        restore.rsplit(' ').next().unwrap_or(""),
        "2026-13-45T99:00:00Z",
    );
    let (_, err) = run(&bad_time);
    assert!(err.contains("RestoreTime"), "{bad_time}: {err}");
    let (_, err) = run(&restore.replace("--restore-time", "--restore-date"));
    assert!(
        err.contains("usage:") || err.contains("Unknown options"),
        "{err}"
    );
}
