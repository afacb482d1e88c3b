//! The one transaction that changes credential files:
//! lock → recover → read → plan → backup → intent → stage all → commit each → verify →
//! done, or roll back. Each stage is a type, and each step consumes one to give the next:
//! [`Locked`] (every lock taken, an interrupted change recovered, once) → a
//! [`Snapshot`] (every file read under the locks) → [`Prepared`] (backup, intent record,
//! staged files; dropping it discards them) → [`Committed`] (files replaced; dropping it
//! before verification rolls back) → [`Outcome`]. [`run`] is that sequence. Commands that
//! only need the locks (`backup`, `status`) take a [`Locked`] too, so they recover the same way.
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

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat, renameat};
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, fsync, unlinkat};
use serde::{Deserialize, Serialize};

use crate::backup::{self, Manifest, StateDir, sha256_hex};
use crate::clock;
use crate::error::{Error, Result};
use crate::snapshot::{Edit, Loaded, Snapshot};
use crate::stores::{StoreFile, Stores};
use crate::sys::atomic::{self, Meta, Staged, TEMP_SUFFIX};
use crate::sys::lock::{self, FileLock, LOCK_TIMEOUT, PwdLock};
use crate::sys::root::Root;

/// The intent record of a transaction under way, in the state directory.
pub const INTENT: &str = "txn.json";

/// The intent record of a transaction under way.
#[derive(Debug, Serialize, Deserialize)]
pub struct Intent {
    pub pid: u32,
    pub started: String,
    pub backup_id: String,
    /// Real paths (inside the root) about to be replaced.
    pub files: Vec<String>,
    /// SHA-256 of what this change writes to each of `files` (same order): recovery rolls
    /// back only a file that holds exactly this. Records written before this field existed
    /// prove nothing, so recovery rolls nothing back from them.
    #[serde(default)]
    pub written: Vec<String>,
    /// The scratch file name (beside each of `files`, same order) each staging and rollback
    /// writes through, chosen before it is created: a leftover one is provably ours.
    #[serde(default)]
    pub scratch: Vec<String>,
}

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

