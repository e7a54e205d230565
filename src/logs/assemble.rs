//! Entries → timeline pieces for one chunk of one file: kept events (with their session), counts
//! of the statements not kept, problems, and the session tracker's report. Sources are written as
//! chunk-relative line numbers here and made `log:FILE:LINE` once the chunk's place is known.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::evidence::{EventKind, LogEvent, SessionInfo};
use crate::logs::classify::{self, Classified, CountKind, StatementVerdict, TxControl, Verdict};
use crate::logs::entry::{Entry, EntrySink, ProblemKind};
use crate::logs::fasthash::FastMap;
use crate::logs::redact;
use crate::logs::sessions::{ChunkSessions, End, EndMark, Tracker};

/// Client programs whose sessions belong on the timeline (a dump, a restore, a manual session).
const TOOLS: [&str; 9] = [
    "pg_dump",
    "pg_dumpall",
    "pg_restore",
    "psql",
    "pg_basebackup",
    "dropdb",
    "createdb",
    "pg_upgrade",
    "vacuumdb",
];

/// A chunk's share of the timeline.
#[derive(Debug, Default)]
pub struct ChunkOutput {
    pub events: Vec<LogEvent>,
    pub counts: HashMap<(i64, CountKind), HashMap<String, u64>>,
    /// kind → (first line, count).
    pub problems: BTreeMap<ProblemKind, (u64, u64)>,
    pub sessions: ChunkSessions,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    pub entries: u64,
    /// Events whose session this chunk never saw connect (index into `events`, session key):
    /// a file read in parts learns their user, database, application and host from the part
    /// before, so reading on two cores gives what reading on one does.
    pub unresolved: Vec<(usize, u64)>,
    /// What this chunk knew at its end about sessions still connected.
    pub known_at_end: FastMap<u64, SessionInfo>,
    /// Sessions that connected or disconnected in this chunk: what an earlier part knew about
    /// them no longer holds.
    pub touched: Vec<u64>,
    /// Events of sessions whose `connection authorized` is in this chunk but whose `connection
    /// received` (the host) was in an earlier part: their host is the one that part knew.
    pub host_from_before: Vec<(usize, u64)>,
    /// Sessions still connected at the end whose host is the one known before the chunk.
    pub host_before_at_end: Vec<u64>,
}

pub struct Assembler {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    out: ChunkOutput,
    tracker: Tracker,
    /// What `connection authorized` said about each session (stderr prefixes often lack %a).
    known: FastMap<u64, SessionInfo>,
    last_at: Option<DateTime<Utc>>,
    /// Events of raw lines seen before any timestamp: they take the first one that follows.
    timeless: Vec<usize>,
    /// Sessions already shown as a `tool_session`.
    announced: FastMap<u64, ()>,
    /// Sessions that connected or disconnected in this chunk.
    touched: FastMap<u64, ()>,
    /// Sessions that connected here without a `connection received` in this chunk, seen by no
    /// line before it in the chunk: the host is what the part before knew.
    host_before: FastMap<u64, ()>,
    /// The minute being counted into, per kind (statements of one transaction alternate kinds):
    /// the outer hash lookup and a table-name String only once per minute, kind and table.
    count_cache: Option<(i64, [FastMap<String, u64>; 5])>,
}

fn relative_source(line: u64) -> String {
    line.to_string()
}

/// A session key without allocating: `%c` (`start.pid` in hex) or the process id.
fn session_key(e: &Entry<'_>) -> Option<u64> {
    if let Some(sid) = e.session_id.as_deref()
        && let Some((a, b)) = sid.split_once('.')
        && let (Ok(start), Ok(pid)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16))
    {
        return Some((start << 32) | (pid & 0xffff_ffff));
    }
    e.pid.map(|p| u64::from(p as u32))
}

fn verbose_sqlstate(msg: &str) -> Option<String> {
    let (code, rest) = msg.split_at_checked(5)?;
    (rest.len() > 2 && rest.starts_with(": ") && code.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| code.to_string())
}

