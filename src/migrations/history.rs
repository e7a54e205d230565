//! The only file that speaks git2: walks the whole history and returns every version of every
//! migration path, with the blobs' text.
//!
//! Speed (../shared/rust-stack.md §4): libgit2's pathspec diff is 5–10× slower than `git log`, and
//! by default it re-hashes every object it reads. So the walk turns hash verification off,
//! compares tree-entry ids itself and descends only into subtrees whose id changed — a subtree
//! with the same id holds the same files. `--full-history` semantics: every commit is looked at,
//! none is simplified away; a merge reports only what differs from every parent (a conflict
//! resolution or an "evil merge"), since what it brings in was already reported on its branch.
//! The commit order and each commit's tree and parents come from git's commit-graph file when
//! it holds the history (`commit_graph.rs`: libgit2 cannot read the one git ≥ 2.34 writes).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use git2::{ObjectType, Oid, Repository, Sort, Tree};

use super::commit_graph::CommitGraph;
use super::detect::{self, Detector};

/// Files bigger than this are not read (a data dump named like a migration).
pub const MAX_BLOB_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct WalkOptions<'a> {
    pub repo: &'a Path,
    /// A revision or range (`v1.2..main`); default HEAD.
    pub rev: Option<&'a str>,
    pub since: Option<DateTime<Utc>>,
    pub detector: &'a Detector,
    /// Read the blobs' text (false: only the list of changes, for timing the walk alone).
    pub read_blobs: bool,
    /// Read every changed folder of every commit, as the walk did before it was limited to the
    /// folders its survey marks (`Scope`): slower, and what the limited walk is tested against.
    pub exhaustive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitMeta {
    pub id: String,
    pub time: DateTime<Utc>,
    pub author: String,
    /// First line of the message.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathChange {
    /// Index into `Walk::commits`.
    pub commit: usize,
    pub path: String,
    /// `added`, `modified`, `deleted`, `renamed`.
    pub change: &'static str,
    pub previous_path: Option<String>,
    pub old_blob: Option<String>,
    pub new_blob: Option<String>,
    pub framework: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobText {
    /// The text; `true` when it was not valid UTF-8 and was decoded lossily.
    Text(String, bool),
    /// Not read, and why (huge, binary, missing from a partial clone).
    Skipped(String),
}

#[derive(Debug, Clone, Default)]
pub struct Walk {
    pub head: Option<String>,
    pub shallow: Option<String>,
    pub commits_walked: u64,
    /// Commits that changed a migration path, in walk order.
    pub commits: Vec<CommitMeta>,
    /// Oldest first.
    pub changes: Vec<PathChange>,
    pub blobs: HashMap<String, BlobText>,
    /// A `Cargo.toml` at the root of HEAD: plain `migrations/*.sql` are sqlx's.
    pub rust_repo: bool,
    pub problems: Vec<String>,
    /// Distinct paths that look like migrations but were left out, by reason (`test`,
    /// `vendored`); directories pruned whole (node_modules, vendor, …) are never entered.
    pub skipped_paths: BTreeMap<String, u64>,
}

/// Process-wide libgit2 settings for a read-only walk, set once before any repository is opened.
///
/// libgit2's object cache is off: by default it keeps every commit and small tree read, up to
/// 256 MiB (measured: 300–400 MB RSS on a 22,600-commit history, twice `git log`'s), and a
/// bounded one is slower still, because each store over the limit scans the cache's hash map to
/// evict (a quarter of the walk's CPU at 16 MiB). The walk needs no general cache: it reads each
/// commit once, and keeps the trees of the commit before itself (`DiffContext::tree`), which are
/// the parent trees of the next commit in a linear stretch of history. Pack delta bases keep
/// their own small per-pack cache in libgit2.
fn tune_libgit2() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        git2::opts::strict_hash_verification(false);
        git2::opts::enable_caching(false);
    });
}

