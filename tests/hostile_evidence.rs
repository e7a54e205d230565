//! Evidence files are input like any other: odd values in them (a non-ASCII commit id, absurd
//! counters) end in a report or a one-line error with exit 2, never a panic.

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

fn incident(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-logs/incidents")
        .join(name)
        .join("evidence.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("json")
}

fn replace_key(v: &mut serde_json::Value, key: &str, with: &serde_json::Value) -> usize {
    let mut n = 0;
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == key && child.is_string() {
                    *child = with.clone();
                    n += 1;
                } else {
                    n += replace_key(child, key, with);
                }
            }
        }
        serde_json::Value::Array(list) => {
            for child in list {
                n += replace_key(child, key, with);
            }
        }
        _ => {}
    }
    n
}

fn report(evidence: &Path, format: &str) -> std::process::Output {
    Command::cargo_bin("pgtriage")
        .expect("binary")
        .arg("report")
        .arg(evidence)
        .args(["--format", format])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run")
}

#[test]
fn a_non_ascii_commit_id_does_not_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [
        "08-never-populated",
        "11-seed002-multi-cause",
        "12-seed003-autogen-drop",
    ] {
        let mut ev = incident(name);
        // Multi-byte characters around byte 7, 8 and 12, where ids used to be cut.
        let odd = serde_json::Value::String("ab€déf€ghé€ijklmnop".into());
        assert!(
            replace_key(&mut ev, "commit", &odd) > 0,
            "{name} has commits"
        );
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, ev.to_string()).expect("write");
        for format in ["md", "json"] {
            let out = report(&path, format);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{name} {format}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}

#[test]
fn short_commit_ids_are_cut_on_characters() {
    // Byte 7 falls inside `é`: `&commit[..7]` panicked here.
    assert_eq!(pgtriage::migrations::short("ab€défgh"), "ab€défg");
    assert_eq!(pgtriage::migrations::prefix("ab€déf€ghé", 8), "ab€déf€g");
    assert_eq!(pgtriage::migrations::short("abc"), "abc");
}

#[test]
fn negative_or_absurd_counters_are_refused_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (field, value) in [
        ("n_tup_del", serde_json::json!(-5)),
        (
            "n_live_tup",
            serde_json::json!(9_000_000_000_000_000_000i64),
        ),
    ] {
        let mut ev = incident("01-truncate");
        ev["database"]["tables"][0][field] = value.clone();
        let path = dir.path().join(format!("{field}.json"));
        std::fs::write(&path, ev.to_string()).expect("write");
        let out = report(&path, "md");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{field}: {err}");
        assert!(err.contains(field) && err.contains("impossible"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}
