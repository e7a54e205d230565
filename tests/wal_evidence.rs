//! WAL evidence on a real PostgreSQL with `log_statement = 'none'` (no statement reaches the
//! log): five incidents, each checked against the test's own `txid_current()`, `pg_class.xmin`
//! and pg_walinspect's COMMIT record; pg_walinspect (live) and pg_waldump (over the archive)
//! must give the same transactions; a point-in-time recovery with the printed
//! `recovery_target_lsn` brings the deleted rows back; bad WAL directories give one-line errors
//! (exit 2) or named gaps.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use serde_json::Value;
use support::{ClusterOptions, PgCluster};

const SCHEMA: &str = "
CREATE TABLE orders (id int PRIMARY KEY, note text);
INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 500) g;
CREATE TABLE parent (id int PRIMARY KEY);
INSERT INTO parent SELECT generate_series(1, 100);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE);
INSERT INTO child SELECT g, 1 + g % 100 FROM generate_series(1, 200) g;
CREATE TABLE legacy (id int PRIMARY KEY);
INSERT INTO legacy SELECT generate_series(1, 50);
CREATE TABLE accounts (id int PRIMARY KEY);
INSERT INTO accounts SELECT generate_series(1, 40);
CREATE TABLE events (id int PRIMARY KEY);
INSERT INTO events SELECT generate_series(1, 70);
CREATE TABLE sessions (id int PRIMARY KEY);
INSERT INTO sessions SELECT generate_series(1, 10);
CREATE TABLE audit (id int);
CREATE TABLE imported (id int);
COPY imported FROM PROGRAM 'seq 1 300';
";

fn pgtriage(args: &[&str]) -> (i32, String, String) {
    pgtriage_with(&[], args)
}

fn pgtriage_with(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .args(args)
        .envs(env.iter().copied())
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("PGDATABASE")
        .env_remove("PGPORT")
        .output()
        .expect("run pgtriage");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Runs `sql` (ending in `SELECT txid_current()`) in one session and returns that xid.
fn xid_of(cluster: &PgCluster, db: &str, sql: &str) -> u32 {
    let out = cluster.psql_script(db, sql, false);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .rev()
        .find_map(|l| l.trim().parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no txid in the output of {sql}: {text}"))
}

/// pg_walinspect's own COMMIT (or ABORT) LSN for `xid`: the reference the report must match.
fn walinspect_end_lsn(cluster: &PgCluster, db: &str, from: &str, xid: u32) -> String {
    cluster.psql(
        db,
        &format!(
            "SELECT start_lsn FROM pg_get_wal_records_info('{from}', pg_current_wal_flush_lsn()) \
             WHERE xid = '{xid}' AND resource_manager = 'Transaction' AND record_type IN ('COMMIT', 'ABORT')"
        ),
    )
}

fn finding_with_xid(report: &Value, xid: u32) -> Option<&Value> {
    report["hypotheses"]
        .as_array()?
        .iter()
        .find(|h| h["transaction"]["xid"].as_u64() == Some(u64::from(xid)))
}

fn rows(tx: &Value, table: &str) -> (String, Option<u64>) {
    let r = tx["rows"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["table"] == table))
        .unwrap_or_else(|| panic!("{table} not in {tx:#}"));
    (
        r["change"].as_str().unwrap_or("").to_string(),
        r["rows"].as_u64(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() == 24)
        })
        .collect();
    v.sort();
    v
}

/// The transactions of an evidence file, in a form both sources must agree on.
fn transactions(evidence: &Value, from_lsn: u64) -> Vec<Value> {
    evidence["wal"]["transactions"]
        .as_array()
        .expect("wal.transactions")
        .iter()
        .filter(|t| {
            t["end_lsn"]
                .as_str()
                .and_then(pgtriage::evidence::parse_lsn)
                .is_some_and(|l| l >= from_lsn)
        })
        .map(|t| {
            let mut t = t.clone();
            // The first record seen depends on where each source starts reading.
            t["first_lsn"] = Value::Null;
            t
        })
        .collect()
}

