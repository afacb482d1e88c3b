//! The QNAP system partitions among this PC's block devices (`qrescue disks`), found
//! read-only: every device in `/sys/class/block` is opened for reading only and its md
//! superblock, filesystem signature and (for a candidate) the files of its freshest member
//! are looked at. Nothing is assembled and nothing is written.
//!
//! Reading the box's files: for metadata 1.0/0.90 the filesystem starts at offset 0 of each
//! member, so one member is attached to a read-only loop device and mounted `ro,noload` in a
//! private mount namespace. That was chosen over `mdadm --assemble --readonly` because it
//! creates no array the PC (udev, auto-assembly) could then act on, needs no teardown of md
//! state, works when the PC has already assembled the array, and the block layer itself
//! refuses writes to a loop device over a read-only descriptor; `noload` keeps ext3 from
//! replaying its journal. The member read is the one with the highest event count.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::superblock::{self, ExtFs, MdMember};
use crate::error::{Error, Result};
use crate::sys::root::Root;

/// One block device as sysfs describes it.
#[derive(Clone, Debug)]
pub struct BlockDev {
    /// Kernel name (`sda1`).
    pub name: String,
    /// Device node (`/dev/sda1`).
    pub node: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// The whole disk it belongs to (`sda`), when it is a partition.
    pub disk: Option<String>,
    /// Arrays (or other devices) built on it (`md127`).
    pub holders: Vec<String>,
}

