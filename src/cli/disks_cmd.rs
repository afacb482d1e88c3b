//! `qrescue disks`: the QNAP system partitions on this PC's disks (read-only), so an owner
//! who moved the NAS's disks to a PC (or booted a live USB beside them) sees what
//! `--disk auto` would work on before anything is assembled.

use std::path::Path;

use serde::Serialize;

use super::output::{Outcome, Report, Text};
use super::vocab::{day_ms, time_ms};
use crate::error::{Error, Result};
use crate::offline::scan::{self, SYS_CLASS_BLOCK, Scan, none_found};

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

/// `disks`' document: `scan::Scan`, with `box_files.admin_password_changed` as a time
/// (midnight UTC of the day) and `admin_password_changed_unix_ms` beside it.
pub struct DisksReport {
    found: Scan,
}

impl Serialize for DisksReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut v = serde_json::to_value(&self.found).map_err(serde::ser::Error::custom)?;
        if let Some(arrays) = v.get_mut("arrays").and_then(|a| a.as_array_mut()) {
            for a in arrays {
                if let Some(a) = a.as_object_mut() {
                    for key in ["box_files", "note"] {
                        a.entry(key).or_insert(serde_json::Value::Null);
                    }
                }
                if let Some(b) = a.get_mut("box_files").and_then(|b| b.as_object_mut()) {
                    let ms = b
                        .get("admin_password_changed")
                        .and_then(|d| d.as_str())
                        .and_then(day_ms);
                    b.insert("admin_password_changed".into(), ms.map(time_ms).into());
                    b.insert("admin_password_changed_unix_ms".into(), ms.into());
                }
            }
        }
        v.serialize(s)
    }
}

pub fn run(json: bool) -> Result<Outcome> {
    let found = find()?;
    if found.arrays.is_empty() {
        if json {
            return Ok(Outcome::code(DisksReport { found }, 66));
        }
        return Err(none_found(&found));
    }
    Ok(Outcome::ok(DisksReport { found }))
}

impl Report for DisksReport {
    fn render_text(&self, out: &mut Text) {
        let found = &self.found;
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
        let _ = writeln!(
            out,
            "Next: qrescue --disk auto status   (then: qrescue --disk auto passwd)"
        );
    }
}
