//! `--since/--until` on a plain file read only the part of it the window needs (bisected on the
//! timestamps at line starts) and hash only that: the evidence records the byte range read and
//! its SHA-256, the whole-file hash only with `--hash-all`. The windowed result is the full read
//! filtered to the window, and the recorded range hash is what `dd … | sha256sum` gives.

use std::io::Write;
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use pgtriage::evidence::{LogEvent, Timeline};
use pgtriage::logs::{LogOptions, read_timeline};
use sha2::{Digest, Sha256};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z")
        .map(|d| d.with_timezone(&Utc))
        .expect("time")
}

/// 120,000 entries 40 ms apart from five backends: single statements, multi-line statements
/// (TAB continuations), short BEGIN … COMMIT/ROLLBACK transactions, DELETEs and TRUNCATEs.
fn write_log(path: &std::path::Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut at = t0();
    for i in 0..120_000u64 {
        at += Duration::milliseconds(40);
        let ts = at.format("%Y-%m-%d %H:%M:%S%.3f UTC");
        let pid = 4000 + i % 5;
        let p = format!("{ts} [{pid}] app@shop ");
        match i % 97 {
            0 => {
                writeln!(f, "{p}LOG:  statement: BEGIN").expect("write");
                writeln!(f, "{p}LOG:  statement: DELETE FROM payments WHERE id = {i}")
                    .expect("write");
                let end = if i % 2 == 0 { "COMMIT" } else { "ROLLBACK" };
                writeln!(f, "{p}LOG:  statement: {end}").expect("write");
            }
            13 => {
                writeln!(f, "{p}LOG:  statement: DELETE FROM orders").expect("write");
                writeln!(f, "\tWHERE id > {i}").expect("write");
                writeln!(f, "\t  AND placed_at < now()").expect("write");
            }
            41 if i % 3 == 0 => {
                writeln!(f, "{p}LOG:  statement: TRUNCATE audit_{}", i % 7).expect("write")
            }
            _ => writeln!(
                f,
                "{p}LOG:  statement: UPDATE accounts SET balance = balance - 1 WHERE id = {}",
                i % 1000
            )
            .expect("write"),
        }
    }
}

fn read(
    path: &std::path::Path,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    hash_all: bool,
) -> Timeline {
    read_timeline(&LogOptions {
        paths: vec![path.display().to_string()],
        since: window.map(|w| w.0),
        until: window.map(|w| w.1),
        threads: Some(2),
        hash_all,
        ..LogOptions::default()
    })
    .expect("read")
}

/// `log:FILE@START:N` → `log:FILE:M`, M the absolute line number (counted on the file here).
fn absolute(e: &LogEvent, text: &[u8], display: &str) -> LogEvent {
    let mut e = e.clone();
    let rest = e
        .source
        .strip_prefix(&format!("log:{display}@"))
        .unwrap_or_else(|| panic!("a windowed source names its range start: {}", e.source));
    let (start, n) = rest.split_once(':').expect("START:N");
    let start: usize = start.parse().expect("start");
    let n: u64 = n.parse().expect("n");
    let before = memchr::memchr_iter(b'\n', &text[..start]).count() as u64;
    e.source = format!("log:{display}:{}", before + n);
    e
}

