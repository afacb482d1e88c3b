//! `--disk DEV`: run one command on the NAS's system partition from a PC. The members are
//! found by their superblocks, the RAID is assembled with mdadm (read-only for reading
//! commands, read-write only for `passwd`, `restore`, `backup`), the filesystem is mounted
//! in a child process's private mount namespace at a fresh temporary directory, the command
//! runs exactly as `--root` would run it there, and then the partition is unmounted and
//! synced, the array stopped and the mount point removed — also when the command fails or
//! the child is interrupted or killed (the mount dies with the child's namespace; the parent
//! does the rest). An array the PC already assembled is used as it is.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::assemble;
use super::scan::{self, Scan, SystemArray};
use super::superblock;
use crate::error::{Error, Result};
use crate::sys::mountns::{self, MountPoint};
use crate::sys::root::Root;
use crate::sys::supervise::{self, Ended};

/// One progress line on stderr with the phase's duration.
fn phase(what: &str, since: Instant) {
    crate::escape::advise(&format!(
        "qrescue: {what} ({:.2} s)",
        since.elapsed().as_secs_f64()
    ));
}

/// The array the `--disk` arguments name, and the member devices of it to use.
fn select(found: &Scan, disks: &[String]) -> Result<(SystemArray, Vec<PathBuf>)> {
    let list = |s: &Scan| -> Vec<String> { s.arrays.iter().map(|a| a.uuid.clone()).collect() };
    if disks.iter().any(|d| d == "auto") {
        if disks.len() > 1 {
            return Err(Error::usage("--disk auto takes no other --disk"));
        }
        return match found.arrays.as_slice() {
            [] => Err(scan::none_found(found)),
            [a] => Ok((
                a.clone(),
                a.members.iter().map(|m| m.node.clone()).collect(),
            )),
            _ => Err(Error::usage(format!(
                "{} QNAP system RAIDs on this PC ({}): name the disks of one with --disk",
                found.arrays.len(),
                list(found).join(", ")
            ))),
        };
    }
    let mut chosen: Option<&SystemArray> = None;
    let mut nodes = Vec::new();
    for d in disks {
        let real = std::fs::canonicalize(d).map_err(|e| Error::io(d, e))?;
        let name = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hit = found.arrays.iter().find_map(|a| {
            let ms: Vec<PathBuf> = a
                .members
                .iter()
                .filter(|m| m.device == name || m.disk.as_deref() == Some(name.as_str()))
                .map(|m| m.node.clone())
                .collect();
            (!ms.is_empty()).then_some((a, ms))
        });
        let Some((a, ms)) = hit else {
            let other = found
                .other
                .iter()
                .filter(|o| o.device == name || o.device.starts_with(&name))
                .map(|o| format!("{}: {}", o.device, o.found))
                .collect::<Vec<_>>();
            return Err(Error::no_input(format!(
                "{d} holds no QNAP system partition (an md RAID-1 member, metadata 1.0 or 0.90, \
                 with ext3 and .config/){}; nothing was changed",
                if other.is_empty() {
                    String::new()
                } else {
                    format!(" — found {}", other.join("; "))
                }
            )));
        };
        if chosen.is_some_and(|c| c.uuid != a.uuid) {
            return Err(Error::usage(
                "the --disk devices belong to different QNAP system RAIDs: name one box's disks",
            ));
        }
        chosen = Some(a);
        for m in ms {
            if !nodes.contains(&m) {
                nodes.push(m);
            }
        }
    }
    let a = chosen.ok_or_else(|| Error::usage("--disk needs a device or auto"))?;
    Ok((a.clone(), nodes))
}

/// What the parent must undo at the end.
struct Held {
    md: String,
    /// Assembled by this run: stop it at the end.
    ours: bool,
    /// An array the PC runs read-only, switched to read-write for this run: switch back.
    switched: bool,
}

/// Run `command` (given the root to work in) on the system partition the `--disk`
/// arguments name; `write` for the commands that change it.
pub fn run_on_disks(
    disks: &[String],
    write: bool,
    command: impl FnOnce(Root) -> Result<i32>,
) -> Result<i32> {
    if !crate::sys::proc::is_root() {
        return Err(Error::perm(
            "--disk assembles and mounts the NAS's system RAID: run it as root (sudo)",
        ));
    }
    let exe = assemble::find_mdadm()?;
    let devices = scan::block_devices(Path::new(scan::SYS_CLASS_BLOCK))?;
    let found = scan::scan(&devices);
    let (array, members) = select(&found, disks)?;
    // From here on SIGINT/SIGTERM/SIGHUP do not end qrescue before it has released the array.
    let deferred = supervise::Deferred::install();
    let held = take_array(&exe, &array, &members, write)?;
    let result = match deferred.pending() {
        Some(sig) => Err(interrupted(sig)),
        None => mount_and_run(&deferred, &held, &array, write, command),
    };
    let released = release(&exe, &held);
    match (result, released) {
        (Ok(code), Ok(())) => Ok(code),
        (Err(e), Ok(())) | (Ok(_), Err(e)) => Err(e),
        (Err(e), Err(r)) => Err(e.followed_by(format!("and releasing the array failed: {r}"))),
    }
}

fn interrupted(sig: crate::sys::signal::Signal) -> Error {
    Error::failed(format!(
        "interrupted by {sig}; the array is released (an interrupted change is completed \
             or rolled back by the next run)"
    ))
}

