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

/// The complete records at the start of `b` (through the newline after the last one), by
/// quote parity.
fn complete_records(b: &[u8]) -> &[u8] {
    let mut in_quotes = false;
    let mut end = 0;
    for i in memchr::memchr2_iter(b'"', b'\n', b) {
        if b.get(i) == Some(&b'"') {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            end = i + 1;
        }
    }
    b.get(..end).unwrap_or_default()
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
        let records = if last { block } else { complete_records(block) };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(records);
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
        records.len()
    }

    fn starts_entry(&self, _line: &[u8]) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(u64, String, Option<String>, Option<String>)>);
    impl EntrySink for Collect {
        fn entry(&mut self, e: Entry<'_>) {
            self.0.push((
                e.line,
                e.message.into_owned(),
                e.application.map(|a| a.into_owned()),
                e.host.map(|h| h.into_owned()),
            ));
        }
        fn problem(&mut self, _: ProblemKind, _: u64) {}
    }

    #[test]
    fn pg12_pg13_pg14_columns_and_quoted_newlines() {
        let pg12 = "2026-11-23 12:09:26.463 UTC,\"app\",\"shop\",42,\"10.0.0.1:5432\",655f3a1b.2a,1,\"idle\",2026-11-23 12:09:26 UTC,3/2,0,LOG,00000,\"statement: SELECT 1\",,,,,,,,,\"psql\"\n";
        let pg13 = "2026-11-23 12:09:27.463 UTC,\"app\",\"shop\",42,\"[local]\",655f3a1b.2a,2,\"idle\",2026-11-23 12:09:26 UTC,3/2,0,LOG,00000,\"statement: SELECT 'a\nb'\",,,,,,,,,\"psql\",\"client backend\"\n";
        let pg14 = "2026-11-23 12:09:28.463 UTC,\"app\",\"shop\",42,\"[local]\",655f3a1b.2a,3,\"idle\",2026-11-23 12:09:26 UTC,3/2,0,LOG,00000,\"statement: SELECT \"\"x\"\"\",,,,,,,,,\"psql\",\"client backend\",,0\n";
        let text = format!("{pg12}{pg13}{pg14}");
        let mut p = CsvParser::new(LogZone::default());
        let mut c = Collect::default();
        // Not the last block: the final record waits only if it is cut.
        let used = p.parse(&text.as_bytes()[..text.len() - 5], 1, false, &mut c);
        assert_eq!(c.0.len(), 2);
        p.parse(&text.as_bytes()[used..], 4, true, &mut c);
        assert_eq!(c.0.len(), 3);
        assert_eq!(
            c.0[0],
            (
                1,
                "statement: SELECT 1".into(),
                Some("psql".into()),
                Some("10.0.0.1".into())
            )
        );
        assert_eq!(c.0[1].1, "statement: SELECT 'a\nb'");
        assert_eq!(c.0[2].0, 4);
        assert_eq!(c.0[2].1, "statement: SELECT \"x\"");
    }
}
