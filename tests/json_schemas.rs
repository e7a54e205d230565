//! Every command's JSON output (report, tables, timeline and its JSON Lines, migrations, verify,
//! audit, watch's JSON Lines, recover.json), and the evidence file, validated against the JSON Schema files in
//! `schemas/` — on the bundled incidents and on a real throwaway PostgreSQL (a loss made on
//! purpose, its log, its WAL archive and a git repository of migrations). The schemas forbid
//! unknown fields, so a renamed field fails here before it surprises a consumer.

mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use support::PgCluster;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema(name: &str) -> jsonschema::Validator {
    let path = repo_root().join("schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
    jsonschema::validator_for(&value)
        .unwrap_or_else(|e| panic!("{}: not a JSON Schema: {e}", path.display()))
}

/// Panics with every violation (path and message) when `doc` does not match.
fn assert_valid(v: &jsonschema::Validator, what: &str, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .take(20)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n{}",
        errors.join("\n")
    );
}

/// Runs pgtriage in `dir`; returns stdout. `ok` lists the exit codes that mean "ran".
fn run(dir: &Path, args: &[&str], ok: &[i32]) -> String {
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .current_dir(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run pgtriage");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        ok.contains(&code),
        "pgtriage {args:?} exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(dir: &Path, args: &[&str], ok: &[i32]) -> Value {
    let text = run(dir, args, ok);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("pgtriage {args:?}: not JSON ({e}): {text}"))
}

fn incidents() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo_root().join("sample-logs/incidents"))
        .expect("sample-logs/incidents")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("evidence.json").is_file())
        .collect();
    dirs.push(repo_root().join("sample-logs/first-incident"));
    dirs.sort();
    dirs
}

/// Every `source` field anywhere in `doc` is a citation (`kind:where`), never a name or method.
fn assert_sources_are_citations(what: &str, doc: &Value) {
    fn walk(v: &Value, path: &str, bad: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "source"
                        && let Some(s) = x.as_str()
                        && ![
                            "log:",
                            "stats:",
                            "catalog:",
                            "git:",
                            "wal:",
                            "baseline:",
                            "setting:",
                            "evidence:",
                        ]
                        .iter()
                        .any(|p| s.starts_with(p))
                    {
                        bad.push(format!("{path}.source = {s:?}"));
                    }
                    walk(x, &format!("{path}.{k}"), bad);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, &format!("{path}[]"), bad)),
            _ => {}
        }
    }
    let mut bad = Vec::new();
    walk(doc, "", &mut bad);
    assert!(
        bad.is_empty(),
        "{what}: `source` that is not a citation: {bad:?}"
    );
}

#[test]
fn bundled_incidents_match_the_report_tables_timeline_and_evidence_schemas() {
    let (report, tables, timeline, event, evidence) = (
        schema("report.json"),
        schema("tables.json"),
        schema("timeline.json"),
        schema("timeline-event.json"),
        schema("evidence.json"),
    );
    let root = repo_root();
    let mut checked = 0;
    for dir in incidents() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in ["evidence.json", "baseline.json"] {
            let p = dir.join(file);
            if p.is_file() {
                let doc: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                assert_valid(&evidence, &format!("{name}/{file}"), &doc);
                checked += 1;
            }
        }
        let ev = dir.join("evidence.json");
        let ev = ev.to_str().unwrap();
        let r = json(&root, &["report", ev, "--format", "json"], &[0]);
        assert_valid(&report, &format!("report {name}"), &r);
        assert_sources_are_citations(&format!("report {name}"), &r);
        // A postmortem for outside the team: the same contract, and it says what was redacted.
        for (flag, what) in [("--redact", "literals"), ("--redact=all", "all")] {
            let red = json(&root, &["report", ev, "--format", "json", flag], &[0]);
            assert_valid(&report, &format!("report {flag} {name}"), &red);
            assert_sources_are_citations(&format!("report {flag} {name}"), &red);
            assert_eq!(red["redacted"], what, "report {flag} {name}");
            checked += 1;
        }
        let t = json(&root, &["tables", ev, "--format", "json"], &[0]);
        assert_valid(&tables, &format!("tables {name}"), &t);
        assert_sources_are_citations(&format!("tables {name}"), &t);
        for log in ["postgresql.log", "postgresql.csv", "postgresql.json"] {
            let p = dir.join(log);
            if !p.is_file() {
                continue;
            }
            let p = p.to_str().unwrap();
            let tl = json(&root, &["timeline", "--log", p, "--format", "json"], &[0]);
            assert_valid(&timeline, &format!("timeline {name}/{log}"), &tl);
            assert_sources_are_citations(&format!("timeline {name}/{log}"), &tl);
            let lines = run(&root, &["timeline", "--log", p, "--format", "jsonl"], &[0]);
            for (i, line) in lines.lines().enumerate() {
                let doc: Value = serde_json::from_str(line).unwrap();
                assert_valid(
                    &event,
                    &format!("timeline jsonl {name}/{log}:{}", i + 1),
                    &doc,
                );
            }
            assert!(!lines.is_empty(), "{name}/{log}: no events");
            checked += 3;
        }
        checked += 2;
    }
    assert!(checked > 60, "only {checked} documents checked");
}

