//! The git2 walk (src/migrations/history.rs) against git itself on generated histories: with
//! libgit2's object cache off and only the last two commits' trees kept, every change git lists
//! is still found, on a linear history (scripts/gen-migrations-repo.py) and on one with merges
//! and a moved migration folder (`--shape lemmy`, cut short).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pgtriage::migrations::{detect::Detector, history};

fn generated_repo(name: &str, args: &[&str], max_commits: Option<usize>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pgtriage-walk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        Command::new("git")
            .args(["init", "-q", "-b", "main"])
            .arg(&dir)
            .status()
            .unwrap()
            .success()
    );
    let gen_out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-migrations-repo.py"))
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("python3 runs the generator");
    assert!(gen_out.status.success());
    let mut stream = gen_out.stdout;
    if let Some(n) = max_commits {
        // Cut the stream after n commits (each starts with "commit refs/heads/main\n").
        let marker = b"commit refs/heads/main\n";
        let mut seen = 0;
        let mut i = 0;
        while i + marker.len() <= stream.len() {
            if &stream[i..i + marker.len()] == marker && (i == 0 || stream[i - 1] == b'\n') {
                seen += 1;
                if seen > n {
                    stream.truncate(i);
                    break;
                }
            }
            i += 1;
        }
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(&dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(child.wait().unwrap().success());
    dir
}

/// (commit, path, A/M/D) of every non-merge commit, as git lists them without rename detection.
fn git_changes(repo: &Path) -> BTreeSet<(String, String, char)> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "log",
            "--full-history",
            "--no-merges",
            "--no-renames",
            "--format=>%H",
            "--name-status",
            "main",
            "--",
            ":(glob)**/migrations/**",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut commit = String::new();
    let mut set = BTreeSet::new();
    for line in text.lines() {
        if let Some(c) = line.strip_prefix('>') {
            commit = c.to_string();
        } else if let Some((status, path)) = line.split_once('\t') {
            set.insert((
                commit.clone(),
                path.to_string(),
                status.chars().next().unwrap(),
            ));
        }
    }
    set
}

fn walk_changes(repo: &Path) -> (history::Walk, BTreeSet<(String, String, char)>) {
    let detector = Detector::new(&["**/migrations/**".to_string()], true).unwrap();
    let walk = history::walk(&history::WalkOptions {
        repo,
        rev: Some("main"),
        since: None,
        detector: &detector,
        read_blobs: true,
        exhaustive: false,
    })
    .unwrap();
    let mut set = BTreeSet::new();
    for c in &walk.changes {
        let id = walk.commits[c.commit].id.clone();
        match c.change {
            "added" => set.insert((id, c.path.clone(), 'A')),
            "modified" => set.insert((id, c.path.clone(), 'M')),
            "deleted" => set.insert((id, c.path.clone(), 'D')),
            // git without rename detection: the old path deleted, the new one added.
            "renamed" => {
                set.insert((id.clone(), c.previous_path.clone().unwrap(), 'D'));
                set.insert((id, c.path.clone(), 'A'))
            }
            other => panic!("unexpected change {other}"),
        };
    }
    (walk, set)
}

#[test]
fn walk_finds_what_git_log_finds_on_a_linear_history() {
    let repo = generated_repo("linear", &["600"], None);
    let expected = git_changes(&repo);
    let (walk, found) = walk_changes(&repo);
    assert_eq!(walk.commits_walked, 600);
    assert!(expected.len() > 100, "{} changes", expected.len());
    assert_eq!(found, expected);
    // Every blob a change names was read, once.
    for c in &walk.changes {
        for b in c.old_blob.iter().chain(c.new_blob.iter()) {
            assert!(walk.blobs.contains_key(b), "{b} of {} not read", c.path);
        }
    }
    let _ = std::fs::remove_dir_all(&repo);
}

#[test]
fn walk_finds_what_git_log_finds_with_merges_and_a_moved_folder() {
    // lemmy's shape: the folder moves from server/migrations/ to migrations/ at 40 % of 6,800
    // commits; 2,900 commits include the move and the merges around it.
    let repo = generated_repo("lemmy", &["--shape", "lemmy"], Some(2900));
    let expected = git_changes(&repo);
    let (walk, found) = walk_changes(&repo);
    let merges = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["rev-list", "--merges", "--count", "main"])
        .output()
        .unwrap();
    let merges: u32 = String::from_utf8_lossy(&merges.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(merges > 50, "{merges} merges");
    assert!(
        walk.changes.iter().any(|c| c.change == "renamed"
            && c.previous_path
                .as_deref()
                .is_some_and(|p| p.starts_with("server/migrations/"))),
        "the folder move is seen as renames"
    );
    // A merge of a pull request brings nothing new (its changes were listed on the branch), so
    // the walk's changes are exactly the non-merge commits' changes git lists.
    assert_eq!(found, expected);
    let _ = std::fs::remove_dir_all(&repo);
}
