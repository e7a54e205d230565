//! Folds WAL records into transactions: rows deleted and inserted per relation file, the locks,
//! file creations and unlinks that make a TRUNCATE or a DROP, and the COMMIT/ABORT that ends it.
//! The same code serves both sources (pg_waldump text lines and pg_walinspect rows), so both
//! give the same transactions.
//!
//! A scan may be split into consecutive LSN ranges read in parallel: each range gives a `Part`
//! and `merge` joins them in LSN order. A transaction that straddles a boundary is carried as an
//! unfinished state from one part into the next; the part that sees its COMMIT reports the
//! outcome even when its own records there are not interesting (`Part::outcomes`), for every
//! xid older than the first `nextXid` the range shows (a RUNNING_XACTS record): only those can
//! have begun before the range.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::evidence::{WalFile, WalOutcome, WalRowChange, WalTransaction, format_lsn};

/// The first oid of user objects: files below it are the catalogs' own.
const FIRST_NORMAL_OBJECT_ID: u32 = 16384;

/// One WAL record, as either source gives it.
#[derive(Debug, Clone, Copy)]
pub struct WalRecord<'a> {
    pub lsn: u64,
    pub xid: u32,
    pub rmgr: &'a str,
    /// The record type (`DELETE`, `COMMIT`, `LOCK`, …).
    pub kind: &'a str,
    /// The description after the record type.
    pub desc: &'a str,
    /// The block references (`blkref #0: rel 1663/5/16395 blk 0`), empty when none.
    pub block_ref: &'a str,
}

