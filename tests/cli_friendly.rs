//! The command line as a tired on-call engineer meets it: `report` with nothing to read says
//! what to give, every `--help` has examples (and every example runs, exactly as printed),
//! `--color` and `NO_COLOR`, counts that agree with their number, a `timeline` that fits a
//! screen, and a terminal summary that ends with the first recovery step.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use support::PgCluster;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn incident(name: &str) -> PathBuf {
    repo_root().join("sample-logs/incidents").join(name)
}

/// pgtriage with no database named by the environment.
fn pgtriage(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("pgtriage").expect("binary");
    c.current_dir(dir);
    for v in [
        "DATABASE_URL",
        "PGHOST",
        "PGHOSTADDR",
        "PGDATABASE",
        "PGSERVICE",
        "PGPORT",
        "NO_COLOR",
    ] {
        c.env_remove(v);
    }
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `command` (a shell line) on a pseudo-terminal with `script`, so stdout is a TTY.
fn on_a_terminal(dir: &Path, command: &str, no_color: Option<&str>) -> String {
    let bin = assert_cmd::cargo::cargo_bin("pgtriage");
    let line = command.replacen("pgtriage", &bin.display().to_string(), 1);
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &line, "/dev/null"])
        .current_dir(dir)
        .env("COLUMNS", "200")
        .env_remove("NO_COLOR")
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null());
    if let Some(v) = no_color {
        c.env("NO_COLOR", v);
    }
    let out = c.output().expect("script(1) from util-linux");
    assert!(out.status.success(), "{command}: {:?}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn report_with_nothing_to_read_says_what_to_give() {
    let dir = tempfile::tempdir().unwrap();
    let out = pgtriage(dir.path()).arg("report").output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    for wanted in [
        "evidence file",
        "pgtriage collect",
        "--db",
        "--log",
        "--repo",
    ] {
        assert!(stderr.contains(wanted), "{wanted:?} missing: {stderr}");
    }
    assert!(!stderr.contains("cannot connect"), "{stderr}");
}

#[test]
fn migrations_format_has_a_description() {
    let out = pgtriage(&repo_root())
        .args(["migrations", "--help"])
        .output()
        .unwrap();
    let (help, _) = text(&out);
    let described = help
        .lines()
        .find(|l| l.trim_start().starts_with("--format <FORMAT>"))
        .expect("--format in the help");
    assert!(
        described.contains("`table` for people") && described.contains("`json` for programs"),
        "{described}"
    );
}

/// Every flag of every subcommand says what it is for (clap prints only the default and the
/// possible values for a flag without a doc comment).
#[test]
fn every_flag_has_a_description() {
    for sub in [
        "report",
        "collect",
        "tables",
        "timeline",
        "migrations",
        "verify",
        "audit",
        "watch",
        "recover",
    ] {
        let out = pgtriage(&repo_root()).args([sub, "-h"]).output().unwrap();
        let (help, _) = text(&out);
        for line in help.lines().filter(|l| l.starts_with("  -")) {
            let after_flag = line
                .trim_start()
                .split_once("  ")
                .map_or("", |(_, rest)| rest.trim());
            assert!(
                !after_flag.is_empty() && !after_flag.starts_with('['),
                "{sub}: undescribed flag: {line}"
            );
        }
    }
}

/// `$ pgtriage …` lines of every subcommand's `--help`.
fn examples(sub: &str) -> Vec<String> {
    let out = pgtriage(&repo_root())
        .args([sub, "--help"])
        .output()
        .unwrap();
    let (help, _) = text(&out);
    assert!(
        help.contains("\nExamples:\n"),
        "{sub} --help has no examples"
    );
    help.lines()
        .filter_map(|l| l.trim_start().strip_prefix("$ "))
        .map(str::to_string)
        .collect()
}

