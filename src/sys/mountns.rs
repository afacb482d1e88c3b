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

#[cfg(test)]
mod tests {
    //! On the host's own kernel: a real ext3 image on a loop device, and a real mount
    //! namespace in a process of its own. Each judges the mount from the kernel's side
    //! (mountinfo, errno), not from what the wrapper returned.

    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::sys::loopdev::ReadOnlyLoop;
    use crate::sys::testkit::{self, GREETING, Need, Unmount};

    const SELF_MOUNTINFO: &str = "/proc/self/mountinfo";

    fn has(list: &[String], option: &str) -> bool {
        list.iter().any(|o| o == option)
    }

    /// The read-only mount of a filesystem whose journal needs recovery (a NAS that lost
    /// power): `ro,nosuid,nodev,noexec`, the journal not loaded (`norecovery` in the
    /// kernel's view; without it the kernel refuses the read-only loop device), every write
    /// refused with EROFS, not one byte of the image changed; unmounted, it is gone, the
    /// mount point is removed and the loop device frees itself.
    #[test]
    #[ignore = "needs root, loop devices and mke2fs"]
    fn read_only_mount_of_a_journal_needing_recovery_changes_nothing() {
        let test = "read_only_mount_of_a_journal_needing_recovery_changes_nothing";
        if !testkit::needs(test, &testkit::EXT3_ON_LOOP) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let image = testkit::ext3_image(dir.path(), true);
        let before = std::fs::read(&image).unwrap();
        let lo = ReadOnlyLoop::attach(&image).unwrap();
        let mp = MountPoint::new("qrescue-test-ro-").unwrap();
        let at = mp.path().to_path_buf();
        let _unmount = Unmount(at.clone());

        // The premise: this image cannot be mounted read-only if its journal is loaded.
        let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        let plain = nix::mount::mount(Some(&lo.path), &at, Some("ext3"), flags, None::<&str>);
        assert_eq!(
            plain,
            Err(nix::errno::Errno::EROFS),
            "journal needs recovery"
        );

        mount_dev(&lo.path, &at, "ext3", true).unwrap();
        let seen = testkit::mount_at(Path::new(SELF_MOUNTINFO), &at).expect("mounted");
        assert_eq!(seen.fstype, "ext3");
        for option in ["ro", "nosuid", "nodev", "noexec"] {
            assert!(has(&seen.options, option), "{option}: {seen:?}");
        }
        assert!(has(&seen.super_options, "norecovery"), "{seen:?}");
        let read = std::fs::read_to_string(at.join(GREETING.0)).unwrap();
        assert_eq!(read, GREETING.1);
        let write = std::fs::write(at.join("new"), "x").unwrap_err();
        assert_eq!(write.raw_os_error(), Some(nix::libc::EROFS), "{write}");

        sync_and_unmount(&at).unwrap();
        assert!(testkit::mount_at(Path::new(SELF_MOUNTINFO), &at).is_none());
        drop(mp);
        assert!(!at.exists(), "mount point {} left behind", at.display());
        // Autoclear: with the mount gone and our descriptor closed, the loop device frees
        // itself.
        let dev = lo.path.clone();
        drop(lo);
        assert!(
            testkit::until_detached(&dev),
            "{} still attached",
            dev.display()
        );
        assert!(
            std::fs::read(&image).unwrap() == before,
            "the image changed"
        );
    }

    /// The read-write mount (`--disk --write`): `rw` but still `nosuid,nodev,noexec`, the
    /// journal loaded; a write lands on the disk by the time `sync_and_unmount` returns; the
    /// mount point is a fresh 0700 directory, removed when dropped.
    #[test]
    #[ignore = "needs root, loop devices and mke2fs"]
    fn read_write_mount_keeps_the_safety_flags_and_its_writes() {
        let test = "read_write_mount_keeps_the_safety_flags_and_its_writes";
        let losetup = [Need::Tool("losetup", "util-linux")];
        let tools = [testkit::EXT3_ON_LOOP.as_slice(), &losetup].concat();
        if !testkit::needs(test, &tools) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let image = testkit::ext3_image(dir.path(), false);
        let lo = testkit::ReadWriteLoop::attach(&image);
        let mp = MountPoint::new("qrescue-test-rw-").unwrap();
        let at = mp.path().to_path_buf();
        let _unmount = Unmount(at.clone());
        let mode = std::fs::metadata(&at).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o700, "{mode:o}");