/// Every lock the stores need, held until dropped. [`Locks::recover`] makes them [`Locked`].
#[derive(Debug)]
pub struct Locks<'a> {
    root: &'a Root,
    stores: &'a Stores,
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
        let pwd = lock::lckpwdf(root, timeout)?;
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
                files.push(lock::lock_file(root, name, timeout)?);
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
    recovered: Vec<String>,
    locks: Locks<'a>,
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

    /// Plan a change on a fresh snapshot, back up the files it changes, write the intent
    /// record and stage every new file. `Ok(None)`: nothing needs changing.
    ///
    /// Busybox's passwd/chpasswd take neither lckpwdf nor NAME.lock: their only mutex is
    /// `NAME+` (O_EXCL), held from their read to their rename. Once we hold every `NAME+`,
    /// none can start; one may have finished between our read and our staging, so re-read
    /// then and start over (planning again) if anything moved.
    pub fn prepare(
        &self,
        reason: &str,
        mut plan: impl FnMut(&Snapshot<'a>) -> Result<Vec<Edit<'a>>>,
    ) -> Result<Option<Prepared<'_, 'a>>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Some(prepared) = self.prepare_once(reason, &mut plan)? else {
                return Ok(None);
            };
            let display = match prepared.moved() {
                Ok(None) => return Ok(Some(prepared)),
                Ok(Some(display)) => display,
                Err(e) => return Err(prepared.nothing_changed(e)),
            };
            drop(prepared);
            log::info!("{display} was changed by another program while we prepared; starting over");
            if attempt >= CONCURRENT_ATTEMPTS {
                return Err(Error::busy(format!(
                    "{display} keeps being changed by another program; nothing was changed (try again)"
                )));
            }
        }
    }

    fn prepare_once(
        &self,
        reason: &str,
        plan: &mut impl FnMut(&Snapshot<'a>) -> Result<Vec<Edit<'a>>>,
    ) -> Result<Option<Prepared<'_, 'a>>> {
        let snapshot = self.snapshot()?;
        let mut edits = plan(&snapshot)?;
        let mut changes = Vec::new();
        for Loaded { file, bytes, meta } in snapshot.files {
            let Some(i) = edits.iter().position(|e| std::ptr::eq(e.file, file)) else {
                continue;
            };
            let new = edits.swap_remove(i).new;
            if new != bytes {
                changes.push(Change {
                    file,
                    old: bytes,
                    meta,
                    new,
                    scratch: atomic::scratch_name(&file.resolved)?,
                });
            }
        }
        if changes.is_empty() {
            return Ok(None);
        }

        let snapshots: Vec<backup::Snapshot<'_>> = changes
            .iter()
            .map(|c| backup::Snapshot {
                file: c.file,
                bytes: &c.old,
                meta: c.meta,
            })
            .collect();
        let manifest = backup::create(self.locks.root, reason, &snapshots)?;
        let state = StateDir::open(self.locks.root, true)?.expect("created by the backup");
        write_intent(
            &state,
            &Intent {
                pid: std::process::id(),
                started: clock::rfc3339(clock::now_unix()),
                backup_id: manifest.id.clone(),
                files: changes
                    .iter()
                    .map(|c| c.file.real.to_string_lossy().into_owned())
                    .collect(),
                written: changes.iter().map(|c| sha256_hex(&c.new)).collect(),
                scratch: changes
                    .iter()
                    .map(|c| c.scratch.to_string_lossy().into_owned())
                    .collect(),
            },
        )?;

        // Stage every file before replacing any: a failure here changes nothing.
        let mut prepared = Prepared {
            locked: self,
            staged: Vec::with_capacity(changes.len()),
            work: Some(Work {
                changes,
                manifest,
                state,
            }),
        };
        let work = prepared.work.as_ref().expect("just made");
        for c in &work.changes {
            match atomic::stage(
                &c.file.resolved,
                &c.file.display,
                &c.new,
                c.meta,
                &c.scratch,
            ) {
                Ok(s) => prepared.staged.push(s),
                Err(e) => return Err(prepared.nothing_changed(e)),
            }
        }
        Ok(Some(prepared))
    }

    /// The outcome of a change that found nothing to change.
    fn unchanged(&self) -> Outcome {
        Outcome {
            backup_id: None,
            changed: Vec::new(),
            recovered: self.recovered.clone(),
        }
    }
}

/// One file the plan changes.
struct Change<'a> {
    file: &'a StoreFile,
    old: Vec<u8>,
    meta: Meta,
    new: Vec<u8>,
    /// Scratch file name for staging (and a rollback), recorded in the intent first.
    scratch: std::ffi::OsString,
}

/// What a prepared change has written so far: the backup, the intent record naming it.
struct Work<'a> {
    changes: Vec<Change<'a>>,
    manifest: Manifest,
    state: StateDir,
}

/// A change backed up, recorded in the intent record and staged (`NAME+` of every file),
/// nothing replaced yet. Dropping it discards the staged files and the intent record, so
/// the stores stay as they were (the backup set stays: it is complete).
pub struct Prepared<'l, 'a> {
    locked: &'l Locked<'a>,
    staged: Vec<Staged<'a>>,
    /// `None` once committed.
    work: Option<Work<'a>>,
}

