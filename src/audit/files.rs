//! Files that must not be readable or writable by others (credential stores, qrescue's
//! state directory and backups), and leftovers of interrupted runs: stale locks, temp
//! files, an intent record, incomplete backup sets. Only looked at (`lstat`, directory
//! listings): nothing is removed — `qrescue status` cleans what is provably stale.

use std::os::fd::AsFd;

use super::{Finding, Severity};
use crate::leftovers;
use crate::paths::state_dir;
use crate::stores::{Kind, Stores};
use crate::sys::dir::Dir;
use crate::sys::fs::{self, FileStat};
use crate::sys::proc;
use crate::sys::root::Root;
use crate::sys::xattr;

fn unsafe_perm(
    findings: &mut Vec<Finding>,
    severity: Severity,
    path: &str,
    message: String,
    fix: &str,
) {
    findings.push(Finding::new(
        severity,
        "unsafe-permissions",
        None,
        Some(path),
        message,
        fix,
    ));
}

fn list(dir: &Dir) -> Vec<String> {
    let Ok(mut names) = dir.entries() else {
        return Vec::new();
    };
    names.sort();
    names
}

fn open_subdir(dir: &Dir, name: &str) -> Option<Dir> {
    dir.open_dir(name).ok()
}

/// A directory of qrescue's: a real directory, owned by us or root, no group/other bits.
/// Returns whether it is safe to look inside.
fn check_dir(st: &FileStat, display: &str, findings: &mut Vec<Finding>) -> bool {
    let fix = format!("chmod 700 {display} (qrescue creates it so)");
    if !fs::is_dir(st) {
        unsafe_perm(
            findings,
            Severity::High,
            display,
            "is a symlink or not a directory: qrescue refuses it (it could redirect backups)"
                .into(),
            &format!("remove it; qrescue recreates {display} as a 0700 directory"),
        );
        return false;
    }
    let owner = st.st_uid;
    if owner != 0 && owner != proc::euid() {
        unsafe_perm(
            findings,
            Severity::High,
            display,
            format!("is owned by uid {owner}, not root"),
            &format!("chown root {display}"),
        );
    }
    let mode = st.st_mode & 0o7777;
    if mode & 0o022 != 0 {
        unsafe_perm(
            findings,
            Severity::High,
            display,
            format!("mode {mode:o}: writable by group or others (qrescue refuses it)"),
            &fix,
        );
    } else if mode & 0o055 != 0 {
        unsafe_perm(
            findings,
            Severity::Medium,
            display,
            format!("mode {mode:o}: group or others can list it"),
            &fix,
        );
    }
    true
}

fn check_file(st: &FileStat, display: &str, credentials: bool, findings: &mut Vec<Finding>) {
    let mode = st.st_mode & 0o7777;
    if fs::is_symlink(st) {
        unsafe_perm(
            findings,
            Severity::High,
            display,
            "is a symlink inside qrescue's state directory".into(),
            "remove it",
        );
    } else if mode & 0o077 != 0 {
        unsafe_perm(
            findings,
            if credentials {
                Severity::High
            } else {
                Severity::Medium
            },
            display,
            format!(
                "mode {mode:o}: group or others can {}",
                if credentials {
                    "read or change a copy of the credential files"
                } else {
                    "read or change it"
                }
            ),
            &format!("chmod 600 {display}"),
        );
    }
}

fn stale(findings: &mut Vec<Finding>, path: &str, what: &str) {
    findings.push(Finding::new(
        Severity::Medium,
        "stale-lock",
        None,
        Some(path),
        what.to_string(),
        "qrescue status (it takes the locks, rolls back or removes what is provably stale)",
    ));
}

