//! The randomized incident generator (`scripts/random-incidents.sh`) on a fixed seed: every
//! incident is staged on a real throwaway PostgreSQL 15 and judged by the real binary
//! (`pgtriage collect`, `pgtriage report --format json`) against the ground truth the generator
//! recorded. The threshold is what this seed honestly reaches; larger runs are reported in the
//! README (section "Randomized incidents").

mod support;

use std::process::Command;

/// Seed and size of the CI run: 10 incidents, about a minute on two cores.
const SEED: &str = "ci";
const N: &str = "10";
/// Share of tables (in %) this seed must explain correctly. Measured: 78 of 78, also since the
/// rolled-back DELETE/TRUNCATE kinds changed what the seed draws (one of each now; the last
/// session's one miss, a rolled-back insert followed by `pg_stat_reset()`, is one no longer: the
/// log now tells the rollback, and the judge accepts the reset there). 98 % leaves room for one miss from
/// timing (statistics flushed late on a busy machine), not for a regression; raising it needs
/// better reasoning, not a different seed.
const THRESHOLD_PERCENT: u64 = 98;

fn figure(out: &str, prefix: &str) -> Option<(u64, u64)> {
    let line = out.lines().rev().find(|l| l.starts_with(prefix))?;
    let rest = line.strip_prefix(prefix)?.trim();
    let fraction = rest.split_whitespace().next()?;
    let (k, n) = fraction.split_once('/')?;
    Some((k.parse().ok()?, n.parse().ok()?))
}

#[test]
fn random_incidents_on_a_fixed_seed_are_explained() {
    let root = env!("CARGO_MANIFEST_DIR");
    let keep = tempfile::tempdir().expect("temp dir");
    let out = Command::new("bash")
        .arg(format!("{root}/scripts/random-incidents.sh"))
        .args([N, SEED])
        .env("PGTRIAGE", env!("CARGO_BIN_EXE_pgtriage"))
        .env("PGTRIAGE_PG_BINDIR", support::find_bindir())
        .env("RANDOM_INCIDENTS_KEEP", keep.path())
        .output()
        .expect("run scripts/random-incidents.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "random-incidents.sh failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("FAILED"),
        "an incident could not be staged or judged:\n{stderr}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("random incidents: "),
        "the last line is the summary, not `{last}`"
    );
    let (right, tables) =
        figure(&stdout, "random incidents: ").expect("a `random incidents: K/N` line");
    assert!(tables >= 40, "only {tables} tables judged:\n{stdout}");
    assert!(
        right * 100 >= THRESHOLD_PERCENT * tables,
        "{right}/{tables} tables explained correctly, below {THRESHOLD_PERCENT} %:\n{stdout}"
    );
    let (false_loss, _) = figure(&stdout, "false data loss on false-alarm-only incidents: ")
        .expect("a false data loss line");
    assert_eq!(
        false_loss, 0,
        "a false alarm was reported as data loss:\n{stdout}"
    );
}
