//! `qrescue disks`: the QNAP system partitions on this PC's disks (read-only), so an owner
//! who moved the NAS's disks to a PC (or booted a live USB beside them) sees what
//! `--disk auto` would work on before anything is assembled.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Error, Result};
use crate::offline::scan::{self, Scan};

/// Where the kernel lists block devices.
pub const SYS_CLASS_BLOCK: &str = "/sys/class/block";

/// Scan the PC's disks: every QNAP system RAID found, with the box's files read when they
/// can be read without writing. No system partition at all is exit 66.
pub fn find() -> Result<Scan> {
    if !crate::sys::proc::is_root() {
        return Err(Error::perm(
            "disks reads the disks' superblocks: run it as root (sudo qrescue disks)",
        ));
    }
    let devices = scan::block_devices(Path::new(SYS_CLASS_BLOCK))?;
    let mut found = scan::scan(&devices);
    scan::read_box_files(&mut found);
    Ok(found)
}

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

pub fn run(json: bool) -> Result<i32> {
    let found = find()?;
    if json {
        super::print_json(&found)?;
        return Ok(if found.arrays.is_empty() { 66 } else { 0 });
    }
    if found.arrays.is_empty() {
        return Err(none_found(&found));
    }
    let mut out = String::new();
    for a in &found.arrays {
        let members: Vec<String> = a
            .members
            .iter()
            .map(|m| format!("/dev/{}", m.device))
            .collect();
        let _ = writeln!(
            out,
            "QNAP system partition: {} (md array {}, metadata {}, {}{})",
            members.join(" "),
            a.uuid,
            a.metadata,
            a.filesystem,
            if a.needs_fsck { ", needs e2fsck" } else { "" }
        );
        let _ = writeln!(
            out,
            "  members present: {} of {}{}",
            a.members.len(),
            a.expected,
            if (a.members.len() as u32) < a.expected {
                " (the box's other disks are not attached: a change now reaches only these)"
            } else {
                ""
            }
        );
        if let Some(md) = a.assembled_as() {
            let _ = writeln!(out, "  already assembled by this PC as /dev/{md}");
        }
        if let Some(b) = &a.box_files {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
            let _ = writeln!(out, "  model:           {}", show(&b.model));
            let _ = writeln!(out, "  server name:     {}", show(&b.server_name));
            let _ = writeln!(out, "  firmware:        {}", show(&b.firmware));
            let _ = writeln!(
                out,
                "  admin password last changed: {}",
                show(&b.admin_password_changed)
            );
        }
        if let Some(note) = &a.note {
            let _ = writeln!(out, "  {note}");
        }
    }
    for o in &found.other {
        let _ = writeln!(out, "also found: /dev/{}: {}", o.device, o.found);
    }
    out.push_str("Next: qrescue --disk auto status   (then: qrescue --disk auto passwd)\n");
    super::print_text(&out)?;
    Ok(0)
}
