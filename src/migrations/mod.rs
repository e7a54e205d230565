//! Migration history: finds migration files of the common frameworks in git, every version of
//! each, what each version would destroy, and (with a database) which version actually ran.
//! Only `history.rs` speaks git2; `sql.rs` reads SQL, `orm.rs` the frameworks' own languages,
//! `keywords.rs` what neither can (both share `found.rs`); lining the history up with the
//! database is judgement, in `analysis::migration_check`.
//!
//! Public API: [`scan_history`] (git, no database), [`match_applied`] (tracking-table rows from
//! `db::tracking`), [`cross_check`] (a `DatabaseSnapshot`), and [`sql::destructive_statements`]
//! / [`scan_text`] for a single text.

pub mod checksum;
pub mod commit_graph;
pub mod detect;
pub mod found;
pub mod frameworks;
pub mod history;
pub mod keywords;
pub mod orm;
pub mod repo_scan;
pub mod sql;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

// The cross-check is judgement and lives in `analysis`; these paths keep working.
pub use crate::analysis::migration_check::{
    align_with_log, cross_check, match_applied, normalise_table,
};

use crate::error::UserError;
use crate::evidence::{
    DestructiveOperation, FileVersion, MeaningfulEdit, MigrationFile, MigrationHistory,
};
use sql::FoundOperation;

/// What to walk and which files count as migrations.
#[derive(Debug, Clone, Default)]
pub struct HistoryOptions {
    pub repo: PathBuf,
    /// A revision or a range (`A..B`); default HEAD.
    pub rev: Option<String>,
    /// Only versions committed at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Extra globs (`--path`), matched against repository paths.
    pub paths: Vec<String>,
    /// When false, only `paths` select files (the built-in conventions are off).
    pub no_conventions: bool,
    /// Read every changed folder of every commit, not only those `history::Scope` marks
    /// (`--exhaustive-walk`): slower; what the limited walk is tested against.
    pub exhaustive: bool,
}

/// What one version of one file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileScan {
    pub operations: Vec<FoundOperation>,
    pub creates: Vec<String>,
    /// Meaning units: equal concatenations mean the same migration, whatever the formatting.
    pub canonical: Vec<String>,
    pub problems: Vec<String>,
}

/// Scans one file's text as its framework writes it: SQL files with the SQL scanner, everything
/// else with the ORM scanner (which parses the SQL in its strings). SQL down-migrations (goose
/// `-- +goose Down`, dbmate `-- migrate:down`, `*.down.sql`, Diesel `down.sql`) are marked inert.
pub fn scan_text(path: &str, framework: &str, text: &str) -> FileScan {
    if is_sql(path) {
        sql_file_scan(path, text, sql::scan(text))
    } else {
        let app = path
            .rsplit('/')
            .skip_while(|p| *p != "migrations")
            .nth(1)
            .map(str::to_string);
        let scan = orm::scan(path, framework, text, app.as_deref());
        FileScan {
            operations: scan.operations,
            creates: scan.creates,
            canonical: scan.canonical,
            problems: scan.problems,
        }
    }
}

fn is_sql(path: &str) -> bool {
    path.ends_with(".sql") || path.ends_with(".sql.postgres")
}

/// An SQL file's scan from the scan of its text: what comes after the file's down marker (or
/// all of a down file) only runs on rollback.
fn sql_file_scan(path: &str, text: &str, scan: sql::SqlScan) -> FileScan {
    {
        let mut operations = scan.operations;
        let down_from = sql_down_start(path, text);
        for op in operations.iter_mut() {
            if down_from.is_some_and(|l| op.line >= l) {
                op.active = false;
                op.note = Some(match op.note.take() {
                    Some(n) => format!("in the down migration: runs only on rollback; {n}"),
                    None => "in the down migration: runs only on rollback".to_string(),
                });
            }
        }
        FileScan {
            operations,
            creates: scan.creates,
            canonical: scan.canonical,
            problems: scan.problems,
        }
    }
}

/// What a scan of this path depends on besides the text: for an SQL file only its name (`.sql`,
/// and whether it is a down migration), for the ORM scanner the whole path (the app folder).
fn scan_key(path: &str) -> &str {
    if is_sql(path) {
        path.rsplit('/').next().unwrap_or(path)
    } else {
        path
    }
}

