//! WAL segment files as archivers leave them: the 24-hex-digit names (timeline, segment
//! number), plain or compressed (`.gz`, `.zst`, `.lz4`), and the long page header at the start
//! of each, which gives the major version (the page magic), the system identifier and the
//! segment size. Nothing here runs pg_waldump.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::UserError;

/// The XLOG page magic of each major version (`XLOG_PAGE_MAGIC` in xlog_internal.h).
const MAGICS: &[(u16, u32)] = &[
    (0xD101, 12),
    (0xD106, 13),
    (0xD10D, 14),
    (0xD110, 15),
    (0xD113, 16),
    (0xD116, 17),
    (0xD118, 18),
];

pub fn major_of_magic(magic: u16) -> Option<u32> {
    MAGICS.iter().find(|(m, _)| *m == magic).map(|(_, v)| *v)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Lz4,
}

/// One segment file found in the directory.
#[derive(Debug, Clone)]
pub struct SegmentFile {
    pub path: PathBuf,
    /// The 24-hex-digit name, without the compression suffix.
    pub name: String,
    pub timeline: u32,
    /// `log * (4 GiB / segment size) + seg`: needs the segment size, so kept as the two parts.
    pub log: u32,
    pub seg: u32,
    pub compression: Compression,
}

/// What the long page header at the start of a segment says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub magic: u16,
    pub timeline: u32,
    pub page_addr: u64,
    pub system_identifier: u64,
    pub segment_size: u32,
    /// `xlp_xlog_blcksz`: the WAL page size.
    pub block_size: u32,
}

/// Parses `TTTTTTTTLLLLLLLLSSSSSSSS[.gz|.zst|.lz4]`; `None` for anything else (history files,
/// `.partial`, `.backup`, `archive_status`).
pub fn parse_name(path: &Path) -> Option<SegmentFile> {
    let file_name = path.file_name()?.to_str()?;
    let (name, compression) = if let Some(n) = file_name.strip_suffix(".gz") {
        (n, Compression::Gzip)
    } else if let Some(n) = file_name.strip_suffix(".zst") {
        (n, Compression::Zstd)
    } else if let Some(n) = file_name.strip_suffix(".lz4") {
        (n, Compression::Lz4)
    } else {
        (file_name, Compression::None)
    };
    if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // 24 ASCII hex digits: three 8-digit fields.
    let hex = |range: std::ops::Range<usize>| u32::from_str_radix(name.get(range)?, 16).ok();
    Some(SegmentFile {
        path: path.to_path_buf(),
        name: name.to_ascii_uppercase(),
        timeline: hex(0..8)?,
        log: hex(8..16)?,
        seg: hex(16..24)?,
        compression,
    })
}

impl SegmentFile {
    /// The segment number for a segment size.
    pub fn segno(&self, segment_size: u32) -> u64 {
        let per_log = 0x1_0000_0000u64 / u64::from(segment_size.max(1));
        (u64::from(self.log) * per_log).saturating_add(u64::from(self.seg))
    }

