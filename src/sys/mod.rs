//! Operating-system plumbing: root-confined paths, atomic replacement, locks, private
//! mounts (mount namespace, read-only loop devices).

pub mod atomic;
pub mod dirwatch;
pub mod lock;
pub mod loopdev;
pub mod mountns;
pub mod regular;
pub mod root;
pub mod supervise;
pub mod xattr;

#[cfg(arm_kuser_atomics)]
pub mod arm_kuser;
