//! The log readers never panic, whatever the bytes: random input, and real log lines cut,
//! spliced and sprinkled with random bytes, through every format parser, the classifier and the
//! prefix compiler.

use pgtriage::logs::assemble::Assembler;
use pgtriage::logs::entry::EntrySink;
use pgtriage::logs::format::{FormatParser, cloudsql, csvlog, jsonlog, stderr, syslog};
use pgtriage::logs::prefix::LinePrefix;
use pgtriage::logs::time::LogZone;
use proptest::prelude::*;

fn parsers() -> Vec<Box<dyn FormatParser>> {
    let harness = LinePrefix::compile("%m [%p] %q%u@%d ").unwrap_or_else(|_| LinePrefix::empty());
    let rds = LinePrefix::compile("%t:%r:%u@%d:[%p]:").unwrap_or_else(|_| LinePrefix::empty());
    vec![
        Box::new(stderr::StderrParser::new(
            harness.clone(),
            LogZone::default(),
            false,
        )),
        Box::new(stderr::StderrParser::new(rds, LogZone::default(), true)),
        Box::new(csvlog::CsvParser::new(LogZone::default())),
        Box::new(jsonlog::JsonParser::new(LogZone::default())),
        Box::new(syslog::SyslogParser::new(
            LinePrefix::empty(),
            LogZone::default(),
            2026,
        )),
        Box::new(cloudsql::CloudSqlParser::new(LogZone::default(), None)),
    ]
}

/// Feeds `bytes` in two blocks (split at a line boundary, as the reader does) through every
/// parser into the assembler.
fn run_all(bytes: &[u8], split: usize) {
    let cut = bytes[..split.min(bytes.len())]
        .iter()
        .rposition(|c| *c == b'\n')
        .map_or(0, |i| i + 1);
    for mut p in parsers() {
        let mut sink = Assembler::new(None, None);
        let used = p.parse(&bytes[..cut], 1, false, &mut sink as &mut dyn EntrySink);
        assert!(used <= cut);
        let mut rest = bytes[used..cut].to_vec();
        rest.extend_from_slice(&bytes[cut..]);
        p.parse(&rest, 1, true, &mut sink);
        let _ = sink.finish();
    }
}

const SAMPLE: &str = include_str!("../sample-logs/server-logs/postgresql.log");
const SAMPLE_CSV: &str = include_str!("../sample-logs/server-logs/postgresql.csv");
const SAMPLE_JSON: &str = include_str!("../sample-logs/server-logs/postgresql.json");

fn real_lines() -> impl Strategy<Value = Vec<u8>> {
    let lines: Vec<&'static str> = SAMPLE
        .lines()
        .chain(SAMPLE_CSV.lines())
        .chain(SAMPLE_JSON.lines())
        .collect();
    (prop::collection::vec(
        (
            0..lines.len(),
            0usize..400,
            prop::collection::vec(any::<u8>(), 0..6),
        ),
        1..30,
    ),)
        .prop_map(move |(picks,)| {
            let mut out = Vec::new();
            for (i, cut, noise) in picks {
                let l = lines[i].as_bytes();
                let at = cut.min(l.len());
                out.extend_from_slice(&l[..at]);
                out.extend_from_slice(&noise);
                out.extend_from_slice(&l[at..]);
                out.push(b'\n');
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000), split in 0usize..2000) {
        run_all(&bytes, split);
    }

    #[test]
    fn mangled_real_lines_never_panic(bytes in real_lines(), split in 0usize..4000) {
        run_all(&bytes, split);
    }

    #[test]
    fn any_prefix_compiles_or_errs_and_matches_safely(prefix in "[%a-zA-Z0-9 \\[\\]@:.-]{0,20}", line in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = LinePrefix::compile(&prefix)
            && let Some(m) = p.matches(&line)
        {
            prop_assert!(m.rest <= line.len());
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_whole_reader_never_panics(bytes in real_lines()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = dir.path().join("x.log");
        std::fs::write(&path, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // Either a timeline or a one-line error: never a panic.
        let _ = pgtriage::logs::read_timeline(&pgtriage::logs::LogOptions {
            paths: vec![path.display().to_string()],
            ..Default::default()
        });
    }
}
