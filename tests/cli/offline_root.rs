//! `--root DIR` on a mounted QNAP system partition (what QTS mounts at `/mnt/HDA_ROOT`:
//! `.config/` with the stores, `.logs/`, `update_pkg/`, no `etc/`), every command through the
//! real binary; and the exit-66 line for a directory with no store at all.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::fixture::{ADMIN_OLD, Fixture, Layout, assert_same};
use crate::common::{qrescue, run, run_with_stdin};

const NEW: &str = "Offl1ne-Pa55 word";

/// A QTS 5 root whose `/mnt/HDA_ROOT` is shaped like the system partition; the partition
/// directory is what the owner passes as `--root`.
fn partition() -> (Fixture, PathBuf) {
    let fx = Fixture::new(Layout::Qts5);
    let part = fx.path("/mnt/HDA_ROOT");
    fs::create_dir_all(part.join(".logs")).unwrap();
    fs::write(part.join(".logs/event.log"), b"SQLite format 3\0").unwrap();
    fs::create_dir_all(part.join("update_pkg")).unwrap();
    fs::create_dir_all(part.join("rootfs_2_3_6")).unwrap();
    (fx, part)
}

fn q(part: &Path, args: &[&str]) -> Command {
    let mut c = qrescue();
    c.arg("--root").arg(part).args(args);
    c
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn admin_hash(part: &Path) -> String {
    let text = fs::read_to_string(part.join(".config/shadow")).unwrap();
    let line = text.lines().find(|l| l.starts_with("admin:")).unwrap();
    line.split(':').nth(1).unwrap().to_string()
}

/// Python's crypt (glibc) as the oracle; the password goes on stdin.
fn crypt_ok(pw: &str, hash: &str) -> bool {
    let o = run_with_stdin(
        Command::new("python3").args([
            "-W",
            "ignore",
            "-c",
            "import crypt,sys; pw=sys.stdin.readline().rstrip('\\n'); h=sys.argv[1]; sys.exit(0 if crypt.crypt(pw,h)==h else 1)",
            hash,
        ]),
        format!("{pw}\n").as_bytes(),
    );
    assert!(o.status.code().is_some_and(|c| c <= 1), "python3 crypt");
    o.status.success()
}

fn verify(part: &Path, pw: &str) -> i32 {
    run_with_stdin(
        &mut q(part, &["verify", "admin", "--password-stdin"]),
        format!("{pw}\n").as_bytes(),
    )
    .status
    .code()
    .unwrap()
}

#[test]
fn status_names_the_partition_once_and_reads_dot_config() {
    let (_fx, part) = partition();
    let o = run(&mut q(&part, &["--json", "status"]));
    let out = ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    let note = format!(
        "{} is a QNAP system partition: using {}",
        part.display(),
        part.join(".config").display()
    );
    assert_eq!(err.matches(&note).count(), 1, "stderr: {err}");
    let shadow = part.join(".config/shadow").display().to_string();
    assert!(
        out.contains(&shadow),
        "status does not list {shadow}: {out}"
    );
    assert!(!out.contains("/etc/shadow"), "{out}");
}

#[test]
#[ignore = "needs python3's crypt"]
fn passwd_verify_backups_restore_on_the_partition() {
    let (fx, part) = partition();
    let outside_before = {
        let mut s = fx.snapshot();
        s.retain(|(p, _, _)| !p.starts_with(&part));
        s
    };
    let old = admin_hash(&part);
    assert_eq!(verify(&part, ADMIN_OLD), 0);
    ok(&common::passwd(&part, "admin", NEW));
    let new = admin_hash(&part);
    assert_ne!(new, old);
    assert!(crypt_ok(NEW, &new), "new hash does not match: {new}");
    assert_eq!(verify(&part, NEW), 0);
    assert_eq!(verify(&part, ADMIN_OLD), 1);
    // State and backups live on the partition, in .config/qrescue.
    assert!(part.join(".config/qrescue").is_dir());
    let ids = common::backup_ids(&part);
    assert_eq!(ids.len(), 1, "{ids:?}");
    // Nothing outside the partition was written.
    let mut outside_after = fx.snapshot();
    outside_after.retain(|(p, _, _)| !p.starts_with(&part));
    assert_same(&outside_before, &outside_after, "outside the partition");
    // Restore puts the old hash back.
    ok(&run(&mut q(&part, &["restore", &ids[0]])));
    assert_eq!(admin_hash(&part), old);
    assert_eq!(verify(&part, ADMIN_OLD), 0);
    // An explicit backup, then the list has three sets (passwd's, restore's, this one).
    ok(&run(&mut q(&part, &["backup", "--reason", "offline"])));
    assert_eq!(common::backup_ids(&part).len(), 3);
}

#[test]
fn info_audit_events_read_the_partition() {
    let (_fx, part) = partition();
    let info = ok(&run(&mut q(&part, &["--json", "info"])));
    // The partition holds uLinux.conf (the internal model), not the RAM root's platform.conf.
    assert!(
        info.contains("TS-X53D"),
        "internal model from .config/uLinux.conf: {info}"
    );
    assert!(info.contains("NAS-TEST"), "server name: {info}");
    // The factory password "admin" is a high-severity finding: exit 1, JSON on stdout.
    let o = run(&mut q(&part, &["--json", "audit"]));
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.to_string().contains("default"), "{v}");
    ok(&run(&mut q(&part, &["events"])));
}

