//! `--template`: partials are read only from inside the template's directory, symlinks
//! included (`partials/summary.md.j2 -> /etc/shadow` must not put the file into the report).

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

fn report_with(template: &Path) -> std::process::Output {
    Command::cargo_bin("pgtriage")
        .expect("binary")
        .arg("report")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/first-incident/evidence.json"))
        .arg("--template")
        .arg(template)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run")
}

#[test]
fn a_partial_symlinked_out_of_the_directory_is_refused() {
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("shadow");
    std::fs::write(&secret, "root:SECRET-HASH:19000:0:99999:7:::\n").expect("secret");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("partials")).expect("mkdir");
    let main = dir.path().join("report.md.j2");
    std::fs::write(
        &main,
        "# Report\n{% include \"partials/summary.md.j2\" %}\n",
    )
    .expect("main");
    std::os::unix::fs::symlink(&secret, dir.path().join("partials/summary.md.j2")).expect("link");
    let out = report_with(&main);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("SECRET-HASH"), "{all}");
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("outside the template directory"), "{all}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );

    // A symlink that stays inside the directory is fine.
    std::fs::remove_file(dir.path().join("partials/summary.md.j2")).expect("rm");
    std::fs::write(dir.path().join("partials/real.md.j2"), "inside\n").expect("real");
    std::os::unix::fs::symlink("real.md.j2", dir.path().join("partials/summary.md.j2"))
        .expect("link");
    let out = report_with(&main);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("inside"));
}