impl Assembler {
    pub fn new(since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Assembler {
        Assembler {
            since,
            until,
            out: ChunkOutput::default(),
            tracker: Tracker::default(),
            known: FastMap::default(),
            last_at: None,
            timeless: Vec::new(),
            announced: FastMap::default(),
            touched: FastMap::default(),
            host_before: FastMap::default(),
            count_cache: None,
        }
    }

    pub fn finish(mut self) -> ChunkOutput {
        self.flush_count_cache();
        self.out.sessions = self.tracker.finish();
        self.out.known_at_end = std::mem::take(&mut self.known);
        self.out.touched = self.touched.keys().copied().collect();
        self.out.host_before_at_end = self.host_before.keys().copied().collect();
        self.out
    }

    fn flush_count_cache(&mut self) {
        const KINDS: [CountKind; 5] = [
            CountKind::Select,
            CountKind::Insert,
            CountKind::Update,
            CountKind::Delete,
            CountKind::Other,
        ];
        if let Some((minute, maps)) = self.count_cache.as_mut() {
            for (kind, tables) in KINDS.into_iter().zip(maps.iter_mut()) {
                if tables.is_empty() {
                    continue;
                }
                let slot = self.out.counts.entry((*minute, kind)).or_default();
                // Drained, not dropped: the maps keep their capacity for the next minute.
                for (t, n) in tables.drain() {
                    *slot.entry(t).or_insert(0) += n;
                }
            }
        }
    }

    fn count(&mut self, at: DateTime<Utc>, kind: CountKind, table: Option<&str>) {
        let minute = at.timestamp().div_euclid(60);
        if self.count_cache.as_ref().is_none_or(|(m, _)| *m != minute) {
            self.flush_count_cache();
            match self.count_cache.as_mut() {
                Some((m, _)) => *m = minute,
                None => self.count_cache = Some((minute, Default::default())),
            }
        }
        // One map per `CountKind`, in declaration order (`flush_count_cache`'s KINDS).
        if let Some((_, maps)) = self.count_cache.as_mut()
            && let Some(tables) = maps.get_mut(kind as usize)
        {
            let t = table.unwrap_or("");
            match tables.get_mut(t) {
                Some(n) => *n += 1,
                None => {
                    tables.insert(t.to_string(), 1);
                }
            }
        }
    }

    fn session(&self, e: &Entry<'_>, key: Option<u64>) -> SessionInfo {
        let known = key.and_then(|k| self.known.get(&k));
        let pick = |own: &Option<std::borrow::Cow<'_, str>>, k: Option<&Option<String>>| {
            own.as_deref()
                .map(str::to_string)
                .or_else(|| k.and_then(|v| v.clone()))
        };
        SessionInfo {
            pid: e.pid,
            session_id: e.session_id.as_deref().map(str::to_string),
            user: pick(&e.user, known.map(|k| &k.user)),
            database: pick(&e.database, known.map(|k| &k.database)),
            application: pick(&e.application, known.map(|k| &k.application)),
            host: pick(&e.host, known.map(|k| &k.host)),
        }
    }

