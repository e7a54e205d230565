//! `pgtriage migrations --db`: the tools' tracking tables in a real PostgreSQL, with checksums
//! computed by the server itself (sha384/sha256), tied to the git version that ran; and the
//! cross-check with the tables that exist now, including the seed 003 trap.

mod migrations_git;
mod support;

use migrations_git::{TestRepo, history_json};
use support::PgCluster;

const SQLX_V1: &str = "CREATE TABLE users (id int);\nCREATE TABLE sessions (id int);\n";
const SQLX_V2: &str =
    "CREATE TABLE users (id int);\nCREATE TABLE sessions (id int);\nDROP TABLE sessions;\n";
const FLYWAY_V1: &str = "CREATE TABLE accounts (id int);\r\n";
const PRISMA: &str = "-- CreateTable\nCREATE TABLE \"Post\" (\"id\" INTEGER NOT NULL);\n";

/// Flyway's checksum as its `ChecksumCalculator` computes it: CRC32 of the lines fed one after
/// the other without their terminators, as a signed int.
fn flyway_checksum(text: &str) -> i32 {
    let mut h = crc32fast::Hasher::new();
    for line in text.lines() {
        h.update(line.trim_end_matches('\r').as_bytes());
    }
    h.finalize() as i32
}

fn applied<'a>(doc: &'a serde_json::Value, tool: &str) -> Vec<&'a serde_json::Value> {
    doc["applied"]
        .as_array()
        .map(|a| a.iter().filter(|r| r["tool"] == tool).collect())
        .unwrap_or_default()
}

#[test]
fn checksums_tie_tracking_rows_to_the_git_version_that_ran() {
    let repo = TestRepo::new();
    repo.write("Cargo.toml", "[package]\nname = \"app\"\n");
    let sqlx = "migrations/20250101000000_init.sql";
    let flyway = "src/main/resources/db/migration/V1__accounts.sql";
    let prisma = "prisma/migrations/20250101000000_posts/migration.sql";
    repo.write(sqlx, SQLX_V1);
    repo.write(flyway, FLYWAY_V1);
    repo.write(prisma, PRISMA);
    let c1 = repo.commit("init", "2025-06-01T10:00:00Z");
    // Edited after it ran: the database still has the first version's checksum.
    repo.write(sqlx, SQLX_V2);
    let c2 = repo.commit("edit applied migration", "2025-06-03T10:00:00Z");

    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("mig_checksums");
    cluster.psql(
        &db,
        &format!(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
                 installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL,
                 checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL);
             INSERT INTO _sqlx_migrations VALUES (20250101000000, 'init', '2025-06-02 08:00:00+00', true,
                 sha384(convert_to($m${SQLX_V1}$m$, 'UTF8')), 1000);
             CREATE TABLE flyway_schema_history (installed_rank INT PRIMARY KEY, version VARCHAR(50),
                 description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL,
                 checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(),
                 execution_time INT NOT NULL, success BOOLEAN NOT NULL);
             INSERT INTO flyway_schema_history VALUES (1, '1', 'accounts', 'SQL', 'V1__accounts.sql', {},
                 'app', '2025-06-02 09:00:00', 5, true);
             CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY, checksum VARCHAR(64) NOT NULL,
                 finished_at TIMESTAMPTZ, migration_name VARCHAR(255) NOT NULL, logs TEXT,
                 rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                 applied_steps_count INTEGER NOT NULL DEFAULT 0);
             INSERT INTO _prisma_migrations VALUES ('a', encode(sha256(convert_to($m$-- edited on the server\n$m$, 'UTF8')), 'hex'),
                 '2025-06-02 10:00:05+00', '20250101000000_posts', NULL, NULL, '2025-06-02 10:00:00+00', 1);
             CREATE TABLE users (id int);
             CREATE TABLE accounts (id int);
             CREATE TABLE \"Post\" (id int);",
            flyway_checksum(FLYWAY_V1)
        ),
    );

    let doc = history_json(repo.path(), &["--db", &cluster.url(&db)]);

    let sqlx_rows = applied(&doc, "sqlx");
    assert_eq!(sqlx_rows.len(), 1, "{doc}");
    assert_eq!(
        sqlx_rows[0]["matched_commit"],
        c1.as_str(),
        "the first version ran, not {c2}"
    );
    assert_eq!(sqlx_rows[0]["matched_by"], "checksum");
    assert_eq!(sqlx_rows[0]["path"], sqlx);
    assert_eq!(sqlx_rows[0]["applied_at"], "2025-06-02T08:00:00Z");
    assert_eq!(sqlx_rows[0]["table"], "public._sqlx_migrations");

    let flyway_rows = applied(&doc, "flyway");
    assert_eq!(flyway_rows[0]["matched_commit"], c1.as_str(), "{doc}");
    assert_eq!(flyway_rows[0]["matched_by"], "checksum");

    // Prisma recorded a checksum no git version has: said so.
    let prisma_rows = applied(&doc, "prisma");
    assert_eq!(prisma_rows[0]["path"], prisma);
    assert_eq!(prisma_rows[0]["matched_by"], "version_and_time");
    let notes = doc["cross_check"].as_array().expect("cross_check");
    assert!(
        notes.iter().any(|n| n["kind"] == "checksum_mismatch"
            && n["text"].as_str().is_some_and(|t| t.contains(prisma))),
        "{notes:?}"
    );

    // The edit after the apply is flagged, and the drop it added is on a table that is gone.
    assert_eq!(doc["edits"].as_array().map(|e| e.len()), Some(1));
    assert!(
        doc["recreated_tables"]
            .as_array()
            .is_some_and(|r| r.is_empty())
    );

    // The terminal shows which git version ran.
    let (code, table, _) = migrations_git::pgtriage(&[
        "--repo",
        &repo.path().to_string_lossy(),
        "--db",
        &cluster.url(&db),
    ]);
    assert_eq!(code, 0);
    assert!(
        table.contains("What the tracking table says ran"),
        "{table}"
    );
    assert!(table.contains(&c1[..7]), "{table}");
}

