//! A native reader of WAL segments for the few record types a loss leaves (Heap DELETE, INSERT,
//! TRUNCATE, Heap2 MULTI_INSERT, Standby LOCK and RUNNING_XACTS, Storage CREATE, Transaction
//! COMMIT/ABORT): pg_waldump's text output costs five to ten times its own decoding, so the
//! default scan reads the records itself and hands `group::Event`s to the same grouping as the
//! pg_waldump and pg_walinspect sources (tests check the three agree). Every other record is
//! skipped by its length without being copied.
//!
//! The layout (access/xlogrecord.h, xlog_internal.h; the same in 13–17 except where noted):
//! pages of `xlp_xlog_blcksz` bytes, each with a 24-byte header (40 at a segment start) holding
//! the magic and the page's own LSN; records 8-byte aligned, split freely across pages; a record
//! is a 24-byte header (`xl_tot_len`, `xl_xid`, `xl_prev`, `xl_info`, `xl_rmid`, `xl_crc`), block
//! headers, then block images and data, then the main data at the very end. The end of the WAL
//! is where a page's LSN or a record's back link (`xl_prev`) stops matching.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::evidence::WalOutcome;
use crate::wal::group::{Event, Grouper};

const RM_XLOG: u8 = 0;
const RM_XACT: u8 = 1;
const RM_SMGR: u8 = 2;
const RM_STANDBY: u8 = 8;
const RM_HEAP2: u8 = 9;
const RM_HEAP: u8 = 10;
const XLOG_SWITCH: u8 = 0x40;
const XLOG_XACT_PREPARE: u8 = 0x10;
const XLOG_XACT_COMMIT_PREPARED: u8 = 0x30;
const XLOG_XACT_ABORT_PREPARED: u8 = 0x40;
const XLP_FIRST_IS_CONTRECORD: u16 = 0x0001;
const RECORD_HEADER: usize = 24;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// One contiguous run of plain segment files and how to read it.
pub struct Run<'a> {
    /// The run's files in segment order (`files[i]` holds segment `first_segno + i`).
    pub files: &'a [PathBuf],
    pub first_segno: u64,
    pub segment_size: u64,
    pub block_size: u64,
    pub major: u32,
}

struct Reader<'a> {
    run: &'a Run<'a>,
    /// The loaded segment (index into `run.files`) and its bytes.
    loaded: Option<usize>,
    segment: Vec<u8>,
    /// LSN of the next byte to read; never inside a page header once positioned.
    pos: u64,
}

/// Why reading stopped before `stop`: `None` at the end of the WAL, as pg_waldump would.
type Stop = Option<String>;

impl<'a> Reader<'a> {
    fn byte_at(&mut self, lsn: u64) -> Result<Option<u8>, String> {
        let seg = lsn / self.run.segment_size;
        let Some(index) = seg.checked_sub(self.run.first_segno).map(|i| i as usize) else {
            return Ok(None);
        };
        let Some(path) = self.run.files.get(index) else {
            return Ok(None);
        };
        if self.loaded != Some(index) {
            self.segment.clear();
            File::open(path)
                .and_then(|mut f| f.read_to_end(&mut self.segment))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            self.loaded = Some(index);
        }
        Ok(self
            .segment
            .get((lsn % self.run.segment_size) as usize)
            .copied())
    }

    fn slice(&mut self, lsn: u64, len: usize) -> Result<Option<&[u8]>, String> {
        // Make sure the segment holding `lsn` is loaded (the slice never crosses a page).
        if self.byte_at(lsn)?.is_none() {
            return Ok(None);
        }
        let off = (lsn % self.run.segment_size) as usize;
        Ok(self.segment.get(off..off.saturating_add(len)))
    }

    /// `N` bytes at `lsn` as an array, so fixed-layout headers are read at constant offsets the
    /// compiler checks; `None` past the end of a (truncated) segment.
    fn array<const N: usize>(&mut self, lsn: u64) -> Result<Option<&[u8; N]>, String> {
        Ok(self.slice(lsn, N)?.and_then(|b| b.first_chunk::<N>()))
    }

    fn header_size(&self, page: u64) -> u64 {
        if page.is_multiple_of(self.run.segment_size) {
            40
        } else {
            24
        }
    }