/// Opens the repository and walks it. Errors are one line that says what to do.
pub fn walk(opts: &WalkOptions) -> Result<Walk, String> {
    tune_libgit2();
    let repo = Repository::open(opts.repo).map_err(|e| {
        format!(
            "{}: not a git repository ({}); pass --repo with the application's checkout",
            opts.repo.display(),
            e.message()
        )
    })?;
    let mut out = Walk::default();
    if repo.is_bare() {
        out.problems
            .push("bare repository: history read, no working tree".to_string());
    }
    if repo.head_detached().unwrap_or(false) {
        out.problems
            .push("detached HEAD: walking from the checked-out commit".to_string());
    }
    if repo.is_shallow() {
        out.shallow = Some(shallow_note(&repo));
    }

    let mut revwalk = repo.revwalk().map_err(|e| e.message().to_string())?;
    revwalk
        .set_sorting(Sort::TOPOLOGICAL | Sort::TIME | Sort::REVERSE)
        .map_err(|e| e.message().to_string())?;
    // The one commit pushed (None for a range, whose hidden side only libgit2 walks).
    let mut tip: Option<Oid> = None;
    match opts.rev {
        Some(spec) if spec.contains("..") => revwalk.push_range(spec).map_err(|e| {
            format!(
                "--rev {spec}: {}; give a range like v1.0..main",
                e.message()
            )
        })?,
        Some(spec) => {
            let commit = repo
                .revparse_single(spec)
                .and_then(|o| o.peel_to_commit())
                .map_err(|e| format!("--rev {spec}: {}", e.message()))?;
            revwalk
                .push(commit.id())
                .map_err(|e| e.message().to_string())?;
            tip = Some(commit.id());
        }
        None => {
            let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| {
                format!(
                    "{}: HEAD names no commit ({}); check out a branch or pass --rev",
                    opts.repo.display(),
                    e.message()
                )
            })?;
            revwalk
                .push(head.id())
                .map_err(|e| e.message().to_string())?;
            tip = Some(head.id());
        }
    }
    let mut head_oid = None;
    if let Ok(head) = repo.head().and_then(|h| h.peel_to_commit()) {
        head_oid = Some(head.id());
        out.head = Some(head.id().to_string());
        out.rust_repo = head
            .tree()
            .map(|t| t.get_name("Cargo.toml").is_some())
            .unwrap_or(false);
    }

    // The commits first (ids only, 20 bytes each): the survey samples them before the walk.
    // From the commit graph when it holds the whole history (the same order, see
    // `CommitGraph::topo_order`), else from libgit2's revwalk.
    let graph = open_graph(&repo);
    let mut stopped: Option<String> = None;
    let from_graph = tip.zip(graph.as_ref()).and_then(|(t, g)| {
        let order = g.topo_order(t.as_bytes().try_into().ok()?)?;
        order
            .iter()
            .map(|o| Oid::from_bytes(o).ok())
            .collect::<Option<Vec<Oid>>>()
    });
    let oids: Vec<Oid> = match from_graph {
        Some(oids) => oids,
        None => {
            let mut oids = Vec::new();
            for oid in revwalk {
                match oid {
                    Ok(o) => oids.push(o),
                    Err(e) => {
                        stopped = Some(e.message().to_string());
                        break;
                    }
                }
            }
            oids
        }
    };

    let mut ctx = DiffContext {
        repo: &repo,
        detector: opts.detector,
        scope: Scope::new(opts.detector, opts.exhaustive),
        warned: BTreeMap::new(),
        skipped: BTreeMap::new(),
        trees: HashMap::new(),
        previous_trees: HashMap::new(),
        tree_of_commit: HashMap::new(),
        graph,
        sampled: HashMap::new(),
        sampled_before: HashMap::new(),
    };
    ctx.survey_history(&oids);
    let mut head_walked = false;
    for oid in oids {
        if head_oid == Some(oid) {
            head_walked = true;
        }
        let header = match ctx.header(oid) {
            Ok(h) => h,
            Err(e) => {
                out.problems
                    .push(format!("commit {oid} unreadable: {}", e.message()));
                continue;
            }
        };
        out.commits_walked += 1;
        let time = Utc
            .timestamp_opt(header.time, 0)
            .single()
            .unwrap_or_default();
        if opts.since.is_some_and(|s| time < s) {
            continue;
        }
        // The trees this commit's diff reads become the "previous" generation: the next commit
        // (usually a child) finds its parent's trees there instead of reading them again.
        ctx.previous_trees = std::mem::take(&mut ctx.trees);
        ctx.tree_of_commit.insert(oid, header.tree);
        let Ok(tree) = ctx.tree(header.tree) else {
            out.problems.push(format!("commit {oid}: tree missing"));
            continue;
        };
        let mut parents: Vec<Tree> = Vec::new();
        for pid in &header.parents {
            let parent_tree = match ctx.tree_of_commit.get(pid).copied() {
                Some(tid) => ctx.tree(tid),
                None => ctx.header(*pid).and_then(|p| ctx.tree(p.tree)),
            };
            match parent_tree {
                Ok(t) => parents.push(t),
                Err(e) => out.problems.push(format!(
                    "history incomplete: commit {oid}: parent {pid} cannot be read ({}); its changes are read against an empty tree; run `git fsck` or clone again",
                    e.message()
                )),
            }
        }
        let mut raw = Vec::new();
        let mut prefix = Vec::new();
        ctx.diff(parents.first(), Some(&tree), &mut prefix, false, &mut raw);
        if parents.len() > 1 {
            // Keep what differs from every parent: the merge's own changes.
            raw.retain(|c: &RawChange| {
                parents.iter().skip(1).all(|p| {
                    let theirs = p.get_path(Path::new(&c.path)).ok().map(|e| e.id());
                    theirs != c.new
                })
            });
        }
        if raw.is_empty() {
            continue;
        }
        // Author and message only for the commits that changed a migration path.
        let commit = match repo.find_commit(oid) {
            Ok(c) => c,
            Err(e) => {
                out.problems
                    .push(format!("commit {oid} unreadable: {}", e.message()));
                continue;
            }
        };
        let index = out.commits.len();
        let author = commit.author();
        out.commits.push(CommitMeta {
            id: oid.to_string(),
            time,
            author: String::from_utf8_lossy(author.name_bytes()).into_owned(),
            message: commit
                .summary_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
        });
        out.changes.extend(pair_renames(raw, index));
    }
    if let Some(why) = stopped {
        // A missing object stops the walk: the history must not look clean. What HEAD holds
        // is still read (every migration file as if added by HEAD), and the gap is said.
        out.problems.push(format!(
            "history incomplete: the walk stopped after {} commits ({why}); migration files are read from HEAD's tree without their history; run `git fsck` or clone again",
            out.commits_walked
        ));
        if !head_walked
            && let Ok(head) = repo.head().and_then(|h| h.peel_to_commit())
            && let Ok(tree) = head.tree()
        {
            // Every file of HEAD, wherever it is: the survey saw only what the walk reached.
            ctx.scope.exhaustive = true;
            let mut raw = Vec::new();
            let mut prefix = Vec::new();
            ctx.diff(None, Some(&tree), &mut prefix, false, &mut raw);
            if !raw.is_empty() {
                let index = out.commits.len();
                let author = head.author();
                out.commits.push(CommitMeta {
                    id: head.id().to_string(),
                    time: Utc
                        .timestamp_opt(head.time().seconds(), 0)
                        .single()
                        .unwrap_or_default(),
                    author: String::from_utf8_lossy(author.name_bytes()).into_owned(),
                    message: head
                        .summary_bytes()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default(),
                });
                out.changes.extend(pair_renames(raw, index));
            }
        }
    }
    out.problems.extend(ctx.warned.into_values());
    out.skipped_paths = ctx
        .skipped
        .into_iter()
        .map(|(why, paths)| (why.to_string(), paths.len() as u64))
        .collect();

    if !opts.read_blobs {
        return Ok(out);
    }
    // Read every distinct blob once.
    let odb = repo.odb().map_err(|e| e.message().to_string())?;
    let mut ids: Vec<&String> = out
        .changes
        .iter()
        .flat_map(|c| c.old_blob.iter().chain(c.new_blob.iter()))
        .collect();
    ids.sort();
    ids.dedup();
    let mut blobs = HashMap::with_capacity(ids.len());
    for id in ids {
        blobs.insert(id.clone(), read_blob(&repo, &odb, id));
    }
    out.blobs = blobs;
    Ok(out)
}

