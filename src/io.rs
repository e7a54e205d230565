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

/// Writes `bytes` to `path` without harming what is there:
/// - `-` is stdout;
/// - a symlink is followed (the whole chain) and its target written, the link left as it is;
/// - a regular file (or a new one) is replaced whole through a temporary file in the same
///   directory and a rename, so an interrupted run never leaves half a file; an existing file
///   keeps its permission bits;
/// - anything else (a character or block device, a FIFO, a socket) is written through, never
///   replaced: renaming over `/dev/null` would break every process on the machine.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), UserError> {
    use std::os::unix::fs::FileTypeExt;
    if path.as_os_str() == "-" {
        return print_stdout(&String::from_utf8_lossy(bytes));
    }
    let fail = |p: &Path, e: std::io::Error| {
        UserError::new(format!(
            "{}: cannot write ({e}); check that the directory exists and is writable",
            p.display()
        ))
    };
    let target: std::path::PathBuf = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => resolve_link(path)?,
        _ => path.to_path_buf(),
    };
    let existing = std::fs::metadata(&target).ok();
    if let Some(m) = &existing {
        let ft = m.file_type();
        if ft.is_dir() {
            return Err(UserError::new(format!(
                "{}: is a directory; give a file name for the output",
                target.display()
            )));
        }
        if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() || ft.is_socket() {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(|e| fail(&target, e))?;
            return match f.write_all(bytes).and_then(|_| f.flush()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(fail(&target, e)),
            };
        }
    }
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // A new file gets the usual 0666 less the umask (tempfile's own default is 0600); an
    // existing one keeps its mode.
    let mode = existing
        .as_ref()
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777);
    let mut tmp = tempfile::Builder::new()
        .prefix(".pgtriage-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| fail(&target, e))?;
    tmp.write_all(bytes).map_err(|e| fail(&target, e))?;
    if let Some(mode) = mode {
        tmp.as_file()
            .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(|e| fail(&target, e))?;
    }
    tmp.persist(&target).map_err(|e| fail(&target, e.error))?;
    Ok(())
}

/// The file a symlink chain ends at (which need not exist yet); a loop is said to be one.
fn resolve_link(path: &Path) -> Result<std::path::PathBuf, UserError> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&current).map_err(|e| {
                    UserError::new(format!(
                        "{}: cannot read the symlink: {e}",
                        current.display()
                    ))
                })?;
                current = if to.is_absolute() {
                    to
                } else {
                    current.parent().unwrap_or_else(|| Path::new(".")).join(to)
                };
            }
            _ => return Ok(current),
        }
    }
    Err(UserError::new(format!(
        "{}: symlink loop (more than 40 links); point it at a file",
        path.display()
    )))
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
