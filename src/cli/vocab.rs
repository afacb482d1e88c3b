//! The one JSON vocabulary every `--json` document follows (docs/json.md):
//! - `"schema": 2` at the top (1 = the shapes before this vocabulary);
//! - a time is RFC 3339 UTC with milliseconds (`2026-12-04T16:05:43.123Z`) under its key,
//!   and the same instant as Unix milliseconds under `<key>_unix_ms`;
//! - a file mode is an octal string (`"0600"`);
//! - `path` is the path as the owner reaches it on this machine (under `--root DIR`:
//!   `DIR/etc/shadow`; under `--disk`: `DEV:/etc/shadow`), `in_root` beside it the name
//!   inside the root (`/etc/shadow`);
//! - `samba` is always an object with a `type`.

use std::path::Path;

use serde::Serialize;

use crate::stores::{Kind, Samba, Stores};
use crate::sys::root::Root;

/// The version of the JSON vocabulary.
pub const SCHEMA: u32 = 2;

/// `2026-12-04T16:05:43.123Z`.
pub fn time_ms(unix_ms: u64) -> String {
    crate::watch::journal::rfc3339_ms(unix_ms)
}

/// A day (`YYYY-MM-DD`) as Unix milliseconds at its midnight UTC.
pub fn day_ms(day: &str) -> Option<u64> {
    let mut it = day.splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = crate::clock::days_from_civil(y, m, d);
    u64::try_from(days).ok().map(|d| d * 86_400_000)
}

/// `2026-12-04 16:05:43 +01:00` (shadow-rs's build and commit times) as Unix milliseconds.
pub fn offset_time_ms(s: &str) -> Option<u64> {
    let mut parts = s.split_whitespace();
    let day = day_ms(parts.next()?)?;
    let mut hms = parts.next()?.splitn(3, ':');
    let mut num = || -> Option<i64> { hms.next()?.parse().ok() };
    let secs = num()? * 3600 + num()? * 60 + num()?;
    let offset = match parts.next() {
        None => 0,
        Some(o) => {
            let (sign, rest) = match o.as_bytes().first()? {
                b'+' => (1, &o[1..]),
                b'-' => (-1, &o[1..]),
                _ => return None,
            };
            let (h, m) = rest.split_once(':')?;
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    let ms = day as i64 + (secs - offset) * 1000;
    u64::try_from(ms).ok()
}

/// A file mode as octal digits: `0600`.
pub fn mode(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// The name inside the root of a path shown as [`Root::display`] shows it.
pub fn in_root(root: &Root, shown: &str) -> String {
    let prefix = root.display(Path::new("/"));
    match shown.strip_prefix(prefix.as_str()) {
        Some(rest) => format!("/{}", rest.trim_start_matches('/')),
        None => shown.to_string(),
    }
}

/// `samba`: how Samba keeps its passwords, always an object with a `type` (`none`,
/// `smbpasswd`, `other`), its paths with their in-root names, and an optional note.
#[derive(Debug, Serialize)]
pub struct SambaDoc {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// smb.conf (host path) and its name in the root.
    pub config: Option<String>,
    pub config_in_root: Option<String>,
    /// The smbpasswd file (host path) and its name in the root.
    pub path: Option<String>,
    pub in_root: Option<String>,
    /// The passdb backend qrescue does not write (`tdbsam`…).
    pub backend: Option<String>,
    /// What the owner must do about Samba, when anything.
    pub note: Option<String>,
}

impl SambaDoc {
    pub fn new(root: &Root, samba: &Samba, note: Option<String>) -> SambaDoc {
        // `Samba` holds names inside the root (smb.conf's own words); a config that is not a
        // path (`(QTS default: smb.conf unusable)`) is shown as it is.
        let both = |p: &str| {
            let host = if p.starts_with('/') {
                root.display(Path::new(p))
            } else {
                p.to_string()
            };
            (Some(host), Some(p.to_string()))
        };
        let (kind, (config, config_in_root), (path, in_root_), backend) = match samba {
            Samba::None => ("none", (None, None), (None, None), None),
            Samba::Smbpasswd { config, path } => ("smbpasswd", both(config), both(path), None),
            Samba::Other { config, backend } => {
                ("other", both(config), (None, None), Some(backend.clone()))
            }
        };
        SambaDoc {
            kind,
            config,
            config_in_root,
            path,
            in_root: in_root_,
            backend,
            note,
        }
    }
}

/// A file named by its host path and its name in the root.
#[derive(Debug, Serialize)]
pub struct FileName {
    pub path: String,
    pub in_root: String,
}

/// One file a change replaces (or, in a dry run, would replace): `changes` in `passwd`,
/// `restore` and their dry runs. `old` and `new` are the account's line before and after
/// (hashes redacted) where the command shows them (`passwd --dry-run`), else null.
#[derive(Debug, Serialize)]
pub struct Change {
    pub path: String,
    pub in_root: String,
    pub kind: Option<Kind>,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl Change {
    /// The store shown as `shown` ([`crate::stores::StoreFile::display`]).
    pub fn of(root: &Root, stores: &Stores, shown: &str) -> Change {
        let file = stores.files.iter().find(|f| f.display == shown);
        Change {
            path: shown.to_string(),
            in_root: file.map_or_else(|| in_root(root, shown), |f| f.real.display().to_string()),
            kind: file.map(|f| f.kind),
            old: None,
            new: None,
        }
    }
    /// Every store shown in `shown`.
    pub fn list(root: &Root, stores: &Stores, shown: &[String]) -> Vec<Change> {
        shown.iter().map(|s| Change::of(root, stores, s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_modes() {
        assert_eq!(time_ms(1_764_864_343_123), "2025-12-04T16:05:43.123Z");
        assert_eq!(day_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(day_ms("nope"), None);
        assert_eq!(
            offset_time_ms("1970-01-02 01:00:00 +01:00"),
            Some(86_400_000)
        );
        assert_eq!(offset_time_ms("1970-01-01 00:00:01 +00:00"), Some(1000));
        assert_eq!(
            offset_time_ms("1970-01-01 00:00:00 -00:30"),
            Some(1_800_000)
        );
        assert_eq!(mode(0o100600), "0600");
        assert_eq!(mode(0o4755), "4755");
    }
}
