//! Files a crash can leave beside the credential files, explained and (when provably stale)
//! removed: `NAME.lock` of a dead process, `NAME.PID` of a dead process (commonio's lock
//! attempt), and an old `NAME+` temp file. Called with the locks held.
//!
//! A name alone proves nothing: owners keep dated copies such as `shadow.20240101` or
//! `smbpasswd.2023` beside the stores. A file is only removed when its content shows that
//! shadow-utils or qrescue wrote it: a lock file is a few bytes holding exactly one pid (the
//! pid of its name, for `NAME.PID`, or nothing: killed before writing it) within the
//! kernel's pid range, of a process that no longer exists; a temp file is removed only when it holds nothing the owner could lose
//! (empty, or byte-identical to `NAME` or `NAME-`). `NAME-` is never touched.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::stores::Stores;
use crate::sys::dir::Dir;
use crate::sys::fs::fstat;
use crate::sys::regular;
use crate::sys::root::Root;

/// A temp file older than this, with the locks held and no transaction pending, is stale.
const TEMP_STALE: Duration = Duration::from_secs(60);
/// The kernel's upper bound for pids (`PID_MAX_LIMIT` on 64-bit): the limit under `--root`,
/// where the running kernel's `pid_max` says nothing about the box the root came from.
pub const PID_MAX_LIMIT: i32 = 4_194_304;
/// commonio writes the pid with `%lu` and no newline: at most 7 digits below the limit.
const PID_FILE_MAX: i64 = 12;
/// A temp file larger than this is not compared (credential files are far smaller).
const TEMP_COMPARE_MAX: i64 = 64 << 20;

#[derive(Debug, Serialize)]
pub struct Leftover {
    pub path: String,
    pub what: String,
    pub removed: bool,
    /// Provably left by a dead process or an interrupted write (what `clean` removes).
    #[serde(skip)]
    pub stale: bool,
}

/// The largest pid the system can hand out: `/proc/sys/kernel/pid_max` on the live system,
/// the kernel's limit under `--root`.
fn pid_max(root: &Root) -> i32 {
    if !root.is_host() {
        return PID_MAX_LIMIT;
    }
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|&p| p > 0 && p <= PID_MAX_LIMIT)
        .unwrap_or(PID_MAX_LIMIT)
}

/// What a file named like a lock holds.
#[derive(Debug, PartialEq, Eq)]
enum PidFile {
    Dead(i32),
    Alive(i32),
    /// Not a lock file of shadow-utils or qrescue: anything else (the owner's file).
    Foreign,
    /// A FIFO, device or directory where a lock file goes: never opened, never removed.
    NotRegular,
}

/// Open a regular file without following a symlink, without blocking on a FIFO and without
/// opening a device (`sys::regular`). `Err(true)`: something other than a regular file is there.
fn open_regular(dir: &Dir, name: &str) -> Result<(File, i64), bool> {
    match regular::open_read(dir, name.as_ref(), name) {
        Ok(fd) => {
            let size = fstat(&fd).map_err(|_| false)?.st_size;
            Ok((File::from(fd), size))
        }
        Err(regular::OpenError::Refused(_)) => Err(true),
        Err(regular::OpenError::Os(_)) => Err(false),
    }
}

/// Classify `name` as a commonio lock file: a regular file of a few bytes holding exactly a
/// decimal pid (a final newline tolerated), `expected` when the name carries one; for
/// `NAME.PID`, also an empty file (its writer was killed between creating and writing it).
fn pid_file(dir: &Dir, name: &str, expected: Option<i32>, max: i32) -> PidFile {
    let (f, size) = match open_regular(dir, name) {
        Ok(opened) => opened,
        Err(true) => return PidFile::NotRegular,
        Err(false) => return PidFile::Foreign,
    };
    if size > PID_FILE_MAX {
        return PidFile::Foreign;
    }
    let mut buf = Vec::new();
    if f.take(PID_FILE_MAX as u64 + 1)
        .read_to_end(&mut buf)
        .is_err()
    {
        return PidFile::Foreign;
    }
    let digits = buf.strip_suffix(b"\n").unwrap_or(&buf);
    // Empty: created, then killed before the pid was written (an empty file loses nothing).
    let Some(pid) = parse_pid(digits, max).or(expected.filter(|_| buf.is_empty())) else {
        return PidFile::Foreign;
    };
    if expected.is_some_and(|e| e != pid) {
        return PidFile::Foreign;
    }
    if crate::sys::proc::alive(pid) {
        PidFile::Alive(pid)
    } else {
        PidFile::Dead(pid)
    }
}

/// A pid as `%lu` prints it (no sign, no leading zero), within 1..=max.
fn parse_pid(digits: &[u8], max: i32) -> Option<i32> {
    if digits.is_empty()
        || digits.len() > 7
        || digits[0] == b'0'
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let pid: i32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (1..=max).contains(&pid).then_some(pid)
}