#[test]
fn seed_003_autogenerated_migration_drops_tables_another_system_created() {
    let repo = TestRepo::new();
    let base = "backend/api-gateway/alembic/versions";
    repo.write(
        &format!("{base}/1a2b3c4d5e6f_initial.py"),
        "revision = '1a2b3c4d5e6f'\ndown_revision = None\n\ndef upgrade():\n    op.create_table('users', sa.Column('id', sa.Integer()))\n    op.create_table('research_reports', sa.Column('id', sa.Integer()))\n",
    );
    repo.commit("initial", "2025-10-01T10:00:00Z");
    let drop_path = format!("{base}/82233f5589d3_add_research_report_streaming_fields.py");
    repo.write(
        &drop_path,
        "revision = '82233f5589d3'\ndown_revision = '1a2b3c4d5e6f'\n\ndef upgrade() -> None:\n    op.drop_table('session')\n    op.drop_table('account')\n    op.drop_table('verification')\n    op.drop_table('user')\n    op.add_column('research_reports', sa.Column('status', sa.String()))\n",
    );
    let c = repo.commit(
        "add research report streaming fields",
        "2025-10-18T22:01:13Z",
    );

    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("mig_seed003");
    // What the database looks like after the incident: the Better Auth tables were re-created by
    // hand, and one more table of that system was never touched by Alembic.
    cluster.psql(
        &db,
        "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY);
         INSERT INTO alembic_version VALUES ('82233f5589d3');
         CREATE TABLE users (id int);
         CREATE TABLE research_reports (id int, status text);
         CREATE TABLE session (id text PRIMARY KEY);
         CREATE TABLE account (id text PRIMARY KEY);
         CREATE TABLE verification (id text PRIMARY KEY);
         CREATE TABLE \"user\" (id text PRIMARY KEY);
         CREATE TABLE user_api_keys (id text PRIMARY KEY);",
    );

    let doc = history_json(repo.path(), &["--db", &cluster.url(&db)]);
    let notes = doc["cross_check"].as_array().expect("cross_check");
    for table in [
        "public.session",
        "public.account",
        "public.verification",
        "public.user",
    ] {
        let note = notes
            .iter()
            .find(|n| n["table"] == table)
            .unwrap_or_else(|| panic!("{table} explained: {notes:?}"));
        assert_eq!(note["kind"], "drops_unmanaged_table");
        let text = note["text"].as_str().unwrap_or("");
        assert!(
            text.contains("no migration in the repository creates it"),
            "{text}"
        );
        assert!(text.contains("seed 003"), "{text}");
        assert!(
            note["sources"][0]
                .as_str()
                .is_some_and(|s| s.starts_with(&format!("git:{}:{drop_path}:", &c[..7]))),
            "{note}"
        );
    }
    let unmanaged: Vec<&str> = doc["unmanaged_tables"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        unmanaged,
        vec![
            "public.account",
            "public.session",
            "public.user",
            "public.user_api_keys",
            "public.verification"
        ],
        "tracking table and migration-created tables are not listed"
    );
    assert!(
        notes
            .iter()
            .any(|n| n["table"] == "public.user_api_keys" && n["kind"] == "unmanaged_table"),
        "{notes:?}"
    );
    let recreated: Vec<&str> = doc["recreated_tables"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        recreated,
        vec![
            "public.account",
            "public.session",
            "public.user",
            "public.verification"
        ]
    );
    let alembic = applied(&doc, "alembic");
    assert_eq!(alembic[0]["version"], "82233f5589d3");
    assert_eq!(alembic[0]["path"], drop_path.as_str());
    assert_eq!(alembic[0]["matched_commit"], c.as_str());

    // Read-only: nothing was written to the database.
    assert_eq!(
        cluster.psql(&db, "SELECT count(*) FROM alembic_version"),
        "1"
    );
}

