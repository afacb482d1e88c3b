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
/// holder runs), or `None` when it cannot be read. Raw: the caller escapes what it prints.
fn program_of(pid: i32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let comm = comm.trim_end_matches('\n');
    (!comm.is_empty()).then(|| comm.to_string())
}

/// A lock found held and waited for, handed once to the caller's `on_wait` after
/// [`WAIT_NOTICE_AFTER`] (sys/ prints nothing): a wait of up to 15 s must not look like a
/// hang. Its `Display` is the line to say: "waiting for PATH, held by process PID (PROG)
/// (up to 15 s)".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The lock file, as the root displays it.
    pub what: String,
    /// The holding process and its program, when the lock says (`None`: another program).
    pub holder: Option<(i32, Option<String>)>,
    pub timeout: Duration,
}

impl Waiting {
    fn new(what: &str, pid: Option<i32>, timeout: Duration) -> Waiting {
        Waiting {
            what: what.to_string(),
            holder: pid.map(|pid| (pid, program_of(pid))),
            timeout,
        }
    }
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "waiting for {}, held by ", self.what)?;
        match &self.holder {
            Some((pid, Some(prog))) => write!(f, "process {pid} ({prog})")?,
            Some((pid, None)) => write!(f, "process {pid}")?,
            None => f.write_str("another program")?,
        }
        write!(f, " (up to {} s)", self.timeout.as_secs())
    }
}

/// The `lckpwdf` lock; released when dropped (closing the descriptor drops the fcntl lock).
#[derive(Debug)]
pub struct PwdLock {
    _file: File,
}

