//! Formats that wrap stderr-style lines (syslog, Cloud SQL) are rewritten into stderr lines and
//! read by the stderr parser; this keeps the map back to the original lines and offsets.

use crate::logs::entry::{Entry, EntrySink, ProblemKind};
use crate::logs::format::FormatParser;

/// Rewritten text: one entry per `\n`-ended line, each remembering where it came from.
#[derive(Debug, Default)]
pub struct Rewritten {
    pub text: Vec<u8>,
    /// Per rewritten line: (offset of the original line in the block, original line number).
    pub origin: Vec<(usize, u64)>,
}

impl Rewritten {
    pub fn start_line(&mut self, offset: usize, line: u64) {
        self.origin.push((offset, line));
    }

    /// Parses the rewritten text with `inner`, reporting original line numbers; returns how much
    /// of the original block was used.
    pub fn parse_with(
        &self,
        inner: &mut dyn FormatParser,
        block_len: usize,
        last: bool,
        sink: &mut dyn EntrySink,
    ) -> usize {
        struct Remap<'a> {
            origin: &'a [(usize, u64)],
            sink: &'a mut dyn EntrySink,
        }
        impl Remap<'_> {
            fn line(&self, l: u64) -> u64 {
                let i = (l.saturating_sub(1)) as usize;
                self.origin.get(i).map_or(l, |o| o.1)
            }
        }
        impl EntrySink for Remap<'_> {
            fn entry(&mut self, mut e: Entry<'_>) {
                e.line = self.line(e.line);
                self.sink.entry(e);
            }
            fn problem(&mut self, kind: ProblemKind, line: u64) {
                let l = self.line(line);
                self.sink.problem(kind, l);
            }
        }
        let mut remap = Remap {
            origin: &self.origin,
            sink,
        };
        let used = inner.parse(&self.text, 1, last, &mut remap);
        match self.text.get(..used) {
            // The inner parser left lines for the next call: so does the block, from the
            // original line the first of them came from.
            Some(done) if used < self.text.len() => {
                let lines_used = memchr::memchr_iter(b'\n', done).count();
                self.origin.get(lines_used).map_or(block_len, |o| o.0)
            }
            _ => block_len,
        }
    }
}
