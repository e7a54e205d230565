//! jsonlog (PostgreSQL 15+): one JSON object per line, read with a real JSON parser. Keys are
//! omitted when empty (`user`, `dbname`, `state_code`, …), so every one is optional.

use std::borrow::Cow;

use serde::Deserialize;

use crate::logs::entry::{Entry, EntrySink, ProblemKind, severity_name, trim_cr};
use crate::logs::format::FormatParser;
use crate::logs::time::{LogZone, TimestampCache};

pub struct JsonParser {
    zone: LogZone,
    times: TimestampCache,
}

impl JsonParser {
    pub fn new(zone: LogZone) -> JsonParser {
        JsonParser {
            zone,
            times: TimestampCache::default(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Record<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow)]
    dbname: Option<Cow<'a, str>>,
    pid: Option<i64>,
    #[serde(borrow)]
    remote_host: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    error_severity: Option<Cow<'a, str>>,
    #[serde(borrow)]
    state_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    detail: Option<Cow<'a, str>>,
    #[serde(borrow)]
    hint: Option<Cow<'a, str>>,
    #[serde(borrow)]
    internal_query: Option<Cow<'a, str>>,
    #[serde(borrow)]
    context: Option<Cow<'a, str>>,
    #[serde(borrow)]
    statement: Option<Cow<'a, str>>,
    #[serde(borrow)]
    application_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    backend_type: Option<Cow<'a, str>>,
}

fn nonempty(v: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    v.filter(|s| !s.is_empty())
}

impl FormatParser for JsonParser {
    fn parse(
        &mut self,
        block: &[u8],
        first_line: u64,
        _last: bool,
        sink: &mut dyn EntrySink,
    ) -> usize {
        for (i, raw) in block.split(|c| *c == b'\n').enumerate() {
            let line = trim_cr(raw);
            let n = first_line + i as u64;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let rec: Record<'_> = match serde_json::from_slice(line) {
                Ok(r) => r,
                Err(_) => {
                    let kind = if std::str::from_utf8(line).is_err() {
                        ProblemKind::NotUtf8
                    } else {
                        ProblemKind::BadRecord
                    };
                    sink.problem(kind, n);
                    continue;
                }
            };
            let at = rec
                .timestamp
                .as_deref()
                .and_then(|t| self.times.parse(t.as_bytes(), self.zone));
            if at.is_none() {
                sink.problem(ProblemKind::BadTimestamp, n);
            }
            sink.entry(Entry {
                line: n,
                at,
                pid: rec.pid.and_then(|p| i32::try_from(p).ok()),
                session_id: nonempty(rec.session_id),
                user: nonempty(rec.user),
                database: nonempty(rec.dbname),
                application: nonempty(rec.application_name),
                host: nonempty(rec.remote_host),
                backend_type: nonempty(rec.backend_type),
                severity: severity_name(rec.error_severity.as_deref().unwrap_or("").as_bytes()),
                sqlstate: nonempty(rec.state_code).filter(|s| s != "00000"),
                message: rec.message.unwrap_or_default(),
                detail: nonempty(rec.detail),
                hint: nonempty(rec.hint),
                query: nonempty(rec.internal_query),
                context: nonempty(rec.context),
                statement: nonempty(rec.statement),
                raw: false,
            });
        }
        block.len()
    }

    fn starts_entry(&self, line: &[u8]) -> bool {
        line.first() == Some(&b'{')
    }
}
