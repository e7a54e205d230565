//! Hostile names through every renderer: a table may be called anything PostgreSQL accepts
//! (line breaks, code fences, pipes, HTML, backticks). In Markdown such a name never starts a
//! line of its own outside a code block (no heading, list, table row or fence of its own, no SQL
//! block written by the name), fences stay balanced, and a GFM renderer (comrak) finds no HTML,
//! link or image the name wrote — in prose, tables and fences alike; JSON carries it exactly;
//! the terminal summary does not fail.

use std::path::Path;

use pgtriage::evidence::Evidence;
use pgtriage::report::model::{self, Window};
use proptest::prelude::*;

/// What a GFM renderer makes of the names: HTML (other than the report's own `<details>`
/// block), links and images — none of which a table name may write.
fn injected(md: &str) -> Vec<String> {
    use comrak::nodes::{AstNode, NodeValue};
    fn walk<'a>(n: &'a AstNode<'a>, out: &mut Vec<String>) {
        match &n.data.borrow().value {
            NodeValue::HtmlInline(h) => out.push(format!("inline HTML {h}")),
            NodeValue::HtmlBlock(h)
                if !["<details>", "</details>", "<summary>"]
                    .iter()
                    .any(|ok| h.literal.trim_start().starts_with(ok)) =>
            {
                out.push(format!("HTML block {}", h.literal.trim()))
            }
            NodeValue::Link(l) => out.push(format!("link {}", l.url)),
            NodeValue::Image(l) => out.push(format!("image {}", l.url)),
            _ => {}
        }
        for c in n.children() {
            walk(c, out);
        }
    }
    let arena = comrak::Arena::new();
    let mut options = comrak::Options::default();
    options.extension.table = true;
    options.extension.tasklist = true;
    let root = comrak::parse_document(&arena, md, &options);
    let mut out = Vec::new();
    walk(root, &mut out);
    out
}

fn sample() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sample-logs/incidents/01-truncate/evidence.json"),
    )
    .expect("sample evidence")
}

/// Lines outside code blocks, and the number of fences opened (CommonMark: a fence closes only
/// with at least as many backticks).
fn prose_lines(md: &str) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    let mut fences = 0;
    for line in md.lines() {
        let t = line.trim_start();
        let ticks = t.chars().take_while(|c| *c == '`').count();
        match open {
            None if ticks >= 3 => {
                open = Some(ticks);
                fences += 1;
            }
            Some(n) if ticks >= n && t[ticks..].trim().is_empty() => open = None,
            Some(_) => {}
            None => out.push(line.to_string()),
        }
    }
    assert!(open.is_none(), "a fence is left open");
    (out, fences)
}

fn render(name: &str) -> (String, String, String) {
    let base = sample();
    let escaped = serde_json::to_string(name).expect("json");
    let escaped = &escaped[1..escaped.len() - 1];
    let text = base.replace("invoices", escaped);
    let ev = Evidence::from_json(&text, Path::new("hostile.json")).expect("evidence loads");
    let report = model::build(&ev, Window::default());
    let md = pgtriage::report::markdown::render(&report, None).expect("markdown");
    let json = report.to_json();
    let term = pgtriage::report::summary_view::render(&report);
    (md, json, term)
}

/// Whether some string in the document holds `needle` exactly.
fn has_string(v: &serde_json::Value, needle: &str) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains(needle),
        serde_json::Value::Array(a) => a.iter().any(|x| has_string(x, needle)),
        serde_json::Value::Object(m) => m.values().any(|x| has_string(x, needle)),
        _ => false,
    }
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("```".to_string()),
        Just("~~~".to_string()),
        Just("`".to_string()),
        Just("|".to_string()),
        Just("# ".to_string()),
        Just("- ".to_string()),
        Just("<img src=x>".to_string()),
        Just("[a](http://x)".to_string()),
        Just("DROP TABLE important; --".to_string()),
        "[a-z]{1,6}",
    ]
}

#[test]
fn the_fence_breaking_name_from_the_issue() {
    let (md, json, _) = render("x\n```\nDROP TABLE important; --\n```\n");
    let (prose, fences) = prose_lines(&md);
    let (_, plain_fences) = prose_lines(&render("invoices").0);
    assert_eq!(fences, plain_fences, "the name opened fences of its own");
    for l in &prose {
        assert!(
            !l.trim_start().starts_with("DROP TABLE important"),
            "{l:?}\n{md}"
        );
    }
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert!(has_string(&v, "x\n```\nDROP TABLE important; --\n```\n"));
    assert_eq!(injected(&md), Vec::<String>::new());
}

#[test]
fn html_and_links_in_a_name_are_text_in_prose_tables_and_the_impact() {
    let name = "t<img src=x onerror=alert(1)>[a](http://x)![i](http://y)";
    let (md, _, _) = render(name);
    assert_eq!(injected(&md), Vec::<String>::new(), "{md}");
    // The name is still there, escaped: the Impact table and the prose show it.
    assert!(
        md.contains("&lt;img src=x onerror=alert(1)>\\[a\\](http://x)"),
        "{md}"
    );
    assert!(
        md.contains("`public.t<img src=x onerror=alert(1)>[a](http://x)![i](http://y)`"),
        "{md}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_name_stays_in_its_place(parts in proptest::collection::vec(fragment(), 1..6)) {
        let name = format!("t{}", parts.concat());
        let (md, json, _term) = render(&name);
        let (prose, fences) = prose_lines(&md);
        let (_, plain_fences) = prose_lines(&render("invoices").0);
        prop_assert_eq!(fences, plain_fences, "fences changed for {:?}", name);
        // No part of the name that followed a line break starts a line outside code.
        for piece in name.split(['\n', '\r']).skip(1).filter(|p| p.trim().len() > 2) {
            for l in &prose {
                prop_assert!(
                    !l.trim_start().starts_with(piece.trim()),
                    "{:?} starts a line: {:?}", piece, l
                );
            }
        }
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        prop_assert!(has_string(&v, &name), "JSON lost the exact name {:?}", name);
        let found = injected(&md);
        prop_assert!(found.is_empty(), "{:?} wrote {:?}", name, found);
    }
}
