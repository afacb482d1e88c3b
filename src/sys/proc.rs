//! Processes and users: whether a pid is alive, who we run as, a uid's name, the machine.

use nix::sys::signal::kill;
use nix::unistd::{Pid, Uid, User};

use super::Errno;

/// Whether process `pid` exists (signal 0: `ESRCH` means it does not; `EPERM` means it does,
/// owned by someone else).
pub fn alive(pid: i32) -> bool {
    !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

/// The effective uid.
pub fn euid() -> u32 {
    Uid::effective().as_raw()
}

/// Whether we run as root (effective uid 0).
pub fn is_root() -> bool {
    Uid::effective().is_root()
}

/// The user name of `uid` in the running system's user database.
pub fn user_name(uid: u32) -> Option<String> {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(u)) => Some(u.name),
        _ => None,
    }
}

/// What `uname` says about the running kernel.
#[derive(Debug, Clone)]
pub struct Uname {
    /// `uname -m`.
    pub machine: String,
    /// `uname -r`.
    pub release: String,
    /// `uname -v`.
    pub version: String,
}

/// `uname(2)`.
pub fn uname() -> Result<Uname, Errno> {
    nix::sys::utsname::uname().map(|u| Uname {
        machine: u.machine().to_string_lossy().into_owned(),
        release: u.release().to_string_lossy().into_owned(),
        version: u.version().to_string_lossy().into_owned(),
    })
}

/// Start a new session (the daemon leaves its terminal's).
pub fn setsid() {
    let _ = nix::unistd::setsid();
}
