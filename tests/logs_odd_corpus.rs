//! The odd-prefix corpus in tests/data/odd-logs/, written by real PostgreSQL 15 servers
//! (scripts/make-odd-logs.sh): each log holds a rolled-back `DELETE FROM payments`, a committed
//! `DELETE FROM payments WHERE id = 1` and a `TRUNCATE orders`. With the server's prefix given
//! they must come out exactly so; inferred, they must come out the same or the file must be
//! refused with an error (never a silently wrong session).

use std::path::Path;

use pgtriage::evidence::{EventKind, Timeline, TxOutcome};
use pgtriage::logs::{LogOptions, read_timeline};

const CORPUS: &[(&str, &str)] = &[
    ("line-number-as-pid", "%t [%p]: [%l-1] user=%u,db=%d "),
    ("session-xid-vxid-sqlstate", "%m %c %x %v %e [%p] %q%u@%d "),
    ("padded", "%m [%-8p] %-10u %-10d "),
    ("epoch", "%n [%p] %q%u@%d "),
    ("xid-before-pid", "%m [%x] [%p] %q%u@%d "),
];

fn read(path: &Path, prefix: Option<&str>) -> Result<Timeline, String> {
    read_timeline(&LogOptions {
        paths: vec![path.display().to_string()],
        line_prefix: prefix.map(str::to_string),
        ..LogOptions::default()
    })
    .map_err(|e| e.to_string())
}

fn check(name: &str, t: &Timeline) -> Result<(), String> {
    let find = |kind: EventKind, text: &str| {
        t.events
            .iter()
            .find(|e| e.kind == kind && e.text.starts_with(text))
            .map(|e| e.outcome)
    };
    let all = find(EventKind::DeleteAll, "DELETE FROM payments");
    let one = find(EventKind::Delete, "DELETE FROM payments WHERE id = 1");
    let truncate = find(EventKind::Truncate, "TRUNCATE orders");
    if all != Some(Some(TxOutcome::RolledBack))
        || one != Some(Some(TxOutcome::Committed))
        || truncate.is_none()
    {
        return Err(format!(
            "{name}: delete all {all:?}, delete one {one:?}, truncate {truncate:?}"
        ));
    }
    Ok(())
}

#[test]
fn odd_prefixes_written_by_real_servers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/odd-logs");
    let mut failures = Vec::new();
    for (name, prefix) in CORPUS {
        let path = dir.join(format!("{name}.log"));
        match read(&path, Some(prefix)) {
            Ok(t) => {
                if let Err(e) = check(name, &t) {
                    failures.push(format!("given prefix: {e}"));
                }
            }
            Err(e) => failures.push(format!("{name} with its prefix: {e}")),
        }
        match read(&path, None) {
            Ok(t) => {
                if let Err(e) = check(name, &t) {
                    failures.push(format!(
                        "inferred {:?}: {e}",
                        t.sources.first().and_then(|s| s.line_prefix.clone())
                    ));
                }
            }
            // Refusing is allowed; reading wrongly is not.
            Err(e) => eprintln!("{name}: inference refused: {e}"),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The provider renderings in tests/data/odd-logs/cloud/ (scripts/make-odd-logs.sh: real servers
/// with the provider's prefix, put in the provider's export envelope from their stderr and
/// csvlog): the same three events, with the format told from the content alone.
#[test]
fn provider_renderings_of_real_logs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/odd-logs/cloud");
    let expected = [
        ("rds.log", "rds"),
        ("rds-cloudwatch.log", "rds"),
        ("cloudsql.json", "cloudsql"),
        ("cloudnativepg.json", "jsonlog"),
        ("azure.json", "jsonlog"),
    ];
    let mut failures = Vec::new();
    for (file, format) in expected {
        match read(&dir.join(file), None) {
            Ok(t) => {
                if let Err(e) = check(file, &t) {
                    failures.push(e);
                }
                if t.sources[0].format != format {
                    failures.push(format!("{file}: read as {}", t.sources[0].format));
                }
                // Every entry has its own time: none placed at 1970 or left without one.
                let bad: Vec<_> = t
                    .problems
                    .iter()
                    .filter(|p| p.message.contains("timestamp"))
                    .collect();
                if !bad.is_empty() || t.events.iter().any(|e| e.at.timestamp() < 1_000_000_000) {
                    failures.push(format!("{file}: timestamps: {bad:?}"));
                }
            }
            Err(e) => failures.push(format!("{file}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A rotated log directory as logrotate and the server leave it (tests/data/odd-logs/rotation/):
/// the transaction whose BEGIN and DELETE are in the older, gzipped file and whose COMMIT is in
/// the next is committed; the stderr and csvlog of one file are read once; the empty new file and
/// the README are noted, not fatal.
#[test]
fn a_rotated_directory_with_a_transaction_across_the_rotation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/odd-logs/rotation");
    let t = read(&dir, None).unwrap_or_else(|e| panic!("{e}"));
    let deletes: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.text.starts_with("DELETE FROM payments WHERE id = 1"))
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:#?}");
    assert_eq!(
        deletes[0].outcome,
        Some(TxOutcome::Committed),
        "{:#?}",
        deletes[0]
    );
    assert!(
        deletes[0].source.contains("postgresql-1.log.gz:"),
        "{}",
        deletes[0].source
    );
    let commit = t
        .events
        .iter()
        .find(|e| e.kind == EventKind::Commit)
        .expect("the COMMIT after the rotation");
    assert!(
        commit.source.contains("postgresql-2.csv:"),
        "{}",
        commit.source
    );
    let orders: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.text.starts_with("DELETE FROM orders"))
        .collect();
    assert_eq!(
        orders.len(),
        1,
        "stderr and csvlog of one file, read once: {orders:#?}"
    );
    assert_eq!(
        orders[0].text,
        "DELETE FROM orders\n  WHERE id > 0\n    AND id < 100"
    );
    assert!(t.events.iter().any(|e| e.kind == EventKind::Truncate));
    let said = |what: &str| t.problems.iter().any(|p| p.message.contains(what));
    assert!(said("empty file"), "{:#?}", t.problems);
    assert!(said("skipped: "), "the README: {:#?}", t.problems);
    assert!(
        said("the same server log in another format"),
        "{:#?}",
        t.problems
    );
    assert_eq!(t.sources.len(), 4, "{:#?}", t.sources);
}

/// A copytruncate rotation that cut a multi-line statement (tests/data/odd-logs/
/// rotation-copytruncate/): its head is on the timeline from the older file, the continuation
/// at the top of the newer file is a problem said, and everything after it is read.
#[test]
fn a_statement_split_by_a_copytruncate_rotation() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/odd-logs/rotation-copytruncate");
    let t = read(&dir, None).unwrap_or_else(|e| panic!("{e}"));
    let delete = t
        .events
        .iter()
        .find(|e| e.text.starts_with("DELETE FROM orders"))
        .expect("the split statement's head");
    assert_eq!(delete.text, "DELETE FROM orders\n  WHERE id > 0");
    assert!(
        delete.source.contains("postgresql.log.1:"),
        "{}",
        delete.source
    );
    let orphan = t
        .problems
        .iter()
        .find(|p| p.message.contains("no entry before them"))
        .expect("the continuation cut off from its statement is said");
    assert!(
        orphan.path.ends_with("/postgresql.log") && orphan.line == Some(1),
        "{orphan:?}"
    );
    assert!(t.events.iter().any(|e| e.kind == EventKind::Truncate));
}
