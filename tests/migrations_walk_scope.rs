//! The limited history walk (src/migrations/history.rs `Scope`: only the folders that can hold
//! migrations are read) against the exhaustive one (`--exhaustive-walk`: every changed folder of
//! every commit), on real git repositories: the three shapes of scripts/gen-migrations-repo.py,
//! cut to a few thousand commits, and edge cases built with the `git` CLI. Both must find the same
//! (commit, path, change) and print the same `pgtriage migrations --format json`, except in the
//! blind spot the README states, whose boundary the last test pins down.

mod migrations_git;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use migrations_git::{TestRepo, pgtriage};
use pgtriage::migrations::{detect::Detector, history};

/// (commit id, path, change), a rename written `renamed from OLD`.
type Change = (String, String, String);

fn walk(repo: &Path, exhaustive: bool) -> history::Walk {
    let detector = Detector::new(&[], true).expect("no globs");
    history::walk(&history::WalkOptions {
        repo,
        rev: None,
        since: None,
        detector: &detector,
        read_blobs: false,
        exhaustive,
    })
    .expect("the walk reads the repository")
}

fn changes(walk: &history::Walk) -> BTreeSet<Change> {
    walk.changes
        .iter()
        .map(|c| {
            let change = match &c.previous_path {
                Some(from) => format!("{} from {from}", c.change),
                None => c.change.to_string(),
            };
            (walk.commits[c.commit].id.clone(), c.path.clone(), change)
        })
        .collect()
}

fn json(repo: &Path, exhaustive: bool) -> String {
    let repo = repo.to_string_lossy().into_owned();
    let mut args = vec!["--repo", repo.as_str(), "--format", "json"];
    if exhaustive {
        args.push("--exhaustive-walk");
    }
    let (code, stdout, stderr) = pgtriage(&args);
    assert_eq!(code, 0, "pgtriage failed: {stderr}");
    stdout
}

/// Asserts that both walks find the same changes and print the same JSON; returns the changes.
fn same_in_both_walks(repo: &Path) -> BTreeSet<Change> {
    let limited = walk(repo, false);
    let exhaustive = walk(repo, true);
    let (found, expected) = (changes(&limited), changes(&exhaustive));
    assert_eq!(
        found.symmetric_difference(&expected).collect::<Vec<_>>(),
        Vec::<&Change>::new(),
        "changes one walk finds and the other does not"
    );
    assert_eq!(limited.commits_walked, exhaustive.commits_walked);
    assert_eq!(limited.problems, exhaustive.problems);
    assert_eq!(limited.skipped_paths, exhaustive.skipped_paths);
    assert!(
        json(repo, false) == json(repo, true),
        "`migrations --format json` differs between the limited and the exhaustive walk"
    );
    found
}

fn has(set: &BTreeSet<Change>, commit: &str, path: &str, change: &str) -> bool {
    set.contains(&(commit.to_string(), path.to_string(), change.to_string()))
}

// --- The three shapes -----------------------------------------------------------------------

/// A repository of `commits` commits with the shape `shape` (`gen-migrations-repo.py --shape`).
fn shaped_repo(shape: &str, commits: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let status = Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .arg(dir.path())
        .status()
        .expect("git runs");
    assert!(status.success());
    let stream = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-migrations-repo.py"))
        .args(["--shape", shape, "--commits", &commits.to_string()])
        .stderr(Stdio::null())
        .output()
        .expect("python3 runs the generator");
    assert!(stream.status.success(), "generator failed for {shape}");
    let mut import = Command::new("git")
        .arg("-C")
        .arg(dir.path())
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import runs");
    import
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(&stream.stdout)
        .expect("stream written");
    assert!(import.wait().expect("fast-import ends").success());
    let checkout = Command::new("git")
        .arg("-C")
        .arg(dir.path())
        .args(["checkout", "-q", "main"])
        .status()
        .expect("git runs");
    assert!(checkout.success());
    dir
}

#[test]
fn limited_walk_equals_exhaustive_on_the_saleor_shape() {
    // 45 Django apps under saleor/<app>/migrations/, apps gaining their first migration late,
    // a rewrite of every migration at 30 %, tests next to the apps.
    let repo = shaped_repo("saleor", 2000);
    let found = same_in_both_walks(repo.path());
    assert!(found.len() > 150, "{} changes", found.len());
    assert!(found.iter().any(|c| c.2.starts_with("renamed")));
}

