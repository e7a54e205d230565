//! Transaction outcomes, reconstructed per session (process id, or `%c` session id).
//!
//! A statement in autocommit is committed unless an ERROR follows it. Inside BEGIN … COMMIT it
//! shares the transaction's fate: COMMIT commits (unless an ERROR aborted the transaction, in
//! which case COMMIT rolls back), ROLLBACK, a disconnect or a server stop roll back, and the end
//! of the log leaves it unknown.
//!
//! Files are read in chunks in parallel, so one chunk cannot know whether a session was inside a
//! transaction when the chunk began. Each chunk resolves what it can and reports, per session,
//! the statements seen before its first BEGIN/COMMIT/ROLLBACK/disconnect (`Head`) and the
//! transaction still open at its end (`Tail`); `merge` settles those in file order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::evidence::{EventKind, LogEvent, SessionInfo, TxOutcome};

/// How a session's transaction state changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Begin,
    Commit,
    Rollback,
    /// The session ended (disconnect, FATAL, server stop): an open transaction rolls back.
    Disconnect,
}

/// Statements of one transaction (or of the part of a session before its first control).
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// Indices of kept events whose outcome this group decides.
    pub events: Vec<usize>,
    /// An ERROR happened inside: the whole transaction rolls back.
    pub aborted: bool,
    /// Tables written by counted statements (INSERT/UPDATE/DELETE kept only as counts).
    pub write_tables: Vec<String>,
    pub writes: u64,
    /// Where BEGIN was logged: (time, line).
    pub begin: Option<(DateTime<Utc>, u64)>,
}

impl Group {
    fn absorb(&mut self, other: Group) {
        self.events.extend(other.events);
        self.aborted |= other.aborted;
        self.writes += other.writes;
        for t in other.write_tables {
            if !self.write_tables.contains(&t) && self.write_tables.len() < 32 {
                self.write_tables.push(t);
            }
        }
    }
}

/// Where a transaction ended: what the merge needs to write its COMMIT/ROLLBACK event.
#[derive(Debug, Clone)]
pub struct EndMark {
    pub end: End,
    pub at: DateTime<Utc>,
    pub line: u64,
    pub session: SessionInfo,
}

#[derive(Debug, Clone)]
pub struct Head {
    pub group: Group,
    /// The first control seen in the chunk; `None` when there was none.
    pub first: Option<EndMark>,
}

#[derive(Debug, Default)]
struct Session {
    /// A control was seen in this chunk: the state is known from here on.
    known: bool,
    head: Group,
    head_first: Option<EndMark>,
    tx: Option<Group>,
    /// The kept event of this session's latest statement, to mark it aborted if an ERROR follows.
    last_statement: Option<usize>,
}

/// Per-chunk tracker.
#[derive(Debug, Default)]
pub struct Tracker {
    sessions: crate::logs::fasthash::FastMap<u64, Session>,
    /// Sessions whose head is settled (they ended inside the chunk), in order.
    heads: Vec<(u64, Head)>,
    /// The server stopped or crashed in this chunk: every earlier open transaction rolled back.
    pub reset: bool,
}

/// What one chunk leaves for the merge.
#[derive(Debug, Default)]
pub struct ChunkSessions {
    pub heads: Vec<(u64, Head)>,
    pub tails: Vec<(u64, Group)>,
    pub reset: bool,
}

impl Tracker {
    /// A statement ran; `kept` is its event (if kept), `write` the table it wrote (if counted).
    pub fn statement(
        &mut self,
        key: u64,
        kept: Option<usize>,
        write: Option<&str>,
        events: &mut [LogEvent],
    ) {
        let s = self.sessions.entry(key).or_default();
        s.last_statement = kept;
        let group = if !s.known {
            &mut s.head
        } else if let Some(tx) = s.tx.as_mut() {
            tx
        } else {
            // Autocommit, state known: committed unless an ERROR follows.
            if let Some(i) = kept {
                events[i].outcome = Some(TxOutcome::Committed);
            }
            return;
        };
        if let Some(i) = kept {
            group.events.push(i);
        }
        if let Some(t) = write {
            group.writes += 1;
            if !group.write_tables.iter().any(|w| w == t) && group.write_tables.len() < 32 {
                group.write_tables.push(t.to_string());
            }
        }
    }