/// First line of the down part of an SQL migration, if it has one.
fn sql_down_start(path: &str, text: &str) -> Option<u32> {
    let file = path.rsplit('/').next().unwrap_or(path);
    if file.ends_with(".down.sql")
        || file == "down.sql"
        || file.starts_with("U") && file.contains("__")
    {
        return Some(1);
    }
    text.lines()
        .position(|l| {
            let t = l.trim();
            t.starts_with("-- +goose Down") || t.starts_with("-- migrate:down")
        })
        .map(|i| i as u32 + 1)
}

/// Short commit id used in citations.
pub fn short(commit: &str) -> &str {
    prefix(commit, 7)
}

/// The first `n` characters of `s` (never cut inside a character: a commit id from an evidence
/// file may be anything).
pub fn prefix(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// Walks the repository and reads every version of every migration file.
pub fn scan_history(opts: &HistoryOptions) -> Result<MigrationHistory, UserError> {
    let detector =
        detect::Detector::new(&opts.paths, !opts.no_conventions).map_err(UserError::new)?;
    if opts.no_conventions && opts.paths.is_empty() {
        return Err(UserError::new(
            "--no-conventions needs at least one --path GLOB to say which files are migrations",
        ));
    }
    let walk = history::walk(&history::WalkOptions {
        repo: &opts.repo,
        rev: opts.rev.as_deref(),
        since: opts.since,
        detector: &detector,
        read_blobs: true,
        exhaustive: opts.exhaustive,
    })
    .map_err(UserError::new)?;
    Ok(assemble(&opts.repo.display().to_string(), walk))
}

/// The history walk alone — no blob read, nothing parsed: (commits walked, commits that touch
/// a migration, path changes). For `scripts/bench-migrations.sh`, to compare with `git log`.
pub fn walk_only(opts: &HistoryOptions) -> Result<(u64, usize, usize), UserError> {
    let detector =
        detect::Detector::new(&opts.paths, !opts.no_conventions).map_err(UserError::new)?;
    let walk = history::walk(&history::WalkOptions {
        repo: &opts.repo,
        rev: opts.rev.as_deref(),
        since: opts.since,
        detector: &detector,
        read_blobs: false,
        exhaustive: opts.exhaustive,
    })
    .map_err(UserError::new)?;
    Ok((walk.commits_walked, walk.commits.len(), walk.changes.len()))
}

fn text_of<'w>(walk: &'w history::Walk, blob: Option<&String>) -> Option<&'w str> {
    match walk.blobs.get(blob?)? {
        history::BlobText::Text(t, _) => Some(t.as_str()),
        history::BlobText::Skipped(_) => None,
    }
}