#[test]
fn the_bundled_server_logs_match_the_timeline_schema() {
    let v = schema("timeline.json");
    let root = repo_root();
    let dir = root.join("sample-logs/server-logs");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let doc = json(
            &root,
            &["timeline", "--log", p.to_str().unwrap(), "--format", "json"],
            &[0],
        );
        assert_valid(&v, &p.display().to_string(), &doc);
        n += 1;
    }
    assert!(n >= 5, "{n} server logs");
}

/// A schema that accepted a renamed field would be no contract: rename one field in each of the
/// documents whose field names this work changed, and the schema must say no.
#[test]
fn a_renamed_or_missing_field_fails_its_schema() {
    let root = repo_root();
    let ev = root.join("sample-logs/incidents/01-truncate/evidence.json");
    let ev = ev.to_str().unwrap();
    let mut t = json(&root, &["tables", ev, "--format", "json"], &[0]);
    let tables = schema("tables.json");
    assert!(tables.is_valid(&t));
    let m = t.as_object_mut().unwrap();
    let read_from = m.remove("read_from").expect("tables JSON has read_from");
    m.insert("source".into(), read_from);
    assert!(
        !tables.is_valid(&t),
        "tables: `source` instead of `read_from` accepted"
    );

    let mut r = json(&root, &["report", ev, "--format", "json"], &[0]);
    let report = schema("report.json");
    assert!(report.is_valid(&r));
    let entry = r["timeline"]
        .as_array_mut()
        .and_then(|a| a.iter_mut().find(|e| e["kind"] == "truncate"))
        .expect("the TRUNCATE in the report's timeline");
    assert!(
        entry["session"]["user"] == "billing" && entry["outcome"] == "committed",
        "report timeline entries keep session and outcome: {entry:#}"
    );
    entry.as_object_mut().unwrap().remove("session");
    assert!(
        !report.is_valid(&r),
        "a timeline entry without `session` accepted"
    );

    let mut tl = json(
        &root,
        &[
            "timeline",
            "--log",
            root.join("sample-logs/incidents/01-truncate/postgresql.log")
                .to_str()
                .unwrap(),
            "--format",
            "json",
        ],
        &[0],
    );
    let timeline = schema("timeline.json");
    assert!(timeline.is_valid(&tl));
    tl["events"][0]["citation"] = tl["events"][0]["source"].take();
    tl["events"][0].as_object_mut().unwrap().remove("source");
    assert!(
        !timeline.is_valid(&tl),
        "an event with `citation` for `source` accepted"
    );
}

