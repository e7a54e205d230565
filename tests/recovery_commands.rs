//! The immediate actions the report prints for a loss, run as printed against a real server:
//! stop the writer (pg_terminate_backend of its session, ALTER ROLE … NOLOGIN), turn autovacuum
//! off for a table whose deleted rows are still on disk, read those rows with pg_dirtyread (the
//! column list built from the catalog, a dropped column included), and the verify command.
//! Then a restore that switched timelines (incident 05's shape): the plan replays the old
//! timeline from the old primary's archive and brings back the writes the restore lost.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{ClusterOptions, PgCluster};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pgtriage")
}

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

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
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

fn run_sh(cmd: &str, cwd: &Path, cluster: &PgCluster, vars: &[(&str, &str)]) -> Output {
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

/// Runs printed SQL in psql against `db`, as a user pastes it.
fn run_sql(cluster: &PgCluster, db: &str, sql: &str) -> Output {
    let mut child = Command::new(cluster.bindir.join("psql"))
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-d", &cluster.url(db)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(sql.as_bytes());
    }
    child.wait_with_output().expect("psql output")
}

fn collect(cluster: &PgCluster, db: &str, cwd: &Path, out: &str, extra: &[&str]) {
    let url = cluster.url(db);
    let mut args = vec!["collect", "--db", url.as_str(), "-o", out];
    args.extend_from_slice(extra);
    let o = pgtriage(cwd, &args);
    assert!(o.status.success(), "collect: {}", text(&o));
}

fn report_json(cwd: &Path) -> Value {
    let o = pgtriage(cwd, &["report", "evidence.json", "--format", "json"]);
    assert!(o.status.success(), "report: {}", text(&o));
    serde_json::from_slice(&o.stdout).expect("report JSON")
}

fn action<'a>(report: &'a Value, prefix: &str) -> &'a str {
    report["immediate_actions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["title"].as_str().unwrap_or("").starts_with(prefix))
        .and_then(|a| a["command"].as_str())
        .unwrap_or_else(|| panic!("no action {prefix:?}: {:#}", report["immediate_actions"]))
}