fn assemble(repo: &str, walk: history::Walk) -> MigrationHistory {
    let mut problems = walk.problems.clone();

    // Decide each path's framework once, from the path and its first readable version.
    let mut framework_of: BTreeMap<&str, &'static str> = BTreeMap::new();
    for c in &walk.changes {
        if framework_of.contains_key(c.path.as_str()) {
            continue;
        }
        let head = text_of(&walk, c.new_blob.as_ref()).unwrap_or("");
        let head = head.get(..floor_char_boundary(head, 4096)).unwrap_or(head);
        framework_of.insert(
            &c.path,
            detect::refine(c.framework, &c.path, head, walk.rust_repo),
        );
    }

    // Scan every distinct content once, in parallel: an SQL file's scan depends on its text and
    // file name only, so a renamed or moved SQL file is not parsed again (see `scan_key`).
    let mut jobs: Vec<(&str, &str, &str, &'static str)> = Vec::new();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for c in &walk.changes {
        let fw = framework_of
            .get(c.path.as_str())
            .copied()
            .unwrap_or(c.framework);
        for blob in [c.old_blob.as_ref(), c.new_blob.as_ref()]
            .into_iter()
            .flatten()
        {
            if seen.insert((scan_key(&c.path), blob.as_str())) {
                jobs.push((scan_key(&c.path), c.path.as_str(), blob.as_str(), fw));
            }
        }
    }
    let scans = scan_distinct(&walk, &jobs);

    // Blob-level notes: huge, binary, not UTF-8 — once per (path, blob).
    let mut noted: HashSet<(&str, &str)> = HashSet::new();
    for c in &walk.changes {
        let Some(blob) = c.new_blob.as_ref() else {
            continue;
        };
        if !noted.insert((c.path.as_str(), blob.as_str())) {
            continue;
        }
        // `c.commit` indexes `walk.commits` (the walk made both); a citation without the
        // commit beats a panic should it not.
        let commit = walk.commits.get(c.commit).map_or("", |m| short(&m.id));
        let at = format!("git:{commit}:{}", c.path);
        match walk.blobs.get(blob) {
            Some(history::BlobText::Skipped(why)) => problems.push(format!("{at}: skipped: {why}")),
            Some(history::BlobText::Text(_, true)) => problems.push(format!(
                "{at}: not valid UTF-8; read with replacement characters"
            )),
            _ => {}
        }
        if let Some(scan) = scans.get(&(scan_key(&c.path), blob.as_str()))
            && !scan.problems.is_empty()
        {
            problems.push(format!(
                "{at}: not fully parsed ({}); the keyword scanner read the rest",
                scan.problems.join("; ")
            ));
        }
    }

    let mut files: BTreeMap<String, MigrationFile> = BTreeMap::new();
    let mut operations: Vec<DestructiveOperation> = Vec::new();
    let mut edits: Vec<MeaningfulEdit> = Vec::new();
    let mut created: HashSet<String> = HashSet::new();
    let mut first_commit: HashMap<&str, &str> = HashMap::new();

    for c in &walk.changes {
        let Some(meta) = walk.commits.get(c.commit) else {
            continue;
        };
        let fw = framework_of
            .get(c.path.as_str())
            .copied()
            .unwrap_or(c.framework);
        let new_text = text_of(&walk, c.new_blob.as_ref());
        let checksum = new_text.and_then(|t| checksum::for_framework(fw, t));
        let file = files
            .entry(c.path.clone())
            .or_insert_with(|| MigrationFile {
                path: c.path.clone(),
                framework: fw.to_string(),
                version: detect::version_of(fw, &c.path),
                versions: Vec::new(),
            });
        // A revision the file's text names (Alembic's `revision = "086"`) beats the path's;
        // the latest version of the file says it.
        if new_text.is_some()
            && let Some(revision) = detect::revision_of(fw, &c.path, new_text)
        {
            file.version = Some(revision);
        }
        file.versions.push(FileVersion {
            commit: meta.id.clone(),
            committed_at: meta.time,
            author: meta.author.clone(),
            message: meta.message.clone(),
            change: c.change.to_string(),
            previous_path: c.previous_path.clone(),
            blob: c.new_blob.clone(),
            checksum,
        });
        if c.change == "added" {
            first_commit
                .entry(c.path.as_str())
                .or_insert(meta.id.as_str());
        }
        if let Some(prev) = &c.previous_path
            && let Some(first) = first_commit.get(prev.as_str()).copied()
        {
            first_commit.entry(c.path.as_str()).or_insert(first);
        }

        let new_scan = c
            .new_blob
            .as_ref()
            .and_then(|b| scans.get(&(scan_key(&c.path), b.as_str())));
        let old_scan = c
            .old_blob
            .as_ref()
            .and_then(|b| scans.get(&(scan_key(&c.path), b.as_str())));
        let Some(new_scan) = new_scan else { continue };
        for t in &new_scan.creates {
            created.insert(normalise_table(t));
        }

        // Operations this version introduces.
        let key = |o: &FoundOperation| (o.kind, o.objects.clone(), o.active, o.cascade);
        let before: HashSet<_> = old_scan
            .map(|s| s.operations.iter().map(key).collect())
            .unwrap_or_default();
        for op in &new_scan.operations {
            if c.change != "added" && before.contains(&key(op)) {
                continue;
            }
            operations.push(DestructiveOperation {
                kind: op.kind.to_string(),
                cascade: op.cascade,
                objects: op.objects.clone(),
                statement: op.statement.clone(),
                path: c.path.clone(),
                line: op.line,
                commit: meta.id.clone(),
                committed_at: meta.time,
                author: meta.author.clone(),
                framework: fw.to_string(),
                active: op.active,
                found_by: op.found_by.to_string(),
                note: op.note.clone(),
                source: format!("git:{}:{}:{}", short(&meta.id), c.path, op.line),
            });
        }

        // Edited after commit: only a change of meaning counts.
        if c.change == "modified"
            && let Some(old_scan) = old_scan
            && old_scan.canonical.concat() != new_scan.canonical.concat()
        {
            let old_units: HashSet<&String> = old_scan.canonical.iter().collect();
            let new_units: HashSet<&String> = new_scan.canonical.iter().collect();
            let shorten = |s: &String| sql::truncate_chars(s, 200);
            let before: Vec<String> = old_scan
                .canonical
                .iter()
                .filter(|u| !new_units.contains(u))
                .take(10)
                .map(shorten)
                .collect();
            let after: Vec<String> = new_scan
                .canonical
                .iter()
                .filter(|u| !old_units.contains(u))
                .take(10)
                .map(shorten)
                .collect();
            let line = first_changed_line(
                text_of(&walk, c.old_blob.as_ref()).unwrap_or(""),
                new_text.unwrap_or(""),
            );
            edits.push(MeaningfulEdit {
                path: c.path.clone(),
                first_commit: first_commit
                    .get(c.path.as_str())
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                edit_commit: meta.id.clone(),
                edited_at: meta.time,
                before,
                after,
                source: format!("git:{}:{}:{}", short(&meta.id), c.path, line),
            });
        }
    }

    operations.sort_by(|a, b| {
        (a.committed_at, &a.path, a.line, &a.kind, &a.objects).cmp(&(
            b.committed_at,
            &b.path,
            b.line,
            &b.kind,
            &b.objects,
        ))
    });
    operations.dedup();
    edits.sort_by(|a, b| (a.edited_at, &a.path).cmp(&(b.edited_at, &b.path)));
    let mut created_tables: Vec<String> = created.into_iter().collect();
    created_tables.sort();
    problems.sort();
    problems.dedup();

    MigrationHistory {
        repo: repo.to_string(),
        head: walk.head.clone(),
        shallow: walk.shallow.clone(),
        commits_walked: walk.commits_walked,
        files: files.into_values().collect(),
        operations,
        edits,
        applied: Vec::new(),
        unmanaged_tables: Vec::new(),
        recreated_tables: Vec::new(),
        problems,
        created_tables,
        cross_check: Vec::new(),
        skipped_paths: walk.skipped_paths.clone(),
    }
}