/// The same event is cited the same way by `timeline` and by `report` given the same log: the
/// path exactly as given on the command line, then the line.
#[test]
fn report_and_timeline_cite_a_log_line_with_the_path_as_given() {
    let root = repo_root();
    let log = "sample-logs/incidents/01-truncate/postgresql.log";
    let tl = json(&root, &["timeline", "--log", log, "--format", "json"], &[0]);
    let truncate = |events: &Value| -> String {
        events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "truncate")
            .map(|e| e["source"].as_str().unwrap().to_string())
            .expect("a truncate")
    };
    let from_timeline = truncate(&tl["events"]);
    assert_eq!(from_timeline, format!("log:{log}:157"));
    let r = json(&root, &["report", "--log", log, "--format", "json"], &[0]);
    assert_eq!(truncate(&r["timeline"]), from_timeline);
    // From another directory, with another spelling of the same file: that spelling.
    let dir = root.join("sample-logs/incidents");
    let tl = json(
        &dir,
        &[
            "timeline",
            "--log",
            "./01-truncate/postgresql.log",
            "--format",
            "json",
        ],
        &[0],
    );
    assert_eq!(
        truncate(&tl["events"]),
        "log:./01-truncate/postgresql.log:157"
    );
}

/// `--since` means the same instant in `report` and `timeline`: UTC unless the value carries an
/// offset, whatever `--log-timezone` says.
#[test]
fn since_is_utc_unless_it_carries_an_offset_in_every_command() {
    let root = repo_root();
    let log = "sample-logs/incidents/01-truncate/postgresql.log";
    let bound = chrono::DateTime::parse_from_rfc3339("2026-11-23T15:23:39Z").unwrap();
    let first_at = |events: &Value| -> (usize, chrono::DateTime<chrono::FixedOffset>) {
        let a = events.as_array().unwrap();
        let first = a
            .iter()
            .filter_map(|e| e["at"].as_str())
            .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
            .min()
            .expect("events after the bound");
        (a.len(), first)
    };
    let mut seen = Vec::new();
    for (since, zone) in [
        ("2026-11-23 15:23:39", None),
        ("2026-11-23 15:23:39", Some("Europe/Berlin")),
        ("2026-11-23T16:23:39+01:00", Some("America/New_York")),
        ("2026-11-23 10:23:39 -05:00", None),
    ] {
        let mut args = vec![
            "timeline", "--log", log, "--format", "json", "--since", since,
        ];
        if let Some(z) = zone {
            args.extend(["--log-timezone", z]);
        }
        let (n, first) = first_at(&json(&root, &args, &[0])["events"]);
        assert!(
            first >= bound,
            "timeline --since {since:?} {zone:?}: {first}"
        );
        seen.push(n);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    let r = json(
        &root,
        &[
            "report",
            "--log",
            log,
            "--format",
            "json",
            "--since",
            "2026-11-23 15:23:39",
        ],
        &[0],
    );
    let (_, first) = first_at(&r["timeline"]);
    assert!(first >= bound, "report --since: {first}");
    let err = Command::cargo_bin("pgtriage")
        .unwrap()
        .current_dir(&root)
        .args(["timeline", "--log", log, "--since", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(err.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&err.stderr);
    assert!(msg.contains("--since") && msg.contains("UTC"), "{msg}");
}

/// The commands that need a server, on a real one: a baseline, a TRUNCATE and a DELETE, then
/// collect (log, WAL archive, repository, exact counts), report, tables, verify, audit and
/// migrations, each checked against its schema.
#[test]
fn live_server_outputs_match_every_schema() {
    let pg = PgCluster::shared();
    let db = pg.fresh_database("schemas");
    pg.psql(
        &db,
        "CREATE TABLE customers (id int PRIMARY KEY, name text);
         INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 300) g;
         CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers ON DELETE CASCADE);
         INSERT INTO orders SELECT g, 1 + g % 300 FROM generate_series(1, 500) g;
         CREATE TABLE invoices (id int PRIMARY KEY);
         INSERT INTO invoices SELECT generate_series(1, 800);
         CREATE SEQUENCE invoice_numbers;
         CREATE TABLE tickets (id serial PRIMARY KEY);
         INSERT INTO tickets SELECT generate_series(1, 50);",
    );
    pg.flush_stats(&db);
    let url = pg.url(&db);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // A repository whose second migration drops a table.
    let app = w.join("app");
    std::fs::create_dir_all(app.join("migrations/versions")).unwrap();
    support::git(&app, &["init", "-q"]);
    std::fs::write(
        app.join("migrations/versions/001_init.py"),
        "revision = \"001\"\ndown_revision = None\n\ndef upgrade():\n    op.execute(\"CREATE TABLE invoices (id int primary key)\")\n",
    )
    .unwrap();
    support::git(&app, &["add", "-A"]);
    support::git(
        &app,
        &[
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "commit",
            "-qm",
            "init",
        ],
    );
    std::fs::write(
        app.join("migrations/versions/002_drop.py"),
        "revision = \"002\"\ndown_revision = \"001\"\n\ndef upgrade():\n    op.drop_table(\"invoices\")\n",
    )
    .unwrap();
    support::git(&app, &["add", "-A"]);
    support::git(
        &app,
        &[
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "commit",
            "-qm",
            "drop invoices",
        ],
    );

    run(
        w,
        &[
            "collect",
            "--db",
            &url,
            "--exact-counts",
            "-o",
            "baseline.json",
        ],
        &[0],
    );
    // Before the loss: a dump for `recover`, and the watch's first poll (its baseline).
    let dump = std::process::Command::new(support::client_tool(&pg.bindir, "pg_dump"))
        .args(["-Fc", "-f"])
        .arg(w.join("before.dump"))
        .arg(&url)
        .output()
        .unwrap();
    assert!(dump.status.success(), "pg_dump: {dump:?}");
    let watch_args = [
        "watch",
        "--db",
        &url,
        "--once",
        "--out",
        "watch",
        "--format",
        "jsonl",
        "--min-rows",
        "100",
    ];
    let first = run(w, &watch_args, &[0, 1]);
    pg.psql(
        &db,
        "TRUNCATE invoices; DELETE FROM customers WHERE id > 250; SELECT pg_switch_wal();",
    );
    pg.flush_stats(&db);
    let log_dir = pg.log_dir();
    let archive = pg.archive_dir();
    pg.wait_for_log(
        |l| l.contains("TRUNCATE invoices"),
        std::time::Duration::from_secs(10),
    );
    run(
        w,
        &[
            "collect",
            "--db",
            &url,
            "--log",
            log_dir.to_str().unwrap(),
            "--repo",
            "app",
            "--wal",
            archive.to_str().unwrap(),
            "--exact-counts",
            "--baseline",
            "baseline.json",
            "-o",
            "evidence.json",
        ],
        &[0],
    );
    let evidence = schema("evidence.json");
    for f in ["baseline.json", "evidence.json"] {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(w.join(f)).unwrap()).unwrap();
        assert_valid(&evidence, f, &doc);
    }

    let r = json(w, &["report", "evidence.json", "--format", "json"], &[0]);
    assert_valid(&schema("report.json"), "report (live)", &r);
    assert_sources_are_citations("report (live)", &r);
    assert!(
        r["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "invoices" && t["status"] == "wiped"),
        "the TRUNCATE is seen: {:#}",
        r["tables"]
    );

    let t = json(w, &["tables", "--db", &url, "--format", "json"], &[0]);
    assert_valid(&schema("tables.json"), "tables --db", &t);
    assert!(t["read_from"].as_str().unwrap().contains(&db), "{t:#}");

    let v = json(
        w,
        &[
            "verify",
            "--baseline",
            "baseline.json",
            "--db",
            &url,
            "--exact",
            "--format",
            "json",
        ],
        &[1],
    );
    assert_valid(
        &schema("verify.json"),
        "verify (fails: rows are missing)",
        &v,
    );
    assert_sources_are_citations("verify", &v);
    // The report after recovery: `--verify` adds `recovery_verified` from verify's JSON.
    std::fs::write(w.join("verify.json"), v.to_string()).unwrap();
    let rv = json(
        w,
        &[
            "report",
            "evidence.json",
            "--format",
            "json",
            "--verify",
            "verify.json",
            "--redact=all",
        ],
        &[0],
    );
    assert_valid(&schema("report.json"), "report --verify --redact=all", &rv);
    assert_sources_are_citations("report --verify", &rv);
    assert_eq!(rv["recovery_verified"]["passed"], false, "{rv:#}");
    assert_eq!(rv["redacted"], "all");
    let invoices = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "invoices")
        .expect("invoices checked");
    assert_eq!(invoices["rows_from"], "count", "{invoices:#}");
    // tickets.id's sequence was never advanced past ids inserted by hand: a sequence check.
    assert!(
        v["sequences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["column"] == "public.tickets.id"),
        "{:#}",
        v["sequences"]
    );

    let a = json(
        w,
        &["audit", "--db", &url, "--repo", "app", "--format", "json"],
        &[0, 1],
    );
    assert_valid(&schema("audit.json"), "audit", &a);
    assert_sources_are_citations("audit", &a);

    let m = json(
        w,
        &[
            "migrations",
            "--repo",
            "app",
            "--db",
            &url,
            "--format",
            "json",
        ],
        &[0],
    );
    assert_valid(&schema("migrations.json"), "migrations --db", &m);
    assert!(
        m.to_string().contains("drop_table"),
        "the DROP TABLE migration is found: {m:#}"
    );

    let tl = json(
        w,
        &[
            "timeline",
            "--log",
            log_dir.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[0],
    );
    assert_valid(&schema("timeline.json"), "timeline (live)", &tl);

    // watch: the poll after the TRUNCATE raises it; its lines, captures' evidence files and
    // baselines match their schemas.
    let second = run(w, &watch_args, &[1]);
    let event_schema = schema("watch-event.json");
    let events: Vec<Value> = first
        .lines()
        .chain(second.lines())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("watch line {l}: {e}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "truncate" && e["table"] == "public.invoices"),
        "{events:#?}"
    );
    for e in &events {
        assert_valid(&event_schema, "watch event", e);
    }
    let mut files = 0;
    for entry in std::fs::read_dir(w.join("watch")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("baseline-") || name.ends_with(".evidence.json") {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            assert_valid(&evidence, &name, &doc);
            files += 1;
        }
    }
    assert!(files >= 2, "watch wrote {files} evidence/baseline files");

    // recover: plan 1 (the TRUNCATE) from the dump taken before it.
    run(
        w,
        &[
            "recover",
            "evidence.json",
            "--plan",
            "1",
            "--dump",
            "before.dump",
            "--out",
            "recovered",
        ],
        &[0, 1],
    );
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("recovered/recover.json")).unwrap())
            .unwrap();
    assert_valid(&schema("recover.json"), "recover.json", &doc);
    assert_eq!(doc["source"], "dump");
}

