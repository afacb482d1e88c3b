//! qrescue: safe admin password rescue and reset-button watcher for QNAP NAS.
//!
//! Map of the crate:
//! - [`cli`]: the command line (clap) and one module per command;
//! - [`sys`]: root-confined path resolution, atomic file replacement, lckpwdf-compatible locks;
//! - [`formats`]: lossless parsers/writers for passwd, shadow, group, smbpasswd, smb.conf;
//! - [`hash`]: crypt(3) schemes and the Samba NT hash;
//! - [`stores`]: which credential files a root has and how they relate;
//! - [`txn`]: the one transaction that changes them (lock, backup, write, verify, roll back);
//! - [`backup`]: backup sets and their manifests;
//! - [`watch`]: the reset-button watcher and its journal;
//! - [`offline`]: the NAS's own disks in any Linux PC (system-partition layout, `disks`, `--disk`);
//! - [`logging`]: syslog records through `log`.

pub mod account;
pub mod audit;
pub mod backup;
pub mod cli;
pub mod clock;
pub mod context;
pub mod error;
pub mod escape;
pub mod formats;
pub mod hash;
pub mod info;
pub mod leftovers;
pub mod logging;
pub mod offline;
pub mod paths;
pub mod restore_user;
pub mod secret;
pub mod snapshot;
pub mod stores;
pub mod sys;
pub mod txn;
pub mod version;
pub mod watch;
