//! Small safe wrappers for file descriptors: open by path, status, reads at an offset, and
//! the flag types the rest of the crate passes to [`super::dir::Dir`] and
//! [`super::regular`].

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

pub use nix::fcntl::OFlag;
pub use nix::sys::stat::{FileStat, Mode};

use super::Errno;

/// Whether a status is a regular file's.
pub fn is_regular(st: &FileStat) -> bool {
    st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG
}

/// Whether a status is a directory's.
pub fn is_dir(st: &FileStat) -> bool {
    st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFDIR
}

/// Whether a status (from `fstatat` without following) is a symlink's.
pub fn is_symlink(st: &FileStat) -> bool {
    st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFLNK
}

/// `fstat`.
pub fn fstat(fd: impl AsFd) -> Result<FileStat, Errno> {
    nix::sys::stat::fstat(fd)
}

/// `fchmod`.
pub fn fchmod(fd: impl AsFd, mode: u32) -> Result<(), Errno> {
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode))
}

/// `open(path, flags, mode)`.
pub fn open(path: &Path, flags: OFlag, mode: u32) -> Result<OwnedFd, Errno> {
    nix::fcntl::open(path, flags, Mode::from_bits_truncate(mode))
}

/// Open `path` read-only (`O_CLOEXEC`): a sysfs value file, a GPIO chip, a replay file.
pub fn open_read(path: &Path) -> Result<OwnedFd, Errno> {
    open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, 0)
}

/// Open a device read-only without blocking and without making it the controlling
/// terminal (`O_NONBLOCK | O_NOCTTY | O_CLOEXEC`): an input device.
pub fn open_device_nonblock(path: &Path) -> Result<OwnedFd, Errno> {
    open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        0,
    )
}

/// `pread`: read into `buf` at `offset`.
pub fn pread(fd: impl AsFd, buf: &mut [u8], offset: i64) -> Result<usize, Errno> {
    nix::sys::uio::pread(fd, buf, offset)
}

/// `read` (one call; `EAGAIN`/`EINTR` are the caller's).
pub fn read(fd: impl AsFd, buf: &mut [u8]) -> Result<usize, Errno> {
    nix::unistd::read(fd, buf)
}

/// `sync()`: flush every filesystem.
pub fn sync_all_filesystems() {
    nix::unistd::sync();
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::AtFlags;
    use nix::sys::stat::{SFlag, fstatat, mknod};

    /// Each kind of file, as `fstatat` without following reports it, is exactly one kind.
    #[test]
    fn file_kinds_from_the_kernels_own_status() {
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str| d.path().join(n);
        std::fs::write(p("file"), b"x").unwrap();
        std::fs::create_dir(p("dir")).unwrap();
        std::os::unix::fs::symlink("file", p("link")).unwrap();
        mknod(
            &p("fifo"),
            SFlag::S_IFIFO,
            Mode::from_bits_truncate(0o600),
            0,
        )
        .unwrap();
        let kinds = |n: &str| {
            let st = fstatat(nix::fcntl::AT_FDCWD, &p(n), AtFlags::AT_SYMLINK_NOFOLLOW).unwrap();
            (is_regular(&st), is_dir(&st), is_symlink(&st))
        };
        assert_eq!(kinds("file"), (true, false, false));
        assert_eq!(kinds("dir"), (false, true, false));
        assert_eq!(kinds("link"), (false, false, true));
        assert_eq!(kinds("fifo"), (false, false, false));
        // And through an open descriptor.
        let fd = open_read(&p("file")).unwrap();
        assert!(is_regular(&fstat(&fd).unwrap()));
    }
}
