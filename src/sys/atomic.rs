//! Reading a credential file and replacing it atomically, in the directory of the real file.
//!
//! Replacement is two-phase so a transaction can prepare every file before touching any:
//! [`stage`] writes the new content to a scratch file named in advance (created `O_EXCL`,
//! mode 0600 from birth, then the original owner, attributes and mode), fsyncs it and links
//! it to `NAME+` (so `NAME+` only ever appears complete); [`Staged::commit`] keeps the previous
//! version as `NAME-` (a hard link, as shadow-utils and busybox do), renames `NAME+` over
//! `NAME` and fsyncs the directory. `NAME+` is also busybox's own lock: linking it (which
//! fails if it exists) keeps a concurrent busybox `passwd`/`chpasswd` out until our rename;
//! one that finished while we wrote is caught by the transaction's re-read.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{FileStat, Mode, fchmod};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fsync, linkat, unlinkat};

use super::root::Resolved;
use super::xattr;
use crate::error::{Error, Result};

/// Suffix of the temporary file (shared with shadow-utils and busybox).
pub const TEMP_SUFFIX: &str = "+";
/// Suffix of the previous version kept beside the file.
pub const PREVIOUS_SUFFIX: &str = "-";

/// Ownership and permission bits of a file, to carry over to its replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl From<&FileStat> for Meta {
    fn from(st: &FileStat) -> Self {
        Meta {
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
        }
    }
}

/// Read a resolved regular file entirely, with its metadata.
pub fn read(res: &Resolved, display: &str) -> Result<(Vec<u8>, Meta)> {
    let mut f = res.open_read().map_err(|e| Error::io(display, e))?;
    let st = nix::sys::stat::fstat(f.as_fd()).map_err(|e| Error::io(display, e))?;
    if st.st_mode & nix::libc::S_IFMT != nix::libc::S_IFREG {
        return Err(Error::data(format!("{display}: not a regular file")));
    }
    let mut buf = Vec::with_capacity(usize::try_from(st.st_size).unwrap_or(0) + 1);
    f.read_to_end(&mut buf).map_err(|e| Error::io(display, e))?;
    Ok((buf, Meta::from(&st)))
}

/// A new version written to `NAME+` and fsynced, not yet in place.
#[derive(Debug)]
pub struct Staged<'a> {
    res: &'a Resolved,
    temp: OsString,
    display: String,
    live: bool,
}

/// Why [`Staged::commit`] failed, and whether the file was already replaced.
#[derive(Debug)]
pub enum CommitError {
    /// The rename failed: the file is untouched (its staged version is discarded).
    BeforeRename(Error),
    /// The rename happened, then the directory fsync failed: the file holds the new version,
    /// which may not survive a crash; it is the caller's to roll back.
    AfterRename(Error),
}

impl CommitError {
    /// Whether the file was replaced before the failure.
    pub fn renamed(&self) -> bool {
        matches!(self, CommitError::AfterRename(_))
    }

    /// The error itself.
    pub fn into_error(self) -> Error {
        match self {
            CommitError::BeforeRename(e) | CommitError::AfterRename(e) => e,
        }
    }
}

/// How long to wait for someone else's `NAME+` to go away (busybox waits 3 s).
const TEMP_WAIT: Duration = Duration::from_secs(3);

/// A scratch file name beside `res` for one staging, unique (128 random bits): a transaction
/// records it in its intent record *before* creating it, so recovery can prove a leftover
/// scratch file is its own by that record, never by a name pattern.
pub fn scratch_name(res: &Resolved) -> Result<OsString> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw)
        .map_err(|e| Error::io("random scratch name", std::io::Error::other(e.to_string())))?;
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    Ok(res.sibling(&format!(".qrescue-{hex}.tmp")))
}