/// Scans every job (one distinct SQL or ORM text), in parallel. An SQL file edited in several
/// commits keeps most of its statements, so SQL texts are cut into statements
/// (`sql::split_statements`) and a statement found in more than one text (or twice in one) is
/// parsed once for the whole history; the statements between two shared ones are parsed
/// together, as one piece of text, and a text that shares nothing is scanned whole (cutting a
/// text into many small parses costs more than it saves: each parse has its own setup). The
/// file's scan is put together from its pieces (`sql::join_statements`) — the same scan as of
/// the whole text; a text with a statement the grammar cannot fully read is scanned whole.
fn scan_distinct<'w>(
    walk: &'w history::Walk,
    jobs: &[(&'w str, &'w str, &'w str, &'static str)],
) -> HashMap<(&'w str, &'w str), FileScan> {
    let text = |blob: &str| match walk.blobs.get(blob)? {
        history::BlobText::Text(t, _) => Some(t.as_str()),
        history::BlobText::Skipped(_) => None,
    };
    // Each SQL text's statements, as hashes: the texts themselves are not kept (a history holds
    // megabytes of SQL), only those of the texts that share a statement are cut again below.
    let hashes: Vec<Option<Vec<u64>>> = jobs
        .par_iter()
        .map(|(_, path, blob, _)| {
            let s = sql::split_statements(text(blob).filter(|_| is_sql(path))?)?;
            Some(s.texts().map(piece_hash).collect())
        })
        .collect();
    // How many times each statement occurs over all the texts (a hash collision only makes a
    // statement be parsed alone; the cache below is keyed by the text).
    let mut occurrences: HashMap<u64, u32> = HashMap::new();
    for h in hashes.iter().flatten().flatten() {
        *occurrences.entry(*h).or_default() += 1;
    }
    let shared = |h: &u64| occurrences.get(h).is_some_and(|n| *n > 1);
    let sharing: Vec<Option<sql::Statements>> = jobs
        .par_iter()
        .zip(hashes.par_iter())
        .map(|((_, _, blob, _), hashes)| {
            hashes.as_ref().filter(|h| h.iter().any(shared))?;
            sql::split_statements(text(blob)?)
        })
        .collect();
    let mut cached: Vec<&str> = sharing
        .iter()
        .zip(&hashes)
        .filter_map(|(s, h)| Some((s.as_ref()?, h.as_ref()?)))
        .flat_map(|(s, h)| {
            s.texts()
                .zip(h)
                .filter(|(_, h)| shared(h))
                .map(|(text, _)| text)
        })
        .collect();
    cached.sort_unstable();
    cached.dedup();
    let cached_scans: HashMap<&str, sql::SqlScan> = cached
        .par_iter()
        .map(|piece| (*piece, sql::scan_prepared(piece)))
        .collect();

    jobs.par_iter()
        .zip(sharing.par_iter().zip(hashes.par_iter()))
        .filter_map(|((key, path, blob, fw), (statements, hashes))| {
            let text = text(blob)?;
            let joined = statements.as_ref().zip(hashes.as_ref()).and_then(|(s, h)| {
                let pieces = pieces_of(s, |i| h.get(i).is_some_and(shared));
                let own: Vec<Option<sql::SqlScan>> = pieces
                    .iter()
                    .map(|(range, _, is_shared)| {
                        (!is_shared).then(|| sql::scan_prepared(s.slice(range.clone())))
                    })
                    .collect();
                let parts: Option<Vec<(&sql::SqlScan, u32)>> = pieces
                    .iter()
                    .zip(&own)
                    .map(|((range, line, _), own)| {
                        let scan = match own {
                            Some(scan) => scan,
                            None => cached_scans.get(s.slice(range.clone()))?,
                        };
                        Some((scan, *line))
                    })
                    .collect();
                sql::join_statements(parts?)
            });
            let scan = match joined {
                Some(joined) => sql_file_scan(path, text, joined),
                None => scan_text(path, fw, text),
            };
            Some(((*key, *blob), scan))
        })
        .collect()
}