fn read_blob(repo: &Repository, odb: &git2::Odb, id: &str) -> BlobText {
    let Ok(oid) = Oid::from_str(id) else {
        return BlobText::Skipped("bad object id".to_string());
    };
    match odb.read_header(oid) {
        Ok((size, _)) if size > MAX_BLOB_BYTES => {
            return BlobText::Skipped(format!(
                "{} MiB, larger than the {} MiB limit",
                size / (1024 * 1024),
                MAX_BLOB_BYTES / (1024 * 1024)
            ));
        }
        Ok(_) => {}
        Err(e) => return BlobText::Skipped(format!("object missing ({})", e.message())),
    }
    match repo.find_blob(oid) {
        Ok(blob) => {
            let bytes = blob.content();
            let probe = bytes.get(..8000).unwrap_or(bytes);
            if memchr::memchr(0, probe).is_some() {
                return BlobText::Skipped("binary content".to_string());
            }
            match std::str::from_utf8(bytes) {
                Ok(s) => BlobText::Text(s.to_string(), false),
                Err(_) => BlobText::Text(String::from_utf8_lossy(bytes).into_owned(), true),
            }
        }
        Err(e) => BlobText::Skipped(format!("object unreadable ({})", e.message())),
    }
}

fn shallow_note(repo: &Repository) -> String {
    let text = std::fs::read_to_string(repo.path().join("shallow")).unwrap_or_default();
    let mut cuts: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let id = line.trim();
        let when = Oid::from_str(id)
            .ok()
            .and_then(|o| repo.find_commit(o).ok())
            .and_then(|c| Utc.timestamp_opt(c.time().seconds(), 0).single())
            .map(|t| format!(" ({})", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
        cuts.push(format!("{}{when}", crate::migrations::prefix(id, 12)));
    }
    format!(
        "shallow clone: history is cut short at {}; older migration versions are not visible (run `git fetch --unshallow`)",
        if cuts.is_empty() {
            "an unknown commit".to_string()
        } else {
            cuts.join(", ")
        }
    )
}

/// Git's tree order: names compared bytewise, a tree's name as if it ended in `/`. Entries of the
/// same name compare equal even if their types differ, so a type change is one pair.
fn tree_order(a: &git2::TreeEntry, b: &git2::TreeEntry) -> std::cmp::Ordering {
    let (x, y) = (a.name_bytes(), b.name_bytes());
    if x == y {
        return std::cmp::Ordering::Equal;
    }
    let len = x.len().min(y.len());
    match x.iter().take(len).cmp(y.iter().take(len)) {
        std::cmp::Ordering::Equal => {
            let end = |name: &[u8], e: &git2::TreeEntry| {
                name.get(len)
                    .copied()
                    .unwrap_or(if e.filemode() == 0o040000 { b'/' } else { 0 })
            };
            end(x, a).cmp(&end(y, b))
        }
        other => other,
    }
}

struct RawChange {
    path: String,
    old: Option<Oid>,
    new: Option<Oid>,
    framework: &'static str,
}

/// Which folders the walk reads. `git log -- db/migrate/*` reads three trees a commit (root, `db`,
/// `db/migrate`); a walk that must find migrations anywhere would read every changed folder of
/// every commit (4–5× the time on a Rails or Diesel history). So before the walk a survey of
/// sampled commits (`DiffContext::survey_history`) marks the folders that hold a migration, or a
/// file counted as skipped, or a submodule; the walk then reads, in each commit, only the trees
/// whose id changed and that are: the root, a marked folder or one on the way to it, a folder
/// whose name a layout uses (`detect::layout_dir`: `migrations/`, `db/`, … and all below it), a
/// folder new in that commit (all of it: a new app with its migrations), or a `--path` glob's
/// folder. A migration found by the walk marks its folder from then on (its later edits, renames
/// and deletion are followed). What this does not see: a migration whose whole life falls between
/// two sampled commits, below a folder that existed before it, was never marked and is outside
/// layout and `--path` folders — `deploy/V3__x.sql`, and `tools/x/migrations/0001.sql` in an
/// existing `tools/` (its parent unread, `x/` is never seen to be new). Checking such folders by
/// name was measured (README): it reads the exhaustive walk's trees, 1.4–3.5× the walk's CPU.
/// `exhaustive` reads every changed folder (tests/migrations_walk_scope.rs compares the two).
struct Scope {
    exhaustive: bool,
    /// Marked folders and every folder on the way to one, as `a/b/` (with the slash).
    folders: HashSet<Vec<u8>>,
    /// Folders read whole (`--path` globs' literal folders, `a/b/`).
    subtrees: Vec<Vec<u8>>,
}

impl Scope {
    fn new(detector: &Detector, exhaustive: bool) -> Scope {
        let mut scope = Scope {
            exhaustive,
            folders: HashSet::new(),
            subtrees: Vec::new(),
        };
        for glob in &detector.globs {
            // `*` matches `/` too (`require_literal_separator: false`): only the folder before
            // the first wildcard is fixed. A glob that starts with one can match anywhere.
            let literal = glob
                .as_str()
                .split(['*', '?', '['])
                .next()
                .unwrap_or_default();
            match literal.rfind('/') {
                Some(end) => {
                    let folder = literal.as_bytes().get(..=end).unwrap_or_default().to_vec();
                    scope.mark(&folder);
                    scope.subtrees.push(folder);
                }
                None => scope.exhaustive = true,
            }
        }
        scope
    }

    /// Marks the folders of `path` (`a/b/c` marks `a/` and `a/b/`).
    fn mark(&mut self, path: &[u8]) {
        for (i, _) in path.iter().enumerate().filter(|(_, b)| **b == b'/') {
            let folder = path.get(..=i).unwrap_or_default();
            if !self.folders.contains(folder) {
                self.folders.insert(folder.to_vec());
            }
        }
    }

    /// Whether the walk reads the folder `folder` (`a/b/`, with the slash), and whether all below
    /// it is read too. `is_new`: the folder is not in the tree the commit is compared with.
    fn reads(&self, name: &[u8], folder: &[u8], in_layout: bool, is_new: bool) -> (bool, bool) {
        let whole = in_layout
            || detect::layout_dir(name)
            || self.subtrees.iter().any(|s| folder.starts_with(s));
        let read = self.exhaustive || whole || is_new || self.folders.contains(folder);
        (read, whole)
    }
}

/// Trees of one survey sample kept for the comparison with the next (a few MB at most).
const SAMPLED_TREES_MAX: usize = 4096;

/// Tree reads the survey may spend: a quarter of a tree a commit, plus a floor that samples every
/// commit of a small history (then nothing is missed).
fn survey_budget(commits: usize) -> usize {
    commits / 4 + 256
}

struct DiffContext<'r> {
    repo: &'r Repository,
    detector: &'r Detector,
    scope: Scope,
    /// One note per odd path (submodule, non-UTF-8 name), keyed by path.
    warned: BTreeMap<String, String>,
    /// Paths detection left out, by reason (each counted once however often it changes).
    skipped: BTreeMap<&'static str, HashSet<String>>,
    /// Trees read for the current commit, and for the one walked before it: the only cache the
    /// walk keeps (two commits' changed subtrees, whatever the history's length).
    trees: HashMap<Oid, Tree<'r>>,
    previous_trees: HashMap<Oid, Tree<'r>>,
    /// Root tree of each walked commit (40 bytes a commit), so a parent's tree is found without
    /// reading the parent commit again.
    tree_of_commit: HashMap<Oid, Oid>,
    /// git's commit-graph file, when the repository has one: trees, parents and times of the
    /// commits it holds without inflating them.
    graph: Option<CommitGraph>,
    /// The survey's trees below the root of the sample it is reading, and of the sample before
    /// (each sample is compared with the one before: its trees are read once, not twice).
    sampled: HashMap<Oid, Tree<'r>>,
    sampled_before: HashMap<Oid, Tree<'r>>,
}

