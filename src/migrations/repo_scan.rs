//! Finds the SQL of a working tree for `audit --repo`: whole `.sql` files, and string literals
//! of application code (Python, Ruby, JavaScript/TypeScript, Go, Java, Kotlin, Rust, PHP, C#,
//! Elixir) that look like SQL. Comments of the host language are skipped, so a statement that is
//! commented out (seed 000: `# "DROP TABLE IF EXISTS ticker_info",`) is never reported as
//! active. What a text destroys is decided by the SQL scanner handed in (the one of
//! `migrations::sql`), so both commands agree on what "destructive" means.
//!
//! Reads the files on disk (what would run if deployed now), not git history: that is the job of
//! `migrations`.

use std::path::{Path, PathBuf};

use crate::error::UserError;
use crate::evidence::probes::RepoStatement;

/// One destructive statement in one SQL text, as the SQL scanner reports it (1-based line in
/// that text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlHit {
    pub line: u32,
    pub kind: String,
    pub cascade: bool,
    pub objects: Vec<String>,
    pub statement: String,
    pub active: bool,
    pub note: Option<String>,
}

/// Directories that hold dependencies or build output, never the application's own SQL.
const SKIP_DIRS: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "vendor",
    "venv",
    ".venv",
    "dist",
    "build",
    "__pycache__",
    ".tox",
    ".mypy_cache",
];

/// Files larger than this are generated or data, not code.
const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Comments {
    /// `#` line comments (Python, Ruby, Elixir, shell).
    Hash,
    /// `//` and `/* */` (C family, Go, Rust, JS/TS, Java, Kotlin, C#, Scala).
    Slash,
    /// Both (PHP).
    Both,
}

fn language(path: &Path) -> Option<Comments> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "py" | "rb" | "ex" | "exs" | "sh" => Comments::Hash,
        "js" | "mjs" | "cjs" | "ts" | "tsx" | "jsx" | "go" | "java" | "kt" | "rs" | "cs"
        | "scala" => Comments::Slash,
        "php" => Comments::Both,
        _ => return None,
    })
}

/// Whether a path looks like schema history though no framework convention claimed it.
pub fn is_migration_path(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    p.contains("migrat")
        || p.contains("alembic")
        || p.contains("flyway")
        || p.contains("liquibase")
        || p.contains("/versions/")
        || p.starts_with("versions/")
}

/// The scanners `scan_repository` uses: `migration` reads a file that a migration framework's
/// conventions recognise (by its path; `None` for any other file), `sql` reads one SQL text.
pub struct Scanners<'a> {
    pub migration: &'a dyn Fn(&str, &str) -> Option<Vec<SqlHit>>,
    pub sql: &'a dyn Fn(&str) -> Vec<SqlHit>,
}

/// Every active and inactive destructive statement of the tree under `root`, sorted by path and
/// line. Migration files are read as their framework writes them (ORM calls, down migrations);
/// other `.sql` files and the string literals of application code with the SQL scanner.
pub fn scan_repository(root: &Path, scanners: &Scanners) -> Result<Vec<RepoStatement>, UserError> {
    if !root.is_dir() {
        return Err(UserError::new(format!(
            "{}: not a directory; --repo takes the root of the application's working tree",
            root.display()
        )));
    }
    let mut files = Vec::new();
    collect_files(root, &mut files);
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if let Some(hits) = (scanners.migration)(&rel, &text) {
            out.extend(hits.into_iter().map(|hit| RepoStatement {
                path: rel.clone(),
                line: hit.line,
                kind: hit.kind,
                cascade: hit.cascade,
                objects: hit.objects,
                statement: hit.statement,
                active: hit.active,
                migration: true,
                note: hit.note,
            }));
            continue;
        }
        let is_sql = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("sql"));
        let pieces: Vec<(u32, String)> = if is_sql {
            vec![(1, text.into_owned())]
        } else if let Some(lang) = language(&path) {
            string_literals(&text, lang)
                .into_iter()
                .filter(|(_, s)| looks_destructive(s))
                .collect()
        } else {
            continue;
        };
        let migration = is_migration_path(&rel);
        for (first_line, sql) in pieces {
            for hit in (scanners.sql)(&sql) {
                out.push(RepoStatement {
                    path: rel.clone(),
                    line: first_line + hit.line.saturating_sub(1),
                    kind: hit.kind,
                    cascade: hit.cascade,
                    objects: hit.objects,
                    statement: hit.statement,
                    active: hit.active,
                    migration,
                    note: hit.note,
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.path, a.line, &a.kind).cmp(&(&b.path, b.line, &b.kind)));
    Ok(out)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            let name = entry.file_name();
            if !SKIP_DIRS.iter().any(|s| name == *s) {
                collect_files(&path, out);
            }
        } else if kind.is_file()
            && entry.metadata().is_ok_and(|m| m.len() <= MAX_FILE_BYTES)
            && (language(&path).is_some()
                || path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("sql")))
        {
            out.push(path);
        }
    }
}

