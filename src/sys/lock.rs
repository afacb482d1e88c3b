//! Locks compatible with shadow-utils and busybox.
//!
//! - `lckpwdf()`: an fcntl write lock on `/etc/.pwd.lock` (inside the root), waited for up to
//!   15 s like glibc's.
//! - commonio's per-file lock: write our pid to `NAME.PID` (fsynced), `link()` it to
//!   `NAME.lock`; only one process can create the link. A lock whose pid no longer exists is stale and removed.
//!   The lock sits beside the path as *named* (`/etc/shadow.lock` for `/etc/shadow`, even when
//!   `/etc/shadow` is a symlink), exactly where shadow-utils puts it; qrescue takes it for
//!   every name a store is known by.
//!
//! Busybox takes neither; it is kept out by the `NAME+` temp file (see `sys::atomic`).

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, FcntlArg, OFlag, fcntl};
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, linkat, unlinkat};

use super::regular;
use super::root::Root;
use crate::error::{Error, Result};

/// glibc's lckpwdf timeout.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a wait stays silent before saying who holds the lock.
const WAIT_NOTICE_AFTER: Duration = Duration::from_secs(1);

/// The program of a live process, from `/proc/PID/comm` (the running system's, where the
/// holder runs), or `None` when it cannot be read.
fn program_of(pid: i32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let comm = comm.trim_end_matches('\n');
    (!comm.is_empty()).then(|| crate::escape::line(comm).to_string())
}

/// Said once, after [`WAIT_NOTICE_AFTER`]: a wait of up to 15 s must not look like a hang.
fn wait_notice(display: &str, pid: Option<i32>, timeout: Duration) {
    let who = match pid {
        Some(pid) => match program_of(pid) {
            Some(prog) => format!("process {pid} ({prog})"),
            None => format!("process {pid}"),
        },
        None => "another program".to_string(),
    };
    eprintln!(
        "qrescue: waiting for {display}, held by {who} (up to {} s)",
        timeout.as_secs()
    );
}

/// The `lckpwdf` lock; released when dropped (closing the descriptor drops the fcntl lock).
#[derive(Debug)]
pub struct PwdLock {
    _file: File,
}