#[test]
fn limited_walk_equals_exhaustive_on_the_openfoodnetwork_shape() {
    // Rails db/migrate/, merges, a squash at 75 %, spec/migrations and a vendored jquery-migrate
    // (skipped look-alikes, counted the same by both walks).
    let repo = shaped_repo("openfoodnetwork", 2000);
    let found = same_in_both_walks(repo.path());
    assert!(found.len() > 100, "{} changes", found.len());
    assert!(found.iter().any(|c| c.2 == "deleted"), "the squash");
}

#[test]
fn limited_walk_equals_exhaustive_on_the_lemmy_shape() {
    // Diesel folders moved from server/migrations/ to migrations/ at 40 %, pg_format at 85 %.
    let repo = shaped_repo("lemmy", 1500);
    let found = same_in_both_walks(repo.path());
    assert!(
        found
            .iter()
            .any(|c| c.1.starts_with("migrations/") && c.2.contains("from server/migrations/")),
        "the folder move is seen as renames"
    );
}

// --- Edge cases built with git --------------------------------------------------------------

/// 300 application folders: the survey spends its whole budget (a quarter of a tree read a
/// commit, plus 256) on the tip's tree and samples no other commit, so whatever the limited walk
/// finds between the first commit and the tip it finds by its own rules, not by a sample.
const APP_FOLDERS: usize = 300;

struct History {
    repo: TestRepo,
    commits: usize,
}

impl History {
    /// The first commit: the application folders, plus `files` (path, content).
    fn new(files: &[(&str, &str)]) -> History {
        let repo = TestRepo::new();
        for n in 0..APP_FOLDERS {
            repo.write(&format!("app/m{n:03}/model.rb"), format!("# model {n}\n"));
        }
        for (path, content) in files {
            repo.write(path, content);
        }
        let mut history = History { repo, commits: 0 };
        history.commit();
        history
    }

    /// Commits the working tree with one application file edited (as in a real history, every
    /// commit changes application code too), and returns the commit id.
    fn commit(&mut self) -> String {
        let n = self.commits;
        self.repo.write(
            &format!("app/m{:03}/model.rb", n % APP_FOLDERS),
            format!("# model edited in commit {n}\n"),
        );
        self.commits += 1;
        let date = format!("2025-01-01T{:02}:{:02}:00Z", n / 60, n % 60);
        self.repo.commit(&format!("commit {n}"), &date)
    }

    /// `count` commits that change only application code.
    fn idle(&mut self, count: usize) {
        for _ in 0..count {
            self.commit();
        }
    }

    fn write(&self, path: &str, content: &str) {
        self.repo.write(path, content);
    }

    fn remove(&self, path: &str) {
        self.repo.git(&["rm", "-q", "-r", path]);
    }

    fn path(&self) -> &Path {
        self.repo.path()
    }
}

#[test]
fn a_migration_folder_that_appears_late_is_followed_in_both_walks() {
    let mut h = History::new(&[("services/billing/app.py", "APP = 1\n")]);
    h.idle(10);
    // In an application folder that existed from the start, and is still there at the tip.
    h.write(
        "services/billing/migrations/0001_init.sql",
        "CREATE TABLE invoices (id int);\n",
    );
    let added = h.commit();
    h.idle(4);
    h.write(
        "services/billing/migrations/0001_init.sql",
        "CREATE TABLE invoices (id int);\nDROP TABLE old_invoices;\n",
    );
    let edited = h.commit();
    // A new top-level folder with migrations, gone again long before the tip.
    h.write("reports/migrations/0001_views.sql", "DROP VIEW daily;\n");
    let report_added = h.commit();
    h.idle(3);
    h.remove("reports");
    let report_gone = h.commit();
    h.idle(5);

    let found = same_in_both_walks(h.path());
    let billing = "services/billing/migrations/0001_init.sql";
    assert!(has(&found, &added, billing, "added"), "{found:?}");
    assert!(has(&found, &edited, billing, "modified"), "{found:?}");
    let report = "reports/migrations/0001_views.sql";
    assert!(has(&found, &report_added, report, "added"), "{found:?}");
    assert!(has(&found, &report_gone, report, "deleted"), "{found:?}");
    assert_eq!(found.len(), 4, "{found:?}");
}

