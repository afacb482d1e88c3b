//! What a `--root` directory is. QTS mounts its system partition (partition 1 of every disk,
//! an md RAID-1) at `/mnt/HDA_ROOT` and points `/etc/config` to its `.config/`: an owner who
//! mounts that partition on a PC and passes it as `--root` has `.config/passwd` but no
//! `etc/passwd`. Recognising it, rather than failing with "no passwd file", is what makes the
//! offline route work; a directory with no store at all gets the recipe, not "malformed".

use std::path::Path;

use crate::error::Result;
use crate::sys::root::Root;

/// The directory QTS keeps its persistent configuration in, at the top of the partition.
pub const CONFIG_DIR: &str = ".config";

/// What a `--root` directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A system root (`etc/passwd`, or `etc/config` on QTS), or nothing recognisable (the
    /// store discovery then says what it looked for).
    SystemRoot,
    /// A mounted QNAP system partition: `.config/` with `passwd` or `shadow`, no `etc/passwd`.
    SystemPartition,
}

/// Look at `dir` (resolving inside it, never outside) and say which layout it has.
pub fn detect(dir: &Path) -> Result<Layout> {
    let root = Root::open(dir)?;
    let exists =
        |p: &str| -> Result<bool> { Ok(root.try_resolve(p)?.is_some_and(|r| r.stat.is_some())) };
    if exists("/etc/passwd")? {
        return Ok(Layout::SystemRoot);
    }
    let config_is_dir = root.try_resolve("/.config")?.is_some_and(|r| r.is_dir());
    if config_is_dir && (exists("/.config/passwd")? || exists("/.config/shadow")?) {
        return Ok(Layout::SystemPartition);
    }
    Ok(Layout::SystemRoot)
}

/// Open `dir` as the root its layout calls for; a system partition is said once on stderr.
pub fn open_root(dir: &Path) -> Result<Root> {
    match detect(dir)? {
        Layout::SystemRoot => Root::open(dir),
        Layout::SystemPartition => {
            crate::escape::advise(&format!(
                "qrescue: {} is a QNAP system partition: using {}",
                dir.display(),
                dir.join(CONFIG_DIR).display()
            ));
            Root::open_system_partition(dir)
        }
    }
}
