//! Which credential stores a root has, discovered rather than assumed.
//!
//! QTS keeps the persistent copies under `/etc/config` (a symlink to `/mnt/HDA_ROOT/.config`
//! on the system RAID) and runtime copies under `/etc` (a RAM disk). A runtime file that is a
//! symlink into `/etc/config` is the same store; a separate file is a second copy that must be
//! rewritten too. Every candidate is resolved inside the root and merged by (device, inode).
//! Samba's password file is found from smb.conf.

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
    /// Whether it is a runtime copy that does not persist (QTS RAM disk).
    pub fn runtime(&self) -> bool {
        !self.persistent
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
        stores.samba = find_samba(root)?;
        if let Samba::Smbpasswd { path, .. } = stores.samba.clone() {
            stores.add(root, Kind::Smbpasswd, &path, config_real.as_ref())?;
            // A runtime copy beside a persistent one (QTS): /etc/X for /etc/config/X.
            if let Some(rest) = path.strip_prefix(&format!("{QTS_CONFIG}/")) {
                stores.add(
                    root,
                    Kind::Smbpasswd,
                    &format!("/etc/{rest}"),
                    config_real.as_ref(),
                )?;
            }
        }
        if stores.files.is_empty() {
            return Err(crate::offline::layout::no_stores(root));
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
        // A missing file, or a missing directory on the way: not a store of this root.
        let Some(res) = root.try_resolve(logical)?.filter(|r| r.stat.is_some()) else {
            return Ok(());
        };
        if !res.is_file() {
            return Err(Error::data(format!(
                "{}: not a regular file",
                root.display(&res.real)
            )));
        }
        let id = res.identity();
        if let Some(existing) = self.files.iter_mut().find(|f| f.resolved.identity() == id) {
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

    /// Files of one kind.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &StoreFile> {
        self.files.iter().filter(move |f| f.kind == kind)
    }
}

fn find_samba(root: &Root) -> Result<Samba> {
    for candidate in SMB_CONF_CANDIDATES {
        let Some(res) = root.try_resolve(candidate)? else {
            continue;
        };
        if !res.is_file() {
            continue;
        }
        let display = root.display(&res.real);
        let (bytes, _) = atomic::read(&res, &display)?;
        let settings = smbconf::parse(&String::from_utf8_lossy(&bytes));
        // QTS builds Samba with its password file in /etc/config; others in the private dir.
        let default = if candidate.starts_with(QTS_CONFIG) || is_qts(root)? {
            "/etc/config/smbpasswd"
        } else {
            "/etc/samba/smbpasswd"
        };
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
    Ok(Samba::None)
}
