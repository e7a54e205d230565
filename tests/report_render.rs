//! Every bundled incident's Markdown report read by real renderers: a GitHub-flavoured Markdown
//! parser (comrak, with GFM's tables, task lists, strikethrough and autolinks) must find every
//! table with all its rows, lists that do not break in two, fences that all close, no HTML but
//! the `<details>` block; and every Mermaid block must be drawn by the real Mermaid
//! (`@mermaid-js/mermaid-cli` on Debian's chromium, installed by scripts/test.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::prelude::*;
use comrak::nodes::{AstNode, NodeValue};
use comrak::{Arena, Options, parse_document};

fn incidents() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/incidents"))
            .expect("sample-logs/incidents")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("evidence.json").is_file())
            .collect();
    dirs.sort();
    dirs
}

fn markdown(evidence: &Path) -> String {
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .args([
            "report",
            evidence.to_str().unwrap_or_default(),
            "--format",
            "md",
        ])
        .output()
        .expect("run pgtriage report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn gfm() -> Options<'static> {
    let mut o = Options::default();
    o.extension.table = true;
    o.extension.tasklist = true;
    o.extension.strikethrough = true;
    o.extension.autolink = true;
    o
}

fn walk<'a>(node: &'a AstNode<'a>, out: &mut Vec<&'a AstNode<'a>>) {
    out.push(node);
    for c in node.children() {
        walk(c, out);
    }
}

/// Source table blocks: runs of lines starting with `|` outside code fences, as (header cells,
/// row count without the separator).
fn source_tables(md: &str) -> Vec<usize> {
    let mut tables = Vec::new();
    let mut in_fence = false;
    let mut rows = 0;
    for line in md.lines().chain(std::iter::once("")) {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if !in_fence && line.starts_with('|') {
            rows += 1;
        } else if rows > 0 {
            tables.push(rows - 1);
            rows = 0;
        }
    }
    tables
}

/// The problems a GFM renderer finds in one report; empty when it reads as written.
fn gfm_problems(md: &str) -> Vec<String> {
    let arena = Arena::new();
    let root = parse_document(&arena, md, &gfm());
    let mut nodes = Vec::new();
    walk(root, &mut nodes);
    let mut problems = Vec::new();
    // Tables: as many as written, each with every row it was written with.
    let parsed: Vec<usize> = nodes
        .iter()
        .filter(|n| matches!(n.data.borrow().value, NodeValue::Table(_)))
        .map(|t| t.children().count())
        .collect();
    let written = source_tables(md);
    if parsed != written {
        problems.push(format!(
            "tables: written with {written:?} rows (header included), parsed {parsed:?}"
        ));
    }
    for n in &nodes {
        match &n.data.borrow().value {
            // A list broken in two restarts at a number other than 1.
            NodeValue::List(l) if l.start > 1 => {
                problems.push(format!("an ordered list restarts at {}", l.start))
            }
            NodeValue::HtmlBlock(h)
                if !["<details>", "</details>", "<summary>"]
                    .iter()
                    .any(|ok| h.literal.trim_start().starts_with(ok)) =>
            {
                problems.push(format!("HTML block: {}", h.literal.trim()))
            }
            NodeValue::HtmlInline(h) => problems.push(format!("inline HTML: {h}")),
            NodeValue::CodeBlock(c) if c.fenced && !c.closed => {
                problems.push(format!("an unclosed fence ({})", c.info))
            }
            NodeValue::CodeBlock(c)
                if c.fenced && !["sql", "sh", "mermaid"].contains(&c.info.as_str()) =>
            {
                problems.push(format!("a fence of unknown language {:?}", c.info))
            }
            // A fence names what its command is: a shell line pasted into psql, or SQL pasted
            // into a shell, fails at its first word.
            NodeValue::CodeBlock(c)
                if c.fenced
                    && ["sql", "sh"].contains(&c.info.as_str())
                    && command_language(&c.literal) != c.info =>
            {
                problems.push(format!(
                    "a {} command in a ```{} fence: {}",
                    command_language(&c.literal),
                    c.info,
                    c.literal.lines().next().unwrap_or_default()
                ))
            }
            NodeValue::Heading(h) if h.level == 1 && !std::ptr::eq(*n, first_heading(&nodes)) => {
                problems.push("a second level-1 heading".into())
            }
            _ => {}
        }
    }
    // Every `- [ ]` action item is a task item.
    let tasks = nodes
        .iter()
        .filter(|n| matches!(n.data.borrow().value, NodeValue::TaskItem(_)))
        .count();
    let written_tasks = md.lines().filter(|l| l.starts_with("- [ ] ")).count();
    if tasks != written_tasks {
        problems.push(format!(
            "{written_tasks} action items written, {tasks} task items parsed"
        ));
    }
    problems
}

/// What a fenced command is, read from the command itself: SQL begins each statement with an
/// upper-case keyword (`SELECT`, `ALTER`, `CREATE`…) or is a psql meta-command (`\gexec`);
/// anything else — a program name (`psql`, `pgtriage`), a variable, a heredoc's `<<` — is a
/// shell line. Lines inside a statement (`  WHERE …`) and `--` comments are not starts.
fn command_language(body: &str) -> &'static str {
    let mut at_start = true;
    for line in body.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("--") {
            continue;
        }
        if at_start {
            let word: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
                .collect();
            let keyword =
                !word.is_empty() && word.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            if !(keyword || line.starts_with('\\')) || line.contains("<<") {
                return "sh";
            }
        }
        at_start = line.ends_with(';') || line.starts_with('\\');
    }
    "sql"
}