    /// Checks the page header at `page` (its LSN and magic); returns (info, rem_len).
    fn page_header(&mut self, page: u64) -> Result<Option<(u16, u32)>, String> {
        // XLogPageHeaderData: magic, info, timeline, pageaddr, rem_len (and 4 bytes of padding),
        // read at constant offsets into the array (checked when compiled).
        let Some(h) = self.array::<24>(page)? else {
            return Ok(None);
        };
        let magic = u16::from_le_bytes([h[0], h[1]]);
        let info = u16::from_le_bytes([h[2], h[3]]);
        let addr = u64::from_le_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]);
        let rem = u32::from_le_bytes([h[16], h[17], h[18], h[19]]);
        if addr != page || crate::wal::segment::major_of_magic(magic).is_none() {
            return Ok(None);
        }
        Ok(Some((info, rem)))
    }

    /// Positions on the first record that starts at or after a segment start, skipping the
    /// tail of a record continued from the previous segment.
    fn find_first(&mut self, segment_start: u64) -> Result<bool, String> {
        let mut page = segment_start;
        loop {
            let Some((info, rem)) = self.page_header(page)? else {
                return Ok(false);
            };
            let hdr = self.header_size(page);
            if info & XLP_FIRST_IS_CONTRECORD == 0 {
                self.pos = page + hdr;
                return Ok(true);
            }
            let room = self.run.block_size - hdr;
            if u64::from(rem) >= room {
                page += self.run.block_size;
                continue;
            }
            self.pos = page + hdr + maxalign(u64::from(rem));
            if self.pos.is_multiple_of(self.run.block_size) {
                page = self.pos;
                continue;
            }
            return Ok(true);
        }
    }

    /// Copies `len` record bytes from `self.pos` on (skipping page headers) into `out`, or just
    /// advances when `out` is None. False at the end of the WAL.
    fn take(&mut self, mut len: usize, mut out: Option<&mut Vec<u8>>) -> Result<bool, String> {
        while len > 0 {
            if self.pos.is_multiple_of(self.run.block_size) {
                let Some((info, _)) = self.page_header(self.pos)? else {
                    return Ok(false);
                };
                if info & XLP_FIRST_IS_CONTRECORD == 0 {
                    return Ok(false);
                }
                self.pos += self.header_size(self.pos);
            }
            let in_page = (self.run.block_size - self.pos % self.run.block_size) as usize;
            let n = in_page.min(len);
            if let Some(buf) = out.as_deref_mut() {
                let pos = self.pos;
                let Some(bytes) = self.slice(pos, n)? else {
                    return Ok(false);
                };
                buf.extend_from_slice(bytes);
            } else if self.byte_at(self.pos + n as u64 - 1)?.is_none() {
                return Ok(false);
            }
            self.pos += n as u64;
            len -= n;
        }
        Ok(true)
    }
}

fn maxalign(n: u64) -> u64 {
    (n + 7) & !7
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn i64_at(b: &[u8], i: usize) -> Option<i64> {
    Some(i64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?))
}

/// Reads the records that start in `[from, stop)` (a segment start, and a segment start or the
/// end of the run) into `grouper`. Returns why it stopped early, if it did.
pub fn decode_part(run: &Run<'_>, from: u64, stop: u64, grouper: &mut Grouper) -> Stop {
    let loss_rmgrs = |rmid: u8| matches!(rmid, RM_XACT | RM_SMGR | RM_STANDBY | RM_HEAP2 | RM_HEAP);
    walk(
        run,
        from,
        stop,
        loss_rmgrs,
        |start, xid, info, rmid, record| {
            if let Some(event) = decode_record(record, info, rmid, run.major) {
                grouper.event(start, xid, event);
            }
            true
        },
    )
}

/// What the first records after a segment start say about time and running transactions:
/// enough to place the segment in the incident window without decoding the rest of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Probe {
    /// The time of the first COMMIT, ABORT or PREPARE record.
    pub first_time: Option<DateTime<Utc>>,
    /// The first standby snapshot (`Standby RUNNING_XACTS`, logged at each checkpoint and
    /// every 15 s of activity): its LSN, `nextXid` and `oldestRunningXid`.
    pub running: Option<RunningXacts>,
    /// The latest COMMIT/ABORT/PREPARE time seen before that snapshot.
    pub last_time_before_running: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunningXacts {
    pub lsn: u64,
    pub next_xid: u32,
    pub oldest_running_xid: u32,
}

