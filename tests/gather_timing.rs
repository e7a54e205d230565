//! `PGTRIAGE_TIMING=1` (scripts/bench-gather.sh): the phases of a gathering on stderr, and
//! nothing else changes — the same stdout, the same evidence apart from `collected_at`.

use std::path::PathBuf;

use assert_cmd::Command;

fn collect(timing: Option<&str>, out: &std::path::Path) -> (String, String, serde_json::Value) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut c = Command::cargo_bin("pgtriage").expect("binary");
    for v in [
        "DATABASE_URL",
        "PGHOST",
        "PGHOSTADDR",
        "PGDATABASE",
        "PGPORT",
        "PGTRIAGE_TIMING",
    ] {
        c.env_remove(v);
    }
    if let Some(t) = timing {
        c.env("PGTRIAGE_TIMING", t);
    }
    let log = root.join("sample-logs/first-incident/postgresql.log");
    let o = c
        .args(["collect", "--log"])
        .arg(&log)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).expect("read")).expect("json");
    ev["collected_at"] = serde_json::Value::Null;
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        ev,
    )
}

#[test]
fn timing_goes_to_stderr_only_and_changes_nothing_else() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (out_plain, err_plain, ev_plain) = collect(None, &tmp.path().join("a.json"));
    let (out_zero, err_zero, _) = collect(Some("0"), &tmp.path().join("b.json"));
    let (out_timed, err_timed, ev_timed) = collect(Some("1"), &tmp.path().join("c.json"));
    assert!(!err_plain.contains("timing:"), "{err_plain}");
    assert!(!err_zero.contains("timing:"), "{err_zero}");
    let phases: Vec<&str> = err_timed
        .lines()
        .filter(|l| l.starts_with("timing: "))
        .collect();
    for name in [
        "timing: logs: ",
        "timing: gathered: at ",
        "timing: write the evidence file: ",
    ] {
        assert!(
            phases.iter().any(|l| l.starts_with(name)),
            "{name} missing in {err_timed}"
        );
    }
    assert_eq!(out_plain, out_timed);
    assert_eq!(out_plain, out_zero);
    assert_eq!(ev_plain, ev_timed);
}
