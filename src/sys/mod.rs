//! Operating-system plumbing: root-confined paths, atomic replacement, locks.

pub mod atomic;
pub mod lock;
pub mod root;