/// Every block device except the ones that cannot hold a NAS disk's partition (RAM disks,
/// optical drives, md and device-mapper devices themselves).
pub fn block_devices(sys_class_block: &Path) -> Result<Vec<BlockDev>> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(sys_class_block).map_err(|e| Error::io(sys_class_block.display(), e))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if ["ram", "zram", "sr", "md", "dm-", "nbd"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            continue;
        }
        let dir = sys_class_block.join(&name);
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
        let Some(size) = read("size").and_then(|s| s.trim().parse::<u64>().ok()) else {
            continue;
        };
        if size == 0 {
            continue;
        }
        let partition = read("partition").and_then(|s| s.trim().parse::<u32>().ok());
        let disk = partition.and(std::fs::canonicalize(&dir).ok().and_then(|p| {
            p.parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        }));
        let holders = std::fs::read_dir(dir.join("holders"))
            .map(|d| {
                d.flatten()
                    .map(|h| h.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.push(BlockDev {
            node: PathBuf::from("/dev").join(name.replace('!', "/")),
            name,
            size: size * 512,
            disk,
            holders,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// One member of a QNAP system RAID as found on a device.
#[derive(Clone, Debug, Serialize)]
pub struct Member {
    pub device: String,
    #[serde(skip)]
    pub node: PathBuf,
    /// The whole disk it is on.
    pub disk: Option<String>,
    pub events: u64,
    /// The md device the PC already runs it in (`md127`), if any.
    pub assembled_as: Option<String>,
    #[serde(skip)]
    pub md: MdMember,
}

/// What the box's own files say (read from a read-only mount of the freshest member).
#[derive(Clone, Debug, Default, Serialize)]
pub struct BoxFiles {
    pub model: Option<String>,
    pub server_name: Option<String>,
    pub firmware: Option<String>,
    /// The day admin's password was last changed (shadow field 3), `YYYY-MM-DD`.
    pub admin_password_changed: Option<String>,
}

/// One QNAP system RAID: its members on this PC and what it holds.
#[derive(Clone, Debug, Serialize)]
pub struct SystemArray {
    pub uuid: String,
    pub metadata: &'static str,
    pub name: String,
    /// Members attached to this PC.
    pub members: Vec<Member>,
    /// How many members are attached (`members.len()`).
    pub present: usize,
    /// Members the freshest superblock counts as active (the box's disks).
    pub expected: u32,
    /// Slots in the array (QNAP makes more than it has disks: missing slots are normal).
    pub slots: u32,
    pub filesystem: &'static str,
    /// The filesystem needs e2fsck (journal to replay or errors recorded).
    pub needs_fsck: bool,
    /// The freshest superblock says the array was not shut down cleanly.
    pub unclean: bool,
    /// The box's files, when they could be read without writing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub box_files: Option<BoxFiles>,
    /// Why the box's files were not read, or what was missing in them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether `.config/` with a passwd or shadow file was seen (false: not checked).
    pub verified: bool,
}

impl SystemArray {
    /// The member with the highest event count (the freshest copy).
    pub fn freshest(&self) -> &Member {
        self.members
            .iter()
            .max_by_key(|m| m.events)
            .expect("an array has a member")
    }
    /// The md device the PC already runs it as, if any.
    pub fn assembled_as(&self) -> Option<&str> {
        self.members.iter().find_map(|m| m.assembled_as.as_deref())
    }
}

/// Something found that is not a QNAP system partition qrescue supports, said plainly.
#[derive(Clone, Debug, Serialize)]
pub struct Other {
    pub device: String,
    pub found: String,
}

/// Everything `disks` found.
#[derive(Debug, Default, Serialize)]
pub struct Scan {
    pub arrays: Vec<SystemArray>,
    pub other: Vec<Other>,
}

/// Where the kernel lists block devices.
pub const SYS_CLASS_BLOCK: &str = "/sys/class/block";

/// The exit-66 error when no QNAP system partition was found, naming what was.
pub fn none_found(found: &Scan) -> Error {
    let mut msg = format!(
        "no QNAP system partition on this PC's disks (looked at every block device in \
         {SYS_CLASS_BLOCK} for an md RAID-1 member, metadata 1.0 or 0.90, holding ext3 with \
         .config/; attach the NAS's disks, or see README \"Locked out? Start here\")"
    );
    if !found.other.is_empty() {
        msg.push_str("; found ");
        let list: Vec<String> = found
            .other
            .iter()
            .map(|o| format!("{}: {}", o.device, o.found))
            .collect();
        msg.push_str(&list.join("; "));
    }
    Error::no_input(msg)
}

/// Look at every block device (read-only).
pub fn scan(devices: &[BlockDev]) -> Scan {
    let mut groups: BTreeMap<String, Vec<(Member, Option<ExtFs>)>> = BTreeMap::new();
    let mut result = Scan::default();
    for dev in devices {
        let Ok(file) = File::open(&dev.node) else {
            continue;
        };
        let md = superblock::read_md(&file, dev.size).ok().flatten();
        let Some(md) = md else {
            if superblock::is_zfs(&file, 0, dev.size).unwrap_or(false) {
                result.other.push(Other {
                    device: dev.name.clone(),
                    found: "a ZFS pool member (QuTS hero?): not supported yet".into(),
                });
            }
            continue;
        };
        let fs = superblock::read_ext(&file, md.data_offset).ok().flatten();
        if md.level != 1 || fs.is_none() {
            let what = match (md.level, &fs) {
                (1, None)
                    if superblock::is_zfs(&file, md.data_offset, dev.size).unwrap_or(false) =>
                {
                    "ZFS".to_string()
                }
                (1, None) => "no ext2/3/4 filesystem".to_string(),
                (l, _) => format!("RAID level {l}"),
            };
            result.other.push(Other {
                device: dev.name.clone(),
                found: format!(
                    "an md member (metadata {}, array {}) with {what}: not a QNAP system partition",
                    md.metadata, md.uuid
                ),
            });
            continue;
        }
        let assembled_as = dev.holders.iter().find(|h| h.starts_with("md")).cloned();
        groups.entry(md.uuid.clone()).or_default().push((
            Member {
                device: dev.name.clone(),
                node: dev.node.clone(),
                disk: dev.disk.clone(),
                events: md.events,
                assembled_as,
                md,
            },
            fs,
        ));
    }
    for (uuid, members) in groups {
        let (fresh_md, fresh_fs) = members
            .iter()
            .max_by_key(|(m, _)| m.events)
            .map(|(m, fs)| (m.md.clone(), fs.clone().expect("checked above")))
            .expect("a group has a member");
        result.arrays.push(SystemArray {
            uuid,
            metadata: fresh_md.metadata,
            name: fresh_md.name.clone(),
            expected: fresh_md.active.max(1),
            slots: fresh_md.raid_disks,
            filesystem: fresh_fs.kind,
            needs_fsck: fresh_fs.needs_fsck,
            unclean: !fresh_md.clean,
            present: members.len(),
            members: members.into_iter().map(|(m, _)| m).collect(),
            box_files: None,
            note: None,
            verified: false,
        });
    }
    result
}

/// Mount the freshest member of each array read-only (loop, `ro,noload`, private mount
/// namespace) and read the box's files; arrays without `.config/` stores are dropped and
/// reported in `other`. Needs root; without it the arrays stay, unverified, with a note.
pub fn read_box_files(scan: &mut Scan) {
    let arrays = std::mem::take(&mut scan.arrays);
    let mut in_namespace = None;
    for mut a in arrays {
        let ns = in_namespace
            .get_or_insert_with(crate::sys::mountns::enter_private_namespace)
            .as_ref()
            .map_err(|e| e.to_string());
        let outcome = match ns {
            Ok(()) => look_inside(&a),
            Err(e) => Err(e.clone()),
        };
        match outcome {
            Ok(Some(files)) => {
                a.box_files = Some(files);
                a.verified = true;
                scan.arrays.push(a);
            }
            Ok(None) => scan.other.push(Other {
                device: a
                    .members
                    .iter()
                    .map(|m| m.device.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                found: format!(
                    "an md RAID-1 (metadata {}, array {}) with {} but no .config/ with passwd or shadow: not a QNAP system partition",
                    a.metadata, a.uuid, a.filesystem
                ),
            }),
            Err(why) => {
                a.note = Some(format!("contents not read: {why}"));
                scan.arrays.push(a);
            }
        }
    }
}

fn look_inside(a: &SystemArray) -> std::result::Result<Option<BoxFiles>, String> {
    let member = a.freshest();
    let lo = crate::sys::loopdev::ReadOnlyLoop::attach(&member.node).map_err(|e| e.to_string())?;
    let dir = crate::sys::mountns::MountPoint::new("qrescue-look-").map_err(|e| e.to_string())?;
    crate::sys::mountns::mount_dev(&lo.path, dir.path(), a.filesystem, true)
        .map_err(|e| e.to_string())?;
    let files = read_partition(dir.path());
    let unmounted = crate::sys::mountns::sync_and_unmount(dir.path());
    drop(lo);
    unmounted.map_err(|e| e.to_string())?;
    files
}

/// The box's files on a mounted system partition; `None` when it has no `.config` stores.
pub fn read_partition(dir: &Path) -> std::result::Result<Option<BoxFiles>, String> {
    if super::layout::detect(dir).map_err(|e| e.to_string())?
        != super::layout::Layout::SystemPartition
    {
        return Ok(None);
    }
    let root = Root::open_system_partition(dir).map_err(|e| e.to_string())?;
    let info = crate::info::gather(&root).map_err(|e| e.to_string())?;
    let firmware = match (&info.firmware.version.value, &info.firmware.build.value) {
        (Some(v), Some(b)) => Some(format!("{v} build {b}")),
        (Some(v), None) => Some(v.clone()),
        _ => None,
    };
    let changed = crate::info::read_text(&root, "/etc/config/shadow")
        .ok()
        .flatten()
        .and_then(|(text, _)| {
            text.lines()
                .find(|l| l.starts_with("admin:"))
                .and_then(|l| l.split(':').nth(2).map(str::to_string))
        })
        .and_then(|d| d.trim().parse::<u64>().ok())
        .map(crate::clock::date_of_day);
    // The name on the box is in the firmware's /etc/platform.conf, not on the disks: offline
    // the internal family name from uLinux.conf is what there is, and is said to be that.
    let model = info.model.value.or_else(|| {
        info.internal_model
            .value
            .map(|m| format!("{m} (internal model name)"))
    });
    Ok(Some(BoxFiles {
        model,
        server_name: info.server_name.value,
        firmware,
        admin_password_changed: changed,
    }))
}
