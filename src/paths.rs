//! Well-known locations inside a root.

use crate::error::{Error, Result};
use crate::sys::Errno;
use crate::sys::dir::Dir;
use crate::sys::fs::Mode;
use crate::sys::proc;
use crate::sys::root::Root;

/// QTS's persistent configuration directory (a symlink to `/mnt/HDA_ROOT/.config`, md9).
pub const QTS_CONFIG: &str = "/etc/config";

/// Whether the root looks like QTS: `/etc/config` resolves to a directory. Only "not there"
/// means no: any other error is reported, never taken as an answer.
pub fn is_qts(root: &Root) -> Result<bool> {
    match root.try_resolve(QTS_CONFIG)? {
        Some(r) if r.is_dir() => {
            // Open it now, so an I/O error is reported rather than taken as "not QTS".
            root.open_dir(QTS_CONFIG)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// qrescue's own persistent state directory (backups, button journal, transaction log):
/// `/etc/config/qrescue` on QTS (survives reboots and firmware updates), otherwise
/// `/var/lib/qrescue`.
pub fn state_dir(root: &Root) -> Result<&'static str> {
    Ok(if is_qts(root)? {
        "/etc/config/qrescue"
    } else {
        "/var/lib/qrescue"
    })
}

/// qrescue's state directory, opened and checked.
///
/// The state directory and everything below it must be real directories owned by the user
/// running qrescue (or root) and not writable by others: a symlink planted there (say, to
/// `/`) is refused, never followed.
#[derive(Debug)]
pub struct StateDir {
    pub fd: Dir,
    pub display: String,
}

/// Open (or create, 0700) the directory entry `name` under `parent` without following a
/// symlink, and check it is ours and not writable by others. `Ok(None)` when it does not
/// exist and `create` is false.
pub fn safe_subdir(parent: &Dir, name: &str, display: &str, create: bool) -> Result<Option<Dir>> {
    if create {
        match parent.mkdir(name, 0o700) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(Error::io(display, e)),
        }
    }
    let dir = match parent.open_dir(name) {
        Ok(d) => d,
        Err(Errno::ENOENT) if !create => return Ok(None),
        Err(Errno::ELOOP | Errno::ENOTDIR) => {
            return Err(Error::perm(format!(
                "{display} is a symlink or not a directory: refusing to use it for backups"
            )));
        }
        Err(e) => return Err(Error::io(display, e)),
    };
    let st = dir.stat().map_err(|e| Error::io(display, e))?;
    let me = proc::euid();
    if st.st_uid != me && st.st_uid != 0 {
        return Err(Error::perm(format!(
            "{display} is owned by uid {}, not by us: refusing it",
            st.st_uid
        )));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(Error::perm(format!(
            "{display} is writable by others (mode {:o}): refusing it",
            st.st_mode & 0o7777
        )));
    }
    Ok(Some(dir))
}

impl StateDir {
    /// Open qrescue's state directory; `create` makes it (0700) when missing. `Ok(None)`
    /// when it does not exist and `create` is false.
    pub fn open(root: &Root, create: bool) -> Result<Option<StateDir>> {
        let logical = state_dir(root)?;
        let (parent, name) = logical.rsplit_once('/').expect("absolute");
        let parent_fd = if create {
            root.create_dir_all(parent, Mode::from_bits_truncate(0o755))?
        } else {
            match root.try_resolve(parent)? {
                Some(r) if r.stat.is_some() => root.open_dir(parent)?,
                _ => return Ok(None),
            }
        };
        let real = parent_fd.1.join(name);
        let display = root.display(&real);
        Ok(
            safe_subdir(&Dir::from(parent_fd.0), name, &display, create)?
                .map(|fd| StateDir { fd, display }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_root() -> (tempfile::TempDir, Root) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::open(tmp.path()).unwrap();
        (tmp, root)
    }

    #[test]
    fn state_dir_is_created_private_and_reopened() {
        let (tmp, root) = scratch_root();
        assert!(StateDir::open(&root, false).unwrap().is_none());
        let s = StateDir::open(&root, true).unwrap().expect("created");
        assert_eq!(state_dir(&root).unwrap(), "/var/lib/qrescue");
        assert_eq!(
            s.display,
            tmp.path().join("var/lib/qrescue").display().to_string()
        );
        let mode = std::fs::metadata(tmp.path().join("var/lib/qrescue"))
            .unwrap()
            .permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o700);
        assert!(StateDir::open(&root, false).unwrap().is_some());
    }

    #[test]
    fn state_dir_symlink_or_open_mode_is_refused() {
        let (tmp, root) = scratch_root();
        std::fs::create_dir_all(tmp.path().join("var/lib")).unwrap();
        std::os::unix::fs::symlink("/", tmp.path().join("var/lib/qrescue")).unwrap();
        let e = StateDir::open(&root, false).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        std::fs::remove_file(tmp.path().join("var/lib/qrescue")).unwrap();
        std::fs::create_dir(tmp.path().join("var/lib/qrescue")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            tmp.path().join("var/lib/qrescue"),
            std::fs::Permissions::from_mode(0o777),
        )
        .unwrap();
        let e = StateDir::open(&root, false).unwrap_err();
        assert!(e.to_string().contains("writable by others"), "{e}");
    }
}
