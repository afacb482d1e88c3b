//! Taking every lock a change needs, and recovering an interrupted change under them.

use super::recover::recover;
use crate::backup;
use crate::error::Result;
use crate::snapshot::Snapshot;
use crate::stores::Stores;
use crate::sys::lock::{self, FileLock, LOCK_TIMEOUT, PwdLock};
use crate::sys::root::Root;

/// Every lock the stores need, held until dropped. [`Locks::recover`] makes them [`Locked`].
#[derive(Debug)]
pub struct Locks<'a> {
    pub(super) root: &'a Root,
    pub(super) stores: &'a Stores,
    _pwd: PwdLock,
    _files: Vec<FileLock>,
}

impl<'a> Locks<'a> {
    /// Take `lckpwdf` and the per-file `NAME.lock` of every name of every store.
    pub fn take(root: &'a Root, stores: &'a Stores) -> Result<Locks<'a>> {
        Self::take_within(root, stores, LOCK_TIMEOUT)
    }

    /// [`Locks::take`] with another bounded wait.
    pub fn take_within(
        root: &'a Root,
        stores: &'a Stores,
        timeout: std::time::Duration,
    ) -> Result<Locks<'a>> {
        // Said as it happens, on stderr: the sys/ lock only reports the wait.
        let mut on_wait = |w: &lock::Waiting| crate::escape::advise(&format!("qrescue: {w}"));
        let pwd = lock::lckpwdf(root, timeout, &mut on_wait)?;
        let mut names: Vec<&str> = stores
            .files
            .iter()
            .flat_map(|f| f.names.iter().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        // One lock per real lock file, whatever names lead to it.
        let mut seen = std::collections::HashSet::new();
        let mut files = Vec::new();
        for name in names {
            if seen.insert(lock::lock_identity(root, name)?) {
                files.push(lock::lock_file(root, name, timeout, &mut on_wait)?);
            }
        }
        Ok(Locks {
            root,
            stores,
            _pwd: pwd,
            _files: files,
        })
    }

    /// Recover what an interrupted run left: roll back its change ([`recover`]) and remove
    /// a backup set it left without a manifest. Only `backups --prune` holds the locks
    /// without this: it keeps the set an unfinished change names for the next run.
    pub fn recover(self) -> Result<Locked<'a>> {
        let mut recovered = recover(self.root)?;
        for id in backup::remove_incomplete(self.root)? {
            recovered.push(format!(
                "removed incomplete backup {id} of an interrupted run"
            ));
        }
        Ok(Locked {
            recovered,
            locks: self,
        })
    }
}

/// Every lock held and an interrupted change recovered: where every change starts.
#[derive(Debug)]
pub struct Locked<'a> {
    /// Interrupted earlier transactions rolled back, incomplete backup sets removed.
    pub(super) recovered: Vec<String>,
    pub(super) locks: Locks<'a>,
}

impl<'a> Locked<'a> {
    /// [`Locks::take`], then [`Locks::recover`].
    pub fn take(root: &'a Root, stores: &'a Stores) -> Result<Locked<'a>> {
        Locks::take(root, stores)?.recover()
    }

    /// What recovery did when the locks were taken.
    pub fn recovered(&self) -> &[String] {
        &self.recovered
    }

    /// Every store file as it is now (under the locks).
    pub fn snapshot(&self) -> Result<Snapshot<'a>> {
        Snapshot::read(self.locks.stores)
    }
}
