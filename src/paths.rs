//! Well-known locations inside a root.

use crate::sys::root::Root;

/// QTS's persistent configuration directory (a symlink to `/mnt/HDA_ROOT/.config`, md9).
pub const QTS_CONFIG: &str = "/etc/config";

/// Whether the root looks like QTS: `/etc/config` resolves to a directory.
pub fn is_qts(root: &Root) -> bool {
    root.open_dir(QTS_CONFIG).is_ok()
}

/// qrescue's own persistent state directory (backups, button journal, transaction log):
/// `/etc/config/qrescue` on QTS (survives reboots and firmware updates), otherwise
/// `/var/lib/qrescue`.
pub fn state_dir(root: &Root) -> &'static str {
    if is_qts(root) {
        "/etc/config/qrescue"
    } else {
        "/var/lib/qrescue"
    }
}