/// What the walk needs of a commit before it knows whether the commit changed a migration.
struct Header {
    tree: Oid,
    parents: Vec<Oid>,
    /// Committer time, seconds since the epoch.
    time: i64,
}

/// The commit graph, unless parents may differ from what it recorded: a shallow clone or
/// grafts change a commit's parents, and git itself ignores the graph then.
fn open_graph(repo: &Repository) -> Option<CommitGraph> {
    if repo.is_shallow() || repo.commondir().join("info/grafts").exists() {
        return None;
    }
    CommitGraph::open(&repo.commondir().join("objects"))
}

impl<'r> DiffContext<'r> {
    /// Marks the folders the walk reads (`Scope`): the tip's tree whole, then commits evenly
    /// spaced over the history, each compared with the one before (only new names are judged),
    /// as many as the tree reads of `survey_budget` allow.
    fn survey_history(&mut self, oids: &[Oid]) {
        if self.scope.exhaustive {
            return;
        }
        let repo = self.repo;
        let tree_of =
            |ctx: &Self, oid: Oid| ctx.header(oid).and_then(|h| repo.find_tree(h.tree)).ok();
        let Some(tip) = oids.last().and_then(|o| tree_of(self, *o)) else {
            return;
        };
        let budget = survey_budget(oids.len());
        let mut reads = 0;
        let mut prefix = Vec::new();
        self.survey(None, &tip, &mut prefix, &mut reads);
        // Each later sample reads at most the trees that changed, twice (before and after).
        let samples = (budget.saturating_sub(reads) / (2 * reads.max(1))).min(oids.len());
        let mut previous = tip;
        for k in 0..samples {
            self.sampled_before = std::mem::take(&mut self.sampled);
            if reads > 2 * budget {
                break;
            }
            let at = k * oids.len().saturating_sub(1) / samples.max(1);
            if let Some(tree) = oids.get(at).and_then(|o| tree_of(self, *o)) {
                self.survey(Some(&previous), &tree, &mut prefix, &mut reads);
                previous = tree;
            }
        }
        self.sampled = HashMap::new();
        self.sampled_before = HashMap::new();
    }

