//! Terminal tables shared by every command: UTF-8 borders on a terminal, plain ASCII when
//! piped; colour decided once per run by `--color auto|always|never` and `NO_COLOR`.

use std::sync::OnceLock;

use clap::ValueEnum;
use comfy_table::{Attribute, Cell, ContentArrangement, Table, presets};

/// `--color`: `auto` colours only a terminal and only when `NO_COLOR` is unset or empty
/// (<https://no-color.org>); `always` colours a pipe too (for `less -R`); `never` never does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

static COLOR: OnceLock<bool> = OnceLock::new();

/// Whether to colour, from the choice, whether stdout is a terminal, and `NO_COLOR`'s value.
/// An explicit `--color always` wins over `NO_COLOR`: the flag is the more specific request.
pub fn resolve(choice: ColorChoice, stdout_is_terminal: bool, no_color: Option<&str>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout_is_terminal && no_color.is_none_or(str::is_empty),
    }
}

/// Called once by `Cli::run` before any output.
pub fn set_color(choice: ColorChoice) {
    let no_color = std::env::var("NO_COLOR").ok();
    let _ = COLOR.set(resolve(
        choice,
        std::io::IsTerminal::is_terminal(&std::io::stdout()),
        no_color.as_deref(),
    ));
}

/// Whether output is coloured in this run (`auto` rules when `set_color` was not called).
pub fn color_on() -> bool {
    *COLOR.get_or_init(|| {
        let no_color = std::env::var("NO_COLOR").ok();
        resolve(
            ColorChoice::Auto,
            std::io::IsTerminal::is_terminal(&std::io::stdout()),
            no_color.as_deref(),
        )
    })
}

/// `text` in bold when colouring, as is otherwise.
pub fn bold(text: &str) -> String {
    if color_on() {
        format!("\u{1b}[1m{text}\u{1b}[0m")
    } else {
        text.to_string()
    }
}

/// `1 row`, `2 rows`, `0 rows`: the counts every view prints.
pub fn count(n: impl Into<i128>, singular: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {singular}")
    } else if let Some(stem) = singular.strip_suffix('y') {
        format!("{n} {stem}ies")
    } else {
        format!("{n} {singular}s")
    }
}

/// A table set up for where stdout goes: styled and wrapped to the terminal on a TTY, plain and
/// unwrapped in a pipe; coloured cells and a bold header only when `color_on()`.
pub fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        table.load_style(presets::UTF8_FULL_CONDENSED);
        table.set_content_arrangement(ContentArrangement::Dynamic);
        // A pty that reports 0 (or very few) columns would squash every column to one letter.
        let width = table.width().filter(|w| *w >= 40).unwrap_or(120);
        table.set_width(width);
        if !color_on() {
            // comfy-table colours cells whenever stdout is a terminal; NO_COLOR and
            // `--color never` must win, so it is told there is none (the width is kept).
            table.force_no_tty();
        }
    } else {
        table.force_no_tty();
        table.load_style(presets::ASCII_MARKDOWN);
        table.set_content_arrangement(ContentArrangement::Disabled);
    }
    if color_on() {
        table.enforce_styling();
        table.set_header(
            header
                .iter()
                .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
        );
    } else {
        table.set_header(header.iter().copied());
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_the_flag_the_terminal_and_no_color() {
        assert!(resolve(ColorChoice::Auto, true, None));
        assert!(
            resolve(ColorChoice::Auto, true, Some("")),
            "empty NO_COLOR is unset"
        );
        assert!(!resolve(ColorChoice::Auto, true, Some("1")));
        assert!(
            !resolve(ColorChoice::Auto, false, None),
            "a pipe is not coloured"
        );
        assert!(resolve(ColorChoice::Always, false, Some("1")));
        assert!(!resolve(ColorChoice::Never, true, None));
    }

    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(count(1u32, "row"), "1 row");
        assert_eq!(count(0u32, "row"), "0 rows");
        assert_eq!(count(2i64, "table"), "2 tables");
        assert_eq!(count(1u64, "entry"), "1 entry");
        assert_eq!(count(3u64, "entry"), "3 entries");
    }
}
