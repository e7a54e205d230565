//! One giant line (PostgreSQL logs statements of up to 1 GB on one line, and any client can send
//! one) is read in linear time and bounded memory: its head is kept and marked, the line is
//! counted as a problem, and what follows it is read as usual. A gzip of NULs without a newline
//! ends too.

use std::io::Write;

use pgtriage::evidence::{EventKind, Timeline};
use pgtriage::logs::{LogOptions, read_timeline};

fn read(path: &std::path::Path) -> Timeline {
    read_timeline(&LogOptions {
        paths: vec![path.display().to_string()],
        ..LogOptions::default()
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn head() -> String {
    (0..40)
        .map(|i| {
            format!(
                "2026-11-23 12:00:{:02}.000 UTC [{}] app@shop LOG:  statement: SELECT {i}\n",
                i % 60,
                100 + i % 3
            )
        })
        .collect()
}

#[test]
fn a_30_mb_statement_is_cut_marked_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long.log");
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(head().as_bytes()).expect("write");
    f.write_all(
        b"2026-11-23 12:01:00.000 UTC [200] app@shop LOG:  statement: DELETE FROM payments WHERE id IN (0",
    )
    .expect("write");
    let chunk = ",1".repeat(1 << 19);
    for _ in 0..30 {
        f.write_all(chunk.as_bytes()).expect("write");
    }
    f.write_all(
        b")\n2026-11-23 12:02:00.000 UTC [201] app@shop LOG:  statement: TRUNCATE orders\n",
    )
    .expect("write");
    drop(f);
    let t = read(&path);
    let delete = t
        .events
        .iter()
        .find(|e| e.text.starts_with("DELETE FROM payments"))
        .expect("the giant DELETE is on the timeline");
    assert!(
        delete.text.len() <= (4 << 20) + 100,
        "kept {} bytes",
        delete.text.len()
    );
    assert!(delete.text.contains("[pgtriage: line truncated,"), "marked");
    assert!(
        t.events.iter().any(|e| e.kind == EventKind::Truncate),
        "the line after the giant one is read"
    );
    let p = t
        .problems
        .iter()
        .find(|p| p.message.contains("longer than"))
        .expect("the long line is a problem");
    assert_eq!((p.count, p.line), (1, Some(41)));
}

#[test]
fn a_gzip_of_nuls_without_a_newline_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bomb.log.gz");
    let f = std::fs::File::create(&path).expect("create");
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    gz.write_all(head().as_bytes()).expect("write");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        gz.write_all(&zeros).expect("write");
    }
    gz.finish().expect("finish");
    let start = std::time::Instant::now();
    let t = read(&path);
    eprintln!("200 MB of NULs read in {:?}", start.elapsed());
    assert_eq!(
        t.events.iter().filter(|e| e.kind == EventKind::Raw).count(),
        0
    );
    assert!(
        t.problems.iter().any(|p| p.message.contains("longer than")),
        "{:?}",
        t.problems
    );
}

/// A statement of many lines (a bulk INSERT or an IN-list pasted one value a line) adding up to
/// far more than the cap: the parser used to be handed the whole growing entry again with every
/// 1 MiB block (quadratic). Its head of whole lines is kept and marked, the rest of its lines are
/// dropped as they stream by, and the lines after it keep their true numbers.
#[test]
fn a_statement_of_a_million_lines_is_cut_marked_and_counted_in_linear_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("many-lines.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    f.write_all(head().as_bytes()).expect("write");
    f.write_all(
        b"2026-11-23 12:01:00.000 UTC [200] app@shop LOG:  statement: DELETE FROM payments WHERE id IN (\n",
    )
    .expect("write");
    let continuation = format!("\t{},\n", "1".repeat(97));
    let n_lines: u64 = 1_200_000; // 120 MB of continuation lines
    for _ in 0..n_lines {
        f.write_all(continuation.as_bytes()).expect("write");
    }
    f.write_all(
        b"\t0)\n2026-11-23 12:02:00.000 UTC [201] app@shop LOG:  statement: TRUNCATE orders\n",
    )
    .expect("write");
    drop(f);
    let start = std::time::Instant::now();
    let t = read(&path);
    let took = start.elapsed();
    eprintln!("a 120 MB entry of {n_lines} lines read in {took:?}");
    let delete = t
        .events
        .iter()
        .find(|e| e.text.starts_with("DELETE FROM payments"))
        .expect("the giant DELETE is on the timeline");
    assert!(
        delete.text.len() <= (4 << 20) + 200,
        "kept {} bytes",
        delete.text.len()
    );
    // Every continuation line is either kept whole in the head or counted in the mark.
    let kept_lines = delete.text.matches(&"1".repeat(97)).count() as u64;
    assert!(
        kept_lines > 40_000,
        "the head keeps whole lines up to the cap: {kept_lines}"
    );
    let dropped = n_lines + 1 - kept_lines;
    assert!(
        delete.text.contains(&format!(
            "[pgtriage: entry truncated, {dropped} more lines ("
        )),
        "marked with what was dropped: {}",
        &delete.text[delete.text.len().saturating_sub(120)..]
    );
    let truncate = t
        .events
        .iter()
        .find(|e| e.kind == EventKind::Truncate)
        .expect("the entry after the giant one is read");
    // 40 head lines, the DELETE's first line, its continuation lines, `0)`, then TRUNCATE.
    assert!(
        truncate
            .source
            .ends_with(&format!(":{}", 40 + 1 + n_lines + 1 + 1)),
        "{}",
        truncate.source
    );
    let p = t
        .problems
        .iter()
        .find(|p| p.message.contains("entries of many lines"))
        .expect("the long entry is a problem");
    assert_eq!((p.count, p.line), (1, Some(41)));
    assert_eq!(t.sources[0].lines, 40 + 1 + n_lines + 1 + 1);
    // Quadratic re-reading took minutes here; linear takes seconds even in a debug build.
    assert!(took < std::time::Duration::from_secs(60), "took {took:?}");
}