    /// Judges the names of `new` that `old` does not have, in folders whose id differs, and marks
    /// the folders of what detection does not call `Other`.
    fn survey(&mut self, old: Option<&Tree>, new: &Tree, prefix: &mut Vec<u8>, reads: &mut usize) {
        *reads += 1;
        let mut i = 0;
        let o_len = old.map_or(0, |t| t.len());
        for b in new.iter() {
            // The entry of the same name in `old`, if any (both lists are in tree order).
            let mut a = None;
            while i < o_len {
                let Some(e) = old.and_then(|t| t.get(i)) else {
                    break;
                };
                match tree_order(&e, &b) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Equal => {
                        a = Some(e);
                        i += 1;
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            if a.as_ref()
                .is_some_and(|a| a.id() == b.id() && a.filemode() == b.filemode())
            {
                continue;
            }
            let len = prefix.len();
            prefix.extend_from_slice(b.name_bytes());
            match b.kind() {
                Some(ObjectType::Tree) if !detect::prune_dir(b.name_bytes()) => {
                    if let Ok(tree) = self.repo.find_tree(b.id()) {
                        // Bounded: the tip's whole tree is surveyed first, and a monorepo's can
                        // hold tens of thousands of folders.
                        if self.sampled.len() < SAMPLED_TREES_MAX {
                            self.sampled.insert(b.id(), tree.clone());
                        }
                        // The folder as the sample before had it: read then, kept since.
                        let before = a.filter(|a| a.kind() == Some(ObjectType::Tree)).and_then(
                            |a| match self.sampled_before.get(&a.id()) {
                                Some(t) => Some(t.clone()),
                                None => self.repo.find_tree(a.id()).ok(),
                            },
                        );
                        *reads += usize::from(before.is_some());
                        prefix.push(b'/');
                        self.survey(before.as_ref(), &tree, prefix, reads);
                    }
                }
                Some(ObjectType::Blob)
                    if b.filemode() != 0o120000
                        && a.is_none_or(|a| a.kind() != Some(ObjectType::Blob)) =>
                {
                    let path = String::from_utf8_lossy(prefix);
                    if self.detector.judge(&path) != detect::Verdict::Other {
                        self.scope.mark(prefix);
                    }
                }
                Some(ObjectType::Commit) => self.scope.mark(prefix),
                _ => {}
            }
            prefix.truncate(len);
        }
    }

    /// A commit's tree, parents and time: from the commit graph when it holds the commit (git
    /// trusts it the same way), else from the commit object.
    fn header(&self, oid: Oid) -> Result<Header, git2::Error> {
        let from_graph = self.graph.as_ref().and_then(|g| {
            let c = g.commit(oid.as_bytes().try_into().ok()?)?;
            Some(Header {
                tree: Oid::from_bytes(&c.tree).ok()?,
                parents: c
                    .parents
                    .iter()
                    .map(|p| Oid::from_bytes(p).ok())
                    .collect::<Option<Vec<_>>>()?,
                time: c.time,
            })
        });
        if let Some(h) = from_graph {
            return Ok(h);
        }
        let c = self.repo.find_commit(oid)?;
        Ok(Header {
            tree: c.tree_id(),
            parents: c.parent_ids().collect(),
            time: c.time().seconds(),
        })
    }

    /// A tree by id, from the last two commits' trees or read from the object database.
    fn tree(&mut self, id: Oid) -> Result<Tree<'r>, git2::Error> {
        if let Some(t) = self.trees.get(&id) {
            return Ok(t.clone());
        }
        let t = match self.previous_trees.get(&id) {
            Some(t) => t.clone(),
            None => self.repo.find_tree(id)?,
        };
        self.trees.insert(id, t.clone());
        Ok(t)
    }

    /// Compares two trees entry by entry, descending only where ids differ and `Scope` reads.
    /// `in_layout`: the trees are below a layout folder (read whole).
    fn diff(
        &mut self,
        old: Option<&Tree>,
        new: Option<&Tree>,
        prefix: &mut Vec<u8>,
        in_layout: bool,
        out: &mut Vec<RawChange>,
    ) {
        if let (Some(o), Some(n)) = (old, new)
            && o.id() == n.id()
        {
            return;
        }
        // Both entry lists are sorted in git's tree order: walk them together, linearly.
        let (o_len, n_len) = (old.map_or(0, |t| t.len()), new.map_or(0, |t| t.len()));
        let (mut i, mut j) = (0, 0);
        while i < o_len || j < n_len {
            let a = old.and_then(|t| t.get(i)).filter(|_| i < o_len);
            let b = new.and_then(|t| t.get(j)).filter(|_| j < n_len);
            match (a, b) {
                (Some(a), Some(b)) => match tree_order(&a, &b) {
                    std::cmp::Ordering::Equal => {
                        if a.id() != b.id() || a.filemode() != b.filemode() {
                            self.entry_pair(Some(&a), Some(&b), prefix, in_layout, out);
                        }
                        i += 1;
                        j += 1;
                    }
                    std::cmp::Ordering::Less => {
                        self.entry_pair(Some(&a), None, prefix, in_layout, out);
                        i += 1;
                    }
                    std::cmp::Ordering::Greater => {
                        self.entry_pair(None, Some(&b), prefix, in_layout, out);
                        j += 1;
                    }
                },
                (Some(a), None) => {
                    self.entry_pair(Some(&a), None, prefix, in_layout, out);
                    i += 1;
                }
                (None, Some(b)) => {
                    self.entry_pair(None, Some(&b), prefix, in_layout, out);
                    j += 1;
                }
                (None, None) => break,
            }
        }
    }

    fn entry_pair(
        &mut self,
        old: Option<&git2::TreeEntry>,
        new: Option<&git2::TreeEntry>,
        prefix: &mut Vec<u8>,
        in_layout: bool,
        out: &mut Vec<RawChange>,
    ) {
        let Some(name) = new.or(old).map(|e| e.name_bytes().to_vec()) else {
            return;
        };
        let kind = |e: Option<&git2::TreeEntry>| e.and_then(|e| e.kind());
        let (ok, nk) = (kind(old), kind(new));
        let len = prefix.len();
        prefix.extend_from_slice(&name);

        if (ok == Some(ObjectType::Tree) || nk == Some(ObjectType::Tree))
            && !detect::prune_dir(&name)
        {
            prefix.push(b'/');
            let (read, whole) =
                self.scope
                    .reads(&name, prefix, in_layout, ok != Some(ObjectType::Tree));
            if read {
                let old_tree = old
                    .filter(|_| ok == Some(ObjectType::Tree))
                    .and_then(|e| self.tree(e.id()).ok());
                let new_tree = new
                    .filter(|_| nk == Some(ObjectType::Tree))
                    .and_then(|e| self.tree(e.id()).ok());
                self.diff(old_tree.as_ref(), new_tree.as_ref(), prefix, whole, out);
            }
        }
        let blob = |e: Option<&git2::TreeEntry>, k: Option<ObjectType>| {
            // Symlinks (mode 120000) are blobs too but hold a target path, not SQL.
            e.filter(|e| k == Some(ObjectType::Blob) && e.filemode() != 0o120000)
                .map(|e| e.id())
        };
        let (old_blob, new_blob) = (blob(old, ok), blob(new, nk));
        prefix.truncate(len + name.len());
        if old_blob.is_some() || new_blob.is_some() {
            let path = match std::str::from_utf8(prefix) {
                Ok(p) => p.to_string(),
                Err(_) => String::from_utf8_lossy(prefix).into_owned(),
            };
            let verdict = self.detector.judge(&path);
            if verdict != detect::Verdict::Other {
                // Its folder is read from now on: the file's later versions, its deletion.
                self.scope.mark(prefix);
            }
            if let detect::Verdict::Skipped(why) = verdict {
                self.skipped.entry(why).or_default().insert(path.clone());
            }
            if let detect::Verdict::Migration(framework) = verdict {
                if std::str::from_utf8(prefix).is_err() {
                    self.warned.insert(
                        path.clone(),
                        format!("{path}: path is not UTF-8; shown with replacement characters"),
                    );
                }
                out.push(RawChange {
                    path,
                    old: old_blob,
                    new: new_blob,
                    framework,
                });
            }
        }
        if nk == Some(ObjectType::Commit) {
            self.scope.mark(prefix);
            let path = String::from_utf8_lossy(prefix).into_owned();
            self.warned.entry(path.clone()).or_insert_with(|| {
                format!("{path}: submodule, not scanned (run pgtriage on its own checkout)")
            });
        }
        prefix.truncate(len);
    }
}

/// Turns raw changes into added/modified/deleted/renamed; a deletion and an addition of the same
/// blob in one commit are a rename.
fn pair_renames(raw: Vec<RawChange>, commit: usize) -> Vec<PathChange> {
    let mut changes: Vec<PathChange> = Vec::with_capacity(raw.len());
    let mut deleted: HashMap<Oid, Vec<String>> = HashMap::new();
    for c in &raw {
        if let (Some(o), None) = (c.old, c.new) {
            deleted.entry(o).or_default().push(c.path.clone());
        }
    }
    let mut renamed_from: Vec<String> = Vec::new();
    for c in &raw {
        if let (None, Some(n)) = (c.old, c.new)
            && let Some(from) = deleted.get_mut(&n).and_then(|v| v.pop())
        {
            renamed_from.push(from.clone());
            changes.push(PathChange {
                commit,
                path: c.path.clone(),
                change: "renamed",
                previous_path: Some(from),
                old_blob: Some(n.to_string()),
                new_blob: Some(n.to_string()),
                framework: c.framework,
            });
        }
    }
    for c in raw {
        let change = match (c.old, c.new) {
            (None, Some(_)) => "added",
            (Some(_), Some(_)) => "modified",
            (Some(_), None) => "deleted",
            (None, None) => continue,
        };
        if change == "deleted" && renamed_from.contains(&c.path) {
            continue;
        }
        if change == "added" && changes.iter().any(|p| p.path == c.path) {
            continue;
        }
        changes.push(PathChange {
            commit,
            path: c.path,
            change,
            previous_path: None,
            old_blob: c.old.map(|o| o.to_string()),
            new_blob: c.new.map(|o| o.to_string()),
            framework: c.framework,
        });
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}
