//! The one transaction that changes credential files:
//! lock → recover → read → plan → backup → intent → stage all → commit each → verify →
//! done, or roll back. Each stage is a type, and each step gives the next:
//! [`Locks`] (every lock taken) → [`Locked`] (an interrupted change recovered, once) → a
//! [`Snapshot`] (every file read under the locks) → [`Prepared`](prepare::Prepared) (backup, intent record,
//! staged files; dropping it discards them) → [`Committed`](prepare::Committed) (files replaced; dropping it
//! before verification rolls back) → [`Outcome`]. [`run`] is that sequence. Commands that
//! only need the locks (`backup`, `status`) take a [`Locked`] too, so they recover the same
//! way; `backups --prune` alone holds [`Locks`] without recovering (`lock.rs` says why).
//!
//! Files: `lock.rs` (locks, recovery on taking them), `prepare.rs` (plan, backup, intent,
//! stage, commit, verify, roll back), `intent.rs` (the intent record), `recover.rs` (rolling
//! back an interrupted change).
//!
//! Guarantees, whatever fails (disk full, I/O error, kill -9, a concurrent `passwd`):
//! - each file is replaced atomically (temp + fsync + rename + directory fsync), so no file
//!   is ever partial, and no temp file is ever more readable than the original;
//! - nothing is replaced before a complete, fsynced backup of every file about to change
//!   exists, and before an intent record (`txn.json` in the state directory) names that
//!   backup;
//! - a failure before the first rename leaves every file untouched; a failure after it rolls
//!   the replaced files back; a crash leaves the intent record, and the next qrescue run
//!   (any command that takes the locks, `status` included) rolls back to the backup. So
//!   the stores end as the complete old set or the complete new one;
//! - a rollback touches only a file that holds exactly what this transaction wrote (its
//!   SHA-256 is in the intent record): what another program wrote after a crash stays;
//! - what the owner must see (backup id, a generated password) is shown before the first
//!   rename: if it cannot be written, nothing changes.

use serde::Serialize;

use crate::backup;
use crate::error::Result;
use crate::snapshot::{Edit, Snapshot};
use crate::stores::{StoreFile, Stores};
use crate::sys::root::Root;

mod intent;
mod lock;
mod prepare;
mod recover;

pub use intent::{INTENT, pending};
pub use lock::{Locked, Locks};

/// What the owner must see before a change is committed (the backup id to undo it, a
/// generated password): shown first, so that if it cannot be shown nothing changes.
#[derive(Debug)]
pub struct Preview<'a> {
    pub backup_id: &'a str,
    /// Files about to be replaced, as shown to the owner.
    pub changing: Vec<String>,
    /// Interrupted earlier transactions rolled back first.
    pub recovered: &'a [String],
}

/// What a finished transaction did.
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// The backup taken before the change (`None` when nothing needed changing).
    pub backup_id: Option<String>,
    /// Files replaced, as shown to the owner.
    pub changed: Vec<String>,
    /// Interrupted earlier transactions rolled back first.
    pub recovered: Vec<String>,
}

/// Run a change: take the locks (recovering first), let `plan` edit a snapshot of every
/// store file read under them, back up, record the intent and stage, show the owner what
/// `announce` shows, replace, verify with `check` (each changed file's bytes as re-read
/// from disk, to prove the change took effect).
pub fn run<'a>(
    root: &'a Root,
    stores: &'a Stores,
    reason: &backup::Reason,
    plan: impl FnMut(&Snapshot<'a>) -> Result<Vec<Edit<'a>>>,
    check: impl Fn(&StoreFile, &[u8]) -> Result<()>,
    announce: impl FnOnce(&Preview<'_>) -> Result<()>,
) -> Result<Outcome> {
    let locked = Locked::take(root, stores)?;
    let Some(prepared) = locked.prepare(reason, plan)? else {
        return Ok(locked.unchanged());
    };
    // What the owner must see, before anything is replaced: if it cannot be written (closed
    // pipe, full disk, dropped session), nothing changes.
    if let Err(e) = announce(&prepared.preview()) {
        return Err(prepared.nothing_changed(e));
    }
    prepared.commit()?.verify(check)
}
