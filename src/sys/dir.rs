//! A directory handle: every operation is relative to an open directory descriptor, so a
//! name is looked up in exactly that directory (a symlink swapped in for a parent changes
//! nothing), and child directories are opened `O_NOFOLLOW`.
//!
//! It holds the one copy of "write a new file completely, then put it in place":
//! [`Dir::write_new`] (create `O_EXCL` 0600, write, fsync) and [`Dir::replace`] (that to a
//! temp name, rename over the real name, fsync the directory). Errors are the raw errno, for
//! the caller to name the path it showed the owner.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::NixPath;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{FileStat, Mode, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, fsync, unlinkat};

use super::Errno;

/// An open directory.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

impl From<OwnedFd> for Dir {
    fn from(fd: OwnedFd) -> Self {
        Dir { fd }
    }
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// An I/O error's errno (EIO when it has none).
pub fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::EIO))
}

impl Dir {
    /// Open the directory at `path` (a path the owner named: symlinks in it are followed).
    pub fn open_path(path: &Path) -> Result<Dir, Errno> {
        nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(Dir::from)
    }

    /// `mkdirat(name, mode)`.
    pub fn mkdir<P: ?Sized + NixPath>(&self, name: &P, mode: u32) -> Result<(), Errno> {
        mkdirat(&self.fd, name, Mode::from_bits_truncate(mode))
    }

    /// Open the child directory `name`, never through a symlink (`ELOOP`/`ENOTDIR` then).
    pub fn open_dir<P: ?Sized + NixPath>(&self, name: &P) -> Result<Dir, Errno> {
        openat(
            &self.fd,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(Dir::from)
    }

    /// Open `name` with `flags` (the caller's `O_NOFOLLOW` and `O_CLOEXEC` included) and `mode`.
    pub fn open_at<P: ?Sized + NixPath>(
        &self,
        name: &P,
        flags: OFlag,
        mode: u32,
    ) -> Result<OwnedFd, Errno> {
        openat(&self.fd, name, flags, Mode::from_bits_truncate(mode))
    }

    /// Open `name` for reading, never through a symlink.
    pub fn open_read<P: ?Sized + NixPath>(&self, name: &P) -> Result<File, Errno> {
        self.open_at(
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            0,
        )
        .map(File::from)
    }

    /// Open `name` for reading, never through a symlink and never blocking on a FIFO put
    /// there (`O_NONBLOCK`).
    pub fn open_read_nonblock<P: ?Sized + NixPath>(&self, name: &P) -> Result<OwnedFd, Errno> {
        self.open_at(
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            0,
        )
    }

    /// Create or truncate `name` for writing, never through a symlink, with `mode` when new.
    pub fn create_truncate<P: ?Sized + NixPath>(
        &self,
        name: &P,
        mode: u32,
    ) -> Result<OwnedFd, Errno> {
        self.open_at(
            name,
            OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_TRUNC
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC,
            mode,
        )
    }

    /// Open `name` to read and append (created with `mode`), never through a symlink and
    /// never blocking on a FIFO put there.
    pub fn open_append_rw<P: ?Sized + NixPath>(
        &self,
        name: &P,
        mode: u32,
    ) -> Result<OwnedFd, Errno> {
        self.open_at(
            name,
            OFlag::O_RDWR
                | OFlag::O_APPEND
                | OFlag::O_CREAT
                | OFlag::O_NOFOLLOW
                | OFlag::O_NONBLOCK
                | OFlag::O_CLOEXEC,
            mode,
        )
    }

    /// Create `name` (`O_EXCL`, never through a symlink) with `mode`.
    pub fn create_new<P: ?Sized + NixPath>(&self, name: &P, mode: u32) -> Result<File, Errno> {
        self.open_at(
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            mode,
        )
        .map(File::from)
    }

    /// The directory's own status (`fstat`).
    pub fn stat(&self) -> Result<FileStat, Errno> {
        fstat(&self.fd)
    }

    /// The status of `name` itself (`fstatat`, a symlink not followed).
    pub fn stat_at<P: ?Sized + NixPath>(&self, name: &P) -> Result<FileStat, Errno> {
        fstatat(&self.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW)
    }

    /// Whether `name` exists as anything (a symlink included).
    pub fn has<P: ?Sized + NixPath>(&self, name: &P) -> bool {
        self.stat_at(name).is_ok()
    }

    /// The names in the directory (UTF-8 ones; `.` and `..` left out), in directory order.
    /// Lists a duplicate of the descriptor, so this handle stays usable.
    pub fn entries(&self) -> Result<Vec<String>, Errno> {
        let dup = self.fd.try_clone().map_err(|e| errno_of(&e))?;
        Dir::from(dup).into_entries()
    }

    /// [`Dir::entries`], consuming the handle (no duplicate).
    pub fn into_entries(self) -> Result<Vec<String>, Errno> {
        let listing = nix::dir::Dir::from_fd(self.fd)?;
        Ok(listing
            .into_iter()
            .flatten()
            .filter_map(|e| e.file_name().to_str().ok().map(str::to_string))
            .filter(|n| n != "." && n != "..")
            .collect())
    }

    /// Remove the file `name`.
    pub fn unlink<P: ?Sized + NixPath>(&self, name: &P) -> Result<(), Errno> {
        unlinkat(&self.fd, name, UnlinkatFlags::NoRemoveDir)
    }

    /// Remove the empty directory `name`.
    pub fn rmdir<P: ?Sized + NixPath>(&self, name: &P) -> Result<(), Errno> {
        unlinkat(&self.fd, name, UnlinkatFlags::RemoveDir)
    }

    /// Rename `from` to `to`, both in this directory.
    pub fn rename<P: ?Sized + NixPath, Q: ?Sized + NixPath>(
        &self,
        from: &P,
        to: &Q,
    ) -> Result<(), Errno> {
        renameat(&self.fd, from, &self.fd, to)
    }

    /// fsync the directory (makes renames and unlinks in it durable).
    pub fn sync(&self) -> Result<(), Errno> {
        fsync(&self.fd)
    }

    /// Create `name` (`O_EXCL`, 0600, never through a symlink), write `bytes`, fsync it.
    pub fn write_new<P: ?Sized + NixPath>(&self, name: &P, bytes: &[u8]) -> Result<(), Errno> {
        let mut f = self.create_new(name, 0o600)?;
        f.write_all(bytes).map_err(|e| errno_of(&e))?;
        fsync(f.as_fd())
    }

    /// Replace `name` atomically: [`Dir::write_new`] to `temp`, rename it over `name`, fsync
    /// the directory. A crash leaves the old content or the new, never a mix; `temp` may be
    /// left behind (the caller's recovery removes it).
    pub fn replace(&self, temp: &OsStr, name: &OsStr, bytes: &[u8]) -> Result<(), Errno> {
        self.write_new(temp, bytes)?;
        self.rename(temp, name)?;
        self.sync()
    }
}
