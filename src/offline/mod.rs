//! The NAS's own disks in any Linux PC: the owner with no working administrator login takes
//! the disks out (or boots a live USB with them attached) and changes the password on the
//! system partition, instead of pressing the reset button that also wipes settings.
//!
//! - [`layout`]: what a `--root` directory is (a system root, a mounted QNAP system
//!   partition, or nothing qrescue can use);
//! - [`superblock`]: md (1.0, 0.90), ext2/3/4 and ZFS signatures read from a block device;
//! - [`scan`]: the QNAP system partitions among the PC's block devices (`qrescue disks`).

pub mod assemble;
pub mod layout;
pub mod scan;
pub mod session;
pub mod superblock;
