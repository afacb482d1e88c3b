//! Which credential stores a root has, discovered rather than assumed.
//!
//! QTS keeps the persistent copies under `/etc/config` (a symlink to `/mnt/HDA_ROOT/.config`
//! on the system RAID) and runtime copies under `/etc` (a RAM disk). A runtime file that is a
//! symlink into `/etc/config` is the same store; a separate file is a second copy that must be
//! rewritten too, and so is a hard link (another directory entry of the same inode). Every
//! candidate is resolved inside the root and merged by its directory entry.
//! Samba's password file is found from smb.conf, following its includes as Samba does.
//!
//! A name that exists but does not resolve to a file of its kind (a dangling `/etc/shadow`,
//! or one that points at passwd) is an error, never a reason to fall back: falling back
//! would put the crypt hash into the world-readable passwd. On QTS an unusable smb.conf does
//! not hide Samba's password file: its place is known (`/etc/config/smbpasswd`) and used,
//! with a note saying why.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::formats::smbconf::{self, Backend};
use crate::paths::{QTS_CONFIG, is_qts};
use crate::sys::atomic::{self, Meta};
use crate::sys::root::{Resolved, Root};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Passwd,
    Shadow,
    Group,
    Smbpasswd,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Passwd => "passwd",
            Kind::Shadow => "shadow",
            Kind::Group => "group",
            Kind::Smbpasswd => "smbpasswd",
        }
    }
}

/// One real credential file and every name it is known by.
#[derive(Debug)]
pub struct StoreFile {
    pub kind: Kind,
    /// Logical paths (inside the root) that resolve to this file, e.g. `/etc/shadow` and
    /// `/etc/config/shadow`.
    pub names: Vec<String>,
    /// The real path inside the root.
    pub real: PathBuf,
    /// Whether it lives under the persistent config directory (QTS) or on a plain disk root.
    pub persistent: bool,
    pub resolved: Resolved,
    /// Path as shown to the owner.
    pub display: String,
}

impl StoreFile {
    /// Read the file now.
    pub fn read(&self) -> Result<(Vec<u8>, Meta)> {
        atomic::read(&self.resolved, &self.display)
    }
}

/// The Samba side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Samba {
    /// No smb.conf found: no Samba store to keep in sync.
    None,
    /// smbpasswd file(s), rewritten natively.
    Smbpasswd { config: String, path: String },
    /// A backend qrescue cannot write itself (tdbsam…): the box's own tools must be used.
    Other { config: String, backend: String },
}

#[derive(Debug)]
pub struct Stores {
    pub qts: bool,
    pub files: Vec<StoreFile>,
    pub samba: Samba,
    /// How the Samba backend was decided when smb.conf has no `passdb backend` line
    /// (`smbpasswd, assumed: no passdb backend line, /etc/config/smbpasswd exists`).
    pub samba_basis: Option<String>,
    /// Why discovery did something the owner should know (printed once on stderr).
    pub notes: Vec<String>,
}

const SMB_CONF_CANDIDATES: &[&str] = &[
    "/etc/config/smb.conf",
    "/etc/smb.conf",
    "/etc/samba/smb.conf",
];

