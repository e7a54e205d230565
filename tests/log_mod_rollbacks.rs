//! With `log_statement = 'mod'` PostgreSQL logs INSERT, DELETE and TRUNCATE but never BEGIN,
//! COMMIT or ROLLBACK: `BEGIN; DELETE FROM ledger; ROLLBACK;` leaves the line `DELETE FROM
//! ledger` alone, exactly as a committed autocommit DELETE would. On a real PostgreSQL 15, in
//! one run: a rolled-back `DELETE FROM ledger`, a rolled-back `TRUNCATE notes`, a rolled-back
//! `INSERT` into `tags`, and — the control — a committed `DELETE FROM audit`; collected with the
//! log, with and without a baseline, as they are and after a crash (every counter zeroed, the
//! tables counted). The report must say the log cannot tell how the statements ended, rule the
//! rolled-back ones out by what their tables show (deletes counted but n_live_tup kept, rows
//! still there by count(*), the file never swapped), and still find the committed DELETE.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{ClusterOptions, PgCluster, path_str as path, pgtriage_stdout as pgtriage};

fn table<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("{name} not in the report"))
}

fn explanation<'a>(report: &'a Value, name: &str) -> &'a Value {
    let rank = &table(report, name)["explanation_rank"];
    report["hypotheses"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| &h["rank"] == rank))
        .unwrap_or(&Value::Null)
}

fn ruled_out<'a>(report: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    report["ruled_out"].as_array().and_then(|rs| {
        rs.iter().find(|r| {
            r["kind"] == kind
                && r["tables"]
                    .as_array()
                    .is_some_and(|ts| ts.iter().any(|t| t == name))
        })
    })
}

fn mod_cluster() -> PgCluster {
    PgCluster::start(ClusterOptions {
        extra_conf: vec![
            "log_statement = 'mod'".into(),
            "autovacuum = off".into(),
            // A COMMIT must reach the WAL before a staged crash.
            "synchronous_commit = on".into(),
        ],
        ..ClusterOptions::default()
    })
}

/// Tables with rows, a baseline, then the three rolled-back statements and the committed one.
fn stage(pg: &PgCluster, db: &str, baseline: &Path) {
    pg.psql_script(
        db,
        "CREATE TABLE ledger (id int PRIMARY KEY, v text);
         CREATE TABLE notes (id int PRIMARY KEY, v text);
         CREATE TABLE tags (id int PRIMARY KEY, v text);
         CREATE TABLE audit (id int PRIMARY KEY, v text);
         INSERT INTO ledger SELECT g, 'l' FROM generate_series(1, 500) g;
         INSERT INTO notes SELECT g, 'n' FROM generate_series(1, 300) g;
         INSERT INTO tags SELECT g, 't' FROM generate_series(1, 200) g;
         INSERT INTO audit SELECT g, 'a' FROM generate_series(1, 400) g;",
        false,
    );
    // In sessions of their own: INSERT then VACUUM ANALYZE in one session double-counts
    // n_live_tup (README, `collect --exact-counts`).
    for t in ["ledger", "notes", "tags", "audit"] {
        pg.psql(db, &format!("VACUUM ANALYZE {t}"));
    }
    pg.flush_stats(db);
    pgtriage(&["collect", "--db", &pg.url(db), "-o", path(baseline)]);
    pg.psql_script(db, "BEGIN;\nDELETE FROM ledger;\nROLLBACK;\n", false);
    pg.psql_script(db, "BEGIN;\nTRUNCATE notes;\nROLLBACK;\n", false);
    pg.psql_script(
        db,
        "BEGIN;\nINSERT INTO tags SELECT g, 'x' FROM generate_series(1000, 1999) g;\nROLLBACK;\n",
        false,
    );
    pg.psql(db, "DELETE FROM audit");
    pg.flush_stats(db);
    pg.wait_for_log(
        |t| t.contains("DELETE FROM audit"),
        std::time::Duration::from_secs(5),
    );
}

/// `collect --log` (with the baseline when given) and `report --format json`.
fn report(pg: &PgCluster, db: &str, work: &Path, baseline: Option<&Path>) -> Value {
    let log = pg.log_dir().join("postgresql.log");
    let evidence = work.join(if baseline.is_some() {
        "with-baseline.json"
    } else {
        "without-baseline.json"
    });
    let url = pg.url(db);
    let mut args = vec!["collect", "--db", &url, "--log", path(&log)];
    if let Some(b) = baseline {
        args.extend(["--baseline", path(b)]);
    }
    args.extend(["-o", path(&evidence)]);
    pgtriage(&args);
    serde_json::from_slice(&pgtriage(&["report", path(&evidence), "--format", "json"]))
        .expect("report json")
}

