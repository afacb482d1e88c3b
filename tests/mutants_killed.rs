//! Tests written to kill the mutants cargo-mutants found alive in the engine modules
//! (`scripts/mutants.sh`; docs/reliability.md, "Mutation testing"): behaviour the other
//! suites did not pin down, checked through the binary so they survive refactoring.
//! Backups: which ids name a set, what a set's manifest records, which state and backup
//! directories are refused, which damaged sets are kept or removed.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::PathBuf;
use std::process::{Command, Output};

use common::fixture::{Fixture, Layout, assert_same};
use common::{backup_ids, qrescue, run};

/// The QTS state directory, where it really is in the fixture.
const QTS_STATE: &str = "/mnt/HDA_ROOT/.config/qrescue";

fn q(f: &Fixture, args: &[&str]) -> Command {
    let mut c = qrescue();
    c.arg("--root").arg(f.root()).args(args);
    c
}

fn stdout_ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit code and stderr.
fn fails(o: &Output) -> (i32, String) {
    (
        o.status.code().expect("exit code"),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn backups_dir(f: &Fixture) -> PathBuf {
    f.path(&format!("{QTS_STATE}/backups"))
}

fn manifest(f: &Fixture, id: &str) -> serde_json::Value {
    let text = fs::read(backups_dir(f).join(id).join("manifest.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

fn write_manifest(f: &Fixture, id: &str, m: &serde_json::Value) {
    let p = backups_dir(f).join(id).join("manifest.json");
    fs::write(&p, serde_json::to_vec_pretty(m).unwrap()).unwrap();
}

/// A copy of set `id` under the name `new`, its manifest naming `new`.
fn copy_set(f: &Fixture, id: &str, new: &str) {
    let (from, to) = (backups_dir(f).join(id), backups_dir(f).join(new));
    fs::create_dir(&to).unwrap();
    fs::set_permissions(&to, fs::Permissions::from_mode(0o700)).unwrap();
    for e in fs::read_dir(&from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    let mut m = manifest(f, new);
    m["id"] = new.into();
    write_manifest(f, new, &m);
}

/// `backups --json`: (id, intact) of each set.
fn listed(f: &Fixture) -> Vec<(String, bool)> {
    let v: serde_json::Value =
        serde_json::from_str(&stdout_ok(&run(&mut q(f, &["--json", "backups"])))).unwrap();
    v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().to_string(),
                b["intact"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn new_backup(f: &Fixture) -> String {
    stdout_ok(&run(&mut q(f, &["backup"]))).trim().to_string()
}

#[test]
fn only_plain_names_are_backup_ids() {
    let f = Fixture::new(Layout::Qts4);
    let id = new_backup(&f);
    let before = f.credentials();
    let long = "a".repeat(65);
    // `../backups` is the backups directory itself, `a/b` a path: neither is looked up.
    for bad in ["../backups", "a/b", long.as_str(), ".hidden"] {
        let (code, err) = fails(&run(&mut q(&f, &["restore", "--", bad])));
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("is not a backup id"), "{bad}: {err}");
    }
    assert_same(&f.credentials(), &before, "after refused restores");
    // A numbered id (`ID.2`: two sets in one second by one process) is one.
    let numbered = format!("{id}.2");
    copy_set(&f, &id, &numbered);
    assert_eq!(listed(&f), vec![(id, true), (numbered.clone(), true)]);
    stdout_ok(&run(&mut q(&f, &["restore", &numbered])));
}

#[test]
fn a_second_set_in_the_same_second_by_the_same_pid_gets_the_next_number() {
    // In a new PID namespace qrescue is pid 1, so its next set ids are known: `TIME-1`.
    // Every such id for the next half minute is taken by a complete set already.
    if common::runner().is_some() {
        return; // a PID namespace around an emulator: not worth combining
    }
    let f = Fixture::new(Layout::Qts4);
    let id = new_backup(&f);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut taken = Vec::new();
    for t in now.saturating_sub(2)..now + 30 {
        let o = Command::new("date")
            .args(["-u", "-d", &format!("@{t}"), "+%Y%m%dT%H%M%SZ-1"])
            .output()
            .unwrap();
        let taken_id = String::from_utf8(o.stdout).unwrap().trim().to_string();
        copy_set(&f, &id, &taken_id);
        taken.push(taken_id);
    }
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork"])
        .arg(common::bin())
        .arg("--root")
        .arg(f.root())
        .arg("backup");
    let got = stdout_ok(&run(&mut c)).trim().to_string();
    assert!(
        taken.iter().any(|t| got == format!("{t}.2")),
        "{got} is not a taken id with .2"
    );
    assert!(listed(&f).iter().all(|(_, intact)| *intact));
}

#[test]
fn the_manifest_records_the_operator_and_real_checksums() {
    let f = Fixture::new(Layout::Qts4);
    let mut c = q(&f, &["backup"]);
    c.env("SUDO_USER", "alice");
    let id = stdout_ok(&run(&mut c)).trim().to_string();
    let m = manifest(&f, &id);
    assert_eq!(m["operator"], "alice");
    // Each file's checksum is its SHA-256 (coreutils' sha256sum as the oracle).
    for file in m["files"].as_array().unwrap() {
        let stored = backups_dir(&f)
            .join(&id)
            .join(file["stored_as"].as_str().unwrap());
        let o = Command::new("sha256sum").arg(&stored).output().unwrap();
        let sum = String::from_utf8(o.stdout).unwrap();
        assert_eq!(
            file["sha256"].as_str().unwrap(),
            sum.split_whitespace().next().unwrap()
        );
    }
    // Without SUDO_USER (or with it empty) and with --root: the login uid, else the
    // effective uid, as a number (no lookup in the host's user database).
    let login = fs::read_to_string("/proc/self/loginuid")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|&u| u != u32::MAX);
    let uid = login.unwrap_or_else(|| nix::unistd::geteuid().as_raw());
    for sudo in [None, Some("")] {
        let mut c = q(&f, &["backup"]);
        match sudo {
            Some(v) => c.env("SUDO_USER", v),
            None => c.env_remove("SUDO_USER"),
        };
        let id = stdout_ok(&run(&mut c)).trim().to_string();
        assert_eq!(manifest(&f, &id)["operator"], format!("uid {uid}"));
    }
}

#[test]
fn state_and_backup_directories_that_are_not_ours_are_refused() {
    let f = Fixture::new(Layout::Qts4);
    let state = f.path(QTS_STATE);
    fs::create_dir(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    let backups = backups_dir(&f);
    let decoy = f.root().join("decoy");
    fs::create_dir(&decoy).unwrap();
    let before = f.credentials();
    let expect_refused = |what: &str, needle: &str| {
        let (code, err) = fails(&run(&mut q(&f, &["backup"])));
        assert_eq!(code, 77, "{what}: {err}");
        assert!(err.contains(needle), "{what}: {err}");
        assert_same(&f.credentials(), &before, what);
        assert_eq!(fs::read_dir(&decoy).unwrap().count(), 0, "{what}");
    };
    // `backups` as a regular file, then as a symlink to a directory elsewhere.
    fs::write(&backups, b"").unwrap();
    expect_refused("regular file", "not a directory");
    fs::remove_file(&backups).unwrap();
    symlink(&decoy, &backups).unwrap();
    expect_refused("symlink", "is a symlink");
    fs::remove_file(&backups).unwrap();
    // The state directory owned by another user, then writable by its group.
    nix::unistd::chown(&state, Some(nix::unistd::Uid::from_raw(1234)), None).unwrap();
    expect_refused("owned by uid 1234", "owned by uid 1234");
    nix::unistd::chown(&state, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o720)).unwrap();
    expect_refused("group-writable", "writable by others");
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    new_backup(&f);
}

#[test]
fn listing_a_root_without_a_state_directory_is_empty_and_creates_nothing() {
    // A plain root has no /var/lib at all: nothing to list, and nothing is created.
    let f = Fixture::new(Layout::Plain);
    assert_eq!(listed(&f), vec![]);
    assert!(!f.path("/var/lib").exists());
    assert!(!f.path("/var").exists());
}

#[test]
fn damaged_sets_are_flagged_and_kept_incomplete_ones_removed() {
    let f = Fixture::new(Layout::Qts4);
    let id = new_backup(&f);
    let m = manifest(&f, &id);
    let first = m["files"][0]["stored_as"].as_str().unwrap().to_string();
    let set = backups_dir(&f).join(&id);

    // A stored name that is hidden, or a path through a subdirectory (even one that
    // resolves to the right file): refused.
    let hidden = format!("{id}.3");
    copy_set(&f, &id, &hidden);
    fs::rename(
        backups_dir(&f).join(&hidden).join(&first),
        backups_dir(&f).join(&hidden).join(format!(".{first}")),
    )
    .unwrap();
    let mut hm = manifest(&f, &hidden);
    hm["files"][0]["stored_as"] = format!(".{first}").into();
    write_manifest(&f, &hidden, &hm);

    let pathy = format!("{id}.4");
    copy_set(&f, &id, &pathy);
    fs::create_dir(backups_dir(&f).join(&pathy).join("sub")).unwrap();
    let mut pm = manifest(&f, &pathy);
    pm["files"][0]["stored_as"] = format!("sub/../{first}").into();
    write_manifest(&f, &pathy, &pm);

    // A stored file replaced by a symlink to an identical copy elsewhere: refused.
    let linked = format!("{id}.5");
    copy_set(&f, &id, &linked);
    let outside = f.root().join("outside-copy");
    fs::copy(set.join(&first), &outside).unwrap();
    let lpath = backups_dir(&f).join(&linked).join(&first);
    fs::remove_file(&lpath).unwrap();
    symlink(&outside, &lpath).unwrap();

    // A manifest that is not JSON: damaged, but a manifest: kept.
    let garbled = format!("{id}.6");
    copy_set(&f, &id, &garbled);
    fs::write(backups_dir(&f).join(&garbled).join("manifest.json"), b"{").unwrap();

    // No manifest at all: the remains of an interrupted run.
    let incomplete = format!("{id}.7");
    copy_set(&f, &id, &incomplete);
    fs::remove_file(backups_dir(&f).join(&incomplete).join("manifest.json")).unwrap();

    let text = stdout_ok(&run(&mut q(&f, &["backups"])));
    assert!(text.contains("bad stored name"), "{text}");
    let before = f.credentials();
    for damaged in [&hidden, &pathy, &linked, &garbled] {
        let (code, err) = fails(&run(&mut q(&f, &["restore", damaged])));
        assert_eq!(code, 65, "{damaged}: {err}");
        assert!(err.contains("is damaged"), "{damaged}: {err}");
    }
    assert_same(&f.credentials(), &before, "damaged restores");

    let status = stdout_ok(&run(&mut q(&f, &["status"])));
    assert!(
        status.contains(&format!("removed incomplete backup {incomplete}")),
        "{status}"
    );
    assert!(!backups_dir(&f).join(&incomplete).exists());
    let ids: Vec<String> = listed(&f).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![id.clone(), hidden, pathy, linked, garbled]);
    assert_eq!(backup_ids(f.root()).len(), 5);
    assert!(set.join("manifest.json").exists());
}
