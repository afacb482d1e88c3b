//! Backup sets: `<state dir>/backups/<id>/` (0700) holding a copy (0600) of each credential
//! file and a `manifest.json` with time, reason, tool version, operator and, per file, its
//! path, sha256, size, mode and owner. The manifest is written last (temp + rename), so a
//! set without one is incomplete and never restored from.
//!
//! Everything below the state directory is checked as it is ([`safe_subdir`]): a symlink
//! planted there (say, to `/`) is refused, never followed.

use std::io::Read;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::error::{Error, Result};
use crate::paths::StateDir;
use crate::paths::safe_subdir;
use crate::stores::{Kind, StoreFile};
use crate::sys::Errno;
use crate::sys::atomic::Meta;
use crate::sys::dir::Dir;
use crate::sys::proc;
use crate::sys::root::Root;

mod problem;
mod reason;
pub use problem::Problem;
pub use reason::Reason;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackupFile {
    /// Real path inside the root.
    pub path: String,
    /// Every logical name of the file (`/etc/shadow`, `/etc/config/shadow`).
    pub names: Vec<String>,
    pub kind: Kind,
    /// File name inside the backup directory.
    pub stored_as: String,
    pub sha256: String,
    pub size: u64,
    #[serde(flatten)]
    pub meta: Meta,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub id: String,
    pub created: String,
    pub created_unix: u64,
    pub reason: Reason,
    pub tool_version: String,
    pub operator: String,
    pub files: Vec<BackupFile>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl StateDir {
    /// The `backups` directory.
    fn backups(&self, create: bool) -> Result<Option<(Dir, String)>> {
        let display = format!("{}/backups", self.display);
        Ok(safe_subdir(&self.fd, "backups", &display, create)?.map(|fd| (fd, display)))
    }
}

/// Who is running this: `SUDO_USER`, else the login uid's name, else the effective uid.
///
/// The name comes from the running system's user database only when that system is the
/// root being changed: with `--root DIR`, nothing outside DIR is read, so it is `uid N`.
pub fn operator(root: &Root) -> String {
    if let Ok(u) = std::env::var("SUDO_USER")
        && !u.is_empty()
    {
        return u;
    }
    let login = std::fs::read_to_string("/proc/self/loginuid")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|&u| u != u32::MAX);
    let uid = login.unwrap_or_else(proc::euid);
    if !root.is_host() {
        return format!("uid {uid}");
    }
    proc::user_name(uid).unwrap_or_else(|| format!("uid {uid}"))
}

fn write_new(dir: &Dir, name: &str, bytes: &[u8], display: &str) -> Result<()> {
    dir.write_new(name, bytes)
        .map_err(|e| Error::io(display, e))
}

/// A file's content to put in a backup.
pub struct Snapshot<'a> {
    pub file: &'a StoreFile,
    pub bytes: &'a [u8],
    pub meta: Meta,
}

/// Write a complete, fsynced backup set; returns its manifest.
pub fn create(root: &Root, reason: &Reason, snapshots: &[Snapshot<'_>]) -> Result<Manifest> {
    let state = StateDir::open(root, true)?.expect("created");
    let (backups, bdisplay) = state.backups(true)?.expect("created");
    let now = clock::now_unix();
    let base = format!("{}-{}", clock::compact(now), std::process::id());
    let mut id = base.clone();
    let mut n = 1;
    loop {
        match backups.mkdir(id.as_str(), 0o700) {
            Ok(()) => break,
            Err(Errno::EEXIST) => {
                n += 1;
                id = format!("{base}.{n}");
            }
            Err(e) => return Err(Error::io(format!("{bdisplay}/{id}"), e)),
        }
    }
    let ddisplay = format!("{bdisplay}/{id}");
    let about = About {
        now,
        reason,
        operator: operator(root),
    };
    let result = fill(&backups, &bdisplay, &id, &ddisplay, &about, snapshots);
    if result.is_err() {
        // Never leave a half-written set behind.
        remove_set(&backups, &id);
    }
    result
}

/// What a manifest says about the set itself.
struct About<'a> {
    now: u64,
    reason: &'a Reason,
    operator: String,
}