/// Every example in every `--help` runs exactly as printed, in a directory holding the files
/// the examples name, against a real throwaway server.
#[test]
fn every_help_has_examples_and_each_runs_as_printed() {
    let pg = PgCluster::shared();
    let db = pg.fresh_database("examples");
    // The rows incident 01's plan 1 brings back: 800 invoices, in a dump taken "before".
    pg.psql(
        &db,
        "CREATE TABLE customers (id int PRIMARY KEY);
         INSERT INTO customers SELECT generate_series(1, 300);
         CREATE TABLE invoices (id int PRIMARY KEY, customer_id int REFERENCES customers);
         INSERT INTO invoices SELECT g, 1 + g % 300 FROM generate_series(1, 800) g;",
    );
    pg.flush_stats(&db);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let src = incident("01-truncate");
    for f in ["evidence.json", "baseline.json", "postgresql.log"] {
        std::fs::copy(src.join(f), w.join(f)).unwrap();
    }
    let dump = std::process::Command::new(support::client_tool(&pg.bindir, "pg_dump"))
        .args(["-Fc", "-f"])
        .arg(w.join("before.dump"))
        .arg(pg.url(&db))
        .output()
        .unwrap();
    assert!(dump.status.success(), "{:?}", text(&dump));
    let app = w.join("app");
    std::fs::create_dir_all(app.join("migrations/versions")).unwrap();
    support::git(&app, &["init", "-q"]);
    std::fs::write(
        app.join("migrations/versions/001_init.py"),
        "revision = \"001\"\ndown_revision = None\n\ndef upgrade():\n    op.drop_table(\"legacy\")\n",
    )
    .unwrap();
    support::git(&app, &["add", "-A"]);
    support::git(
        &app,
        &[
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "commit",
            "-qm",
            "init",
        ],
    );
    let bin_dir = assert_cmd::cargo::cargo_bin("pgtriage")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for sub in [
        "report",
        "collect",
        "tables",
        "timeline",
        "migrations",
        "verify",
        "audit",
        "watch",
        "recover",
    ] {
        let lines = examples(sub);
        assert!(!lines.is_empty(), "{sub}: no `$ pgtriage` example");
        for line in lines {
            assert!(line.starts_with(&format!("pgtriage {sub}")), "{line}");
            let out = std::process::Command::new("sh")
                .args(["-c", &line])
                .current_dir(w)
                .env("PATH", &path)
                .env("DATABASE_URL", pg.url(&db))
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            let code = out.status.code().unwrap_or(-1);
            // verify, audit, watch --once and recover document exit 1 for "something is wrong
            // with the data"; 2 (bad input) is never right for an example.
            let ok: &[i32] = match sub {
                "verify" | "audit" | "watch" | "recover" => &[0, 1],
                _ => &[0],
            };
            assert!(
                ok.contains(&code),
                "example `{line}` exited {code}: {:?}",
                text(&out)
            );
            ran += 1;
        }
    }
    for written in [
        "report.md",
        "report.json",
        "live-report.md",
        "evidence-now.json",
    ] {
        assert!(w.join(written).is_file(), "{written} not written");
    }
    assert!(
        w.join("recovered/restore.sql").is_file(),
        "recover wrote no restore.sql"
    );
    assert!(ran >= 15, "{ran} examples");
}

