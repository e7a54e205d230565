//! `-o` respects what it writes to: a device or FIFO is written through (never replaced), a
//! symlink's target is written (the link stays), an existing file keeps its mode, `-` is stdout,
//! a symlink loop is reported as one. Run with the real binary on the bundled sample evidence.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/first-incident/evidence.json")
}

fn report_to(out: &Path) -> std::process::Output {
    Command::cargo_bin("pgtriage")
        .expect("binary")
        .arg("report")
        .arg(sample())
        .arg("-o")
        .arg(out)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run pgtriage")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn a_character_device_is_written_through_not_replaced() {
    if !is_root() {
        eprintln!("skipped: mknod needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // A private null device (major 1, minor 3): never the machine's /dev/null itself.
    let dev = dir.path().join("null");
    let st = Command::new("mknod")
        .arg(&dev)
        .args(["c", "1", "3"])
        .status()
        .expect("mknod");
    assert!(st.success(), "mknod failed");
    let out = report_to(&dev);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = std::fs::symlink_metadata(&dev).expect("device still there");
    assert!(
        meta.file_type().is_char_device(),
        "the device was replaced by {:?}",
        meta.file_type()
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "null")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_fifo_is_written_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let reader_path = fifo.clone();
    let reader =
        std::thread::spawn(move || std::fs::read_to_string(reader_path).expect("read fifo"));
    let out = report_to(&fifo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .expect("fifo")
            .file_type()
            .is_fifo(),
        "the FIFO was replaced"
    );
    // Joined only once the FIFO is known to be one: else the reader would wait forever.
    let got = reader.join().expect("reader");
    assert!(got.starts_with("# "), "report through the FIFO: {got:.200}");
}

#[test]
fn a_symlink_target_is_replaced_and_the_link_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("reports");
    std::fs::create_dir(&sub).expect("mkdir");
    let target = sub.join("real.md");
    std::fs::write(&target, "old").expect("write");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let link = dir.path().join("latest.md");
    std::os::unix::fs::symlink("reports/real.md", &link).expect("symlink");
    let out = report_to(&link);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink(),
        "the symlink was replaced by a file"
    );
    let text = std::fs::read_to_string(&target).expect("target");
    assert!(text.starts_with("# "), "target not written: {text:.100}");
    let mode = std::fs::metadata(&target)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640, "the target's mode changed");
}

#[test]
fn an_existing_file_keeps_its_mode_and_a_new_one_is_not_0600() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("report.md");
    std::fs::write(&file, "old").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = report_to(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777,
        0o644
    );
    assert!(
        std::fs::read_to_string(&file)
            .expect("read")
            .starts_with("# ")
    );

    // A new file: 0666 less the umask, as any tool would create it (run under umask 022).
    let fresh = dir.path().join("fresh.md");
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" report \"$1\" -o \"$2\"")
        .arg(assert_cmd::cargo::cargo_bin("pgtriage"))
        .arg(sample())
        .arg(&fresh)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::metadata(&fresh)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o644
    );
}

#[test]
fn dash_is_stdout_and_a_symlink_loop_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::cargo_bin("pgtriage")
        .expect("binary")
        .current_dir(dir.path())
        .arg("report")
        .arg(sample())
        .args(["-o", "-"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("# "));
    assert!(!dir.path().join("-").exists(), "a file named - was written");

    let a = dir.path().join("a.md");
    let b = dir.path().join("b.md");
    std::os::unix::fs::symlink(&b, &a).expect("symlink");
    std::os::unix::fs::symlink(&a, &b).expect("symlink");
    let out = report_to(&a);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("symlink loop"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
