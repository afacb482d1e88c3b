//! Mounting a filesystem where nobody else sees it: a private mount namespace for this
//! process (`unshare(CLONE_NEWNS)` with `/` made recursively private), so the mount qrescue
//! makes of a NAS's system partition never appears on the PC, and disappears with the
//! process even if it is killed. Small safe wrappers over the syscalls (nix).

use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use crate::error::{Error, Result};

/// Move this process into its own mount namespace; mounts made afterwards are invisible to
/// (and do not propagate to) the rest of the system. Needs CAP_SYS_ADMIN and a
/// single-threaded process.
pub fn enter_private_namespace() -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| Error::io("private mount namespace (unshare)", e))?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| Error::io("private mount namespace (make / private)", e))
}

/// Mount block device `dev` (filesystem `fstype`) on `at`: read-only with the journal left
/// alone (`noload`: nothing is written, not even a journal replay), or read-write.
pub fn mount_dev(dev: &Path, at: &Path, fstype: &str, read_only: bool) -> Result<()> {
    let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let (flags, data) = if read_only {
        (base | MsFlags::MS_RDONLY, Some("noload"))
    } else {
        (base, None)
    };
    nix::mount::mount(Some(dev), at, Some(fstype), flags, data).map_err(|e| {
        Error::io(
            format!("mount {} ({fstype}) on {}", dev.display(), at.display()),
            e,
        )
    })
}

/// Flush the filesystem mounted at `at`, then unmount it.
pub fn sync_and_unmount(at: &Path) -> Result<()> {
    if let Ok(dir) = std::fs::File::open(at) {
        nix::unistd::syncfs(&dir).map_err(|e| Error::io(format!("sync {}", at.display()), e))?;
    }
    nix::mount::umount2(at, MntFlags::empty())
        .map_err(|e| Error::io(format!("unmount {}", at.display()), e))
}

/// A fresh, empty, private (0700) directory to mount on; removed (only if still empty) when
/// dropped.
#[derive(Debug)]
pub struct MountPoint {
    path: std::path::PathBuf,
}

impl MountPoint {
    pub fn new(prefix: &str) -> Result<MountPoint> {
        let template = std::env::temp_dir().join(format!("{prefix}XXXXXX"));
        let path = nix::unistd::mkdtemp(&template)
            .map_err(|e| Error::io(format!("temporary mount point {}", template.display()), e))?;
        Ok(MountPoint { path })
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for MountPoint {
    fn drop(&mut self) {
        // rmdir removes only an empty directory: never anything mounted or written there.
        let _ = std::fs::remove_dir(&self.path);
    }
}