impl Stores {
    /// Discover the stores of `root`.
    pub fn discover(root: &Root) -> Result<Stores> {
        let qts = is_qts(root)?;
        let config_real = if qts {
            root.open_dir(QTS_CONFIG).ok().map(|(_, p)| p)
        } else {
            None
        };
        let mut stores = Stores {
            qts,
            files: Vec::new(),
            samba: Samba::None,
            samba_basis: None,
            notes: Vec::new(),
        };
        for (kind, name) in [
            (Kind::Passwd, "passwd"),
            (Kind::Shadow, "shadow"),
            (Kind::Group, "group"),
        ] {
            stores.add(root, kind, &format!("/etc/{name}"), config_real.as_ref())?;
            if qts {
                stores.add(
                    root,
                    kind,
                    &format!("{QTS_CONFIG}/{name}"),
                    config_real.as_ref(),
                )?;
            }
        }
        stores.samba = find_samba(root, qts, &mut stores.notes, &mut stores.samba_basis)?;
        if let Samba::Smbpasswd { path, .. } = stores.samba.clone() {
            stores.add(root, Kind::Smbpasswd, &path, config_real.as_ref())?;
            // A runtime copy beside a persistent one (QTS): /etc/X for /etc/config/X.
            if let Some(rest) = path.strip_prefix(&format!("{QTS_CONFIG}/")) {
                let twin = format!("/etc/{rest}");
                // Samba reads the file smb.conf names, not this twin: a dangling twin holds
                // nothing to change (said, not fatal); one resolving to another store is.
                if name_exists(root, &twin)
                    && root.try_resolve(&twin)?.is_none_or(|r| r.stat.is_none())
                {
                    stores.notes.push(format!(
                        "{} leads nowhere (dangling symlink): not a Samba store, left alone",
                        root.display(std::path::Path::new(&twin))
                    ));
                } else {
                    stores.add(root, Kind::Smbpasswd, &twin, config_real.as_ref())?;
                }
            }
        }
        if stores.files.is_empty() {
            return Err(no_stores(root));
        }
        if qts && stores.of(Kind::Shadow).next().is_none() {
            return Err(Error::data(format!(
                "no shadow file under {}: QTS keeps the password hashes in {QTS_CONFIG}/shadow, \
                 and without it they would go into the world-readable passwd",
                root.display(std::path::Path::new(QTS_CONFIG))
            )));
        }
        for n in &stores.notes {
            crate::escape::advise(&format!("qrescue: note: {n}"));
        }
        if !stores.files.iter().any(|f| f.kind == Kind::Passwd) {
            return Err(Error::data(format!(
                "no passwd file under {}",
                root.display(std::path::Path::new("/etc"))
            )));
        }
        Ok(stores)
    }

    fn add(
        &mut self,
        root: &Root,
        kind: Kind,
        logical: &str,
        config_real: Option<&PathBuf>,
    ) -> Result<()> {
        // A missing file, or a missing directory on the way: not a store of this root. But a
        // name that exists (a symlink) and leads nowhere is a broken store, not a missing one.
        let Some(res) = root.try_resolve(logical)?.filter(|r| r.stat.is_some()) else {
            if name_exists(root, logical) {
                return Err(Error::data(format!(
                    "{}: exists but does not resolve to a {} file (dangling symlink?); fix it first",
                    root.display(std::path::Path::new(logical)),
                    kind.name()
                )));
            }
            return Ok(());
        };
        if !res.is_file() {
            return Err(Error::data(format!(
                "{}: not a regular file",
                root.display(&res.real)
            )));
        }
        // Names of one directory entry (through symlinks) are one store. A hard link (same
        // inode, another directory entry) is a second name that must be replaced too:
        // renaming over one entry leaves the other with the old content.
        let id = res.identity();
        if let Some(other) = self
            .files
            .iter()
            .find(|f| f.resolved.identity() == id && f.kind != kind)
        {
            return Err(Error::data(format!(
                "{}: resolves to {}, the {} file, not a {} file; fix the link first",
                root.display(std::path::Path::new(logical)),
                other.display,
                other.kind.name(),
                kind.name()
            )));
        }
        let entry = entry_of(&res);
        if let Some(existing) = self
            .files
            .iter_mut()
            .find(|f| f.resolved.identity() == id && entry_of(&f.resolved) == entry)
        {
            if !existing.names.iter().any(|n| n == logical) {
                existing.names.push(logical.to_string());
            }
            return Ok(());
        }
        let persistent = match config_real {
            Some(cfg) => res.real.starts_with(cfg),
            None => true,
        };
        let display = root.display(&res.real);
        self.files.push(StoreFile {
            kind,
            names: vec![logical.to_string()],
            real: res.real.clone(),
            persistent,
            resolved: res,
            display,
        });
        Ok(())
    }

