//! Two shapes `pgtriage recover` used to leave to the user: a lost table the live database no
//! longer has (DROP TABLE, not re-created), which restore.sql now creates from the recovered
//! copy's definition inside its own transaction; and a cluster whose superuser is not
//! `postgres` (`initdb -U dba`), whose base backup the scratch server reaches through the
//! evidence's role and then its bootstrap superuser. Both run the report's printed commands as
//! printed and end with `pgtriage verify`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{ClusterOptions, PgCluster};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pgtriage")
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

fn run_printed(cmd: &str, cwd: &Path, bindir: &Path, vars: &[(&str, &str)]) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c").arg(cmd).current_dir(cwd).env(
        "PATH",
        format!(
            "{}:{}:/usr/bin:/bin",
            bin()
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            bindir.display()
        ),
    );
    for (k, v) in vars {
        c.env(k, v);
    }
    c.stdin(Stdio::null()).output().expect("sh -c")
}

fn step(plan: &Value, prefix: &str) -> String {
    plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["title"].as_str().unwrap_or("").starts_with(prefix))
        .and_then(|s| s["command"].as_str())
        .unwrap_or_else(|| panic!("no step {prefix:?} in {plan:#}"))
        .to_string()
}

fn report_json(cwd: &Path) -> Value {
    let o = pgtriage(cwd, &["report", "evidence.json", "--format", "json"]);
    assert!(o.status.success(), "report: {}", text(&o));
    serde_json::from_slice(&o.stdout).expect("report JSON")
}

