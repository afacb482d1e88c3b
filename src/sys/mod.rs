//! Operating-system plumbing: root-confined paths, atomic replacement, locks.

pub mod atomic;
pub mod dirwatch;
pub mod lock;
pub mod root;

#[cfg(arm_kuser_atomics)]
pub mod arm_kuser;