    /// Add every other smbpasswd file a Samba on this root could read (QTS's own place, the
    /// usual distribution places), for `audit` only: a factory NT hash there keeps working
    /// whatever smb.conf says. Unusable candidates are skipped. Returns the ones added.
    pub fn add_every_smbpasswd(&mut self, root: &Root) -> Vec<String> {
        let config_real = if self.qts {
            root.open_dir(QTS_CONFIG).ok().map(|(_, p)| p)
        } else {
            None
        };
        let mut added = Vec::new();
        for candidate in [
            QTS_SMBPASSWD,
            "/etc/smbpasswd",
            "/etc/samba/smbpasswd",
            "/var/lib/samba/private/smbpasswd",
        ] {
            let before = self.files.len();
            if self
                .add(root, Kind::Smbpasswd, candidate, config_real.as_ref())
                .is_ok()
                && self.files.len() > before
            {
                added.push(self.files[before].display.clone());
            }
        }
        added
    }

    /// Files of one kind.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &StoreFile> {
        self.files.iter().filter(move |f| f.kind == kind)
    }
}

/// The directory entry a resolved path names: (device, inode) of its directory, and its name.
#[allow(clippy::unnecessary_cast)] // dev_t/ino_t widths differ between libcs
fn entry_of(res: &Resolved) -> (Option<(u64, u64)>, std::ffi::OsString) {
    let dir = crate::sys::fs::fstat(res.dir_fd())
        .ok()
        .map(|st| (st.st_dev as u64, st.st_ino as u64));
    (dir, res.name.clone())
}

/// Whether the final component of `logical` exists at all (as anything, a symlink included)
/// in the directory its parent resolves to.
fn name_exists(root: &Root, logical: &str) -> bool {
    let p = std::path::Path::new(logical);
    let (Some(parent), Some(base)) = (p.parent().and_then(|p| p.to_str()), p.file_name()) else {
        return false;
    };
    root.open_dir(parent)
        .is_ok_and(|(dir, _)| crate::sys::dir::Dir::from(dir).has(base))
}

/// QTS's Samba password file, where QTS's Samba build keeps it.
const QTS_SMBPASSWD: &str = "/etc/config/smbpasswd";

fn find_samba(
    root: &Root,
    qts: bool,
    notes: &mut Vec<String>,
    basis: &mut Option<String>,
) -> Result<Samba> {
    for candidate in SMB_CONF_CANDIDATES {
        let res = root.try_resolve(candidate)?;
        let usable = res.as_ref().is_some_and(Resolved::is_file);
        if !usable {
            if !name_exists(root, candidate) {
                continue;
            }
            // There but unusable: dangling, a directory, a FIFO (never opened)…
            let why = format!(
                "{} exists but is not a readable regular file",
                root.display(std::path::Path::new(candidate))
            );
            if qts {
                return qts_fallback(root, &why, notes);
            }
            notes.push(format!("{why}: ignored"));
            continue;
        }
        let res = res.expect("usable");
        let display = root.display(&res.real);
        let (bytes, _) = atomic::read(&res, &display)?;
        let mut load = |path: &str| -> std::result::Result<Option<String>, String> {
            let Some(r) = root.try_resolve(path).map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            if r.stat.is_none() {
                return Ok(None);
            }
            let shown = root.display(&r.real);
            if !r.is_file() {
                return Err(format!(
                    "{shown}: included from smb.conf but not a regular file"
                ));
            }
            atomic::read(&r, &shown)
                .map(|(b, _)| Some(String::from_utf8_lossy(&b).into_owned()))
                .map_err(|e| e.to_string())
        };
        let settings = smbconf::parse_with_includes(&String::from_utf8_lossy(&bytes), &mut load)
            .map_err(|m| Error::data(format!("{display}: {m}")))?;
        // QTS builds Samba with its password file in /etc/config; others in the private dir.
        let default = if candidate.starts_with(QTS_CONFIG) || qts {
            QTS_SMBPASSWD
        } else {
            "/etc/samba/smbpasswd"
        };
        if settings.passdb_backend.is_none() {
            return Ok(no_backend_line(
                root,
                candidate,
                settings.smb_passwd_file.as_deref().unwrap_or(default),
                basis,
            ));
        }
        return Ok(match settings.backend(default) {
            Backend::Smbpasswd(path) => Samba::Smbpasswd {
                config: candidate.to_string(),
                path,
            },
            Backend::Other(backend) => Samba::Other {
                config: candidate.to_string(),
                backend,
            },
        });
    }
    if qts && name_exists(root, QTS_SMBPASSWD) {
        return qts_fallback(root, "no smb.conf found", notes);
    }
    Ok(Samba::None)
}

