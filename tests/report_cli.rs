//! `pgtriage report` on evidence files: the JSON contract, Markdown that agrees with it,
//! byte-identical output, template overrides, and one-line errors for bad input. (The
//! end-to-end tests on a real incident are in report_e2e.rs.)

use std::path::Path;

use assert_cmd::Command;
use chrono::{DateTime, TimeZone, Utc};
use pgtriage::evidence::{
    DatabaseSnapshot, EventKind, Evidence, ForeignKey, LogEvent, ServerInfo, SessionInfo,
    TableStats, Timeline, TxOutcome,
};

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, h, m, s)
        .single()
        .unwrap_or_default()
}

fn table(name: &str, oid: u32, ins: i64, live: i64) -> TableStats {
    TableStats {
        schema: "public".into(),
        name: name.into(),
        oid,
        relfilenode: oid,
        relkind: "r".into(),
        persistence: None,
        partition_parent: None,
        n_tup_ins: Some(ins),
        n_tup_upd: Some(0),
        n_tup_del: Some(0),
        n_tup_hot_upd: Some(0),
        n_live_tup: Some(live),
        n_dead_tup: Some(0),
        n_mod_since_analyze: Some(0),
        n_ins_since_vacuum: Some(0),
        last_vacuum: Some(at(12, 0, 0)),
        last_autovacuum: None,
        last_analyze: Some(at(12, 0, 0)),
        last_autoanalyze: None,
        vacuum_count: Some(1),
        autovacuum_count: Some(0),
        analyze_count: Some(1),
        autoanalyze_count: Some(0),
        reltuples: ins as f64,
        relpages: 7,
        size_bytes: Some(7 * 8192),
        catalog_xmin_age: Some(10),
        catalog_commit_time: Some(at(11, 0, 0)),
        reloptions: Vec::new(),
    }
}

fn truncated(mut t: TableStats, rfn: u32) -> TableStats {
    t.n_live_tup = Some(0);
    t.relfilenode = rfn;
    t.reltuples = -1.0;
    t.relpages = 0;
    t.size_bytes = Some(0);
    t.catalog_commit_time = Some(at(12, 9, 55));
    t
}

fn fk(child: &str, parent: &str, on_delete: &str) -> ForeignKey {
    ForeignKey {
        name: format!("{child}_fkey"),
        schema: "public".into(),
        table: child.into(),
        columns: vec!["parent_id".into()],
        ref_schema: "public".into(),
        ref_table: parent.into(),
        ref_columns: vec!["id".into()],
        on_delete: on_delete.into(),
        on_update: "no_action".into(),
    }
}