impl<'l, 'a> Prepared<'l, 'a> {
    fn work(&self) -> &Work<'a> {
        self.work.as_ref().expect("taken only by commit")
    }

    /// What the owner must see before anything is replaced.
    pub fn preview(&self) -> Preview<'_> {
        let work = self.work();
        Preview {
            backup_id: &work.manifest.id,
            changing: work
                .changes
                .iter()
                .map(|c| c.file.display.clone())
                .collect(),
            recovered: &self.locked.recovered,
        }
    }

    /// Whether another program changed a file since the snapshot: its name if so.
    fn moved(&self) -> Result<Option<String>> {
        for c in &self.work().changes {
            let (now, _) = c.file.read()?;
            if now != c.old {
                return Ok(Some(c.file.display.clone()));
            }
        }
        Ok(None)
    }

    /// Abandon the change (dropping it discards what it staged) and explain `e`.
    pub fn nothing_changed(self, e: Error) -> Error {
        let id = self.work().manifest.id.clone();
        drop(self);
        e.context(format!("nothing was changed (backup {id})"))
    }

    /// Replace every file by its staged version, in order. A failure rolls back what was
    /// replaced and is returned explained.
    pub fn commit(mut self) -> Result<Committed<'l, 'a>> {
        let staged = std::mem::take(&mut self.staged);
        let mut committed = Committed {
            locked: self.locked,
            work: self.work.take(),
            replaced: 0,
        };
        for s in staged {
            match s.commit() {
                Ok(()) => committed.replaced += 1,
                Err(e) => {
                    committed.replaced += usize::from(e.renamed());
                    return Err(committed.roll_back(e.into_error()));
                }
            }
        }
        Ok(committed)
    }
}

impl Drop for Prepared<'_, '_> {
    fn drop(&mut self) {
        if let Some(work) = &self.work {
            self.staged.clear();
            clear_intent(&work.state);
        }
    }
}

/// A change in place, not yet verified. Dropping it before [`Committed::verify`] rolls the
/// replaced files back.
pub struct Committed<'l, 'a> {
    locked: &'l Locked<'a>,
    /// `None` once verified or rolled back.
    work: Option<Work<'a>>,
    /// How many of the changes (in order) were replaced.
    replaced: usize,
}

impl Committed<'_, '_> {
    /// Read every changed file back from disk, through a fresh resolution of its own name:
    /// exactly the bytes, owner and mode written, and `check` accepts them. Then the intent
    /// record goes and the change is complete; any failure rolls every file back.
    pub fn verify(mut self, check: impl Fn(&StoreFile, &[u8]) -> Result<()>) -> Result<Outcome> {
        let root = self.locked.locks.root;
        let verified = self.work.as_ref().map_or(Ok(()), |work| {
            for c in &work.changes {
                verify_one(root, c, &check)?;
            }
            // The change is complete only once its intent record is gone: otherwise the
            // next run would roll it back, so roll back now and say so.
            remove_intent(&work.state)
        });
        if let Err(e) = verified {
            return Err(self.roll_back(e));
        }
        let work = self.work.take().expect("verified once");
        Ok(Outcome {
            backup_id: Some(work.manifest.id),
            changed: work
                .changes
                .iter()
                .map(|c| c.file.display.clone())
                .collect(),
            recovered: self.locked.recovered.clone(),
        })
    }

    /// Put back what was replaced; the error to report (`cause`, explained).
    fn roll_back(&mut self, cause: Error) -> Error {
        match self.work.take() {
            Some(work) => rollback(
                self.locked.locks.root,
                &work.state,
                &work.changes[..self.replaced],
                &work.manifest,
                cause,
            ),
            None => cause,
        }
    }
}

