//! Well-known locations inside a root.

use crate::error::Result;
use crate::sys::root::Root;

/// QTS's persistent configuration directory (a symlink to `/mnt/HDA_ROOT/.config`, md9).
pub const QTS_CONFIG: &str = "/etc/config";

/// Whether the root looks like QTS: `/etc/config` resolves to a directory. Only "not there"
/// means no: any other error is reported, never taken as an answer.
pub fn is_qts(root: &Root) -> Result<bool> {
    match root.try_resolve(QTS_CONFIG)? {
        Some(r) if r.is_dir() => {
            // Open it now, so an I/O error is reported rather than taken as "not QTS".
            root.open_dir(QTS_CONFIG)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// qrescue's own persistent state directory (backups, button journal, transaction log):
/// `/etc/config/qrescue` on QTS (survives reboots and firmware updates), otherwise
/// `/var/lib/qrescue`.
pub fn state_dir(root: &Root) -> Result<&'static str> {
    Ok(if is_qts(root)? {
        "/etc/config/qrescue"
    } else {
        "/var/lib/qrescue"
    })
}