#[test]
fn wal_names_the_exact_transactions_and_the_recovery_target_recovers() {
    let cluster = PgCluster::start(ClusterOptions {
        extra_conf: vec![
            "log_statement = 'none'".into(),
            "wal_level = logical".into(),
            "autovacuum = off".into(),
        ],
        archive: true,
    });
    let db = cluster.fresh_database("wal");
    cluster.psql(&db, "CREATE EXTENSION pg_walinspect");
    cluster.psql_script(&db, SCHEMA, false);
    let base = cluster.base_backup();
    let before = cluster.psql(&db, "SELECT pg_current_wal_insert_lsn()");
    let tmp = tempfile::tempdir().expect("tmp");

    // 1. a DELETE
    let x_delete = xid_of(
        &cluster,
        &db,
        "BEGIN; DELETE FROM orders WHERE id <= 300; SELECT txid_current(); COMMIT;",
    );
    // 2. TRUNCATE … CASCADE
    let x_truncate = xid_of(
        &cluster,
        &db,
        "BEGIN; TRUNCATE parent CASCADE; SELECT txid_current(); COMMIT;",
    );
    // 3. DROP TABLE + CREATE
    let x_drop = xid_of(
        &cluster,
        &db,
        "BEGIN; DROP TABLE legacy; SELECT txid_current(); COMMIT; \
         CREATE TABLE legacy (id int PRIMARY KEY); INSERT INTO legacy VALUES (1), (2), (3);",
    );
    // 4. a rolled-back DELETE
    let x_rollback = xid_of(
        &cluster,
        &db,
        "BEGIN; DELETE FROM accounts; SELECT txid_current(); ROLLBACK;",
    );
    // 5. a TRUNCATE inside a transaction with other writes
    let x_mixed = xid_of(
        &cluster,
        &db,
        "BEGIN; INSERT INTO audit VALUES (1); DELETE FROM sessions WHERE id <= 5; \
         TRUNCATE events; SELECT txid_current(); COMMIT;",
    );
    // The live server keeps the TRUNCATE's xid in pg_class.xmin.
    for t in ["parent", "child"] {
        assert_eq!(
            cluster.psql(
                &db,
                &format!("SELECT xmin::text FROM pg_class WHERE oid = '{t}'::regclass")
            ),
            x_truncate.to_string()
        );
    }
    assert_eq!(
        cluster.psql(
            &db,
            "SELECT xmin::text FROM pg_class WHERE oid = 'events'::regclass"
        ),
        x_mixed.to_string()
    );
    cluster.flush_stats(&db);
    cluster.archive_everything();

    // Both sources.
    let live = tmp.path().join("live.json");
    let dumped = tmp.path().join("dumped.json");
    let url = cluster.url(&db);
    let archive = cluster.archive_dir();
    let (code, _, err) = pgtriage(&["collect", "--db", &url, "-o", live.to_str().unwrap_or("")]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = pgtriage(&[
        "collect",
        "--db",
        &url,
        "--wal",
        archive.to_str().unwrap_or(""),
        "-o",
        dumped.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let live_ev: Value =
        serde_json::from_str(&std::fs::read_to_string(&live).expect("read")).expect("json");
    let dumped_ev: Value =
        serde_json::from_str(&std::fs::read_to_string(&dumped).expect("read")).expect("json");
    assert_eq!(live_ev["wal"]["source"], "pg_walinspect");
    assert_eq!(dumped_ev["wal"]["source"], "wal_directory");
    assert_eq!(dumped_ev["wal"]["major_version"], 15);
    let from = [&live_ev, &dumped_ev]
        .iter()
        .filter_map(|e| {
            e["wal"]["start_lsn"]
                .as_str()
                .and_then(pgtriage::evidence::parse_lsn)
        })
        .max()
        .unwrap_or(0);
    let live_txs = transactions(&live_ev, from);
    let dumped_txs = transactions(&dumped_ev, from);
    assert!(live_txs.len() >= 5, "{live_txs:#?}");
    assert_eq!(
        live_txs, dumped_txs,
        "pg_walinspect and pg_waldump disagree"
    );

    // The report from the archive.
    let report_path = tmp.path().join("report.json");
    let (code, _, err) = pgtriage(&[
        "report",
        dumped.to_str().unwrap_or(""),
        "--format",
        "json",
        "-o",
        report_path.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("read")).expect("json");

    // 1. DELETE: xid, commit LSN, exact rows, scored as a WAL record.
    let f = finding_with_xid(&report, x_delete).unwrap_or_else(|| panic!("{report:#}"));
    let tx = &f["transaction"];
    assert_eq!(tx["outcome"], "committed");
    assert_eq!(
        tx["commit_lsn"].as_str(),
        Some(walinspect_end_lsn(&cluster, &db, &before, x_delete).as_str())
    );
    assert_eq!(
        tx["source"],
        format!("wal:{}", tx["commit_lsn"].as_str().unwrap_or(""))
    );
    assert_eq!(rows(tx, "public.orders"), ("deleted".into(), Some(300)));
    assert!(
        f["score"]
            .as_array()
            .is_some_and(|s| s.iter().any(|l| l["reason"] == "wal_record")),
        "{f:#}"
    );
    // 2. TRUNCATE … CASCADE: one xid, both tables, the rows they held.
    let f = finding_with_xid(&report, x_truncate).unwrap_or_else(|| panic!("{report:#}"));
    let tx = &f["transaction"];
    assert_eq!(
        tx["commit_lsn"].as_str(),
        Some(walinspect_end_lsn(&cluster, &db, &before, x_truncate).as_str())
    );
    assert_eq!(rows(tx, "public.parent"), ("truncated".into(), Some(100)));
    assert_eq!(rows(tx, "public.child"), ("truncated".into(), Some(200)));
    // 3. DROP TABLE + CREATE: the drop's xid and the 50 rows the old table held.
    let f = finding_with_xid(&report, x_drop).unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(
        rows(&f["transaction"], "public.legacy"),
        ("dropped".into(), Some(50))
    );
    assert_eq!(
        f["transaction"]["commit_lsn"].as_str(),
        Some(walinspect_end_lsn(&cluster, &db, &before, x_drop).as_str())
    );
    // 4. the rolled-back DELETE is no loss.
    assert!(
        report["hypotheses"]
            .as_array()
            .is_some_and(|hs| hs.iter().all(|h| h["loss"] != true
                || !h["tables"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "public.accounts")))),
        "{report:#}"
    );
    assert!(
        finding_with_xid(&report, x_rollback)
            .is_none_or(|f| f["transaction"]["outcome"] == "aborted")
    );
    // 5. TRUNCATE with other writes: the truncated table and the deleted rows, one xid.
    let f = finding_with_xid(&report, x_mixed).unwrap_or_else(|| panic!("{report:#}"));
    let tx = &f["transaction"];
    assert_eq!(rows(tx, "public.events"), ("truncated".into(), Some(70)));
    assert_eq!(rows(tx, "public.sessions"), ("deleted".into(), Some(5)));
    assert_eq!(
        tx["commit_lsn"].as_str(),
        Some(walinspect_end_lsn(&cluster, &db, &before, x_mixed).as_str())
    );
    // The timeline shows each WAL transaction with its LSN.
    let delete_lsn = walinspect_end_lsn(&cluster, &db, &before, x_delete);
    assert!(
        report["timeline"]
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["kind"] == "wal_committed"
                && e["source"] == format!("wal:{delete_lsn}")
                && e["text"]
                    .as_str()
                    .is_some_and(|s| s.contains(&format!("xid {x_delete}"))))),
        "{:#}",
        report["timeline"]
    );
    // The Markdown report shows the transaction and the exact target.
    let md_path = tmp.path().join("report.md");
    let (code, _, err) = pgtriage(&[
        "report",
        dumped.to_str().unwrap_or(""),
        "-o",
        md_path.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let md = std::fs::read_to_string(&md_path).expect("md");
    assert!(
        md.contains(&format!(
            "Transaction (WAL): xid {x_delete} committed at LSN `{delete_lsn}`"
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!("recovery_target_lsn = '{delete_lsn}'")),
        "{md}"
    );
    // The commit instant: in the hypothesis, and as a milestone of the Mermaid diagram.
    let commit_at = finding_with_xid(&report, x_delete)
        .and_then(|f| f["transaction"]["commit_at"].as_str())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| panic!("no commit_at for {x_delete}"));
    assert!(
        md.contains(&format!(
            "Transaction (WAL): xid {x_delete} committed at LSN `{delete_lsn}` at {}",
            commit_at.format("%Y-%m-%d %H:%M:%S%.3f UTC")
        )),
        "{md}"
    );
    let gantt = md
        .split("```mermaid")
        .nth(1)
        .and_then(|m| m.split("```").next())
        .unwrap_or_else(|| panic!("no Mermaid diagram: {md}"));
    assert!(
        // One section per finding; a label's colons are escaped (`#58;`), not stripped.
        gantt.lines().any(|l| l.trim_start().starts_with(&format!(
            "wal_committed#58; xid {x_delete} committed at LSN {delete_lsn}"
        )) && l.contains(":milestone, f")
            && l.contains(&commit_at.format("%Y-%m-%dT%H:%M:%S").to_string())),
        "{gantt}"
    );

    // The plan for the DELETE stops exactly before its COMMIT record; its rehearsal, run as
    // printed, brings the rows back from the base backup and the archive.
    let plan = report["recovery"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|p| p["target"]["lsn"].as_str() == Some(delete_lsn.as_str()))
        })
        .unwrap_or_else(|| panic!("no plan with the LSN target: {:#}", report["recovery"]));
    assert_eq!(plan["target"]["inclusive"], false, "{plan:#}");
    assert_eq!(plan["target"]["timeline"], "1", "{plan:#}");
    let by_hand = plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|s| {
            s["command"]
                .as_str()
                .filter(|c| c.contains("recovery.signal"))
        })
        .unwrap_or_else(|| panic!("no by-hand recipe: {plan:#}"));
    assert!(
        by_hand.contains(&format!("recovery_target_lsn = '{delete_lsn}'"))
            && by_hand.contains("recovery_target_inclusive = false")
            && by_hand.contains("recovery_target_timeline = '1'"),
        "{by_hand}"
    );
    let rehearse = plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|s| {
            s["command"]
                .as_str()
                .filter(|c| c.starts_with("pgtriage recover") && c.contains("--base-backup"))
        })
        .unwrap_or_else(|| panic!("no rehearsal step: {plan:#}"));
    let work = tmp.path().join("rehearsal");
    std::fs::create_dir_all(&work).expect("mkdir");
    let bin = assert_cmd::cargo::cargo_bin("pgtriage");
    let out = StdCommand::new("sh")
        .arg("-c")
        .arg(rehearse)
        .current_dir(&work)
        .env("EVIDENCE", &dumped)
        .env("BASE_BACKUP", &base)
        .env(
            "PATH",
            format!(
                "{}:{}:{}",
                bin.parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                cluster.bindir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .stdin(std::process::Stdio::null())
        .output()
        .expect("sh");
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{rehearse}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recovered: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::fs::read_dir(&work)
                .expect("out dir")
                .flatten()
                .map(|e| e.path().join("recover.json"))
                .find(|p| p.exists())
                .expect("recover.json"),
        )
        .expect("read recover.json"),
    )
    .expect("recover.json parses");
    let orders = recovered["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["table"] == "public.orders"))
        .unwrap_or_else(|| panic!("orders in {recovered:#}"));
    assert_eq!(orders["rows_found"], 500, "{recovered:#}");

    // Splitting the LSN range over any number of parts gives the same transactions.
    // and the native reader gives what pg_waldump's text output gives.
    use pgtriage::wal::WalReader;
    let scan = |threads: usize, reader: WalReader| {
        pgtriage::wal::scan_directory(&pgtriage::wal::WalScanOptions {
            dir: archive.clone(),
            expected_system_identifier: None,
            threads: Some(threads),
            reader: Some(reader),
            ..Default::default()
        })
        .expect("scan")
    };
    let whole = scan(1, WalReader::Waldump);
    assert!(whole.transactions.len() >= 5);
    // COPY writes Heap2 MULTI_INSERT records: all 300 rows are counted.
    let imported: u32 = cluster
        .psql(&db, "SELECT pg_relation_filenode('imported')")
        .parse()
        .expect("filenode");
    let native = scan(2, WalReader::Native);
    assert!(
        native
            .files
            .iter()
            .any(|f| f.relfilenode == imported && f.inserted == 300),
        "{:?}",
        native.files
    );
    for (threads, reader) in [
        (2, WalReader::Waldump),
        (3, WalReader::Waldump),
        (1, WalReader::Native),
        (2, WalReader::Native),
        (7, WalReader::Native),
    ] {
        let split = scan(threads, reader);
        assert_eq!(
            split.transactions, whole.transactions,
            "{threads} parts, {reader:?}"
        );
        assert_eq!(split.files, whole.files, "{threads} parts, {reader:?}");
    }

    // Bad input, with real segments of this cluster.
    bad_input(&cluster, &db, &archive, tmp.path());
}

