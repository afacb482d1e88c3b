//! qrescue: safe admin password rescue and reset-button watcher for QNAP NAS.
//!
//! Start with docs/architecture.md: the layers (what may import what; checked by
//! scripts/check-layers.sh from that page's table), the life of a password change through
//! the types, and where each kind of change goes. Map of the crate, top layer first:
//! - [`cli`]: the command line (clap), one module per command, and the one output path
//!   (`cli/output.rs`: a `Serialize` report per command, JSON or text decided once);
//! - `audit`: read-only findings; `version`: build information;
//! - [`watch`]: the reset-button and credential-store watcher and its journal;
//! - `factory`: the box's factory-default passwords (audit, passwd, the store watch);
//! - `account`: an account across the stores (find, change, verify its secret);
//!   `txn`: the one transaction that changes them (lock, recover, snapshot, backup,
//!   intent, stage, commit, verify, roll back); `offline`: the NAS's own disks in any
//!   Linux PC (system-partition layout, `disks`, `--disk`);
//! - `snapshot`: the store files read under the locks, bytes with their file;
//!   `backup`: backup sets and their manifests; `leftovers`: what crashed runs left;
//!   `restore_user`: one user's lines from a backup; `info`: what the box is;
//! - `stores`: which credential files a root has and how they relate;
//! - [`formats`]: lossless parsers/writers for passwd, shadow, group, smbpasswd, smb.conf,
//!   and the per-format secret rules (`formats::secret::SecretFormat`); [`hash`]: crypt(3)
//!   schemes and the Samba NT hash; `clock`: time; `paths`: the state directory;
//!   `secret`: password bytes; `context`: what every command gets (root, `--json`);
//! - `sys`: the only door to the kernel (and the only `unsafe`): root-confined path
//!   resolution, directory handles, atomic file replacement, lckpwdf-compatible locks,
//!   signals, clocks, the input and GPIO uAPIs; `logging`: syslog records through `log`
//!   (echoed to stderr through `escape`);
//! - `error`: the one `Error` enum and its exit codes; `escape`: text made safe for a
//!   terminal, and the one writer of stderr lines; `arch_table`: the CPU archs.
//!
//! Modules are `pub(crate)` unless a test, bench or example needs them (`hash`, `formats`,
//! parts of `watch`, `cli`), so the compiler reports dead code.

#[forbid(unsafe_code)]
pub(crate) mod account;
#[forbid(unsafe_code)]
pub(crate) mod arch_table;
#[forbid(unsafe_code)]
pub(crate) mod audit;
#[forbid(unsafe_code)]
pub(crate) mod backup;
#[forbid(unsafe_code)]
pub mod cli;
#[forbid(unsafe_code)]
pub(crate) mod clock;
#[forbid(unsafe_code)]
pub(crate) mod context;
#[forbid(unsafe_code)]
pub(crate) mod error;
#[forbid(unsafe_code)]
pub(crate) mod escape;
#[forbid(unsafe_code)]
pub(crate) mod factory;
#[forbid(unsafe_code)]
pub mod formats;
#[forbid(unsafe_code)]
pub mod hash;
#[forbid(unsafe_code)]
pub(crate) mod info;
#[forbid(unsafe_code)]
pub(crate) mod leftovers;
#[forbid(unsafe_code)]
pub(crate) mod logging;
#[forbid(unsafe_code)]
pub(crate) mod offline;
#[forbid(unsafe_code)]
pub(crate) mod paths;
#[forbid(unsafe_code)]
pub(crate) mod restore_user;
#[forbid(unsafe_code)]
pub(crate) mod secret;
#[forbid(unsafe_code)]
pub(crate) mod snapshot;
#[forbid(unsafe_code)]
pub(crate) mod stores;
// The one module allowed `unsafe` (each block with a SAFETY comment): every other module
// is `forbid(unsafe_code)` and reaches the kernel through `sys` (scripts/check-layers.sh).
pub(crate) mod sys;
#[forbid(unsafe_code)]
pub(crate) mod txn;
#[forbid(unsafe_code)]
pub(crate) mod version;
#[forbid(unsafe_code)]
pub mod watch;