fn fill(
    backups: &Dir,
    bdisplay: &str,
    id: &str,
    ddisplay: &str,
    about: &About<'_>,
    snapshots: &[Snapshot<'_>],
) -> Result<Manifest> {
    let (now, reason) = (about.now, about.reason);
    let dir = safe_subdir(backups, id, ddisplay, false)?.expect("just made");
    let mut files = Vec::new();
    for (i, s) in snapshots.iter().enumerate() {
        let flat = s
            .file
            .real
            .to_string_lossy()
            .trim_start_matches('/')
            .replace('/', "_");
        let stored_as = format!("{i:02}-{flat}");
        write_new(
            &dir,
            &stored_as,
            s.bytes,
            &format!("{ddisplay}/{stored_as}"),
        )?;
        files.push(BackupFile {
            path: s.file.real.to_string_lossy().into_owned(),
            names: s.file.names.clone(),
            kind: s.file.kind,
            stored_as,
            sha256: sha256_hex(s.bytes),
            size: s.bytes.len() as u64,
            meta: s.meta,
        });
    }
    let manifest = Manifest {
        id: id.to_string(),
        created: clock::rfc3339(now),
        created_unix: now,
        reason: reason.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        operator: about.operator.clone(),
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    write_new(
        &dir,
        "manifest.json.tmp",
        &json,
        &format!("{ddisplay}/manifest.json.tmp"),
    )?;
    dir.rename("manifest.json.tmp", "manifest.json")
        .map_err(|e| Error::io(ddisplay, e))?;
    dir.sync().map_err(|e| Error::io(ddisplay, e))?;
    backups.sync().map_err(|e| Error::io(bdisplay, e))?;
    Ok(manifest)
}

/// One set as found on disk.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub id: String,
    pub manifest: Option<Manifest>,
    /// Every file present with the recorded size and sha256.
    pub intact: bool,
    /// What is wrong, if anything.
    pub problems: Vec<Problem>,
}

fn read_all(dir: &Dir, name: &str) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    dir.open_read(name)?.read_to_end(&mut buf)?;
    Ok(buf)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !id.starts_with('.')
}

/// Check one set; with `load`, also return the files' contents.
fn examine(backups: &Dir, bdisplay: &str, id: &str, load: bool) -> (Listed, Vec<Vec<u8>>) {
    let mut listed = Listed {
        id: id.to_string(),
        manifest: None,
        intact: false,
        problems: Vec::new(),
    };
    let mut contents = Vec::new();
    let ddisplay = format!("{bdisplay}/{id}");
    let dir = match safe_subdir(backups, id, &ddisplay, false) {
        Ok(Some(d)) => d,
        Ok(None) => {
            listed.problems.push(Problem::Missing);
            return (listed, contents);
        }
        Err(e) => {
            listed.problems.push(Problem::Unsafe(e));
            return (listed, contents);
        }
    };
    let manifest: Manifest = match read_all(&dir, "manifest.json") {
        Ok(b) => match serde_json::from_slice(&b) {
            Ok(m) => m,
            Err(e) => {
                listed
                    .problems
                    .push(Problem::ManifestUnreadable(e.to_string()));
                return (listed, contents);
            }
        },
        Err(_) => {
            listed.problems.push(Problem::NoManifest);
            return (listed, contents);
        }
    };
    if manifest.id != id {
        listed.problems.push(Problem::WrongId(manifest.id.clone()));
    }
    for f in &manifest.files {
        if f.stored_as.contains('/') || f.stored_as.starts_with('.') || f.stored_as.is_empty() {
            listed.problems.push(Problem::BadStoredName {
                path: f.path.clone(),
            });
            continue;
        }
        match read_all(&dir, &f.stored_as) {
            Ok(b) if b.len() as u64 == f.size && sha256_hex(&b) == f.sha256 => {
                if load {
                    contents.push(b);
                }
            }
            Ok(_) => listed.problems.push(Problem::ChecksumDiffers {
                stored_as: f.stored_as.clone(),
            }),
            Err(err) => listed.problems.push(Problem::Unreadable {
                stored_as: f.stored_as.clone(),
                err,
            }),
        }
    }
    listed.intact = listed.problems.is_empty();
    listed.manifest = Some(manifest);
    (listed, contents)
}

/// Every backup set, oldest first.
pub fn list(root: &Root) -> Result<Vec<Listed>> {
    let Some(state) = StateDir::open(root, false)? else {
        return Ok(Vec::new());
    };
    let Some((backups, bdisplay)) = state.backups(false)? else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<String> = Vec::new();
    for name in backups.entries().map_err(|e| Error::io(&bdisplay, e))? {
        if valid_id(&name) {
            ids.push(name);
        }
    }
    ids.sort();
    Ok(ids
        .iter()
        .map(|id| examine(&backups, &bdisplay, id, false).0)
        .collect())
}

