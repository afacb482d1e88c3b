//! Operating-system plumbing: root-confined paths, atomic replacement, locks.

pub mod atomic;
pub mod lock;
pub mod regular;
pub mod root;
pub mod xattr;

#[cfg(arm_kuser_atomics)]
pub mod arm_kuser;
