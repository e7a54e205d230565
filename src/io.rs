//! Writing results: stdout that tolerates a closed pipe (`pgtriage … | head`), and files written
//! whole or not at all.

use std::io::Write;
use std::path::Path;

use crate::error::UserError;

/// Writes to stdout; a reader that went away (EPIPE) is a normal end, not an error.
pub fn print_stdout(text: &str) -> Result<(), UserError> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(UserError::new(format!("cannot write to stdout: {e}"))),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so that
/// an interrupted run never leaves half a file behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), UserError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fail = |e: std::io::Error| {
        UserError::new(format!(
            "{}: cannot write ({e}); check that the directory exists and is writable",
            path.display()
        ))
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// SHA-256 of a file's bytes, hex, streamed.
pub fn sha256_file(path: &Path) -> Result<(String, u64), UserError> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)
        .map_err(|e| UserError::new(format!("{}: cannot read: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)
        .map_err(|e| UserError::new(format!("{}: cannot read: {e}", path.display())))?;
    Ok((hex::encode(hasher.finalize()), bytes))
}