/// What must hold of every report of the run, whatever the baseline and the crash.
fn check(report: &Value, label: &str) {
    // The log shows the statements but not how their transactions ended.
    let outcomes: Vec<(&Value, &Value)> = report["timeline"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter(|e| e["kind"] == "delete_all" || e["kind"] == "truncate")
                .map(|e| (&e["text"], &e["outcome"]))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(outcomes.len(), 3, "{label}: {outcomes:?}");
    assert!(
        outcomes.iter().all(|(_, o)| *o == "unknown"),
        "{label}: {outcomes:?}"
    );
    for (name, kind) in [("ledger", "delete"), ("notes", "truncate")] {
        let t = table(report, name);
        assert_ne!(t["status"], "wiped", "{label}: {t}");
        let first = explanation(report, name);
        assert_ne!(
            first["loss"], true,
            "{label}: {name} read as a loss: {first}"
        );
        let r = ruled_out(report, kind, &format!("public.{name}"))
            .unwrap_or_else(|| panic!("{label}: {kind} on {name} not ruled out"));
        assert!(
            r["reason"]
                .as_str()
                .is_some_and(|s| s.contains("did not take effect")),
            "{label}: {r}"
        );
    }
    let tags = table(report, "tags");
    assert_eq!(tags["status"], "intact", "{label}: {tags}");
    assert_ne!(explanation(report, "tags")["loss"], true, "{label}");
    // The control: the committed DELETE is the loss, pinned to its statement.
    let audit = explanation(report, "audit");
    assert_eq!(audit["kind"], "delete", "{label}: {audit}");
    assert_eq!(audit["loss"], true, "{label}: {audit}");
    assert_eq!(audit["statement"], "DELETE FROM audit", "{label}: {audit}");
    let factors = report["causes"]["contributing"].to_string();
    assert!(
        factors.contains("`DELETE FROM audit` has no WHERE clause"),
        "{label}: {factors}"
    );
    assert!(
        !factors.contains("DELETE FROM ledger"),
        "{label}: {factors}"
    );
}

#[test]
fn rolled_back_statements_logged_by_log_statement_mod_are_ruled_out_by_their_tables() {
    let pg = mod_cluster();
    let db = pg.fresh_database("logmod");
    let work = tempfile::tempdir().expect("tempdir");
    let baseline = work.path().join("baseline.json");
    stage(&pg, &db, &baseline);
    for base in [Some(baseline.as_path()), None] {
        let r = report(&pg, &db, work.path(), base);
        let label = if base.is_some() {
            "with a baseline"
        } else {
            "without a baseline"
        };
        check(&r, label);
        // The counters did not restart: they tell the rolled-back DELETE by its deletes.
        let ledger = ruled_out(&r, "delete", "public.ledger").expect("ruled out");
        assert_eq!(
            ledger["source"], "stats:public.ledger.n_tup_del",
            "{ledger}"
        );
        assert!(
            ledger["reason"]
                .as_str()
                .is_some_and(|s| s.contains("n_live_tup 500 did not fall")),
            "{ledger}"
        );
        // The rolled-back INSERT: n_tup_ins +1000, as many dead tuples, n_live_tup kept.
        let tags = explanation(&r, "tags");
        assert_eq!(tags["kind"], "rollback", "{label}");
        assert!(
            tags["statement"]
                .as_str()
                .is_some_and(|s| s.starts_with("INSERT INTO tags")),
            "{label}: the rollback names the INSERT: {tags}"
        );
        assert_eq!(table(&r, "audit")["deletes"], 400);
    }
}

#[test]
fn after_a_crash_the_counted_rows_tell_the_rolled_back_from_the_committed() {
    let mut pg = mod_cluster();
    let db = pg.fresh_database("logmod_crash");
    let work = tempfile::tempdir().expect("tempdir");
    let baseline = work.path().join("baseline.json");
    stage(&pg, &db, &baseline);
    pg.stop_server("immediate");
    pg.start_server();
    for base in [Some(baseline.as_path()), None] {
        let r = report(&pg, &db, work.path(), base);
        let label = if base.is_some() {
            "crash, with a baseline"
        } else {
            "crash, without a baseline"
        };
        check(&r, label);
        let ledger = ruled_out(&r, "delete", "public.ledger").expect("ruled out");
        assert_eq!(
            ledger["source"], "evidence:exact_counts.counted.public.ledger",
            "{label}: {ledger}"
        );
        assert_eq!(table(&r, "ledger")["counted_rows"], 500, "{label}");
        assert_eq!(table(&r, "audit")["counted_rows"], 0, "{label}");
        assert_eq!(table(&r, "audit")["missing_rows"], 400, "{label}");
        // Nothing was lost from the rolled-back tables: the crash explains their counters.
        for name in ["ledger", "notes"] {
            assert_eq!(
                explanation(&r, name)["kind"],
                "stats_reset",
                "{label}: {name}"
            );
        }
    }
}
