//! jsonlog (PostgreSQL 15+): one JSON object per line, read with a real JSON parser. Keys are
//! omitted when empty (`user`, `dbname`, `state_code`, …), so every one is optional.
//!
//! CloudNativePG's pod logs are JSON lines too: the server's entries are
//! `{"logger":"postgres","msg":"record","record":{…csvlog column names…}}`, read here as well;
//! the operator's own lines (`{"level":…,"msg":…}` without a record) are not server entries and
//! are passed over.
//!
//! Azure Database for PostgreSQL's diagnostic logs (category `PostgreSQLLogs`, as exported to a
//! storage account or Event Hub) are JSON lines `{"time":…,"category":"PostgreSQLLogs",
//! "properties":{"timestamp","processId","errorLevel","sqlerrcode","message","detail",…}}`,
//! read here too; records of other categories are passed over.

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
    /// CloudNativePG: the server's entry, with csvlog's column names.
    record: Option<CnpgRecord>,
    /// Azure: the server's entry, and the category it was logged under.
    properties: Option<AzureProperties>,
    category: Option<String>,
    time: Option<String>,
    /// CloudNativePG: the operator's own lines have a `msg` and no record.
    msg: Option<serde::de::IgnoredAny>,
    logger: Option<String>,
}

/// A CloudNativePG `record` (csvlog's columns; the pid is a string there).
#[derive(Deserialize, Default)]
#[serde(default)]
struct CnpgRecord {
    log_time: Option<String>,
    user_name: Option<String>,
    database_name: Option<String>,
    process_id: Option<serde_json::Value>,
    connection_from: Option<String>,
    session_id: Option<String>,
    error_severity: Option<String>,
    sql_state_code: Option<String>,
    message: Option<String>,
    detail: Option<String>,
    hint: Option<String>,
    internal_query: Option<String>,
    context: Option<String>,
    query: Option<String>,
    application_name: Option<String>,
    backend_type: Option<String>,
}

/// The `properties` of an Azure `PostgreSQLLogs` record.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AzureProperties {
    timestamp: Option<String>,
    process_id: Option<serde_json::Value>,
    error_level: Option<String>,
    sqlerrcode: Option<String>,
    message: Option<String>,
    detail: Option<String>,
    hint: Option<String>,
    context: Option<String>,
    statement: Option<String>,
    user: Option<String>,
    database: Option<String>,
    session_id: Option<String>,
    backend_type: Option<String>,
    application_name: Option<String>,
}

fn owned(v: Option<String>) -> Option<Cow<'static, str>> {
    v.filter(|s| !s.is_empty()).map(Cow::Owned)
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
            if let Some(r) = rec.record {
                let at = r
                    .log_time
                    .as_deref()
                    .and_then(|t| self.times.parse(t.as_bytes(), self.zone));
                if at.is_none() {
                    sink.problem(ProblemKind::BadTimestamp, n);
                }
                let pid = match &r.process_id {
                    Some(serde_json::Value::String(p)) => p.parse::<i32>().ok(),
                    Some(serde_json::Value::Number(p)) => {
                        p.as_i64().and_then(|p| i32::try_from(p).ok())
                    }
                    _ => None,
                };
                let host = r
                    .connection_from
                    .map(|h| h.rsplit_once(':').map_or(h.clone(), |(a, _)| a.to_string()));
                sink.entry(Entry {
                    line: n,
                    at,
                    pid,
                    session_id: owned(r.session_id),
                    user: owned(r.user_name),
                    database: owned(r.database_name),
                    application: owned(r.application_name),
                    host: owned(host),
                    backend_type: owned(r.backend_type),
                    severity: severity_name(r.error_severity.as_deref().unwrap_or("").as_bytes()),
                    sqlstate: owned(r.sql_state_code).filter(|s| s != "00000"),
                    message: Cow::Owned(r.message.unwrap_or_default()),
                    detail: owned(r.detail),
                    hint: owned(r.hint),
                    query: owned(r.internal_query),
                    context: owned(r.context),
                    statement: owned(r.query),
                    raw: false,
                });
                continue;
            }
            if let Some(a) = rec.properties {
                if rec
                    .category
                    .as_deref()
                    .is_some_and(|c| c != "PostgreSQLLogs")
                {
                    // Azure's other categories (sessions, query store) are not the server log.
                    continue;
                }
                let at = a
                    .timestamp
                    .as_deref()
                    .or(rec.time.as_deref())
                    .and_then(|t| self.times.parse(t.as_bytes(), self.zone));
                if at.is_none() {
                    sink.problem(ProblemKind::BadTimestamp, n);
                }
                let pid = match &a.process_id {
                    Some(serde_json::Value::String(p)) => p.parse::<i32>().ok(),
                    Some(serde_json::Value::Number(p)) => {
                        p.as_i64().and_then(|p| i32::try_from(p).ok())
                    }
                    _ => None,
                };
                sink.entry(Entry {
                    line: n,
                    at,
                    pid,
                    session_id: owned(a.session_id),
                    user: owned(a.user),
                    database: owned(a.database),
                    application: owned(a.application_name),
                    host: None,
                    backend_type: owned(a.backend_type),
                    severity: severity_name(a.error_level.as_deref().unwrap_or("").as_bytes()),
                    sqlstate: owned(a.sqlerrcode).filter(|s| s != "00000"),
                    message: Cow::Owned(a.message.unwrap_or_default()),
                    detail: owned(a.detail),
                    hint: owned(a.hint),
                    query: None,
                    context: owned(a.context),
                    statement: owned(a.statement),
                    raw: false,
                });
                continue;
            }
            if rec.error_severity.is_none() && (rec.msg.is_some() || rec.logger.is_some()) {
                // CloudNativePG's operator speaking, not the server.
                continue;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(Option<i32>, String, String, bool)>);
    impl EntrySink for Collect {
        fn entry(&mut self, e: Entry<'_>) {
            self.0.push((
                e.pid,
                e.severity.to_string(),
                e.message.into_owned(),
                e.at.is_some(),
            ));
        }
        fn problem(&mut self, _: ProblemKind, _: u64) {}
    }

    #[test]
    fn cloudnativepg_records_are_server_entries() {
        let text = [
            r#"{"level":"info","ts":"2026-11-23T12:09:25.1Z","logger":"instance-manager","msg":"Starting PostgreSQL"}"#,
            r#"{"level":"info","ts":"2026-11-23T12:09:26.463Z","logger":"postgres","msg":"record","logging_pod":"pg-1","record":{"log_time":"2026-11-23 12:09:26.463 UTC","user_name":"app","database_name":"shop","process_id":"4242","connection_from":"10.0.0.7:51234","session_id":"6741c2.1092","session_line_num":"3","command_tag":"DELETE","error_severity":"LOG","sql_state_code":"00000","message":"statement: DELETE FROM orders","backend_type":"client backend","query_id":"0"}}"#,
        ]
        .join("\n")
            + "\n";
        let mut p = JsonParser::new(LogZone::default());
        let mut c = Collect::default();
        p.parse(text.as_bytes(), 1, true, &mut c);
        assert_eq!(
            c.0,
            vec![(
                Some(4242),
                "LOG".into(),
                "statement: DELETE FROM orders".into(),
                true
            )]
        );
    }
}