/// A janitor role DELETEs most rows of a table (a column dropped earlier), keeps its session
/// open, and the report's immediate actions are run as printed.
#[test]
fn immediate_actions_run_as_printed() {
    // The server's autovacuum settings and the table's reloptions (its own threshold and scale
    // factor) are what the time-left estimate uses, not PostgreSQL's defaults.
    let cluster = PgCluster::start(ClusterOptions {
        extra_conf: vec![
            "autovacuum_naptime = 17".into(),
            "autovacuum_freeze_max_age = 150000000".into(),
        ],
        archive: true,
    });
    let db = cluster.fresh_database("actions");
    cluster.psql(&db, "CREATE ROLE janitor LOGIN");
    cluster.psql_script(
        &db,
        r#"CREATE TABLE public."Flows" (id int PRIMARY KEY, legacy int, status text, payload jsonb)
               WITH (autovacuum_enabled = false, autovacuum_vacuum_threshold = 7,
                     autovacuum_vacuum_scale_factor = 0.01, toast.autovacuum_enabled = false);
           INSERT INTO public."Flows" SELECT g, g, CASE WHEN g % 4 = 0 THEN 'done' END, '{"a": 1}' FROM generate_series(1, 400) g;
           ALTER TABLE public."Flows" DROP COLUMN legacy;
           GRANT SELECT, DELETE ON public."Flows" TO janitor;"#,
        false,
    );
    cluster.flush_stats(&db);
    cluster.psql(&db, "ANALYZE");
    let work = cluster.dir.join("work-actions");
    std::fs::create_dir_all(&work).expect("workdir");
    collect(&cluster, &db, &work, "baseline.json", &[]);
    std::thread::sleep(Duration::from_millis(300));
    // The janitor's session stays connected after its DELETE.
    let mut janitor = Command::new(cluster.bindir.join("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg("-d")
        .arg(format!(
            "postgresql:///{db}?host={}&port={}&user=janitor&application_name=flow-janitor",
            cluster.dir.display(),
            cluster.port
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("janitor psql");
    let mut stdin = janitor.stdin.take().expect("stdin");
    stdin
        .write_all(
            b"DELETE FROM public.\"Flows\" WHERE status IS NULL;\nSELECT pg_stat_force_next_flush();\nSELECT 1;\n",
        )
        .expect("write");
    stdin.flush().expect("flush");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // Waits on the statistics, never on the table: a read of its pages would prune (HOT) the
    // very dead rows the test reads back later.
    while cluster.psql(
        &db,
        r#"SELECT coalesce(n_tup_del, 0) FROM pg_stat_user_tables WHERE relname = 'Flows'"#,
    ) != "300"
    {
        assert!(std::time::Instant::now() < deadline, "the DELETE never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
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
    let evidence: Value = serde_json::from_str(
        &std::fs::read_to_string(work.join("evidence.json")).expect("evidence"),
    )
    .expect("evidence JSON");
    assert_eq!(
        evidence["database"]["settings"]["autovacuum_naptime"], "17",
        "{:#}",
        evidence["database"]["settings"]
    );
    let flows = evidence["database"]["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == "Flows")
        .expect("Flows in the evidence");
    let reloptions = flows["reloptions"].to_string();
    for o in [
        "autovacuum_enabled=false",
        "autovacuum_vacuum_threshold=7",
        "autovacuum_vacuum_scale_factor=0.01",
        "toast.autovacuum_enabled=false",
    ] {
        assert!(reloptions.contains(o), "{o} in {reloptions}");
    }
    let why = report["immediate_actions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| {
            a["title"]
                .as_str()
                .unwrap_or("")
                .starts_with("Turn autovacuum off")
        })
        .and_then(|a| a["why"].as_str())
        .unwrap_or("")
        .to_string();
    // 7 + 0.01 × 400 = 11 dead rows trigger it: the 300 deleted rows are past it.
    assert!(why.contains("(7 + 0.01 × reltuples 400 = 11)"), "{why}");
    assert!(why.contains("autovacuum_naptime = 17s"), "{why}");
    assert!(why.contains("toast.autovacuum_enabled = false"), "{why}");
    assert!(
        why.contains("autovacuum_freeze_max_age = 150000000"),
        "{why}"
    );
    assert!(!why.contains("PostgreSQL's defaults"), "{why}");

    // Stop the writer: its session ends, the role can no longer log in.
    let stop = action(&report, "Stop flow-janitor");
    assert!(stop.contains("ALTER ROLE janitor NOLOGIN;"), "{stop}");
    let o = run_sql(&cluster, &db, stop);
    assert!(o.status.success(), "{stop}: {}", text(&o));
    // psql notices only when it next reads its stdin: ask the server instead.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while cluster.psql(
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'janitor'",
    ) != "0"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the janitor's session was not terminated"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        cluster.psql(
            "postgres",
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'janitor'"
        ),
        "f"
    );
    drop(stdin);
    janitor.wait_timeout_or_kill(Duration::from_secs(5));

    // Autovacuum off, table and TOAST.
    let off = action(&report, "Turn autovacuum off");
    let o = run_sql(&cluster, &db, off);
    assert!(o.status.success(), "{off}: {}", text(&o));
    let opts = cluster.psql(
        &db,
        r#"SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = 'public."Flows"'::regclass"#,
    );
    assert!(opts.contains("autovacuum_enabled=false"), "{opts}");
    let toast = cluster.psql(
        &db,
        r#"SELECT array_to_string(t.reloptions, ',') FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = 'public."Flows"'::regclass"#,
    );
    assert!(toast.contains("autovacuum_enabled=false"), "{toast}");

    // pg_dirtyread: the printed shell command returns the 300 deleted rows, dropped column too.
    let read = action(&report, "Read the deleted rows");
    let o = run_sh(read, &work, &cluster, &[]);
    assert!(o.status.success(), "{read}: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("(300 rows)"), "{out}");
    assert!(
        out.contains("dropped_2"),
        "the dropped column is read: {out}"
    );

    // The printed verify command parses (a socket directory in the URL) and, the rows being
    // gone, fails with exit 1 — not 2.
    let verify = report["verification"]["command"]
        .as_str()
        .expect("verify command");
    let o = run_sh(verify, &work, &cluster, &[]);
    assert_eq!(o.status.code(), Some(1), "{verify}: {}", text(&o));
}

/// A DELETE that cascades to two child tables: the actions for the three tables' dead rows are
/// one ALTER block and one pg_dirtyread session, and both run as printed — autovacuum off on
/// each table and its TOAST table, and every table's deleted rows read back.
#[test]
fn a_cascades_dead_rows_are_one_autovacuum_block_and_one_dirtyread_session_run_as_printed() {
    let cluster = PgCluster::start(ClusterOptions {
        extra_conf: vec![],
        archive: true,
    });
    let db = cluster.fresh_database("cascade_actions");
    cluster.psql_script(
        &db,
        r#"CREATE TABLE tenants (id int PRIMARY KEY, name text);
           CREATE TABLE projects (id int PRIMARY KEY, tenant_id int REFERENCES tenants ON DELETE CASCADE, name text);
           CREATE TABLE tasks (id int PRIMARY KEY, project_id int REFERENCES projects ON DELETE CASCADE, title text);
           INSERT INTO tenants SELECT g, 'tenant ' || g FROM generate_series(1, 10) g;
           INSERT INTO projects SELECT g, 1 + (g - 1) % 10, 'project ' || g FROM generate_series(1, 50) g;
           INSERT INTO tasks SELECT g, 1 + (g - 1) % 50, 'task ' || g FROM generate_series(1, 500) g;"#,
        false,
    );
    cluster.flush_stats(&db);
    cluster.psql(&db, "ANALYZE");
    let work = cluster.dir.join("work-cascade-actions");
    std::fs::create_dir_all(&work).expect("workdir");
    collect(&cluster, &db, &work, "baseline.json", &[]);
    std::thread::sleep(Duration::from_millis(300));
    // Tenant 3 owns projects 3, 13, 23, 33, 43 and their 50 tasks.
    cluster.psql(&db, "DELETE FROM tenants WHERE id = 3");
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
    let titles: Vec<&str> = report["immediate_actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["title"].as_str())
        .collect();
    let off_titles: Vec<&&str> = titles
        .iter()
        .filter(|t| t.starts_with("Turn autovacuum off"))
        .collect();
    assert_eq!(off_titles.len(), 1, "{titles:#?}");
    for table in ["public.tenants", "public.projects", "public.tasks"] {
        assert!(off_titles[0].contains(table), "{titles:#?}");
    }

    let off = action(&report, "Turn autovacuum off");
    assert_eq!(off.lines().count(), 3, "{off}");
    let o = run_sql(&cluster, &db, off);
    assert!(o.status.success(), "{off}: {}", text(&o));
    for table in ["tenants", "projects", "tasks"] {
        let opts = cluster.psql(
            &db,
            &format!(
                "SELECT array_to_string(c.reloptions, ',') || ' ' || array_to_string(t.reloptions, ',') FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = 'public.{table}'::regclass"
            ),
        );
        assert_eq!(
            opts, "autovacuum_enabled=false autovacuum_enabled=false",
            "{table}"
        );
    }

    let read = action(&report, "Read the deleted rows");
    assert_eq!(read.matches("CREATE EXTENSION").count(), 1, "{read}");
    let o = run_sh(read, &work, &cluster, &[]);
    assert!(o.status.success(), "{read}: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // One result per table, each with its own columns. Rows the foreign-key checks locked carry
    // a locker's xmax too (the action says so); the deleted ones carry the DELETE's: tenant 3,
    // its 5 projects and their 50 tasks.
    for column in ["name", "tenant_id", "project_id", "title"] {
        assert!(out.contains(column), "{column}: {out}");
    }
    let xmax_of = |line: &str| line.split('|').next().unwrap_or("").trim().to_string();
    let delete_xmax = out
        .lines()
        .find(|l| l.trim_end().ends_with("| tenant 3"))
        .map(xmax_of)
        .unwrap_or_else(|| panic!("tenant 3 not read back: {out}"));
    let deleted: Vec<&str> = out
        .lines()
        .filter(|l| l.contains('|') && xmax_of(l) == delete_xmax)
        .collect();
    assert_eq!(deleted.len(), 1 + 5 + 50, "{out}");
    for name in ["| project 3", "| project 43", "| task 3", "| task 453"] {
        assert!(
            deleted.iter().any(|l| l.trim_end().ends_with(name)),
            "{name}: {out}"
        );
    }
}

trait WaitTimeout {
    fn wait_timeout_or_kill(&mut self, timeout: Duration) -> bool;
}

impl WaitTimeout for std::process::Child {
    /// Waits for the child to exit on its own; kills it after `timeout` (returns false then).
    fn wait_timeout_or_kill(&mut self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.kill();
        let _ = self.wait();
        false
    }
}

/// Incident 05's shape: the primary is restored to before a bad UPDATE (timeline 2); the 300
/// orders placed after it are only in timeline 1's WAL. The plan replays timeline 1 from the
/// old primary's archive; restore.sql puts back only the missing orders.
#[test]
fn a_restore_that_switched_timelines_gets_its_lost_writes_back() {
    let mut primary = PgCluster::start(ClusterOptions::default());
    primary.psql("postgres", "CREATE DATABASE shop");
    primary.psql_script(
        "shop",
        "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL DEFAULT 'open');
         INSERT INTO orders (id) SELECT g FROM generate_series(1, 1000) g;",
        false,
    );
    primary.flush_stats("shop");
    primary.psql("shop", "VACUUM ANALYZE");
    let base = primary.base_backup();
    primary.psql(
        "shop",
        "INSERT INTO orders (id) SELECT g FROM generate_series(1001, 1200) g",
    );
    std::thread::sleep(Duration::from_millis(1100));
    let target = primary.psql(
        "shop",
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'",
    );
    std::thread::sleep(Duration::from_millis(1100));
    primary.psql("shop", "UPDATE orders SET status = 'cancelled'");
    primary.psql(
        "shop",
        "INSERT INTO orders (id) SELECT g FROM generate_series(1201, 1500) g",
    );
    primary.flush_stats("shop");
    let work = primary.dir.join("work-05");
    std::fs::create_dir_all(&work).expect("workdir");
    collect(&primary, "shop", &work, "baseline.json", &[]);
    primary.archive_everything();
    primary.stop_server("fast");
    let old_archive = primary.archive_dir();

    let restored_archive = primary.dir.join("restored-archive");
    std::fs::create_dir_all(&restored_archive).expect("archive dir");
    let _ = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(&restored_archive)
        .output();
    let restored = PgCluster::start_from_base_backup(
        &base,
        &[
            format!("restore_command = 'cp {}/%f %p'", old_archive.display()),
            format!("recovery_target_time = '{target}'"),
            "recovery_target_action = 'promote'".into(),
            "archive_mode = on".into(),
            format!(
                "archive_command = 'test ! -f {a}/%f && cp %p {a}/%f'",
                a = restored_archive.display()
            ),
        ],
        true,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while restored.psql("postgres", "SELECT pg_is_in_recovery()") != "f" {
        assert!(std::time::Instant::now() < deadline, "never promoted");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(restored.psql("shop", "SELECT count(*) FROM orders"), "1200");
    restored.flush_stats("shop");
    let log = restored.log_dir().join("postgresql.log");
    collect(
        &restored,
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
    let report = report_json(&work);
    assert!(
        report["immediate_actions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["title"]
                .as_str()
                .unwrap_or("")
                .starts_with("Keep the old primary")),
        "{:#}",
        report["immediate_actions"]
    );
    let plans = report["recovery"].as_array().expect("recovery[]");
    let plan = plans
        .iter()
        .find(|p| p["kind"] == "restore")
        .unwrap_or_else(|| panic!("a plan for the restore: {plans:#?}"));
    assert_eq!(plan["target"]["timeline"], "1", "{plan:#}");
    let step = |prefix: &str| -> String {
        plan["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["title"].as_str().unwrap_or("").starts_with(prefix))
            .and_then(|s| s["command"].as_str())
            .unwrap_or_else(|| panic!("no step {prefix}: {plan:#}"))
            .to_string()
    };
    let base_s = base.display().to_string();
    let old_s = old_archive.display().to_string();
    let vars = [
        ("EVIDENCE", "evidence.json"),
        ("BASE_BACKUP", base_s.as_str()),
        ("OLD_WAL_ARCHIVE", old_s.as_str()),
    ];
    for prefix in ["Rehearse", "Put back", "Check"] {
        let cmd = step(prefix);
        let o = run_sh(&cmd, &work, &restored, &vars);
        assert!(o.status.success(), "{cmd}: {}", text(&o));
    }
    assert_eq!(restored.psql("shop", "SELECT count(*) FROM orders"), "1500");

    // The by-hand recipe for the old timeline, run as printed by the server's OS user: a copy
    // of the base backup replays timeline 1 from the old primary's archive to its end.
    let manual = step("Or by hand");
    let pitr_dir = primary.dir.join("pitr-old-timeline");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--", "env"])
        .arg(format!("PATH={}", path_env(&restored)))
        .arg(format!("BASE_BACKUP={base_s}"))
        .arg(format!("OLD_WAL_ARCHIVE={old_s}"))
        .arg(format!("PITR_DIR={}", pitr_dir.display()))
        .arg(format!("PITR_PORT={port}"))
        .args(["sh", "-c", &manual])
        .current_dir("/tmp")
        .stdin(Stdio::null());
    let o = c.output().expect("manual recipe");
    // pg_ctl -w returns once the copy accepts connections; replay may still be going on.
    let count_copy = || {
        Command::new(restored.bindir.join("psql"))
            .args(["-X", "-A", "-t", "-d"])
            .arg(format!(
                "postgresql:///shop?host={}&port={port}&user=postgres",
                pitr_dir.display()
            ))
            .args(["-c", "SELECT count(*) FROM orders"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut copy_count = count_copy();
    while o.status.success() && copy_count != "1500" && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        copy_count = count_copy();
    }
    let _ = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(restored.bindir.join("pg_ctl"))
        .arg("-D")
        .arg(&pitr_dir)
        .args(["-m", "immediate", "-w", "stop"])
        .output();
    assert!(o.status.success(), "{manual}: {}", text(&o));
    assert_eq!(copy_count, "1500", "timeline 1 replayed to its end");
    // Only the missing rows came back: the restored rows kept their (pre-UPDATE) status.
    assert_eq!(
        restored.psql("shop", "SELECT count(*) FROM orders WHERE status = 'open'"),
        "1500"
    );
}

/// Two scripts of one role empty a table each and keep their sessions open; a third
/// application of the same role only reads. The stop action is one line for both scripts
/// (`application_name IN (…)`), run as printed: both sessions end, the reader's does not, and
/// the role is not blocked (the log shows the reader logging in with it).
#[test]
fn one_stop_line_ends_every_script_of_the_role_and_spares_its_other_applications() {
    let cluster = PgCluster::start(ClusterOptions::default());
    let db = cluster.fresh_database("stop_role");
    cluster.psql(&db, "CREATE ROLE cleaner LOGIN");
    cluster.psql_script(
        &db,
        "CREATE TABLE public.jobs (id int PRIMARY KEY);
         CREATE TABLE public.events (id int PRIMARY KEY);
         INSERT INTO public.jobs SELECT generate_series(1, 50);
         INSERT INTO public.events SELECT generate_series(1, 70);
         GRANT SELECT, DELETE ON public.jobs, public.events TO cleaner;",
        false,
    );
    cluster.flush_stats(&db);
    let work = cluster.dir.join("work-stop-role");
    std::fs::create_dir_all(&work).expect("workdir");
    collect(&cluster, &db, &work, "baseline.json", &[]);
    let session = |app: &str, sql: &str| {
        let mut child = Command::new(cluster.bindir.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .arg("-d")
            .arg(format!(
                "postgresql:///{db}?host={}&port={}&user=cleaner&application_name={app}",
                cluster.dir.display(),
                cluster.port
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(sql.as_bytes()).expect("write");
        stdin.flush().expect("flush");
        (child, stdin)
    };
    let purge = session(
        "nightly-purge",
        "DELETE FROM public.jobs;\nSELECT pg_stat_force_next_flush();\n",
    );
    let reset = session(
        "reset-script",
        "DELETE FROM public.events;\nSELECT pg_stat_force_next_flush();\n",
    );
    let reader = session("dashboard", "SELECT count(*) FROM public.jobs;\n");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while cluster.psql(
        &db,
        "SELECT sum(n_tup_del) FROM pg_stat_user_tables WHERE relname IN ('jobs', 'events')",
    ) != "120"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the DELETEs never ran"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
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
    let stop = action(&report, "Stop ");
    assert_eq!(
        stop.matches("pg_terminate_backend").count(),
        1,
        "one line for the role: {stop}"
    );
    assert!(
        stop.contains("application_name IN ('nightly-purge', 'reset-script')")
            || stop.contains("application_name IN ('reset-script', 'nightly-purge')"),
        "{stop}"
    );
    assert!(
        !stop.contains("ALTER ROLE"),
        "the reader uses the role too: {stop}"
    );
    let o = run_sql(&cluster, &db, stop);
    assert!(o.status.success(), "{stop}: {}", text(&o));
    let apps = "SELECT string_agg(application_name, ',' ORDER BY application_name) FROM pg_stat_activity WHERE usename = 'cleaner'";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while cluster.psql("postgres", apps) != "dashboard" {
        assert!(
            std::time::Instant::now() < deadline,
            "the scripts' sessions were not ended, or the reader's was: {}",
            cluster.psql("postgres", apps)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for (mut child, stdin) in [purge, reset, reader] {
        drop(stdin);
        child.wait_timeout_or_kill(Duration::from_secs(5));
    }
}