/// Write `contents` to the scratch file `scratch` beside the resolved file (created `O_EXCL`,
/// 0600), with `meta` and the original's extended attributes, fsync it, then link it to
/// `NAME+` (waiting for someone else's `NAME+` to go away) and remove the scratch name. So
/// `NAME+` only ever appears complete: a leftover `NAME+` whose SHA-256 is what the intent
/// record says was written is provably ours. On any failure the scratch and temp files are
/// removed and the original is untouched.
pub fn stage<'a>(
    res: &'a Resolved,
    display: &str,
    contents: &[u8],
    meta: Meta,
    scratch: &std::ffi::OsStr,
) -> Result<Staged<'a>> {
    let temp = res.sibling(TEMP_SUFFIX);
    let tdisp = format!("{display}{TEMP_SUFFIX}");
    let fd = openat(
        &res.dir,
        scratch,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| Error::io(&tdisp, e))?;
    let remove_scratch = || {
        let _ = unlinkat(&res.dir, scratch, UnlinkatFlags::NoRemoveDir);
    };
    let mut file = File::from(fd);
    let result = (|| -> Result<()> {
        // Owner first, then mode: chown clears set-id bits, and the file is 0600 until now.
        match fchown(
            file.as_fd(),
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
        ) {
            Ok(()) => {}
            // Not root (a test root owned by the user): keep our own ownership only if the
            // original is ours too; otherwise refuse rather than change the owner.
            Err(Errno::EPERM) if Uid::effective().as_raw() == meta.uid => {}
            Err(e) => return Err(Error::io(&tdisp, e)),
        }
        file.write_all(contents).map_err(|e| Error::io(&tdisp, e))?;
        // The original's ACL and other attributes, exactly (after the write, which may
        // clear some); then the mode, which also sets the ACL mask consistently.
        if res.stat.is_some() {
            let orig = res.open_read().map_err(|e| Error::io(display, e))?;
            xattr::copy(orig.as_fd(), file.as_fd()).map_err(|(name, e)| {
                Error::io(&tdisp, e).context(format!(
                    "cannot keep {name} of {display} on its replacement; nothing was changed"
                ))
            })?;
        } else {
            xattr::remove(file.as_fd(), xattr::ACL_ACCESS).map_err(|e| Error::io(&tdisp, e))?;
        }
        fchmod(file.as_fd(), Mode::from_bits_truncate(meta.mode))
            .map_err(|e| Error::io(&tdisp, e))?;
        fsync(file.as_fd()).map_err(|e| Error::io(&tdisp, e))?;
        Ok(())
    })();
    drop(file);
    if let Err(e) = result {
        remove_scratch();
        return Err(e);
    }
    // Take `NAME+` (busybox's lock) with the complete content.
    let start = Instant::now();
    let linked = loop {
        match linkat(
            &res.dir,
            scratch,
            &res.dir,
            temp.as_os_str(),
            AtFlags::empty(),
        ) {
            Ok(()) => break Ok(()),
            Err(Errno::EEXIST) if start.elapsed() < TEMP_WAIT => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(Errno::EEXIST) => {
                break Err(Error::busy(format!(
                    "{tdisp} exists: another program is writing {display}, or one crashed \
                     (remove it if no passwd/useradd is running)"
                )));
            }
            Err(e) => break Err(Error::io(&tdisp, e)),
        }
    };
    if let Err(e) = linked {
        remove_scratch();
        return Err(e);
    }
    let mut staged = Staged {
        res,
        temp,
        display: display.to_string(),
        live: true,
    };
    if let Err(e) = unlinkat(&res.dir, scratch, UnlinkatFlags::NoRemoveDir) {
        staged.discard();
        remove_scratch();
        return Err(Error::io(&tdisp, e));
    }
    Ok(staged)
}

impl Staged<'_> {
    /// Put the new version in place: keep `NAME-`, rename `NAME+` over `NAME`, fsync the
    /// directory. A failure says whether the rename happened ([`CommitError::AfterRename`]:
    /// the directory fsync failed), so a transaction knows to roll this file back.
    pub fn commit(self) -> std::result::Result<(), CommitError> {
        self.commit_as(true)
    }

    /// [`Staged::commit`], keeping `NAME-` as it is when `keep_previous` is false (a rollback:
    /// `NAME-` then still holds the content from before the change, not the one undone).
    fn commit_as(mut self, keep_previous: bool) -> std::result::Result<(), CommitError> {
        if keep_previous {
            self.keep_previous();
        }
        if let Err(e) = renameat(
            &self.res.dir,
            self.temp.as_os_str(),
            &self.res.dir,
            self.res.name.as_os_str(),
        ) {
            self.discard();
            return Err(CommitError::BeforeRename(Error::io(
                format!("rename over {}", self.display),
                e,
            )));
        }
        self.live = false;
        fsync(&self.res.dir).map_err(|e| {
            CommitError::AfterRename(Error::io(
                format!("fsync of the directory of {}", self.display),
                e,
            ))
        })
    }

    /// Keep the version about to be replaced as `NAME-` (a hard link). A courtesy: busybox
    /// treats failure as a warning too.
    fn keep_previous(&self) {
        let prev = self.res.sibling(PREVIOUS_SUFFIX);
        match unlinkat(&self.res.dir, prev.as_os_str(), UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {
                if let Err(e) = linkat(
                    &self.res.dir,
                    self.res.name.as_os_str(),
                    &self.res.dir,
                    prev.as_os_str(),
                    AtFlags::empty(),
                ) {
                    log::warn!(
                        "could not keep the previous version of {}: {e}",
                        self.display
                    );
                }
            }
            Err(e) => log::warn!("could not replace {}{PREVIOUS_SUFFIX}: {e}", self.display),
        }
    }

    /// Remove the temp file (on abort).
    pub fn discard(&mut self) {
        if self.live {
            let _ = unlinkat(
                &self.res.dir,
                self.temp.as_os_str(),
                UnlinkatFlags::NoRemoveDir,
            );
            self.live = false;
        }
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        self.discard();
    }
}

/// Put a file's earlier content back (a rollback): like [`replace`], but `NAME-` is left
/// alone, so it keeps the version from before the change rather than the one undone.
/// `scratch` is the scratch name the intent record holds for this file.
pub fn restore(
    res: &Resolved,
    display: &str,
    contents: &[u8],
    meta: Meta,
    scratch: &std::ffi::OsStr,
) -> Result<()> {
    stage(res, display, contents, meta, scratch)?
        .commit_as(false)
        .map_err(CommitError::into_error)
}

/// The content of a file beside `res` (`NAME+`, a scratch file) if it is there and a
/// regular file (never opened in a way that could block), for recovery to tell whether it
/// is ours.
pub fn read_sibling(res: &Resolved, name: &std::ffi::OsStr) -> Option<Vec<u8>> {
    let fd = openat(
        &res.dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut f = File::from(fd);
    let st = nix::sys::stat::fstat(f.as_fd()).ok()?;
    if st.st_mode & nix::libc::S_IFMT != nix::libc::S_IFREG {
        return None;
    }
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// Remove a file beside `res` that recovery proved is ours.
pub fn remove_sibling(res: &Resolved, name: &std::ffi::OsStr) {
    let _ = unlinkat(&res.dir, name, UnlinkatFlags::NoRemoveDir);
}
