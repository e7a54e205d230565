//! `pgtriage watch` end to end: the real binary as a child process at `--interval 1s` against a
//! real PostgreSQL (tests/support). Each incident is done by a culprit psql session that stays
//! connected; the test checks the event arrives within 3 s, the capture holds the culprit's
//! session, and `pgtriage report` explains the evidence file the watch wrote.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{ClusterOptions, PgCluster};

const BIN: &str = env!("CARGO_BIN_EXE_pgtriage");

/// Lines a child wrote, with when they arrived.
type Lines = Arc<Mutex<Vec<(Instant, String)>>>;

fn collect_lines(reader: impl std::io::Read + Send + 'static) -> Lines {
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push((Instant::now(), line));
        }
    });
    lines
}

/// A running `pgtriage watch`.
struct Watch {
    child: Child,
    stdout: Lines,
    stderr: Lines,
    out: PathBuf,
}

impl Watch {
    fn start(url: &str, out: &Path, extra: &[&str]) -> Watch {
        let mut child = Command::new(BIN)
            .arg("watch")
            .args([
                "--db",
                url,
                "--interval",
                "1s",
                "--format",
                "jsonl",
                "--out",
            ])
            .arg(out)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pgtriage watch");
        let stdout = collect_lines(child.stdout.take().expect("stdout"));
        let stderr = collect_lines(child.stderr.take().expect("stderr"));
        let w = Watch {
            child,
            stdout,
            stderr,
            out: out.to_path_buf(),
        };
        w.wait_stderr(|l| l.starts_with("watch: ") && l.contains("every 1s"), 20);
        w
    }

