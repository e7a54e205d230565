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
    /// Opened by the session's first control in its chunk: a BEGIN that, inside a transaction
    /// carried in from an earlier part, the server ignored (the statements after it belong to
    /// the carried transaction).
    pub first_begin: bool,
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

#[derive(Debug, Clone, Default)]
pub struct Head {
    pub group: Group,
    /// The first control seen in the chunk; `None` when there was none.
    pub first: Option<EndMark>,
    /// When `first` is a BEGIN: the transaction it opened and the control that ended it in the
    /// chunk (still open at the chunk's end, it is the chunk's tail). Left to the merge, which
    /// knows whether that BEGIN opened it or was ignored inside a carried transaction.
    pub opened: Option<(Group, EndMark)>,
    /// The session's first line in the chunk was an ERROR: it failed the session's last
    /// statement, which an earlier part holds.
    pub orphan_error: bool,
    /// The kept event of the session's latest statement at the chunk's end (an ERROR at the
    /// start of the next part fails it).
    pub last_statement: Option<usize>,
    /// The session first showed after a server stop in this chunk: nothing carried applies.
    pub after_reset: bool,
}

#[derive(Debug, Default)]
struct Session {
    /// A control was seen in this chunk: the state is known from here on.
    known: bool,
    head: Group,
    head_first: Option<EndMark>,
    tx: Option<Group>,
    /// The transaction opened by the first control (a BEGIN) and its end, for the merge.
    opened: Option<(Group, EndMark)>,
    /// The kept event of this session's latest statement, to mark it aborted if an ERROR follows.
    last_statement: Option<usize>,
    /// A statement, control or error was seen: an ERROR no longer fails an earlier part's line.
    active: bool,
    orphan_error: bool,
    after_reset: bool,
}

impl Session {
    fn into_head(self) -> Head {
        Head {
            group: self.head,
            first: self.head_first,
            opened: self.opened,
            orphan_error: self.orphan_error,
            last_statement: self.last_statement,
            after_reset: self.after_reset,
        }
    }
}

/// Per-chunk tracker.
#[derive(Debug, Default)]
pub struct Tracker {
    sessions: crate::logs::fasthash::FastMap<u64, Session>,
    /// Sessions whose head is settled (they ended inside the chunk), in order.
    heads: Vec<(u64, Head)>,
    /// The server first stopped or crashed in this chunk here: every earlier open transaction
    /// rolled back, and a session seen after it starts in a known state.
    pub reset: Option<EndMark>,
}

/// What one chunk leaves for the merge.
#[derive(Debug, Default)]
pub struct ChunkSessions {
    pub heads: Vec<(u64, Head)>,
    pub tails: Vec<(u64, Group)>,
    pub reset: Option<EndMark>,
}

impl Tracker {
    fn session(&mut self, key: u64) -> &mut Session {
        let after_reset = self.reset.is_some();
        self.sessions.entry(key).or_insert_with(|| Session {
            // After a server stop no transaction is open: the state is known.
            known: after_reset,
            after_reset,
            ..Session::default()
        })
    }

