//! Files a crash can leave beside the credential files, explained and (when provably stale)
//! removed: `NAME.lock` of a dead process, `NAME.PID` of a dead process (commonio's lock
//! attempt), and an old `NAME+` temp file. Called with the locks held.

use std::path::Path;
use std::time::{Duration, SystemTime};

use nix::sys::stat::fstatat;
use nix::unistd::{UnlinkatFlags, unlinkat};
use serde::Serialize;

use crate::stores::Stores;
use crate::sys::lock::{Holder, holder};
use crate::sys::root::Root;

/// A temp file older than this, with the locks held and no transaction pending, is stale.
const TEMP_STALE: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize)]
pub struct Leftover {
    pub path: String,
    pub what: String,
    pub removed: bool,
    /// Provably left by a dead process or an interrupted write (what `clean` removes).
    #[serde(skip)]
    pub stale: bool,
}

/// Find (and with `clean`, remove) leftovers beside every name of every store.
pub fn sweep(root: &Root, stores: &Stores, clean: bool) -> Vec<Leftover> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let me = std::process::id() as i32;
    for name in stores.files.iter().flat_map(|f| f.names.iter()) {
        let p = Path::new(name);
        let (Some(parent), Some(base)) = (
            p.parent().and_then(Path::to_str),
            p.file_name().and_then(|b| b.to_str()),
        ) else {
            continue;
        };
        let Ok((dir, real_dir)) = root.open_dir(parent) else {
            continue;
        };
        if !seen.insert((real_dir.clone(), base.to_string())) {
            continue;
        }
        let Ok(listing) = nix::dir::Dir::from_fd(match dir.try_clone() {
            Ok(d) => d,
            Err(_) => continue,
        }) else {
            continue;
        };
        for entry in listing.into_iter().flatten() {
            let Ok(ename) = entry.file_name().to_str() else {
                continue;
            };
            let Some(rest) = ename.strip_prefix(base) else {
                continue;
            };
            let display = root.display(&real_dir.join(ename));
            let (what, stale) = match rest {
                ".lock" => match holder(&dir, ename.as_ref()) {
                    // Our own lock: we hold the locks while sweeping.
                    Holder::Alive(pid) if pid == me => continue,
                    Holder::Dead(pid) => (format!("lock of dead process {pid}"), true),
                    Holder::Alive(pid) => (format!("lock held by running process {pid}"), false),
                    Holder::Unreadable => ("lock naming no process".to_string(), false),
                    Holder::NotRegular => (
                        "not a regular file at a lock path (a FIFO, device or directory): remove it"
                            .to_string(),
                        false,
                    ),
                },
                "+" => {
                    let old = fstatat(&dir, ename, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                        .ok()
                        .and_then(|st| {
                            let m = SystemTime::UNIX_EPOCH
                                + Duration::from_secs(u64::try_from(st.st_mtime).unwrap_or(0));
                            SystemTime::now().duration_since(m).ok()
                        })
                        .is_some_and(|age| age > TEMP_STALE);
                    (
                        if old {
                            "temp file of an interrupted write".to_string()
                        } else {
                            "temp file being written now".to_string()
                        },
                        old,
                    )
                }
                r if r.len() > 1
                    && r.starts_with('.')
                    && r[1..].bytes().all(|b| b.is_ascii_digit()) =>
                {
                    match r[1..]
                        .parse::<i32>()
                        .map(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None))
                    {
                        Ok(Err(nix::errno::Errno::ESRCH)) => {
                            ("lock attempt of a dead process".to_string(), true)
                        }
                        _ => ("lock attempt of a running process".to_string(), false),
                    }
                }
                _ => continue,
            };
            let removed =
                clean && stale && unlinkat(&dir, ename, UnlinkatFlags::NoRemoveDir).is_ok();
            if removed {
                log::warn!("removed stale {display} ({what})");
            }
            out.push(Leftover {
                path: display,
                what,
                removed,
                stale,
            });
        }
    }
    out
}