/// Bytes of a regular file, if it is one and not huge.
fn contents(dir: &Dir, name: &str) -> Option<Vec<u8>> {
    let (mut f, size) = open_regular(dir, name).ok()?;
    if size > TEMP_COMPARE_MAX {
        return None;
    }
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// Whether removing the temp file `NAME+` loses nothing: it is empty, or holds exactly what
/// `NAME` or `NAME-` holds.
fn temp_is_redundant(dir: &Dir, base: &str, temp: &str) -> bool {
    let Some(t) = contents(dir, temp) else {
        return false;
    };
    t.is_empty()
        || [base.to_string(), format!("{base}-")]
            .iter()
            .any(|other| contents(dir, other).is_some_and(|o| o == t))
}

/// Find (and with `clean`, remove) leftovers beside every name of every store.
pub fn sweep(root: &Root, stores: &Stores, clean: bool) -> Vec<Leftover> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let me = std::process::id() as i32;
    let max = pid_max(root);
    for name in stores.files.iter().flat_map(|f| f.names.iter()) {
        let p = Path::new(name);
        let (Some(parent), Some(base)) = (
            p.parent().and_then(Path::to_str),
            p.file_name().and_then(|b| b.to_str()),
        ) else {
            continue;
        };
        let Ok((dir, real_dir)) = root.open_dir(parent) else {
            continue;
        };
        let dir = Dir::from(dir);
        if !seen.insert((real_dir.clone(), base.to_string())) {
            continue;
        }
        let Ok(listing) = dir.entries() else {
            continue;
        };
        for ename in &listing {
            let ename = ename.as_str();
            let Some(rest) = ename.strip_prefix(base) else {
                continue;
            };
            let display = root.display(&real_dir.join(ename));
            let (what, stale) = match rest {
                ".lock" => match pid_file(&dir, ename, None, max) {
                    // Our own lock: we hold the locks while sweeping.
                    PidFile::Alive(pid) if pid == me => continue,
                    PidFile::Dead(pid) => (format!("lock of dead process {pid}"), true),
                    PidFile::Alive(pid) => (format!("lock held by running process {pid}"), false),
                    PidFile::NotRegular => (
                        "not a regular file at a lock path (a FIFO, device or directory): remove it"
                            .to_string(),
                        false,
                    ),
                    PidFile::Foreign => (
                        "named like a lock but holds no process id: left alone".to_string(),
                        false,
                    ),
                },
                "+" => {
                    let old = dir
                        .stat_at(ename)
                        .ok()
                        .and_then(|st| {
                            let m = SystemTime::UNIX_EPOCH
                                + Duration::from_secs(u64::try_from(st.st_mtime).unwrap_or(0));
                            SystemTime::now().duration_since(m).ok()
                        })
                        .is_some_and(|age| age > TEMP_STALE);
                    if !old {
                        ("temp file being written now".to_string(), false)
                    } else if temp_is_redundant(&dir, base, ename) {
                        ("temp file of an interrupted write".to_string(), true)
                    } else {
                        (
                            format!(
                                "temp file of an interrupted write that differs from {base}: \
                                 check it and remove it by hand"
                            ),
                            false,
                        )
                    }
                }
                r if r.len() > 1
                    && r.starts_with('.')
                    && r[1..].bytes().all(|b| b.is_ascii_digit()) =>
                {
                    // Only commonio's `NAME.PID`: the file holds exactly the pid in its name.
                    let Some(named) = parse_pid(&r.as_bytes()[1..], max) else {
                        continue;
                    };
                    match pid_file(&dir, ename, Some(named), max) {
                        PidFile::Alive(pid) if pid == me => continue,
                        PidFile::Dead(_) => ("lock attempt of a dead process".to_string(), true),
                        PidFile::Alive(_) => {
                            ("lock attempt of a running process".to_string(), false)
                        }
                        PidFile::Foreign | PidFile::NotRegular => continue,
                    }
                }
                _ => continue,
            };
            let removed = clean && stale && dir.unlink(ename).is_ok();
            if removed {
                log::warn!("removed stale {display} ({what})");
            }
            out.push(Leftover {
                path: display,
                what,
                removed,
                stale,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_pid;

    #[test]
    fn pids_as_commonio_writes_them() {
        assert_eq!(parse_pid(b"1234", 32768), Some(1234));
        assert_eq!(parse_pid(b"4194304", super::PID_MAX_LIMIT), Some(4_194_304));
        for bad in [
            &b""[..],
            b"0",
            b"01234",
            b"-5",
            b"+5",
            b"12 ",
            b"20240101",
            b"40000",
        ] {
            assert_eq!(parse_pid(bad, 32768), None, "{bad:?}");
        }
    }
}