/// DROP TABLE of a table with a serial key, a foreign key to a table that stays and an index,
/// in a mixed-case schema, not re-created; a dump from before. The printed `recover --dump`,
/// restore.sql (which creates the table first, in its transaction, and is idempotent), verify.
#[test]
fn a_dropped_table_that_was_not_re_created_is_created_by_restore_sql() {
    let cluster = PgCluster::start(ClusterOptions::default());
    let db = cluster.fresh_database("dropped");
    cluster.psql_script(
        &db,
        r#"CREATE SCHEMA "Ops";
           CREATE TABLE "Ops".teams (id int PRIMARY KEY, name text);
           INSERT INTO "Ops".teams SELECT g, 'team ' || g FROM generate_series(1, 5) g;
           CREATE TABLE "Ops"."Tasks" (id serial PRIMARY KEY, team_id int NOT NULL REFERENCES "Ops".teams(id),
               "Title" text NOT NULL, due date DEFAULT '2026-12-31');
           CREATE INDEX tasks_team ON "Ops"."Tasks" (team_id);
           INSERT INTO "Ops"."Tasks" (team_id, "Title") SELECT 1 + g % 5, 'task ' || g FROM generate_series(1, 240) g;"#,
        false,
    );
    cluster.flush_stats(&db);
    cluster.psql(&db, "ANALYZE");
    let work = cluster.dir.join("work-dropped");
    std::fs::create_dir_all(&work).expect("workdir");
    let dump = cluster.dir.join("before.dump");
    let o = cluster
        .server_tool("pg_dump")
        .args(["-Fc", "-f"])
        .arg(&dump)
        .arg("-d")
        .arg(cluster.url(&db))
        .output()
        .expect("pg_dump");
    assert!(o.status.success(), "pg_dump: {}", text(&o));
    let url = cluster.url(&db);
    let o = pgtriage(&work, &["collect", "--db", &url, "-o", "baseline.json"]);
    assert!(o.status.success(), "{}", text(&o));
    std::thread::sleep(Duration::from_millis(1100));
    cluster.psql(&db, r#"DROP TABLE "Ops"."Tasks""#);
    cluster.flush_stats(&db);
    let log = cluster.log_dir().join("postgresql.log");
    let log_s = log.display().to_string();
    let o = pgtriage(
        &work,
        &[
            "collect",
            "--db",
            &url,
            "--log",
            &log_s,
            "--baseline",
            "baseline.json",
            "-o",
            "evidence.json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let report = report_json(&work);
    let plans = report["recovery"].as_array().expect("recovery[]");
    let plan = plans
        .iter()
        .find(|p| {
            p["tables"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| t["table"] == "Ops.Tasks")
        })
        .unwrap_or_else(|| panic!("a plan for Ops.Tasks: {plans:#?}"));
    let dump_s = dump.display().to_string();
    let vars = [("EVIDENCE", "evidence.json"), ("DUMP", dump_s.as_str())];
    // "Extract the lost rows from a dump …", or "Or from a dump …" when PITR comes first.
    let extract = plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["title"].as_str().unwrap_or("").contains("from a dump"))
        .and_then(|s| s["command"].as_str())
        .unwrap_or_else(|| panic!("no dump step in {plan:#}"))
        .to_string();
    let o = run_printed(&extract, &work, &cluster.bindir, &vars);
    assert!(o.status.success(), "{extract}: {}", text(&o));
    let id = plan["id"].as_u64().unwrap_or(1);
    let script = std::fs::read_to_string(work.join(format!("recovered-plan-{id}/restore.sql")))
        .expect("restore.sql");
    assert!(script.contains("\\if :pgtriage_create_1"), "{script}");
    assert!(
        script.contains("CREATE TABLE \"Ops\".\"Tasks\""),
        "{script}"
    );
    let apply = step(plan, "Put back");
    for run in 1..=2 {
        let o = run_printed(&apply, &work, &cluster.bindir, &vars);
        assert!(o.status.success(), "run {run}: {apply}: {}", text(&o));
        assert_eq!(
            cluster.psql(&db, r#"SELECT count(*) FROM "Ops"."Tasks""#),
            "240",
            "run {run}"
        );
    }
    // The definition came back whole: the key, the foreign key, the index, the default, and a
    // serial that hands out the next free id.
    assert_eq!(
        cluster.psql(
            &db,
            r#"SELECT string_agg(contype::text, '' ORDER BY contype) FROM pg_constraint WHERE conrelid = '"Ops"."Tasks"'::regclass"#
        ),
        "fp"
    );
    assert_eq!(
        cluster.psql(
            &db,
            r#"SELECT count(*) FROM pg_indexes WHERE schemaname = 'Ops' AND indexname = 'tasks_team'"#
        ),
        "1"
    );
    assert_eq!(
        cluster.psql(
            &db,
            r#"INSERT INTO "Ops"."Tasks" (team_id, "Title") VALUES (2, 'new') RETURNING id::text || ' ' || due"#
        ),
        "241 2026-12-31"
    );
    cluster.psql(&db, r#"DELETE FROM "Ops"."Tasks" WHERE id = 241"#);
    cluster.flush_stats(&db);
    let check = step(plan, "Check");
    let o = run_printed(&check, &work, &cluster.bindir, &vars);
    assert!(o.status.success(), "{check}: {}", text(&o));
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A cluster `initdb -U dba` made (no `postgres` role), stopped and removed on drop.
struct DbaCluster {
    bindir: PathBuf,
    dir: PathBuf,
    data: PathBuf,
    port: u16,
}

impl DbaCluster {
    fn start() -> DbaCluster {
        let bindir = support::find_bindir();
        let dir = tempfile::Builder::new()
            .prefix("pgtriage-dba-")
            .tempdir()
            .expect("tempdir")
            .keep();
        std::fs::create_dir_all(dir.join("archive")).expect("archive");
        if is_root() {
            let _ = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .output();
            let _ = Command::new("chmod").arg("0755").arg(&dir).output();
        }
        let data = dir.join("data");
        let o = as_postgres(&bindir.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "dba",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .expect("initdb");
        assert!(o.status.success(), "initdb: {}", text(&o));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let conf = format!(
            "\nlisten_addresses = ''\nunix_socket_directories = '{d}'\nport = {port}\nfsync = off\nwal_level = replica\narchive_mode = on\narchive_command = 'test ! -f {d}/archive/%f && cp %p {d}/archive/%f'\nlogging_collector = on\nlog_directory = 'log'\nlog_filename = 'postgresql.log'\nlog_statement = 'all'\nlog_line_prefix = '%m [%p] %q%u@%d '\nlog_timezone = 'UTC'\ntimezone = 'UTC'\ntrack_commit_timestamp = on\n",
            d = dir.display()
        );
        let path = data.join("postgresql.conf");
        let mut text_conf = std::fs::read_to_string(&path).expect("conf");
        text_conf.push_str(&conf);
        std::fs::write(&path, text_conf).expect("conf");
        let cluster = DbaCluster {
            bindir,
            dir,
            data,
            port,
        };
        let o = as_postgres(&cluster.bindir.join("pg_ctl"))
            .arg("-D")
            .arg(&cluster.data)
            .args(["-w", "-l"])
            .arg(cluster.dir.join("startup.log"))
            .arg("start")
            .stdin(Stdio::null())
            .output()
            .expect("pg_ctl start");
        assert!(o.status.success(), "pg_ctl start: {}", text(&o));
        cluster
    }

    fn url(&self, db: &str) -> String {
        format!(
            "postgresql:///{db}?host={}&port={}&user=dba",
            self.dir.display(),
            self.port
        )
    }

    fn psql(&self, db: &str, sql: &str) -> String {
        let o = Command::new(self.bindir.join("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(db),
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        assert!(o.status.success(), "{sql}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
}

impl Drop for DbaCluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bindir.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PITR of a cluster whose only superuser is `dba`: the printed `pgtriage recover` reaches the
/// recovered copy as the evidence's role and its bootstrap superuser, not `postgres`.
#[test]
fn a_cluster_initialised_with_another_superuser_is_recovered() {
    let cluster = DbaCluster::start();
    assert_eq!(
        cluster.psql(
            "postgres",
            "SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'"
        ),
        "0"
    );
    cluster.psql("postgres", "CREATE DATABASE ledger");
    cluster.psql(
        "ledger",
        "CREATE TABLE entries (id int PRIMARY KEY, amount int); INSERT INTO entries SELECT g, g FROM generate_series(1, 400) g",
    );
    let base = cluster.dir.join("base");
    let o = as_postgres(&cluster.bindir.join("pg_basebackup"))
        .arg("-h")
        .arg(&cluster.dir)
        .args([
            "-p",
            &cluster.port.to_string(),
            "-U",
            "dba",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
            "-D",
        ])
        .arg(&base)
        .output()
        .expect("pg_basebackup");
    assert!(o.status.success(), "pg_basebackup: {}", text(&o));
    cluster.psql(
        "ledger",
        "INSERT INTO entries SELECT g, g FROM generate_series(401, 450) g",
    );
    cluster.psql("ledger", "SELECT pg_stat_force_next_flush()");
    std::thread::sleep(Duration::from_millis(1200));
    cluster.psql("ledger", "ANALYZE");
    let work = cluster.dir.join("work");
    std::fs::create_dir_all(&work).expect("work");
    let url = cluster.url("ledger");
    let o = pgtriage(&work, &["collect", "--db", &url, "-o", "baseline.json"]);
    assert!(o.status.success(), "{}", text(&o));
    std::thread::sleep(Duration::from_millis(1100));
    cluster.psql("ledger", "TRUNCATE entries");
    cluster.psql("ledger", "SELECT pg_stat_force_next_flush()");
    let segment = cluster.psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
    let start = Instant::now();
    while cluster.psql(
        "postgres",
        &format!("SELECT coalesce(last_archived_wal >= '{segment}', false) FROM pg_stat_archiver"),
    ) != "t"
    {
        assert!(start.elapsed() < Duration::from_secs(60), "never archived");
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = cluster
        .data
        .join("log/postgresql.log")
        .display()
        .to_string();
    let o = pgtriage(
        &work,
        &[
            "collect",
            "--db",
            &url,
            "--log",
            &log,
            "--baseline",
            "baseline.json",
            "-o",
            "evidence.json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let report = report_json(&work);
    let plan = &report["recovery"][0];
    assert_eq!(plan["restore_from"], "pitr", "{plan:#}");
    let base_s = base.display().to_string();
    let vars = [
        ("EVIDENCE", "evidence.json"),
        ("BASE_BACKUP", base_s.as_str()),
    ];
    for prefix in ["Rehearse", "Put back", "Check"] {
        let cmd = step(plan, prefix);
        let o = run_printed(&cmd, &work, &cluster.bindir, &vars);
        assert!(o.status.success(), "{cmd}: {}", text(&o));
    }
    assert_eq!(
        cluster.psql("ledger", "SELECT count(*) FROM entries"),
        "450"
    );
}