        mount_dev(&lo.0, &at, "ext3", false).unwrap();
        let seen = testkit::mount_at(Path::new(SELF_MOUNTINFO), &at).expect("mounted");
        assert_eq!(seen.fstype, "ext3");
        for option in ["rw", "nosuid", "nodev", "noexec"] {
            assert!(has(&seen.options, option), "{option}: {seen:?}");
        }
        assert!(!has(&seen.options, "ro"), "{seen:?}");
        assert!(!has(&seen.super_options, "norecovery"), "{seen:?}");
        let read = std::fs::read_to_string(at.join(GREETING.0)).unwrap();
        assert_eq!(read, GREETING.1);
        std::fs::write(at.join("written"), "by the test\n").unwrap();

        sync_and_unmount(&at).unwrap();
        assert!(testkit::mount_at(Path::new(SELF_MOUNTINFO), &at).is_none());
        drop(mp);
        assert!(!at.exists(), "mount point {} left behind", at.display());
        drop(lo);
        let out = std::process::Command::new("debugfs")
            .args(["-R", "cat /written"])
            .arg(&image)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "by the test\n");
    }

    /// In the private namespace (entered, as `--disk` does, in a forked child), a mount is
    /// seen by the child only: not in its parent's mountinfo, not even under a mount the
    /// parent made `shared` (which would propagate it if `/` were not made recursively
    /// private); the child's copies of `/` and of that mount carry no `shared:` tag.
    #[test]
    #[ignore = "needs root"]
    fn a_mount_in_the_private_namespace_stays_there() {
        let test = "a_mount_in_the_private_namespace_stays_there";
        if !testkit::needs(test, &[Need::Root]) {
            return;
        }
        testkit::in_own_process(&[], || {
            use crate::sys::supervise::{self, Ended};
            let tmpfs = |at: &Path| {
                nix::mount::mount(
                    Some("tmpfs"),
                    at,
                    Some("tmpfs"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                    Some("size=1m"),
                )
                .unwrap()
            };
            let shared = MountPoint::new("qrescue-test-shared-").unwrap();
            let at = shared.path().to_path_buf();
            tmpfs(&at);
            let _unmount = Unmount(at.clone());
            let flags = MsFlags::MS_SHARED;
            nix::mount::mount(None::<&str>, &at, None::<&str>, flags, None::<&str>).unwrap();
            let seen = testkit::mount_at(Path::new(SELF_MOUNTINFO), &at).unwrap();
            assert!(
                seen.tags.iter().any(|t| t.starts_with("shared:")),
                "{seen:?}"
            );
            let inner = at.join("inner");
            std::fs::create_dir(&inner).unwrap();
            let parent = format!("/proc/{}/mountinfo", std::process::id());

            let deferred = supervise::Deferred::install();
            let ended = supervise::run_in_child(&deferred, || {
                let checks = std::panic::catch_unwind(|| {
                    enter_private_namespace().unwrap();
                    tmpfs(&inner);
                    let _unmount = Unmount(inner.clone());
                    let own = Path::new(SELF_MOUNTINFO);
                    assert!(testkit::mount_at(own, &inner).is_some());
                    let leaked = testkit::mount_at(Path::new(&parent), &inner);
                    assert!(leaked.is_none(), "the parent sees it: {leaked:?}");
                    for mount in [Path::new("/"), &at] {
                        let seen = testkit::mount_at(own, mount).unwrap();
                        let shared = seen.tags.iter().any(|t| t.starts_with("shared:"));
                        assert!(!shared, "{}: {seen:?}", mount.display());
                    }
                });
                if checks.is_ok() { 0 } else { 1 }
            })
            .unwrap();
            assert_eq!(ended, Ended::Exited(0));
            assert!(testkit::mount_at(Path::new(SELF_MOUNTINFO), &inner).is_none());
        });
    }
}
