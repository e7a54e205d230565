//! Real git repositories for the migration tests, built with the `git` CLI (tests only; pgtriage
//! itself reads them with git2), with fixed dates so that output is deterministic.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestRepo {
    pub dir: tempfile::TempDir,
}

impl TestRepo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = TestRepo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Dana Dev"]);
        repo.git(&["config", "user.email", "dana@example.com"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn git(&self, args: &[&str]) -> String {
        run_git(self.path(), args, None)
    }

    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let full = self.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(full, content).expect("write file");
    }

    pub fn rm(&self, path: &str) {
        self.git(&["rm", "-q", path]);
    }

    pub fn mv(&self, from: &str, to: &str) {
        let full = self.path().join(to);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        self.git(&["mv", from, to]);
    }

    /// Commits everything at `date` (ISO 8601, UTC) and returns the full commit id.
    pub fn commit(&self, message: &str, date: &str) -> String {
        self.git(&["add", "-A"]);
        run_git(
            self.path(),
            &["commit", "-q", "--allow-empty", "-m", message],
            Some(date),
        );
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }
}

pub fn run_git(dir: &Path, args: &[&str], date: Option<&str>) -> String {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir).args(args);
    cmd.env("GIT_CONFIG_NOSYSTEM", "1");
    if let Some(d) = date {
        cmd.env("GIT_AUTHOR_DATE", d).env("GIT_COMMITTER_DATE", d);
    }
    let out = cmd.output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `pgtriage migrations` with the args and returns (exit code, stdout, stderr).
pub fn pgtriage(args: &[&str]) -> (i32, String, String) {
    let out = assert_cmd::Command::cargo_bin("pgtriage")
        .expect("binary")
        .arg("migrations")
        .args(args)
        .output()
        .expect("pgtriage runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `pgtriage migrations --repo DIR --format json [extra]`, parsed.
pub fn history_json(repo: &Path, extra: &[&str]) -> serde_json::Value {
    let repo = repo.to_string_lossy().into_owned();
    let mut args = vec!["--repo", repo.as_str(), "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = pgtriage(&args);
    assert_eq!(code, 0, "pgtriage failed: {stderr}");
    serde_json::from_str(&stdout).expect("JSON output")
}

/// Operations as (kind, objects joined, active, path, line).
pub fn operations(doc: &serde_json::Value) -> Vec<(String, String, bool, String, u64)> {
    doc["operations"]
        .as_array()
        .map(|ops| {
            ops.iter()
                .map(|o| {
                    (
                        o["kind"].as_str().unwrap_or("").to_string(),
                        o["objects"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|x| x.as_str())
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                            .unwrap_or_default(),
                        o["active"].as_bool().unwrap_or(false),
                        o["path"].as_str().unwrap_or("").to_string(),
                        o["line"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn short(sha: &str) -> &str {
    &sha[..7]
}

pub fn temp_path() -> PathBuf {
    tempfile::tempdir().expect("tmp").keep()
}