    fn push(&mut self, e: &Entry<'_>, at: DateTime<Utc>, key: Option<u64>, c: Classified) -> usize {
        let mut text = c.text.unwrap_or_else(|| e.message.to_string());
        let mut session = self.session(e, key);
        if session.database.is_none() {
            session.database = c.database;
        }
        let mut detail_parts: Vec<String> = Vec::new();
        for (label, part) in [
            ("DETAIL", &e.detail),
            ("HINT", &e.hint),
            ("QUERY", &e.query),
            ("CONTEXT", &e.context),
            ("STATEMENT", &e.statement),
        ] {
            if let Some(p) = part {
                detail_parts.push(format!("{label}: {p}"));
            }
        }
        // Secrets go before anything is stored: the text and every detail line together, so a
        // password found in the STATEMENT repeat also leaves the error message quoting it.
        if redact::suspicious(&text) || detail_parts.iter().any(|p| redact::suspicious(p)) {
            let mut parts = Vec::with_capacity(detail_parts.len() + 1);
            parts.push(std::mem::take(&mut text));
            parts.append(&mut detail_parts);
            redact::redact_parts(&mut parts);
            let mut it = parts.into_iter();
            text = it.next().unwrap_or_default();
            detail_parts = it.collect();
        }
        let sqlstate = e
            .sqlstate
            .as_deref()
            .map(str::to_string)
            .or_else(|| verbose_sqlstate(&e.message).filter(|_| c.kind == EventKind::Error))
            .or_else(|| {
                (c.kind == EventKind::Error)
                    .then(|| classify::sqlstate_of_message(&e.message))
                    .flatten()
                    .map(str::to_string)
            });
        let event = LogEvent {
            at,
            kind: c.kind,
            source: relative_source(e.line),
            session,
            severity: (!e.severity.is_empty()).then(|| e.severity.to_string()),
            sqlstate,
            text,
            tables: c.tables,
            cascade: c.cascade,
            outcome: None,
            detail: (!detail_parts.is_empty()).then(|| detail_parts.join("\n")),
            rows: c.rows,
            migration: c.migration,
        };
        let hostless = event.session.host.is_none();
        self.out.events.push(event);
        let index = self.out.events.len() - 1;
        if let Some(k) = key
            && !self.known.contains_key(&k)
            && !self.touched.contains_key(&k)
        {
            self.out.unresolved.push((index, k));
        }
        if let Some(k) = key
            && self.host_before.contains_key(&k)
            && hostless
        {
            self.out.host_from_before.push((index, k));
        }
        index
    }

    fn mark(&self, e: &Entry<'_>, at: DateTime<Utc>, key: Option<u64>, end: End) -> EndMark {
        EndMark {
            end,
            at,
            line: e.line,
            session: self.session(e, key),
        }
    }
}

impl Assembler {
    /// Notes an entry's time; returns the time to file it under (a raw line takes the last one).
    fn note_time(&mut self, at: Option<DateTime<Utc>>) -> DateTime<Utc> {
        self.out.entries += 1;
        match at {
            Some(at) => {
                self.last_at = Some(at);
                self.out.first_at = Some(self.out.first_at.map_or(at, |f| f.min(at)));
                self.out.last_at = Some(self.out.last_at.map_or(at, |l| l.max(at)));
                if !self.timeless.is_empty() {
                    // Indices `push` returned; the events only grow until `finish`.
                    for i in std::mem::take(&mut self.timeless) {
                        if let Some(e) = self.out.events.get_mut(i) {
                            e.at = at;
                        }
                    }
                }
                at
            }
            None => self.last_at.unwrap_or(DateTime::UNIX_EPOCH),
        }
    }
}

impl EntrySink for Assembler {
    fn wants(&self, severity: &'static str, message: &[u8]) -> bool {
        !classify::is_noise(severity, message)
    }

    fn seen(&mut self, at: Option<DateTime<Utc>>) {
        self.note_time(at);
    }

    /// An entry `classify` ignores does nothing in `entry` but note its time, unless it names
    /// an application (a tool's first entry announces its session): the parser checks that.
    fn ignores(&self, severity: &'static str, message: &[u8]) -> bool {
        classify::is_ignored_duration(severity, message)
    }