    fn stderr_text(&self) -> String {
        let lines = self.stderr.lock().unwrap();
        lines
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn wait_stderr(&self, pred: impl Fn(&str) -> bool, secs: u64) -> Instant {
        self.wait_stderr_from(0, pred, secs)
    }

    /// Waits for a line at or after index `from` of stderr.
    fn wait_stderr_from(&self, from: usize, pred: impl Fn(&str) -> bool, secs: u64) -> Instant {
        let start = Instant::now();
        loop {
            if let Some((t, _)) = self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .skip(from)
                .find(|(_, l)| pred(l))
            {
                return *t;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "no such stderr line within {secs}s; stderr:\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn events(&self) -> Vec<(Instant, Value)> {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .map(|(t, l)| {
                let v: Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"));
                assert_eq!(v["format"], "pgtriage-watch/1", "{l}");
                (*t, v)
            })
            .collect()
    }

    /// The first event after `since` matching `pred`, waited for up to `within`.
    fn wait_event(
        &self,
        since: Instant,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> (Duration, Value) {
        loop {
            if let Some((t, v)) = self
                .events()
                .into_iter()
                .find(|(t, v)| *t >= since && pred(v))
            {
                eprintln!(
                    "event {} {} after {:?}",
                    v["kind"],
                    v["table"],
                    t.duration_since(since)
                );
                return (t.duration_since(since), v);
            }
            assert!(
                since.elapsed() < within + Duration::from_secs(2),
                "no matching event within {within:?}; events: {:?}\nstderr:\n{}",
                self.events()
                    .iter()
                    .map(|(_, v)| v.to_string())
                    .collect::<Vec<_>>(),
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn terminate(&mut self) -> (Duration, std::process::ExitStatus) {
        let pid = self.child.id().to_string();
        let start = Instant::now();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(ok.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (start.elapsed(), status);
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                panic!("watch did not stop within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A psql session that runs its statements and stays connected (idle) until dropped.
struct Culprit {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Culprit {
    /// Connects as application `app`, waits until the session is a second old (PostgreSQL
    /// flushes a session's statistics at most once a second, and a session that flushed less
    /// than a second ago waits for the 10 s idle flush), then runs `sql`.
    fn run(cluster: &PgCluster, db: &str, app: &str, sql: &str) -> (Culprit, Instant) {
        let mut child = Command::new(cluster.bindir.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(cluster.socket_dir())
            .args(["-p", &cluster.port.to_string(), "-U", "postgres", "-d", db])
            .env("PGAPPNAME", app)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql");
        let mut stdin = child.stdin.take().expect("stdin");
        std::thread::sleep(Duration::from_millis(1500));
        let at = Instant::now();
        writeln!(stdin, "{sql}").expect("send sql");
        stdin.flush().expect("flush");
        (
            Culprit {
                child,
                stdin: Some(stdin),
            },
            at,
        )
    }
}

impl Drop for Culprit {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn wait_file(path: &Path, secs: u64) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{} not written within {secs}s",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The capture of `event` holds the culprit's session, still connected, with its statement.
fn assert_culprit_captured(event: &Value, app: &str, statement_word: &str) -> Value {
    let capture = read_json(Path::new(event["capture"].as_str().expect("capture path")));
    assert_eq!(capture["format"], "pgtriage-watch-capture/1");
    let sessions = capture["capture"]["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("no sessions in the capture: {capture}"));
    let culprit = sessions
        .iter()
        .find(|s| s["application"] == app)
        .unwrap_or_else(|| panic!("culprit {app} not among the captured sessions: {sessions:?}"));
    let query = culprit["query"].as_str().unwrap_or("");
    assert!(
        query.to_uppercase().contains(statement_word),
        "culprit's query is {query:?}"
    );
    assert!(culprit["pid"].as_i64().is_some());
    assert!(
        capture["capture"]["wal_lsn"].as_str().is_some(),
        "{capture}"
    );
    assert!(
        capture["capture"]["wal_segments"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "WAL segments: {}",
        capture["capture"]["wal_segments"]
    );
    capture
}

/// `pgtriage report` of the event's evidence file: the first hypothesis naming `table` is
/// `kind`.
fn assert_report_explains(event: &Value, table: &str, kind: &str) {
    let evidence = PathBuf::from(event["evidence"].as_str().expect("evidence path"));
    wait_file(&evidence, 30);
    let out = Command::new(BIN)
        .arg("report")
        .arg(&evidence)
        .args(["--format", "json"])
        .output()
        .expect("pgtriage report");
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep: Value = serde_json::from_slice(&out.stdout).expect("report JSON");
    let mut hypotheses: Vec<&Value> = rep["hypotheses"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    hypotheses.sort_by_key(|h| h["rank"].as_i64().unwrap_or(i64::MAX));
    let top = hypotheses
        .iter()
        .find(|h| {
            h["tables"]
                .as_array()
                .is_some_and(|ts| ts.iter().any(|t| t == table))
        })
        .unwrap_or_else(|| {
            panic!(
                "{}: no hypothesis names {table}: {:?}",
                evidence.display(),
                hypotheses
                    .iter()
                    .map(|h| (h["kind"].clone(), h["tables"].clone()))
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(
        top["kind"],
        kind,
        "{}: top hypothesis for {table}",
        evidence.display()
    );
}

const SCHEMA: &str = "
CREATE TABLE orders (id int PRIMARY KEY, note text);
INSERT INTO orders SELECT g, 'o' FROM generate_series(1, 5000) g;
CREATE TABLE accounts (id int PRIMARY KEY);
CREATE TABLE contacts (id int PRIMARY KEY, account_id int REFERENCES accounts(id));
INSERT INTO accounts SELECT g FROM generate_series(1, 2000) g;
INSERT INTO contacts SELECT g, (g % 2000) + 1 FROM generate_series(1, 4000) g;
CREATE TABLE payments (id int PRIMARY KEY, amount int) WITH (autovacuum_enabled = false);
INSERT INTO payments SELECT g, g FROM generate_series(1, 20000) g;
CREATE TABLE comments (id int PRIMARY KEY, body text);
INSERT INTO comments SELECT g, 'c' FROM generate_series(1, 3000) g;
CREATE TABLE warehouses (id int PRIMARY KEY);
INSERT INTO warehouses SELECT g FROM generate_series(1, 1500) g;
";

/// TRUNCATE, TRUNCATE … CASCADE, DELETE of half a table, DROP TABLE and pg_stat_reset() while
/// the watch runs with a slow, failing hook: each raises its event within 3 s.
#[test]
fn incidents_raise_their_event_within_3s_with_the_culprit_captured() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("watch_incidents");
    cluster.psql_script(&db, SCHEMA, false);
    cluster.flush_stats(&db);
    let out = tempfile::tempdir().expect("tmp");
    let hook_record = out.path().join("hook-record.txt");
    // Slow and failing: records its environment, sleeps 10 s, exits 1.
    let hook = format!(
        "echo \"$PGTRIAGE_EVENT|${{PGTRIAGE_TABLE:-}}|$1|$(test -f \"$1\" && echo present)|$PGTRIAGE_EVIDENCE\" >> {}; sleep 10; exit 1",
        hook_record.display()
    );
    let log = cluster.log_dir().join("postgresql.log");
    let log_arg = log.display().to_string();
    let watch = Watch::start(
        &cluster.url(&db),
        out.path(),
        &["--log", &log_arg, "--on-loss", &hook],
    );
    let three = Duration::from_secs(3);

    // TRUNCATE.
    let (_c1, t) = Culprit::run(&cluster, &db, "culprit-truncate", "TRUNCATE orders;");
    let (took, logged) = watch.wait_event(t, three, |v| {
        v["kind"] == "destructive_statement" && v["statement_kind"] == "truncate"
    });
    assert!(took <= three, "log event after {took:?}");
    assert_culprit_captured(&logged, "culprit-truncate", "TRUNCATE");
    let (took, ev) = watch.wait_event(t, three, |v| {
        v["kind"] == "truncate" && v["table"] == "public.orders"
    });
    assert!(took <= three, "truncate after {took:?}");
    assert_eq!(ev["rows_before"], 5000);
    assert_culprit_captured(&ev, "culprit-truncate", "TRUNCATE");
    assert_report_explains(&ev, "public.orders", "truncate");

    // TRUNCATE … CASCADE: both tables, one transaction (the same pg_class.xmin).
    let (_c2, t) = Culprit::run(
        &cluster,
        &db,
        "culprit-cascade",
        "TRUNCATE accounts CASCADE;",
    );
    let (took, ev) = watch.wait_event(t, three, |v| {
        v["kind"] == "truncate" && v["table"] == "public.contacts"
    });
    assert!(took <= three, "cascade after {took:?}");
    let (_, parent) = watch.wait_event(t, three, |v| {
        v["kind"] == "truncate" && v["table"] == "public.accounts"
    });
    assert_eq!(parent["capture"], ev["capture"], "one capture for one poll");
    let capture = assert_culprit_captured(&ev, "culprit-cascade", "TRUNCATE");
    let xmins: Vec<&Value> = capture["capture"]["class_xmin"]
        .as_array()
        .expect("class_xmin")
        .iter()
        .map(|x| &x["xmin"])
        .collect();
    assert_eq!(xmins.len(), 2, "{capture}");
    assert_eq!(xmins[0], xmins[1], "one TRUNCATE, one xid");
    assert_report_explains(&ev, "public.contacts", "cascade");
    assert_report_explains(&ev, "public.accounts", "cascade");

    // DELETE of half a table.
    let (_c3, t) = Culprit::run(
        &cluster,
        &db,
        "culprit-delete",
        "DELETE FROM payments WHERE id % 2 = 0;",
    );
    let (took, ev) = watch.wait_event(t, three, |v| {
        v["kind"] == "delete" && v["table"] == "public.payments"
    });
    assert!(took <= three, "delete after {took:?}");
    assert_eq!(
        (ev["rows_before"].as_i64(), ev["rows_after"].as_i64()),
        (Some(20000), Some(10000))
    );
    assert_culprit_captured(&ev, "culprit-delete", "DELETE");
    assert_report_explains(&ev, "public.payments", "delete");

    // DROP TABLE.
    let (_c4, t) = Culprit::run(&cluster, &db, "culprit-drop", "DROP TABLE comments;");
    let (took, ev) = watch.wait_event(t, three, |v| {
        v["kind"] == "table_dropped" && v["table"] == "public.comments"
    });
    assert!(took <= three, "drop after {took:?}");
    assert_culprit_captured(&ev, "culprit-drop", "DROP");
    assert_report_explains(&ev, "public.comments", "drop_recreate");

    // pg_stat_reset().
    let (_c5, t) = Culprit::run(&cluster, &db, "culprit-reset", "SELECT pg_stat_reset();");
    let (took, ev) = watch.wait_event(t, three, |v| v["kind"] == "stats_reset");
    assert!(took <= three, "stats reset after {took:?}");
    assert_culprit_captured(&ev, "culprit-reset", "PG_STAT_RESET");
    assert_report_explains(&ev, "public.warehouses", "stats_reset");
    // The reset is one event, not a loss per table.
    std::thread::sleep(Duration::from_millis(2500));
    let after_reset: Vec<Value> = watch
        .events()
        .into_iter()
        .filter(|(at, v)| *at >= t && v["kind"] != "destructive_statement")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(after_reset.len(), 1, "{after_reset:?}");

    // The hook ran for the events with the evidence file already written, and it being slow
    // (10 s) and failing did not delay the polls above (each event came within 3 s).
    let record = std::fs::read_to_string(&hook_record).expect("hook record");
    let truncate_line = record
        .lines()
        .find(|l| l.starts_with("truncate|public.orders|"))
        .unwrap_or_else(|| panic!("no hook run for the truncate: {record}"));
    let fields: Vec<&str> = truncate_line.split('|').collect();
    assert_eq!(fields[3], "present", "{truncate_line}");
    assert_eq!(fields[2], fields[4], "$1 is PGTRIAGE_EVIDENCE");
    assert!(
        record
            .lines()
            .any(|l| l.starts_with("delete|public.payments|"))
    );
    assert!(
        record.lines().any(|l| l.starts_with("stats_reset||")),
        "{record}\nstderr:\n{}",
        watch.stderr_text()
    );
}

/// pgbench for 30 s (its updates and inserts, a history pruned to its last 20 seconds, accounts
/// deleted and re-inserted, autovacuum running): the watch raises nothing. `-n`: pgbench's own
/// pre-run `truncate pgbench_history` is a real TRUNCATE (and would rightly be raised), not
/// workload.
#[test]
fn ordinary_workload_raises_nothing() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("watch_pgbench");
    let pgbench = |args: &[&str]| {
        let out = Command::new(cluster.bindir.join("pgbench"))
            .arg("-h")
            .arg(cluster.socket_dir())
            .args(["-p", &cluster.port.to_string(), "-U", "postgres"])
            .args(args)
            .arg(&db)
            .output()
            .expect("pgbench");
        assert!(
            out.status.success(),
            "pgbench {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    pgbench(&["-i", "-q", "-s", "1"]);
    cluster.flush_stats(&db);
    let dir = tempfile::tempdir().expect("tmp");
    let prune = dir.path().join("prune.sql");
    std::fs::write(
        &prune,
        "DELETE FROM pgbench_history WHERE mtime < now() - interval '20 seconds';\n",
    )
    .expect("script");
    let churn = dir.path().join("churn.sql");
    std::fs::write(
        &churn,
        "\\set aid random(1, 100000)\nBEGIN;\nDELETE FROM pgbench_accounts WHERE aid = :aid;\n\
         INSERT INTO pgbench_accounts (aid, bid, abalance, filler) VALUES (:aid, 1, 0, '') ON CONFLICT DO NOTHING;\nCOMMIT;\n",
    )
    .expect("script");
    let out = dir.path().join("out");
    let log = cluster
        .log_dir()
        .join("postgresql.log")
        .display()
        .to_string();
    let watch = Watch::start(&cluster.url(&db), &out, &["--log", &log]);
    let prune_w = format!("{}@1", prune.display());
    let churn_w = format!("{}@2", churn.display());
    let summary = pgbench(&[
        "-n",
        "-T",
        "30",
        "-c",
        "2",
        "-j",
        "1",
        "-b",
        "tpcb-like@8",
        "-f",
        &prune_w,
        "-f",
        &churn_w,
    ]);
    assert!(
        summary.contains("number of transactions actually processed"),
        "{summary}"
    );
    std::thread::sleep(Duration::from_secs(2));
    let events: Vec<String> = watch.events().iter().map(|(_, v)| v.to_string()).collect();
    assert!(events.is_empty(), "ordinary workload raised: {events:?}");
    assert!(
        !watch.stderr_text().contains("failed"),
        "{}",
        watch.stderr_text()
    );
}

/// A private server: an immediate-mode restart is an event, a server stopped for 20 s is
/// reconnected to by itself, a log rotated mid-watch is followed, baselines roll, and SIGTERM
/// stops the watch within a second with exit 0.
#[test]
fn restart_outage_rotation_baselines_and_sigterm() {
    let mut cluster = PgCluster::start(ClusterOptions {
        archive: false,
        ..ClusterOptions::default()
    });
    cluster.psql(
        "postgres",
        "CREATE TABLE ledger (id int PRIMARY KEY); INSERT INTO ledger SELECT generate_series(1, 3000)",
    );
    cluster.flush_stats("postgres");
    let out = tempfile::tempdir().expect("tmp");
    let log = cluster.log_dir().join("postgresql.log");
    let log_arg = log.display().to_string();
    let mut watch = Watch::start(
        &cluster.url("postgres"),
        out.path(),
        &[
            "--log",
            &log_arg,
            "--baseline-every",
            "2s",
            "--keep-baselines",
            "3",
        ],
    );

    // Immediate-mode restart (a crash as far as PostgreSQL is concerned).
    cluster.stop_server("immediate");
    cluster.start_server();
    let back = Instant::now();
    let (took, ev) = watch.wait_event(back, Duration::from_secs(3), |v| {
        v["kind"] == "server_restart"
    });
    assert!(
        took <= Duration::from_secs(3),
        "restart seen after {took:?}"
    );
    assert!(
        ev["detail"].as_str().unwrap_or("").contains("discarded"),
        "{ev}"
    );
    // The crash discarded the statistics, not the rows: the report says so.
    assert_report_explains(&ev, "public.ledger", "stats_reset");

    // Stopped for 20 s, then started: one line per failed poll (with backoff), then back.
    let before_outage = watch.stderr.lock().unwrap().len();
    cluster.stop_server("fast");
    std::thread::sleep(Duration::from_secs(20));
    cluster.start_server();
    let started = Instant::now();
    let reconnected = watch.wait_stderr_from(before_outage, |l| l.contains("answers again"), 15);
    assert!(
        reconnected.duration_since(started) <= Duration::from_secs(6),
        "reconnected {:?} after the start",
        reconnected.duration_since(started)
    );
    let failures = watch.stderr.lock().unwrap()[before_outage..]
        .iter()
        .filter(|(_, l)| l.contains("failed"))
        .count();
    assert!(
        (2..=15).contains(&failures),
        "{failures} failure lines for a 20 s outage:\n{}",
        watch.stderr_text()
    );

    // Log rotated (renamed, then the server opens a new file): the next statement is caught.
    std::fs::rename(&log, cluster.log_dir().join("postgresql.log.1")).expect("rotate");
    cluster.psql("postgres", "SELECT pg_rotate_logfile()");
    let start = Instant::now();
    while !log.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "no new log file");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_c, t) = Culprit::run(&cluster, "postgres", "culprit-rotated", "TRUNCATE ledger;");
    let (took, ev) = watch.wait_event(t, Duration::from_secs(3), |v| {
        v["kind"] == "destructive_statement" && v["statement_kind"] == "truncate"
    });
    assert!(took <= Duration::from_secs(3), "{took:?}");
    assert!(
        ev["source"]
            .as_str()
            .unwrap_or("")
            .contains("postgresql.log:"),
        "{ev}"
    );
    assert_culprit_captured(&ev, "culprit-rotated", "TRUNCATE");

    // Rolling baselines (every 2 s): after 5 s more, the newest 3 are kept, each an evidence
    // file with the database snapshot.
    std::thread::sleep(Duration::from_secs(5));
    let baselines: Vec<PathBuf> = std::fs::read_dir(watch.out.as_path())
        .expect("out dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("baseline-"))
        })
        .collect();
    assert_eq!(baselines.len(), 3, "{baselines:?}");
    for b in &baselines {
        let v = read_json(b);
        assert_eq!(v["format"], "pgtriage-evidence/1");
        assert!(
            v["database"]["tables"]
                .as_array()
                .is_some_and(|t| !t.is_empty())
        );
    }

    let (took, status) = watch.terminate();
    assert!(took <= Duration::from_secs(1), "stopped after {took:?}");
    assert_eq!(status.code(), Some(0), "{}", watch.stderr_text());
}

/// `--once` (cron): the first run writes a baseline and exits 0; after a TRUNCATE the next run
/// raises it and exits 1.
#[test]
fn once_compares_with_the_newest_baseline() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("watch_once");
    cluster.psql(
        &db,
        "CREATE TABLE invoices (id int PRIMARY KEY); INSERT INTO invoices SELECT generate_series(1, 2000)",
    );
    cluster.flush_stats(&db);
    let out = tempfile::tempdir().expect("tmp");
    let once = || {
        Command::new(BIN)
            .args([
                "watch",
                "--once",
                "--format",
                "jsonl",
                "--db",
                &cluster.url(&db),
                "--out",
            ])
            .arg(out.path())
            .output()
            .expect("watch --once")
    };
    let first = once();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(first.stdout.is_empty());
    cluster.psql(&db, "TRUNCATE invoices");
    let second = once();
    assert_eq!(
        second.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let line: Value =
        serde_json::from_slice(second.stdout.split(|b| *b == b'\n').next().expect("a line"))
            .expect("JSON line");
    assert_eq!(line["kind"], "truncate");
    assert_eq!(line["table"], "public.invoices");
    // --once waits for its evidence file before exiting.
    assert!(Path::new(line["evidence"].as_str().expect("evidence")).exists());
    let third = once();
    assert_eq!(
        third.status.code(),
        Some(0),
        "nothing new since the last baseline"
    );
}

#[test]
fn bad_flags_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    for (args, says) in [
        (vec!["--interval", "soon"], "--interval `soon`"),
        (vec!["--min-percent", "0"], "--min-percent"),
        (vec!["--log", "/tmp"], "--log /tmp"),
        (vec!["--log", "x/postgresql.csv"], "not csvlog"),
    ] {
        let out = Command::new(BIN)
            .arg("watch")
            .args(&args)
            .arg("--out")
            .arg(dir.path())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
