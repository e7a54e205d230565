//! An application's DELETE over the extended protocol, as a driver with server-side
//! parameters sends it: the log has `execute <unnamed>: DELETE … WHERE id > $1` (or `execute
//! P0_0:` for a prepared statement) and the values on a `DETAIL:  parameters: $1 = '…'` line.
//! Without the values `WHERE id > $1` does not say which rows went, so the finding carries them
//! (`parameters` in the JSON, beside the statement in the Markdown), and `--redact` hides them.
//! Real PostgreSQL 15, real pgbench (`-M extended` and `-M prepared`), `log_statement = mod`;
//! the report with the new field is checked against `schemas/report.json`.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{
    ClusterOptions, PgCluster, client_tool, path_str as path, pgtriage_stdout as pgtriage,
};

#[test]
fn a_parameterised_delete_is_told_with_its_parameters_and_redacted_without_them() {
    let pg = PgCluster::start(ClusterOptions {
        extra_conf: vec!["log_statement = 'mod'".into(), "autovacuum = off".into()],
        ..ClusterOptions::default()
    });
    let work = tempfile::tempdir().expect("tempdir");
    let schema_text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/report.json"))
            .expect("schemas/report.json");
    let report_schema =
        jsonschema::validator_for(&serde_json::from_str(&schema_text).expect("schema JSON"))
            .expect("a JSON Schema");
    for (mode, low) in [("extended", 7), ("prepared", 9)] {
        let db = pg.fresh_database(mode);
        pg.psql_script(
            &db,
            "CREATE TABLE orders (id int PRIMARY KEY, v text);
             INSERT INTO orders SELECT g, 'o' FROM generate_series(1, 400) g;",
            false,
        );
        let script = work.path().join(format!("{mode}.pgbench"));
        std::fs::write(
            &script,
            format!("\\set low {low}\nDELETE FROM orders WHERE id > :low;\n"),
        )
        .expect("script");
        let out = std::process::Command::new(client_tool(&pg.bindir, "pgbench"))
            .args(["-n", "-M", mode, "-t", "1", "-f", path(&script)])
            .arg("-h")
            .arg(pg.socket_dir())
            .args(["-p", &pg.port.to_string(), "-U", "postgres", &db])
            .env("PGAPPNAME", "order-purge")
            .output()
            .expect("pgbench");
        assert!(
            out.status.success(),
            "pgbench: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.flush_stats(&db);
        let needle = format!("parameters: $1 = '{low}'");
        pg.wait_for_log(|t| t.contains(&needle), std::time::Duration::from_secs(5));

        let evidence = work.path().join(format!("{mode}.json"));
        let log = pg.log_dir().join("postgresql.log");
        pgtriage(&[
            "collect",
            "--db",
            &pg.url(&db),
            "--log",
            path(&log),
            "-o",
            path(&evidence),
        ]);
        let report: Value =
            serde_json::from_slice(&pgtriage(&["report", path(&evidence), "--format", "json"]))
                .expect("report json");
        let finding = report["hypotheses"]
            .as_array()
            .and_then(|hs| {
                hs.iter()
                    .find(|h| h["kind"] == "delete" && h["tables"][0] == "public.orders")
            })
            .unwrap_or_else(|| panic!("{mode}: no delete finding on orders: {report:#}"));
        assert_eq!(
            finding["statement"], "DELETE FROM orders WHERE id > $1",
            "{mode}"
        );
        assert_eq!(finding["parameters"], format!("$1 = '{low}'"), "{mode}");
        let errors: Vec<String> = report_schema
            .iter_errors(&report)
            .take(10)
            .map(|e| format!("at {}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{mode}: report schema: {errors:?}");
        assert_eq!(finding["loss"], true, "{mode}: {finding:#}");

        let md = String::from_utf8(pgtriage(&["report", path(&evidence), "--format", "md"]))
            .expect("utf-8");
        assert!(
            md.contains(&format!(
                "- Statement: `DELETE FROM orders WHERE id > $1`, parameters `$1 = '{low}'`"
            )),
            "{mode}: {md}"
        );
        let redacted = String::from_utf8(pgtriage(&[
            "report",
            path(&evidence),
            "--format",
            "md",
            "--redact",
        ]))
        .expect("utf-8");
        assert!(
            redacted.contains("parameters `$1 = …`"),
            "{mode}: {redacted}"
        );
        assert!(
            !redacted.contains(&needle),
            "{mode}: the value is in the redacted report"
        );
        let redacted_json = String::from_utf8(pgtriage(&[
            "report",
            path(&evidence),
            "--format",
            "json",
            "--redact",
        ]))
        .expect("utf-8");
        assert!(
            !redacted_json.contains(&format!("= '{low}'")),
            "{mode}: the value is in the redacted JSON"
        );
    }
}
