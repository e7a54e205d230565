//! What the migration scanners share: a destructive operation found in a text, and the
//! byte-offset → line index. Its own module so the SQL parser (`sql.rs`) and the keyword
//! scanner (`keywords.rs`) both depend on it and not on each other.

/// One destructive operation found in a text. Line numbers are 1-based in the text given.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FoundOperation {
    pub line: u32,
    /// See `evidence::DestructiveOperation::kind`.
    pub kind: &'static str,
    pub cascade: bool,
    pub objects: Vec<String>,
    /// The statement, whitespace collapsed, at most 240 characters.
    pub statement: String,
    /// False when commented out or otherwise inert; `note` says why.
    pub active: bool,
    /// `sql`, `do_block`, `function_body`, `execute_string`, `orm`, `keyword`.
    pub found_by: &'static str,
    pub note: Option<String>,
}

/// Byte offset → 1-based line.
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0u32];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i as u32 + 1));
        LineIndex { starts }
    }

    pub fn line(&self, offset: u32) -> u32 {
        self.starts.partition_point(|s| *s <= offset) as u32
    }
}

pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}
