//! Opening a file that must be a regular file (a lock file, the button journal) without ever
//! blocking or touching anything else put at its path: a FIFO there would hang `open()`
//! forever (before any bounded wait starts), and opening a device node can have effects of
//! its own. The path is checked with `lstat` first (a device is never opened), opened
//! `O_NONBLOCK | O_NOFOLLOW`, and checked again on the descriptor.

use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, FcntlArg, OFlag, fcntl, openat};
use nix::sys::stat::{FileStat, Mode, fstat, fstatat};

use crate::error::{Error, Result};

fn is_regular(st: &FileStat) -> bool {
    st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG
}

fn refuse(display: &str) -> Error {
    Error::perm(format!(
        "{display} is not a regular file (a FIFO, device or directory): qrescue will not use it; \
         remove it"
    ))
}

/// Open `name` in `dir` with `flags` (plus `O_NONBLOCK`, `O_NOFOLLOW`, `O_CLOEXEC`), refusing
/// anything but a regular file. The descriptor is switched back to blocking mode.
/// `Err` with the raw errno for open failures the caller may handle (ENOENT…).
pub fn open(
    dir: &impl AsFd,
    name: &std::ffi::OsStr,
    flags: OFlag,
    mode: Mode,
    display: &str,
) -> std::result::Result<OwnedFd, OpenError> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if !is_regular(&st) => return Err(OpenError::Refused(refuse(display))),
        _ => {}
    }
    let fd = openat(
        dir,
        name,
        flags | OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )
    .map_err(|e| match e {
        // A FIFO put there after the check, with no reader.
        Errno::ENXIO => OpenError::Refused(refuse(display)),
        e => OpenError::Os(e),
    })?;
    let st = fstat(fd.as_fd()).map_err(OpenError::Os)?;
    if !is_regular(&st) {
        return Err(OpenError::Refused(refuse(display)));
    }
    let fl = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL).map_err(OpenError::Os)?);
    fcntl(&fd, FcntlArg::F_SETFL(fl - OFlag::O_NONBLOCK)).map_err(OpenError::Os)?;
    Ok(fd)
}

/// Why [`open`] failed.
#[derive(Debug)]
pub enum OpenError {
    /// Not a regular file: a one-line error ready to report.
    Refused(Error),
    /// The system call failed.
    Os(Errno),
}

impl OpenError {
    /// As a reportable error, naming `display`.
    pub fn into_error(self, display: &str) -> Error {
        match self {
            OpenError::Refused(e) => e,
            OpenError::Os(e) => Error::io(display, e),
        }
    }
}

/// [`open`] read-only.
pub fn open_read(
    dir: &impl AsFd,
    name: &std::ffi::OsStr,
    display: &str,
) -> std::result::Result<OwnedFd, OpenError> {
    open(dir, name, OFlag::O_RDONLY, Mode::empty(), display)
}

/// [`open_read`], every failure reported.
pub fn open_read_or_err(dir: &impl AsFd, name: &std::ffi::OsStr, display: &str) -> Result<OwnedFd> {
    open_read(dir, name, display).map_err(|e| e.into_error(display))
}

/// [`open`] for appending, created 0600, every failure reported.
pub fn open_append_or_err(
    dir: &impl AsFd,
    name: &std::ffi::OsStr,
    display: &str,
) -> Result<OwnedFd> {
    open_or_err(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT,
        Mode::from_bits_truncate(0o600),
        display,
    )
}

/// [`open`], every failure reported.
pub fn open_or_err(
    dir: &impl AsFd,
    name: &std::ffi::OsStr,
    flags: OFlag,
    mode: Mode,
    display: &str,
) -> Result<OwnedFd> {
    open(dir, name, flags, mode, display).map_err(|e| e.into_error(display))
}
