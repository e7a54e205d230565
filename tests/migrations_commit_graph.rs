//! The walk reads commit order, trees, parents and times from git's commit-graph file instead of
//! libgit2's revwalk and commit objects (libgit2 rejects the graph git ≥ 2.34 writes). Checked
//! here against libgit2 itself on histories written by real git: random merges and octopus
//! merges, many commits sharing one timestamp (the heap's tie-breaking decides the order),
//! clock skew, a single graph file and a split chain of layers, and the walk's JSON with and
//! without the graph.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use git2::{Oid, Repository, Sort};
use pgtriage::migrations::commit_graph::CommitGraph;
use support::git;

/// A fast-import stream of `commits` commits over a random DAG (seeded), starting after mark
/// `first`; every head left unmerged is merged by the last commit (an octopus when several).
fn history(first: usize, commits: usize, seed: u64, heads: &mut Vec<usize>) -> String {
    let mut rng = seed;
    let mut next = || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) as usize
    };
    let mut out = String::new();
    for i in first..first + commits {
        let mark = i + 1;
        let last = i + 1 == first + commits;
        let mut parents: Vec<usize> = Vec::new();
        if last {
            parents.append(heads);
        } else if !heads.is_empty() {
            let k = next() % heads.len();
            parents.push(heads.remove(k));
            if !heads.is_empty() && next() % 4 == 0 {
                let k = next() % heads.len();
                parents.push(heads.remove(k));
            }
            if !heads.is_empty() && next() % 25 == 0 {
                let k = next() % heads.len();
                parents.push(heads.remove(k));
            }
        }
        // Branch off: the same parent keeps a second child later.
        if let Some(p) = parents.first()
            && next() % 5 == 0
        {
            heads.push(*p);
        }
        // Few distinct times (ties), some going back (skew).
        let time = 1_700_000_000 + (i / 7) as i64 * 60 - (next() % 3) as i64 * 600;
        out.push_str(&format!(
            "commit refs/heads/main\nmark :{mark}\ncommitter T <t@example.com> {time} +0000\ndata 3\nc{}\n",
            i % 10
        ));
        for (n, p) in parents.iter().enumerate() {
            out.push_str(&format!("{} :{p}\n", if n == 0 { "from" } else { "merge" }));
        }
        if parents.is_empty() {
            out.push_str("deleteall\n");
        }
        out.push_str(&format!(
            "M 644 inline db/migrate/{:04}_m.rb\ndata 4\nx{:02}\n\n",
            i % 40,
            i % 97
        ));
        heads.push(mark);
    }
    out
}

fn import(repo: &Path, stream: &str, marks: &Path) {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["fast-import", "--quiet", "--force"])
        .arg(format!("--export-marks={}", marks.display()))
        .arg(format!("--import-marks-if-exists={}", marks.display()))
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stream.as_bytes())
        .expect("stream");
    assert!(child.wait().expect("fast-import").success());
}

fn libgit2_order(repo: &Repository) -> Vec<Oid> {
    let mut walk = repo.revwalk().expect("revwalk");
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME | Sort::REVERSE)
        .expect("sorting");
    walk.push_head().expect("push");
    walk.map(|o| o.expect("oid")).collect()
}

fn check_graph_against_libgit2(repo_dir: &Path, layers: usize) {
    let repo = Repository::open(repo_dir).expect("open");
    let graph = CommitGraph::open(&repo_dir.join(".git/objects")).expect("a commit graph");
    let expected = libgit2_order(&repo);
    let tip = repo.head().expect("head").target().expect("tip");
    let order: Vec<Oid> = graph
        .topo_order(tip.as_bytes().try_into().expect("20 bytes"))
        .expect("the graph holds the history")
        .iter()
        .map(|o| Oid::from_bytes(o).expect("oid"))
        .collect();
    assert_eq!(order.len(), expected.len());
    let first_difference = order.iter().zip(&expected).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "{layers} layer(s): order differs");
    for oid in &expected {
        let c = repo.find_commit(*oid).expect("commit");
        let g = graph
            .commit(oid.as_bytes().try_into().expect("20 bytes"))
            .expect("in the graph");
        assert_eq!(Oid::from_bytes(&g.tree).expect("tree"), c.tree_id());
        let parents: Vec<Oid> = g
            .parents
            .iter()
            .map(|p| Oid::from_bytes(p).expect("parent"))
            .collect();
        assert_eq!(parents, c.parent_ids().collect::<Vec<_>>());
        assert_eq!(g.time, c.time().seconds());
    }
}

fn walk_json(bin: &Path, repo: &Path) -> Vec<u8> {
    let out = Command::new(bin)
        .args(["migrations", "--repo"])
        .arg(repo)
        .args(["--format", "json"])
        .output()
        .expect("pgtriage");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn the_graphs_order_trees_parents_and_times_are_libgit2s() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    let marks = tmp.path().join("marks");
    let mut heads = Vec::new();
    // A first part, its graph as one layer of a split chain.
    import(&repo, &history(0, 700, 7, &mut heads), &marks);
    git(
        &repo,
        &["commit-graph", "write", "--reachable", "--split=no-merge"],
    );
    // More history on top (the octopus merges every head left), a second layer.
    heads = vec![700];
    import(&repo, &history(700, 900, 11, &mut heads), &marks);
    git(
        &repo,
        &["commit-graph", "write", "--reachable", "--split=no-merge"],
    );
    let chain =
        std::fs::read_to_string(repo.join(".git/objects/info/commit-graphs/commit-graph-chain"))
            .expect("a split commit-graph chain");
    assert_eq!(chain.lines().count(), 2, "{chain}");
    check_graph_against_libgit2(&repo, 2);

    // The same history with one graph file (what `git gc` writes), generation data included.
    git(&repo, &["commit-graph", "write", "--reachable"]);
    assert!(repo.join(".git/objects/info/commit-graph").is_file());
    check_graph_against_libgit2(&repo, 1);

    // The walk's output is the same with the graph and without it (libgit2's path).
    let bin = assert_cmd::cargo::cargo_bin("pgtriage");
    let with = walk_json(&bin, &repo);
    std::fs::remove_file(repo.join(".git/objects/info/commit-graph")).expect("rm graph");
    std::fs::remove_dir_all(repo.join(".git/objects/info/commit-graphs")).expect("rm chain");
    let without = walk_json(&bin, &repo);
    assert!(!with.is_empty());
    assert_eq!(with, without, "the walk's JSON differs with the graph");
}

#[test]
fn commits_written_after_the_graph_fall_back_to_the_objects() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    let marks = tmp.path().join("marks");
    let mut heads = Vec::new();
    import(&repo, &history(0, 300, 3, &mut heads), &marks);
    git(&repo, &["commit-graph", "write", "--reachable"]);
    let bin = assert_cmd::cargo::cargo_bin("pgtriage");
    heads = vec![300];
    import(&repo, &history(300, 50, 5, &mut heads), &marks);
    // The tip is not in the graph: the order comes from libgit2, trees of the commits the
    // graph holds from the graph; the output matches a walk without any graph.
    let graph = CommitGraph::open(&repo.join(".git/objects")).expect("graph");
    let r = Repository::open(&repo).expect("open");
    let tip = r.head().expect("head").target().expect("tip");
    assert!(
        graph
            .topo_order(tip.as_bytes().try_into().expect("20"))
            .is_none()
    );
    let with = walk_json(&bin, &repo);
    std::fs::remove_file(repo.join(".git/objects/info/commit-graph")).expect("rm graph");
    assert_eq!(with, walk_json(&bin, &repo));
}