/// Reads from the segment start `from` until it has seen a timed record and a standby
/// snapshot, or `limit` bytes of WAL.
pub fn probe(run: &Run<'_>, from: u64, limit: u64) -> Probe {
    let mut p = Probe::default();
    let stop = from.saturating_add(limit);
    // Only transaction and standby records are copied: a probe costs little more than reading.
    let timed = |rmid: u8| matches!(rmid, RM_XACT | RM_STANDBY);
    walk(run, from, stop, timed, |start, _xid, info, rmid, record| {
        match rmid {
            RM_XACT if matches!(info & 0x70, 0x00 | 0x10 | 0x20 | 0x30 | 0x40) => {
                let at = match decode_record(record, info, rmid, run.major) {
                    Some(Event::End { at, .. }) | Some(Event::Prepare { at, .. }) => at,
                    _ => None,
                };
                if p.first_time.is_none() {
                    p.first_time = at;
                }
                if p.running.is_none() && at.is_some() {
                    p.last_time_before_running = p.last_time_before_running.max(at);
                }
            }
            RM_STANDBY if info & 0xF0 == 0x10 && p.running.is_none() => {
                // xl_running_xacts: xcnt, subxcnt, subxid_overflow, nextXid, oldestRunningXid.
                if let Some((_, main)) = layout(record, run.major)
                    && let (Some(next_xid), Some(oldest_running_xid)) =
                        (u32_at(main, 12), u32_at(main, 16))
                {
                    p.running = Some(RunningXacts {
                        lsn: start,
                        next_xid,
                        oldest_running_xid,
                    });
                }
            }
            _ => {}
        }
        p.first_time.is_none() || p.running.is_none()
    });
    p
}

/// Reads the records that start in `[from, stop)`, handing those of the resource managers a
/// loss involves to `visit` (LSN, xid, info, rmid, the whole record) until it returns false.
fn walk(
    run: &Run<'_>,
    from: u64,
    stop: u64,
    wanted: impl Fn(u8) -> bool,
    mut visit: impl FnMut(u64, u32, u8, u8, &[u8]) -> bool,
) -> Stop {
    let mut reader = Reader {
        run,
        loaded: None,
        segment: Vec::with_capacity(run.segment_size as usize),
        pos: from,
    };
    match reader.find_first(from) {
        Ok(true) => {}
        Ok(false) => {
            return Some(format!(
                "no WAL page at {}",
                crate::evidence::format_lsn(from)
            ));
        }
        Err(e) => return Some(e),
    }
    let mut prev: Option<u64> = None;
    let mut record = Vec::with_capacity(8192);
    loop {
        // Records start 8-aligned; one that would start at a page boundary starts after its
        // header.
        reader.pos = maxalign(reader.pos);
        if reader.pos.is_multiple_of(run.block_size) {
            match reader.page_header(reader.pos) {
                Ok(Some(_)) => reader.pos += reader.header_size(reader.pos),
                Ok(None) => return None,
                Err(e) => return Some(e),
            }
        }
        let start = reader.pos;
        if start >= stop {
            return None;
        }
        record.clear();
        match reader.take(RECORD_HEADER, Some(&mut record)) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(e),
        }
        // XLogRecord: xl_tot_len, xl_xid, xl_prev, xl_info, xl_rmid, 2 bytes of padding, xl_crc;
        // `take` copied all 24 bytes or returned false above.
        let Some(h) = record.first_chunk::<RECORD_HEADER>() else {
            return Some(format!(
                "a WAL record header at {} is shorter than {RECORD_HEADER} bytes",
                crate::evidence::format_lsn(start)
            ));
        };
        let tot_len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let xid = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let xl_prev = u64::from_le_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]);
        let (info, rmid) = (h[16], h[17]);
        // XLogRecordMaxSize: no real record is longer.
        const MAX_RECORD: usize = 1020 * 1024 * 1024;
        if !(RECORD_HEADER..=MAX_RECORD).contains(&tot_len) || prev.is_some_and(|p| p != xl_prev) {
            return None; // the end of the WAL: zeros, or an older segment's leftovers
        }
        let wanted = wanted(rmid);
        let rest = tot_len - RECORD_HEADER;
        let ok = if wanted {
            reader.take(rest, Some(&mut record))
        } else {
            reader.take(rest, None)
        };
        match ok {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(e),
        }
        prev = Some(start);
        if rmid == RM_XLOG && info & 0xF0 == XLOG_SWITCH {
            // The rest of the segment is unused: the next record starts the next segment.
            let next = (start / run.segment_size + 1) * run.segment_size;
            match reader.find_first(next) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(e),
            }
            continue;
        }
        if wanted && !visit(start, xid, info, rmid, &record) {
            return None;
        }
    }
}

