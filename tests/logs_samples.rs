//! The checked-in logs of a real server (sample-logs/server-logs/, written by
//! scripts/make-sample-server-logs.sh) through every reader: compressed copies, the syslog and
//! RDS renderings, and the `pgtriage timeline` command itself.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use pgtriage::evidence::{EventKind, Timeline, TxOutcome};
use pgtriage::logs::{LogOptions, read_timeline};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-logs/server-logs")
        .join(name)
}

fn read(path: &Path) -> Timeline {
    read_timeline(&LogOptions {
        paths: vec![path.display().to_string()],
        ..LogOptions::default()
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

type Comparable = (EventKind, Vec<String>, Option<TxOutcome>, String);

fn story(t: &Timeline) -> Vec<Comparable> {
    t.events
        .iter()
        .map(|e| (e.kind, e.tables.clone(), e.outcome, e.text.clone()))
        .collect()
}

fn line_of(source: &str) -> String {
    source.rsplit(':').next().unwrap_or("").to_string()
}

#[test]
fn compressed_copies_read_like_the_plain_log() {
    let plain = read(&sample("postgresql.log"));
    assert!(plain.events.len() > 50);
    for (name, compression) in [
        ("postgresql.log.gz", "gzip"),
        ("postgresql.log.zst", "zstd"),
        ("postgresql.log.xz", "xz"),
        ("postgresql.log.bz2", "bzip2"),
    ] {
        let t = read(&sample(name));
        assert_eq!(t.sources[0].compression, compression);
        assert_eq!(t.sources[0].lines, plain.sources[0].lines, "{name}");
        assert_eq!(story(&t), story(&plain), "{name}");
        let lines: Vec<_> = t.events.iter().map(|e| line_of(&e.source)).collect();
        let plain_lines: Vec<_> = plain.events.iter().map(|e| line_of(&e.source)).collect();
        assert_eq!(lines, plain_lines, "{name}: same lines cited");
        assert_ne!(
            t.sources[0].sha256, plain.sources[0].sha256,
            "hash of the bytes as stored"
        );
    }
}

#[test]
fn syslog_and_rds_renderings_tell_the_same_story() {
    let plain = read(&sample("postgresql.log"));
    let syslog = read(&sample("postgresql.syslog"));
    assert_eq!(syslog.sources[0].format, "syslog");
    let without_raw = |t: &Timeline| {
        story(t)
            .into_iter()
            .filter(|(k, ..)| *k != EventKind::Raw)
            .collect::<Vec<_>>()
    };
    assert_eq!(without_raw(&syslog), without_raw(&plain));
    let rds = read(&sample("postgresql-rds.log"));
    assert_eq!(rds.sources[0].format, "rds");
    assert_eq!(
        rds.sources[0].line_prefix.as_deref(),
        Some("%t:%r:%u@%d:[%p]:")
    );
    assert_eq!(without_raw(&rds), without_raw(&plain));
    // Multi-line statements survive the syslog chunking (#011 continuation lines).
    assert!(
        syslog
            .events
            .iter()
            .any(|e| e.text.contains("'multi\nline note'")),
        "multi-line statement rebuilt"
    );
}

fn pgtriage() -> Command {
    Command::cargo_bin("pgtriage").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn timeline_command_outputs() {
    let log = sample("postgresql.log");
    let out = pgtriage()
        .args(["timeline", "--format", "json", "--log"])
        .arg(&log)
        .output()
        .expect("run");
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["format"], "pgtriage-timeline/1");
    let events = doc["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .all(|e| e["source"].as_str().is_some_and(|s| s.starts_with("log:")))
    );
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "truncate" && e["cascade"] == true)
    );
    assert!(doc["counts"].as_array().is_some_and(|c| !c.is_empty()));
    assert_eq!(doc["sources"][0]["sha256"].as_str().map(str::len), Some(64));

    let out = pgtriage()
        .args([
            "timeline",
            "--format",
            "jsonl",
            "--kind",
            "truncate",
            "--table",
            "customers",
            "--log",
        ])
        .arg(&log)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["tables"][0], "customers");

    // Same bytes for the same input.
    let again = pgtriage()
        .args([
            "timeline",
            "--format",
            "jsonl",
            "--kind",
            "truncate",
            "--table",
            "customers",
            "--log",
        ])
        .arg(&log)
        .output()
        .expect("run");
    assert_eq!(again.stdout, out.stdout);

    let table = pgtriage()
        .args(["timeline", "--log"])
        .arg(&log)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("drop_column") && text.contains("crash_recovery"),
        "{text}"
    );
}

