//! The version matrix: on every PostgreSQL major of `PGTRIAGE_PG_VERSIONS` (server binaries from
//! `scripts/fetch-pg-versions.sh`; the distribution's psql drives them), one small scenario
//! stages the core incidents — TRUNCATE, TRUNCATE … CASCADE, DELETE leaving dead tuples, a
//! rolled-back DELETE, DROP + re-create, a crash, `pg_stat_reset()` — and the real binary must
//! `collect`, list `tables`, rank the right explanation first for every table in `report`,
//! `verify` against the baseline (and fail where rows are gone), `audit`, and read that
//! version's own stderr, csvlog and (15+) jsonlog files.
//!
//! One test per major, so two run at once; a major not fetched is skipped with a message unless
//! `PGTRIAGE_PG_VERSIONS` asks for it (then it is a failure: CI cannot skip it silently).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use support::{ClusterOptions, PgCluster, matrix_bindirs};

fn pgtriage(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .env_remove("DATABASE_URL")
        .env_remove("PGOPTIONS")
        .args(args)
        .output()
        .expect("run pgtriage");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> String {
    let (code, stdout, stderr) = pgtriage(args);
    assert_eq!(code, 0, "pgtriage {args:?}: {stderr}");
    stdout
}

fn bindir_for(major: u32) -> Option<PathBuf> {
    let asked = std::env::var("PGTRIAGE_PG_VERSIONS")
        .map(|v| v.split(',').any(|m| m.trim() == major.to_string()))
        .unwrap_or(false);
    let found = if asked || std::env::var("PGTRIAGE_PG_VERSIONS").is_err() {
        // matrix_bindirs panics for a major asked for but missing.
        matrix_bindirs().into_iter().find(|(m, _)| *m == major)
    } else {
        None
    };
    if found.is_none() {
        if major == 15 {
            // The distribution's server is the suite's own: always there.
            return Some(support::find_bindir());
        }
        eprintln!(
            "version_matrix: PostgreSQL {major} skipped (not in PGTRIAGE_PG_VERSIONS or not fetched: scripts/fetch-pg-versions.sh)"
        );
    }
    found.map(|(_, b)| b)
}

/// The first hypothesis (by rank) naming `table`, and its kind.
fn top_kind(report: &Value, table: &str) -> String {
    let mut hyps: Vec<&Value> = report["hypotheses"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    hyps.sort_by_key(|h| h["rank"].as_i64().unwrap_or(i64::MAX));
    hyps.iter()
        .find(|h| {
            h["tables"]
                .as_array()
                .is_some_and(|ts| ts.iter().any(|t| t.as_str() == Some(table)))
        })
        .map(|h| h["kind"].as_str().unwrap_or("?").to_string())
        .unwrap_or_else(|| "none".to_string())
}

fn collect(url: &str, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["collect", "--db", url, "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    ok(&args);
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

fn report(evidence: &Path) -> Value {
    serde_json::from_str(&ok(&[
        "report",
        evidence.to_str().unwrap(),
        "--format",
        "json",
    ]))
    .expect("report JSON")
}

fn assert_kinds(report: &Value, expected: &[(&str, &str)], phase: &str, major: u32) {
    let problems: Vec<String> = expected
        .iter()
        .filter_map(|(table, kind)| {
            let got = top_kind(report, table);
            (got != *kind).then(|| format!("{table}: top hypothesis {got}, expected {kind}"))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "PostgreSQL {major}, {phase}: {}",
        problems.join("; ")
    );
}

fn scenario(major: u32) {
    let Some(bindir) = bindir_for(major) else {
        return;
    };
    let cluster = PgCluster::start_with_bindir(
        ClusterOptions {
            archive: false,
            ..ClusterOptions::default()
        },
        bindir,
    );
    assert_eq!(cluster.major_version(), major, "the server's own version");
    let db = "shop";
    cluster.psql("postgres", "CREATE DATABASE shop");
    cluster.psql_script(
        db,
        "CREATE TABLE invoices (id int PRIMARY KEY, total int);
         INSERT INTO invoices SELECT g, g FROM generate_series(1, 200) g;
         CREATE TABLE accounts (id int PRIMARY KEY);
         INSERT INTO accounts SELECT generate_series(1, 20);
         CREATE TABLE contacts (id int PRIMARY KEY, account_id int REFERENCES accounts(id) ON DELETE CASCADE);
         INSERT INTO contacts SELECT g, 1 + g % 20 FROM generate_series(1, 60) g;
         CREATE TABLE payments (id int PRIMARY KEY, amount int);
         INSERT INTO payments SELECT g, g FROM generate_series(1, 300) g;
         CREATE TABLE stock (id int PRIMARY KEY);
         INSERT INTO stock SELECT generate_series(1, 100);
         CREATE TABLE comments (id int PRIMARY KEY, body text);
         INSERT INTO comments SELECT g, 'c' FROM generate_series(1, 50) g;
         VACUUM ANALYZE;",
        false,
    );
    cluster.flush_stats(db);
    let work = tempfile::tempdir().unwrap();
    let w = |name: &str| work.path().join(name);
    let url = cluster.url(db);
    let baseline = collect(&url, &w("baseline.json"), &[]);
    assert!(
        baseline["database"]["server"]["version_num"]
            .as_i64()
            .unwrap()
            / 10000
            == major as i64
    );

    // What each version lacks is named, not silently empty.
    let gaps: Vec<String> = baseline["database"]["not_visible"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["what"].as_str().unwrap_or("").to_string())
        .collect();
    for (what, since) in [
        ("tables.n_ins_since_vacuum", 13),
        ("settings.archive_library", 15),
        ("log_destination jsonlog", 15),
    ] {
        assert_eq!(
            gaps.iter().any(|g| g.starts_with(what)),
            major < since,
            "PostgreSQL {major}: not_visible {gaps:?} and {what} (from {since})"
        );
    }

    let incidents = [
        "SET application_name = 'billing-cron'; TRUNCATE invoices;",
        "SET application_name = 'psql'; TRUNCATE accounts CASCADE;",
        "SET application_name = 'janitor'; DELETE FROM payments WHERE id > 0;",
        "SET application_name = 'stock-sync'; BEGIN; DELETE FROM stock; ROLLBACK;",
        "SET application_name = 'migrate'; DROP TABLE comments; CREATE TABLE comments (id int PRIMARY KEY, body text);",
    ];
    for sql in incidents {
        cluster.psql_script(db, sql, false);
    }
    cluster.flush_stats(db);
    let log_dir = cluster.log_dir();
    let csv = log_dir.join("postgresql.csv");
    let evidence = collect(
        &url,
        &w("evidence.json"),
        &[
            "--log",
            csv.to_str().unwrap(),
            "--baseline",
            w("baseline.json").to_str().unwrap(),
        ],
    );
    assert!(evidence["timeline"].is_object(), "the csvlog was read");

    // tables, live.
    let tables: Value =
        serde_json::from_str(&ok(&["tables", "--db", &url, "--format", "json"])).unwrap();
    let text = tables.to_string();
    for t in ["invoices", "contacts", "payments", "stock", "comments"] {
        assert!(text.contains(t), "PostgreSQL {major}: tables lacks {t}");
    }

    let rep = report(&w("evidence.json"));
    assert_kinds(
        &rep,
        &[
            ("public.invoices", "truncate"),
            ("public.accounts", "cascade"),
            ("public.contacts", "cascade"),
            ("public.payments", "delete"),
            ("public.comments", "drop_recreate"),
        ],
        "incidents",
        major,
    );
    // The rolled-back DELETE removed nothing: if a hypothesis names stock, it says rollback.
    let stock = top_kind(&rep, "public.stock");
    assert!(
        stock == "rollback" || stock == "none",
        "PostgreSQL {major}: stock's top hypothesis is {stock}"
    );

    // verify: the baseline's rows are not all back (exit 1), and says which tables.
    let (code, out, err) = pgtriage(&[
        "verify",
        "--baseline",
        w("baseline.json").to_str().unwrap(),
        "--db",
        &url,
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "PostgreSQL {major}: verify: {err}");
    assert!(out.contains("invoices"), "{out}");

    // audit runs and answers in JSON (0: clean, 1: a high-severity finding).
    let (code, out, err) = pgtriage(&["audit", "--db", &url, "--format", "json"]);
    assert!(code == 0 || code == 1, "PostgreSQL {major}: audit: {err}");
    serde_json::from_str::<Value>(&out).expect("audit JSON");

    // The version's own log files, each format.
    let mut files = vec![log_dir.join("postgresql.log"), csv.clone()];
    if major >= 15 {
        files.push(log_dir.join("postgresql.json"));
    }
    for file in &files {
        let out = ok(&[
            "timeline",
            "--log",
            file.to_str().unwrap(),
            "--format",
            "json",
        ]);
        for needle in [
            "TRUNCATE invoices",
            "TRUNCATE accounts CASCADE",
            "DELETE FROM payments",
            "DROP TABLE comments",
        ] {
            assert!(
                out.contains(needle),
                "PostgreSQL {major}: {} lacks `{needle}`",
                file.display()
            );
        }
    }

    // A crash: every counter restarts from zero, rows intact.
    let mut cluster = cluster;
    cluster.psql(db, "INSERT INTO stock SELECT generate_series(101, 120)");
    cluster.flush_stats(db);
    collect(&url, &w("before-crash.json"), &[]);
    cluster.stop_server("immediate");
    cluster.start_server();
    cluster.flush_stats(db);
    collect(
        &url,
        &w("crash.json"),
        &[
            "--log",
            csv.to_str().unwrap(),
            "--baseline",
            w("before-crash.json").to_str().unwrap(),
        ],
    );
    assert_kinds(
        &report(&w("crash.json")),
        &[("public.stock", "stats_reset")],
        "crash",
        major,
    );

    // pg_stat_reset(): the same artefact, by hand.
    cluster.psql(db, "INSERT INTO stock SELECT generate_series(121, 140)");
    cluster.flush_stats(db);
    collect(&url, &w("before-reset.json"), &[]);
    cluster.psql(db, "SELECT pg_stat_reset()");
    cluster.flush_stats(db);
    collect(
        &url,
        &w("reset.json"),
        &[
            "--log",
            csv.to_str().unwrap(),
            "--baseline",
            w("before-reset.json").to_str().unwrap(),
        ],
    );
    assert_kinds(
        &report(&w("reset.json")),
        &[("public.stock", "stats_reset")],
        "pg_stat_reset",
        major,
    );
    eprintln!(
        "version_matrix: PostgreSQL {major}: collect, tables, report, verify, audit, logs, crash, pg_stat_reset passed"
    );
}

#[test]
fn postgresql_12() {
    scenario(12);
}

#[test]
fn postgresql_13() {
    scenario(13);
}

#[test]
fn postgresql_14() {
    scenario(14);
}

#[test]
fn postgresql_15() {
    scenario(15);
}

#[test]
fn postgresql_16() {
    scenario(16);
}

#[test]
fn postgresql_17() {
    scenario(17);
}

#[test]
fn postgresql_18() {
    scenario(18);
}

/// The WAL of PostgreSQL 16 and 17 read natively (their record layouts differ from 15's): a
/// DELETE's rows counted under its own xid, a TRUNCATE's old file and lock named, both committed.
/// (PostgreSQL 18's is read natively too: the npm builds ship no pg_waldump 18, so
/// `wal_of_postgresql_18` checks the native reader against pg_walinspect 18.)
fn wal_scenario(major: u32) {
    let Some(bindir) = bindir_for(major) else {
        return;
    };
    let cluster = PgCluster::start_with_bindir(
        ClusterOptions {
            archive: false,
            extra_conf: vec!["wal_level = logical".into()],
        },
        bindir,
    );
    let db = "walshop";
    cluster.psql("postgres", "CREATE DATABASE walshop");
    cluster.psql(
        db,
        "CREATE TABLE orders (id int PRIMARY KEY, note text); \
         INSERT INTO orders SELECT g, 'n' FROM generate_series(1, 300) g; \
         CREATE TABLE events (id int); INSERT INTO events SELECT generate_series(1, 70)",
    );
    let events_oid = cluster.psql(db, "SELECT 'events'::regclass::oid");
    let x_delete = cluster.psql(
        db,
        "CREATE TEMP TABLE x AS SELECT txid_current() AS xid; DELETE FROM orders WHERE id <= 120; SELECT xid FROM x",
    );
    let x_truncate = cluster.psql(
        db,
        "CREATE TEMP TABLE y AS SELECT txid_current() AS xid; TRUNCATE events; SELECT xid FROM y",
    );
    cluster.psql(db, "CHECKPOINT; SELECT pg_switch_wal()");
    let tmp = tempfile::tempdir().expect("tmp");
    let wal = tmp.path().join("wal");
    std::fs::create_dir_all(&wal).expect("mkdir");
    for e in std::fs::read_dir(cluster.data.join("pg_wal"))
        .expect("pg_wal")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        if name.len() == 24 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            std::fs::copy(e.path(), wal.join(&name)).expect("copy segment");
        }
    }
    let out = tmp.path().join("evidence.json");
    ok(&[
        "collect",
        "--db",
        &cluster.url(db),
        "--wal",
        wal.to_str().unwrap_or(""),
        "-o",
        out.to_str().unwrap_or(""),
    ]);
    let ev: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("evidence")).expect("json");
    let txs = ev["wal"]["transactions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let tx = |xid: &str| {
        txs.iter()
            .find(|t| t["xid"].as_u64().map(|x| x.to_string()).as_deref() == Some(xid))
            .cloned()
            .unwrap_or_else(|| panic!("PG {major}: xid {xid} not in {txs:#?}"))
    };
    let d = tx(&x_delete);
    assert_eq!(d["outcome"], "committed", "PG {major}: {d:#}");
    assert_eq!(d["rows"][0]["deleted"], 120, "PG {major}: {d:#}");
    let t = tx(&x_truncate);
    assert_eq!(t["outcome"], "committed", "PG {major}: {t:#}");
    assert!(
        t["truncated_oids"].to_string().contains(&events_oid),
        "PG {major}: {t:#}"
    );
    assert!(
        t["end_lsn"].as_str().is_some_and(|l| l.contains('/')),
        "PG {major}: {t:#}"
    );
}

#[test]
fn wal_of_postgresql_16() {
    wal_scenario(16);
}

#[test]
fn wal_of_postgresql_17() {
    wal_scenario(17);
}

/// PostgreSQL 18's WAL read natively and checked against pg_walinspect 18 on the same server:
/// a DELETE, a TRUNCATE, a DROP (18 widened the dropped-stats items of the COMMIT record to
/// 16 bytes) and two-phase commits (committed, rolled back, in doubt) give the same
/// transactions from both.
#[test]
fn wal_of_postgresql_18() {
    wal_scenario(18);
    let Some(bindir) = bindir_for(18) else {
        return;
    };
    let cluster = PgCluster::start_with_bindir(
        ClusterOptions {
            archive: false,
            extra_conf: vec![
                "wal_level = logical".into(),
                "max_prepared_transactions = 3".into(),
            ],
        },
        bindir,
    );
    let db = "wal18";
    cluster.psql("postgres", "CREATE DATABASE wal18");
    cluster.psql(db, "CREATE EXTENSION pg_walinspect");
    cluster.psql(
        db,
        "CREATE TABLE orders (id int PRIMARY KEY, note text); \
         INSERT INTO orders SELECT g, 'n' FROM generate_series(1, 300) g; \
         CREATE TABLE events (id int); INSERT INTO events SELECT generate_series(1, 70); \
         CREATE TABLE legacy (id int PRIMARY KEY); INSERT INTO legacy SELECT generate_series(1, 50)",
    );
    for sql in [
        "DELETE FROM orders WHERE id <= 100",
        "TRUNCATE events",
        "DROP TABLE legacy",
        "BEGIN; DELETE FROM orders WHERE id <= 150; PREPARE TRANSACTION 'p1'",
        "COMMIT PREPARED 'p1'",
        "BEGIN; DELETE FROM orders WHERE id <= 200; PREPARE TRANSACTION 'p2'",
        "ROLLBACK PREPARED 'p2'",
        "BEGIN; DELETE FROM orders WHERE id <= 250; PREPARE TRANSACTION 'p3'",
    ] {
        cluster.psql(db, sql);
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let live = tmp.path().join("live.json");
    ok(&[
        "collect",
        "--db",
        &cluster.url(db),
        "-o",
        live.to_str().unwrap_or(""),
    ]);
    cluster.psql(db, "CHECKPOINT");
    let wal = tmp.path().join("wal");
    std::fs::create_dir_all(&wal).expect("mkdir");
    for e in std::fs::read_dir(cluster.data.join("pg_wal"))
        .expect("pg_wal")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        if name.len() == 24 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            std::fs::copy(e.path(), wal.join(&name)).expect("copy segment");
        }
    }
    let native = tmp.path().join("native.json");
    ok(&[
        "collect",
        "--db",
        &cluster.url(db),
        "--wal",
        wal.to_str().unwrap_or(""),
        "-o",
        native.to_str().unwrap_or(""),
    ]);
    cluster.psql(db, "COMMIT PREPARED 'p3'");
    let load = |p: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(p).expect("evidence")).expect("json")
    };
    let (live, native) = (load(&live), load(&native));
    assert_eq!(
        live["wal"]["source"], "pg_walinspect",
        "{:#}",
        live["wal_unavailable"]
    );
    assert_eq!(native["wal"]["source"], "wal_directory");
    assert_eq!(native["wal"]["major_version"], 18);
    let from = [&live, &native]
        .iter()
        .filter_map(|e| {
            e["wal"]["start_lsn"]
                .as_str()
                .and_then(pgtriage::evidence::parse_lsn)
        })
        .max()
        .unwrap_or(0);
    // Up to where pg_walinspect read (the native read also sees the CHECKPOINT after it).
    let to = live["wal"]["end_lsn"]
        .as_str()
        .and_then(pgtriage::evidence::parse_lsn)
        .unwrap_or(0);
    let txs = |ev: &Value| -> Vec<Value> {
        ev["wal"]["transactions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                let l = t["end_lsn"]
                    .as_str()
                    .or(t["prepared_lsn"].as_str())
                    .and_then(pgtriage::evidence::parse_lsn)
                    .unwrap_or(0);
                l >= from && l <= to
            })
            .map(|t| {
                let mut t = t.clone();
                t["first_lsn"] = Value::Null;
                t
            })
            .collect()
    };
    let (a, b) = (txs(&live), txs(&native));
    assert_eq!(a, b, "PG 18: pg_walinspect and the native reader disagree");
    let outcomes: Vec<&str> = a.iter().filter_map(|t| t["outcome"].as_str()).collect();
    assert!(a.len() >= 6, "PG 18: {a:#?}");
    for o in ["committed", "aborted", "prepared"] {
        assert!(outcomes.contains(&o), "PG 18: no {o} in {outcomes:?}");
    }
    assert!(
        a.iter().any(
            |t| t["dropped_stats"].as_array().is_some_and(|d| !d.is_empty())
                && t["rows"].as_array().is_some_and(|r| r.is_empty())
        ),
        "PG 18: no DROP with its dropped stats in {a:#?}"
    );
}
