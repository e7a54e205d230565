//! `pgtriage migrations` on real repositories built by the tests, one per framework family: known
//! destructive migrations, commented-out ones, a meaningful and a cosmetic edit, a rename and a
//! deletion; merges, ranges and `--since`; and the bad inputs of issue 4.

mod migrations_git;

use migrations_git::{TestRepo, history_json, operations, pgtriage, run_git, short};

fn has_op(
    ops: &[(String, String, bool, String, u64)],
    kind: &str,
    objects: &str,
    active: bool,
    path: &str,
    line: u64,
) -> bool {
    ops.iter()
        .any(|o| o.0 == kind && o.1 == objects && o.2 == active && o.3 == path && o.4 == line)
}

#[test]
fn flyway_sql_history_with_edits_rename_and_deletion() {
    let repo = TestRepo::new();
    let v1 = "db/migration/V1__init.sql";
    let v2 = "db/migration/V2__drop_sessions.sql";
    let v3 = "db/migration/V3__cleanup.sql";
    let v4 = "db/migration/V4__cleanup.sql";
    repo.write(
        v1,
        "CREATE TABLE users (id int);\nCREATE TABLE sessions (id int);\n",
    );
    repo.write(v2, "DROP TABLE sessions;\n");
    repo.write("src/app.txt", "not a migration\n");
    let c1 = repo.commit("init", "2025-01-01T10:00:00Z");
    repo.write(v3, "-- DROP TABLE users;\nDELETE FROM audit;\n");
    let c2 = repo.commit("cleanup", "2025-01-02T10:00:00Z");
    // Cosmetic: case, whitespace and layout only.
    repo.write(
        v1,
        "create table USERS (id INT);\n\ncreate table sessions (\n    id int\n);\n",
    );
    repo.commit("pg_format", "2025-01-03T10:00:00Z");
    // Meaningful: the drop now cascades and a truncate appears.
    repo.write(v2, "DROP TABLE sessions CASCADE;\nTRUNCATE users;\n");
    let c4 = repo.commit("edit applied migration", "2025-01-04T10:00:00Z");
    repo.mv(v3, v4);
    let c5 = repo.commit("renumber", "2025-01-05T10:00:00Z");
    repo.rm(v4);
    let c6 = repo.commit("remove cleanup", "2025-01-06T10:00:00Z");

    let doc = history_json(repo.path(), &[]);
    let ops = operations(&doc);
    assert!(
        has_op(&ops, "drop_table", "sessions", true, v2, 1),
        "{ops:?}"
    );
    assert!(has_op(&ops, "delete_all", "audit", true, v3, 2), "{ops:?}");
    assert!(
        has_op(&ops, "drop_table", "users", false, v3, 1),
        "commented out: {ops:?}"
    );
    assert!(has_op(&ops, "truncate", "users", true, v2, 2), "{ops:?}");
    // The unchanged DELETE is not repeated for the renamed file.
    assert!(!ops.iter().any(|o| o.3 == v4), "{ops:?}");

    let first = doc["operations"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["path"] == v2 && o["line"] == 1))
        .expect("first drop");
    assert_eq!(first["source"], format!("git:{}:{v2}:1", short(&c1)));
    assert_eq!(first["framework"], "flyway");
    assert_eq!(first["author"], "Dana Dev");
    assert_eq!(first["committed_at"], "2025-01-01T10:00:00Z");
    let cascaded = doc["operations"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|o| o["path"] == v2 && o["cascade"] == true && o["kind"] == "drop_table")
        })
        .expect("the edit's CASCADE drop");
    assert_eq!(cascaded["commit"], c4.as_str());

    // Only the meaningful edit is flagged, with what it changed.
    let edits = doc["edits"].as_array().expect("edits");
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(edits[0]["path"], v2);
    assert_eq!(edits[0]["first_commit"], c1.as_str());
    assert_eq!(edits[0]["edit_commit"], c4.as_str());
    assert_eq!(edits[0]["before"][0], "drop table sessions");
    let after: Vec<&str> = edits[0]["after"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(after, vec!["drop table sessions cascade", "truncate users"]);

    // Every version of every file, with renames and deletions.
    let files = doc["files"].as_array().expect("files");
    let file = |p: &str| files.iter().find(|f| f["path"] == p).expect("file listed");
    assert_eq!(file(v1)["versions"].as_array().map(|v| v.len()), Some(2));
    let renamed = &file(v4)["versions"];
    assert_eq!(renamed[0]["change"], "renamed");
    assert_eq!(renamed[0]["previous_path"], v3);
    assert_eq!(renamed[0]["commit"], c5.as_str());
    assert_eq!(renamed[1]["change"], "deleted");
    assert_eq!(renamed[1]["commit"], c6.as_str());
    assert_eq!(file(v3)["versions"][0]["commit"], c2.as_str());
    assert_eq!(file(v2)["version"], "2");
    assert!(
        file(v2)["versions"][0]["checksum"].is_string(),
        "Flyway CRC32 recorded"
    );
    assert!(!files.iter().any(|f| f["path"] == "src/app.txt"));
    assert_eq!(doc["commits_walked"], 6);

    // --since keeps only what was committed from then on.
    let since = history_json(repo.path(), &["--since", "2025-01-04"]);
    let since_ops = operations(&since);
    assert!(since_ops.iter().all(|o| o.3 == v2), "{since_ops:?}");
    assert!(has_op(&since_ops, "truncate", "users", true, v2, 2));

    // The terminal table cites the same.
    let (code, table, _) = pgtriage(&["--repo", &repo.path().to_string_lossy()]);
    assert_eq!(code, 0);
    assert!(
        table.contains(&format!("git:{}:{v2}:1", short(&c1))),
        "{table}"
    );
    assert!(table.contains("drop_table CASCADE"), "{table}");
    assert!(
        table.contains("Migrations whose meaning changed"),
        "{table}"
    );
}

