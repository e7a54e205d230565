//! Framework detection on a real git repository: a Rails app whose front-end assets and specs
//! have "migrate" in their paths. Only `db/migrate/*.rb` is a migration; the jQuery Migrate
//! plugin and the migration specs are left out and counted in `skipped_paths` (issue 16).

mod migrations_git;

use migrations_git::{TestRepo, history_json, operations};

#[test]
fn assets_and_specs_named_after_migrations_are_skipped_and_counted() {
    let repo = TestRepo::new();
    let real = "db/migrate/20240101000000_purge_sessions.rb";
    repo.write(
        real,
        "class PurgeSessions < ActiveRecord::Migration[7.0]\n  def up\n    Session.delete_all\n  end\nend\n",
    );
    repo.write(
        "app/assets/javascripts/jquery-migrate-1.0.0.js",
        "/*! jQuery Migrate v1.0.0 */\njQuery.migrateWarnings = [];\n",
    );
    let spec = "spec/migrations/purge_sessions_migration_spec.rb";
    repo.write(
        spec,
        "describe PurgeSessions do\n  it 'purges' do\n    Session.delete_all\n  end\nend\n",
    );
    repo.write(
        "test/db/migrate/20230101000000_fixture.rb",
        "class Fixture < ActiveRecord::Migration[7.0]\n  def up\n    drop_table :users\n  end\nend\n",
    );
    repo.write(
        "app/models/session.rb",
        "class Session < ApplicationRecord; end\n",
    );
    repo.commit("rails app", "2025-01-01T10:00:00Z");
    // A second version of the spec: still one skipped path, not two.
    repo.write(
        spec,
        "describe PurgeSessions do\n  it 'purges twice' do\n    Session.delete_all\n  end\nend\n",
    );
    repo.commit("spec edit", "2025-01-02T10:00:00Z");

    let doc = history_json(repo.path(), &[]);
    let files: Vec<&str> = doc["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(files, vec![real], "{doc:#}");
    let ops = operations(&doc);
    assert!(
        ops.iter().all(|o| o.3 == real),
        "only the real migration yields operations: {ops:?}"
    );
    assert!(
        ops.iter().any(|o| o.0 == "delete_all"),
        "the real migration's delete_all is found once: {ops:?}"
    );
    assert_eq!(doc["skipped_paths"]["test"], 2, "{doc:#}");
    assert_eq!(doc["skipped_paths"]["vendored"], 1, "{doc:#}");

    // A --path glob is the user's word: the spec directory is scanned when asked for.
    let doc = history_json(repo.path(), &["--path", "spec/migrations/*.rb"]);
    let files: Vec<&str> = doc["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(files.contains(&spec), "{files:?}");
}