#[test]
fn a_migration_renamed_across_folders_is_one_rename_in_both_walks() {
    let mut h = History::new(&[
        ("db/migration/V1__init.sql", "CREATE TABLE a (id int);\n"),
        ("db/migration/V2__users.sql", "DROP TABLE users;\n"),
        ("deploy/run.sh", "echo run\n"),
        (
            "services/billing/migrations/0001_init.py",
            "from django.db import migrations\n",
        ),
        ("services/payments/app.py", "APP = 1\n"),
    ]);
    h.idle(5);
    // Out of the layout folder into an existing one where only its name makes it a migration.
    h.repo
        .mv("db/migration/V2__users.sql", "deploy/flyway/V2__users.sql");
    let flyway_moved = h.commit();
    h.idle(3);
    // A Django migration moved to another app that had none.
    h.repo.mv(
        "services/billing/migrations/0001_init.py",
        "services/payments/migrations/0001_init.py",
    );
    let django_moved = h.commit();
    h.idle(3);

    let found = same_in_both_walks(h.path());
    assert!(
        has(
            &found,
            &flyway_moved,
            "deploy/flyway/V2__users.sql",
            "renamed from db/migration/V2__users.sql"
        ),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            &django_moved,
            "services/payments/migrations/0001_init.py",
            "renamed from services/billing/migrations/0001_init.py"
        ),
        "{found:?}"
    );
}

#[test]
fn a_migration_folder_deleted_and_recreated_is_followed_in_both_walks() {
    let first = "CREATE TABLE invoices (id int);\n";
    let path = "services/billing/migrations/0001_init.sql";
    let mut h = History::new(&[(path, first), ("services/billing/app.py", "APP = 1\n")]);
    h.idle(3);
    h.remove("services/billing/migrations");
    let folder_gone = h.commit();
    h.idle(3);
    h.write(path, "CREATE TABLE invoices (id bigint);\n");
    let folder_back = h.commit();
    h.idle(3);
    // The whole application folder, then back with the first content (a blob seen before).
    h.remove("services/billing");
    let app_gone = h.commit();
    h.idle(3);
    h.write(path, first);
    let app_back = h.commit();
    h.idle(2);
    // Gone at the tip: nothing the survey reads holds it.
    h.remove("services");
    let gone_again = h.commit();
    h.idle(3);

    let found = same_in_both_walks(h.path());
    for (commit, change) in [
        (&folder_gone, "deleted"),
        (&folder_back, "added"),
        (&app_gone, "deleted"),
        (&app_back, "added"),
        (&gone_again, "deleted"),
    ] {
        assert!(has(&found, commit, path, change), "{change}: {found:?}");
    }
}

#[test]
fn a_submodule_is_noted_by_both_walks() {
    let mut h = History::new(&[
        ("libs/README", "shared libraries\n"),
        ("db/migrate/20250101000000_init.rb", "drop_table :legacy\n"),
    ]);
    h.idle(3);
    // A nested repository: `git add -A` records it as a submodule (a gitlink).
    let nested = h.path().join("libs/auth");
    std::fs::create_dir_all(&nested).expect("mkdir");
    let nested_repo = |args: &[&str]| {
        migrations_git::run_git(&nested, args, Some("2025-01-01T00:00:00Z"));
    };
    nested_repo(&["init", "-q", "-b", "main"]);
    nested_repo(&[
        "-c",
        "user.name=N",
        "-c",
        "user.email=n@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "one",
    ]);
    let with_submodule = h.commit();
    h.idle(2);
    nested_repo(&[
        "-c",
        "user.name=N",
        "-c",
        "user.email=n@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "two",
    ]);
    h.commit();
    h.idle(2);

    let gitlink = h.repo.git(&["ls-tree", &with_submodule, "libs/auth"]);
    assert!(gitlink.starts_with("160000 commit"), "{gitlink}");
    same_in_both_walks(h.path());
    let limited = walk(h.path(), false);
    assert!(
        limited
            .problems
            .iter()
            .any(|p| p.starts_with("libs/auth: submodule")),
        "{:?}",
        limited.problems
    );
}

#[test]
fn a_flyway_file_outside_layout_folders_kept_to_the_tip_is_seen_in_both_walks() {
    let mut h = History::new(&[("deploy/run.sh", "echo run\n")]);
    h.idle(5);
    let path = "deploy/V3__add_index.sql";
    h.write(path, "CREATE INDEX a_i ON a (i);\n");
    let added = h.commit();
    h.idle(2);
    h.write(path, "DROP INDEX a_i;\nCREATE INDEX a_i ON a (i, j);\n");
    let edited = h.commit();
    h.idle(4);

    let found = same_in_both_walks(h.path());
    assert!(has(&found, &added, path, "added"), "{found:?}");
    assert!(has(&found, &edited, path, "modified"), "{found:?}");
    assert_eq!(found.len(), 2, "{found:?}");
}

