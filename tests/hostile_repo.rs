//! A damaged repository does not look clean: with a parent commit object missing, `migrations`
//! still finds the destructive migrations HEAD holds, says the history is incomplete, and exits
//! 2. And a quoted name with a space keeps it: `DROP TABLE "Order Items"`.

mod migrations_git;

use migrations_git::{TestRepo, operations, pgtriage};

#[test]
fn a_missing_parent_commit_is_said_and_heads_migrations_are_still_read() {
    let repo = TestRepo::new();
    repo.write(
        "db/migration/V1__init.sql",
        "CREATE TABLE orders (id int);\n",
    );
    let first = repo.commit("init", "2025-01-01T10:00:00Z");
    repo.write(
        "db/migration/V2__cleanup.sql",
        "DROP TABLE orders;\nTRUNCATE payments CASCADE;\nDELETE FROM audit;\n",
    );
    repo.commit("cleanup", "2025-01-02T10:00:00Z");
    // Remove the first commit's object (loose objects: no pack yet).
    let object = repo
        .path()
        .join(".git/objects")
        .join(&first[..2])
        .join(&first[2..]);
    std::fs::remove_file(&object).expect("remove the parent commit object");

    let repo_arg = repo.path().to_string_lossy().into_owned();
    let (code, stdout, stderr) = pgtriage(&["--repo", &repo_arg, "--format", "json"]);
    assert_eq!(code, 2, "exit code; stderr: {stderr}");
    assert!(stderr.contains("history incomplete"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON still written");
    let ops = operations(&doc);
    for (kind, object) in [
        ("drop_table", "orders"),
        ("truncate", "payments"),
        ("delete_all", "audit"),
    ] {
        assert!(
            ops.iter().any(|o| o.0 == kind && o.1.contains(object)),
            "{kind} {object} not found: {ops:?}"
        );
    }
    assert!(
        doc.to_string().contains("history incomplete"),
        "said in the JSON too"
    );
}

#[test]
fn a_quoted_name_with_a_space_is_kept_whole() {
    let repo = TestRepo::new();
    repo.write(
        "db/migration/V1__drop.sql",
        "DROP TABLE \"Order Items\";\nTRUNCATE \"Line Items\", plain;\n",
    );
    repo.commit("drop", "2025-01-01T10:00:00Z");
    let repo_arg = repo.path().to_string_lossy().into_owned();
    let (code, stdout, stderr) = pgtriage(&["--repo", &repo_arg, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let ops = operations(&doc);
    assert!(
        ops.iter()
            .any(|o| o.0 == "drop_table" && o.1 == "\"Order Items\""),
        "{ops:?}"
    );
    assert!(
        ops.iter()
            .any(|o| o.0 == "truncate" && o.1.contains("\"Line Items\"")),
        "{ops:?}"
    );
}

#[test]
fn audit_repo_runs_without_a_database() {
    let repo = TestRepo::new();
    repo.write(
        "db/migration/V1__x.sql",
        "DROP TABLE orders;\nTRUNCATE payments CASCADE;\n",
    );
    repo.commit("x", "2025-01-01T10:00:00Z");
    let out = assert_cmd::Command::cargo_bin("pgtriage")
        .expect("binary")
        .args(["audit", "--format", "json", "--repo"])
        .arg(repo.path())
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("PGHOSTADDR")
        .env_remove("PGDATABASE")
        .env_remove("PGPORT")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 1: a high-severity finding (the TRUNCATE … CASCADE), not 2 (no database).
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let text = doc.to_string();
    assert!(text.contains("TRUNCATE payments CASCADE"), "{text}");
    assert!(text.contains("no database given"), "{text}");
}