fn first_heading<'a>(nodes: &[&'a AstNode<'a>]) -> &'a AstNode<'a> {
    nodes
        .iter()
        .copied()
        .find(|n| matches!(n.data.borrow().value, NodeValue::Heading(_)))
        .unwrap_or(nodes[0])
}

#[test]
fn every_incident_report_parses_as_written_with_a_gfm_renderer() {
    for dir in incidents() {
        let md = markdown(&dir.join("evidence.json"));
        let problems = gfm_problems(&md);
        assert!(problems.is_empty(), "{}: {problems:#?}", dir.display());
    }
}

#[test]
fn the_gfm_check_finds_a_broken_table_and_a_broken_list() {
    // The check itself can fail: a row split by a line break, a list cut by an unindented fence.
    let broken_table = "| a | b |\n|---|---|\n| x\ny | z |\n";
    assert!(!gfm_problems(broken_table).is_empty());
    let broken_list = "1. one\n\n```sql\nSELECT 1;\n```\n\n2. two\n";
    assert!(!gfm_problems(broken_list).is_empty());
    assert!(gfm_problems("1. one\n\n   ```sql\n   SELECT 1;\n   ```\n\n2. two\n").is_empty());
    // A shell heredoc in a SQL fence, SQL in a shell fence (incident 11's pg_dirtyread action
    // was printed in a ```sql fence).
    let heredoc = "```sql\npsql 'postgresql:///db' -X <<'SQL'\nSELECT 1;\n\\gexec\nSQL\n```\n";
    assert!(!gfm_problems(heredoc).is_empty());
    assert!(gfm_problems(&heredoc.replacen("sql", "sh", 1)).is_empty());
    assert!(
        !gfm_problems("```sh\nALTER TABLE t SET (autovacuum_enabled = false);\n```\n").is_empty()
    );
    let cron = "```sql\nSELECT 1;\nSELECT jobid FROM cron.job\n WHERE strpos(command, 'x') > 0;\n\\gexec\n```\n";
    assert!(gfm_problems(cron).is_empty(), "{:?}", gfm_problems(cron));
}

/// The mermaid-cli binary: `PGTRIAGE_MMDC`, scripts/test.sh's cached install, or `mmdc` on PATH.
fn mmdc() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGTRIAGE_MMDC") {
        return Some(PathBuf::from(p));
    }
    let cached = Path::new("/var/cache/pgtriage/mermaid/node_modules/.bin/mmdc");
    if cached.is_file() {
        return Some(cached.to_path_buf());
    }
    let found = Command::new("sh")
        .args(["-c", "command -v mmdc"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(PathBuf::from(String::from_utf8_lossy(&found.stdout).trim()))
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Draws one Mermaid diagram; Err with mermaid's message when it cannot.
fn draw(mmdc: &Path, config: &Path, diagram: &str, out: &Path) -> Result<(), String> {
    let input = out.with_extension("mmd");
    std::fs::write(&input, diagram).map_err(|e| e.to_string())?;
    let o = Command::new(mmdc)
        .arg("-p")
        .arg(config)
        .arg("-i")
        .arg(&input)
        .arg("-o")
        .arg(out)
        .args(["-w", "1400", "-q"])
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    match std::fs::metadata(out) {
        Ok(m) if m.len() > 1000 => Ok(()),
        _ => Err(format!("{} was not drawn", out.display())),
    }
}

fn mermaid_blocks(md: &str) -> Vec<String> {
    let arena = Arena::new();
    let root = parse_document(&arena, md, &gfm());
    let mut nodes = Vec::new();
    walk(root, &mut nodes);
    nodes
        .iter()
        .filter_map(|n| match &n.data.borrow().value {
            NodeValue::CodeBlock(c) if c.info == "mermaid" => Some(c.literal.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_mermaid_block_is_drawn_by_the_real_mermaid() {
    let (Some(mmdc), Some(chromium)) = (mmdc(), chromium()) else {
        // scripts/test.sh installs both and sets PGTRIAGE_REQUIRE_MERMAID: there it must run.
        assert!(
            std::env::var_os("PGTRIAGE_REQUIRE_MERMAID").is_none(),
            "mermaid-cli or chromium is missing (scripts/test.sh installs them)"
        );
        eprintln!("skipped: mermaid-cli or chromium not installed (scripts/test.sh installs them)");
        return;
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mermaid");
    std::fs::create_dir_all(&dir).expect("mkdir");
    // Headless chromium for puppeteer: no sandbox (root), nothing fetched or synced.
    let config = dir.join("puppeteer.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "executablePath": chromium,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"],
        })
        .to_string(),
    )
    .expect("puppeteer config");
    // The check can fail: Mermaid refuses a task line with a raw colon in its name.
    let bad = "gantt\n    dateFormat YYYY-MM-DDTHH:mm:ss.SSS\n    section x\n    a: b : :milestone, m1, 2026-11-23T16:07:00.329, 0ms\n    c :milestone, 2026-13-45, oops\n";
    assert!(
        draw(&mmdc, &config, bad, &dir.join("bad.svg")).is_err(),
        "a broken gantt was drawn"
    );
    let mut drawn = 0;
    for incident in incidents() {
        let md = markdown(&incident.join("evidence.json"));
        let name = incident
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (i, block) in mermaid_blocks(&md).iter().enumerate() {
            // PNG for incident 11 (looked at by eye, see the README), SVG for the rest.
            let ext = if name.starts_with("11-") {
                "png"
            } else {
                "svg"
            };
            let out = dir.join(format!("{name}-{i}.{ext}"));
            if let Err(e) = draw(&mmdc, &config, block, &out) {
                panic!("{name}: Mermaid cannot draw block {i}: {e}\n{block}");
            }
            drawn += 1;
        }
    }
    assert!(drawn >= 10, "only {drawn} diagrams drawn");
}