#[test]
fn color_follows_the_flag_no_color_and_the_terminal() {
    let root = repo_root();
    let ev = incident("01-truncate").join("evidence.json");
    let run = |args: &[&str]| {
        let out = pgtriage(&root)
            .arg("tables")
            .arg(&ev)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        text(&out).0
    };
    assert!(!run(&[]).contains('\u{1b}'), "a pipe gets no escape codes");
    assert!(run(&["--color", "always"]).contains("\u{1b}["));
    assert!(!run(&["--color", "never"]).contains('\u{1b}'));
    let cmd = format!("pgtriage tables '{}'", ev.display());
    assert!(
        on_a_terminal(&root, &cmd, None).contains("\u{1b}["),
        "a terminal is coloured"
    );
    assert!(
        !on_a_terminal(&root, &cmd, Some("1")).contains("\u{1b}["),
        "NO_COLOR turns colour off"
    );
    assert!(
        !on_a_terminal(&root, &format!("{cmd} --color never"), None).contains("\u{1b}["),
        "--color never on a terminal"
    );
    let bad = pgtriage(&root)
        .args(["tables", "--color", "sometimes"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_terminal_summary_ends_with_the_top_recovery_step() {
    let root = repo_root();
    let ev = incident("01-truncate").join("evidence.json");
    let screen = on_a_terminal(
        &root,
        &format!("pgtriage report '{}' --color never", ev.display()),
        None,
    );
    let lines: Vec<&str> = screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let at = lines
        .iter()
        .rposition(|l| l.starts_with("Top recovery step: "))
        .unwrap_or_else(|| panic!("no recovery step: {screen}"));
    assert!(lines.len() - at <= 4, "it is the end: {screen}");
    assert!(
        lines[at].contains("(plan 1 for `TRUNCATE invoices`"),
        "{}",
        lines[at]
    );
    assert!(
        lines[at + 1..]
            .iter()
            .any(|l| l.contains("pgtriage recover")),
        "the step's command follows: {screen}"
    );
    // A non-incident says no recovery is needed.
    let ev = incident("09-stats-reset").join("evidence.json");
    let screen = on_a_terminal(
        &root,
        &format!("pgtriage report '{}' --color never", ev.display()),
        None,
    );
    assert!(screen.contains("Top recovery step: none"), "{screen}");
}

/// The default timeline is for reading: connection lines counted, not listed, rows half as wide;
/// `--all` lists them; JSON keeps every event.
#[test]
fn the_timeline_table_is_readable_and_json_stays_complete() {
    let root = repo_root();
    let log = incident("11-seed002-multi-cause").join("postgresql.log");
    let log = log.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = pgtriage(&root)
            .args(["timeline", "--log", log])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
        text(&out).0
    };
    let default = run(&[]);
    let all = run(&["--all"]);
    let json: serde_json::Value = serde_json::from_str(&run(&["--format", "json"])).unwrap();
    let events = json["events"].as_array().unwrap();
    let routine = events
        .iter()
        .filter(|e| e["kind"] == "connection" || e["kind"] == "disconnection")
        .count();
    assert!(routine > 10, "the log has connection lines: {routine}");
    let kinds = |table: &str| -> Vec<String> {
        table
            .lines()
            .filter_map(|l| l.split('|').nth(2))
            .map(|k| k.trim().to_string())
            .collect()
    };
    let listed = kinds(&default);
    assert!(
        !listed
            .iter()
            .any(|k| k == "connection" || k == "disconnection"),
        "{default}"
    );
    assert!(
        default.contains(&format!(
            "{} events listed; {routine} connection/disconnection lines counted, not listed (--all lists them)",
            events.len() - routine
        )),
        "{default}"
    );
    assert!(kinds(&all).iter().any(|k| k == "connection"), "{all}");
    assert!(all.contains(&format!("{} events listed", events.len())));
    let asked = run(&["--kind", "connection"]);
    assert!(
        kinds(&asked).iter().filter(|k| *k == "connection").count() > 5,
        "--kind connection lists them: {asked}"
    );
    let widest = default.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 250, "{widest} characters wide (485 before)");
    // A failed statement is shown with its error, not only the error.
    let error = default
        .lines()
        .find(|l| l.contains("postgresql.log:67 "))
        .expect("the failed DELETE");
    assert!(
        error.contains("42601 syntax error")
            && error.contains("— DELETE FROM migration.collection_flows"),
        "{error}"
    );
    // The line column names the file (the footer gives the path) and the line.
    assert!(default.contains("| postgresql.log:63 "), "{default}");
    assert!(default.contains(&format!("read {log} (")), "{default}");
}

#[test]
fn counts_agree_with_their_number() {
    let bad =
        regex::Regex::new(r"(^|[^0-9.])1 (rows|tables|events|lines|bytes|statements)\b").unwrap();
    for name in ["01-truncate", "11-seed002-multi-cause", "13-dump-restore"] {
        let dir = incident(name);
        for args in [
            vec!["timeline", "--log", "postgresql.log", "--all"],
            vec!["tables", "evidence.json"],
        ] {
            let out = pgtriage(&dir).args(&args).output().unwrap();
            let (stdout, _) = text(&out);
            assert!(out.status.success());
            assert!(!bad.is_match(&stdout), "{name} {args:?}: {stdout}");
        }
    }
    // A log of one line: one event, one line, in the singular.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("one.log"),
        "2026-11-23 12:00:00.000 UTC [42] app@shop LOG:  statement: TRUNCATE invoices\n",
    )
    .unwrap();
    let out = pgtriage(dir.path())
        .args([
            "timeline",
            "--log",
            "one.log",
            "--log-line-prefix",
            "%m [%p] %q%u@%d ",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("1 event listed"), "{stdout}");
    assert!(stdout.contains(", 1 line, "), "{stdout}");
    assert!(!bad.is_match(&stdout), "{stdout}");
}