/// The first block reference's relation: (database, relfilenode, fork).
type BlockRel = (u32, u32, u8);

/// The block references' first relation and the main data of a whole record.
fn layout(record: &[u8], major: u32) -> Option<(Option<BlockRel>, &[u8])> {
    let tot = record.len();
    let mut off = RECORD_HEADER;
    let mut payload = 0usize;
    let mut main_len = 0usize;
    let mut first_rel: Option<BlockRel> = None;
    while tot - off > payload {
        let id = *record.get(off)?;
        match id {
            255 => {
                main_len = usize::from(*record.get(off + 1)?);
                payload += main_len;
                off += 2;
            }
            254 => {
                main_len = u32_at(record, off + 1)? as usize;
                payload += main_len;
                off += 5;
            }
            253 => off += 3,
            252 => off += 5,
            0..=32 => {
                let fork_flags = *record.get(off + 1)?;
                payload += usize::from(u16_at(record, off + 2)?);
                off += 4;
                if fork_flags & 0x10 != 0 {
                    let bimg_len = u16_at(record, off)?;
                    let bimg_info = *record.get(off + 4)?;
                    payload += usize::from(bimg_len);
                    off += 5;
                    let compressed = if major >= 15 {
                        bimg_info & (0x04 | 0x08 | 0x10) != 0
                    } else {
                        bimg_info & 0x02 != 0
                    };
                    if bimg_info & 0x01 != 0 && compressed {
                        off += 2;
                    }
                }
                if fork_flags & 0x80 == 0 {
                    let db = u32_at(record, off + 4)?;
                    let rel = u32_at(record, off + 8)?;
                    if first_rel.is_none() {
                        first_rel = Some((db, rel, fork_flags & 0x0F));
                    }
                    off += 12;
                }
                off += 4;
            }
            _ => return None,
        }
        if off > tot {
            return None;
        }
    }
    let main = record.get(tot.checked_sub(main_len)?..)?;
    Some((first_rel, main))
}

