//! The immediate action the report prints when the destructive statement came from pg_cron
//! (`application_name = pg_cron`): end its sessions and pause the job whose command it was, run
//! as printed against a real PostgreSQL 15 with pg_cron loaded. The job's command has what
//! breaks a naive `command ILIKE '%…%'`: a quote, a newline, a trailing semicolon, and LIKE's
//! own wildcards `_` and `%`. Other jobs: one that differs only where `_` would match, one with
//! a condition more (a `%…%` pattern matches it), one running the purge then ANALYZE in other
//! whitespace (it may be the one that ran it: paused too), and an unrelated VACUUM. Only the
//! jobs whose statements include the DELETE may be paused.
//!
//! pg_cron 1.4 (Debian 12's) has no seconds schedule, so the test does not wait for the
//! scheduler: it runs the job's command itself from a session named `pg_cron`, which is what the
//! log of a pg_cron run shows (pg_cron's worker connects with that application_name).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{ClusterOptions, PgCluster};

/// The database pg_cron keeps its jobs in (`cron.database_name`): a postmaster setting, so it is
/// fixed before the server starts and the database created right after.
const CRON_DATABASE: &str = "cron_shop";

/// The purge job's command, exactly as scheduled and as pg_cron would send it.
const PURGE: &str =
    "DELETE FROM public.sessions\n  WHERE token LIKE 'tmp_%' AND note <> 'it''s kept';";
/// Another job that a LIKE pattern built from PURGE matches (`_` matches `-`), but a different
/// statement: it must stay active.
const NEAR_MISS: &str =
    "DELETE FROM public.sessions\n  WHERE token LIKE 'tmp-%' AND note <> 'it''s kept';";
/// The same DELETE with one more condition: a pattern `%…%` matches it, it is another statement.
const SUPERSET: &str = "DELETE FROM public.sessions\n  WHERE token LIKE 'tmp_%' AND note <> 'it''s kept' AND id > 1000";
/// A job that runs the purge among other statements (its log line would be the whole text, the
/// finding's statement one of them): it may be the one that issued it, so it is paused too.
const PURGE_THEN_ANALYZE: &str = "DELETE FROM public.sessions  WHERE token LIKE 'tmp_%'\tAND note <> 'it''s kept' ; ANALYZE public.sessions;";
const UNRELATED: &str = "VACUUM ANALYZE public.sessions";

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

fn job_active(cluster: &PgCluster, name: &str) -> String {
    cluster.psql(
        CRON_DATABASE,
        &format!("SELECT active FROM cron.job WHERE jobname = '{name}'"),
    )
}

fn pgtriage_report(cluster: &PgCluster, log: &Path) -> Value {
    let o = Command::new(bin())
        .args(["report", "--db", &cluster.url(CRON_DATABASE), "--log"])
        .arg(log)
        .args(["--format", "json"])
        .stdin(Stdio::null())
        .output()
        .expect("run pgtriage");
    assert!(o.status.success(), "report: {}", text(&o));
    serde_json::from_slice(&o.stdout).expect("report JSON")
}