fn bad_input(cluster: &PgCluster, db: &str, archive: &Path, tmp: &Path) {
    let url = cluster.url(db);
    // One more segment after the incidents (for the recycled-WAL case below).
    cluster.psql(db, "CREATE TABLE later (id int)");
    cluster.archive_everything();
    let out = tmp.join("bad.json");
    let out_s = out.to_str().unwrap_or("");
    // A directory without WAL.
    let empty = tmp.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let (code, _, err) = pgtriage(&[
        "collect",
        "--wal",
        empty.to_str().unwrap_or(""),
        "-o",
        out_s,
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no WAL segment files"), "{err}");

    let segs = segments(archive);
    assert!(segs.len() >= 3, "{segs:?}");
    // Segments with a gap: named, the rest still read.
    let gap = tmp.join("gap");
    copy_dir(archive, &gap);
    let missing = segs[segs.len() / 2]
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_string();
    std::fs::remove_file(gap.join(&missing)).expect("rm");
    let (code, _, err) = pgtriage(&["collect", "--wal", gap.to_str().unwrap_or(""), "-o", out_s]);
    assert_eq!(code, 0, "{err}");
    let ev: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("json");
    assert!(
        ev["wal"]["gaps"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["what"]
                .as_str()
                .is_some_and(|w| w.contains(&format!("WAL segment {missing} is missing"))))),
        "{:#}",
        ev["wal"]["gaps"]
    );
    // A truncated segment: named.
    let trunc = tmp.join("trunc");
    copy_dir(archive, &trunc);
    let victim = trunc.join(segs[segs.len() - 2].file_name().unwrap_or_default());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&victim)
        .expect("open");
    f.set_len(1024 * 1024).expect("truncate");
    let (code, _, err) = pgtriage(&[
        "collect",
        "--wal",
        trunc.to_str().unwrap_or(""),
        "-o",
        out_s,
    ]);
    assert_eq!(code, 0, "{err}");
    let ev: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("json");
    assert!(
        ev["wal"]["gaps"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["what"]
                .as_str()
                .is_some_and(|w| w.contains("truncated (1048576 of 16777216 bytes")))),
        "{:#}",
        ev["wal"]["gaps"]
    );
    // Compressed segments as archivers leave them: the same transactions as plain ones.
    let packed = tmp.join("packed");
    copy_dir(archive, &packed);
    for (i, s) in segments(&packed).iter().enumerate() {
        let tool = ["gzip", "zstd", "lz4"][i % 3];
        let mut c = StdCommand::new(tool);
        match tool {
            "gzip" => c.arg("-q").arg(s),
            "zstd" => c.args(["-q", "--rm"]).arg(s),
            // lz4 writes to stdout unless given the output name.
            _ => c.args(["-q", "--rm"]).arg(s).arg(s.with_extension("lz4")),
        };
        let st = c.status().expect("compress");
        assert!(st.success(), "{tool}");
    }
    let plain_out = tmp.join("plain.json");
    let (code, _, err) = pgtriage(&[
        "collect",
        "--wal",
        archive.to_str().unwrap_or(""),
        "-o",
        plain_out.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = pgtriage(&[
        "collect",
        "--wal",
        packed.to_str().unwrap_or(""),
        "-o",
        out_s,
    ]);
    assert_eq!(code, 0, "{err}");
    let a: Value =
        serde_json::from_str(&std::fs::read_to_string(&plain_out).expect("read")).expect("json");
    let b: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("json");
    assert_eq!(a["wal"]["transactions"], b["wal"]["transactions"]);
    assert!(
        a["wal"]["transactions"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );

    // Another cluster's segments: initdb a second cluster (never started) and give its pg_wal.
    let other = tmp.join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    let _ = StdCommand::new("chown")
        .args(["postgres:postgres"])
        .arg(&other)
        .status();
    let initdb = cluster.bindir.join("initdb");
    let st = StdCommand::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(&initdb)
        .arg("-D")
        .arg(other.join("data"))
        .args(["--no-sync", "-U", "postgres"])
        .output()
        .expect("initdb");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let other_wal = other.join("data/pg_wal");
    let (code, _, err) = pgtriage(&[
        "collect",
        "--db",
        &url,
        "--wal",
        other_wal.to_str().unwrap_or(""),
        "-o",
        out_s,
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("belong to another cluster"), "{err}");
    // Mixed in one directory.
    let mixed = tmp.join("mixed");
    copy_dir(archive, &mixed);
    for s in segments(&other_wal) {
        if let Some(n) = s.file_name() {
            let _ = std::fs::remove_file(mixed.join(n));
            std::fs::copy(&s, mixed.join(n)).expect("copy");
        }
    }
    let (code, _, err) = pgtriage(&[
        "collect",
        "--wal",
        mixed.to_str().unwrap_or(""),
        "-o",
        out_s,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("segments of two clusters"), "{err}");

    // WAL of another major version (PostgreSQL 16's page magic): says which pg_waldump it needs.
    let v16 = tmp.join("v16");
    std::fs::create_dir_all(&v16).expect("mkdir");
    let seg = &segs[segs.len() - 1];
    let mut bytes = std::fs::read(seg).expect("read");
    bytes[0] = 0x13;
    bytes[1] = 0xD1;
    std::fs::write(v16.join(seg.file_name().unwrap_or_default()), bytes).expect("write");
    // (The native reader knows 16's layout: ask for pg_waldump, as for a version it does not.)
    let (code, _, err) = pgtriage_with(
        &[("PGTRIAGE_WAL_READER", "pg_waldump")],
        &["collect", "--wal", v16.to_str().unwrap_or(""), "-o", out_s],
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("needs pg_waldump 16"), "{err}");
    assert!(err.contains("is version 15"), "{err}");

    // WAL recycled: the segments up to the loss are gone; the gap names the first missing one.
    let late = tmp.join("late");
    std::fs::create_dir_all(&late).expect("mkdir");
    let last = &segs[segs.len() - 1];
    std::fs::copy(last, late.join(last.file_name().unwrap_or_default())).expect("copy");
    let ev_path = tmp.join("late.json");
    let (code, _, err) = pgtriage(&[
        "collect",
        "--db",
        &url,
        "--wal",
        late.to_str().unwrap_or(""),
        "-o",
        ev_path.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let rep_path = tmp.join("late-report.json");
    let (code, _, err) = pgtriage(&[
        "report",
        ev_path.to_str().unwrap_or(""),
        "--format",
        "json",
        "-o",
        rep_path.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let rep: Value =
        serde_json::from_str(&std::fs::read_to_string(&rep_path).expect("read")).expect("json");
    let before = segs[segs.len() - 2]
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_string();
    assert!(
        rep["gaps"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["what"]
                .as_str()
                .is_some_and(|w| w.contains("No WAL record of the loss") && w.contains(&before)))),
        "{:#}",
        rep["gaps"]
    );
}

#[test]
fn wal_gaps_replica_level_and_no_privilege() {
    let cluster = PgCluster::start(ClusterOptions {
        extra_conf: vec!["log_statement = 'none'".into()],
        archive: true,
    });
    let db = cluster.fresh_database("walgap");
    cluster.psql(&db, "CREATE EXTENSION pg_walinspect");
    cluster.psql(&db, "CREATE ROLE triage LOGIN; GRANT pg_monitor TO triage");
    cluster.psql_script(
        &db,
        "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 20); TRUNCATE t;",
        false,
    );
    cluster.flush_stats(&db);
    let tmp = tempfile::tempdir().expect("tmp");
    // A role without pg_read_server_files: the GRANT that would allow it.
    let url = format!(
        "postgres:///{db}?host={}&port={}&user=triage",
        cluster.socket_dir().display(),
        cluster.port
    );
    let ev = tmp.path().join("ev.json");
    let (code, _, err) = pgtriage(&["collect", "--db", &url, "-o", ev.to_str().unwrap_or("")]);
    assert_eq!(code, 0, "{err}");
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&ev).expect("read")).expect("json");
    assert!(v["wal"].is_null());
    // Not a problem of the gathering: kept aside, shown by the report only when it matters.
    assert!(
        v["problems"].as_array().is_none_or(|p| p
            .iter()
            .all(|p| !p.as_str().is_some_and(|p| p.contains("pg_walinspect")))),
        "{:#}",
        v["problems"]
    );
    let grant = v["wal_unavailable"]["setting"]
        .as_str()
        .unwrap_or_else(|| panic!("{:#}", v["wal_unavailable"]))
        .split(" (or ")
        .next()
        .unwrap_or("")
        .to_string();
    assert_eq!(grant, "GRANT pg_read_server_files TO triage;");
    // The TRUNCATE is a loss WAL would make exact: one gap line, with what would give it.
    let rep = tmp.path().join("rep-no-wal.json");
    let (code, _, err) = pgtriage(&[
        "report",
        ev.to_str().unwrap_or(""),
        "--format",
        "json",
        "-o",
        rep.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(&rep).expect("read")).expect("json");
    let wal_gaps: Vec<&Value> = r["gaps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g.to_string().contains("pg_walinspect"))
        .collect();
    assert_eq!(wal_gaps.len(), 1, "{:#}", r["gaps"]);
    assert!(
        wal_gaps[0]["what"]
            .as_str()
            .is_some_and(|w| w.starts_with("No WAL evidence: role triage may not call")),
        "{:#}",
        wal_gaps[0]
    );
    assert!(
        wal_gaps[0]["setting"]
            .as_str()
            .is_some_and(|s| s.starts_with(&grant)),
        "{:#}",
        wal_gaps[0]
    );
    // Nothing lost in another database: nothing about WAL to say.
    let quiet = cluster.fresh_database("walquiet");
    cluster.psql(&quiet, "CREATE EXTENSION pg_walinspect");
    cluster.psql(
        &quiet,
        "CREATE TABLE kept (id int); INSERT INTO kept SELECT generate_series(1, 20)",
    );
    cluster.flush_stats(&quiet);
    let quiet_url = format!(
        "postgres:///{quiet}?host={}&port={}&user=triage",
        cluster.socket_dir().display(),
        cluster.port
    );
    let quiet_ev = tmp.path().join("quiet.json");
    let (code, _, err) = pgtriage(&[
        "collect",
        "--db",
        &quiet_url,
        "-o",
        quiet_ev.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = pgtriage(&[
        "report",
        quiet_ev.to_str().unwrap_or(""),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).expect("json");
    assert!(
        !r["gaps"].to_string().contains("pg_walinspect"),
        "{:#}",
        r["gaps"]
    );
    // The GRANT, run as printed, lets the same role read the WAL.
    cluster.psql(&db, &grant);
    let (code, _, err) = pgtriage(&["collect", "--db", &url, "-o", ev.to_str().unwrap_or("")]);
    assert_eq!(code, 0, "{err}");
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&ev).expect("read")).expect("json");
    assert_eq!(v["wal"]["source"], "pg_walinspect", "{:#}", v["problems"]);
    // wal_level = replica: a TRUNCATE leaves no Heap TRUNCATE record; the report says so.
    let rep = tmp.path().join("rep.json");
    let (code, _, err) = pgtriage(&[
        "report",
        ev.to_str().unwrap_or(""),
        "--format",
        "json",
        "-o",
        rep.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(&rep).expect("read")).expect("json");
    assert!(
        r["gaps"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["setting"] == "wal_level = replica")),
        "{:#}",
        r["gaps"]
    );
    // Even at replica level, the TRUNCATE is found from its lock, new file and unlinked file.
    assert!(
        r["hypotheses"]
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["kind"] == "truncate"
                && h["transaction"]["rows"][0]["table"] == "public.t"
                && h["transaction"]["rows"][0]["rows"] == 20)),
        "{:#}",
        r["hypotheses"]
    );
}

/// PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED: a DELETE committed through
/// two-phase commit is a committed loss at its COMMIT PREPARED record, a rolled-back one is
/// aborted, an undecided one is "prepared" (in doubt). pg_walinspect, the native reader and
/// pg_waldump agree.
#[test]
fn wal_two_phase_commit_both_readers() {
    let cluster = PgCluster::start(ClusterOptions {
        extra_conf: vec![
            "log_statement = 'none'".into(),
            "max_prepared_transactions = 5".into(),
            "autovacuum = off".into(),
        ],
        archive: true,
    });
    let db = cluster.fresh_database("twophase");
    cluster.psql(&db, "CREATE EXTENSION pg_walinspect");
    cluster.psql_script(&db, SCHEMA, false);
    let before = cluster.psql(&db, "SELECT pg_current_wal_insert_lsn()");
    let x_committed = xid_of(
        &cluster,
        &db,
        "BEGIN; DELETE FROM orders WHERE id <= 200; SELECT txid_current(); PREPARE TRANSACTION 'purge-orders';",
    );
    cluster.psql(&db, "COMMIT PREPARED 'purge-orders'");
    let x_rolled_back = xid_of(
        &cluster,
        &db,
        "BEGIN; DELETE FROM accounts; SELECT txid_current(); PREPARE TRANSACTION 'purge-accounts';",
    );
    cluster.psql(&db, "ROLLBACK PREPARED 'purge-accounts'");
    let x_in_doubt = xid_of(
        &cluster,
        &db,
        "BEGIN; DELETE FROM events WHERE id <= 30; SELECT txid_current(); PREPARE TRANSACTION 'purge-events';",
    );
    // pg_walinspect's own records: the reference.
    let record = |kind: &str, xid: u32| {
        cluster.psql(
            &db,
            &format!(
                "SELECT start_lsn FROM pg_get_wal_records_info('{before}', pg_current_wal_flush_lsn()) \
                 WHERE resource_manager = 'Transaction' AND record_type = '{kind}' \
                 AND (xid = '{xid}' OR description LIKE '{xid}: %')"
            ),
        )
    };
    let commit_prepared = record("COMMIT_PREPARED", x_committed);
    let abort_prepared = record("ABORT_PREPARED", x_rolled_back);
    let prepare = record("PREPARE", x_in_doubt);
    assert!(!commit_prepared.is_empty() && !abort_prepared.is_empty() && !prepare.is_empty());
    cluster.flush_stats(&db);
    cluster.archive_everything();

    let tmp = tempfile::tempdir().expect("tmp");
    let url = cluster.url(&db);
    let archive = cluster.archive_dir();
    let live = tmp.path().join("live.json");
    let dir = tmp.path().join("dir.json");
    let (code, _, err) = pgtriage(&["collect", "--db", &url, "-o", live.to_str().unwrap_or("")]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = pgtriage(&[
        "collect",
        "--db",
        &url,
        "--wal",
        archive.to_str().unwrap_or(""),
        "-o",
        dir.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = pgtriage_with(
        &[("PGTRIAGE_WAL_READER", "pg_waldump")],
        &[
            "collect",
            "--wal",
            archive.to_str().unwrap_or(""),
            "-o",
            tmp.path().join("waldump.json").to_str().unwrap_or(""),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let load = |p: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json")
    };
    let evs = [
        load(&live),
        load(&dir),
        load(&tmp.path().join("waldump.json")),
    ];
    assert_eq!(evs[0]["wal"]["source"], "pg_walinspect");
    assert_eq!(evs[1]["wal"]["source"], "wal_directory");
    assert_eq!(evs[2]["wal"]["source"], "pg_waldump");
    let of = |ev: &Value, xid: u32| -> Value {
        let mut t = ev["wal"]["transactions"]
            .as_array()
            .and_then(|ts| {
                ts.iter()
                    .find(|t| t["xid"].as_u64() == Some(u64::from(xid)))
                    .cloned()
            })
            .unwrap_or_else(|| panic!("xid {xid} not in {:#}", ev["wal"]));
        t["first_lsn"] = Value::Null;
        t
    };
    for xid in [x_committed, x_rolled_back, x_in_doubt] {
        let reference = of(&evs[0], xid);
        for ev in &evs[1..] {
            assert_eq!(of(ev, xid), reference, "{} disagrees", ev["wal"]["source"]);
        }
    }
    let c = of(&evs[0], x_committed);
    assert_eq!(c["outcome"], "committed", "{c:#}");
    assert_eq!(
        c["end_lsn"].as_str(),
        Some(commit_prepared.as_str()),
        "{c:#}"
    );
    assert_eq!(c["gid"], "purge-orders");
    assert_eq!(c["rows"][0]["deleted"], 200, "{c:#}");
    assert!(
        c["end_at"].is_string() && c["prepared_lsn"].is_string(),
        "{c:#}"
    );
    let a = of(&evs[0], x_rolled_back);
    assert_eq!(a["outcome"], "aborted", "{a:#}");
    assert_eq!(
        a["end_lsn"].as_str(),
        Some(abort_prepared.as_str()),
        "{a:#}"
    );
    let p = of(&evs[0], x_in_doubt);
    assert_eq!(p["outcome"], "prepared", "{p:#}");
    assert!(p["end_lsn"].is_null(), "{p:#}");
    assert_eq!(p["prepared_lsn"].as_str(), Some(prepare.as_str()), "{p:#}");
    assert_eq!(p["rows"][0]["deleted"], 30, "{p:#}");

    // The report: the committed one is a loss with its COMMIT PREPARED LSN and time (the
    // recovery target), the rolled-back one no loss, the undecided one said to be in doubt.
    let (code, out, err) = pgtriage(&["report", dir.to_str().unwrap_or(""), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).expect("json");
    let f = finding_with_xid(&report, x_committed).unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(f["transaction"]["outcome"], "committed");
    assert_eq!(
        f["transaction"]["commit_lsn"].as_str(),
        Some(commit_prepared.as_str())
    );
    assert_eq!(
        rows(&f["transaction"], "public.orders"),
        ("deleted".into(), Some(200))
    );
    assert!(f["transaction"]["commit_at"].is_string(), "{f:#}");
    assert!(
        report["recovery"].to_string().contains(&commit_prepared),
        "{:#}",
        report["recovery"]
    );
    assert!(
        report["hypotheses"].as_array().is_some_and(|hs| hs
            .iter()
            .all(|h| h["loss"] != true || !h["tables"].to_string().contains("public.accounts"))),
        "{report:#}"
    );
    let d = finding_with_xid(&report, x_in_doubt).unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(d["transaction"]["outcome"], "prepared", "{d:#}");
    assert_eq!(d["loss"], false, "{d:#}");
    assert!(
        d.to_string().contains("in doubt") && d.to_string().contains("purge-events"),
        "{d:#}"
    );
    // Settled, so the server stops with no prepared transaction left.
    cluster.psql(&db, "COMMIT PREPARED 'purge-events'");
}

/// The WAL read bounded by the incident window: segments before `--since` and after `--until`
/// are not decoded, the transactions ending inside the window are exactly those of the whole
/// read — including one that began before the window (the read steps back to a standby
/// snapshot no running transaction predates) — and the evidence records the range read.
#[test]
fn wal_read_bounded_by_the_incident_window() {
    use pgtriage::wal::{WalReader, WalScanOptions, scan_directory};
    let cluster = PgCluster::start(ClusterOptions {
        extra_conf: vec!["autovacuum = off".into()],
        archive: true,
    });
    let db = cluster.fresh_database("walwindow");
    cluster.psql_script(&db, SCHEMA, false);
    // One commit, one standby snapshot (CHECKPOINT logs one) and a new segment, `n` times.
    let segments = |n: usize| {
        for _ in 0..n {
            cluster.psql_script(
                &db,
                "INSERT INTO audit VALUES (1); CHECKPOINT; SELECT pg_switch_wal();",
                false,
            );
        }
    };
    let now = || {
        cluster.psql(&db, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    };
    let pause = || std::thread::sleep(std::time::Duration::from_millis(1500));
    let x_before = xid_of(
        &cluster,
        &db,
        "BEGIN; DELETE FROM orders WHERE id <= 50; SELECT txid_current(); COMMIT;",
    );
    segments(3);
    let (since, until, x_long, x_in_delete, x_in_truncate) = std::thread::scope(|scope| {
        // A transaction that deletes before the window opens and commits inside it.
        let long = scope.spawn(|| {
            xid_of(
                &cluster,
                &db,
                "BEGIN; DELETE FROM sessions WHERE id <= 4; SELECT txid_current(); \
                 SELECT pg_sleep(7); COMMIT;",
            )
        });
        pause();
        segments(2);
        pause();
        let since = now();
        pause();
        let x_in_delete = xid_of(
            &cluster,
            &db,
            "BEGIN; DELETE FROM orders WHERE id BETWEEN 51 AND 100; SELECT txid_current(); COMMIT;",
        );
        let x_in_truncate = xid_of(
            &cluster,
            &db,
            "BEGIN; TRUNCATE events; SELECT txid_current(); COMMIT;",
        );
        segments(2);
        let x_long = long.join().expect("long transaction");
        segments(1);
        pause();
        let until = now();
        (since, until, x_long, x_in_delete, x_in_truncate)
    });
    pause();
    let x_after = xid_of(
        &cluster,
        &db,
        "BEGIN; DELETE FROM orders WHERE id BETWEEN 101 AND 150; SELECT txid_current(); COMMIT;",
    );
    segments(3);
    cluster.archive_everything();
    let archive = cluster.archive_dir();
    let t = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .with_timezone(&chrono::Utc)
    };
    let (since_t, until_t) = (t(&since), t(&until));
    let scan = |window: bool, reader: WalReader| {
        scan_directory(&WalScanOptions {
            dir: archive.clone(),
            threads: Some(2),
            reader: Some(reader),
            since: window.then_some(since_t),
            until: window.then_some(until_t),
            window_slack: Some(chrono::Duration::seconds(1)),
            ..Default::default()
        })
        .expect("scan")
    };
    let whole = scan(false, WalReader::Native);
    let inside: Vec<_> = whole
        .transactions
        .iter()
        .filter(|t| t.end_at.is_some_and(|at| at >= since_t && at <= until_t))
        .cloned()
        .collect();
    let xids: Vec<u32> = inside.iter().map(|t| t.xid).collect();
    for x in [x_long, x_in_delete, x_in_truncate] {
        assert!(xids.contains(&x), "{x} not in {xids:?}");
    }
    for x in [x_before, x_after] {
        assert!(!xids.contains(&x), "{x} in {xids:?}");
        assert!(whole.transactions.iter().any(|t| t.xid == x));
    }
    for reader in [WalReader::Native, WalReader::Waldump] {
        let bounded = scan(true, reader);
        assert_eq!(bounded.transactions, inside, "{reader:?}");
        let w = bounded.window.as_ref().expect("window");
        assert!(w.segments_skipped >= 4, "{reader:?}: {w:?}");
        assert_eq!(
            w.segments_read + w.segments_skipped,
            whole.segments.len() as u64,
            "{w:?}"
        );
        assert!(w.complete_from_lsn.is_some(), "{w:?}");
        let lsn = |s: &str| pgtriage::evidence::parse_lsn(s).unwrap_or(0);
        assert!(
            lsn(&bounded.start_lsn) > lsn(&whole.start_lsn),
            "{}",
            bounded.start_lsn
        );
        assert!(
            lsn(&bounded.end_lsn) < lsn(&whole.end_lsn),
            "{}",
            bounded.end_lsn
        );
        // The long transaction's DELETE came before the anchor: read all the same.
        let long = bounded
            .transactions
            .iter()
            .find(|t| t.xid == x_long)
            .expect("long");
        assert_eq!(long.rows[0].deleted, 4, "{long:?}");
        assert!(
            lsn(&long.first_lsn) < lsn(w.complete_from_lsn.as_deref().unwrap_or("")),
            "{long:?} {w:?}"
        );
    }

    // The command line: --since/--until, recorded in the evidence.
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("bounded.json");
    let (code, _, err) = pgtriage(&[
        "collect",
        "--wal",
        archive.to_str().unwrap_or(""),
        "--since",
        &since,
        "--until",
        &until,
        "-o",
        out.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let ev: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("json");
    assert_eq!(
        ev["wal"]["window"]["basis"], "--since/--until",
        "{:#}",
        ev["wal"]
    );
    let cli_xids: Vec<u64> = ev["wal"]["transactions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["xid"].as_u64())
        .collect();
    assert_eq!(
        cli_xids,
        xids.iter().map(|x| u64::from(*x)).collect::<Vec<_>>()
    );
    // From the logs (log_statement = 'all'): the earliest destructive statement they recorded
    // opens the window; the read runs from there to the end of the WAL.
    let out = tmp.path().join("from-logs.json");
    let log_dir = cluster.log_dir();
    let (code, _, err) = pgtriage(&[
        "collect",
        "--db",
        &cluster.url(&db),
        "--log",
        log_dir.to_str().unwrap_or(""),
        "--wal",
        archive.to_str().unwrap_or(""),
        "-o",
        out.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 0, "{err}");
    let ev: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("json");
    let w = &ev["wal"]["window"];
    assert!(
        w["basis"]
            .as_str()
            .is_some_and(|b| b.starts_with("logs: from the earliest destructive statement")),
        "{:#}",
        ev["wal"]
    );
    let from = t(w["since"].as_str().unwrap_or_else(|| panic!("{w:#}")));
    assert!(w["until"].is_null(), "{w:#}");
    let expected: Vec<u64> = whole
        .transactions
        .iter()
        .filter(|t| t.end_at.is_some_and(|at| at >= from))
        .map(|t| u64::from(t.xid))
        .collect();
    let got: Vec<u64> = ev["wal"]["transactions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["xid"].as_u64())
        .collect();
    assert_eq!(got, expected, "{w:#}");
    assert!(got.contains(&u64::from(x_after)), "{got:?}");
}