fn decode_record(record: &[u8], info: u8, rmid: u8, major: u32) -> Option<Event> {
    let (rel, main) = layout(record, major)?;
    match rmid {
        RM_HEAP => match info & 0x70 {
            0x10 => rel.map(|(db, file, _)| Event::Delete { db, file }),
            0x00 => rel.map(|(_, file, _)| Event::Insert { file, rows: 1 }),
            0x30 => {
                let n = u32_at(main, 4)? as usize;
                let flags = *main.get(8)?;
                // A count larger than the record (corrupt WAL) stops at the record's end.
                let relids = (0..n).map_while(|i| u32_at(main, 12 + 4 * i)).collect();
                Some(Event::Truncate {
                    cascade: flags & 0x01 != 0,
                    relids,
                })
            }
            _ => None,
        },
        RM_HEAP2 if info & 0x70 == 0x50 => rel.map(|(_, file, _)| Event::Insert {
            file,
            rows: u32::from(u16_at(main, 2).unwrap_or(1)),
        }),
        RM_STANDBY => match info & 0xF0 {
            0x00 => {
                let n = u32_at(main, 0)? as usize;
                let locks = (0..n)
                    .map_while(|i| {
                        let o = 4 + 12 * i;
                        Some((u32_at(main, o)?, u32_at(main, o + 4)?, u32_at(main, o + 8)?))
                    })
                    .collect();
                Some(Event::Lock { locks })
            }
            0x10 => u32_at(main, 12).map(|next_xid| Event::RunningXacts { next_xid }),
            _ => None,
        },
        RM_SMGR if info & 0xF0 == 0x10 => {
            let fork = u32_at(main, 12)?;
            (fork == 0).then_some(Event::Create {
                db: u32_at(main, 4)?,
                file: u32_at(main, 8)?,
            })
        }
        RM_XACT if info & 0x70 == XLOG_XACT_PREPARE => {
            // xl_xact_prepare: magic, total_len, xid, database, prepared_at (8-aligned at 16),
            // owner, the counts, initfileinval, gidlen; the gid follows the header (72 bytes in
            // 15+, which added the two stats counts; 64 before).
            let at = i64_at(main, 16)
                .and_then(|t| t.checked_add(PG_EPOCH_US))
                .and_then(DateTime::<Utc>::from_timestamp_micros);
            let (gidlen_at, header) = if major >= 15 { (54, 72) } else { (46, 64) };
            let gidlen = usize::from(u16_at(main, gidlen_at).unwrap_or(0));
            let gid = main
                .get(header..header + gidlen)
                .map(|g| g.split(|b| *b == 0).next().unwrap_or(g))
                .map(|g| String::from_utf8_lossy(g).into_owned());
            Some(Event::Prepare { at, gid })
        }
        RM_XACT => {
            let outcome = match info & 0x70 {
                0x00 | XLOG_XACT_COMMIT_PREPARED => WalOutcome::Committed,
                0x20 | XLOG_XACT_ABORT_PREPARED => WalOutcome::Aborted,
                _ => return None,
            };
            let commit = info & 0x70 == 0x00 || info & 0x70 == XLOG_XACT_COMMIT_PREPARED;
            let time = i64_at(main, 0)?;
            let at = DateTime::<Utc>::from_timestamp_micros(time.checked_add(PG_EPOCH_US)?);
            let (xinfo, mut off) = if info & 0x80 != 0 {
                (u32_at(main, 8)?, 12usize)
            } else {
                (0, 8usize)
            };
            if xinfo & 0x01 != 0 {
                off += 8;
            }
            let mut subxacts = Vec::new();
            if xinfo & 0x02 != 0 {
                let n = u32_at(main, off)? as usize;
                subxacts = (0..n)
                    .map_while(|i| u32_at(main, off + 4 + 4 * i))
                    .collect();
                off += 4 + 4 * n;
            }
            let mut dropped_files = Vec::new();
            if xinfo & 0x04 != 0 {
                let n = u32_at(main, off)? as usize;
                dropped_files = (0..n)
                    .map_while(|i| u32_at(main, off + 4 + 12 * i + 8))
                    .collect();
                off += 4 + 12 * n;
            }
            let mut dropped_stats = Vec::new();
            if major >= 15 && xinfo & 0x100 != 0 {
                // xl_xact_stats_item: kind, database, object id (two uint32 halves in 18+,
                // where pgstat object ids became 64-bit; one uint32 before).
                let item = if major >= 18 { 16 } else { 12 };
                let n = u32_at(main, off)? as usize;
                dropped_stats = (0..n)
                    .map_while(|i| {
                        let o = off + 4 + item * i;
                        Some((u32_at(main, o)?, u32_at(main, o + 8)?))
                    })
                    .filter_map(|(kind, object)| (kind == 2).then_some(object))
                    .collect();
                off += 4 + item * n;
            }
            // Invalidation messages (16 bytes each; commits only), then the prepared xid of a
            // COMMIT/ABORT PREPARED (ParseCommitRecord / ParseAbortRecord order).
            if commit && xinfo & 0x08 != 0 {
                let n = u32_at(main, off)? as usize;
                off += 4 + 16 * n;
            }
            let prepared_xid = if xinfo & 0x10 != 0 {
                u32_at(main, off)
            } else {
                None
            };
            Some(Event::End {
                outcome,
                at,
                dropped_files,
                dropped_stats,
                subxacts,
                prepared_xid,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record: the 24-byte header, a short main-data header, the main data.
    fn record(rmid: u8, info: u8, xid: u32, main: &[u8]) -> Vec<u8> {
        let tot = RECORD_HEADER + 2 + main.len();
        let mut r = Vec::new();
        r.extend_from_slice(&(tot as u32).to_le_bytes());
        r.extend_from_slice(&xid.to_le_bytes());
        r.extend_from_slice(&0u64.to_le_bytes());
        r.push(info);
        r.push(rmid);
        r.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        r.push(255);
        r.push(main.len() as u8);
        r.extend_from_slice(main);
        r
    }

    #[test]
    fn a_commit_with_subxacts_unlinked_files_and_dropped_stats() {
        let mut main = Vec::new();
        // 2026-12-01 20:34:18.691352 UTC in microseconds since 2000-01-01.
        let at = DateTime::parse_from_rfc3339("2026-12-01T20:34:18.691352Z")
            .map(|t| t.timestamp_micros())
            .unwrap_or(0)
            - PG_EPOCH_US;
        main.extend_from_slice(&at.to_le_bytes());
        main.extend_from_slice(&(0x01u32 | 0x02 | 0x04 | 0x100).to_le_bytes());
        main.extend_from_slice(&[5, 0, 0, 0, 0x7f, 6, 0, 0]); // dbinfo
        main.extend_from_slice(&1u32.to_le_bytes());
        main.extend_from_slice(&728u32.to_le_bytes()); // subxacts
        main.extend_from_slice(&1u32.to_le_bytes());
        for v in [1663u32, 5, 16395] {
            main.extend_from_slice(&v.to_le_bytes()); // rels
        }
        main.extend_from_slice(&1u32.to_le_bytes());
        for v in [2u32, 5, 16395] {
            main.extend_from_slice(&v.to_le_bytes()); // dropped stats
        }
        let r = record(RM_XACT, 0x80, 727, &main);
        let Some(Event::End {
            outcome,
            at,
            dropped_files,
            dropped_stats,
            subxacts,
            ..
        }) = decode_record(&r, 0x80, RM_XACT, 15)
        else {
            panic!("not a commit");
        };
        assert_eq!(outcome, WalOutcome::Committed);
        assert_eq!(
            at.map(|t| t.to_rfc3339()),
            Some("2026-12-01T20:34:18.691352+00:00".to_string())
        );
        assert_eq!(
            (dropped_files, dropped_stats, subxacts),
            (vec![16395], vec![16395], vec![728])
        );
    }

    #[test]
    fn a_truncate_and_a_lock() {
        let mut main = Vec::new();
        for v in [5u32, 2] {
            main.extend_from_slice(&v.to_le_bytes());
        }
        main.extend_from_slice(&[1, 0, 0, 0]); // flags: cascade, padding
        for v in [16390u32, 16395] {
            main.extend_from_slice(&v.to_le_bytes());
        }
        let r = record(RM_HEAP, 0x30, 726, &main);
        assert_eq!(
            decode_record(&r, 0x30, RM_HEAP, 15),
            Some(Event::Truncate {
                cascade: true,
                relids: vec![16390, 16395]
            })
        );
        let mut main = 1u32.to_le_bytes().to_vec();
        for v in [726u32, 5, 16390] {
            main.extend_from_slice(&v.to_le_bytes());
        }
        let r = record(RM_STANDBY, 0x00, 0, &main);
        assert_eq!(
            decode_record(&r, 0x00, RM_STANDBY, 15),
            Some(Event::Lock {
                locks: vec![(726, 5, 16390)]
            })
        );
    }

    /// A segment as PostgreSQL writes one: `BLCKSZ`-byte pages, a long page header on the
    /// first, short ones after (`XLP_FIRST_IS_CONTRECORD` where a record runs on), records
    /// 8-aligned and chained by `xl_prev`. The segment is number 1 (LSN `SEG`).
    const SEG: u64 = 64 * 1024;
    const BLCKSZ: u64 = 8192;

    fn page_header(page: u64, contrecord: bool, rem: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&0xD110u16.to_le_bytes()); // PostgreSQL 15
        h.extend_from_slice(&u16::from(contrecord).to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes()); // timeline
        h.extend_from_slice(&page.to_le_bytes());
        h.extend_from_slice(&rem.to_le_bytes());
        h.extend_from_slice(&[0; 4]);
        if page.is_multiple_of(SEG) {
            h.extend_from_slice(&7_000_000_000_000_000_000u64.to_le_bytes());
            h.extend_from_slice(&(SEG as u32).to_le_bytes());
            h.extend_from_slice(&(BLCKSZ as u32).to_le_bytes());
        }
        h
    }

    /// The segment and the length of its records (the rest is zeros).
    fn segment(records: &[Vec<u8>]) -> (Vec<u8>, usize) {
        let mut seg = page_header(SEG, false, 0);
        let mut prev = 0u64;
        for r in records {
            while !seg.len().is_multiple_of(8) {
                seg.push(0);
            }
            if (seg.len() as u64).is_multiple_of(BLCKSZ) {
                seg.extend(page_header(SEG + seg.len() as u64, false, 0));
            }
            let start = SEG + seg.len() as u64;
            let mut r = r.clone();
            r[8..16].copy_from_slice(&prev.to_le_bytes());
            prev = start;
            for (i, b) in r.iter().enumerate() {
                if (seg.len() as u64).is_multiple_of(BLCKSZ) {
                    let rem = (r.len() - i) as u32;
                    seg.extend(page_header(SEG + seg.len() as u64, true, rem));
                }
                seg.push(*b);
            }
        }
        let used = seg.len();
        seg.resize(SEG as usize, 0);
        (seg, used)
    }

    /// A Heap DELETE of a tuple of relation `rel` in database 5 (one block reference).
    fn delete(xid: u32, rel: u32) -> Vec<u8> {
        let mut r = record(RM_HEAP, 0x10, xid, &[1, 0, 0, 0, 0, 0, 0, 0]);
        // Block reference 0: main fork, no image, no data; tablespace, database, relation,
        // block number. Before the main-data header.
        let mut block = vec![0u8, 0, 0, 0];
        for v in [1663u32, 5, rel, 0] {
            block.extend_from_slice(&v.to_le_bytes());
        }
        r.splice(RECORD_HEADER..RECORD_HEADER, block);
        let tot = r.len() as u32;
        r[0..4].copy_from_slice(&tot.to_le_bytes());
        r
    }

    fn commit(xid: u32) -> Vec<u8> {
        record(RM_XACT, 0x00, xid, &86_400_000_000i64.to_le_bytes())
    }

    /// A record no loss leaves (an XLOG FPI-sized one): skipped by its length, across pages.
    fn filler(len: usize) -> Vec<u8> {
        let main = vec![0xAB; len];
        let tot = RECORD_HEADER + 5 + len;
        let mut r = Vec::new();
        r.extend_from_slice(&(tot as u32).to_le_bytes());
        r.extend_from_slice(&[0; 12]);
        r.push(0xB0); // XLOG_FPI_FOR_HINT: not a switch
        r.push(RM_XLOG);
        r.extend_from_slice(&[0; 6]);
        r.push(254);
        r.extend_from_slice(&(len as u32).to_le_bytes());
        r.extend_from_slice(&main);
        r
    }

    /// Decodes `bytes` as segment 1 of a run (a file in `dir`); the stop reason and the
    /// transactions.
    fn scan(dir: &std::path::Path, bytes: &[u8]) -> (Stop, Vec<crate::evidence::WalTransaction>) {
        let path = dir.join("000000010000000000000001");
        std::fs::write(&path, bytes).expect("write");
        let files = [path];
        let run = Run {
            files: &files,
            first_segno: 1,
            segment_size: SEG,
            block_size: BLCKSZ,
            major: 15,
        };
        let mut grouper = Grouper::new(true);
        let stop = decode_part(&run, SEG, 2 * SEG, &mut grouper);
        (stop, crate::wal::group::merge(vec![grouper.finish()], 1).0)
    }

    fn the_records() -> Vec<Vec<u8>> {
        vec![
            filler(9000),
            delete(740, 16400),
            filler(300),
            delete(740, 16400),
            commit(740),
        ]
    }

    #[test]
    fn a_segment_with_records_across_pages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (stop, txs) = scan(dir.path(), &segment(&the_records()).0);
        assert_eq!(stop, None);
        assert_eq!(txs.len(), 1, "{txs:#?}");
        assert_eq!(txs[0].xid, 740);
        assert_eq!(txs[0].outcome, WalOutcome::Committed);
        assert_eq!(
            (txs[0].rows[0].relfilenode, txs[0].rows[0].deleted),
            (16400, 2)
        );
    }

    #[test]
    fn a_truncated_segment_ends_the_read_never_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (seg, used) = segment(&the_records());
        // Every cut in the headers and the records that matter; inside the fillers, a sample.
        let cuts = (0..64)
            .chain((64..used).step_by(37))
            .chain(used.saturating_sub(400)..=used);
        for cut in cuts {
            let (stop, txs) = scan(dir.path(), &seg[..cut]);
            if cut < 24 {
                // Not even a page header: said, not guessed at.
                assert!(
                    stop.as_deref()
                        .is_some_and(|s| s.starts_with("no WAL page at")),
                    "cut at {cut}: {stop:?}"
                );
            }
            // Until the COMMIT is whole the deletes are an unfinished transaction, never a
            // committed one.
            let committed = txs.iter().any(|t| t.outcome == WalOutcome::Committed);
            assert_eq!(committed, cut == used, "cut at {cut}: {txs:#?}");
        }
    }

    /// xorshift64*: reproducible corruption without a dependency.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    #[test]
    fn corrupt_bytes_in_a_segment_never_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (clean, used) = segment(&the_records());
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..300 {
            let mut seg = clean.clone();
            for _ in 0..=next(&mut rng) % 4 {
                let at = (next(&mut rng) % used as u64) as usize;
                seg[at] = next(&mut rng) as u8;
            }
            // Whatever the damage: a stop reason or the end of the WAL, and some transactions.
            let _ = scan(dir.path(), &seg);
        }
    }

    #[test]
    fn short_and_corrupt_records_decode_to_nothing_never_a_panic() {
        let mut main = Vec::new();
        main.extend_from_slice(&86_400_000_000i64.to_le_bytes());
        main.extend_from_slice(&(0x01u32 | 0x02 | 0x04 | 0x08 | 0x10 | 0x100).to_le_bytes());
        main.extend_from_slice(&[5, 0, 0, 0, 0x7f, 6, 0, 0]);
        for v in [2u32, 728, 729, 1, 1663, 5, 16395, 1, 2, 5, 16395, 0, 760] {
            main.extend_from_slice(&v.to_le_bytes());
        }
        let samples = [
            record(RM_XACT, 0x80, 727, &main),
            record(RM_XACT, 0x10, 727, &[0; 90]),
            delete(740, 16400),
            record(RM_HEAP, 0x30, 1, &[5, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0]),
            record(RM_STANDBY, 0x10, 0, &[0; 24]),
            record(RM_SMGR, 0x10, 1, &[0; 16]),
        ];
        let mut rng = 0xDEAD_BEEF_u64;
        for sample in &samples {
            for cut in RECORD_HEADER..sample.len() {
                let short = &sample[..cut];
                for (rmid, info) in [
                    (RM_XACT, 0x80),
                    (RM_XACT, 0x10),
                    (RM_XACT, 0xA0),
                    (RM_HEAP, 0x10),
                    (RM_HEAP, 0x30),
                    (RM_HEAP2, 0x50),
                    (RM_STANDBY, 0x00),
                    (RM_STANDBY, 0x10),
                    (RM_SMGR, 0x10),
                ] {
                    for major in [13, 15, 18] {
                        let _ = decode_record(short, info, rmid, major);
                    }
                }
            }
            for _ in 0..200 {
                let mut bad = sample.clone();
                let at = RECORD_HEADER + (next(&mut rng) as usize) % (bad.len() - RECORD_HEADER);
                bad[at] = next(&mut rng) as u8;
                let _ = decode_record(&bad, bad[16], bad[17], 15);
            }
        }
    }

    #[test]
    fn a_count_larger_than_the_record_stops_at_its_end() {
        // A TRUNCATE claiming 4 billion relids holds two: those two, at once.
        let mut main = Vec::new();
        for v in [5u32, u32::MAX] {
            main.extend_from_slice(&v.to_le_bytes());
        }
        main.extend_from_slice(&[0, 0, 0, 0]);
        for v in [16390u32, 16395] {
            main.extend_from_slice(&v.to_le_bytes());
        }
        let r = record(RM_HEAP, 0x30, 726, &main);
        let started = std::time::Instant::now();
        assert_eq!(
            decode_record(&r, 0x30, RM_HEAP, 15),
            Some(Event::Truncate {
                cascade: false,
                relids: vec![16390, 16395]
            })
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