/// Scenario 4 of pg-forensics.md: TRUNCATE parent CASCADE over four tables.
fn truncate_cascade() -> Evidence {
    let mut ev = Evidence::new(at(13, 0, 0));
    ev.database = Some(DatabaseSnapshot {
        server: ServerInfo {
            version_num: 150018,
            version: "PostgreSQL 15.18".into(),
            host: "localhost".into(),
            port: 5432,
            database: "shop".into(),
            user: "postgres".into(),
            current_database: None,
            datid: Some(16606),
            system_identifier: Some("7711338868751096573".into()),
            timeline_id: Some(1),
            checkpoint_time: None,
            postmaster_start_time: Some(at(9, 0, 0)),
            in_recovery: Some(false),
            server_time: at(13, 0, 0),
        },
        database_stats: None,
        archiver: None,
        bgwriter_stats_reset: Some(at(8, 59, 0)),
        settings: [
            ("log_statement", "all"),
            ("archive_mode", "on"),
            ("track_commit_timestamp", "on"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        tables: vec![
            truncated(table("child_cascade", 16615, 2000, 2000), 16663),
            truncated(table("child_restrict", 16639, 1000, 1000), 16667),
            truncated(table("grandchild", 16627, 2000, 2000), 16671),
            truncated(table("parent", 16607, 1000, 1000), 16659),
            table("users", 16500, 11, 11),
        ],
        foreign_keys: vec![
            fk("child_cascade", "parent", "cascade"),
            fk("child_restrict", "parent", "no_action"),
            fk("grandchild", "child_cascade", "cascade"),
        ],
        sequences: vec![],
        dropped_columns: Vec::new(),
        not_visible: vec![],
    });
    ev.timeline = Some(Timeline {
        sources: vec![],
        events: vec![LogEvent {
            at: at(12, 9, 55),
            kind: EventKind::Truncate,
            source: "log:postgresql.log:42".into(),
            session: SessionInfo {
                pid: Some(25024),
                session_id: None,
                user: Some("deploy".into()),
                database: Some("shop".into()),
                application: Some("psql".into()),
                host: Some("10.0.0.7".into()),
            },
            severity: Some("LOG".into()),
            sqlstate: None,
            text: "TRUNCATE parent CASCADE;".into(),
            tables: vec!["parent".into()],
            cascade: true,
            outcome: Some(TxOutcome::Committed),
            detail: None,
            rows: None,
            migration: None,
        }],
        counts: vec![],
        problems: vec![],
    });
    ev
}

fn write_evidence(dir: &Path, ev: &Evidence) -> std::path::PathBuf {
    let path = dir.join("evidence.json");
    std::fs::write(&path, ev.to_json()).expect("write evidence");
    path
}

fn run(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("pgtriage")
        .expect("binary")
        .args(args)
        .output()
        .expect("run")
}

#[test]
fn json_report_follows_the_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ev = write_evidence(dir.path(), &truncate_cascade());
    let out = run(&[
        "report",
        ev.to_str().unwrap_or_default(),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["format"], "pgtriage-report/1");
    let top = &json["hypotheses"][0];
    assert_eq!(top["kind"], "cascade");
    assert_eq!(top["rank"], 1);
    assert_eq!(top["parent"], "public.parent");
    assert_eq!(top["statement"], "TRUNCATE parent CASCADE;");
    assert_eq!(top["session"]["user"], "deploy");
    let tables: Vec<&str> = top["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    assert_eq!(
        tables,
        [
            "public.child_cascade",
            "public.child_restrict",
            "public.grandchild",
            "public.parent"
        ]
    );
    for e in top["evidence"].as_array().into_iter().flatten() {
        assert!(e["supports"].is_boolean() && e["source"].is_string() && e["text"].is_string());
    }
    for t in json["tables"].as_array().into_iter().flatten() {
        for field in [
            "schema",
            "name",
            "inserts",
            "updates",
            "deletes",
            "live_rows",
            "dead_rows",
            "expected_rows",
            "status",
        ] {
            assert!(t.get(field).is_some(), "table lacks {field}: {t}");
        }
    }
    let parent = json["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == "parent")
        .cloned()
        .unwrap_or_default();
    assert_eq!(parent["status"], "wiped");
    assert_eq!(parent["expected_rows"], 1000);
    assert_eq!(parent["explanation"], "cascade");
    let users = json["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == "users")
        .cloned()
        .unwrap_or_default();
    assert_eq!(users["status"], "intact");
    for e in json["timeline"].as_array().into_iter().flatten() {
        let at = e["at"].as_str().unwrap_or_default();
        assert!(DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
        assert!(at.ends_with('Z'), "{at} is not UTC");
    }
    assert!(json["ruled_out"].as_array().is_some_and(|r| !r.is_empty()));
    assert!(json["migrations"].is_array());
}

#[test]
fn markdown_report_has_every_section_in_order_and_is_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ev = write_evidence(dir.path(), &truncate_cascade());
    let a = dir.path().join("a.md");
    let b = dir.path().join("b.md");
    for out in [&a, &b] {
        let o = run(&[
            "report",
            ev.to_str().unwrap_or_default(),
            "-o",
            out.to_str().unwrap_or_default(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let md = std::fs::read_to_string(&a).expect("md");
    assert_eq!(
        md,
        std::fs::read_to_string(&b).expect("md"),
        "same evidence, same bytes"
    );
    // The postmortem's order: impact first, the story, the evidence, recovery, follow-up.
    let sections = [
        "## Impact",
        "## Immediate actions",
        "## What happened",
        "## Root cause and contributing factors",
        "## Timeline (UTC)",
        "## Findings, ranked",
        "## Ruled out",
        "## Foreign-key blast radius",
        "## Recovery",
        "## Action items",
        "## Lessons",
    ];
    // The appendix lists the inputs the evidence names; this hand-made evidence names none.
    assert!(!md.contains("## Appendix"), "an empty appendix:\n{md}");
    let mut last = 0;
    for s in sections {
        let pos = md.find(s).unwrap_or_else(|| panic!("missing {s}"));
        assert!(pos >= last, "{s} out of order");
        last = pos;
    }
    assert!(md.contains("### #1 cascade — confidence 1.00"));
    // Every flagged table is in the Impact table, so "Table counters" (which lists only the
    // tables the Impact table does not) is left out; the plan's check step is the
    // verification, so "Verification plan" is too.
    assert!(
        md.contains("| `public.parent` | TRUNCATE … CASCADE | 1000 |"),
        "{md}"
    );
    assert!(!md.contains("## Table counters"), "{md}");
    assert!(!md.contains("## Verification plan"), "{md}");
    assert!(md.contains("pgtriage verify --exact --baseline"), "{md}");
    assert!(md.contains("```mermaid"));
    // Archiving is on: PITR to the TRUNCATE's time, exclusive (the plan of its own event).
    assert!(
        md.contains("recovery_target_time = '2026-11-23 12:09:55.000000+00'"),
        "{md}"
    );
    assert!(md.contains("Keep the WAL archive"));
}

#[test]
fn a_template_and_a_partial_can_be_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ev = write_evidence(dir.path(), &truncate_cascade());
    // Whole replacement.
    let own = dir.path().join("own.md.j2");
    std::fs::write(
        &own,
        "top={{ report.hypotheses[0].kind }} tables={{ report.tables | length }}\n",
    )
    .expect("write");
    let out = run(&[
        "report",
        ev.to_str().unwrap_or_default(),
        "--template",
        own.to_str().unwrap_or_default(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "top=cascade tables=5\n"
    );
    // Partial override: extend the embedded report, replace one partial next to the template.
    let pdir = dir.path().join("partials");
    std::fs::create_dir_all(&pdir).expect("mkdir");
    std::fs::write(
        pdir.join("action_items.md.j2"),
        "## Action items\n\nOUR RUNBOOK\n",
    )
    .expect("write");
    let ext = dir.path().join("ext.md.j2");
    std::fs::write(&ext, "{% extends \"report.md.j2\" %}\n").expect("write");
    let out = run(&[
        "report",
        ev.to_str().unwrap_or_default(),
        "--template",
        ext.to_str().unwrap_or_default(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("OUR RUNBOOK"));
    assert!(md.contains("## Findings, ranked"));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{ not json").expect("write");
    for args in [
        vec!["report", bad.to_str().unwrap_or_default()],
        vec!["report", "/nonexistent/evidence.json"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("evidence"), "{err}");
    }
    let ev = write_evidence(dir.path(), &truncate_cascade());
    let broken = dir.path().join("broken.md.j2");
    std::fs::write(&broken, "{% if %}").expect("write");
    let out = run(&[
        "report",
        ev.to_str().unwrap_or_default(),
        "--template",
        broken.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.md.j2"));
    let out = run(&[
        "report",
        ev.to_str().unwrap_or_default(),
        "--since",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since"));
}