    /// An ERROR/FATAL in the session: the statement failed, and an open transaction is aborted.
    pub fn error(&mut self, key: u64, events: &mut [LogEvent]) {
        let s = self.sessions.entry(key).or_default();
        if let Some(i) = s.last_statement.take() {
            events[i].outcome = Some(TxOutcome::Aborted);
        }
        if !s.known {
            s.head.aborted = true;
        } else if let Some(tx) = s.tx.as_mut() {
            tx.aborted = true;
        }
    }

    /// BEGIN, COMMIT, ROLLBACK or the end of the session.
    pub fn control(
        &mut self,
        key: u64,
        mark: EndMark,
        events: &mut Vec<LogEvent>,
        source: &dyn Fn(u64) -> String,
    ) {
        let s = self.sessions.entry(key).or_default();
        s.last_statement = None;
        let end = mark.end;
        if !s.known {
            s.known = true;
            s.head_first = Some(mark.clone());
            if end == End::Begin {
                s.tx = Some(Group {
                    begin: Some((mark.at, mark.line)),
                    ..Group::default()
                });
            }
        } else {
            match (end, s.tx.take()) {
                (End::Begin, Some(open)) => s.tx = Some(open),
                (End::Begin, None) => {
                    s.tx = Some(Group {
                        begin: Some((mark.at, mark.line)),
                        ..Group::default()
                    })
                }
                (_, Some(open)) => resolve(open, &mark, events, source),
                (_, None) => {}
            }
        }
        if end == End::Disconnect
            && let Some(s) = self.sessions.remove(&key)
        {
            self.heads.push((
                key,
                Head {
                    group: s.head,
                    first: s.head_first,
                },
            ));
        }
    }

    /// The server stopped or crashed: every session ends.
    pub fn reset_all(
        &mut self,
        at: DateTime<Utc>,
        line: u64,
        events: &mut Vec<LogEvent>,
        source: &dyn Fn(u64) -> String,
    ) {
        self.reset = true;
        let mut keys: Vec<u64> = self.sessions.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let mark = EndMark {
                end: End::Disconnect,
                at,
                line,
                session: SessionInfo::default(),
            };
            self.control(key, mark, events, source);
        }
    }

    pub fn finish(mut self) -> ChunkSessions {
        let mut tails = Vec::new();
        let mut keys: Vec<u64> = self.sessions.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let Some(s) = self.sessions.remove(&key) else {
                continue;
            };
            self.heads.push((
                key,
                Head {
                    group: s.head,
                    first: s.head_first,
                },
            ));
            if let Some(tx) = s.tx {
                tails.push((key, tx));
            }
        }
        ChunkSessions {
            heads: self.heads,
            tails,
            reset: self.reset,
        }
    }
}

