//! A change staged, committed and verified, or rolled back: [`Prepared`] and [`Committed`].

use super::intent::{Intent, clear_intent, remove_intent, write_intent};
use super::{Locked, Outcome, Preview};
use crate::backup::{self, Manifest, sha256_hex};
use crate::clock;
use crate::error::{Error, Result};
use crate::paths::StateDir;
use crate::snapshot::{Edit, Loaded, Snapshot};
use crate::stores::StoreFile;
use crate::sys::Errno;
use crate::sys::atomic::{self, Meta, Staged};
use crate::sys::root::Root;

/// How often a change starts over when another program changed a store meanwhile.
const CONCURRENT_ATTEMPTS: usize = 5;

impl<'a> Locked<'a> {
    /// Plan a change on a fresh snapshot, back up the files it changes, write the intent
    /// record and stage every new file. `Ok(None)`: nothing needs changing.
    ///
    /// Busybox's passwd/chpasswd take neither lckpwdf nor NAME.lock: their only mutex is
    /// `NAME+` (O_EXCL), held from their read to their rename. Once we hold every `NAME+`,
    /// none can start; one may have finished between our read and our staging, so re-read
    /// then and start over (planning again) if anything moved.
    pub fn prepare(
        &self,
        reason: &backup::Reason,
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
        reason: &backup::Reason,
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
    pub(super) fn unchanged(&self) -> Outcome {
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
            let cause = Error::failed("the change was abandoned before it was verified");
            let e = self.roll_back(cause);
            log::error!("{e}");
        }
    }
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
        return Err(Error::failed(format!(
            "{}: content read back differs from what was written",
            c.file.display
        )));
    }
    if meta != c.meta {
        return Err(Error::failed(format!(
            "{}: owner or mode changed during the write",
            c.file.display
        )));
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
                failed.push(e.to_string());
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
                failed.push(e.to_string());
                continue;
            }
        }
        if let Err(e) = atomic::restore(&res, &c.file.display, &c.old, c.meta, &c.scratch) {
            failed.push(e.to_string());
        }
    }
    if failed.is_empty() {
        clear_intent(state);
        log::warn!("change rolled back after: {}", cause);
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
