//! Recovery end to end on real servers: an incident is staged, evidence collected with the real
//! binary, and the report's own recovery commands (from its JSON) run exactly as printed —
//! `pgtriage recover` on a real base backup + WAL archive or a real `pg_dump -Fc`, `psql -f
//! restore.sql` (twice: the second run changes nothing), `pgtriage verify` — until verify says
//! the rows are back. Bad inputs each give exit 2 and a one-line message.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::{ClusterOptions, PgCluster};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pgtriage")
}

/// PATH with pgtriage and the server's psql/pg_ctl first, as a user following the report has.
fn path_env(cluster: &PgCluster) -> String {
    format!(
        "{}:{}:/usr/bin:/bin",
        bin()
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        cluster.bindir.display()
    )
}

fn pgtriage(cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(cwd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run pgtriage")
}

/// Runs one printed shell command as printed, with the plan's variables set.
fn run_printed(cmd: &str, cwd: &Path, cluster: &PgCluster, vars: &[(&str, &str)]) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(cmd)
        .current_dir(cwd)
        .env("PATH", path_env(cluster));
    for (k, v) in vars {
        c.env(k, v);
    }
    c.stdin(Stdio::null()).output().expect("sh -c")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn collect(cluster: &PgCluster, db: &str, cwd: &Path, out: &str, extra: &[&str]) {
    let url = cluster.url(db);
    let mut args = vec!["collect", "--db", url.as_str(), "-o", out];
    args.extend_from_slice(extra);
    let o = pgtriage(cwd, &args);
    assert!(o.status.success(), "collect: {}", text(&o));
}

fn report_json(cwd: &Path, evidence: &str) -> Value {
    let o = pgtriage(cwd, &["report", evidence, "--format", "json"]);
    assert!(o.status.success(), "report: {}", text(&o));
    serde_json::from_slice(&o.stdout).expect("report JSON")
}

/// The plan's step commands whose title starts with `prefix`.
fn step<'a>(plan: &'a Value, prefix: &str) -> &'a str {
    plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["title"].as_str().unwrap_or("").starts_with(prefix))
        .and_then(|s| s["command"].as_str())
        .unwrap_or_else(|| panic!("no step {prefix:?} in {plan:#}"))
}

fn workdir(cluster: &PgCluster, name: &str) -> PathBuf {
    let dir = cluster.dir.join(name);
    std::fs::create_dir_all(&dir).expect("workdir");
    dir
}

const PITR_SCHEMA: &str = r#"
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Customers" (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE "Sales"."Invoices" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id int NOT NULL REFERENCES "Sales"."Customers"(id), "Total" numeric(10,2), note text);
CREATE TABLE "Sales".audit_log (at timestamptz, what text);
CREATE TABLE public.keep (id int PRIMARY KEY);
INSERT INTO "Sales"."Customers" SELECT g, 'customer ' || g FROM generate_series(1, 200) g;
INSERT INTO "Sales"."Invoices" (customer_id, "Total", note) SELECT 1 + g % 200, g * 1.5, E'tab\there, quote '' and \\ backslash' FROM generate_series(1, 700) g;
INSERT INTO "Sales".audit_log SELECT now(), 'row ' || (g % 50) FROM generate_series(1, 120) g;
INSERT INTO public.keep SELECT g FROM generate_series(1, 10) g;
"#;

