//! The one transaction that changes credential files:
//! lock → recover → read → plan → backup → intent → stage all → commit each → verify →
//! done, or roll back.
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

use std::io::Read;

use crate::sys::Errno;
use serde::{Deserialize, Serialize};

use crate::backup::{self, Manifest, Snapshot, sha256_hex};
use crate::clock;
use crate::error::{Error, Result};
use crate::paths::StateDir;
use crate::stores::{StoreFile, Stores};
use crate::sys::atomic::{self, Meta, TEMP_SUFFIX};
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

/// Every lock the stores need, held until dropped.
#[derive(Debug)]
pub struct Locked {
    _pwd: PwdLock,
    _files: Vec<FileLock>,
}

/// Take `lckpwdf` and the per-file `NAME.lock` of every name of every store.
pub fn lock_all(root: &Root, stores: &Stores) -> Result<Locked> {
    lock_all_within(root, stores, LOCK_TIMEOUT)
}

/// [`lock_all`] with another bounded wait.
pub fn lock_all_within(
    root: &Root,
    stores: &Stores,
    timeout: std::time::Duration,
) -> Result<Locked> {
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
    Ok(Locked {
        _pwd: pwd,
        _files: files,
    })
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

/// Contents of every store file, in `stores.files` order.
pub type Contents = Vec<Vec<u8>>;

/// Run a change. `plan` gets every store file's current bytes (read under the locks) and
/// returns the new bytes for those it changes (`None`: unchanged). `check` is called on each
/// changed file's bytes as re-read from disk after the change, to prove it took effect.
pub fn run(
    root: &Root,
    stores: &Stores,
    reason: &backup::Reason,
    mut plan: impl FnMut(&[&StoreFile], &Contents) -> Result<Vec<Option<Vec<u8>>>>,
    check: impl Fn(&StoreFile, &[u8]) -> Result<()>,
    announce: impl FnOnce(&Preview<'_>) -> Result<()>,
) -> Result<Outcome> {
    let _locks = lock_all(root, stores)?;
    let mut recovered = recover(root)?;
    for id in backup::remove_incomplete(root)? {
        recovered.push(format!(
            "removed incomplete backup {id} of an interrupted run"
        ));
    }

    // Busybox's passwd/chpasswd take neither lckpwdf nor NAME.lock: their only mutex is
    // `NAME+` (O_EXCL), held from their read to their rename. Once we hold every `NAME+`,
    // none can start; one may have finished between our read and our staging, so re-read
    // then and start over if anything moved.
    let mut attempt = 0;
    let (changes, manifest, state, staged) = loop {
        attempt += 1;
        let mut current = Vec::with_capacity(stores.files.len());
        let mut metas = Vec::with_capacity(stores.files.len());
        for f in &stores.files {
            let (bytes, meta) = f.read()?;
            current.push(bytes);
            metas.push(meta);
        }
        let refs: Vec<&StoreFile> = stores.files.iter().collect();
        let planned = plan(&refs, &current)?;
        let mut changes = Vec::new();
        for (((file, old), meta), new) in stores.files.iter().zip(current).zip(metas).zip(planned) {
            if let Some(new) = new
                && new != old
            {
                changes.push(Change {
                    file,
                    old,
                    meta,
                    new,
                    scratch: atomic::scratch_name(&file.resolved)?,
                });
            }
        }
        if changes.is_empty() {
            return Ok(Outcome {
                backup_id: None,
                changed: Vec::new(),
                recovered,
            });
        }

        let snapshots: Vec<Snapshot<'_>> = changes
            .iter()
            .map(|c| Snapshot {
                file: c.file,
                bytes: &c.old,
                meta: c.meta,
            })
            .collect();
        let manifest = backup::create(root, reason, &snapshots)?;
        let state = StateDir::open(root, true)?.expect("created by the backup");
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
        let mut staged = Vec::with_capacity(changes.len());
        for c in &changes {
            match atomic::stage(
                &c.file.resolved,
                &c.file.display,
                &c.new,
                c.meta,
                &c.scratch,
            ) {
                Ok(s) => staged.push(s),
                Err(e) => {
                    drop(staged);
                    clear_intent(&state);
                    return Err(e.context(format!("nothing was changed (backup {})", manifest.id)));
                }
            }
        }
        let mut moved = None;
        for c in &changes {
            match c.file.read() {
                Ok((now, _)) if now == c.old => {}
                Ok(_) => {
                    moved = Some(c.file.display.clone());
                    break;
                }
                Err(e) => {
                    drop(staged);
                    clear_intent(&state);
                    return Err(e.context(format!("nothing was changed (backup {})", manifest.id)));
                }
            }
        }
        match moved {
            None => break (changes, manifest, state, staged),
            Some(display) => {
                drop(staged);
                clear_intent(&state);
                log::info!(
                    "{display} was changed by another program while we prepared; starting over"
                );
                if attempt >= CONCURRENT_ATTEMPTS {
                    return Err(Error::busy(format!(
                        "{display} keeps being changed by another program; nothing was changed (try again)"
                    )));
                }
            }
        }
    };
    // What the owner must see, before anything is replaced: if it cannot be written (closed
    // pipe, full disk, dropped session), nothing changes.
    let shown = announce(&Preview {
        backup_id: &manifest.id,
        changing: changes.iter().map(|c| c.file.display.clone()).collect(),
        recovered: &recovered,
    });
    if let Err(e) = shown {
        drop(staged);
        clear_intent(&state);
        return Err(e.context(format!("nothing was changed (backup {})", manifest.id)));
    }
    let mut replaced = 0usize;
    for s in staged {
        match s.commit() {
            Ok(()) => replaced += 1,
            Err((renamed, e)) => {
                let upto = replaced + usize::from(renamed);
                return Err(rollback(root, &state, &changes[..upto], &manifest, e));
            }
        }
    }

    // Verify from disk, through a fresh resolution of each file's own name.
    for c in &changes {
        let res = verify_one(root, c, &check);
        if let Err(e) = res {
            return Err(rollback(root, &state, &changes, &manifest, e));
        }
    }
    // The change is complete only once its intent record is gone: otherwise the next run
    // would roll it back, so roll back now and say so.
    if let Err(e) = remove_intent(&state) {
        return Err(rollback(root, &state, &changes, &manifest, e));
    }
    Ok(Outcome {
        backup_id: Some(manifest.id),
        changed: changes.iter().map(|c| c.file.display.clone()).collect(),
        recovered,
    })
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

const INTENT_TMP: &str = "txn.json.tmp";

fn write_intent(state: &StateDir, intent: &Intent) -> Result<()> {
    let r = write_intent_file(state, intent);
    if r.is_err() {
        let _ = state.fd.unlink(INTENT_TMP);
        clear_intent(state);
    }
    r
}

fn write_intent_file(state: &StateDir, intent: &Intent) -> Result<()> {
    let tmp = INTENT_TMP;
    let display = format!("{}/{INTENT}", state.display);
    let _ = state.fd.unlink(tmp);
    let bytes = serde_json::to_vec(intent).expect("intent serialises");
    state
        .fd
        .replace(tmp.as_ref(), INTENT.as_ref(), &bytes)
        .map_err(|e| Error::io(&display, e))
}

fn remove_intent(state: &StateDir) -> Result<()> {
    let display = format!("{}/{INTENT}", state.display);
    state
        .fd
        .unlink(INTENT)
        .map_err(|e| Error::io(&display, e))?;
    state.fd.sync().map_err(|e| Error::io(&state.display, e))
}

fn clear_intent(state: &StateDir) {
    let _ = state.fd.unlink(INTENT);
    let _ = state.fd.sync();
}

/// Read the intent record of an interrupted transaction, if any.
pub fn pending(root: &Root) -> Result<Option<Intent>> {
    let Some(state) = StateDir::open(root, false)? else {
        return Ok(None);
    };
    // A half-written record (crash while writing it) was never in force.
    let _ = state.fd.unlink(INTENT_TMP);
    let mut file = match state.fd.open_read(INTENT) {
        Ok(f) => f,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(Error::io(format!("{}/{INTENT}", state.display), e)),
    };
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)
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
            intent.pid, intent.started, cause
        );
        log::warn!("{msg}");
        return Ok(vec![msg]);
    }
    let which = if proven {
        format!("{} hold(s) what it wrote", holding.join(", "))
    } else {
        "its record (from an older qrescue) cannot tell which files it changed".to_string()
    };
    Err(Error::no_input(format!(
        "an interrupted change (pid {}, started {}) cannot be rolled back: {}; {which}. \
             Check the accounts with `{} audit` and fix them if needed, then remove {intent_path} to continue",
        intent.pid,
        intent.started,
        cause,
        root.invocation()
    )))
}