    /// A statement ran; `kept` is its event (if kept), `write` the table it wrote (if counted).
    pub fn statement(
        &mut self,
        key: u64,
        kept: Option<usize>,
        write: Option<&str>,
        events: &mut [LogEvent],
    ) {
        let s = self.session(key);
        s.active = true;
        s.last_statement = kept;
        let group = if !s.known {
            &mut s.head
        } else if let Some(tx) = s.tx.as_mut() {
            tx
        } else {
            // Autocommit, state known: committed unless an ERROR follows.
            if let Some(e) = kept.and_then(|i| events.get_mut(i)) {
                e.outcome = Some(TxOutcome::Committed);
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
        let s = self.session(key);
        s.orphan_error |= !s.active;
        s.active = true;
        if let Some(e) = s.last_statement.take().and_then(|i| events.get_mut(i)) {
            e.outcome = Some(TxOutcome::Aborted);
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
        let s = self.session(key);
        s.active = true;
        s.last_statement = None;
        let end = mark.end;
        if !s.known {
            s.known = true;
            s.head_first = Some(mark.clone());
            if end == End::Begin {
                s.tx = Some(Group {
                    begin: Some((mark.at, mark.line)),
                    first_begin: true,
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
                // Whether the first BEGIN opened this transaction is the merge's to say.
                (_, Some(open)) if open.first_begin => s.opened = Some((open, mark)),
                (_, Some(open)) => resolve(open, &mark, events, source),
                (_, None) => {}
            }
        }
        if end == End::Disconnect
            && let Some(s) = self.sessions.remove(&key)
        {
            self.heads.push((key, s.into_head()));
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
        if self.reset.is_none() {
            self.reset = Some(EndMark {
                end: End::Disconnect,
                at,
                line,
                session: SessionInfo::default(),
            });
        }
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
            let tail = s.tx.clone();
            self.heads.push((key, s.into_head()));
            if let Some(tx) = tail {
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
    for_each_kept(&group, events, |e| {
        if e.outcome != Some(TxOutcome::Aborted) || outcome == TxOutcome::Committed {
            e.outcome = Some(outcome);
        }
    });
    let rolled_back = outcome != TxOutcome::Committed && outcome != TxOutcome::Unknown;
    if group.events.is_empty() && !(rolled_back && group.writes > 0) {
        return;
    }
    let mut tables: Vec<String> = Vec::new();
    let kept_tables = group
        .events
        .iter()
        .filter_map(|&i| events.get(i))
        .flat_map(|e| &e.tables);
    for t in kept_tables.chain(&group.write_tables) {
        if !tables.contains(t) {
            tables.push(t.clone());
        }
    }
    tables.sort();
    let session = group
        .events
        .first()
        .and_then(|&i| events.get(i))
        .map(|e| e.session.clone())
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
    for_each_kept(group, events, |e| {
        e.outcome.get_or_insert(TxOutcome::Committed);
    });
}

/// Runs `f` on each kept event whose outcome `group` decides (its indices point into `events`).
fn for_each_kept(group: &Group, events: &mut [LogEvent], mut f: impl FnMut(&mut LogEvent)) {
    for &i in &group.events {
        if let Some(e) = events.get_mut(i) {
            f(e);
        }
    }
}

/// Settles, in file order, what chunks left open. `chunks` holds each chunk's event offset in
/// `events`, its session report and a function naming a line of its file. Any cut into any
/// number of chunks gives what one chunk of the whole file does.
pub fn merge(chunks: Vec<(usize, ChunkSessions, SourceName)>, events: &mut Vec<LogEvent>) {
    // Per session: the transaction open at the end of the chunks so far.
    let mut carry: HashMap<u64, Group> = HashMap::new();
    // Per session: the kept event of its latest statement (an ERROR first in a later chunk
    // fails it).
    let mut last: HashMap<u64, usize> = HashMap::new();
    let shift = |g: &mut Group, off: usize| g.events.iter_mut().for_each(|i| *i += off);
    for (off, chunk, source) in chunks {
        let (before, after): (Vec<_>, Vec<_>) =
            chunk.heads.into_iter().partition(|(_, h)| !h.after_reset);
        for (key, head) in before {
            settle_head(key, head, off, &mut carry, &mut last, events, &*source);
        }
        if let Some(mark) = &chunk.reset {
            // Sessions the chunk did not see before the stop: what they had open rolled back.
            let mut keys: Vec<u64> = carry.keys().copied().collect();
            keys.sort_unstable();
            for key in keys {
                if let Some(open) = carry.remove(&key) {
                    resolve(open, mark, events, &*source);
                }
            }
            last.clear();
        }
        for (key, head) in after {
            settle_head(key, head, off, &mut carry, &mut last, events, &*source);
        }
        for (key, mut tail) in chunk.tails {
            shift(&mut tail, off);
            match carry.get_mut(&key) {
                // Opened by an ignored BEGIN: the rest of the carried transaction.
                Some(open) if tail.first_begin => open.absorb(tail),
                _ => {
                    tail.first_begin = false;
                    carry.insert(key, tail);
                }
            }
        }
    }
    for (_, open) in carry {
        for_each_kept(&open, events, |e| e.outcome = Some(TxOutcome::Unknown));
    }
}

/// Settles one session's start in a chunk against what the chunks before left open.
fn settle_head(
    key: u64,
    mut head: Head,
    off: usize,
    carry: &mut HashMap<u64, Group>,
    last: &mut HashMap<u64, usize>,
    events: &mut Vec<LogEvent>,
    source: &dyn Fn(u64) -> String,
) {
    let shift = |g: &mut Group| g.events.iter_mut().for_each(|i| *i += off);
    shift(&mut head.group);
    if let Some((g, _)) = head.opened.as_mut() {
        shift(g);
    }
    if head.orphan_error
        && let Some(e) = last.remove(&key).and_then(|i| events.get_mut(i))
    {
        e.outcome = Some(TxOutcome::Aborted);
    }
    match head.last_statement {
        Some(i) => last.insert(key, i + off),
        None => last.remove(&key),
    };
    let open = carry.remove(&key);
    let Some(first) = head.first else {
        // No control: the statements share the carried transaction's fate, or autocommit.
        match open {
            Some(mut open) => {
                open.absorb(head.group);
                carry.insert(key, open);
            }
            None => autocommit(&head.group, events),
        }
        return;
    };
    match (open, first.end) {
        (None, _) => {
            autocommit(&head.group, events);
            if let Some((mut g, end)) = head.opened {
                g.first_begin = false;
                resolve(g, &end, events, source);
            }
        }
        (Some(mut open), End::Begin) => {
            // BEGIN inside a transaction is ignored by the server: what follows it up to the
            // chunk's first COMMIT/ROLLBACK is still the carried transaction.
            open.absorb(head.group);
            match head.opened {
                Some((g, end)) => {
                    open.absorb(g);
                    resolve(open, &end, events, source);
                }
                // Still open at the chunk's end: its tail joins this.
                None => {
                    carry.insert(key, open);
                }
            }
        }
        (Some(mut open), _) => {
            open.absorb(head.group);
            resolve(open, &first, events, source);
        }
    }
}
