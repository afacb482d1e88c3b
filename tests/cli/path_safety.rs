//! `--root DIR` confines every path: symlinks (relative ones climbing with `..`, absolute
//! ones) are resolved inside DIR as a chroot would, `..` stops at DIR, and qrescue's own
//! state directory is refused if it is a symlink (e.g. to `/`). A decoy tree outside the
//! root, with a shadow file that would match, must never change; strace shows no absolute
//! path outside the root (but /proc, /dev) in any file syscall.

use crate::common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use crate::common::fixture::{Fixture, Layout};
use crate::common::{qrescue, run, run_with_stdin};

const NEW: &str = "Stay-Inside-42";

/// A credential tree outside the root that escaping links would reach.
fn decoy() -> (tempfile::TempDir, Vec<(std::path::PathBuf, Vec<u8>)>) {
    let d = tempfile::Builder::new()
        .prefix("qrescue-decoy-")
        .tempdir()
        .unwrap();
    let cfg = d.path().join("config");
    std::fs::create_dir_all(&cfg).unwrap();
    let f = Fixture::new(Layout::Qts5);
    let mut files = Vec::new();
    for n in ["passwd", "shadow", "group", "smbpasswd", "smb.conf"] {
        let src = f.path(&format!("/mnt/HDA_ROOT/.config/{n}"));
        let dst = cfg.join(n);
        std::fs::copy(&src, &dst).unwrap();
        files.push((dst.clone(), std::fs::read(&dst).unwrap()));
    }
    (d, files)
}

fn assert_decoy_untouched(files: &[(std::path::PathBuf, Vec<u8>)], what: &str) {
    for (p, bytes) in files {
        assert_eq!(
            &std::fs::read(p).unwrap(),
            bytes,
            "{what}: {} outside the root changed",
            p.display()
        );
    }
    let dir = files[0].0.parent().unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            files
                .iter()
                .any(|(p, _)| p.file_name().unwrap() == n.as_str()),
            "{what}: {n} appeared outside the root"
        );
    }
}

fn passwd(root: &Path) -> std::process::Output {
    common::passwd(root, "admin", NEW)
}

/// Point the fixture's /etc/config at `target` instead of /mnt/HDA_ROOT/.config.
fn relink_config(f: &Fixture, target: &str) {
    let link = f.path("/etc/config");
    std::fs::remove_file(&link).unwrap();
    symlink(target, &link).unwrap();
}

#[test]
fn escaping_symlinks_resolve_inside_the_root() {
    let (d, files) = decoy();
    let depth = "../".repeat(12);
    let outside = d.path().join("config");
    for (what, target) in [
        (
            "relative link climbing out",
            format!("{depth}{}", outside.display()),
        ),
        (
            "absolute link to a host path",
            outside.display().to_string(),
        ),
        (
            "absolute link with ..",
            format!("/../../..{}", outside.display()),
        ),
    ] {
        let f = Fixture::new(Layout::Qts5);
        relink_config(&f, &target);
        let before = f.credentials();
        let o = passwd(f.root());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{what}: passwd succeeded");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(!err.contains(NEW));
        assert_decoy_untouched(&files, what);
        common::fixture::assert_same(&f.credentials(), &before, what);
        // status explains instead of reading the decoy.
        let o = run(qrescue().arg("--root").arg(f.root()).arg("status"));
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains(&outside.display().to_string()),
            "{what}: status names a path outside the root"
        );
    }
}

#[test]
fn state_dir_or_backups_dir_as_symlink_to_slash_is_refused() {
    for (what, link) in [
        ("state dir -> /", "/mnt/HDA_ROOT/.config/qrescue"),
        ("backups dir -> /", "/mnt/HDA_ROOT/.config/qrescue/backups"),
    ] {
        let f = Fixture::new(Layout::Qts5);
        let p = f.path(link);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p.parent().unwrap(), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        symlink("/", &p).unwrap();
        let before = f.credentials();
        let o = passwd(f.root());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(77), "{what}: {err}");
        assert!(err.contains("symlink"), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        common::fixture::assert_same(&f.credentials(), &before, what);
        for cmd in [vec!["backup"], vec!["backups"]] {
            let o = run(qrescue().arg("--root").arg(f.root()).args(&cmd));
            assert_eq!(o.status.code(), Some(77), "{what} {cmd:?}");
        }
    }
}

#[test]
#[ignore = "needs strace"]
fn no_file_syscall_names_a_path_outside_the_root() {
    common::skip::require_native("no_file_syscall_names_a_path_outside_the_root");
    let f = Fixture::new(Layout::Qts4);
    let log = tempfile::NamedTempFile::new().unwrap();
    let o = {
        let mut c = Command::new("strace");
        c.args(["-f", "-qq", "-s", "4096", "-o"])
            .arg(log.path())
            .args([
                "-e",
                "trace=open,openat,openat2,stat,lstat,newfstatat,statx,readlink,readlinkat,rename,renameat,renameat2,link,linkat,unlink,unlinkat,mkdir,mkdirat,chmod,fchmodat,chown,fchownat,symlink,symlinkat",
            ])
            .arg(common::bin())
            .arg("--root")
            .arg(f.root())
            .args(["passwd", "admin", "--password-stdin"]);
        run_with_stdin(&mut c, format!("{NEW}\n").as_bytes())
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let root = f.root().to_string_lossy().into_owned();
    let bin_dir = common::bin()
        .parent()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let text = std::fs::read_to_string(log.path()).unwrap();
    let mut checked = 0;
    // The dynamic loader of a (debug, dynamic) test build searches library paths before
    // main runs; qrescue's own first file syscall opens the root.
    let from = text.find(&root).expect("the root was never opened");
    let from = text[..from].rfind('\n').map_or(0, |i| i + 1);
    for line in text[from..].lines() {
        // Every quoted absolute path argument (readlink's second string is its result: a
        // link's text, which qrescue then resolves inside the root).
        let quoted: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        let args = if line.contains("readlink") {
            &quoted[..quoted.len().min(1)]
        } else {
            &quoted[..]
        };
        for &part in args {
            if !part.starts_with('/') {
                continue;
            }
            checked += 1;
            let allowed = part.starts_with(&root)
                || ["/proc/", "/dev/", "/sys/"].iter().any(|p| part.starts_with(p))
                // the binary's own directory (execve by a runner)
                || part.starts_with(&bin_dir);
            assert!(allowed, "path outside the root: {part} in {line}");
        }
    }
    assert!(checked > 0, "strace saw no absolute path at all?");
}