/// Settles a transaction: its statements' outcome, and BEGIN/COMMIT/ROLLBACK events when it
/// holds something worth seeing (kept statements, or writes that a rollback undid).
pub fn resolve(
    group: Group,
    mark: &EndMark,
    events: &mut Vec<LogEvent>,
    source: &dyn Fn(u64) -> String,
) {
    let outcome = match mark.end {
        End::Commit if group.aborted => TxOutcome::Aborted,
        End::Commit => TxOutcome::Committed,
        End::Rollback | End::Disconnect => TxOutcome::RolledBack,
        End::Begin => TxOutcome::Unknown,
    };
    for &i in &group.events {
        if events[i].outcome != Some(TxOutcome::Aborted) || outcome == TxOutcome::Committed {
            events[i].outcome = Some(outcome);
        }
    }
    let rolled_back = outcome != TxOutcome::Committed && outcome != TxOutcome::Unknown;
    if group.events.is_empty() && !(rolled_back && group.writes > 0) {
        return;
    }
    let mut tables: Vec<String> = Vec::new();
    for &i in &group.events {
        for t in &events[i].tables {
            if !tables.contains(t) {
                tables.push(t.clone());
            }
        }
    }
    for t in &group.write_tables {
        if !tables.contains(t) {
            tables.push(t.clone());
        }
    }
    tables.sort();
    let session = group
        .events
        .first()
        .map(|&i| events[i].session.clone())
        .unwrap_or_else(|| mark.session.clone());
    if let Some((at, line)) = group.begin {
        events.push(LogEvent {
            at,
            kind: EventKind::Begin,
            source: source(line),
            session: session.clone(),
            severity: Some("LOG".into()),
            sqlstate: None,
            text: "BEGIN".into(),
            tables: tables.clone(),
            cascade: false,
            outcome: Some(outcome),
            detail: None,
            rows: None,
            migration: None,
        });
    }
    let (kind, text) = match (mark.end, outcome) {
        (End::Disconnect, _) => (
            EventKind::Rollback,
            "session ended with its transaction open: rolled back".to_string(),
        ),
        (End::Commit, TxOutcome::Aborted) => (
            EventKind::Rollback,
            "COMMIT of a transaction aborted by an error: rolled back".to_string(),
        ),
        (End::Commit, _) => (EventKind::Commit, "COMMIT".to_string()),
        _ => (EventKind::Rollback, "ROLLBACK".to_string()),
    };
    let detail = (group.writes > 0).then(|| {
        format!(
            "{} write statement(s) not kept one by one on {}",
            group.writes,
            if group.write_tables.is_empty() {
                "unknown tables".to_string()
            } else {
                group.write_tables.join(", ")
            }
        )
    });
    events.push(LogEvent {
        at: mark.at,
        kind,
        source: source(mark.line),
        session,
        severity: Some("LOG".into()),
        sqlstate: None,
        text,
        tables,
        cascade: false,
        outcome: Some(outcome),
        detail,
        rows: None,
        migration: None,
    });
}

/// Names a line of a chunk's file as `log:FILE:LINE`.
pub type SourceName = Box<dyn Fn(u64) -> String + Send>;

/// Autocommit: what was not aborted committed.
fn autocommit(group: &Group, events: &mut [LogEvent]) {
    for &i in &group.events {
        if events[i].outcome.is_none() {
            events[i].outcome = Some(TxOutcome::Committed);
        }
    }
}

/// Settles, in file order, what chunks left open. `chunks` holds each chunk's event offset in
/// `events`, its session report and a function naming a line of its file.
pub fn merge(chunks: Vec<(usize, ChunkSessions, SourceName)>, events: &mut Vec<LogEvent>) {
    let mut carry: HashMap<u64, (Group, usize)> = HashMap::new();
    let shift = |g: &mut Group, off: usize| g.events.iter_mut().for_each(|i| *i += off);
    for (off, chunk, source) in chunks {
        let mut seen = std::collections::HashSet::new();
        for (key, mut head) in chunk.heads {
            shift(&mut head.group, off);
            seen.insert(key);
            match (carry.remove(&key), head.first) {
                (Some((mut open, _)), None) => {
                    open.absorb(head.group);
                    carry.insert(key, (open, off));
                }
                (None, _) => autocommit(&head.group, events),
                (Some((mut open, _)), Some(mark)) => {
                    if mark.end == End::Begin {
                        // BEGIN inside a transaction is ignored by the server; what the chunk
                        // resolved after it shares the fate we cannot see from here.
                        autocommit(&head.group, events);
                        let unknown = EndMark {
                            end: End::Begin,
                            ..mark
                        };
                        resolve(open, &unknown, events, &*source);
                    } else {
                        open.absorb(head.group);
                        resolve(open, &mark, events, &*source);
                    }
                }
            }
        }
        if chunk.reset {
            let mut keys: Vec<u64> = carry
                .keys()
                .copied()
                .filter(|k| !seen.contains(k))
                .collect();
            keys.sort_unstable();
            for key in keys {
                if let Some((open, _)) = carry.remove(&key) {
                    for &i in &open.events {
                        events[i].outcome = Some(TxOutcome::RolledBack);
                    }
                }
            }
        }
        for (key, mut tail) in chunk.tails {
            shift(&mut tail, off);
            carry.insert(key, (tail, off));
        }
    }
    for (_, (open, _)) in carry {
        for &i in &open.events {
            events[i].outcome = Some(TxOutcome::Unknown);
        }
    }
}
