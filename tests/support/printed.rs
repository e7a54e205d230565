//! Running a report's printed recovery steps exactly as printed: shared by the tests of the
//! archiving tools' plans (tests/recovery_tools.rs, tests/recovery_barman.rs).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::PgCluster;

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pgtriage")
}

pub fn path_env(cluster: &PgCluster) -> String {
    format!(
        "{}:{}:/usr/local/bin:/usr/bin:/bin:{}",
        bin()
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        cluster.bindir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn pgtriage(cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(cwd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run pgtriage")
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs one printed shell command as printed, with the plan's variables set; as the server's
/// OS user when `as_postgres` and running as root (the plans say to run the archiving tools as
/// that user).
pub fn run_printed(
    cmd: &str,
    cwd: &Path,
    cluster: &PgCluster,
    vars: &[(&str, &str)],
    as_postgres: bool,
) -> Output {
    let mut c = if as_postgres && is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "env"]);
        c.arg(format!("PATH={}", path_env(cluster)));
        for (k, v) in vars {
            c.arg(format!("{k}={v}"));
        }
        c.args(["sh", "-c", cmd]);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c").arg(cmd).env("PATH", path_env(cluster));
        for (k, v) in vars {
            c.env(k, v);
        }
        c
    };
    c.current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("sh -c")
}

pub fn collect(cluster: &PgCluster, db: &str, cwd: &Path, out: &str, extra: &[&str]) {
    let url = cluster.url(db);
    let mut args = vec!["collect", "--db", url.as_str(), "-o", out];
    args.extend_from_slice(extra);
    let o = pgtriage(cwd, &args);
    assert!(o.status.success(), "collect: {}", text(&o));
}

pub fn report_json(cwd: &Path) -> Value {
    let o = pgtriage(cwd, &["report", "evidence.json", "--format", "json"]);
    assert!(o.status.success(), "report: {}", text(&o));
    serde_json::from_slice(&o.stdout).expect("report JSON")
}

pub fn step<'a>(plan: &'a Value, prefix: &str) -> &'a str {
    plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["title"].as_str().unwrap_or("").starts_with(prefix))
        .and_then(|s| s["command"].as_str())
        .unwrap_or_else(|| panic!("no step {prefix:?} in {plan:#}"))
}

/// Every step with a command is marked tested; a step without one says why in its text.
pub fn assert_every_command_is_tested(plan: &Value) {
    for s in plan["steps"].as_array().into_iter().flatten() {
        if s["command"].is_string() {
            assert_eq!(s["tested"], true, "{s:#}");
        } else {
            assert!(s["why"].as_str().unwrap_or("").contains("no test"), "{s:#}");
        }
    }
}