/// Take `/etc/.pwd.lock` inside the root, waiting up to `timeout`.
pub fn lckpwdf(root: &Root, timeout: Duration) -> Result<PwdLock> {
    let res = root.resolve("/etc/.pwd.lock")?;
    let display = root.display(&res.real);
    // A FIFO here would block open() forever, before the bounded wait starts.
    let fd = regular::open_or_err(
        &res.dir,
        res.name.as_os_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT,
        Mode::from_bits_truncate(0o600),
        &display,
    )?;
    let file = File::from(fd);
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a valid value.
    let mut fl: nix::libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = nix::libc::F_WRLCK as _;
    fl.l_whence = nix::libc::SEEK_SET as _;
    let start = Instant::now();
    let mut told = false;
    loop {
        match fcntl(&file, FcntlArg::F_SETLK(&fl)) {
            Ok(_) => return Ok(PwdLock { _file: file }),
            Err(Errno::EAGAIN | Errno::EACCES) if start.elapsed() < timeout => {
                if !told && start.elapsed() >= WAIT_NOTICE_AFTER {
                    told = true;
                    let mut probe = fl;
                    let pid = fcntl(&file, FcntlArg::F_GETLK(&mut probe))
                        .ok()
                        .filter(|_| {
                            i32::from(probe.l_type) != nix::libc::F_UNLCK && probe.l_pid > 0
                        })
                        .map(|_| probe.l_pid);
                    wait_notice(&display, pid, timeout);
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(Errno::EAGAIN | Errno::EACCES) => {
                return Err(Error::Locked {
                    what: display,
                    holder: crate::error::Holder::Unknown,
                    waited_s: timeout.as_secs(),
                });
            }
            Err(e) => return Err(Error::io(&display, e)),
        }
    }
}

/// A commonio-style `NAME.lock`; removed when dropped.
#[derive(Debug)]
pub struct FileLock {
    dir: OwnedFd,
    lock: OsString,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = unlinkat(&self.dir, self.lock.as_os_str(), UnlinkatFlags::NoRemoveDir);
    }
}

/// What a lock file says about its holder.
#[derive(Debug, PartialEq, Eq)]
pub enum Holder {
    Alive(i32),
    Dead(i32),
    Unreadable,
    /// A FIFO, device or directory at the lock path: never a lock of any program.
    NotRegular,
}

/// Read a lock file's pid and check whether that process exists.
pub fn holder(dir: &OwnedFd, name: &std::ffi::OsStr) -> Holder {
    let fd = match regular::open(dir, name, OFlag::O_RDONLY, Mode::empty(), "") {
        Ok(fd) => fd,
        Err(regular::OpenError::Refused(_)) => return Holder::NotRegular,
        Err(regular::OpenError::Os(_)) => return Holder::Unreadable,
    };
    let mut s = String::new();
    if File::from(fd).take(32).read_to_string(&mut s).is_err() {
        return Holder::Unreadable;
    }
    match s.trim().parse::<i32>() {
        Ok(pid) if pid > 0 && super::proc::alive(pid) => Holder::Alive(pid),
        Ok(pid) if pid > 0 => Holder::Dead(pid),
        _ => Holder::Unreadable,
    }
}

/// Which file the `NAME.lock` beside the logical path `logical` is: its directory's
/// (device, inode) and its name. Two names whose lock files are one file (`/etc/config ->
/// /etc`, a path with `..`, a bind-mounted directory) must be locked once, or the second
/// wait would be on ourselves.
#[allow(clippy::unnecessary_cast)] // dev_t/ino_t widths differ between libcs
pub fn lock_identity(root: &Root, logical: &str) -> Result<(u64, u64, OsString)> {
    let path = Path::new(logical);
    let parent = path.parent().and_then(Path::to_str).unwrap_or("/");
    let base = path
        .file_name()
        .ok_or_else(|| Error::usage(format!("{logical}: no file name")))?;
    let (dir, real_dir) = root.open_dir(parent)?;
    let st = nix::sys::stat::fstat(&dir).map_err(|e| Error::io(root.display(&real_dir), e))?;
    let mut lock = base.to_os_string();
    lock.push(".lock");
    Ok((st.st_dev as u64, st.st_ino as u64, lock))
}

/// Take `NAME.lock` beside the logical path `logical` (e.g. `/etc/shadow`), waiting up to
/// `timeout`, removing a stale lock left by a dead process.
pub fn lock_file(root: &Root, logical: &str, timeout: Duration) -> Result<FileLock> {
    let path = Path::new(logical);
    let parent = path.parent().and_then(Path::to_str).unwrap_or("/");
    let base = path
        .file_name()
        .ok_or_else(|| Error::usage(format!("{logical}: no file name")))?;
    let (dir, real_dir) = root.open_dir(parent)?;
    let mut lock = base.to_os_string();
    lock.push(".lock");
    let mut mine = base.to_os_string();
    mine.push(format!(".{}", std::process::id()));
    let display = root.display(&real_dir.join(&lock));

    let fd = regular::open_or_err(
        &dir,
        mine.as_os_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC,
        Mode::from_bits_truncate(0o600),
        &root.display(&real_dir.join(&mine)),
    )?;
    let mut f = File::from(fd);
    // The pid is made durable before the link: otherwise a power cut can leave `NAME.lock`
    // empty (ext4 allocates the data late), a lock naming no process, which would stop every
    // later run and so the rollback of the interrupted change (scripts/vm-powercut.sh).
    let written = f
        .write_all(std::process::id().to_string().as_bytes())
        .and_then(|()| f.sync_all());
    drop(f);
    let cleanup = |dir: &OwnedFd| {
        let _ = unlinkat(dir, mine.as_os_str(), UnlinkatFlags::NoRemoveDir);
    };
    if let Err(e) = written {
        cleanup(&dir);
        return Err(Error::io(&display, e));
    }
    let start = Instant::now();
    let mut told = false;
    let result = loop {
        match linkat(
            &dir,
            mine.as_os_str(),
            &dir,
            lock.as_os_str(),
            AtFlags::empty(),
        ) {
            Ok(()) => break Ok(()),
            Err(Errno::EEXIST) => match holder(&dir, &lock) {
                Holder::NotRegular => {
                    break Err(Error::perm(format!(
                        "{display} is not a regular file (a FIFO, device or directory): \
                         qrescue will not use it; remove it"
                    )));
                }
                Holder::Dead(pid) => {
                    log::warn!("removing stale lock {display} of dead process {pid}");
                    let _ = unlinkat(&dir, lock.as_os_str(), UnlinkatFlags::NoRemoveDir);
                }
                h if start.elapsed() < timeout => {
                    if !told && start.elapsed() >= WAIT_NOTICE_AFTER {
                        told = true;
                        let pid = match h {
                            Holder::Alive(pid) => Some(pid),
                            _ => None,
                        };
                        wait_notice(&display, pid, timeout);
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                Holder::Alive(pid) => {
                    break Err(Error::Locked {
                        what: display,
                        holder: crate::error::Holder::Process(pid),
                        waited_s: timeout.as_secs(),
                    });
                }
                _ => {
                    break Err(Error::Locked {
                        what: display,
                        holder: crate::error::Holder::Nobody,
                        waited_s: timeout.as_secs(),
                    });
                }
            },
            Err(e) => break Err(Error::io(&display, e)),
        }
    };
    cleanup(&dir);
    result.map(|()| FileLock { dir, lock })
}
