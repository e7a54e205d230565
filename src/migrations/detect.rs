//! Which paths are migration files, and of which framework — from the path alone, so that the
//! history walk can decide without reading a blob; `refine` then uses the first bytes of the
//! content where the path is ambiguous (goose/dbmate/sqlx/golang-migrate, Knex/Sequelize/TypeORM).
//! Conventions: ../shared/migrations.md §2. Paths are `/`-separated, as git stores them.
//! A file is a migration by its framework's own layout (or a `--path` glob), never because
//! "migrate" appears somewhere in its path; files that look like migrations but live in test
//! directories, test files or vendored/front-end assets are left out and counted (`Verdict`).

/// Directories that hold other people's code: their migrations are not the application's.
const VENDORED: &[&str] = &[
    "node_modules",
    "vendor",
    ".venv",
    "venv",
    "site-packages",
    "dist-packages",
    "target",
    ".git",
    "bower_components",
];

/// Directories of tests and their fixtures: a migration there is a test's input (Rails
/// `spec/migrations/*_spec.rb`, Django test apps), never what ran on the database.
const TEST_DIRS: &[&str] = &[
    "spec",
    "specs",
    "test",
    "tests",
    "__tests__",
    "testdata",
    "test_data",
    "fixtures",
];

/// Directories of front-end assets: `jquery-migrate-1.0.0.js` is a library, not a migration.
const ASSET_DIRS: &[&str] = &["assets", "javascripts", "static", "public"];

/// What detection decided about one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A migration file of this framework.
    Migration(&'static str),
    /// Looks like a migration (by layout or by name) but is left out: `"test"` or `"vendored"`.
    Skipped(&'static str),
    /// Not a migration.
    Other,
}

/// Why a path is left out whatever it looks like: under a test or vendored/asset directory, or a
/// test file by its own naming convention.
fn left_out(dirs: &[&str], file: &str) -> Option<&'static str> {
    if dirs
        .iter()
        .any(|d| VENDORED.contains(d) || ASSET_DIRS.contains(d))
    {
        return Some("vendored");
    }
    let test_file = ["_spec.rb", "_test.rb", "_test.go", "_test.py", "_test.exs"]
        .iter()
        .any(|s| file.ends_with(s))
        || [".test.", ".spec."].iter().any(|s| file.contains(s))
        || file.starts_with("test_") && file.ends_with(".py");
    if test_file || dirs.iter().any(|d| TEST_DIRS.contains(d)) {
        return Some("test");
    }
    None
}

/// True when a directory of this name can never hold the application's migrations, so the walk
/// need not descend into it.
pub fn prune_dir(name: &[u8]) -> bool {
    VENDORED.iter().any(|v| v.as_bytes() == name)
}

/// True for a directory name the layouts of `layout_of` put on the way to a migration file
/// (`migrations`, `db/migrate`, `alembic/versions`, `priv/repo/migrations`, `database/migrations`,
/// `sql`, `changelog` …): the history walk reads everything below such a directory, so a migration
/// folder created there mid-history is seen whatever the commits sampled before the walk held.
/// Keep in step with `layout_of`: a layout that needs a new directory name needs it here too.
pub fn layout_dir(name: &[u8]) -> bool {
    matches!(
        name,
        b"migrations"
            | b"migration"
            | b"migrate"
            | b"schema"
            | b"db"
            | b"sql"
            | b"alembic"
            | b"changelog"
            | b"drizzle"
            | b"supabase"
            | b"priv"
            | b"database"
            | b"prisma"
    ) || name.ends_with(b"_migrate")
        || name.ends_with(b"_migrations")
        || name.ends_with(b"-migrations")
}

/// Options for detection: globs given with `--path`, and whether the built-in conventions apply.
#[derive(Debug, Clone, Default)]
pub struct Detector {
    pub globs: Vec<glob::Pattern>,
    pub conventions: bool,
}

