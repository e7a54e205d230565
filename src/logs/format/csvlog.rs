//! csvlog: one CSV record per entry (quoted fields may hold newlines). PostgreSQL 12 writes 23
//! columns, 13 writes 24 (`backend_type`), 14+ write 26 (`leader_pid`, `query_id`).

use std::borrow::Cow;

use crate::logs::entry::{Entry, EntrySink, ProblemKind, severity_name};
use crate::logs::format::FormatParser;
use crate::logs::time::{LogZone, TimestampCache};

pub struct CsvParser {
    zone: LogZone,
    times: TimestampCache,
}

impl CsvParser {
    pub fn new(zone: LogZone) -> CsvParser {
        CsvParser {
            zone,
            times: TimestampCache::default(),
        }
    }
}

/// Where the last complete record of `b` ends (after its newline), by quote parity.
fn last_record_end(b: &[u8]) -> usize {
    let mut in_quotes = false;
    let mut end = 0;
    for i in memchr::memchr2_iter(b'"', b'\n', b) {
        if b[i] == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            end = i + 1;
        }
    }
    end
}

fn owned(rec: &csv::ByteRecord, i: usize) -> Option<Cow<'static, str>> {
    let v = rec.get(i)?;
    if v.is_empty() {
        return None;
    }
    Some(Cow::Owned(String::from_utf8_lossy(v).into_owned()))
}

impl FormatParser for CsvParser {
    fn parse(
        &mut self,
        block: &[u8],
        first_line: u64,
        last: bool,
        sink: &mut dyn EntrySink,
    ) -> usize {
        let upto = if last {
            block.len()
        } else {
            last_record_end(block)
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&block[..upto]);
        let mut rec = csv::ByteRecord::new();
        loop {
            let line = first_line + reader.position().line().saturating_sub(1);
            match reader.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {}
                Err(_) => {
                    sink.problem(ProblemKind::BadRecord, line);
                    continue;
                }
            }
            if rec.len() == 1 && rec.get(0).is_some_and(|f| f.is_empty()) {
                continue;
            }
            if rec.len() < 14 {
                sink.problem(ProblemKind::BadRecord, line);
                continue;
            }
            if std::str::from_utf8(rec.as_slice()).is_err() {
                sink.problem(ProblemKind::NotUtf8, line);
            }
            let at = rec.get(0).and_then(|t| self.times.parse(t, self.zone));
            if at.is_none() {
                sink.problem(ProblemKind::BadTimestamp, line);
            }
            let host = owned(&rec, 4).map(|h| match h.rsplit_once(':') {
                Some((host, port)) if port.bytes().all(|c| c.is_ascii_digit()) => {
                    Cow::Owned(host.to_string())
                }
                _ => h,
            });
            sink.entry(Entry {
                line,
                at,
                pid: rec
                    .get(3)
                    .and_then(|p| std::str::from_utf8(p).ok()?.parse().ok()),
                session_id: owned(&rec, 5),
                user: owned(&rec, 1),
                database: owned(&rec, 2),
                application: owned(&rec, 22),
                host,
                backend_type: owned(&rec, 23),
                severity: severity_name(rec.get(11).unwrap_or(b"")),
                sqlstate: owned(&rec, 12).filter(|s| s != "00000"),
                message: owned(&rec, 13).unwrap_or_default(),
                detail: owned(&rec, 14),
                hint: owned(&rec, 15),
                query: owned(&rec, 16),
                context: owned(&rec, 18),
                statement: owned(&rec, 19),
                raw: false,
            });
        }
        upto
    }

    fn starts_entry(&self, _line: &[u8]) -> bool {
        false
    }
}
