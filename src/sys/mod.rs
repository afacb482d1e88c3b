//! Operating-system plumbing, and the only module that talks to the kernel (`nix`, `libc`,
//! `unsafe`): root-confined paths, directory handles, atomic replacement, locks, processes,
//! signals, the terminal, event loops (poll, timerfd, signalfd, inotify), clocks, private
//! mounts (mount namespace, read-only loop devices) and the input/GPIO uAPIs. Everything
//! else in the crate is `#![forbid(unsafe_code)]` and reaches the kernel through here
//! (`scripts/check-layers.sh` holds that line).

pub mod atomic;
pub mod clock;
pub mod dir;
pub mod dirwatch;
pub mod event;
pub mod fs;
pub mod gpio_uapi;
pub mod input;
pub mod lock;
pub mod loopdev;
pub mod mountns;
pub mod proc;
pub mod regular;
pub mod root;
pub mod signal;
pub mod supervise;
pub mod term;
#[cfg(test)]
pub mod testkit;
#[cfg(test)]
mod uapi_oracle;
pub mod xattr;

#[cfg(arm_kuser_atomics)]
pub mod arm_kuser;

/// An `errno` value: what every wrapper here returns on failure.
pub use nix::errno::Errno;

use crate::error::Error;

impl From<Errno> for Error {
    fn from(e: Errno) -> Self {
        Error::io("system call", std::io::Error::from(e))
    }
}