#[test]
fn alembic_autogenerated_drops_seed_003() {
    let repo = TestRepo::new();
    let path =
        "backend/api-gateway/alembic/versions/82233f5589d3_add_research_report_streaming_fields.py";
    repo.write(
        "backend/api-gateway/alembic/versions/1a2b3c4d5e6f_initial.py",
        "revision = '1a2b3c4d5e6f'\ndown_revision = None\n\ndef upgrade():\n    op.create_table('research_reports', sa.Column('id', sa.Integer()))\n    op.create_table('users', sa.Column('id', sa.Integer()))\n\ndef downgrade():\n    op.drop_table('users')\n    op.drop_table('research_reports')\n",
    );
    repo.commit("initial", "2025-10-18T10:00:00Z");
    repo.write(
        path,
        "\"\"\"add research report streaming fields\"\"\"\nrevision = '82233f5589d3'\ndown_revision = '1a2b3c4d5e6f'\n\n\ndef upgrade() -> None:\n    op.drop_table('session')\n    op.drop_table('account')\n    op.drop_table('verification')\n    # op.drop_table('user')\n    op.execute(\"DELETE FROM users\")\n    op.add_column('research_reports', sa.Column('status', sa.String()))\n\n\ndef downgrade() -> None:\n    op.drop_column('research_reports', 'status')\n",
    );
    let c = repo.commit(
        "add research report streaming fields",
        "2025-10-18T22:01:13Z",
    );

    let doc = history_json(repo.path(), &["--all"]);
    let ops = operations(&doc);
    for (table, line) in [("session", 7), ("account", 8), ("verification", 9)] {
        assert!(
            has_op(&ops, "drop_table", table, true, path, line),
            "{table}: {ops:?}"
        );
    }
    assert!(
        has_op(&ops, "drop_table", "user", false, path, 10),
        "commented: {ops:?}"
    );
    assert!(
        has_op(&ops, "delete_all", "users", true, path, 11),
        "op.execute: {ops:?}"
    );
    assert!(
        has_op(
            &ops,
            "drop_column",
            "research_reports.status",
            false,
            path,
            16
        ),
        "downgrade is inactive: {ops:?}"
    );
    let op = doc["operations"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["objects"][0] == "session"))
        .expect("session drop");
    assert_eq!(op["found_by"], "orm");
    assert_eq!(op["framework"], "alembic");
    assert_eq!(op["source"], format!("git:{}:{path}:7", short(&c)));
    let file = doc["files"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["path"] == path))
        .expect("file");
    assert_eq!(file["version"], "82233f5589d3");
    let created: Vec<&str> = doc["created_tables"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(created, vec!["research_reports", "users"]);
}