/// The live credential files: shadow and smbpasswd readable by others, anything writable.
fn credential_files(stores: &Stores, findings: &mut Vec<Finding>) {
    for f in &stores.files {
        let Some(st) = f.resolved.stat.as_ref() else {
            continue;
        };
        let mode = st.st_mode & 0o7777;
        let secret = matches!(f.kind, Kind::Shadow | Kind::Smbpasswd);
        if mode & 0o022 != 0 {
            unsafe_perm(
                findings,
                Severity::High,
                &f.display,
                format!(
                    "mode {mode:o}: group or others can change the {} file",
                    f.kind.name()
                ),
                &format!("chmod go-w {}", f.display),
            );
        } else if secret && mode & 0o004 != 0 {
            unsafe_perm(
                findings,
                Severity::High,
                &f.display,
                format!("mode {mode:o}: everyone can read the password hashes"),
                &format!("chmod 600 {}", f.display),
            );
        }
        if secret {
            acl_readers(f, findings);
        }
    }
}

/// An access ACL granting read to named users or groups exposes the hashes though the mode
/// bits look private.
fn acl_readers(f: &crate::stores::StoreFile, findings: &mut Vec<Finding>) {
    let Ok(file) = f.resolved.open_read() else {
        return;
    };
    let Ok(Some(value)) = xattr::get(file.as_fd(), xattr::ACL_ACCESS) else {
        return;
    };
    let readers = xattr::parse_acl(&value)
        .map(|entries| xattr::acl_readers(&entries))
        .unwrap_or_default();
    if !readers.is_empty() {
        unsafe_perm(
            findings,
            Severity::High,
            &f.display,
            format!(
                "its ACL lets {} read the password hashes",
                readers.join(", ")
            ),
            &format!("setfacl -b {}", f.display),
        );
    }
}

fn state_and_backups(root: &Root, findings: &mut Vec<Finding>) {
    let Ok(logical) = state_dir(root) else { return };
    let (parent, name) = logical.rsplit_once('/').expect("absolute");
    let Ok(Some(res)) = root.try_resolve(parent) else {
        return;
    };
    if !res.is_dir() {
        return;
    }
    let Ok((pfd, preal)) = root.open_dir(parent) else {
        return;
    };
    let display = root.display(&preal.join(name));
    let pfd = Dir::from(pfd);
    let Ok(st) = pfd.stat_at(name) else {
        return; // no state directory: nothing was ever written
    };
    if !check_dir(&st, &display, findings) {
        return;
    }
    let Some(state) = open_subdir(&pfd, name) else {
        return;
    };
    for entry in list(&state) {
        let path = format!("{display}/{entry}");
        let Ok(st) = state.stat_at(entry.as_str()) else {
            continue;
        };
        if entry == crate::txn::INTENT {
            findings.push(Finding::new(
                Severity::High,
                "interrupted-change",
                None,
                Some(&path),
                "an interrupted password change left its intent record: the stores may be half changed",
                "qrescue status (it rolls the change back from its backup)",
            ));
        } else if entry.ends_with(".tmp") {
            stale(findings, &path, "temp file of an interrupted run");
        }
        if entry == "backups" {
            if check_dir(&st, &path, findings)
                && let Some(b) = open_subdir(&state, "backups")
            {
                backups(&b, &path, findings);
            }
        } else {
            check_file(&st, &path, false, findings);
        }
    }
}

fn backups(dir: &Dir, display: &str, findings: &mut Vec<Finding>) {
    for id in list(dir) {
        let path = format!("{display}/{id}");
        let Ok(st) = dir.stat_at(id.as_str()) else {
            continue;
        };
        if !check_dir(&st, &path, findings) {
            continue;
        }
        let Some(set) = open_subdir(dir, &id) else {
            continue;
        };
        let files = list(&set);
        if !files.iter().any(|f| f == "manifest.json") {
            stale(
                findings,
                &path,
                "backup set without manifest.json: left incomplete by an interrupted run",
            );
        }
        for f in files {
            if let Ok(st) = set.stat_at(f.as_str()) {
                check_file(&st, &format!("{path}/{f}"), true, findings);
            }
        }
    }
}

pub fn check(root: &Root, stores: &Stores, findings: &mut Vec<Finding>) {
    credential_files(stores, findings);
    state_and_backups(root, findings);
    for l in leftovers::sweep(root, stores, false) {
        if l.stale {
            stale(findings, &l.path, &l.what);
        } else {
            findings.push(Finding::new(
                Severity::Info,
                "lock-held",
                None,
                Some(&l.path),
                l.what,
                "wait for that program to finish before changing passwords",
            ));
        }
    }
}