#[test]
fn pg_cron_job_is_paused_as_printed() {
    let bindir = support::find_bindir();
    // Not a skip: the project's rule is that this printed command is run by a test.
    assert!(
        bindir.join("../lib/pg_cron.so").exists(),
        "pg_cron is not installed for {}: run `apt-get install -y postgresql-15-cron` (scripts/test.sh does)",
        bindir.display()
    );
    let cluster = PgCluster::start_with_bindir(
        ClusterOptions {
            extra_conf: vec![
                "shared_preload_libraries = 'pg_cron'".into(),
                format!("cron.database_name = '{CRON_DATABASE}'"),
                "log_statement = 'all'".into(),
                "log_line_prefix = '%m [%p] %q%u@%d/%a '".into(),
            ],
            archive: false,
        },
        bindir,
    );
    cluster.psql("postgres", &format!("CREATE DATABASE {CRON_DATABASE}"));
    cluster.psql_script(
        CRON_DATABASE,
        &format!(
            "CREATE EXTENSION pg_cron;
             CREATE TABLE public.sessions (id int PRIMARY KEY, token text, note text);
             INSERT INTO public.sessions
               SELECT g, CASE WHEN g % 3 = 0 THEN 'tmp_' || g ELSE 'live-' || g END, 'n' FROM generate_series(1, 300) g;
             SELECT cron.schedule('purge-tmp-sessions', '*/30 * * * *', $job${PURGE}$job$);
             SELECT cron.schedule('purge-dash-sessions', '*/30 * * * *', $job${NEAR_MISS}$job$);
             SELECT cron.schedule('purge-old-tmp-sessions', '*/30 * * * *', $job${SUPERSET}$job$);
             SELECT cron.schedule('purge-then-analyze', '0 * * * *', $job${PURGE_THEN_ANALYZE}$job$);
             SELECT cron.schedule('vacuum-sessions', '0 3 * * *', $job${UNRELATED}$job$);"
        ),
        false,
    );
    assert_eq!(
        cluster.psql(
            CRON_DATABASE,
            "SELECT count(*) FROM cron.job WHERE command = $c$DELETE FROM public.sessions\n  WHERE token LIKE 'tmp_%' AND note <> 'it''s kept';$c$"
        ),
        "1",
        "the purge job's command is stored as scheduled"
    );
    cluster.flush_stats(CRON_DATABASE);

    // The job's run: its command, verbatim, from a session named as pg_cron's worker names its.
    let o = Command::new(cluster.bindir.join("psql"))
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(format!(
            "{}&application_name=pg_cron",
            cluster.url(CRON_DATABASE)
        ))
        .arg("-c")
        .arg(PURGE)
        .stdin(Stdio::null())
        .output()
        .expect("psql as pg_cron");
    assert!(o.status.success(), "the purge: {}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "DELETE 100");
    cluster.flush_stats(CRON_DATABASE);
    let log = cluster.log_dir().join("postgresql.log");
    let logged = cluster.wait_for_log(
        |t| t.contains("/pg_cron LOG:  statement: DELETE FROM public.sessions"),
        Duration::from_secs(10),
    );
    assert!(
        logged.contains("/pg_cron LOG:  statement: DELETE FROM public.sessions"),
        "{logged}"
    );

    let report = pgtriage_report(&cluster, &log);
    let actions = report["immediate_actions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let command = actions
        .iter()
        .filter_map(|a| a["command"].as_str())
        .find(|c| c.contains("cron.alter_job"))
        .unwrap_or_else(|| panic!("no pg_cron action: {:#}", report["immediate_actions"]))
        .to_string();

    let o = run_sql(&cluster, CRON_DATABASE, &command);
    assert!(o.status.success(), "{command}\n{}", text(&o));
    // It lists the jobs it paused, for the user to check against the log.
    let listed = String::from_utf8_lossy(&o.stdout);
    assert!(
        listed.contains("purge-tmp-sessions")
            && listed.contains("purge-then-analyze")
            && listed.contains("(2 rows)"),
        "{command}\n{listed}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while job_active(&cluster, "purge-tmp-sessions") != "f" {
        assert!(
            Instant::now() < deadline,
            "the printed command did not pause the purge job:\n{command}\n{}",
            text(&o)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        job_active(&cluster, "purge-then-analyze"),
        "f",
        "a job with the purge among its statements stayed active:\n{command}"
    );
    for job in ["purge-old-tmp-sessions", "purge-dash-sessions"] {
        assert_eq!(
            job_active(&cluster, job),
            "t",
            "{job}, a different statement, was paused too:\n{command}"
        );
    }
    assert_eq!(
        job_active(&cluster, "vacuum-sessions"),
        "t",
        "an unrelated job was paused:\n{command}"
    );
}