/// Cheap pre-filter before handing a literal to the SQL scanner.
fn looks_destructive(s: &str) -> bool {
    let upper = s.to_ascii_uppercase();
    ["DELETE", "TRUNCATE", "DROP", "UPDATE", "ALTER"]
        .iter()
        .any(|k| upper.contains(k))
}

/// The string literals of a source file with the line each starts on, skipping the language's
/// comments. Handles '…', "…", Python's triple quotes and backtick strings (JS, Go).
pub fn string_literals(text: &str, lang: Comments) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut line: u32 = 1;
    let hash = matches!(lang, Comments::Hash | Comments::Both);
    let slash = matches!(lang, Comments::Slash | Comments::Both);
    // What is left to read; a source file is untrusted, so every step is a checked one (`from`).
    let mut rest = text.as_bytes();
    while let Some(&c) = rest.first() {
        if c == b'\n' {
            line += 1;
            rest = from(rest, 1);
        } else if (hash && c == b'#') || (slash && rest.starts_with(b"//")) {
            // To the line end; the newline is counted on the next turn.
            rest = memchr::memchr(b'\n', rest).map_or(&[], |n| from(rest, n));
        } else if slash && rest.starts_with(b"/*") {
            let end = memchr::memmem::find(from(rest, 2), b"*/").map_or(rest.len(), |n| n + 4);
            let (comment, after) = rest.split_at_checked(end).unwrap_or((rest, &[]));
            line += count_newlines(comment);
            rest = after;
        } else if matches!(c, b'"' | b'\'' | b'`') {
            let triple = hash && rest.get(1) == Some(&c) && rest.get(2) == Some(&c);
            let closer: &[u8] = match (triple, c) {
                (true, b'"') => b"\"\"\"",
                (true, _) => b"\'\'\'",
                (false, _) => std::slice::from_ref(&c),
            };
            let raw = c == b'`';
            let ends_at_line_end = !triple && !raw;
            let tail = from(rest, closer.len());
            // Where the body stops, and how much after it belongs to the literal: the closer, or
            // nothing when an unterminated single-line string stops on its newline (left for the
            // loop to count). A literal never closed runs to the end of the file.
            let mut stop = (tail.len(), 0);
            let mut j = 0;
            while let Some(&d) = tail.get(j) {
                if d == b'\\' && !raw {
                    j += 2;
                    continue;
                }
                if from(tail, j).starts_with(closer) {
                    stop = (j, closer.len());
                    break;
                }
                if d == b'\n' && ends_at_line_end {
                    stop = (j, 0);
                    break;
                }
                j += 1;
            }
            let (body, after) = tail.split_at_checked(stop.0).unwrap_or((tail, &[]));
            out.push((line, String::from_utf8_lossy(body).into_owned()));
            line += count_newlines(body);
            rest = from(after, stop.1);
        } else {
            rest = from(rest, 1);
        }
    }
    out
}

/// The bytes of `b` from `at` on: none when `at` is past the end.
fn from(b: &[u8], at: usize) -> &[u8] {
    b.get(at..).unwrap_or_default()
}