/// TRUNCATE … CASCADE in a non-public schema with mixed-case names, one table without a key,
/// an identity column and rows written after the base backup: point-in-time recovery through
/// the report's printed commands, then the printed hand-made recipe.
#[test]
fn pitr_plan_runs_as_printed_and_brings_the_rows_back() {
    let cluster = PgCluster::start(ClusterOptions::default());
    let db = cluster.fresh_database("pitr");
    cluster.psql_script(&db, PITR_SCHEMA, false);
    cluster.flush_stats(&db);
    cluster.psql(&db, "VACUUM ANALYZE");
    let base = cluster.base_backup();
    // Written after the base backup: only the WAL archive has these.
    cluster.psql_script(
        &db,
        r#"INSERT INTO "Sales"."Invoices" (customer_id, "Total") SELECT 7, 1 FROM generate_series(1, 50);
           INSERT INTO "Sales".audit_log VALUES (now(), 'late');"#,
        false,
    );
    cluster.flush_stats(&db);
    let work = workdir(&cluster, "work-pitr");
    collect(&cluster, &db, &work, "baseline.json", &[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    cluster.psql_script(
        &db,
        "SET application_name = 'reset-script';\nTRUNCATE \"Sales\".\"Customers\" CASCADE;",
        false,
    );
    cluster.psql(&db, "INSERT INTO public.keep VALUES (11)");
    cluster.flush_stats(&db);
    cluster.archive_everything();
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

    let report = report_json(&work, "evidence.json");
    let plans = report["recovery"].as_array().expect("recovery[]");
    assert_eq!(plans.len(), 1, "one loss event, one plan: {plans:#?}");
    let plan = &plans[0];
    assert_eq!(plan["restore_from"], "pitr");
    assert_eq!(plan["target"]["inclusive"], false);
    let tables: Vec<&str> = plan["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["table"].as_str())
        .collect();
    assert!(
        tables.contains(&"Sales.Invoices") && tables.contains(&"Sales.Customers"),
        "{tables:?}"
    );

    let base_s = base.display().to_string();
    let vars = [
        ("EVIDENCE", "evidence.json"),
        ("BASE_BACKUP", base_s.as_str()),
    ];
    let rehearse = step(plan, "Rehearse");
    assert!(
        rehearse.contains("--base-backup \"$BASE_BACKUP\""),
        "{rehearse}"
    );
    let o = run_printed(rehearse, &work, &cluster, &vars);
    assert!(o.status.success(), "{rehearse}: {}", text(&o));
    let out = work.join("recovered-plan-1");
    let rec: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("recover.json")).expect("recover.json"),
    )
    .expect("recover.json parses");
    assert_eq!(rec["format"], "pgtriage-recover/1");
    assert_eq!(rec["all_found"], true, "{rec:#}");
    let invoices = rec["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["table"] == "Sales.Invoices")
        .expect("invoices in recover.json");
    assert_eq!(
        invoices["rows_found"], 750,
        "the 50 rows after the base backup replayed"
    );
    for f in rec["files"].as_array().into_iter().flatten() {
        let name = f["name"].as_str().unwrap_or("");
        assert!(out.join(name).exists(), "{name}");
        assert_eq!(f["sha256"].as_str().map(str::len), Some(64));
    }
    let apply = step(plan, "Put back");
    let o = run_printed(apply, &work, &cluster, &vars);
    assert!(o.status.success(), "{apply}: {}", text(&o));
    let counts = || {
        cluster.psql(
            &db,
            r#"SELECT (SELECT count(*) FROM "Sales"."Customers") || ',' || (SELECT count(*) FROM "Sales"."Invoices") || ',' || (SELECT count(*) FROM "Sales".audit_log) || ',' || (SELECT count(*) FROM public.keep)"#,
        )
    };
    assert_eq!(counts(), "200,750,121,11");
    // Idempotent: the second run inserts nothing.
    let o = run_printed(apply, &work, &cluster, &vars);
    assert!(o.status.success(), "second run: {}", text(&o));
    assert_eq!(counts(), "200,750,121,11");
    // The identity sequence was moved past the restored ids: a new row does not collide.
    cluster.psql(
        &db,
        r#"INSERT INTO "Sales"."Invoices" (customer_id) VALUES (1)"#,
    );
    cluster.psql(&db, r#"DELETE FROM "Sales"."Invoices" WHERE id > 750"#);
    cluster.flush_stats(&db);

    let check = step(plan, "Check");
    let o = run_printed(check, &work, &cluster, &vars);
    assert!(o.status.success(), "{check}: {}", text(&o));

    // The hand-made recipe, run as printed by the server's OS user.
    let manual = step(plan, "Or by hand");
    let pitr_dir = cluster.dir.join("pitr-by-hand");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().map(|a| a.port()).unwrap_or(54329)
    };
    let pitr_s = pitr_dir.display().to_string();
    let port_s = port.to_string();
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--", "env"])
        .arg(format!("PATH={}", path_env(&cluster)))
        .arg(format!("BASE_BACKUP={base_s}"))
        .arg(format!("PITR_DIR={pitr_s}"))
        .arg(format!("PITR_PORT={port_s}"))
        .args(["sh", "-c", manual])
        .current_dir("/tmp")
        .stdin(Stdio::null());
    let o = c.output().expect("manual recipe");
    let stop = || {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(cluster.bindir.join("pg_ctl"))
            .arg("-D")
            .arg(&pitr_dir)
            .args(["-m", "immediate", "stop"])
            .output();
    };
    if !o.status.success() {
        stop();
        panic!("{manual}: {}", text(&o));
    }
    let out_text = String::from_utf8_lossy(&o.stdout).to_string();
    stop();
    assert!(
        out_text.contains(" t "),
        "the copy is still in recovery, paused: {out_text}"
    );
}

/// DELETE of some rows and a DROP + re-create, with a dump taken before: the printed
/// `recover --dump` command, restore.sql, verify.
#[test]
fn dump_plan_runs_as_printed_and_brings_the_rows_back() {
    let cluster = PgCluster::start(ClusterOptions::default());
    let db = cluster.fresh_database("dump");
    cluster.psql_script(
        &db,
        r#"CREATE SCHEMA app;
           CREATE TABLE app."Orders" (id int PRIMARY KEY, status text);
           CREATE TABLE app.comments (id serial PRIMARY KEY, body text);
           INSERT INTO app."Orders" SELECT g, 'open' FROM generate_series(1, 400) g;
           INSERT INTO app.comments (body) SELECT 'c' || g FROM generate_series(1, 300) g;"#,
        false,
    );
    cluster.flush_stats(&db);
    cluster.psql(&db, "VACUUM ANALYZE");
    let work = workdir(&cluster, "work-dump");
    let dump = work.join("before.dump");
    let o = cluster
        .server_tool("pg_dump")
        .args(["-Fc", "-h"])
        .arg(&cluster.dir)
        .args([
            "-p",
            &cluster.port.to_string(),
            "-U",
            "postgres",
            "-d",
            &db,
            "-f",
        ])
        .arg(cluster.dir.join("before.dump"))
        .output()
        .expect("pg_dump");
    assert!(o.status.success(), "pg_dump: {}", text(&o));
    std::fs::rename(cluster.dir.join("before.dump"), &dump).expect("move dump");
    collect(&cluster, &db, &work, "baseline.json", &[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    cluster.psql_script(
        &db,
        r#"SET application_name = 'janitor';
           DELETE FROM app."Orders" WHERE id > 250;
           DROP TABLE app.comments;
           CREATE TABLE app.comments (id serial PRIMARY KEY, body text);
           INSERT INTO app.comments (body) VALUES ('new after the drop');"#,
        false,
    );
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
    let report = report_json(&work, "evidence.json");
    let plans = report["recovery"].as_array().expect("recovery[]");
    assert!(!plans.is_empty(), "{report:#}");
    let dump_s = dump.display().to_string();
    let vars = [("EVIDENCE", "evidence.json"), ("DUMP", dump_s.as_str())];
    for plan in plans {
        let id = plan["id"].as_u64().unwrap_or(0);
        let rehearse = step(
            plan,
            if plan["restore_from"] == "pitr" {
                "Or from a dump"
            } else {
                "Extract"
            },
        );
        let o = run_printed(rehearse, &work, &cluster, &vars);
        assert!(o.status.success(), "plan {id}: {rehearse}: {}", text(&o));
        let apply = step(plan, "Put back");
        let o = run_printed(apply, &work, &cluster, &vars);
        let script = std::fs::read_to_string(work.join(format!("recovered-plan-{id}/restore.sql")))
            .unwrap_or_default();
        let statements: Vec<&str> = script
            .lines()
            .filter(|l| l.starts_with("INSERT") || l.starts_with("SELECT setval"))
            .collect();
        assert!(
            o.status.success(),
            "plan {id}: {apply}: {}\n{statements:#?}",
            text(&o)
        );
        let o = run_printed(apply, &work, &cluster, &vars);
        assert!(o.status.success(), "plan {id} again: {}", text(&o));
    }
    assert_eq!(
        cluster.psql(&db, r#"SELECT count(*) FROM app."Orders""#),
        "400"
    );
    // The re-created table's serial restarted: its new row took id 1, so the old row 1 is
    // skipped (never overwritten) and the other 299 come back beside it.
    assert_eq!(
        cluster.psql(&db, "SELECT count(*) FROM app.comments"),
        "300"
    );
    assert_eq!(
        cluster.psql(&db, "SELECT body FROM app.comments WHERE id = 1"),
        "new after the drop"
    );
    assert_eq!(
        cluster.psql(&db, "SELECT body FROM app.comments WHERE id = 300"),
        "c300"
    );
    cluster.psql(
        &db,
        "INSERT INTO app.comments (body) VALUES ('serial moved on')",
    );
    cluster.psql(
        &db,
        "DELETE FROM app.comments WHERE body = 'serial moved on'",
    );
    cluster.flush_stats(&db);
    let check = step(&plans[0], "Check");
    let o = run_printed(check, &work, &cluster, &vars);
    assert!(o.status.success(), "{check}: {}", text(&o));
}

/// Each bad input: exit 2 and one line saying what to do; nothing left behind.
#[test]
fn bad_inputs_exit_2_with_one_line() {
    let cluster = PgCluster::start(ClusterOptions::default());
    let db = cluster.fresh_database("bad");
    cluster.psql_script(
        &db,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);",
        false,
    );
    cluster.flush_stats(&db);
    let base = cluster.base_backup();
    let work = workdir(&cluster, "work-bad");
    collect(&cluster, &db, &work, "baseline.json", &[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    cluster.psql(&db, "TRUNCATE t");
    cluster.flush_stats(&db);
    cluster.archive_everything();
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
    let archive = cluster.archive_dir().display().to_string();
    let base_s = base.display().to_string();
    let expect_2 = |args: &[&str], needle: &str| {
        let o = pgtriage(&work, args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    };
    // --out not empty.
    std::fs::create_dir_all(work.join("full")).expect("mkdir");
    std::fs::write(work.join("full/x"), "x").expect("write");
    expect_2(
        &[
            "recover",
            "evidence.json",
            "--base-backup",
            &base_s,
            "--wal-archive",
            &archive,
            "--out",
            "full",
        ],
        "not empty",
    );
    // A base backup of another major version.
    let other = work.join("other-version");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("PG_VERSION"), "11\n").expect("write");
    expect_2(
        &[
            "recover",
            "evidence.json",
            "--base-backup",
            &other.display().to_string(),
            "--wal-archive",
            &archive,
            "--out",
            "o1",
        ],
        "PostgreSQL 11",
    );
    // A plain base backup without --wal-archive: it carries no restore_command to use.
    expect_2(
        &[
            "recover",
            "evidence.json",
            "--base-backup",
            &base_s,
            "--out",
            "o-no-archive",
        ],
        "no restore_command",
    );
    // Not a dump.
    std::fs::write(work.join("not.dump"), "hello").expect("write");
    expect_2(
        &[
            "recover",
            "evidence.json",
            "--dump",
            "not.dump",
            "--out",
            "o2",
        ],
        "not a pg_dump",
    );
    // A WAL archive missing the segments after the backup: named, and the target not reached.
    let partial = work.join("partial-archive");
    std::fs::create_dir_all(&partial).expect("mkdir");
    let mut segments: Vec<_> = std::fs::read_dir(cluster.archive_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.len() == 24)
        .collect();
    segments.sort();
    let backup_label = std::fs::read_to_string(base.join("backup_label")).unwrap_or_default();
    let start_seg = backup_label
        .lines()
        .find_map(|l| l.split("(file ").nth(1))
        .map(|s| s.trim_end_matches(')').to_string())
        .unwrap_or_default();
    // Keep only up to the backup's start segment: replay runs out right after it.
    for s in segments.iter().filter(|s| **s <= start_seg) {
        std::fs::copy(cluster.archive_dir().join(s), partial.join(s)).expect("copy segment");
    }
    let o = pgtriage(
        &work,
        &[
            "recover",
            "evidence.json",
            "--base-backup",
            &base_s,
            "--wal-archive",
            &partial.display().to_string(),
            "--out",
            "o3",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        err.contains("is missing") || err.contains("does not reach"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    // Ctrl-C while the scratch server runs: it is stopped and its directory removed.
    let scratch = work.join("scratch");
    std::fs::create_dir_all(&scratch).expect("mkdir");
    let mut child = Command::new(bin())
        .current_dir(&work)
        .args([
            "recover",
            "evidence.json",
            "--base-backup",
            &base_s,
            "--wal-archive",
            &archive,
            "--out",
            "o4",
            "--scratch",
            "scratch",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn recover");
    let started = std::time::Instant::now();
    let running = loop {
        let pid_file = std::fs::read_dir(&scratch)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.path().join("data/postmaster.pid").exists());
        if pid_file || started.elapsed() > std::time::Duration::from_secs(30) {
            break pid_file;
        }
        if let Ok(Some(_)) = child.try_wait() {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_dir(&scratch).map(|d| d.count()).unwrap_or(0) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the scratch directory outlived Ctrl-C: {:?}",
            std::fs::read_dir(&scratch).map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(running, "the scratch server never started before Ctrl-C");
}

/// Incident 13's shape: pg_dump, more orders, dropdb, createdb, pg_restore of the old dump.
/// The dump lacks the last orders; the plan recovers them from the base backup + WAL archive to
/// just before DROP DATABASE, through the report's printed commands.
#[test]
fn dump_restore_incident_gets_the_writes_the_dump_lacked() {
    let cluster = PgCluster::start(ClusterOptions::default());
    cluster.psql("postgres", "CREATE DATABASE shop");
    cluster.psql_script(
        "shop",
        "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
         CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), total numeric(10,2) NOT NULL);
         INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 300) g;
         INSERT INTO orders SELECT g, 1 + g % 300, 1.5 FROM generate_series(1, 1000) g;",
        false,
    );
    cluster.flush_stats("shop");
    cluster.psql("shop", "VACUUM ANALYZE");
    let base = cluster.base_backup();
    let work = workdir(&cluster, "work-13");
    let dump = cluster.dir.join("shop.dump");
    let o = cluster
        .server_tool("pg_dump")
        .args(["-Fc", "-h"])
        .arg(&cluster.dir)
        .args([
            "-p",
            &cluster.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "shop",
            "-f",
        ])
        .arg(&dump)
        .output()
        .expect("pg_dump");
    assert!(o.status.success(), "pg_dump: {}", text(&o));
    cluster.psql(
        "shop",
        "INSERT INTO orders SELECT g, 1 + g % 300, 15 FROM generate_series(1001, 1100) g",
    );
    cluster.flush_stats("shop");
    collect(&cluster, "shop", &work, "baseline.json", &[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    cluster.psql("postgres", "DROP DATABASE shop");
    cluster.psql("postgres", "CREATE DATABASE shop");
    let o = cluster
        .server_tool("pg_restore")
        .args(["-h"])
        .arg(&cluster.dir)
        .args([
            "-p",
            &cluster.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "shop",
        ])
        .arg(&dump)
        .output()
        .expect("pg_restore");
    assert!(o.status.success(), "pg_restore: {}", text(&o));
    cluster.flush_stats("shop");
    cluster.archive_everything();
    let log = cluster.log_dir().join("postgresql.log");
    collect(
        &cluster,
        "shop",
        &work,
        "evidence.json",
        &[
            "--log",
            &log.display().to_string(),
            "--baseline",
            "baseline.json",
        ],
    );
    let report = report_json(&work, "evidence.json");
    let plans = report["recovery"].as_array().expect("recovery[]");
    let plan = plans
        .iter()
        .find(|p| p["kind"] == "restore")
        .unwrap_or_else(|| panic!("a plan for the restore: {plans:#?}"));
    assert_eq!(
        plan["restore_from"], "pitr",
        "archiving is on: PITR, not the dump that lacks the rows"
    );
    let base_s = base.display().to_string();
    let vars = [
        ("EVIDENCE", "evidence.json"),
        ("BASE_BACKUP", base_s.as_str()),
    ];
    let rehearse = step(plan, "Rehearse");
    let o = run_printed(rehearse, &work, &cluster, &vars);
    assert!(o.status.success(), "{rehearse}: {}", text(&o));
    let apply = step(plan, "Put back");
    let o = run_printed(apply, &work, &cluster, &vars);
    assert!(o.status.success(), "{apply}: {}", text(&o));
    assert_eq!(cluster.psql("shop", "SELECT count(*) FROM orders"), "1100");
    let check = step(plan, "Check");
    let o = run_printed(check, &work, &cluster, &vars);
    assert!(o.status.success(), "{check}: {}", text(&o));
}