// --- The blind spot -------------------------------------------------------------------------

#[test]
fn the_limited_walk_misses_exactly_the_blind_spot_the_readme_states() {
    let mut h = History::new(&[
        ("deploy/run.sh", "echo run\n"),
        ("tools/lint.sh", "lint\n"),
        ("db/seeds.rb", "# seeds\n"),
        ("scripts/build.sh", "build\n"),
    ]);
    h.idle(2);
    // Not seen: a migration by its name alone, added to a folder that existed before (deploy/),
    // outside layout folders, and gone before the next sampled commit (the tip is the only one
    // here): the walk never reads deploy/.
    let v3 = "deploy/V3__add_index.sql";
    h.write(v3, "CREATE INDEX a_i ON a (i);\n");
    let v3_added = h.commit();
    h.write(v3, "DROP INDEX a_i;\n");
    let v3_edited = h.commit();
    h.idle(2);
    h.remove(v3);
    let v3_gone = h.commit();
    // Not seen either, for the same reason: a layout folder in a folder new under one that
    // existed (tools/), and a test file that looks like a migration (not counted as skipped).
    let nested = "tools/search/migrations/0001_init.sql";
    h.write(nested, "DROP TABLE search_cache;\n");
    h.write(
        "tools/add_users_migration_spec.rb",
        "describe 'x' do\nend\n",
    );
    let nested_added = h.commit();
    h.idle(2);
    h.remove("tools/search");
    h.remove("tools/add_users_migration_spec.rb");
    let nested_gone = h.commit();
    // Seen: the same kind of file in a folder new in its commit whose parent is read (the root).
    let hotfix = "hotfix/V4__fix.sql";
    h.write(hotfix, "DELETE FROM sessions;\n");
    let hotfix_added = h.commit();
    h.remove("hotfix");
    let hotfix_gone = h.commit();
    // Seen: in a layout folder that existed before (db/ is read whole).
    let in_db = "db/V5__backfill.sql";
    h.write(in_db, "UPDATE a SET i = 0;\n");
    let in_db_added = h.commit();
    h.remove(in_db);
    let in_db_gone = h.commit();
    // Seen: in an existing folder outside layout folders, but still there at a sampled commit
    // (the tip): the survey marks its folder, and every version is read.
    let kept = "scripts/V6__kept.sql";
    h.write(kept, "CREATE TABLE k (id int);\n");
    let kept_added = h.commit();
    h.write(kept, "CREATE TABLE k (id bigint);\n");
    let kept_edited = h.commit();
    h.idle(2);

    let limited_walk = walk(h.path(), false);
    let exhaustive_walk = walk(h.path(), true);
    let (limited, exhaustive) = (changes(&limited_walk), changes(&exhaustive_walk));
    let missed: BTreeSet<Change> = exhaustive.difference(&limited).cloned().collect();
    let change = |c: &str, p: &str, what: &str| (c.to_string(), p.to_string(), what.to_string());
    let expected_missed: BTreeSet<Change> = [
        change(&v3_added, v3, "added"),
        change(&v3_edited, v3, "modified"),
        change(&v3_gone, v3, "deleted"),
        change(&nested_added, nested, "added"),
        change(&nested_gone, nested, "deleted"),
    ]
    .into_iter()
    .collect();
    assert_eq!(missed, expected_missed);
    assert!(limited.is_subset(&exhaustive), "{limited:?}");
    for (commit, path, what) in [
        (&hotfix_added, hotfix, "added"),
        (&hotfix_gone, hotfix, "deleted"),
        (&in_db_added, in_db, "added"),
        (&in_db_gone, in_db, "deleted"),
        (&kept_added, kept, "added"),
        (&kept_edited, kept, "modified"),
    ] {
        assert!(
            has(&limited, commit, path, what),
            "{path} {what}: {limited:?}"
        );
    }
    assert_eq!(limited.len(), 6, "{limited:?}");
    assert_eq!(exhaustive_walk.skipped_paths.get("test"), Some(&1));
    assert_eq!(limited_walk.skipped_paths.get("test"), None);
}