fn take_array(exe: &Path, array: &SystemArray, members: &[PathBuf], write: bool) -> Result<Held> {
    let names: Vec<String> = members
        .iter()
        .map(|m| {
            m.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    if let Some(md) = array.assembled_as() {
        let state = assemble::md_attr(md, "array_state").unwrap_or_default();
        if state == "inactive" || state == "clear" {
            return Err(Error::usage(format!(
                "/dev/{md} (this system RAID) is only partly assembled ({state}): stop it with \
                 `mdadm --stop /dev/{md}` and run again; nothing was changed"
            )));
        }
        if let Some(at) = assemble::mounted_at(md) {
            return Err(Error::busy(format!(
                "/dev/{md} (this system RAID) is mounted at {at}: unmount it, or use \
                 `qrescue --root {at}`; nothing was changed"
            )));
        }
        let mut held = Held {
            md: md.to_string(),
            ours: false,
            switched: false,
        };
        check_health(&held.md, array, write)?;
        if write && assemble::is_read_only(md) {
            let t = Instant::now();
            assemble::set_read_write(exe, md)?;
            held.switched = true;
            phase(
                &format!("switched /dev/{md} (already assembled) to read-write"),
                t,
            );
        } else {
            crate::escape::advise(&format!(
                "qrescue: using /dev/{md}, which this PC had already assembled"
            ));
        }
        return Ok(held);
    }
    if write && array.unclean {
        return Err(Error::usage(format!(
            "the system RAID on {} was not shut down cleanly: not writing (read commands still \
             work); put the disks back in the NAS and let it resync, or check it with \
             `mdadm --assemble --run` and `e2fsck`; nothing was changed",
            names.join(", ")
        )));
    }
    let t = Instant::now();
    let md = assemble::assemble(exe, members, !write)?;
    phase(
        &format!(
            "assembled /dev/{md} from {} ({} of {} members, {})",
            names.join(", "),
            members.len(),
            array.expected,
            if write { "read-write" } else { "read-only" }
        ),
        t,
    );
    let held = Held {
        md,
        ours: true,
        switched: false,
    };
    if let Err(e) = check_health(&held.md, array, write) {
        let _ = release(exe, &held);
        return Err(e);
    }
    Ok(held)
}

/// A running array with its filesystem in order; a filesystem that needs e2fsck is only
/// refused for writing.
fn check_health(md: &str, array: &SystemArray, write: bool) -> Result<()> {
    let degraded: u32 = assemble::md_attr(md, "degraded")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let slots: u32 = assemble::md_attr(md, "raid_disks")
        .and_then(|s| s.parse().ok())
        .unwrap_or(array.slots);
    if slots > 0 && degraded >= slots {
        return Err(Error::failed(format!(
            "/dev/{md} has no working member; nothing was changed"
        )));
    }
    let node = PathBuf::from(format!("/dev/{md}"));
    let file = std::fs::File::open(&node).map_err(|e| Error::io(node.display(), e))?;
    let fs = superblock::read_ext(&file, 0)
        .map_err(|e| Error::io(node.display(), e))?
        .ok_or_else(|| Error::data(format!("/dev/{md}: no ext2/3/4 filesystem")))?;
    if write && fs.needs_fsck {
        return Err(Error::data(format!(
            "the filesystem on /dev/{md} needs checking (errors recorded): \
             not writing (read commands still work); run `e2fsck -f /dev/{md}` first, or put \
             the disks back and let the NAS check it; nothing was changed"
        )));
    }
    Ok(())
}

fn mount_and_run(
    deferred: &supervise::Deferred,
    held: &Held,
    array: &SystemArray,
    write: bool,
    command: impl FnOnce(Root) -> Result<i32>,
) -> Result<i32> {
    let mp = MountPoint::new("qrescue-md-")?;
    let node = PathBuf::from(format!("/dev/{}", held.md));
    let at = mp.path().to_path_buf();
    let fstype = array.filesystem;
    let ended = supervise::run_in_child(deferred, || {
        let outcome = (|| -> Result<i32> {
            mountns::enter_private_namespace()?;
            let t = Instant::now();
            mountns::mount_dev(&node, &at, fstype, !write)?;
            phase(
                &format!(
                    "mounted /dev/{} {} at {} (private to qrescue)",
                    held.md,
                    if write { "read-write" } else { "read-only" },
                    at.display()
                ),
                t,
            );
            let run = (|| {
                if super::layout::detect(&at)? != super::layout::Layout::SystemPartition {
                    return Err(Error::no_input(format!(
                        "/dev/{} holds no .config/ with passwd or shadow: not a QNAP system \
                         partition; nothing was changed",
                        held.md
                    )));
                }
                let t = Instant::now();
                let root =
                    Root::open_system_partition(&at)?.with_label(format!("/dev/{}", held.md));
                let code = command(root);
                phase("command finished", t);
                code
            })();
            let t = Instant::now();
            let unmounted = mountns::sync_and_unmount(&at);
            phase("synced and unmounted", t);
            let code = run?;
            unmounted?;
            Ok(code)
        })();
        match outcome {
            Ok(code) => code,
            Err(e) => {
                crate::escape::advise(&format!("qrescue: {e}"));
                e.exit().code()
            }
        }
    })?;
    drop(mp);
    match ended {
        Ended::Exited(code) => Ok(code),
        Ended::Killed(sig) => Err(interrupted(sig)),
    }
}

fn release(exe: &Path, held: &Held) -> Result<()> {
    crate::sys::fs::sync_all_filesystems();
    let t = Instant::now();
    if held.ours {
        assemble::stop(exe, &held.md)?;
        phase(&format!("stopped /dev/{}", held.md), t);
    } else if held.switched {
        assemble::set_read_only(exe, &held.md)?;
        phase(&format!("switched /dev/{} back to read-only", held.md), t);
    }
    Ok(())
}