fn piece_hash(piece: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    piece.hash(&mut h);
    h.finish()
}

/// The pieces a text is scanned in: each shared statement alone (`true`: its scan is cached),
/// and each run of statements between them as one piece (byte range, first line).
fn pieces_of(
    statements: &sql::Statements,
    shared: impl Fn(usize) -> bool,
) -> Vec<(std::ops::Range<usize>, u32, bool)> {
    let mut pieces: Vec<(std::ops::Range<usize>, u32, bool)> = Vec::new();
    for (i, (range, line)) in statements.pieces.iter().enumerate() {
        let is_shared = shared(i);
        match pieces.last_mut() {
            Some((run, _, false)) if !is_shared => run.end = range.end,
            _ => pieces.push((range.clone(), *line, is_shared)),
        }
    }
    pieces
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The first line (1-based, in the new text) where the two texts differ.
fn first_changed_line(old: &str, new: &str) -> u32 {
    let mut n = 1;
    for (a, b) in old.lines().zip(new.lines()) {
        if a != b {
            return n;
        }
        n += 1;
    }
    n.min(new.lines().count().max(1) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whichever statements are shared, the text put together from its pieces (shared ones
    /// alone, the runs between them whole) scans as the whole text.
    #[test]
    fn any_cut_into_pieces_scans_as_the_whole_text() {
        let texts = [
            "CREATE TABLE a (id int);\n-- note\nDROP TABLE b CASCADE; TRUNCATE c;\n\nDO $$ BEGIN DELETE FROM d; END $$;\nselect 'x;y'; -- drop table e;\nALTER TABLE f DROP COLUMN g;\n-- fix\n",
            "-- +goose Up\nCREATE TABLE t (a int);\nTRUNCATE t; TRUNCATE t;\n-- +goose Down\nDROP TABLE t;\nDELETE FROM u;\n",
        ];
        for text in texts {
            let statements = sql::split_statements(text).expect("cut");
            let n = statements.pieces.len();
            assert!(n >= 5, "{n}");
            for mask in 0u32..(1 << n) {
                let pieces = pieces_of(&statements, |i| mask & (1 << i) != 0);
                let scans: Vec<sql::SqlScan> = pieces
                    .iter()
                    .map(|(range, _, _)| sql::scan_prepared(statements.slice(range.clone())))
                    .collect();
                let joined = sql::join_statements(scans.iter().zip(pieces.iter().map(|p| p.1)))
                    .expect("clean");
                assert_eq!(joined, sql::scan(text), "mask {mask:b}");
                let path = "db/migrations/001_x.sql";
                assert_eq!(
                    sql_file_scan(path, text, joined),
                    scan_text(path, "goose", text)
                );
            }
        }
    }
}
