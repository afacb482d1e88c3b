//! The system RAID through the real `mdadm`, run with a fixed argv (no shell): assembling
//! (degraded with `--run` when a disk is missing), switching an array the PC already runs
//! between read-only and read-write, stopping it. Writes go only through md: writing one
//! member behind md's back would leave the RAID-1 copies silently different.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// Where mdadm is looked for besides `$PATH` (live systems keep it in sbin).
const SBIN: &[&str] = &["/usr/sbin", "/sbin", "/usr/local/sbin"];

/// The `mdadm` executable, or exit 69 naming the package.
pub fn find_mdadm() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN.iter().map(PathBuf::from))
        .map(|d| d.join("mdadm"))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| {
            Error::unavailable(
                "--disk needs mdadm, which is not installed: install the mdadm package \
                 (Debian/Ubuntu: apt-get install mdadm; Fedora: dnf install mdadm) and run again",
            )
        })
}

/// Run mdadm with `args`; its first error line on failure.
fn mdadm(exe: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::io(exe.display(), e))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    Err(Error::failed(format!(
        "mdadm {}: {}",
        args.join(" "),
        line.trim()
    )))
}

/// `/sys/block/mdX/md/<attr>`, trimmed.
pub fn md_attr(md: &str, attr: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/block/{md}/md/{attr}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Whether md runs the array read-only (`readonly`, or `read-auto`: read-only until the
/// first write, as the PC's auto-assembly leaves it).
pub fn is_read_only(md: &str) -> bool {
    matches!(
        md_attr(md, "array_state").as_deref(),
        Some("readonly" | "read-auto")
    )
}

/// A free md device number (none of /sys/block/mdN exists), from md100 up.
fn free_md() -> Result<String> {
    (100..127)
        .map(|n| format!("md{n}"))
        .find(|m| !Path::new("/sys/block").join(m).exists())
        .ok_or_else(|| Error::busy("no free md device (md100 to md126 are all in use)"))
}

/// Assemble the array from `members` (device nodes), read-only or read-write, degraded if
/// members are missing; returns its kernel name (`md100`).
pub fn assemble(exe: &Path, members: &[PathBuf], read_only: bool) -> Result<String> {
    let md = free_md()?;
    let node = format!("/dev/{md}");
    let mut args: Vec<&str> = vec!["--assemble", &node, "--run"];
    if read_only {
        args.push("--readonly");
    }
    let member_strs: Vec<String> = members
        .iter()
        .map(|m| m.to_string_lossy().into_owned())
        .collect();
    args.extend(member_strs.iter().map(String::as_str));
    mdadm(exe, &args)?;
    Ok(md)
}

pub fn set_read_write(exe: &Path, md: &str) -> Result<()> {
    mdadm(exe, &["--readwrite", &format!("/dev/{md}")])
}

pub fn set_read_only(exe: &Path, md: &str) -> Result<()> {
    mdadm(exe, &["--readonly", &format!("/dev/{md}")])
}

/// Stop the array, retrying for up to 10 s while the kernel still finishes releasing it
/// (a killed child's mount is torn down with its namespace).
pub fn stop(exe: &Path, md: &str) -> Result<()> {
    let node = format!("/dev/{md}");
    let mut last = Ok(());
    for _ in 0..50 {
        last = mdadm(exe, &["--stop", &node]);
        if last.is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    last
}

/// Where the md device is mounted on this PC (the initial mount namespace's view and this
/// process's), if anywhere.
pub fn mounted_at(md: &str) -> Option<String> {
    let dev = std::fs::read_to_string(format!("/sys/block/{md}/dev")).ok()?;
    let dev = dev.trim();
    for table in ["/proc/1/mountinfo", "/proc/self/mountinfo"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() > 4 && f[2] == dev {
                return Some(f[4].replace("\\040", " "));
            }
        }
    }
    None
}
