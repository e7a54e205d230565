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