    /// A reader of the decompressed bytes.
    pub fn open(&self) -> Result<Box<dyn Read>, UserError> {
        let file = File::open(&self.path).map_err(|e| {
            UserError::new(format!(
                "{}: cannot read WAL segment: {e}",
                self.path.display()
            ))
        })?;
        let reader = BufReader::new(file);
        Ok(match self.compression {
            Compression::None => Box::new(reader),
            Compression::Gzip => Box::new(flate2::read::GzDecoder::new(reader)),
            Compression::Zstd => {
                Box::new(zstd::stream::read::Decoder::new(reader).map_err(|e| {
                    UserError::new(format!("{}: not a zstd file: {e}", self.path.display()))
                })?)
            }
            Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(reader)),
        })
    }

    /// Reads the long page header (the first 40 bytes).
    pub fn header(&self) -> Result<SegmentHeader, UserError> {
        let mut head = Vec::with_capacity(40);
        self.open()?.take(40).read_to_end(&mut head).map_err(|e| {
            UserError::new(format!(
                "{}: cannot read the segment header: {e}",
                self.path.display()
            ))
        })?;
        let Ok(buf) = <[u8; 40]>::try_from(head.as_slice()) else {
            return Err(UserError::new(format!(
                "{}: {} bytes, shorter than a WAL page header: not a WAL segment (or an empty copy)",
                self.path.display(),
                head.len()
            )));
        };
        // XLogLongPageHeaderData: the short header (magic, info, timeline, pageaddr, rem_len,
        // padding), then xlp_sysid, xlp_seg_size, xlp_xlog_blcksz; constant offsets into the
        // array, checked when compiled.
        let le32 = |b: [u8; 4]| u32::from_le_bytes(b);
        let le64 = |b: [u8; 8]| u64::from_le_bytes(b);
        Ok(SegmentHeader {
            magic: u16::from_le_bytes([buf[0], buf[1]]),
            timeline: le32([buf[4], buf[5], buf[6], buf[7]]),
            page_addr: le64([
                buf[8], buf[9], buf[10], buf[11], buf[12], buf[13], buf[14], buf[15],
            ]),
            system_identifier: le64([
                buf[24], buf[25], buf[26], buf[27], buf[28], buf[29], buf[30], buf[31],
            ]),
            segment_size: le32([buf[32], buf[33], buf[34], buf[35]]),
            block_size: le32([buf[36], buf[37], buf[38], buf[39]]),
        })
    }

    /// The decompressed size in bytes (reads the whole file for a compressed one).
    pub fn size(&self) -> Result<u64, UserError> {
        if self.compression == Compression::None {
            return std::fs::metadata(&self.path)
                .map(|m| m.len())
                .map_err(|e| UserError::new(format!("{}: cannot stat: {e}", self.path.display())));
        }
        let mut reader = self.open()?;
        std::io::copy(&mut reader, &mut std::io::sink())
            .map_err(|e| UserError::new(format!("{}: cannot decompress: {e}", self.path.display())))
    }

    /// Writes the decompressed segment as `dir/NAME`.
    pub fn decompress_into(&self, dir: &Path) -> Result<u64, UserError> {
        let target = dir.join(&self.name);
        let mut out = File::create(&target)
            .map_err(|e| UserError::new(format!("{}: cannot write: {e}", target.display())))?;
        let mut reader = self.open()?;
        std::io::copy(&mut reader, &mut out)
            .map_err(|e| UserError::new(format!("{}: cannot decompress: {e}", self.path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_magics() {
        let s = parse_name(Path::new("/a/000000010000000A000000FF.zst"));
        let s = s.as_ref();
        assert_eq!(s.map(|s| s.timeline), Some(1));
        assert_eq!(s.map(|s| s.segno(16 * 1024 * 1024)), Some(10 * 256 + 255));
        assert_eq!(s.map(|s| s.compression), Some(Compression::Zstd));
        assert!(parse_name(Path::new("00000002.history")).is_none());
        assert!(parse_name(Path::new("000000010000000000000003.partial")).is_none());
        assert_eq!(major_of_magic(0xD110), Some(15));
        assert_eq!(major_of_magic(0x1234), None);
    }

    #[test]
    fn a_short_or_oddly_named_file_is_refused_not_a_panic() {
        // 24 bytes, not 24 characters: a multi-byte name is not a segment's.
        assert!(parse_name(Path::new("0000000100000000000000é")).is_none());
        assert!(parse_name(Path::new("00000001000000000000000\u{e9}.gz")).is_none());
        let dir = tempfile::tempdir().expect("tempdir");
        for len in [0usize, 1, 24, 39] {
            let path = dir.path().join("000000010000000000000001");
            std::fs::write(&path, vec![0x10; len]).expect("write");
            let seg = parse_name(&path).expect("name");
            let err = seg.header().map(|_| ()).unwrap_err().message().to_string();
            assert!(
                err.contains(&format!("{len} bytes, shorter than a WAL page header")),
                "{err}"
            );
        }
    }
}
