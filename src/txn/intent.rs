//! The intent record (`txn.json` in the state directory): which files a change is about to
//! replace, what it writes to each and the backup to roll back from, fsynced before the
//! first file is staged.

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::paths::StateDir;
use crate::sys::Errno;
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

const INTENT_TMP: &str = "txn.json.tmp";

pub(super) fn write_intent(state: &StateDir, intent: &Intent) -> Result<()> {
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

pub(super) fn remove_intent(state: &StateDir) -> Result<()> {
    let display = format!("{}/{INTENT}", state.display);
    state
        .fd
        .unlink(INTENT)
        .map_err(|e| Error::io(&display, e))?;
    state.fd.sync().map_err(|e| Error::io(&state.display, e))
}

pub(super) fn clear_intent(state: &StateDir) {
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
