//! Rolling back a change a crash interrupted, from its intent record and backup.

use super::intent::{INTENT, Intent, clear_intent, pending};
use crate::backup::{self, sha256_hex};
use crate::error::{Error, Result};
use crate::paths::StateDir;
use crate::sys::atomic::{self, TEMP_SUFFIX};
use crate::sys::root::Root;

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
