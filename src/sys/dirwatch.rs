//! Directory watches over inotify, as a small safe type: what the credential-store watch
//! sleeps on. Watching directories (not files) is what survives rename-replacement (how
//! busybox, shadow-utils and qrescue write), deletion and re-creation: a watch on a file
//! would stay on the old inode. The caller rebuilds the set after every change, so a
//! directory swapped behind a symlink is picked up too.

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::{Error, Result};

pub struct DirWatch {
    ino: Inotify,
}

/// What one drained batch said.
#[derive(Debug, Default)]
pub struct Batch {
    /// Entry names events were reported for.
    pub names: Vec<OsString>,
    /// The queue overflowed, or a watched directory itself was deleted or moved: anything
    /// may have changed.
    pub lost: bool,
}

impl DirWatch {
    pub fn new() -> Result<DirWatch> {
        let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(|e| Error::io("inotify", e))?;
        Ok(DirWatch { ino })
    }

    /// Watch a directory (not following a final symlink) for entries written, created,
    /// deleted, renamed in or out, or changed in mode/owner.
    pub fn add(&self, dir: &Path) -> nix::Result<()> {
        let flags = AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF
            | AddWatchFlags::IN_ONLYDIR
            | AddWatchFlags::IN_DONT_FOLLOW;
        self.ino.add_watch(dir, flags).map(|_| ())
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.ino.as_fd()
    }

    /// Read every queued event without blocking.
    pub fn drain(&self) -> Batch {
        let mut b = Batch::default();
        loop {
            match self.ino.read_events() {
                Ok(evs) => {
                    for e in evs {
                        if e.mask.intersects(
                            AddWatchFlags::IN_Q_OVERFLOW
                                | AddWatchFlags::IN_DELETE_SELF
                                | AddWatchFlags::IN_MOVE_SELF
                                | AddWatchFlags::IN_IGNORED,
                        ) {
                            b.lost = true;
                        }
                        if let Some(n) = e.name {
                            b.names.push(n);
                        }
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(_) => return b,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_replacement_and_recreation_are_seen() {
        let d = tempfile::tempdir().unwrap();
        let w = DirWatch::new().unwrap();
        w.add(d.path()).unwrap();
        std::fs::write(d.path().join("shadow+"), "x").unwrap();
        std::fs::rename(d.path().join("shadow+"), d.path().join("shadow")).unwrap();
        let b = w.drain();
        assert!(b.names.iter().any(|n| n == "shadow"), "{b:?}");
        std::fs::remove_file(d.path().join("shadow")).unwrap();
        std::fs::write(d.path().join("shadow"), "y").unwrap();
        let b = w.drain();
        assert!(
            b.names.iter().filter(|n| *n == "shadow").count() >= 2,
            "{b:?}"
        );
        assert!(!b.lost);
        assert!(w.drain().names.is_empty(), "drained");
    }
}