/// `timeline --since` on a plain file reads only part of it: the source records `read_range`
/// and events cite `log:FILE@START:N`; both match the schemas, and a citation that is not one
/// (a bare `FILE:LINE`) does not.
#[test]
fn a_windowed_log_read_matches_the_timeline_schemas() {
    use std::io::Write;
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // 20 minutes of statements, 0.4 s apart, a TRUNCATE near the end.
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z").unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(w.join("postgresql.log")).unwrap());
    for i in 0..3000i64 {
        let at = start + chrono::Duration::milliseconds(400 * (i + 1));
        let p = format!(
            "{} [{}] app@shop ",
            at.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
            4000 + i % 3
        );
        if i == 2500 {
            writeln!(f, "{p}LOG:  statement: TRUNCATE invoices").unwrap();
        } else {
            writeln!(
                f,
                "{p}LOG:  statement: UPDATE accounts SET balance = balance - 1 WHERE id = {i}"
            )
            .unwrap();
        }
    }
    drop(f);
    let args = [
        "timeline",
        "--log",
        "postgresql.log",
        "--since",
        "2026-11-23 08:15:00",
        "--format",
    ];
    let mut tl = json(w, &[&args[..], &["json"]].concat(), &[0]);
    let range = &tl["sources"][0]["read_range"];
    assert!(
        range["start"].as_u64().unwrap() > 0 && tl["sources"][0]["sha256"].is_null(),
        "only part of the file read and hashed: {:#}",
        tl["sources"]
    );
    let timeline = schema("timeline.json");
    assert_valid(&timeline, "timeline --since (windowed)", &tl);
    assert_sources_are_citations("timeline --since", &tl);
    let truncate = tl["events"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["kind"] == "truncate")
        .expect("the TRUNCATE in the window");
    let cited = truncate["source"].as_str().unwrap().to_string();
    assert!(cited.starts_with("log:postgresql.log@"), "{cited}");
    truncate["source"] = Value::String(cited.trim_start_matches("log:").into());
    assert!(
        !timeline.is_valid(&tl),
        "a source without its citation kind accepted"
    );
    let event = schema("timeline-event.json");
    let lines = run(w, &[&args[..], &["jsonl"]].concat(), &[0]);
    for (i, line) in lines.lines().enumerate() {
        let doc: Value = serde_json::from_str(line).unwrap();
        assert_valid(&event, &format!("timeline --since jsonl:{}", i + 1), &doc);
    }
    assert!(
        lines.contains(&cited),
        "the JSON Lines cite it the same way"
    );
}

