//! The NAS's own disks in any Linux PC: the owner with no working administrator login takes
//! the disks out (or boots a live USB with them attached) and changes the password on the
//! system partition, instead of pressing the reset button that also wipes settings.
//!
//! - [`layout`]: what a `--root` directory is (a system root, a mounted QNAP system
//!   partition, or nothing qrescue can use).

pub mod layout;