    fn entry(&mut self, e: Entry<'_>) {
        let at = self.note_time(e.at);
        if self.since.is_some_and(|s| at < s) || self.until.is_some_and(|u| at > u) {
            return;
        }
        let key = session_key(&e);
        // Without log_connections, a tool's session shows by its application name (csvlog,
        // jsonlog, %a) on its first entry.
        if let (Some(k), Some(app)) = (key, e.application.as_deref())
            && is_tool(app)
            && !self.announced.contains_key(&k)
            && !e.message.starts_with("connection authorized: ")
        {
            self.announced.insert(k, ());
            let mut c = classify_plain(EventKind::ToolSession);
            c.text = Some(format!("session of {app}"));
            self.push(&e, at, key, c);
        }
        let verdict = classify::classify(&e);
        let source = &relative_source;
        match verdict {
            Verdict::Ignore => {}
            Verdict::Statements(list) => {
                for v in list {
                    match v {
                        StatementVerdict::Count { kind, table } => {
                            self.count(at, kind, table.as_deref());
                            if let Some(k) = key {
                                let write =
                                    kind.is_write().then(|| table.as_deref().unwrap_or("?"));
                                self.tracker.statement(k, None, write, &mut self.out.events);
                            }
                        }
                        StatementVerdict::Keep(c) => {
                            let i = self.push(&e, at, key, c);
                            if let Some(k) = key {
                                self.tracker
                                    .statement(k, Some(i), None, &mut self.out.events);
                            }
                        }
                        StatementVerdict::Tx(ctl) => {
                            if let Some(k) = key {
                                let end = match ctl {
                                    TxControl::Begin => End::Begin,
                                    TxControl::Commit => End::Commit,
                                    TxControl::Rollback => End::Rollback,
                                };
                                let mark = self.mark(&e, at, key, end);
                                self.tracker.control(k, mark, &mut self.out.events, source);
                            }
                        }
                    }
                }
            }
            Verdict::Error(c) => {
                self.push(&e, at, key, c);
                if let Some(k) = key {
                    self.tracker.error(k, &mut self.out.events);
                    if e.severity == "FATAL" {
                        let mark = self.mark(&e, at, key, End::Disconnect);
                        self.tracker.control(k, mark, &mut self.out.events, source);
                    }
                }
                if e.severity == "PANIC" {
                    self.tracker
                        .reset_all(at, e.line, &mut self.out.events, source);
                }
            }
            Verdict::ConnectionReceived { host } => {
                if let Some(k) = key {
                    self.touched.insert(k, ());
                    self.host_before.remove(&k);
                    self.known.insert(
                        k,
                        SessionInfo {
                            host: Some(host),
                            ..SessionInfo::default()
                        },
                    );
                }
            }
            Verdict::Connection {
                user,
                database,
                application,
            } => {
                let tool = application.as_deref().is_some_and(is_tool);
                if let (true, Some(k)) = (tool, key) {
                    self.announced.insert(k, ());
                }
                if let Some(k) = key {
                    // Nothing of this session before in the chunk: its `connection received`
                    // (if any) was in an earlier part, and so is its host.
                    if !self.touched.contains_key(&k) && e.host.is_none() {
                        self.host_before.insert(k, ());
                    }
                    self.touched.insert(k, ());
                    let received = self.known.remove(&k).and_then(|s| s.host);
                    self.known.insert(
                        k,
                        SessionInfo {
                            pid: e.pid,
                            session_id: None,
                            user,
                            database,
                            application,
                            host: e.host.as_deref().map(str::to_string).or(received),
                        },
                    );
                }
                let kind = if tool {
                    EventKind::ToolSession
                } else {
                    EventKind::Connection
                };
                let mut c = classify_plain(kind);
                c.text = None;
                self.push(&e, at, key, c);
            }
            Verdict::Disconnection => {
                self.push(&e, at, key, classify_plain(EventKind::Disconnection));
                if let Some(k) = key {
                    let mark = self.mark(&e, at, key, End::Disconnect);
                    self.tracker.control(k, mark, &mut self.out.events, source);
                    self.known.remove(&k);
                    self.host_before.remove(&k);
                    self.announced.remove(&k);
                    self.touched.insert(k, ());
                }
            }
            Verdict::Event(c) => {
                let kind = c.kind;
                let i = self.push(&e, at, key, c);
                if e.at.is_none() {
                    self.timeless.push(i);
                }
                if matches!(
                    kind,
                    EventKind::Crash | EventKind::ServerShutdown | EventKind::ServerStart
                ) {
                    self.tracker
                        .reset_all(at, e.line, &mut self.out.events, source);
                }
            }
        }
    }

    fn problem(&mut self, kind: ProblemKind, line: u64) {
        let slot = self.out.problems.entry(kind).or_insert((line, 0));
        slot.0 = slot.0.min(line);
        slot.1 += 1;
    }
}

fn is_tool(app: &str) -> bool {
    TOOLS
        .iter()
        .any(|t| app == *t || (app.starts_with(t) && app.as_bytes().get(t.len()) == Some(&b' ')))
}

fn classify_plain(kind: EventKind) -> Classified {
    Classified {
        kind,
        tables: Vec::new(),
        cascade: false,
        rows: None,
        migration: None,
        text: None,
        database: None,
    }
}