#[test]
fn a_window_reads_and_hashes_only_its_range_and_equals_the_full_read_filtered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("postgresql.log");
    write_log(&path);
    let text = std::fs::read(&path).expect("read back");
    let display = path.display().to_string();
    let since = t0() + Duration::seconds(1900);
    let until = t0() + Duration::seconds(1990);

    let full = read(&path, None, false);
    let windowed = read(&path, Some((since, until)), false);

    let src = &windowed.sources[0];
    let range = src.read_range.as_ref().expect("the range read is recorded");
    assert_eq!(
        src.sha256, None,
        "no whole-file hash for a file not read whole"
    );
    assert!(
        range.start > 0 && range.end < text.len() as u64,
        "only part of the file was read: {}..{} of {}",
        range.start,
        range.end,
        text.len()
    );
    assert!(
        range.end - range.start < text.len() as u64 / 10,
        "a 90 s window of a 4800 s log reads {} of {} bytes",
        range.end - range.start,
        text.len()
    );
    let slice = &text[range.start as usize..range.end as usize];
    assert_eq!(range.sha256, hex::encode(Sha256::digest(slice)));
    assert_eq!(
        range.lines,
        memchr::memchr_iter(b'\n', slice).count() as u64
    );
    assert_eq!(src.lines, range.lines);
    assert_eq!(src.bytes, text.len() as u64);
    // The range starts at a line start (cut at entry boundaries).
    assert_eq!(text[range.start as usize - 1], b'\n');

    let expected: Vec<LogEvent> = full
        .events
        .iter()
        .filter(|e| e.at >= since && e.at <= until)
        .cloned()
        .collect();
    let got: Vec<LogEvent> = windowed
        .events
        .iter()
        .map(|e| absolute(e, &text, &display))
        .collect();
    assert!(
        expected.len() > 20,
        "the window holds events: {}",
        expected.len()
    );
    assert_eq!(got, expected);
    let in_window = |c: &&pgtriage::evidence::StatementCount| {
        c.minute >= since && c.minute + Duration::seconds(60) <= until
    };
    let full_counts: Vec<_> = full.counts.iter().filter(in_window).collect();
    let window_counts: Vec<_> = windowed.counts.iter().filter(in_window).collect();
    assert!(!full_counts.is_empty());
    assert_eq!(
        window_counts, full_counts,
        "the minutes wholly inside the window"
    );

    // `--hash-all`: the whole file's hash and absolute line numbers too, the range still recorded.
    let all = read(&path, Some((since, until)), true);
    let src = &all.sources[0];
    assert_eq!(
        src.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&text)).as_str())
    );
    assert_eq!(src.read_range.as_ref(), Some(range));
    assert_eq!(all.events, expected);

    // Without a window nothing changes: the whole file hashed, no range.
    assert_eq!(full.sources[0].read_range, None);
    assert_eq!(
        full.sources[0].sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&text)).as_str())
    );
}

#[test]
fn the_printed_range_check_is_run_as_printed_and_matches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("postgresql.log");
    write_log(&path);
    let out = Command::new(env!("CARGO_BIN_EXE_pgtriage"))
        .args(["timeline", "--log"])
        .arg(&path)
        .args([
            "--since",
            "2026-11-23T08:40:00Z",
            "--until",
            "2026-11-23T08:41:00Z",
        ])
        .output()
        .expect("run pgtriage");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("; check: dd "))
        .unwrap_or_else(|| panic!("the range read and its check are printed:\n{stdout}"));
    let sha = line
        .split("sha256 ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .expect("the range's sha256");
    let command = line.split("check: ").nth(1).expect("the command");
    let run = Command::new("sh")
        .arg("-c")
        .arg(command)
        .output()
        .expect("sh");
    assert!(
        run.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let printed = String::from_utf8_lossy(&run.stdout);
    assert_eq!(printed.split_whitespace().next(), Some(sha), "{command}");
    // The whole file's hash is not claimed for a file not read whole.
    assert!(
        stdout.contains("bytes, sha256 -)"),
        "no whole-file hash without --hash-all:\n{stdout}"
    );
    let with_all = Command::new(env!("CARGO_BIN_EXE_pgtriage"))
        .args(["timeline", "--hash-all", "--log"])
        .arg(&path)
        .args([
            "--since",
            "2026-11-23T08:40:00Z",
            "--until",
            "2026-11-23T08:41:00Z",
        ])
        .output()
        .expect("run pgtriage");
    let whole = hex::encode(Sha256::digest(std::fs::read(&path).expect("read")));
    assert!(
        String::from_utf8_lossy(&with_all.stdout).contains(&format!("sha256 {whole})")),
        "{}",
        String::from_utf8_lossy(&with_all.stdout)
    );
}