/// Take `/etc/.pwd.lock` inside the root, waiting up to `timeout`; `on_wait` hears once
/// when the wait goes on.
pub fn lckpwdf(
    root: &Root,
    timeout: Duration,
    on_wait: &mut dyn FnMut(&Waiting),
) -> Result<PwdLock> {
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
                    on_wait(&Waiting::new(&display, pid, timeout));
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
/// `timeout`, removing a stale lock left by a dead process; `on_wait` hears once when the
/// wait goes on.
pub fn lock_file(
    root: &Root,
    logical: &str,
    timeout: Duration,
    on_wait: &mut dyn FnMut(&Waiting),
) -> Result<FileLock> {
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
                        on_wait(&Waiting::new(&display, pid, timeout));
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

#[cfg(test)]
mod tests {
    //! Who holds a lock and how long it is waited for (written to kill the mutants
    //! cargo-mutants found alive; docs/reliability.md, "Mutation testing").
    use super::*;
    use std::fs;

    fn tree() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(dir.path().join("etc/shadow"), b"s\n").unwrap();
        let root = Root::open(dir.path()).unwrap();
        (dir, root)
    }

    fn etc(root: &Root) -> OwnedFd {
        root.open_dir("/etc").unwrap().0
    }

    /// A pid that no process has: a child that has been waited for.
    fn dead_pid() -> i32 {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id() as i32;
        c.wait().unwrap();
        pid
    }

    #[test]
    fn the_holder_is_read_from_the_lock_file() {
        let (dir, root) = tree();
        let fd = etc(&root);
        let lock = dir.path().join("etc/shadow.lock");
        let name = std::ffi::OsStr::new("shadow.lock");
        assert_eq!(holder(&fd, name), Holder::Unreadable, "missing");
        let me = std::process::id() as i32;
        fs::write(&lock, format!("{me}\n")).unwrap();
        assert_eq!(holder(&fd, name), Holder::Alive(me));
        let dead = dead_pid();
        fs::write(&lock, format!("{dead}")).unwrap();
        assert_eq!(holder(&fd, name), Holder::Dead(dead));
        // 0 and negative pids name process groups, not a holder.
        for text in ["0", "-1", "", "x12", "99999999999"] {
            fs::write(&lock, text).unwrap();
            assert_eq!(holder(&fd, name), Holder::Unreadable, "{text:?}");
        }
        fs::remove_file(&lock).unwrap();
        nix::unistd::mkfifo(&lock, Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(holder(&fd, name), Holder::NotRegular);
    }

    #[test]
    fn a_lock_is_taken_with_our_pid_and_removed_when_dropped() {
        let (dir, root) = tree();
        let lock = dir.path().join("etc/shadow.lock");
        let l = lock_file(
            &root,
            "/etc/shadow",
            Duration::from_millis(200),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(&lock).unwrap(),
            std::process::id().to_string()
        );
        // Our own `NAME.PID` is gone; only the lock stays.
        let names: Vec<_> = fs::read_dir(dir.path().join("etc"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        drop(l);
        assert!(!lock.exists());
    }

    #[test]
    fn a_stale_lock_is_replaced_a_live_one_waited_for_then_refused() {
        let (dir, root) = tree();
        let lock = dir.path().join("etc/shadow.lock");
        fs::write(&lock, dead_pid().to_string()).unwrap();
        drop(
            lock_file(
                &root,
                "/etc/shadow",
                Duration::from_millis(200),
                &mut |_| {},
            )
            .unwrap(),
        );

        let me = std::process::id();
        fs::write(&lock, me.to_string()).unwrap();
        let start = Instant::now();
        let e = lock_file(
            &root,
            "/etc/shadow",
            Duration::from_millis(300),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert_eq!(e.exit(), crate::error::Exit::TempFail);
        assert!(
            e.to_string().contains(&format!("held by process {me}")),
            "{}",
            e.to_string()
        );
        assert_eq!(fs::read_to_string(&lock).unwrap(), me.to_string());

        fs::write(&lock, "").unwrap();
        let e = lock_file(
            &root,
            "/etc/shadow",
            Duration::from_millis(100),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(e.exit(), crate::error::Exit::TempFail);
        assert!(
            e.to_string().contains("names no process"),
            "{}",
            e.to_string()
        );

        fs::remove_file(&lock).unwrap();
        fs::create_dir(&lock).unwrap();
        let e = lock_file(
            &root,
            "/etc/shadow",
            Duration::from_millis(100),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(e.exit(), crate::error::Exit::NoPerm);
        assert!(
            e.to_string().contains("is not a regular file"),
            "{}",
            e.to_string()
        );
    }

    /// A wait past WAIT_NOTICE_AFTER is handed to the caller once, naming the holder; sys/
    /// prints nothing itself.
    #[test]
    fn a_long_wait_is_told_to_the_caller_once() {
        let (dir, root) = tree();
        let me = std::process::id() as i32;
        fs::write(dir.path().join("etc/shadow.lock"), me.to_string()).unwrap();
        let mut heard = Vec::new();
        let timeout = WAIT_NOTICE_AFTER + Duration::from_millis(300);
        let e = lock_file(&root, "/etc/shadow", timeout, &mut |w| {
            heard.push(w.clone())
        });
        assert!(e.is_err());
        let comm = fs::read_to_string("/proc/self/comm").unwrap();
        let display = dir.path().join("etc/shadow.lock").display().to_string();
        assert_eq!(
            heard,
            [Waiting {
                what: display.clone(),
                holder: Some((me, Some(comm.trim_end().to_string()))),
                timeout,
            }]
        );
        assert_eq!(
            heard[0].to_string(),
            format!(
                "waiting for {display}, held by process {me} ({}) (up to 1 s)",
                comm.trim_end()
            )
        );
        let nobody = Waiting::new("/x", None, LOCK_TIMEOUT);
        assert_eq!(
            nobody.to_string(),
            "waiting for /x, held by another program (up to 15 s)"
        );
    }

    #[test]
    fn names_whose_lock_files_are_one_file_have_one_identity() {
        let (dir, root) = tree();
        std::os::unix::fs::symlink("etc", dir.path().join("cfg")).unwrap();
        let a = lock_identity(&root, "/etc/shadow").unwrap();
        assert_eq!(a.2, "shadow.lock");
        assert_eq!(a, lock_identity(&root, "/cfg/shadow").unwrap());
        assert_eq!(a, lock_identity(&root, "/etc/../etc/shadow").unwrap());
        fs::create_dir(dir.path().join("var")).unwrap();
        let b = lock_identity(&root, "/var/shadow").unwrap();
        assert_ne!((a.0, a.1), (b.0, b.1));
        use std::os::unix::fs::MetadataExt;
        let st = fs::metadata(dir.path().join("etc")).unwrap();
        assert_eq!((a.0, a.1), (st.dev(), st.ino()));
    }

    #[test]
    #[ignore = "needs python3"]
    fn lckpwdf_held_by_another_process_is_refused_after_the_timeout() {
        let (dir, root) = tree();
        let path = dir.path().join("etc/.pwd.lock");
        // Another process holds the fcntl lock (Python's lockf is fcntl F_SETLKW).
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "import fcntl,sys,time\nf=open(sys.argv[1],'w')\nfcntl.lockf(f,fcntl.LOCK_EX)\n\
                 print('held',flush=True)\ntime.sleep(60)",
            ])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line, "held\n");
        let start = Instant::now();
        let r = lckpwdf(&root, Duration::from_millis(300), &mut |_| {});
        let waited = start.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        let e = r.unwrap_err();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert_eq!(e.exit(), crate::error::Exit::TempFail);
        assert!(
            e.to_string().contains("is locked by another program"),
            "{}",
            e.to_string()
        );
        // Free again: taken at once.
        drop(lckpwdf(&root, Duration::from_millis(300), &mut |_| {}).unwrap());
    }
}