fn count_newlines(b: &[u8]) -> u32 {
    memchr::memchr_iter(b'\n', b).count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commented_out_literals_are_not_read_and_lines_are_kept() {
        let py = "PHASE = [\n    \"ALTER TABLE x ADD c int\",\n    # \"DROP TABLE IF EXISTS ticker_info\",\n]\nq = '''\nTRUNCATE listing_status CASCADE\n'''\n";
        let lits = string_literals(py, Comments::Hash);
        assert_eq!(
            lits,
            vec![
                (2, "ALTER TABLE x ADD c int".to_string()),
                (5, "\nTRUNCATE listing_status CASCADE\n".to_string())
            ]
        );
        let js = "// db.query(\"DELETE FROM a\")\n/* \"DROP TABLE b\" */\ndb.query(`\n  TRUNCATE c`);\nx = 'it\\'s'\n";
        let lits = string_literals(js, Comments::Slash);
        assert_eq!(
            lits,
            vec![(3, "\n  TRUNCATE c".to_string()), (5, "it\\'s".to_string())]
        );
    }

    #[test]
    fn hostile_sources_end_without_a_panic() {
        // Unclosed literals and comments, an escape as the last byte, multi-byte text next to
        // every delimiter: each stops at the end of the text.
        assert_eq!(
            string_literals("x = \"DROP é\\", Comments::Hash),
            vec![(1, "DROP é\\".to_string())]
        );
        assert_eq!(
            string_literals("é'''ü\nTRUNCATE t", Comments::Hash),
            vec![(1, "ü\nTRUNCATE t".to_string())]
        );
        assert_eq!(
            string_literals("/* é \"DROP TABLE x\"\n", Comments::Slash),
            vec![]
        );
        assert_eq!(
            string_literals("ü`a\nb` \"c\nd\"", Comments::Both),
            // The unclosed `"c` stops at its line end; `d"` opens another, empty at the end.
            vec![
                (1, "a\nb".to_string()),
                (2, "c".to_string()),
                (3, String::new())
            ]
        );
        for text in [
            "\"", "'", "`", "'''", "\"\"", "/*", "/", "#", "\\", "é\"", "\"é",
        ] {
            for lang in [Comments::Hash, Comments::Slash, Comments::Both] {
                let lits = string_literals(text, lang);
                // Every body is a piece of the one-line text.
                assert!(
                    lits.iter()
                        .all(|(line, body)| *line == 1 && text.contains(body.as_str())),
                    "{text:?}: {lits:?}"
                );
            }
        }
    }

    #[test]
    fn migration_paths_are_told_from_code() {
        assert!(is_migration_path("db/migrations/001_init.sql"));
        assert!(is_migration_path("alembic/versions/abc_drop.py"));
        assert!(!is_migration_path("etl/extract_listing_status.py"));
    }

    #[test]
    fn a_tree_is_scanned_with_the_given_sql_scanner() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("db/migrations")).unwrap();
        std::fs::create_dir_all(dir.path().join("node_modules/x")).unwrap();
        std::fs::write(
            dir.path().join("db/migrations/002.sql"),
            "CREATE TABLE a (id int);\nDROP TABLE old;\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etl.py"),
            "def run():\n    db.execute(\"TRUNCATE listing_status CASCADE\")\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("node_modules/x/a.js"), "q('DROP TABLE z')").unwrap();
        // A tiny stand-in scanner: one hit per line that starts with DROP or TRUNCATE.
        let scan = |sql: &str| -> Vec<SqlHit> {
            sql.lines()
                .enumerate()
                .filter(|(_, l)| l.starts_with("DROP") || l.starts_with("TRUNCATE"))
                .map(|(n, l)| SqlHit {
                    line: n as u32 + 1,
                    kind: if l.starts_with("DROP") {
                        "drop_table"
                    } else {
                        "truncate"
                    }
                    .into(),
                    cascade: l.contains("CASCADE"),
                    objects: vec![],
                    statement: l.to_string(),
                    active: true,
                    note: None,
                })
                .collect()
        };
        let no_framework = |_: &str, _: &str| -> Option<Vec<SqlHit>> { None };
        let found = scan_repository(
            dir.path(),
            &Scanners {
                migration: &no_framework,
                sql: &scan,
            },
        )
        .unwrap();
        let places: Vec<(String, u32, bool)> = found
            .iter()
            .map(|s| (s.path.clone(), s.line, s.migration))
            .collect();
        assert_eq!(
            places,
            vec![
                ("db/migrations/002.sql".to_string(), 2, true),
                ("etl.py".to_string(), 2, false)
            ]
        );
        assert!(found[1].cascade);
    }
}