impl Detector {
    pub fn new(globs: &[String], conventions: bool) -> Result<Self, String> {
        let globs = globs
            .iter()
            .map(|g| glob::Pattern::new(g).map_err(|e| format!("--path {g}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Detector { globs, conventions })
    }

    /// The framework of a migration path, or `None` when the path is not a migration.
    pub fn classify(&self, path: &str) -> Option<&'static str> {
        match self.judge(path) {
            Verdict::Migration(f) => Some(f),
            _ => None,
        }
    }

    /// What detection decides about `path`: a `--path` glob always makes it a migration (the
    /// user said so, test directory or not); the conventions may also skip it.
    pub fn judge(&self, path: &str) -> Verdict {
        let by_convention = if self.conventions {
            verdict(path)
        } else {
            Verdict::Other
        };
        if let Verdict::Migration(f) = by_convention {
            return Verdict::Migration(f);
        }
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        if self.globs.iter().any(|g| g.matches_with(path, opts)) {
            return Verdict::Migration(layout_of(path).unwrap_or_else(|| by_extension(path)));
        }
        by_convention
    }
}

fn by_extension(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("sql") => "sql",
        _ => "script",
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Built-in conventions of the common frameworks: the framework, or `None` when the path is not
/// a migration or is left out (see `verdict`).
pub fn framework_of(path: &str) -> Option<&'static str> {
    match verdict(path) {
        Verdict::Migration(f) => Some(f),
        _ => None,
    }
}

/// The built-in conventions' decision: a migration by its framework's layout, skipped (it looks
/// like one, by layout or by having "migrat" in its path, but is a test or vendored), or other.
pub fn verdict(path: &str) -> Verdict {
    let parts: Vec<&str> = path.split('/').collect();
    let Some((file, dirs)) = parts.split_last() else {
        return Verdict::Other;
    };
    match (left_out(dirs, file), layout_of(path)) {
        (None, Some(f)) => Verdict::Migration(f),
        (Some(why), Some(_)) => Verdict::Skipped(why),
        (Some(why), None) if path.to_ascii_lowercase().contains("migrat") => Verdict::Skipped(why),
        _ => Verdict::Other,
    }
}

/// The framework whose layout the path follows, before tests and vendored code are left out.
fn layout_of(path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.split('/').collect();
    let (&file, dirs) = parts.split_last()?;
    let parent = dirs.last().copied().unwrap_or("");
    let grandparent = dirs.iter().rev().nth(1).copied().unwrap_or("");
    let ext = file.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let stem_digits = file.split(['_', '-']).next().is_some_and(is_digits);
    let under = |name: &str| dirs.contains(&name);

    // Framework-specific layouts first: they are unambiguous.
    if ext == "py" && parent == "versions" && matches!(grandparent, "alembic" | "migrations") {
        return Some("alembic");
    }
    if ext == "py" && parent == "migrations" {
        let prefix = file.split('_').next().unwrap_or("");
        if prefix.len() == 4 && is_digits(prefix) {
            return Some("django");
        }
    }
    if ext == "rb" && grandparent == "db" && (parent == "migrate" || parent.ends_with("_migrate")) {
        return Some("rails");
    }
    if ext == "sql" && !parent.is_empty() && grandparent == "migrations" && file == "migration.sql"
    {
        if dirs.contains(&"prisma") {
            return Some("prisma");
        }
        return Some("drizzle");
    }
    if ext == "sql" && under("supabase") && parent == "migrations" {
        return Some("supabase");
    }
    if ext == "exs" && parent == "migrations" && under("priv") {
        return Some("ecto");
    }
    if ext == "php" && parent == "migrations" && grandparent == "database" {
        return Some("laravel");
    }
    if matches!(file, "up.sql" | "down.sql") && grandparent == "migrations" {
        return Some("diesel");
    }
    if under("changelog") && matches!(ext, "xml" | "yaml" | "yml" | "json" | "sql")
        || file.starts_with("db.changelog")
    {
        return Some("liquibase");
    }
    if ext == "sql" && parent == "drizzle" {
        return Some("drizzle");
    }
    if ext == "sql" && is_flyway_name(file) {
        return Some("flyway");
    }
    if ext == "sql" && parent == "migration" && grandparent == "db" {
        return Some("flyway");
    }
    let migration_dir = |d: &str| {
        matches!(d, "migrations" | "migration" | "migrate" | "schema")
            || d.ends_with("_migrations")
            || d.ends_with("-migrations")
    };
    if ext == "sql" && (file.ends_with(".up.sql") || file.ends_with(".down.sql")) {
        return Some("golang-migrate");
    }
    if ext == "sql" && (dirs.iter().any(|d| migration_dir(d)) || under("db") || under("sql")) {
        return Some("sql");
    }
    if matches!(ext, "js" | "ts" | "cjs" | "mjs")
        && stem_digits
        && dirs.iter().any(|d| migration_dir(d))
    {
        return Some("knex");
    }
    if ext == "go" && stem_digits && dirs.iter().any(|d| migration_dir(d)) {
        return Some("goose");
    }
    // Hand-written migration scripts (seed 000's `aurora_ticker_unification_migration.py`): the
    // file name has "migration" as a word of its own. A library named after a "migrate" tool
    // (`jquery-migrate-1.0.0.js`) does not.
    let lower = file.to_ascii_lowercase();
    let stem = lower.rsplit_once('.').map(|(s, _)| s).unwrap_or(&lower);
    let named_migration = stem
        .split(['_', '-', '.'])
        .any(|w| matches!(w, "migration" | "migrations"));
    if named_migration && matches!(ext, "py" | "rb" | "js" | "ts" | "sql" | "sh" | "php") {
        return Some(if ext == "sql" { "sql" } else { "script" });
    }
    None
}

/// `V1__x.sql`, `V1.1__x.sql`, `U2__x.sql`, `B3__x.sql`, `R__x.sql`.
fn is_flyway_name(file: &str) -> bool {
    let Some((head, _)) = file.split_once("__") else {
        return false;
    };
    let mut chars = head.chars();
    match chars.next() {
        Some('R') => head.len() == 1,
        Some('V' | 'U' | 'B') => {
            let rest = chars.as_str();
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '_')
        }
        _ => false,
    }
}

/// Where the path leaves the framework open, the content decides: goose and dbmate annotate
/// their files, sqlx lives in Rust repositories, JS migrations name their tool's API.
pub fn refine(framework: &'static str, path: &str, head: &str, rust_repo: bool) -> &'static str {
    match framework {
        "sql" | "golang-migrate" => {
            if head.contains("-- +goose") {
                "goose"
            } else if head.contains("-- migrate:up") {
                "dbmate"
            } else if head.contains("--liquibase formatted sql") {
                "liquibase"
            } else if head.contains("--> statement-breakpoint") {
                "drizzle"
            } else if head.contains("atlas:") && head.contains("-- atlas") {
                "atlas"
            } else if rust_repo && path.contains("migrations/") {
                "sqlx"
            } else {
                framework
            }
        }
        "knex" => {
            if head.contains("queryRunner") || head.contains("MigrationInterface") {
                "typeorm"
            } else if head.contains("queryInterface") {
                "sequelize"
            } else {
                "knex"
            }
        }
        other => other,
    }
}

/// The migration's version as its framework names it (the key of its tracking-table row).
/// The revision a migration file names, by its framework's rule in the registry
/// (`frameworks::Revision`): read from the text where the framework writes it there
/// (Alembic's `revision = "086"`), else from the path (`version_of`).
pub fn revision_of(framework: &str, path: &str, text: Option<&str>) -> Option<String> {
    text.and_then(|t| super::frameworks::revision_in_text(framework, t))
        .or_else(|| version_of(framework, path))
}

/// The revision the path names (`V1_2__x.sql` → `1.2`, `0003_x.py` → `0003`).
pub fn version_of(framework: &str, path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let file = *parts.last()?;
    let stem = file.split('.').next().unwrap_or(file);
    let dir = parts.iter().rev().nth(1).copied().unwrap_or("");
    let leading_number = |s: &str| -> Option<String> {
        let n: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        (!n.is_empty()).then_some(n)
    };
    match framework {
        "prisma" => Some(dir.to_string()),
        // Diesel records the directory's leading timestamp without separators.
        "diesel" => Some(
            dir.split('_')
                .next()
                .unwrap_or(dir)
                .chars()
                .filter(|c| c.is_ascii_digit())
                .collect(),
        ),
        "drizzle" if file == "migration.sql" => Some(dir.to_string()),
        "drizzle" | "django" | "knex" | "sequelize" | "typeorm" | "laravel" => {
            Some(stem.to_string())
        }
        "flyway" => {
            let head = file.split_once("__")?.0;
            if head == "R" {
                Some(
                    file.split_once("__")?
                        .1
                        .trim_end_matches(".sql")
                        .to_string(),
                )
            } else {
                // `V1_2` → `1.2`: the prefix is one character (`V`, or a configured one that
                // need not be ASCII).
                let mut version = head.chars();
                version.next();
                Some(version.as_str().replace('_', "."))
            }
        }
        // Alembic's default file template is `<revision>_<slug>.py`.
        "alembic" => stem
            .split('_')
            .next()
            .filter(|r| r.len() >= 6)
            .map(str::to_string),
        "liquibase" | "script" => None,
        _ => leading_number(stem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_layouts_are_recognised() {
        let cases = [
            (
                "backend/alembic/versions/82233f5589d3_add_fields.py",
                Some("alembic"),
            ),
            (
                "shop/orders/migrations/0003_remove_field.py",
                Some("django"),
            ),
            ("shop/orders/migrations/__init__.py", None),
            ("db/migrate/20240101000000_drop_users.rb", Some("rails")),
            (
                "src/main/resources/db/migration/V1_2__init.sql",
                Some("flyway"),
            ),
            ("sql/R__views.sql", Some("flyway")),
            (
                "prisma/migrations/20240101_init/migration.sql",
                Some("prisma"),
            ),
            ("migrations/2024-01-01-000000_init/up.sql", Some("diesel")),
            ("migrations/001_init.up.sql", Some("golang-migrate")),
            ("supabase/migrations/20240101_x.sql", Some("supabase")),
            ("priv/repo/migrations/20240101_x.exs", Some("ecto")),
            (
                "database/migrations/2024_01_01_000000_x.php",
                Some("laravel"),
            ),
            ("drizzle/0001_brave_hulk.sql", Some("drizzle")),
            ("db/changelog/db.changelog-master.yaml", Some("liquibase")),
            ("migrations/20240101_init.js", Some("knex")),
            ("db/migrations/001_complete_schema.sql", Some("sql")),
            (
                "scripts/aurora_ticker_unification_migration.py",
                Some("script"),
            ),
            ("node_modules/x/migrations/001_x.sql", None),
            ("app/assets/javascripts/jquery-migrate-1.0.0.js", None),
            ("lib/jquery-migrate-1.0.0.js", None),
            ("spec/migrations/add_users_migration_spec.rb", None),
            ("spec/migrations/20240101000000_drop_users_spec.rb", None),
            ("test/db/migrate/20240101000000_drop_users.rb", None),
            ("tests/migrations/0001_initial.py", None),
            ("src/main.rs", None),
            ("docs/readme.md", None),
        ];
        for (path, want) in cases {
            assert_eq!(framework_of(path), want, "{path}");
        }
    }

    #[test]
    fn every_directory_layout_passes_a_layout_directory() {
        // The walk reads a folder below a layout directory whatever it found before: each layout
        // that depends on directory names must have one of them on its path.
        let by_directory = [
            "backend/alembic/versions/82233f5589d3_add_fields.py",
            "shop/orders/migrations/0003_remove_field.py",
            "db/migrate/20240101000000_drop_users.rb",
            "db/secondary_migrate/20240101000000_x.rb",
            "src/main/resources/db/migration/V1_2__init.sql",
            "prisma/migrations/20240101_init/migration.sql",
            "migrations/2024-01-01-000000_init/up.sql",
            "supabase/migrations/20240101_x.sql",
            "priv/repo/migrations/20240101_x.exs",
            "database/migrations/2024_01_01_000000_x.php",
            "drizzle/0001_brave_hulk.sql",
            "config/changelog/changes.xml",
            "src/migrations/20240101_init.js",
            "ops/sql/cleanup.sql",
            "billing-migrations/007_x.go",
        ];
        for path in by_directory {
            assert!(framework_of(path).is_some(), "{path}");
            let (dirs, _) = path.rsplit_once('/').unwrap();
            assert!(
                dirs.split('/').any(|d| layout_dir(d.as_bytes())),
                "{path}: no layout directory on the way"
            );
        }
        // Names alone make these migrations, wherever they are: the walk finds them in the
        // folders its survey of sampled commits marked.
        for path in [
            "scripts/aurora_ticker_unification_migration.py",
            "deploy/V3__x.sql",
            "x/001_a.up.sql",
        ] {
            assert!(framework_of(path).is_some(), "{path}");
        }
        assert!(!layout_dir(b"app") && !layout_dir(b"models") && !layout_dir(b"spec"));
    }

    #[test]
    fn tests_and_assets_that_look_like_migrations_are_skipped_with_a_reason() {
        let cases = [
            (
                "app/assets/javascripts/jquery-migrate-1.0.0.js",
                Verdict::Skipped("vendored"),
            ),
            (
                "spec/migrations/add_users_migration_spec.rb",
                Verdict::Skipped("test"),
            ),
            ("tests/migrations/0001_initial.py", Verdict::Skipped("test")),
            (
                "vendor/gems/x/db/migrate/20200101_x.rb",
                Verdict::Skipped("vendored"),
            ),
            ("spec/models/user_spec.rb", Verdict::Other),
            ("lib/jquery-migrate-1.0.0.js", Verdict::Other),
            (
                "db/migrate/20240101000000_drop_users.rb",
                Verdict::Migration("rails"),
            ),
        ];
        for (path, want) in cases {
            assert_eq!(verdict(path), want, "{path}");
        }
        // A --path glob is the user's word: it wins over the test-directory rule.
        let d = Detector::new(&["spec/migrations/*.rb".to_string()], true).unwrap();
        assert_eq!(
            d.judge("spec/migrations/a_spec.rb"),
            Verdict::Migration("script")
        );
    }

    #[test]
    fn content_refines_ambiguous_sql() {
        assert_eq!(
            refine("sql", "migrations/1_a.sql", "-- +goose Up\n", false),
            "goose"
        );
        assert_eq!(
            refine("sql", "db/migrations/1_a.sql", "-- migrate:up\n", false),
            "dbmate"
        );
        assert_eq!(
            refine("sql", "migrations/1_a.sql", "CREATE TABLE a();", true),
            "sqlx"
        );
        assert_eq!(
            refine(
                "knex",
                "src/migrations/1700000000000-A.ts",
                "queryRunner.query(",
                false
            ),
            "typeorm"
        );
    }

    #[test]
    fn versions_follow_each_framework() {
        assert_eq!(
            version_of("flyway", "db/migration/V1_2__init.sql").as_deref(),
            Some("1.2")
        );
        assert_eq!(
            version_of("sqlx", "migrations/20240101000000_init.sql").as_deref(),
            Some("20240101000000")
        );
        assert_eq!(
            version_of("prisma", "prisma/migrations/20240101_init/migration.sql").as_deref(),
            Some("20240101_init")
        );
        assert_eq!(
            version_of("django", "app/migrations/0002_remove.py").as_deref(),
            Some("0002_remove")
        );
        // A non-ASCII first character used to be cut in half (a panic on a hostile repo).
        assert_eq!(
            version_of("flyway", "db/migration/é1_2__init.sql").as_deref(),
            Some("1.2")
        );
        assert_eq!(version_of("flyway", "é__x.sql").as_deref(), Some(""));
    }
}
