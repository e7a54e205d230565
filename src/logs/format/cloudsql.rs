//! Google Cloud SQL / Cloud Logging exports: JSON lines (or one JSON array) whose `textPayload`
//! is a stderr line with Cloud SQL's prefix (`%m [%p]: [%l-1] db=%d,user=%u `). Payloads are
//! rewritten as stderr lines and read by the stderr parser; the prefix is inferred from them.

use serde::Deserialize;

use crate::logs::entry::{self, EntrySink, ProblemKind, trim_cr};
use crate::logs::format::stderr::StderrParser;
use crate::logs::format::synthetic::Rewritten;
use crate::logs::format::{FormatParser, LogFormat};
use crate::logs::infer;
use crate::logs::prefix::LinePrefix;
use crate::logs::time::LogZone;

pub struct CloudSqlParser {
    zone: LogZone,
    given_prefix: Option<String>,
    inner: Option<StderrParser>,
    /// A JSON array export, gathered whole (exports are small).
    array: Option<Vec<u8>>,
    array_line: u64,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "textPayload")]
    text_payload: Option<String>,
    /// The record's own time (RFC 3339), for payloads that carry none.
    timestamp: Option<String>,
}

/// The payload as a stderr line: with the record's own timestamp in front when the payload has
/// none (else the entry would have no time and land at 1970).
fn with_time(payload: String, timestamp: Option<&str>) -> String {
    if crate::logs::time::parse_civil(payload.as_bytes()).is_some() {
        return payload;
    }
    match timestamp.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
        Some(t) => format!(
            "{} {payload}",
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S%.3f UTC")
        ),
        None => payload,
    }
}

impl CloudSqlParser {
    pub fn new(zone: LogZone, given_prefix: Option<&str>) -> CloudSqlParser {
        CloudSqlParser {
            zone,
            given_prefix: given_prefix.map(str::to_string),
            inner: None,
            array: None,
            array_line: 1,
        }
    }

    fn parse_payloads(
        &mut self,
        out: Rewritten,
        block_len: usize,
        last: bool,
        sink: &mut dyn EntrySink,
    ) -> usize {
        if self.inner.is_none() {
            let prefix = infer::detect(
                &out.text,
                "textPayload",
                Some(LogFormat::Stderr),
                self.given_prefix.as_deref(),
            )
            .ok()
            .and_then(|d| d.prefix)
            .or_else(|| LinePrefix::compile("%m [%p]: [%l-1] db=%d,user=%u ").ok())
            .unwrap_or_else(LinePrefix::empty);
            self.inner = Some(StderrParser::new(prefix, self.zone, false));
        }
        match self.inner.as_mut() {
            Some(inner) => out.parse_with(inner, block_len, last, sink),
            None => block_len,
        }
    }
}

fn push_payload(out: &mut Rewritten, offset: usize, line: u64, payload: &str) {
    out.start_line(offset, line);
    let text = payload.trim_end_matches('\n');
    out.text.extend_from_slice(text.as_bytes());
    out.text.push(b'\n');
    // Embedded newlines (already `\n\t`) add lines of the same record.
    for _ in text.matches('\n') {
        out.origin.push((offset, line));
    }
}

