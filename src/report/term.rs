//! Terminal tables shared by every command: UTF-8 borders and colour only on a terminal, plain
//! ASCII and no escape codes when piped.

use comfy_table::{ContentArrangement, Table, presets};

/// A table set up for where stdout goes: styled and wrapped to the terminal on a TTY, plain and
/// unwrapped in a pipe.
pub fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        table.load_style(presets::UTF8_FULL_CONDENSED);
        table.set_content_arrangement(ContentArrangement::Dynamic);
        // A pty that reports 0 (or very few) columns would squash every column to one letter.
        if table.width().is_none_or(|w| w < 40) {
            table.set_width(120);
        }
    } else {
        table.force_no_tty();
        table.load_style(presets::ASCII_MARKDOWN);
        table.set_content_arrangement(ContentArrangement::Disabled);
    }
    table.set_header(header.iter().copied());
    table
}