#[test]
fn since_until_window() {
    let log = sample("postgresql.log");
    let all = read(&log);
    let mid = all.events[all.events.len() / 2].at;
    let t = read_timeline(&LogOptions {
        paths: vec![log.display().to_string()],
        since: Some(mid),
        ..LogOptions::default()
    })
    .expect("read");
    assert!(!t.events.is_empty());
    assert!(t.events.iter().all(|e| e.at >= mid));
    let expected = all.events.iter().filter(|e| e.at >= mid).count();
    assert_eq!(t.events.len(), expected);
    let until = read_timeline(&LogOptions {
        paths: vec![log.display().to_string()],
        until: Some(mid),
        ..LogOptions::default()
    })
    .expect("read");
    assert!(until.events.iter().all(|e| e.at <= mid));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let log = sample("postgresql.log");
    let out = pgtriage()
        .args(["timeline", "--log-line-prefix", "%t [%p]: [%l-1] ", "--log"])
        .arg(&log)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("line 1 does not start with log_line_prefix"),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let odd = dir.path().join("odd.log");
    std::fs::write(&odd, "LOG:  statement: DELETE FROM t\nERROR:  boom\n").expect("write");
    let out = pgtriage()
        .args(["timeline", "--log"])
        .arg(&odd)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("odd.log: cannot infer the log_line_prefix: line 1"),
        "{err}"
    );
    assert!(
        err.contains("timestamp (%m, %t or %n)") && err.contains("process id (%p)"),
        "{err}"
    );

    let out = pgtriage()
        .args(["timeline", "--log", "/nonexistent/x.log"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn damaged_logs_are_reported_and_the_rest_read() {
    let text = std::fs::read(sample("postgresql.log")).expect("sample");
    let mut damaged = Vec::new();
    for (i, line) in text.split(|c| *c == b'\n').enumerate() {
        damaged.extend_from_slice(line);
        if i == 5 {
            damaged.extend_from_slice(b"\r");
        }
        damaged.push(b'\n');
        if i == 10 {
            damaged.extend_from_slice(b"\x00\x01\x02\x03garbage\x00\x00\n");
            damaged.extend_from_slice(
                b"2026-11-23 14:26:21.000 UTC [1] x@y LOG:  statement: SELECT '\xff\xfe'\n",
            );
        }
    }
    damaged.extend_from_slice(
        b"2026-11-23 23:59:59.000 UTC [9] postgres@shop LOG:  statement: TRUNCATE cut_short",
    );
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("damaged.log");
    std::fs::write(&path, &damaged).expect("write");
    let t = read(&path);
    let plain = read(&sample("postgresql.log"));
    assert!(t.events.len() > plain.events.len());
    assert!(t.events.iter().any(|e| e.text == "TRUNCATE cut_short"));
    let messages: Vec<&str> = t.problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("binary")),
        "{messages:?}"
    );
    assert!(messages.iter().any(|m| m.contains("UTF-8")), "{messages:?}");
    assert!(
        messages.iter().any(|m| m.contains("without a newline")),
        "{messages:?}"
    );

    // A corrupt gzip stream: reported, what came before it still read.
    let gz = std::fs::read(sample("postgresql.log.gz")).expect("gz");
    let cut = dir.path().join("cut.log.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).expect("write");
    let t = read(&cut);
    assert!(!t.events.is_empty());
    assert!(!t.problems.is_empty(), "corrupt stream reported");
}

#[test]
fn parts_read_in_parallel_give_the_streamed_timeline() {
    // A log long enough to cut into many parts: the sample, four times over (pids reused, as a
    // rotated day would), with a transaction cut across part boundaries every time.
    let text = std::fs::read(sample("postgresql.log")).expect("sample");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("long.log");
    std::fs::write(&path, text.repeat(4)).expect("write");
    let streamed = read(&path);
    for (part, threads) in [(2048u64, 4usize), (777, 2), (50_000, 3), (600, 64)] {
        let parallel = read_timeline(&LogOptions {
            paths: vec![path.display().to_string()],
            part_bytes: Some(part),
            threads: Some(threads),
            ..LogOptions::default()
        })
        .expect("read");
        let with_source = |t: &Timeline| {
            t.events
                .iter()
                .map(|e| {
                    (
                        e.at,
                        e.kind,
                        e.source.clone(),
                        e.outcome,
                        e.text.clone(),
                        // A session that connected in an earlier part keeps its user,
                        // database, application and host.
                        serde_json::to_string(&e.session).unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            with_source(&parallel),
            with_source(&streamed),
            "parts of {part} bytes"
        );
        assert_eq!(parallel.counts, streamed.counts);
        assert_eq!(parallel.sources[0].lines, streamed.sources[0].lines);
        assert_eq!(parallel.sources[0].sha256, streamed.sources[0].sha256);
    }
}

#[test]
fn directories_stdin_and_database_settings() {
    // A directory: every file, each with its own format and compression.
    let t = read(&sample(""));
    let mut formats: Vec<(String, String)> = t
        .sources
        .iter()
        .map(|s| (s.format.clone(), s.compression.clone()))
        .collect();
    formats.sort();
    formats.dedup();
    for want in [
        ("csvlog", "plain"),
        ("jsonlog", "plain"),
        ("rds", "plain"),
        ("stderr", "gzip"),
        ("stderr", "xz"),
        ("syslog", "plain"),
    ] {
        assert!(
            formats.contains(&(want.0.to_string(), want.1.to_string())),
            "{formats:?}"
        );
    }
    // Standard input, compressed.
    let out = pgtriage()
        .args([
            "timeline",
            "--format",
            "jsonl",
            "--kind",
            "drop_table",
            "--log",
            "-",
        ])
        .pipe_stdin(sample("postgresql.log.zst"))
        .expect("stdin")
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"source\":\"log:-:"), "{text}");
    // The database's own settings stand in for the flags.
    let mut settings = std::collections::BTreeMap::new();
    settings.insert(
        "log_line_prefix".to_string(),
        "%m [%p] %q%u@%d ".to_string(),
    );
    settings.insert("log_timezone".to_string(), "Europe/Berlin".to_string());
    let opts = LogOptions {
        paths: vec![sample("postgresql.log").display().to_string()],
        ..LogOptions::default()
    }
    .with_database_settings(&settings);
    assert_eq!(opts.timezone.as_deref(), Some("Europe/Berlin"));
    let t = read_timeline(&opts).expect("read");
    assert_eq!(
        t.sources[0].line_prefix.as_deref(),
        Some("%m [%p] %q%u@%d ")
    );
    assert_eq!(story(&t), story(&read(&sample("postgresql.log"))));
}

#[test]
fn any_number_of_parts_gives_the_streamed_timeline() {
    // Every checked-in plain log (and the sample twice over, pids reused), cut into 2 to 64
    // parts: each layout puts the part boundaries elsewhere relative to the BEGIN, statement,
    // ERROR, COMMIT, disconnect and server-stop lines, and a transaction can span many parts or
    // a part hold nothing of a session open on both sides of it. Every field of every event
    // must come out as the file read in one stream gives it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let dir = tempfile::tempdir().expect("tmp");
    let twice = dir.path().join("twice.log");
    let text = std::fs::read(sample("postgresql.log")).expect("sample");
    std::fs::write(&twice, text.repeat(2)).expect("write");
    let mut logs = vec![twice, sample("postgresql.csv")];
    logs.push(root.join("incidents/10-crash/postgresql.log"));
    let as_json = |t: &Timeline| {
        t.events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .collect::<Vec<_>>()
    };
    for log in logs {
        let streamed = as_json(&read(&log));
        let size = std::fs::metadata(&log).expect("size").len();
        for parts in 2..=64u64 {
            let parallel = read_timeline(&LogOptions {
                paths: vec![log.display().to_string()],
                part_bytes: Some(size / parts),
                threads: Some(64),
                ..LogOptions::default()
            })
            .expect("read");
            let parallel = as_json(&parallel);
            if let Some(i) = (0..streamed.len().max(parallel.len()))
                .find(|&i| streamed.get(i) != parallel.get(i))
            {
                panic!(
                    "{} in {parts} parts: event {i} differs\n streamed: {:?}\n parallel: {:?}",
                    log.display(),
                    streamed.get(i.saturating_sub(1)..(i + 2).min(streamed.len())),
                    parallel.get(i.saturating_sub(1)..(i + 2).min(parallel.len())),
                );
            }
        }
    }
}

/// Transactions cut across parts every way: an ERROR in the part after its statement, a BEGIN
/// ignored inside a transaction open since an earlier part, a transaction spanning many parts
/// with parts holding no line of it, a server crash rolling back a transaction whose session
/// the crash's part never shows, and sessions after the restart.
const CUT_ACROSS: &str = "\
2026-11-23 10:00:00.000 UTC [101] app@shop LOG:  statement: DELETE FROM a
2026-11-23 10:00:00.100 UTC [102] app@shop LOG:  statement: BEGIN
2026-11-23 10:00:00.200 UTC [101] app@shop ERROR:  permission denied for table a
2026-11-23 10:00:00.200 UTC [101] app@shop STATEMENT:  DELETE FROM a
2026-11-23 10:00:00.300 UTC [102] app@shop LOG:  statement: DELETE FROM b
2026-11-23 10:00:00.400 UTC [103] app@shop LOG:  statement: BEGIN
2026-11-23 10:00:00.500 UTC [103] app@shop LOG:  statement: TRUNCATE d
2026-11-23 10:00:00.600 UTC [105] app@shop LOG:  statement: BEGIN
2026-11-23 10:00:00.700 UTC [105] app@shop LOG:  statement: INSERT INTO f VALUES (1)
2026-11-23 10:00:00.800 UTC [101] app@shop LOG:  statement: DROP TABLE g
2026-11-23 10:00:00.900 UTC [105] app@shop ERROR:  duplicate key value violates unique constraint \"f_pkey\"
2026-11-23 10:00:00.900 UTC [105] app@shop DETAIL:  Key (id)=(1) already exists.
2026-11-23 10:00:00.900 UTC [105] app@shop STATEMENT:  INSERT INTO f VALUES (1)
2026-11-23 10:00:01.000 UTC [102] app@shop LOG:  statement: BEGIN
2026-11-23 10:00:01.100 UTC [102] app@shop LOG:  statement: TRUNCATE c
2026-11-23 10:00:01.200 UTC [105] app@shop LOG:  statement: COMMIT
2026-11-23 10:00:01.300 UTC [101] app@shop LOG:  statement: DELETE FROM h
2026-11-23 10:00:01.400 UTC [102] app@shop LOG:  statement: COMMIT
2026-11-23 10:00:01.500 UTC [106] app@shop LOG:  statement: BEGIN
2026-11-23 10:00:01.600 UTC [106] app@shop LOG:  statement: DELETE FROM i
2026-11-23 10:00:01.700 UTC [101] app@shop LOG:  statement: TRUNCATE j
2026-11-23 10:00:01.800 UTC [1] LOG:  server process (PID 101) was terminated by signal 9: Killed
2026-11-23 10:00:01.800 UTC [1] DETAIL:  Failed process was running: TRUNCATE j
2026-11-23 10:00:01.900 UTC [1] LOG:  database system is ready to accept connections
2026-11-23 10:00:02.000 UTC [103] app@shop LOG:  statement: DELETE FROM k
2026-11-23 10:00:02.100 UTC [103] app@shop ERROR:  relation \"k\" does not exist
2026-11-23 10:00:02.100 UTC [103] app@shop STATEMENT:  DELETE FROM k
2026-11-23 10:00:02.200 UTC [106] app@shop LOG:  statement: DELETE FROM l
2026-11-23 10:00:02.300 UTC [107] app@shop LOG:  statement: BEGIN
2026-11-23 10:00:02.400 UTC [107] app@shop LOG:  statement: DELETE FROM m
";

#[test]
fn transactions_cut_across_any_parts_give_the_streamed_timeline() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("cut.log");
    std::fs::write(&path, CUT_ACROSS).expect("write");
    let as_json = |t: &Timeline| {
        t.events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let streamed = read(&path);
    // The one-stream read is right to begin with: what the cuts are compared against.
    let outcome = |text: &str| {
        streamed
            .events
            .iter()
            .find(|e| e.text == text)
            .and_then(|e| e.outcome)
    };
    assert_eq!(outcome("DELETE FROM a"), Some(TxOutcome::Aborted));
    assert_eq!(outcome("DELETE FROM b"), Some(TxOutcome::Committed));
    assert_eq!(outcome("TRUNCATE c"), Some(TxOutcome::Committed));
    assert_eq!(outcome("TRUNCATE d"), Some(TxOutcome::RolledBack));
    assert_eq!(outcome("DELETE FROM i"), Some(TxOutcome::RolledBack));
    assert_eq!(outcome("DELETE FROM k"), Some(TxOutcome::Aborted));
    assert_eq!(outcome("DELETE FROM l"), Some(TxOutcome::Committed));
    assert_eq!(outcome("DELETE FROM m"), Some(TxOutcome::Unknown));
    let begins = |t: &Timeline| {
        t.events
            .iter()
            .filter(|e| e.kind == EventKind::Begin)
            .count()
    };
    assert_eq!(begins(&streamed), 4, "{:#?}", streamed.events);
    let streamed = as_json(&streamed);
    let lines = CUT_ACROSS.lines().count() as u64;
    // 1 part (streamed) up to a part per line: every entry boundary is cut at some point.
    for parts in 2..=lines {
        let parallel = read_timeline(&LogOptions {
            paths: vec![path.display().to_string()],
            part_bytes: Some(CUT_ACROSS.len() as u64 / parts),
            threads: Some(64),
            ..LogOptions::default()
        })
        .expect("read");
        let parallel = as_json(&parallel);
        if let Some(i) =
            (0..streamed.len().max(parallel.len())).find(|&i| streamed.get(i) != parallel.get(i))
        {
            panic!(
                "{parts} parts: event {i} differs\n streamed: {:?}\n parallel: {:?}",
                streamed.get(i),
                parallel.get(i)
            );
        }
    }
}