impl FormatParser for CloudSqlParser {
    fn parse(
        &mut self,
        block: &[u8],
        first_line: u64,
        last: bool,
        sink: &mut dyn EntrySink,
    ) -> usize {
        let starts_array = block.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'[');
        if self.array.is_some() || (starts_array && first_line == 1) {
            let buf = self.array.get_or_insert_with(Vec::new);
            buf.extend_from_slice(block);
            if !last {
                return block.len();
            }
            let all = self.array.take().unwrap_or_default();
            let mut out = Rewritten::default();
            match serde_json::from_slice::<Vec<Record>>(&all) {
                Ok(records) => {
                    for r in records.into_iter().rev() {
                        if let Some(p) = r.text_payload {
                            let p = with_time(p, r.timestamp.as_deref());
                            push_payload(&mut out, 0, self.array_line, &p);
                        }
                    }
                }
                Err(_) => sink.problem(ProblemKind::BadRecord, self.array_line),
            }
            // Exports list the newest first.
            self.parse_payloads(out, all.len(), true, sink);
            return block.len();
        }
        let mut out = Rewritten::default();
        for ((pos, line, _), n) in entry::lines(block).zip(first_line..) {
            let line = trim_cr(line);
            if !line.iter().all(u8::is_ascii_whitespace) {
                match serde_json::from_slice::<Record>(line) {
                    Ok(Record {
                        text_payload: Some(p),
                        timestamp,
                    }) => push_payload(&mut out, pos, n, &with_time(p, timestamp.as_deref())),
                    Ok(_) => {}
                    Err(_) => sink.problem(ProblemKind::BadRecord, n),
                }
            }
        }
        self.parse_payloads(out, block.len(), last, sink)
    }

    fn starts_entry(&self, _line: &[u8]) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::entry::Entry;

    #[derive(Default)]
    struct Collect(Vec<(u64, String, String, Option<String>)>);
    impl EntrySink for Collect {
        fn entry(&mut self, e: Entry<'_>) {
            self.0.push((
                e.line,
                e.severity.to_string(),
                e.message.into_owned(),
                e.user.map(|u| u.into_owned()),
            ));
        }
        fn problem(&mut self, _: ProblemKind, _: u64) {}
    }

    #[test]
    fn text_payloads_with_cloud_sql_prefix() {
        let lines = [
            r#"{"insertId":"a","logName":"projects/p/logs/cloudsql.googleapis.com%2Fpostgres.log","textPayload":"2026-11-23 12:09:26.463 UTC [4242]: [3-1] db=shop,user=app LOG:  statement: DELETE FROM orders","timestamp":"2026-11-23T12:09:26.463Z"}"#,
            r#"{"insertId":"b","textPayload":"2026-11-23 12:09:26.470 UTC [4242]: [4-1] db=shop,user=app ERROR:  boom\n\tsecond line","timestamp":"2026-11-23T12:09:26.470Z"}"#,
            "not json",
        ];
        let text = lines.join("\n") + "\n";
        let mut p = CloudSqlParser::new(LogZone::default(), None);
        let mut c = Collect::default();
        p.parse(text.as_bytes(), 1, true, &mut c);
        assert_eq!(c.0.len(), 2, "{:?}", c.0);
        assert_eq!(
            c.0[0],
            (
                1,
                "LOG".into(),
                "statement: DELETE FROM orders".into(),
                Some("app".into())
            )
        );
        assert_eq!(c.0[1].2, "boom\nsecond line");
        assert_eq!(c.0[1].0, 2);
    }

    #[test]
    fn a_payload_without_a_timestamp_takes_the_records_own() {
        struct Times(Vec<Option<chrono::DateTime<chrono::Utc>>>);
        impl EntrySink for Times {
            fn entry(&mut self, e: Entry<'_>) {
                self.0.push(e.at);
            }
            fn problem(&mut self, _: ProblemKind, _: u64) {}
        }
        let lines = [
            r#"{"textPayload":"[4242]: [3-1] db=shop,user=app LOG:  statement: DELETE FROM orders","timestamp":"2026-11-23T12:09:26.463123Z"}"#,
            r#"{"textPayload":"[4243]: [1-1] db=shop,user=app LOG:  statement: DELETE FROM items","timestamp":"2026-11-23T12:09:27Z"}"#,
        ];
        let text = lines.join("\n") + "\n";
        let mut p = CloudSqlParser::new(LogZone::default(), None);
        let mut t = Times(Vec::new());
        p.parse(text.as_bytes(), 1, true, &mut t);
        let want: Vec<_> = ["2026-11-23T12:09:26.463Z", "2026-11-23T12:09:27Z"]
            .iter()
            .map(|s| {
                chrono::DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|d| d.with_timezone(&chrono::Utc))
            })
            .collect();
        assert_eq!(t.0, want);
    }
}