impl Drop for Committed<'_, '_> {
    fn drop(&mut self) {
        if self.work.is_some() {
            let cause = Error::new(
                crate::error::Exit::IoErr,
                "the change was abandoned before it was verified",
            );
            let e = self.roll_back(cause);
            log::error!("{}", e.message);
        }
    }
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

/// How often a change starts over when another program changed a store meanwhile.
const CONCURRENT_ATTEMPTS: usize = 5;

/// Run a change: take the locks (recovering first), let `plan` edit a snapshot of every
/// store file read under them, back up, record the intent and stage, show the owner what
/// `announce` shows, replace, verify with `check` (each changed file's bytes as re-read
/// from disk, to prove the change took effect).
pub fn run<'a>(
    root: &'a Root,
    stores: &'a Stores,
    reason: &str,
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

fn verify_one(
    root: &Root,
    c: &Change<'_>,
    check: &impl Fn(&StoreFile, &[u8]) -> Result<()>,
) -> Result<()> {
    let res = root.resolve(&c.file.names[0])?;
    if res.identity().is_none() || res.real != c.file.real {
        return Err(Error::io(&c.file.display, Errno::ESTALE).context("after the change"));
    }
    let (bytes, meta) = atomic::read(&res, &c.file.display)?;
    if bytes != c.new {
        return Err(Error::new(
            crate::error::Exit::IoErr,
            format!(
                "{}: content read back differs from what was written",
                c.file.display
            ),
        ));
    }
    if meta != c.meta {
        return Err(Error::new(
            crate::error::Exit::IoErr,
            format!("{}: owner or mode changed during the write", c.file.display),
        ));
    }
    check(c.file, &bytes)
}

/// Put the old contents back; return the error to report (the original one, explained).
fn rollback(
    root: &Root,
    state: &StateDir,
    done: &[Change<'_>],
    manifest: &Manifest,
    cause: Error,
) -> Error {
    let mut failed = Vec::new();
    let mut left = Vec::new();
    for c in done.iter().rev() {
        let res = match root.resolve(&c.file.names[0]) {
            Ok(r) => r,
            Err(e) => {
                failed.push(e.message);
                continue;
            }
        };
        // Only a file that holds exactly what we wrote is ours to undo.
        match atomic::read(&res, &c.file.display) {
            Ok((now, _)) if now == c.new => {}
            Ok((now, _)) if now == c.old => continue,
            Ok(_) => {
                left.push(c.file.display.clone());
                continue;
            }
            Err(e) => {
                failed.push(e.message);
                continue;
            }
        }
        if let Err(e) = atomic::restore(&res, &c.file.display, &c.old, c.meta, &c.scratch) {
            failed.push(e.message);
        }
    }
    if failed.is_empty() {
        clear_intent(state);
        log::warn!("change rolled back after: {}", cause.message);
        if left.is_empty() {
            cause.context(format!(
                "every file was rolled back to its previous content (backup {})",
                manifest.id
            ))
        } else {
            cause.context(format!(
                "rolled back, except {} which another program changed meanwhile and was left as it is \
                 (its previous content is in backup {})",
                left.join(", "),
                manifest.id
            ))
        }
    } else {
        log::error!(
            "rollback failed; the intent record stays for the next run: {}",
            failed.join("; ")
        );
        cause.context(format!(
            "rolling back also failed ({}); the previous files are in backup {id}: run `{} restore {id}` \
             (the next qrescue run also retries the rollback)",
            failed.join("; "),
            root.invocation(),
            id = manifest.id,
        ))
    }
}

const INTENT_TMP: &str = "txn.json.tmp";

fn write_intent(state: &StateDir, intent: &Intent) -> Result<()> {
    let r = write_intent_file(state, intent);
    if r.is_err() {
        let _ = unlinkat(&state.fd, INTENT_TMP, UnlinkatFlags::NoRemoveDir);
        clear_intent(state);
    }
    r
}

fn write_intent_file(state: &StateDir, intent: &Intent) -> Result<()> {
    let tmp = INTENT_TMP;
    let display = format!("{}/{INTENT}", state.display);
    let _ = unlinkat(&state.fd, tmp, UnlinkatFlags::NoRemoveDir);
    let fd = openat(
        &state.fd,
        tmp,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| Error::io(&display, e))?;
    let mut f = File::from(fd);
    f.write_all(&serde_json::to_vec(intent).expect("intent serialises"))
        .map_err(|e| Error::io(&display, e))?;
    fsync(f.as_fd()).map_err(|e| Error::io(&display, e))?;
    renameat(&state.fd, tmp, &state.fd, INTENT).map_err(|e| Error::io(&display, e))?;
    fsync(&state.fd).map_err(|e| Error::io(&display, e))
}

fn remove_intent(state: &StateDir) -> Result<()> {
    let display = format!("{}/{INTENT}", state.display);
    unlinkat(&state.fd, INTENT, UnlinkatFlags::NoRemoveDir).map_err(|e| Error::io(&display, e))?;
    fsync(&state.fd).map_err(|e| Error::io(&state.display, e))
}

fn clear_intent(state: &StateDir) {
    let _ = unlinkat(&state.fd, INTENT, UnlinkatFlags::NoRemoveDir);
    let _ = fsync(&state.fd);
}

/// Read the intent record of an interrupted transaction, if any.
pub fn pending(root: &Root) -> Result<Option<Intent>> {
    let Some(state) = StateDir::open(root, false)? else {
        return Ok(None);
    };
    // A half-written record (crash while writing it) was never in force.
    let _ = unlinkat(&state.fd, INTENT_TMP, UnlinkatFlags::NoRemoveDir);
    let fd = match openat(
        &state.fd,
        INTENT,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(Error::io(format!("{}/{INTENT}", state.display), e)),
    };
    let mut buf = Vec::new();
    File::from(fd)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(format!("{}/{INTENT}", state.display), e))?;
    match serde_json::from_slice(&buf) {
        Ok(i) => Ok(Some(i)),
        // A torn record can only come from a crash before any file was replaced (it is
        // written and fsynced before the first temp file exists): nothing to undo.
        Err(_) => {
            clear_intent(&state);
            Ok(None)
        }
    }
}

/// Roll back an interrupted transaction (the caller holds the locks). Returns what was done.
///
/// Only a file that holds exactly what the interrupted change wrote (its SHA-256 is in the
/// intent record) is rolled back; a file another program changed since (the web UI,
/// `passwd`, `useradd` after the crash) is left as it is and named. Crash points: intent
/// written but nothing renamed (every file still matches the backup: nothing to do); some
/// renamed (those hold what was written: rolled back); all renamed, not verified (all
/// rolled back).
pub fn recover(root: &Root) -> Result<Vec<String>> {
    let Some(intent) = pending(root)? else {
        return Ok(Vec::new());
    };
    let state = StateDir::open(root, false)?.expect("intent exists");
    let intent_path = format!("{}/{INTENT}", state.display);
    let proven = intent.written.len() == intent.files.len();
    remove_own_leftovers(root, &intent)?;
    let (manifest, contents) = match backup::load(root, &intent.backup_id) {
        Ok(loaded) => loaded,
        Err(e) => return stuck(root, &state, &intent, proven, e),
    };
    let mut done = Vec::new();
    let mut left = Vec::new();
    for (i, path) in intent.files.iter().enumerate() {
        let written = intent.written.get(i).filter(|_| proven);
        let res = root.resolve(path)?;
        let display = root.display(&res.real);
        let Some(pos) = manifest.files.iter().position(|bf| &bf.path == path) else {
            left.push(format!(
                "{display}: not in backup {}; left as it is",
                manifest.id
            ));
            continue;
        };
        let (bf, old) = (&manifest.files[pos], &contents[pos]);
        let scratch = match intent.scratch.get(i) {
            Some(name) if is_scratch_name(name) => std::ffi::OsString::from(name),
            _ => atomic::scratch_name(&res)?,
        };
        let now = if res.stat.is_some() {
            Some(sha256_hex(&atomic::read(&res, &display)?.0))
        } else {
            None
        };
        if now.as_deref() == Some(bf.sha256.as_str()) {
            continue; // not replaced yet: nothing to undo
        }
        if written.is_some() && now.as_ref() == written {
            atomic::restore(&res, &display, old, bf.meta, &scratch)?;
            done.push(format!("{display}: restored from backup {}", manifest.id));
        } else if written.is_some() {
            left.push(format!(
                "{display}: changed by another program since the interruption; left as it is \
                 (the content before the interrupted change is in backup {})",
                manifest.id
            ));
        } else {
            left.push(format!(
                "{display}: differs from backup {id}, and the interrupted change's record (from an \
                 older qrescue) cannot prove qrescue wrote it; left as it is (run `{q} restore {id}` \
                 if it should be undone)",
                q = root.invocation(),
                id = manifest.id
            ));
        }
    }
    clear_intent(&state);
    let msg = format!(
        "rolled back an interrupted change of pid {} started {} (backup {}): {} file(s) restored, \
         {} left as they are ({intent_path} cleared)",
        intent.pid,
        intent.started,
        manifest.id,
        done.len(),
        left.len()
    );
    log::warn!("{msg}");
    for l in &left {
        log::warn!("{l}");
    }
    let mut out = vec![msg];
    out.extend(done);
    out.extend(left);
    Ok(out)
}

/// Remove what the interrupted change provably left beside its files: its scratch files
/// (named in the record before they were created) and a `NAME+` holding exactly what it
/// wrote. Anything else is left (another program's, or not provably ours).
fn remove_own_leftovers(root: &Root, intent: &Intent) -> Result<()> {
    for (i, path) in intent.files.iter().enumerate() {
        let res = root.resolve(path)?;
        if let Some(name) = intent.scratch.get(i).filter(|n| is_scratch_name(n))
            && atomic::read_sibling(&res, name.as_ref()).is_some()
        {
            atomic::remove_sibling(&res, name.as_ref());
        }
        let temp = res.sibling(TEMP_SUFFIX);
        if let (Some(bytes), Some(w)) = (atomic::read_sibling(&res, &temp), intent.written.get(i))
            && &sha256_hex(&bytes) == w
        {
            atomic::remove_sibling(&res, &temp);
        }
    }
    Ok(())
}

/// A scratch name as [`atomic::scratch_name`] makes them: a plain name in the file's own
/// directory (a damaged record must not point recovery anywhere else).
fn is_scratch_name(name: &str) -> bool {
    !name.contains('/') && name.contains(".qrescue-") && name.ends_with(".tmp")
}

/// The interrupted change's backup cannot be loaded. If no file holds what the change wrote,
/// there is nothing to undo: the record is cleared. Otherwise the stores may be half changed
/// and nothing can put them back: exit 66 with the exact step out.
fn stuck(
    root: &Root,
    state: &StateDir,
    intent: &Intent,
    proven: bool,
    cause: Error,
) -> Result<Vec<String>> {
    let intent_path = format!("{}/{INTENT}", state.display);
    let mut holding = Vec::new();
    for (path, written) in intent.files.iter().zip(&intent.written) {
        let res = root.resolve(path)?;
        let display = root.display(&res.real);
        if res.stat.is_some() && &sha256_hex(&atomic::read(&res, &display)?.0) == written {
            holding.push(display);
        }
    }
    if proven && holding.is_empty() {
        clear_intent(state);
        let msg = format!(
            "cleared the record of an interrupted change (pid {}, started {}): no file holds what it \
             wrote, so there was nothing to undo ({})",
            intent.pid, intent.started, cause.message
        );
        log::warn!("{msg}");
        return Ok(vec![msg]);
    }
    let which = if proven {
        format!("{} hold(s) what it wrote", holding.join(", "))
    } else {
        "its record (from an older qrescue) cannot tell which files it changed".to_string()
    };
    Err(Error::new(
        crate::error::Exit::NoInput,
        format!(
            "an interrupted change (pid {}, started {}) cannot be rolled back: {}; {which}. \
             Check the accounts with `{} audit` and fix them if needed, then remove {intent_path} to continue",
            intent.pid,
            intent.started,
            cause.message,
            root.invocation()
        ),
    ))
}
