//! Reading log inputs: files, directories, globs and `-` (stdin); decompression chosen by magic
//! bytes (gzip, zstd, bzip2, xz), SHA-256 and byte counts of what was read (chain of custody).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::error::UserError;

/// One log input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// As shown in sources (`log:FILE:LINE`): the path as given or found, `-` for stdin.
    pub display: String,
    /// `None` for stdin.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Plain,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Compression {
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|c| (b'1'..=b'9').contains(c))
        {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else {
            Compression::Plain
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Plain => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Log files in a directory: regular, not hidden, not obviously something else.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>, UserError> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| UserError::new(format!("{}: cannot list directory: {e}", dir.display())))?;
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || !p.is_file() {
            continue;
        }
        out.push(p);
    }
    out.sort();
    Ok(out)
}

/// Expands `--log` arguments into files. Directories give every file inside (the caller orders
/// them by first timestamp); globs expand; a missing path is an error naming it.
pub fn expand(paths: &[String]) -> Result<Vec<InputFile>, UserError> {
    Ok(expand_listed(paths)?.into_iter().map(|(f, _)| f).collect())
}

/// As [`expand`], with whether each file was found in a directory (rather than named or
/// globbed): such a file may be skipped with a note when it is not a log.
pub fn expand_listed(paths: &[String]) -> Result<Vec<(InputFile, bool)>, UserError> {
    let mut out: Vec<(InputFile, bool)> = Vec::new();
    let push = |p: PathBuf, from_dir: bool, out: &mut Vec<(InputFile, bool)>| {
        let display = p.display().to_string();
        if !out.iter().any(|(f, _)| f.display == display) {
            out.push((
                InputFile {
                    display,
                    path: Some(p),
                },
                from_dir,
            ));
        }
    };
    for arg in paths {
        if arg == "-" {
            out.push((
                InputFile {
                    display: "-".into(),
                    path: None,
                },
                false,
            ));
            continue;
        }
        let p = PathBuf::from(arg);
        if p.is_dir() {
            let files = files_in(&p)?;
            if files.is_empty() {
                return Err(UserError::new(format!(
                    "{arg}: directory holds no log files"
                )));
            }
            for f in files {
                push(f, true, &mut out);
            }
        } else if p.exists() {
            push(p, false, &mut out);
        } else if is_glob(arg) {
            let matches = glob::glob(arg)
                .map_err(|e| UserError::new(format!("--log {arg}: bad pattern: {e}")))?;
            let mut found: Vec<PathBuf> = matches.flatten().filter(|p| p.is_file()).collect();
            found.sort();
            if found.is_empty() {
                return Err(UserError::new(format!(
                    "--log {arg}: no file matches the pattern"
                )));
            }
            for f in found {
                push(f, false, &mut out);
            }
        } else if std::fs::symlink_metadata(&p).is_ok() {
            // A link whose target cannot be reached: say which way it fails.
            let why = match std::fs::metadata(&p) {
                Err(e) if e.raw_os_error() == Some(40) => "is a symlink loop".to_string(),
                _ => match std::fs::read_link(&p) {
                    Ok(to) => format!("is a symlink to {}, which does not exist", to.display()),
                    Err(e) => format!("cannot be read: {e}"),
                },
            };
            return Err(UserError::new(format!(
                "--log {arg}: {why}; point it at a log file or directory"
            )));
        } else {
            return Err(UserError::new(format!(
                "--log {arg}: no such file or directory; give a log file, a directory of logs, a glob or - for stdin"
            )));
        }
    }
    if out.is_empty() {
        return Err(UserError::new(
            "no log given: use --log PATH (a file, directory, glob, or -)",
        ));
    }
    Ok(out)
}

/// SHA-256 and byte count of the raw bytes, filled as they are read.
#[derive(Debug, Default)]
pub struct Digestion {
    hasher: Sha256,
    pub bytes: u64,
    /// Set when the file is hashed elsewhere (a regular file, hashed on its own thread): the
    /// stream then only counts its bytes.
    pub hashed_elsewhere: bool,
}

impl Digestion {
    pub fn hex(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

/// Hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    digest: Arc<Mutex<Digestion>>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).ok_or_else(|| {
            std::io::Error::other("the reader claimed more bytes than it was given")
        })?;
        if let Ok(mut d) = self.digest.lock() {
            if !d.hashed_elsewhere {
                d.hasher.update(read);
            }
            d.bytes += n as u64;
        }
        Ok(n)
    }
}

/// An opened input: its decoded stream, what compression it had, and the digest being filled.
pub struct Opened {
    pub reader: Box<dyn Read + Send>,
    pub compression: Compression,
    pub digest: Arc<Mutex<Digestion>>,
    /// Size on disk (plain files), to decide whether to split.
    pub size: Option<u64>,
}

/// Opens an input, hashing the raw bytes and decoding by magic bytes.
pub fn open(file: &InputFile) -> Result<Opened, UserError> {
    let raw: Box<dyn Read + Send> = match &file.path {
        Some(p) => Box::new(File::open(p).map_err(|e| {
            UserError::new(format!(
                "{}: cannot read: {e}; check the path and its permissions",
                p.display()
            ))
        })?),
        None => Box::new(std::io::stdin()),
    };
    let size = file
        .path
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len());
    let digest = Arc::new(Mutex::new(Digestion::default()));
    let mut hashing = HashingReader {
        inner: raw,
        digest: Arc::clone(&digest),
    };
    // The magic bytes (at most 6; fewer when the input is shorter), then put back in front.
    let mut head = Vec::with_capacity(6);
    (&mut hashing)
        .take(6)
        .read_to_end(&mut head)
        .map_err(|e| UserError::new(format!("{}: cannot read: {e}", file.display)))?;
    let compression = Compression::detect(&head);
    let stream = std::io::Cursor::new(head).chain(hashing);
    let reader: Box<dyn Read + Send> = match compression {
        Compression::Plain => Box::new(stream),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(stream).map_err(|e| {
            UserError::new(format!("{}: cannot start zstd decoding: {e}", file.display))
        })?),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(stream)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(stream)),
    };
    Ok(Opened {
        reader,
        compression,
        digest,
        size: if compression == Compression::Plain {
            size
        } else {
            None
        },
    })
}

/// SHA-256 of a whole file, for plain files read in parallel parts.
pub fn hash_file(path: &Path) -> Result<(String, u64), UserError> {
    crate::io::sha256_file(path)
}

/// Reads `len` bytes at `offset` (or fewer at the end).
pub fn read_at(file: &mut File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::detect(b"BZh9"), Compression::Bzip2);
        assert_eq!(
            Compression::detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
            Compression::Xz
        );
        assert_eq!(Compression::detect(b"2026-11-23"), Compression::Plain);
        assert_eq!(Compression::detect(b"BZhx"), Compression::Plain);
    }
}