fn assert_no_input(dir: &Path) {
    let before = {
        let mut v = Vec::new();
        for e in walkdir(dir) {
            v.push(e);
        }
        v
    };
    for cmd in [
        &["status"][..],
        &["passwd", "admin", "--password-stdin"],
        &["backup"],
    ] {
        let o = run_with_stdin(&mut q(dir, cmd), b"x-Pa55word\n");
        assert_eq!(o.status.code(), Some(66), "{cmd:?}");
        assert!(o.stdout.is_empty());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains("no credential store under"), "{err}");
        assert!(
            err.contains(".config/passwd"),
            "names what it looked for: {err}"
        );
        assert!(err.contains("qrescue disks"), "gives the recipe: {err}");
    }
    assert_eq!(
        walkdir(dir),
        before,
        "nothing changed under {}",
        dir.display()
    );
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        }
        out.push(p);
    }
    out.sort();
    out
}

#[test]
fn empty_directory_is_no_input_66() {
    let d = tempfile::tempdir().unwrap();
    assert_no_input(d.path());
}

#[test]
fn config_without_stores_is_no_input_66() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join(".config")).unwrap();
    fs::write(d.path().join(".config/uLinux.conf"), "[System]\n").unwrap();
    fs::create_dir_all(d.path().join(".logs")).unwrap();
    assert_no_input(d.path());
}

#[test]
fn a_system_root_is_not_taken_for_a_partition() {
    // The whole QTS root (etc/passwd present) keeps its layout: no note on stderr.
    let fx = Fixture::new(Layout::Qts5);
    let o = run(&mut q(fx.root(), &["status"]));
    ok(&o);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("system partition"));
}

#[test]
fn disk_refuses_commands_it_does_not_run_before_touching_any_device() {
    // `--disk` with `--root`, and with `watch`/`version`/`disks`: usage errors (exit 2),
    // decided from the command line alone.
    let d = tempfile::tempdir().unwrap();
    let o = run(qrescue()
        .args(["--disk", "auto", "--root"])
        .arg(d.path())
        .arg("status"));
    assert_eq!(o.status.code(), Some(2));
    for cmd in [&["watch"][..], &["disks"]] {
        let o = run(qrescue().args(["--disk", "auto"]).args(cmd));
        assert_eq!(o.status.code(), Some(2), "{cmd:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("--disk works with status"), "{err}");
    }
}

#[test]
fn help_points_the_locked_out_owner_to_the_readme() {
    let o = run(qrescue().arg("--help"));
    let out = ok(&o);
    assert!(out.contains("Locked out? Start here"), "{out}");
    assert!(out.contains("qrescue --disk auto passwd"), "{out}");
    assert!(out.contains("66  "), "{out}");
    assert!(out.contains("69  "), "{out}");
}