#[test]
fn django_rows_match_by_app_name_and_apply_time() {
    let repo = TestRepo::new();
    let p = "shop/migrations/0002_remove_order.py";
    repo.write(
        "shop/migrations/0001_initial.py",
        "class Migration(migrations.Migration):\n    operations = [migrations.CreateModel(name='Order', fields=[])]\n",
    );
    repo.write(
        p,
        "class Migration(migrations.Migration):\n    operations = [migrations.DeleteModel(name='Order')]\n",
    );
    let c1 = repo.commit("models", "2025-07-01T10:00:00Z");
    repo.write(
        p,
        "class Migration(migrations.Migration):\n    operations = [migrations.DeleteModel(name='Order'), migrations.DeleteModel(name='Cart')]\n",
    );
    repo.commit("later edit", "2025-07-05T10:00:00Z");

    let cluster = PgCluster::shared();
    let db = cluster.fresh_database("mig_django");
    cluster.psql(
        &db,
        "CREATE TABLE django_migrations (id bigserial PRIMARY KEY, app varchar(255) NOT NULL,
             name varchar(255) NOT NULL, applied timestamptz NOT NULL);
         INSERT INTO django_migrations (app, name, applied) VALUES
             ('shop', '0001_initial', '2025-07-02 12:00:00+00'),
             ('shop', '0002_remove_order', '2025-07-02 12:00:01+00');
         CREATE TABLE shop_order (id int);",
    );
    let doc = history_json(repo.path(), &["--db", &cluster.url(&db)]);
    let rows = applied(&doc, "django");
    let row = rows
        .iter()
        .find(|r| r["version"] == "shop/0002_remove_order")
        .expect("row");
    assert_eq!(row["path"], p);
    assert_eq!(row["matched_by"], "version_and_time");
    assert_eq!(
        row["matched_commit"],
        c1.as_str(),
        "the version committed before it ran"
    );
    // DeleteModel drops shop_order, which exists now: dropped and re-created.
    assert!(
        doc["cross_check"].as_array().is_some_and(|n| n
            .iter()
            .any(|n| n["table"] == "public.shop_order" && n["kind"] == "dropped_and_recreated")),
        "{}",
        doc["cross_check"]
    );
}