/// Where a Samba keeps `passdb.tdb` (its private directory, by build).
const PASSDB_TDB_CANDIDATES: &[&str] = &[
    "/etc/config/samba/private/passdb.tdb",
    "/etc/samba/private/passdb.tdb",
    "/var/lib/samba/private/passdb.tdb",
    "/var/lib/samba/passdb.tdb",
];

/// smb.conf without a `passdb backend` line (QTS 3): Samba's built-in default is `tdbsam`, but
/// QTS 3 kept its passwords in the `smb passwd file`. Decide from what exists, and say why.
fn no_backend_line(root: &Root, config: &str, file: &str, basis: &mut Option<String>) -> Samba {
    let exists = |p: &str| {
        root.try_resolve(p)
            .ok()
            .flatten()
            .is_some_and(|r| r.stat.is_some())
    };
    let shown = |p: &str| root.display(std::path::Path::new(p));
    let smbpasswd = Samba::Smbpasswd {
        config: config.to_string(),
        path: file.to_string(),
    };
    if exists(file) {
        *basis = Some(format!(
            "smbpasswd, assumed: no passdb backend line, {} exists",
            shown(file)
        ));
        return smbpasswd;
    }
    if let Some(tdb) = PASSDB_TDB_CANDIDATES.iter().find(|p| exists(p)) {
        *basis = Some(format!(
            "tdbsam, assumed: no passdb backend line, {} exists (Samba's default backend)",
            shown(tdb)
        ));
        return Samba::Other {
            config: config.to_string(),
            backend: "tdbsam".to_string(),
        };
    }
    *basis = Some(format!(
        "smbpasswd, assumed: no passdb backend line, and neither {} nor a passdb.tdb exists",
        shown(file)
    ));
    smbpasswd
}

/// On QTS without a usable smb.conf: Samba's password file is still where QTS keeps it.
fn qts_fallback(root: &Root, why: &str, notes: &mut Vec<String>) -> Result<Samba> {
    if !name_exists(root, QTS_SMBPASSWD) {
        notes.push(format!("{why}; no {QTS_SMBPASSWD} either: no Samba store"));
        return Ok(Samba::None);
    }
    notes.push(format!(
        "{why}; using {} (where QTS keeps Samba's passwords)",
        root.display(std::path::Path::new(QTS_SMBPASSWD))
    ));
    Ok(Samba::Smbpasswd {
        config: "(QTS default: smb.conf unusable)".to_string(),
        path: QTS_SMBPASSWD.to_string(),
    })
}

/// The error for a root with no credential store at all (exit 66): what was looked for and
/// how to get the right directory.
pub fn no_stores(root: &Root) -> Error {
    let shown = if root.is_host() {
        "/".to_string()
    } else {
        root.path().display().to_string()
    };
    Error::no_input(format!(
        "no credential store under {shown} (looked for etc/passwd, etc/config/passwd and \
         .config/passwd): give --root a mounted system root or a mounted QNAP system \
         partition, or attach the NAS's disks and run `qrescue disks`"
    ))
}