/// What one record means for the grouping, whichever source decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `Heap DELETE` of one row in relation file `file` of database `db`.
    Delete { db: u32, file: u32 },
    /// `Heap INSERT` (one row) or `Heap2 MULTI_INSERT` (`rows` rows).
    Insert { file: u32, rows: u32 },
    /// `Heap TRUNCATE` (wal_level = logical): the table oids.
    Truncate { cascade: bool, relids: Vec<u32> },
    /// `Standby LOCK`: AccessExclusiveLocks as (xid, database, table oid).
    Lock { locks: Vec<(u32, u32, u32)> },
    /// `Standby RUNNING_XACTS`: the next xid to be assigned.
    RunningXacts { next_xid: u32 },
    /// `Storage CREATE` of a main fork.
    Create { db: u32, file: u32 },
    /// `Transaction PREPARE` (PREPARE TRANSACTION 'gid'): the transaction's records are all
    /// written, its outcome waits for COMMIT PREPARED or ROLLBACK PREPARED.
    Prepare {
        at: Option<DateTime<Utc>>,
        gid: Option<String>,
    },
    /// `Transaction COMMIT` / `ABORT`, and `COMMIT_PREPARED` / `ABORT_PREPARED`, which another
    /// session writes for the prepared transaction `prepared_xid` (the record's own xid is
    /// that session's, usually 0).
    End {
        outcome: WalOutcome,
        at: Option<DateTime<Utc>>,
        dropped_files: Vec<u32>,
        dropped_stats: Vec<u32>,
        subxacts: Vec<u32>,
        prepared_xid: Option<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Prepared {
    lsn: u64,
    at: Option<DateTime<Utc>>,
    gid: Option<String>,
}

#[derive(Debug, Clone)]
struct End {
    outcome: WalOutcome,
    lsn: u64,
    at: Option<DateTime<Utc>>,
    dropped_files: Vec<u32>,
    dropped_stats: Vec<u32>,
    subxacts: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
struct TxState {
    first_lsn: u64,
    database_oid: Option<u32>,
    /// relfilenode → (deleted, inserted).
    rows: BTreeMap<u32, (u64, u64)>,
    locked: BTreeSet<u32>,
    /// relfilenode → LSN of its Storage CREATE.
    created: BTreeMap<u32, u64>,
    truncated: BTreeSet<u32>,
    cascade: bool,
    end: Option<End>,
    subxacts: BTreeSet<u32>,
    prepared: Option<Prepared>,
}

impl TxState {
    fn absorb(&mut self, other: TxState) {
        if self.first_lsn == 0 || (other.first_lsn != 0 && other.first_lsn < self.first_lsn) {
            self.first_lsn = other.first_lsn;
        }
        self.database_oid = self.database_oid.or(other.database_oid);
        for (file, (d, i)) in other.rows {
            let e = self.rows.entry(file).or_default();
            e.0 += d;
            e.1 += i;
        }
        self.locked.extend(other.locked);
        for (f, l) in other.created {
            self.created.entry(f).or_insert(l);
        }
        self.truncated.extend(other.truncated);
        self.cascade |= other.cascade;
        self.subxacts.extend(other.subxacts);
        if other.prepared.is_some() {
            self.prepared = other.prepared;
        }
        if other.end.is_some() {
            self.end = other.end;
        }
    }

    fn deleted_user_rows(&self) -> bool {
        self.rows
            .iter()
            .any(|(f, (d, _))| *f >= FIRST_NORMAL_OBJECT_ID && *d > 0)
    }

    /// Whether this transaction may have removed rows: a DELETE, a TRUNCATE, a DROP (or a
    /// rolled-back one of those, which rules a hypothesis out).
    fn interesting(&self) -> bool {
        // Files unlinked at the end: a DROP's or TRUNCATE's old files when committed, the new
        // files of an aborted TRUNCATE. A CREATE TABLE also locks and creates, but unlinks
        // nothing.
        let unlinks = self
            .end
            .as_ref()
            .is_some_and(|e| !e.dropped_files.is_empty());
        self.deleted_user_rows()
            || !self.truncated.is_empty()
            || (unlinks && !self.locked.is_empty())
    }

    fn into_transaction(self, xid: u32, timeline: u32) -> WalTransaction {
        let end = self.end;
        let mut subxacts: Vec<u32> = self.subxacts.into_iter().collect();
        if let Some(e) = &end {
            subxacts.extend(e.subxacts.iter().copied());
        }
        subxacts.sort_unstable();
        subxacts.dedup();
        WalTransaction {
            xid,
            timeline,
            outcome: match (&end, &self.prepared) {
                (Some(e), _) => e.outcome,
                (None, Some(_)) => WalOutcome::Prepared,
                (None, None) => WalOutcome::Unfinished,
            },
            first_lsn: format_lsn(self.first_lsn),
            end_lsn: end.as_ref().map(|e| format_lsn(e.lsn)),
            end_at: end.as_ref().and_then(|e| e.at),
            database_oid: self.database_oid,
            rows: self
                .rows
                .into_iter()
                .filter(|(f, _)| *f >= FIRST_NORMAL_OBJECT_ID)
                .map(|(relfilenode, (deleted, inserted))| WalRowChange {
                    relfilenode,
                    deleted,
                    inserted,
                })
                .collect(),
            locked_oids: self.locked.into_iter().collect(),
            created_files: self.created.into_keys().collect(),
            dropped_files: end
                .as_ref()
                .map(|e| e.dropped_files.clone())
                .unwrap_or_default(),
            dropped_stats: end
                .as_ref()
                .map(|e| e.dropped_stats.clone())
                .unwrap_or_default(),
            truncated_oids: self.truncated.into_iter().collect(),
            truncate_cascade: self.cascade,
            subxacts,
            prepared_lsn: self.prepared.as_ref().map(|p| format_lsn(p.lsn)),
            prepared_at: self.prepared.as_ref().and_then(|p| p.at),
            gid: self.prepared.and_then(|p| p.gid),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct FileTally {
    created_lsn: Option<u64>,
    inserted: u64,
    deleted: u64,
}

/// What one LSN range gives.
#[derive(Debug, Default)]
pub struct Part {
    finished: Vec<(u32, TxState)>,
    unfinished: HashMap<u32, TxState>,
    /// Transactions that ended here without anything interesting in this range (their end,
    /// and a PREPARE seen here): an earlier range may hold their records.
    outcomes: Vec<(u32, TxState)>,
    tally: HashMap<u32, FileTally>,
    pub records: u64,
    pub first_lsn: Option<u64>,
    pub last_lsn: Option<u64>,
}

/// Folds the records of one LSN range.
pub struct Grouper {
    states: HashMap<u32, TxState>,
    part: Part,
    /// Report the outcome of every xid below this (None: of every xid, until a RUNNING_XACTS
    /// record says which xids may have begun before the range).
    older_than: Option<u32>,
    /// The range starts where the scan starts: nothing began before it that we could miss.
    first_range: bool,
}

impl Grouper {
    pub fn new(first_range: bool) -> Self {
        Grouper {
            states: HashMap::new(),
            part: Part::default(),
            older_than: None,
            first_range,
        }
    }

    /// Folds one record as a source printed it (pg_waldump text, pg_walinspect row).
    pub fn record(&mut self, r: &WalRecord<'_>) {
        let event = match (r.rmgr, r.kind) {
            ("Heap", "DELETE") => {
                block_rel(r.block_ref).map(|(db, file)| Event::Delete { db, file })
            }
            ("Heap", "INSERT") | ("Heap", "INSERT+INIT") => {
                block_rel(r.block_ref).map(|(_, file)| Event::Insert { file, rows: 1 })
            }
            ("Heap2", "MULTI_INSERT") | ("Heap2", "MULTI_INSERT+INIT") => block_rel(r.block_ref)
                .map(|(_, file)| Event::Insert {
                    file,
                    // PostgreSQL 15 prints `61 tuples flags 0x02`, 16+ `ntuples: 61, …`.
                    rows: number_after(r.desc, "ntuples")
                        .or_else(|| r.desc.split_whitespace().next()?.parse().ok())
                        .unwrap_or(1),
                }),
            ("Heap", "TRUNCATE") => Some(Event::Truncate {
                cascade: r.desc.contains("cascade"),
                relids: numbers_after(r.desc, "relids"),
            }),
            ("Standby", "LOCK") => {
                // One record may list several locks: `xid X db D rel R` repeated.
                let mut locks = Vec::new();
                let mut rest = r.desc;
                while let Some((_, after)) = rest.split_once("xid ") {
                    rest = after;
                    let xid = leading_number(rest).unwrap_or(r.xid);
                    let db = number_after(rest, "db").unwrap_or(0);
                    if let Some(rel) = number_after(rest, "rel") {
                        locks.push((xid, db, rel));
                    }
                }
                Some(Event::Lock { locks })
            }
            ("Standby", "RUNNING_XACTS") => {
                number_after(r.desc, "nextXid").map(|next_xid| Event::RunningXacts { next_xid })
            }
            ("Storage", "CREATE") => path_rel(r.desc).map(|(db, file)| Event::Create { db, file }),
            ("Transaction", "PREPARE") => {
                // `gid NAME: 2026-12-02 05:52:14.491393 UTC; rels: …`: the time follows the last
                // `: ` of the first section (a gid may hold `: ` itself).
                let head = r.desc.split(';').next().unwrap_or("");
                let (gid, time) = match head.rsplit_once(": ") {
                    Some((gid, time)) => (gid.strip_prefix("gid "), time),
                    None => (None, head),
                };
                Some(Event::Prepare {
                    at: parse_time(time),
                    gid: gid.map(str::to_string),
                })
            }
            ("Transaction", "COMMIT")
            | ("Transaction", "ABORT")
            | ("Transaction", "COMMIT_PREPARED")
            | ("Transaction", "ABORT_PREPARED") => {
                let outcome = if r.kind.starts_with("COMMIT") {
                    WalOutcome::Committed
                } else {
                    WalOutcome::Aborted
                };
                // `COMMIT_PREPARED 760: 2026-12-02 05:52:14.492499 UTC; …`: the prepared xid first.
                let (prepared_xid, desc) = if r.kind.ends_with("_PREPARED") {
                    match r.desc.split_once(": ") {
                        Some((x, rest)) => (x.trim().parse().ok(), rest),
                        None => (None, r.desc),
                    }
                } else {
                    (None, r.desc)
                };
                let e = parse_end(outcome, r.lsn, desc);
                Some(Event::End {
                    outcome,
                    at: e.at,
                    dropped_files: e.dropped_files,
                    dropped_stats: e.dropped_stats,
                    subxacts: e.subxacts,
                    prepared_xid,
                })
            }
            _ => None,
        };
        match event {
            Some(e) => self.event(r.lsn, r.xid, e),
            None => self.seen(r.lsn),
        }
    }

    fn seen(&mut self, lsn: u64) {
        self.part.records += 1;
        if self.part.first_lsn.is_none() {
            self.part.first_lsn = Some(lsn);
        }
        self.part.last_lsn = Some(lsn);
    }

    /// Folds one decoded record.
    pub fn event(&mut self, lsn: u64, xid: u32, event: Event) {
        self.seen(lsn);
        match event {
            Event::Delete { db, file } => {
                let s = self.state(xid, lsn);
                s.database_oid = s.database_oid.or((db != 0).then_some(db));
                s.rows.entry(file).or_default().0 += 1;
            }
            Event::Insert { file, rows } => {
                if file >= FIRST_NORMAL_OBJECT_ID {
                    self.state(xid, lsn).rows.entry(file).or_default().1 += u64::from(rows);
                }
            }
            Event::Truncate { cascade, relids } => {
                let s = self.state(xid, lsn);
                s.cascade |= cascade;
                s.truncated.extend(relids);
            }
            Event::Lock { locks } => {
                for (lock_xid, db, rel) in locks {
                    if rel >= FIRST_NORMAL_OBJECT_ID && lock_xid != 0 {
                        let s = self.state(lock_xid, lsn);
                        s.locked.insert(rel);
                        s.database_oid = s.database_oid.or((db != 0).then_some(db));
                    }
                }
            }
            Event::RunningXacts { next_xid } => {
                if self.older_than.is_none() {
                    self.older_than = Some(next_xid);
                }
            }
            Event::Create { db, file } => {
                if file >= FIRST_NORMAL_OBJECT_ID && xid != 0 {
                    let s = self.state(xid, lsn);
                    s.created.entry(file).or_insert(lsn);
                    s.database_oid = s.database_oid.or((db != 0).then_some(db));
                }
            }
            Event::Prepare { at, gid } => {
                if xid != 0 {
                    self.state(xid, lsn).prepared = Some(Prepared { lsn, at, gid });
                }
            }
            Event::End {
                outcome,
                at,
                mut dropped_files,
                mut dropped_stats,
                subxacts,
                prepared_xid,
            } => {
                dropped_files.sort_unstable();
                dropped_files.dedup();
                dropped_stats.sort_unstable();
                dropped_stats.dedup();
                self.end(
                    prepared_xid.unwrap_or(xid),
                    End {
                        outcome,
                        lsn,
                        at,
                        dropped_files,
                        dropped_stats,
                        subxacts,
                    },
                );
            }
        }
    }

    fn state(&mut self, xid: u32, lsn: u64) -> &mut TxState {
        self.states.entry(xid).or_insert_with(|| TxState {
            first_lsn: lsn,
            ..TxState::default()
        })
    }

    fn end(&mut self, xid: u32, end: End) {
        let mut state = self.states.remove(&xid).unwrap_or_else(|| TxState {
            first_lsn: end.lsn,
            ..TxState::default()
        });
        // Committed subtransactions are part of the top transaction; an aborted one ended with
        // its own ABORT record already.
        for sub in &end.subxacts {
            if let Some(s) = self.states.remove(sub) {
                let mut s = s;
                s.end = None;
                state.absorb(s);
            }
        }
        let committed = end.outcome == WalOutcome::Committed;
        state.end = Some(end.clone());
        if committed {
            tally_commit(&mut self.part.tally, &state);
        }
        if state.interesting() {
            self.part.finished.push((xid, state));
        } else if !self.first_range && self.older_than.is_none_or(|t| xid < t) {
            self.part.outcomes.push((xid, state));
        }
    }

    pub fn finish(mut self) -> Part {
        self.part.unfinished = self.states;
        self.part
    }
}

fn tally_commit(tally: &mut HashMap<u32, FileTally>, state: &TxState) {
    for (file, (d, i)) in &state.rows {
        if *file >= FIRST_NORMAL_OBJECT_ID {
            let t = tally.entry(*file).or_default();
            t.deleted += d;
            t.inserted += i;
        }
    }
    for (file, lsn) in &state.created {
        let t = tally.entry(*file).or_default();
        t.created_lsn = Some(t.created_lsn.map_or(*lsn, |l| l.min(*lsn)));
    }
}

/// Joins the parts of consecutive LSN ranges (in LSN order) into transactions (sorted by end
/// LSN, unfinished last) and the tallies of the files they dropped or touched.
pub fn merge(parts: Vec<Part>, timeline: u32) -> (Vec<WalTransaction>, Vec<WalFile>) {
    let mut pending: HashMap<u32, TxState> = HashMap::new();
    let mut done: Vec<(u32, TxState)> = Vec::new();
    let mut tally: HashMap<u32, FileTally> = HashMap::new();
    for part in parts {
        for (file, t) in part.tally {
            let e = tally.entry(file).or_default();
            e.inserted += t.inserted;
            e.deleted += t.deleted;
            e.created_lsn = match (e.created_lsn, t.created_lsn) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        for (xid, state) in part.finished {
            let subs: Vec<u32> = state
                .end
                .as_ref()
                .map(|e| e.subxacts.clone())
                .unwrap_or_default();
            finish(&mut pending, &mut done, &mut tally, xid, state, &subs);
        }
        for (xid, state) in part.outcomes {
            let subs: Vec<u32> = state
                .end
                .as_ref()
                .map(|e| e.subxacts.clone())
                .unwrap_or_default();
            if pending.contains_key(&xid) || subs.iter().any(|s| pending.contains_key(s)) {
                finish(&mut pending, &mut done, &mut tally, xid, state, &subs);
            }
        }
        for (xid, state) in part.unfinished {
            pending.entry(xid).or_default().absorb(state);
        }
    }
    for (xid, state) in pending {
        if state.interesting() {
            done.push((xid, state));
        }
    }
    let mut transactions: Vec<WalTransaction> = done
        .into_iter()
        .map(|(xid, s)| s.into_transaction(xid, timeline))
        .collect();
    transactions.sort_by_key(|t| {
        (
            t.end_lsn
                .as_deref()
                .and_then(crate::evidence::parse_lsn)
                .unwrap_or(u64::MAX),
            t.xid,
        )
    });
    // Keep the tallies of files those transactions touched or dropped: that bounds the evidence.
    let wanted: BTreeSet<u32> = transactions
        .iter()
        .flat_map(|t| {
            t.dropped_files
                .iter()
                .copied()
                .chain(t.rows.iter().map(|r| r.relfilenode))
        })
        .collect();
    // And of every file created inside the range: a table created after a DROP names it.
    let created: BTreeSet<u32> = tally
        .iter()
        .filter(|(_, t)| t.created_lsn.is_some())
        .map(|(f, _)| *f)
        .collect();
    let files = wanted
        .into_iter()
        .chain(created)
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .filter_map(|f| {
            tally.get(&f).map(|t| WalFile {
                relfilenode: f,
                created_lsn: t.created_lsn.map(format_lsn),
                inserted: t.inserted,
                deleted: t.deleted,
            })
        })
        .collect();
    (transactions, files)
}

/// Ends `xid` with what the earlier ranges saw of it (and of its subtransactions).
fn finish(
    pending: &mut HashMap<u32, TxState>,
    done: &mut Vec<(u32, TxState)>,
    tally: &mut HashMap<u32, FileTally>,
    xid: u32,
    mut state: TxState,
    end_subxacts: &[u32],
) {
    let mut earlier = pending.remove(&xid).unwrap_or_default();
    for sub in end_subxacts {
        if let Some(s) = pending.remove(sub) {
            earlier.absorb(s);
        }
    }
    // What the earlier ranges saw was not yet tallied: it commits now.
    if state
        .end
        .as_ref()
        .is_some_and(|e| e.outcome == WalOutcome::Committed)
    {
        tally_commit(tally, &earlier);
    }
    let end = state.end.take();
    earlier.absorb(state);
    earlier.end = end;
    if earlier.interesting() {
        done.push((xid, earlier));
    }
}

/// `rel SPC/DB/FILE` in a block reference (main fork assumed for heap records).
fn block_rel(block_ref: &str) -> Option<(u32, u32)> {
    let (_, rest) = block_ref.split_once("rel ")?;
    let path = rest
        .split(|c: char| !(c.is_ascii_digit() || c == '/'))
        .next()?;
    let mut parts = path.split('/');
    let _spc = parts.next()?;
    let db = parts.next()?.parse().ok()?;
    let file = parts.next()?.parse().ok()?;
    Some((db, file))
}

/// `base/DB/FILE` (or `pg_tblspc/…/DB/FILE`): the last two components.
fn path_rel(path: &str) -> Option<(u32, u32)> {
    let token = path.split_whitespace().next()?;
    let mut it = token.rsplit('/');
    let file = it.next()?.parse().ok()?;
    let db = it.next()?.parse().ok()?;
    Some((db, file))
}

/// The first number after `word` (skipping `:`, spaces, `[`).
fn number_after(text: &str, word: &str) -> Option<u32> {
    let (_, rest) = text.split_once(word)?;
    leading_number(rest)
}

/// The number at the start of `text` (after any `:`, spaces, `[`).
fn leading_number(text: &str) -> Option<u32> {
    let rest = text.trim_start_matches([':', ' ', '[']);
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// All numbers after `word` up to the next `;` (a `relids 1 2 3` or `relids: [1, 2, 3]` list).
fn numbers_after(text: &str, word: &str) -> Vec<u32> {
    // `nrelids 2 relids …`: the word itself, not a longer one ending in it.
    let found = text.match_indices(word).find(|(i, _)| {
        text.get(..*i)
            .and_then(|before| before.chars().next_back())
            .is_none_or(|c| !c.is_ascii_alphanumeric())
    });
    let Some(rest) = found.and_then(|(i, w)| text.get(i + w.len()..)) else {
        return Vec::new();
    };
    let rest = rest.split(';').next().unwrap_or("");
    rest.split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// `2026-12-01 20:34:18.691352 UTC; rels: base/5/16395; subxacts: 728; dropped stats: 2/5/16395; …`
fn parse_end(outcome: WalOutcome, lsn: u64, desc: &str) -> End {
    let mut sections = desc.split(';');
    let at = sections.next().and_then(parse_time);
    let mut end = End {
        outcome,
        lsn,
        at,
        dropped_files: Vec::new(),
        dropped_stats: Vec::new(),
        subxacts: Vec::new(),
    };
    for section in sections {
        let section = section.trim();
        if let Some(rest) = section.strip_prefix("rels:") {
            end.dropped_files.extend(
                rest.split_whitespace()
                    .filter_map(|p| path_rel(p).map(|r| r.1)),
            );
        } else if let Some(rest) = section.strip_prefix("subxacts:") {
            end.subxacts.extend(
                rest.split_whitespace()
                    .filter_map(|n| n.parse::<u32>().ok()),
            );
        } else if let Some(rest) = section.strip_prefix("dropped stats:") {
            // `KIND/DB/OBJID`; kind 2 is a relation.
            end.dropped_stats
                .extend(rest.split_whitespace().filter_map(|s| {
                    let mut it = s.split('/');
                    let kind = it.next()?;
                    let _db = it.next()?;
                    let obj = it.next()?.parse::<u32>().ok()?;
                    (kind == "2").then_some(obj)
                }));
        }
    }
    end.dropped_files.sort_unstable();
    end.dropped_files.dedup();
    end.dropped_stats.sort_unstable();
    end.dropped_stats.dedup();
    end
}

/// pg_waldump (run with TZ=UTC) prints `… UTC`; pg_walinspect prints the session's offset.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(naive) = text.strip_suffix(" UTC") {
        return NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|t| t.and_utc());
    }
    DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses one line of `pg_waldump` output; `None` for lines that are not records.
pub fn parse_waldump_line(line: &str) -> Option<WalRecord<'_>> {
    // `rmgr: Heap        len (rec/tot):     59/    59, tx:        727, lsn: 0/0301A8B0, prev
    // 0/0301A878, desc: DELETE off: 3, …, blkref #0: rel 1663/5/16390 blk 0`
    let rest = line.strip_prefix("rmgr: ")?;
    let (rmgr, rest) = rest.split_once(' ')?;
    let (_, after_tx) = rest.split_once("tx:")?;
    let after_tx = after_tx.trim_start();
    let (xid, _) = after_tx.split_once(',')?;
    let xid = xid.trim().parse().ok()?;
    let (_, after_lsn) = after_tx.split_once("lsn: ")?;
    let (lsn, _) = after_lsn.split_once(',')?;
    let lsn = crate::evidence::parse_lsn(lsn)?;
    let (_, desc_all) = after_lsn.split_once("desc: ")?;
    let (kind, rest_desc) = desc_all.split_once(' ').unwrap_or((desc_all, ""));
    // The block references keep their `blkref #` (a pg_walinspect row's block_ref has it too).
    let (desc, block_ref) = match rest_desc
        .find("blkref #")
        .and_then(|i| rest_desc.split_at_checked(i))
    {
        Some((desc, block_ref)) => (desc.trim_end_matches([' ', ',']), block_ref),
        None => (rest_desc, ""),
    };
    Some(WalRecord {
        lsn,
        xid,
        rmgr,
        kind,
        desc,
        block_ref,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines as a real PostgreSQL 15.18 pg_waldump prints them (see pg-forensics.md).
    const DELETE_THEN_COMMIT: &str = "\
rmgr: Heap        len (rec/tot):     54/    54, tx:        725, lsn: 0/01543090, prev 0/01543058, desc: DELETE off 1 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/5/16395 blk 0
rmgr: Heap        len (rec/tot):     54/    54, tx:        725, lsn: 0/015430C8, prev 0/01543090, desc: DELETE off 2 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/5/16395 blk 0
rmgr: Transaction len (rec/tot):     46/    46, tx:        725, lsn: 0/01543100, prev 0/015430C8, desc: COMMIT 2026-12-01 20:34:18.689071 UTC
rmgr: Standby     len (rec/tot):     42/    42, tx:        726, lsn: 0/01543130, prev 0/01543100, desc: LOCK xid 726 db 5 rel 16390 
rmgr: Storage     len (rec/tot):     42/    42, tx:        726, lsn: 0/01543190, prev 0/01543160, desc: CREATE base/5/16403
rmgr: Heap        len (rec/tot):     46/    46, tx:        726, lsn: 0/01543938, prev 0/015438E8, desc: TRUNCATE cascade nrelids 2 relids 16390 16395
rmgr: Transaction len (rec/tot):     78/    78, tx:        726, lsn: 0/01543968, prev 0/01543938, desc: ABORT 2026-12-01 20:34:18.690088 UTC; rels: base/5/16403
rmgr: Heap        len (rec/tot):     59/    59, tx:        728, lsn: 0/015439E8, prev 0/015439B8, desc: INSERT off 6 flags 0x08, blkref #0: rel 1663/5/16390 blk 0
rmgr: Standby     len (rec/tot):     42/    42, tx:        727, lsn: 0/01543A68, prev 0/01543A28, desc: LOCK xid 727 db 5 rel 16395 
rmgr: Heap        len (rec/tot):     54/    54, tx:        727, lsn: 0/01543AD8, prev 0/01543A98, desc: DELETE off 4 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/5/2620 blk 0
rmgr: Transaction len (rec/tot):    685/   685, tx:        727, lsn: 0/01544A68, prev 0/01544900, desc: COMMIT 2026-12-01 20:34:18.691352 UTC; rels: base/5/16395; subxacts: 728; dropped stats: 2/5/16395; inval msgs: catcache 19
";

    fn run(lines: &str, split_after: Option<usize>) -> Vec<WalTransaction> {
        let all: Vec<&str> = lines.lines().collect();
        let cut = split_after.unwrap_or(all.len());
        let mut parts = Vec::new();
        for (i, chunk) in [&all[..cut], &all[cut..]].into_iter().enumerate() {
            let mut g = Grouper::new(i == 0);
            for l in chunk {
                if let Some(r) = parse_waldump_line(l) {
                    g.record(&r);
                }
            }
            parts.push(g.finish());
        }
        merge(parts, 1).0
    }

    #[test]
    fn a_delete_a_rolled_back_truncate_and_a_drop() {
        let txs = run(DELETE_THEN_COMMIT, None);
        assert_eq!(txs.len(), 3, "{txs:#?}");
        let delete = &txs[0];
        assert_eq!(delete.xid, 725);
        assert_eq!(delete.outcome, WalOutcome::Committed);
        assert_eq!(delete.end_lsn.as_deref(), Some("0/1543100"));
        assert_eq!(delete.rows[0].relfilenode, 16395);
        assert_eq!(delete.rows[0].deleted, 2);
        assert_eq!(
            delete.end_at.map(|t| t.to_rfc3339()),
            Some("2026-12-01T20:34:18.689071+00:00".to_string())
        );
        let truncate = &txs[1];
        assert_eq!(truncate.outcome, WalOutcome::Aborted);
        assert_eq!(truncate.truncated_oids, vec![16390, 16395]);
        assert!(truncate.truncate_cascade);
        let drop = &txs[2];
        assert_eq!(drop.xid, 727);
        assert_eq!(drop.dropped_files, vec![16395]);
        assert_eq!(drop.dropped_stats, vec![16395]);
        assert_eq!(drop.subxacts, vec![728]);
        // The subtransaction's insert is folded into the top transaction.
        assert!(
            drop.rows
                .iter()
                .any(|r| r.relfilenode == 16390 && r.inserted == 1)
        );
    }

    #[test]
    fn a_split_anywhere_gives_the_same_transactions() {
        let whole = run(DELETE_THEN_COMMIT, None);
        for cut in 1..DELETE_THEN_COMMIT.lines().count() {
            assert_eq!(
                run(DELETE_THEN_COMMIT, Some(cut)),
                whole,
                "split after line {cut}"
            );
        }
    }

    #[test]
    fn two_phase_commit_committed_rolled_back_and_in_doubt() {
        // As pg_waldump 15 prints them: the COMMIT/ABORT PREPARED record carries the prepared
        // transaction's xid in its description, its own xid is 0.
        const TWO_PHASE: &str = "\
rmgr: Heap        len (rec/tot):     54/    54, tx:        760, lsn: 0/01B9B300, prev 0/01B9B268, desc: DELETE off 1 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/5/16392 blk 0
rmgr: Transaction len (rec/tot):    250/   250, tx:        760, lsn: 0/01B9BB88, prev 0/01B9B300, desc: PREPARE gid p1: 2026-12-02 05:52:14.491393 UTC
rmgr: Heap        len (rec/tot):     54/    54, tx:        761, lsn: 0/01B9BC70, prev 0/01B9BB88, desc: DELETE off 2 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/5/16392 blk 0
rmgr: Transaction len (rec/tot):     66/    66, tx:          0, lsn: 0/01B9BCB0, prev 0/01B9BC70, desc: COMMIT_PREPARED 760: 2026-12-02 05:52:14.492499 UTC
rmgr: Transaction len (rec/tot):    250/   250, tx:        761, lsn: 0/01B9BF68, prev 0/01B9BCB0, desc: PREPARE gid p2: with: colon: 2026-12-02 05:52:14.494371 UTC
rmgr: Transaction len (rec/tot):     66/    66, tx:          0, lsn: 0/01B9C0A8, prev 0/01B9BF68, desc: ABORT_PREPARED 761: 2026-12-02 05:52:14.495473 UTC
rmgr: Heap        len (rec/tot):     54/    54, tx:        762, lsn: 0/01B9C100, prev 0/01B9C0A8, desc: DELETE off 3 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/5/16392 blk 0
rmgr: Transaction len (rec/tot):    250/   250, tx:        762, lsn: 0/01B9C5E0, prev 0/01B9C100, desc: PREPARE gid p3: 2026-12-02 05:52:14.496652 UTC
";
        let whole = run(TWO_PHASE, None);
        let by_xid = |x: u32| whole.iter().find(|t| t.xid == x).cloned();
        let committed = by_xid(760).expect("760");
        assert_eq!(committed.outcome, WalOutcome::Committed);
        assert_eq!(committed.end_lsn.as_deref(), Some("0/1B9BCB0"));
        assert_eq!(committed.prepared_lsn.as_deref(), Some("0/1B9BB88"));
        assert_eq!(committed.gid.as_deref(), Some("p1"));
        assert_eq!(committed.rows[0].deleted, 1);
        assert_eq!(
            committed.end_at.map(|t| t.to_rfc3339()),
            Some("2026-12-02T05:52:14.492499+00:00".to_string())
        );
        let rolled_back = by_xid(761).expect("761");
        assert_eq!(rolled_back.outcome, WalOutcome::Aborted);
        assert_eq!(rolled_back.gid.as_deref(), Some("p2: with: colon"));
        let in_doubt = by_xid(762).expect("762");
        assert_eq!(in_doubt.outcome, WalOutcome::Prepared);
        assert_eq!(in_doubt.end_lsn, None);
        assert_eq!(
            in_doubt.prepared_at.map(|t| t.to_rfc3339()),
            Some("2026-12-02T05:52:14.496652+00:00".to_string())
        );
        for cut in 1..TWO_PHASE.lines().count() {
            assert_eq!(run(TWO_PHASE, Some(cut)), whole, "split after line {cut}");
        }
    }

    #[test]
    fn pg_walinspect_offsets_parse() {
        assert_eq!(
            parse_time("2026-11-23 12:09:26.464602+00").map(|t| t.to_rfc3339()),
            Some("2026-11-23T12:09:26.464602+00:00".to_string())
        );
    }

    #[test]
    fn any_prefix_of_a_line_and_non_ascii_text_parse_without_a_panic() {
        let odd = "rmgr: Transaction len (rec/tot):    250/   250, tx:        770, lsn: 0/01B9BB88, prev 0/01B9B300, desc: PREPARE gid ünïcødé: ✓: 2026-12-02 05:52:14.491393 UTC";
        let delete = "rmgr: Heap        len (rec/tot):     54/    54, tx:        770, lsn: 0/01B9B300, prev 0/01B9B268, desc: DELETE off 1 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/5/16392 blk 0";
        let mut g = Grouper::new(true);
        for line in [delete, odd] {
            g.record(&parse_waldump_line(line).expect("a record"));
        }
        let txs = merge(vec![g.finish()], 1).0;
        assert_eq!(txs[0].gid.as_deref(), Some("ünïcødé: ✓"));
        for line in DELETE_THEN_COMMIT
            .lines()
            .chain([odd, "rmgr: é tx: é, lsn: é, desc: é é"])
        {
            let mut g = Grouper::new(true);
            for (cut, _) in line.char_indices() {
                if let Some(r) = parse_waldump_line(line.get(..cut).unwrap()) {
                    g.record(&r);
                }
            }
            let _ = g.finish();
        }
    }
}
