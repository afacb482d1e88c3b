//! qrescue: safe admin password rescue and reset-button watcher for QNAP NAS.
//!
//! Map of the crate:
//! - [`cli`]: the command line (clap) and one module per command;
//! - [`sys`]: the only door to the kernel (and the only `unsafe`): root-confined path
//!   resolution, directory handles, atomic file replacement, lckpwdf-compatible locks, signals,
//!   clocks, the input and GPIO uAPIs;
//! - [`formats`]: lossless parsers/writers for passwd, shadow, group, smbpasswd, smb.conf;
//! - [`hash`]: crypt(3) schemes and the Samba NT hash;
//! - [`stores`]: which credential files a root has and how they relate;
//! - [`txn`]: the one transaction that changes them (lock, backup, write, verify, roll back);
//! - [`backup`]: backup sets and their manifests;
//! - [`watch`]: the reset-button watcher and its journal;
//! - [`offline`]: the NAS's own disks in any Linux PC (system-partition layout, `disks`, `--disk`);
//! - [`logging`]: syslog records through `log`.

#[forbid(unsafe_code)]
pub mod account;
#[forbid(unsafe_code)]
pub mod arch_table;
#[forbid(unsafe_code)]
pub mod audit;
#[forbid(unsafe_code)]
pub mod backup;
#[forbid(unsafe_code)]
pub mod cli;
#[forbid(unsafe_code)]
pub mod clock;
#[forbid(unsafe_code)]
pub mod context;
#[forbid(unsafe_code)]
pub mod error;
#[forbid(unsafe_code)]
pub mod escape;
#[forbid(unsafe_code)]
pub mod formats;
#[forbid(unsafe_code)]
pub mod hash;
#[forbid(unsafe_code)]
pub mod info;
#[forbid(unsafe_code)]
pub mod leftovers;
#[forbid(unsafe_code)]
pub mod logging;
#[forbid(unsafe_code)]
pub mod offline;
#[forbid(unsafe_code)]
pub mod paths;
#[forbid(unsafe_code)]
pub mod restore_user;
#[forbid(unsafe_code)]
pub mod secret;
#[forbid(unsafe_code)]
pub mod snapshot;
#[forbid(unsafe_code)]
pub mod stores;
// The one module allowed `unsafe` (each block with a SAFETY comment): every other module
// is `forbid(unsafe_code)` and reaches the kernel through `sys` (scripts/check-layers.sh).
pub mod sys;
#[forbid(unsafe_code)]
pub mod txn;
#[forbid(unsafe_code)]
pub mod version;
#[forbid(unsafe_code)]
pub mod watch;