#[test]
fn django_models_state_only_operations_and_black_reformat() {
    let repo = TestRepo::new();
    let p1 = "shop/migrations/0001_initial.py";
    let p2 = "shop/migrations/0002_remove_order.py";
    repo.write(
        p1,
        "from django.db import migrations, models\n\nclass Migration(migrations.Migration):\n    operations = [\n        migrations.CreateModel(name='Order', fields=[('id', models.AutoField(primary_key=True))]),\n        migrations.CreateModel(name='Item', fields=[('id', models.AutoField(primary_key=True))]),\n    ]\n",
    );
    repo.write(
        p2,
        "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    operations = [\n        migrations.DeleteModel(name='Order'),\n        migrations.SeparateDatabaseAndState(\n            state_operations=[migrations.RemoveField(model_name='item', name='legacy')],\n        ),\n    ]\n",
    );
    repo.commit("models", "2025-02-01T09:00:00Z");
    // black: double quotes and wrapping; same meaning.
    repo.write(
        p2,
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    operations = [\n        migrations.DeleteModel(\n            name=\"Order\",\n        ),\n        migrations.SeparateDatabaseAndState(\n            state_operations=[\n                migrations.RemoveField(model_name=\"item\", name=\"legacy\")\n            ],\n        ),\n    ]\n",
    );
    repo.commit("black", "2025-02-02T09:00:00Z");
    // A real change of meaning: a RemoveField that touches the database.
    repo.write(
        p2,
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    operations = [\n        migrations.DeleteModel(\n            name=\"Order\",\n        ),\n        migrations.RemoveField(model_name=\"item\", name=\"price\"),\n    ]\n",
    );
    let c3 = repo.commit("drop price", "2025-02-03T09:00:00Z");

    let doc = history_json(repo.path(), &["--all"]);
    let ops = operations(&doc);
    assert!(
        has_op(&ops, "drop_table", "shop_order", true, p2, 5),
        "{ops:?}"
    );
    assert!(
        has_op(&ops, "drop_column", "shop_item.legacy", false, p2, 7),
        "state-only: {ops:?}"
    );
    assert!(
        has_op(&ops, "drop_column", "shop_item.price", true, p2, 9),
        "{ops:?}"
    );
    let drop = doc["operations"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["objects"][0] == "shop_order"))
        .expect("DeleteModel");
    assert_eq!(drop["cascade"], true, "Django emits DROP TABLE … CASCADE");
    let edits = doc["edits"].as_array().expect("edits");
    assert_eq!(edits.len(), 1, "black is cosmetic: {edits:?}");
    assert_eq!(edits[0]["edit_commit"], c3.as_str());
    assert_eq!(doc["files"][0]["framework"], "django");
    let created: Vec<&str> = doc["created_tables"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(created, vec!["shop_item", "shop_order"]);
}

#[test]
fn rails_laravel_knex_ecto_liquibase_in_their_own_language() {
    let repo = TestRepo::new();
    let rails = "db/migrate/20250301000000_drop_legacy.rb";
    let laravel = "database/migrations/2025_03_01_000000_drop_flights.php";
    let knex = "migrations/20250301000000_drop_logs.js";
    let ecto = "priv/repo/migrations/20250301000000_drop_posts.exs";
    let liquibase = "src/main/resources/db/changelog/changes.xml";
    repo.write(
        rails,
        "class DropLegacy < ActiveRecord::Migration[7.1]\n  def up\n    drop_table :legacy_accounts, force: :cascade\n    remove_column :users, :nickname\n    execute <<~SQL\n      TRUNCATE events;\n    SQL\n    # drop_table :users\n  end\n\n  def down\n    create_table :legacy_accounts\n  end\nend\n",
    );
    repo.write(
        laravel,
        "<?php\nreturn new class extends Migration {\n    public function up(): void\n    {\n        Schema::dropIfExists('flights');\n        DB::statement('DELETE FROM bookings');\n        // Schema::drop('airports');\n    }\n};\n",
    );
    repo.write(
        knex,
        "exports.up = function (knex) {\n  return knex.schema.dropTable('logs');\n};\nexports.down = function (knex) {\n  return knex.schema.createTable('logs', () => {});\n};\n",
    );
    repo.write(
        ecto,
        "defmodule Repo.Migrations.DropPosts do\n  use Ecto.Migration\n\n  def change do\n    drop table(:posts)\n    execute \"UPDATE comments SET body = NULL\"\n  end\nend\n",
    );
    repo.write(
        liquibase,
        "<databaseChangeLog>\n  <changeSet id=\"1\" author=\"dana\">\n    <dropTable tableName=\"orders\" cascadeConstraints=\"true\"/>\n    <sql>DELETE FROM order_lines</sql>\n  </changeSet>\n</databaseChangeLog>\n",
    );
    repo.commit("drops everywhere", "2025-03-01T08:00:00Z");

    let doc = history_json(repo.path(), &["--all"]);
    let ops = operations(&doc);
    let expected = [
        ("drop_table", "legacy_accounts", true, rails, 3),
        ("drop_column", "users.nickname", true, rails, 4),
        ("truncate", "events", true, rails, 6),
        ("drop_table", "users", false, rails, 8),
        ("drop_table", "flights", true, laravel, 5),
        ("delete_all", "bookings", true, laravel, 6),
        ("drop_table", "airports", false, laravel, 7),
        ("drop_table", "logs", true, knex, 2),
        ("drop_table", "posts", true, ecto, 5),
        ("update_all", "comments", true, ecto, 6),
        ("drop_table", "orders", true, liquibase, 3),
        ("delete_all", "order_lines", true, liquibase, 4),
    ];
    for (kind, objects, active, path, line) in expected {
        assert!(
            has_op(&ops, kind, objects, active, path, line),
            "{kind} {objects} {path}:{line} missing from {ops:?}"
        );
    }
    let frameworks: Vec<(String, String)> = doc["files"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| {
                    (
                        f["path"].as_str().unwrap_or("").to_string(),
                        f["framework"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for (path, fw) in [
        (rails, "rails"),
        (laravel, "laravel"),
        (knex, "knex"),
        (ecto, "ecto"),
        (liquibase, "liquibase"),
    ] {
        assert!(
            frameworks.contains(&(path.to_string(), fw.to_string())),
            "{path} as {fw}: {frameworks:?}"
        );
    }
}

#[test]
fn merge_resolution_range_and_detached_head() {
    let repo = TestRepo::new();
    let p = "migrations/20250101000000_init.sql";
    repo.write(p, "CREATE TABLE a (id int);\n");
    let base = repo.commit("base", "2025-04-01T00:00:00Z");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write(p, "CREATE TABLE a (id int);\nDELETE FROM a WHERE id = 1;\n");
    repo.commit("feature edit", "2025-04-02T00:00:00Z");
    repo.git(&["checkout", "-q", "main"]);
    repo.write(
        p,
        "CREATE TABLE a (id int);\nUPDATE a SET id = 2 WHERE id = 1;\n",
    );
    repo.commit("main edit", "2025-04-03T00:00:00Z");
    // A conflict resolved into something neither side had: the merge's own change.
    let _ = std::process::Command::new("git")
        .current_dir(repo.path())
        .args(["merge", "-q", "feature", "-m", "merge"])
        .output();
    repo.write(p, "CREATE TABLE a (id int);\nDELETE FROM a;\n");
    repo.git(&["add", "-A"]);
    run_git(
        repo.path(),
        &["commit", "-q", "--no-edit"],
        Some("2025-04-04T00:00:00Z"),
    );
    let merge = repo.git(&["rev-parse", "HEAD"]).trim().to_string();

    let doc = history_json(repo.path(), &[]);
    let ops = operations(&doc);
    let delete_all = doc["operations"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["kind"] == "delete_all"))
        .expect("the merge's DELETE without WHERE");
    assert_eq!(delete_all["commit"], merge.as_str(), "{ops:?}");
    assert_eq!(doc["commits_walked"], 4);

    // A range leaves the base out.
    let range = format!("{}..main", short(&base));
    let ranged = history_json(repo.path(), &["--rev", &range]);
    assert_eq!(ranged["commits_walked"], 3);

    // Detached HEAD: walked from the checked-out commit, and said so.
    repo.git(&["checkout", "-q", "--detach", &base]);
    let detached = history_json(repo.path(), &[]);
    assert_eq!(detached["commits_walked"], 1);
    assert!(
        detached["problems"].as_array().is_some_and(|p| p
            .iter()
            .any(|x| x.as_str().is_some_and(|s| s.contains("detached HEAD")))),
        "{detached}"
    );
}

#[test]
fn bad_input_is_one_line_and_the_rest_is_still_scanned() {
    // Not a repository.
    let dir = tempfile::tempdir().expect("tmp");
    let (code, stdout, stderr) = pgtriage(&["--repo", &dir.path().to_string_lossy()]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a git repository"), "{stderr}");

    // Bad --since and --rev.
    let repo = TestRepo::new();
    repo.write("migrations/1_a.sql", "DROP TABLE a;\n");
    repo.commit("one", "2025-05-01T00:00:00Z");
    let repo_arg = repo.path().to_string_lossy().into_owned();
    let (code, _, stderr) = pgtriage(&["--repo", &repo_arg, "--since", "yesterday"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--since \"yesterday\": not a time"),
        "{stderr}"
    );
    let (code, _, stderr) = pgtriage(&["--repo", &repo_arg, "--rev", "nope..main"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--rev"), "{stderr}");

    // Binary, non-UTF-8, huge files and a submodule: notes, and the other files still scanned.
    let mut latin1 = b"DROP TABLE caf".to_vec();
    latin1.push(0xe9);
    latin1.extend_from_slice(b";\n");
    repo.write("migrations/2_latin1.sql", latin1);
    repo.write("migrations/3_blob.sql", [0u8, 1, 2, 3, 0, 159, 146, 150]);
    let mut huge = "-- filler\n".repeat(1_000_000);
    huge.push_str("DROP TABLE hidden;\n");
    repo.write("migrations/4_dump.sql", huge);
    repo.write("migrations/5_b.sql", "TRUNCATE b;\n");
    // SQLite dialect: the grammar fails, the keyword scanner still finds the DELETE.
    repo.write(
        "migrations/6_sqlite.sql",
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT UNSIGNED);\nDELETE FROM t\n",
    );
    let sub = TestRepo::new();
    sub.write("README", "x");
    sub.commit("sub", "2025-05-01T00:00:00Z");
    run_git(
        repo.path(),
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            &sub.path().to_string_lossy(),
            "db/migrations/vendor_sub",
        ],
        None,
    );
    repo.commit("odd files", "2025-05-02T00:00:00Z");
    let doc = history_json(repo.path(), &[]);
    let ops = operations(&doc);
    assert!(
        has_op(&ops, "truncate", "b", true, "migrations/5_b.sql", 1),
        "{ops:?}"
    );
    assert!(
        ops.iter()
            .any(|o| o.3 == "migrations/2_latin1.sql" && o.0 == "drop_table")
    );
    let problems: Vec<&str> = doc["problems"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let mentions = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(
        mentions("3_blob.sql: skipped: binary content"),
        "{problems:?}"
    );
    assert!(mentions("4_dump.sql: skipped"), "{problems:?}");
    assert!(mentions("2_latin1.sql: not valid UTF-8"), "{problems:?}");
    assert!(
        mentions("vendor_sub: submodule, not scanned"),
        "{problems:?}"
    );
    assert!(
        mentions("6_sqlite.sql: not fully parsed (line 1:"),
        "{problems:?}"
    );
    assert!(
        has_op(&ops, "delete_all", "t", true, "migrations/6_sqlite.sql", 2),
        "{ops:?}"
    );

    // Shallow clone: the history is cut short, and where.
    let clone_dir = tempfile::tempdir().expect("tmp");
    let clone = clone_dir.path().join("shallow");
    run_git(
        clone_dir.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &format!("file://{}", repo.path().display()),
            &clone.to_string_lossy(),
        ],
        None,
    );
    let shallow = history_json(&clone, &[]);
    let note = shallow["shallow"].as_str().unwrap_or("");
    assert!(note.contains("history is cut short at"), "{note}");
    assert_eq!(shallow["commits_walked"], 1);

    // Bare clone: history read all the same.
    let bare = clone_dir.path().join("bare.git");
    run_git(
        clone_dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            &repo.path().to_string_lossy(),
            &bare.to_string_lossy(),
        ],
        None,
    );
    let bare_doc = history_json(&bare, &[]);
    assert_eq!(bare_doc["commits_walked"], 2);
    assert!(
        operations(&bare_doc).iter().any(|o| o.0 == "truncate"),
        "bare repository scanned"
    );
}