/// Load a set for restoring: it must be intact.
pub fn load(root: &Root, id: &str) -> Result<(Manifest, Vec<Vec<u8>>)> {
    if !valid_id(id) {
        return Err(Error::usage(format!(
            "{id:?} is not a backup id (see `{} backups`)",
            root.invocation()
        )));
    }
    let state = StateDir::open(root, false)?
        .ok_or_else(|| Error::usage(format!("no backup {id}: there are no backups")))?;
    let (backups, bdisplay) = state
        .backups(false)?
        .ok_or_else(|| Error::usage(format!("no backup {id}: there are no backups")))?;
    let (listed, contents) = examine(&backups, &bdisplay, id, true);
    if listed
        .problems
        .iter()
        .any(|p| matches!(p, Problem::Missing))
    {
        return Err(Error::usage(format!(
            "no backup {id} (see `{} backups`)",
            root.invocation()
        )));
    }
    match listed.manifest {
        Some(m) if listed.intact => Ok((m, contents)),
        _ => Err(Error::data(format!(
            "backup {id} is damaged: {}",
            listed
                .problems
                .iter()
                .map(Problem::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}

/// Remove a backup directory and its files (best effort).
fn remove_set(backups: &Dir, id: &str) {
    if let Ok(Some(dir)) = safe_subdir(backups, id, id, false) {
        if let Ok(names) = dir.entries() {
            if let Ok(Some(d)) = safe_subdir(backups, id, id, false) {
                for n in names {
                    let _ = d.unlink(n.as_str());
                }
            }
        }
    }
    let _ = backups.rmdir(id);
    let _ = backups.sync();
}

/// Remove sets without a manifest: a backup is only ever written with the locks held, so
/// with the locks held an incomplete set is the remains of a crash. Returns their ids.
pub fn remove_incomplete(root: &Root) -> Result<Vec<String>> {
    let Some(state) = StateDir::open(root, false)? else {
        return Ok(Vec::new());
    };
    let Some((backups, bdisplay)) = state.backups(false)? else {
        return Ok(Vec::new());
    };
    let mut removed = Vec::new();
    for listed in list(root)? {
        if listed.manifest.is_none()
            && listed
                .problems
                .iter()
                .any(|p| matches!(p, Problem::NoManifest))
        {
            remove_set(&backups, &listed.id);
            log::warn!(
                "removed incomplete backup {bdisplay}/{} left by an interrupted run",
                listed.id
            );
            removed.push(listed.id);
        }
    }
    Ok(removed)
}

/// Remove one set qrescue wrote, proven by its manifest: only `manifest.json` and the files
/// it names are unlinked, then the directory (left, and said, when anything else is in it).
fn remove_own_set(backups: &Dir, bdisplay: &str, manifest: &Manifest) -> Result<()> {
    let id = manifest.id.as_str();
    let shown = format!("{bdisplay}/{id}");
    let Some(dir) = safe_subdir(backups, id, &shown, false)? else {
        return Ok(());
    };
    for f in &manifest.files {
        if f.stored_as.contains('/') || f.stored_as.starts_with('.') || f.stored_as.is_empty() {
            continue;
        }
        match dir.unlink(f.stored_as.as_str()) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(Error::io(format!("{shown}/{}", f.stored_as), e)),
        }
    }
    // The manifest last: a set interrupted here is an incomplete set, removed as such later.
    match dir.unlink("manifest.json") {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(Error::io(format!("{shown}/manifest.json"), e)),
    }
    dir.sync().map_err(|e| Error::io(&shown, e))?;
    match backups.rmdir(id) {
        Ok(()) => {}
        Err(Errno::ENOTEMPTY | Errno::EEXIST) => {
            return Err(Error::data(format!(
                "{shown}: holds files qrescue did not write; its own were removed, the rest left"
            )));
        }
        Err(e) => return Err(Error::io(&shown, e)),
    }
    backups.sync().map_err(|e| Error::io(bdisplay, e))
}

/// Keep the `keep` newest sets (by creation time) and remove the older ones. Only sets with a
/// manifest naming their own id are counted or removed (anything else was not proven to be
/// qrescue's); `protect` (the set an unfinished transaction's intent record names) is never
/// removed. The caller holds the transaction locks. Returns the removed ids, oldest first.
pub fn prune(root: &Root, keep: usize, protect: Option<&str>) -> Result<Vec<String>> {
    let Some(state) = StateDir::open(root, false)? else {
        return Ok(Vec::new());
    };
    let Some((backups, bdisplay)) = state.backups(false)? else {
        return Ok(Vec::new());
    };
    let mut own: Vec<Manifest> = list(root)?
        .into_iter()
        .filter_map(|l| l.manifest.filter(|m| m.id == l.id))
        .collect();
    own.sort_by(|a, b| (a.created_unix, &a.id).cmp(&(b.created_unix, &b.id)));
    let excess = own.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for m in own.iter().take(excess) {
        if Some(m.id.as_str()) == protect {
            continue;
        }
        remove_own_set(&backups, &bdisplay, m)?;
        removed.push(m.id.clone());
    }
    Ok(removed)
}
