//! A gzip cut short says how many lines it gave before breaking; a log_line_prefix read from the
//! database that does not fit the log falls back to inference and says so.

use std::io::Write;

use pgtriage::evidence::Timeline;
use pgtriage::logs::{LogOptions, read_timeline};

fn lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "2026-11-23 12:{:02}:{:02}.000 UTC [{}] app@shop LOG:  statement: DELETE FROM t{i}\n",
                i / 60,
                i % 60,
                100 + i % 3
            )
        })
        .collect()
}

fn read(opts: LogOptions) -> Timeline {
    read_timeline(&opts).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_truncated_gzip_says_how_far_it_got() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cut.log.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(lines(2000).as_bytes()).expect("gzip");
    let bytes = gz.finish().expect("gzip");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
    let t = read(LogOptions {
        paths: vec![path.display().to_string()],
        ..LogOptions::default()
    });
    let read_events = t.events.len();
    assert!(
        read_events > 100,
        "the lines before the cut are read: {read_events}"
    );
    let cut = t
        .problems
        .iter()
        .find(|p| p.message.contains("cut short or corrupt after"))
        .unwrap_or_else(|| panic!("{:#?}", t.problems));
    let n: usize = cut
        .message
        .split("after ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("a line count");
    assert!(
        n + 1 >= read_events,
        "{} vs {read_events} events",
        cut.message
    );
    assert!(
        !t.problems.iter().any(|p| p.line == Some(1)),
        "no problem blames line 1: {:#?}",
        t.problems
    );
}

#[test]
fn a_database_prefix_that_does_not_fit_falls_back_to_inference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other-server.log");
    std::fs::write(&path, lines(50)).expect("write");
    let settings = [(
        "log_line_prefix".to_string(),
        "%m [%p] app=%a %q%u@%d ".to_string(),
    )]
    .into_iter()
    .collect();
    let opts = LogOptions {
        paths: vec![path.display().to_string()],
        ..LogOptions::default()
    }
    .with_database_settings(&settings);
    let t = read(opts);
    assert_eq!(t.events.len(), 50);
    assert!(
        t.problems
            .iter()
            .any(|p| p.message.contains("does not fit this log") && p.message.contains("app=%a")),
        "{:#?}",
        t.problems
    );
    // Given by the user, the same prefix is still an error: the user said so.
    let err = read_timeline(&LogOptions {
        paths: vec![path.display().to_string()],
        line_prefix: Some("%m [%p] app=%a %q%u@%d ".into()),
        ..LogOptions::default()
    });
    assert!(err.is_err());
}