/// Two-phase commit in the WAL: a DELETE committed through COMMIT PREPARED and one left
/// prepared (in doubt). The evidence's transactions (`prepared_lsn`, `prepared_at`, `gid`,
/// outcome `prepared`) and the report's findings match their schemas.
#[test]
fn prepared_transactions_in_the_wal_match_the_evidence_and_report_schemas() {
    let pg = PgCluster::start(support::ClusterOptions {
        extra_conf: vec![
            "max_prepared_transactions = 2".into(),
            "autovacuum = off".into(),
        ],
        archive: true,
    });
    let db = pg.fresh_database("schemas2pc");
    pg.psql(
        &db,
        "CREATE TABLE orders (id int PRIMARY KEY);
         INSERT INTO orders SELECT generate_series(1, 400);
         CREATE TABLE events (id int PRIMARY KEY);
         INSERT INTO events SELECT generate_series(1, 100);",
    );
    pg.flush_stats(&db);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let url = pg.url(&db);
    run(w, &["collect", "--db", &url, "-o", "baseline.json"], &[0]);
    pg.psql_script(
        &db,
        "BEGIN; DELETE FROM orders WHERE id <= 200; PREPARE TRANSACTION 'purge-orders';
         COMMIT PREPARED 'purge-orders';
         BEGIN; DELETE FROM events WHERE id <= 30; PREPARE TRANSACTION 'purge-events';",
        false,
    );
    pg.flush_stats(&db);
    pg.archive_everything();
    let archive = pg.archive_dir();
    run(
        w,
        &[
            "collect",
            "--db",
            &url,
            "--wal",
            archive.to_str().unwrap(),
            "--baseline",
            "baseline.json",
            "-o",
            "evidence.json",
        ],
        &[0],
    );
    let ev: Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("evidence.json")).unwrap()).unwrap();
    assert_valid(&schema("evidence.json"), "evidence (2PC)", &ev);
    let txs = ev["wal"]["transactions"].as_array().expect("WAL read");
    for (gid, outcome) in [("purge-orders", "committed"), ("purge-events", "prepared")] {
        let tx = txs
            .iter()
            .find(|t| t["gid"] == gid)
            .unwrap_or_else(|| panic!("{gid} not in {txs:#?}"));
        assert_eq!(tx["outcome"], outcome, "{tx:#}");
        assert!(tx["prepared_lsn"].is_string() && tx["prepared_at"].is_string());
    }
    let r = json(w, &["report", "evidence.json", "--format", "json"], &[0]);
    assert_valid(&schema("report.json"), "report (2PC)", &r);
    assert_sources_are_citations("report (2PC)", &r);
    assert!(
        r["hypotheses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["transaction"]["gid"] == "purge-orders"),
        "the committed 2PC DELETE is a finding with its WAL transaction: {:#}",
        r["hypotheses"]
    );
    // The prepared transaction holds locks; end it so the server stops cleanly.
    pg.psql(&db, "ROLLBACK PREPARED 'purge-events'");
}
