//! `qrescue info`: what the box is, each value with where it came from.
//!
//! Everything is read through the [`Root`] (so `--root DIR` describes DIR, never the host),
//! except `uname`, which describes the running kernel and is used only on the live system.
//! A value that cannot be found is `None` ("unknown") with the reason as its source: never
//! guessed.

use std::io::Read;

use serde::Serialize;

use crate::arch_table::{elf_machine, qpkg_arch};
use crate::error::Result;
use crate::formats::ini::{self, Ini};
use crate::stores::{Samba, Stores};
use crate::sys::root::Root;

/// QTS's main configuration file (persistent, on the system RAID).
pub const ULINUX_CONF: &str = "/etc/config/uLinux.conf";
/// The factory copy shipped in the firmware image (RAM root).
pub const DEFAULT_ULINUX_CONF: &str = "/etc/default_config/uLinux.conf";
/// The hardware description QTS ships in its RAM root: `[MISC] DISPLAY_NAME` is the name on
/// the box (uLinux.conf's `[System] Model` is an internal family name such as `TS-X85`).
pub const PLATFORM_CONF: &str = "/etc/platform.conf";

/// Files larger than this are not configuration files: not read.
const MAX_READ: u64 = 256 * 1024;

/// One value and where it came from; `value: None` is shown as "unknown".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fact {
    pub value: Option<String>,
    pub source: String,
}

impl Fact {
    pub fn known(value: impl Into<String>, source: impl Into<String>) -> Fact {
        Fact {
            value: Some(value.into()),
            source: source.into(),
        }
    }
    pub fn unknown(why: impl Into<String>) -> Fact {
        Fact {
            value: None,
            source: why.into(),
        }
    }
    /// The value, or `unknown`.
    pub fn shown(&self) -> &str {
        self.value.as_deref().unwrap_or("unknown")
    }
}

#[derive(Debug, Serialize)]
pub struct Firmware {
    pub name: Fact,
    pub version: Fact,
    pub build: Fact,
}

/// One network adapter with a hardware address.
#[derive(Clone, Debug, Serialize)]
pub struct Adapter {
    pub name: String,
    /// Upper case with colons, as the kernel shows it (`00:08:9B:F1:23:34`).
    pub mac: String,
    /// A software device (bridge, veth, bond…) rather than a port.
    #[serde(rename = "virtual")]
    pub is_virtual: bool,
    pub source: String,
}

/// One credential store as `info` shows it.
#[derive(Debug, Serialize)]
pub struct StoreInfo {
    pub kind: crate::stores::Kind,
    pub path: String,
    pub names: Vec<String>,
    /// `persistent` (system RAID / plain disk) or `runtime` (QTS RAM disk).
    pub copy: &'static str,
    /// `symlinked` (several names, one file), `copied` (another file of the same kind
    /// exists), or `single`.
    pub layout: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Info {
    pub root: String,
    pub qts: bool,
    pub model: Fact,
    /// uLinux.conf's `[System] Model`: QNAP's internal family name, not the name on the box.
    pub internal_model: Fact,
    pub server_name: Fact,
    pub firmware: Firmware,
    pub arch: Fact,
    pub qpkg_arch: Fact,
    pub kernel: Fact,
    pub adapters: Vec<Adapter>,
    /// Where adapters were looked for (and why there are none, if so).
    pub adapters_source: String,
    pub serial: Fact,
    pub stores: Vec<StoreInfo>,
    pub samba: Samba,
    /// Why no stores are listed, when discovery failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stores_note: Option<String>,
}

/// Read a small file inside the root: `Ok(None)` when it does not exist, `Err(reason)`
/// when it exists but cannot be read. Returns the text and the path as displayed.
pub fn read_text(
    root: &Root,
    logical: &str,
) -> std::result::Result<Option<(String, String)>, String> {
    let res = match root.try_resolve(logical) {
        Ok(Some(r)) if r.stat.is_some() => r,
        Ok(_) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let display = root.display(&res.real);
    if !res.is_file() {
        return Err(format!("{display}: not a regular file"));
    }
    let file = res
        .open_read()
        .map_err(|e| crate::error::Error::io(&display, e).to_string())?;
    let mut buf = Vec::new();
    file.take(MAX_READ)
        .read_to_end(&mut buf)
        .map_err(|e| crate::error::Error::io(&display, e).to_string())?;
    Ok(Some((String::from_utf8_lossy(&buf).into_owned(), display)))
}

/// A parsed INI file inside the root, with its displayed path.
fn read_ini(root: &Root, logical: &str) -> Option<(Ini, String)> {
    read_text(root, logical)
        .ok()
        .flatten()
        .map(|(t, d)| (ini::parse(&t), d))
}

/// First value of `[section] key` among the INI files, with its source.
fn ini_fact(files: &[(Ini, String)], section: &str, key: &str) -> Option<Fact> {
    files.iter().find_map(|(ini, display)| {
        ini.get_unquoted(section, key)
            .map(|v| Fact::known(v, format!("{display} [{section}] {key}")))
    })
}

/// Values DMI and device trees carry when the vendor filled in nothing.
const PLACEHOLDERS: &[&str] = &[
    "to be filled by o.e.m.",
    "default string",
    "not specified",
    "system serial number",
    "none",
    "0",
    "123456789",
];

/// The first of `paths` that exists with a real value (NULs and whitespace trimmed).
fn first_value(root: &Root, paths: &[&str]) -> Fact {
    let mut why = Vec::new();
    for p in paths {
        match read_text(root, p) {
            Ok(Some((text, display))) => {
                let v = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
                if v.is_empty() || PLACEHOLDERS.contains(&v.to_ascii_lowercase().as_str()) {
                    why.push(format!("{display}: placeholder value"));
                } else {
                    return Fact::known(v, display);
                }
            }
            Ok(None) => {}
            Err(e) => why.push(e),
        }
    }
    if why.is_empty() {
        Fact::unknown(format!("none of {} exists", paths.join(", ")))
    } else {
        Fact::unknown(why.join("; "))
    }
}

/// Network adapters with a hardware address: the root's `/sys/class/net` (live: the
/// kernel's), and when the root is not the running system also the addresses QTS records in
/// uLinux.conf (`[NetDevMonitor] ethN_mac`), so the MAC default is known offline too.
pub fn adapters(root: &Root) -> (Vec<Adapter>, String) {
    let (mut found, sys_source) = sys_adapters(root);
    if root.is_host() {
        return (found, sys_source);
    }
    let Some((conf, display)) = [ULINUX_CONF, DEFAULT_ULINUX_CONF]
        .iter()
        .find_map(|p| read_ini(root, p))
    else {
        return (found, sys_source);
    };
    let mut from_conf = conf_adapters(&conf, &display);
    from_conf.retain(|a| !found.iter().any(|f| f.name == a.name));
    if from_conf.is_empty() {
        return (found, sys_source);
    }
    found.extend(from_conf);
    found.sort_by(|a, b| a.name.cmp(&b.name));
    (found, format!("{sys_source}; {display} [NetDevMonitor]"))
}

/// `[NetDevMonitor] ethN_mac = 00:0c:29:56:17:5c` entries, as QTS writes them.
fn conf_adapters(conf: &Ini, display: &str) -> Vec<Adapter> {
    let mut out: Vec<Adapter> = Vec::new();
    for (section, entries) in &conf.sections {
        if !section.eq_ignore_ascii_case("NetDevMonitor") {
            continue;
        }
        for (key, value) in entries {
            let Some(name) = key.strip_suffix("_mac").filter(|n| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }) else {
                continue;
            };
            let mac = value.trim().to_ascii_uppercase();
            if !is_mac(&mac) || mac.bytes().all(|b| b == b'0' || b == b':') {
                continue;
            }
            out.retain(|a| a.name != name);
            out.push(Adapter {
                name: name.to_string(),
                mac,
                is_virtual: false,
                source: format!("{display} [NetDevMonitor] {key}"),
            });
        }
    }
    out
}

/// Network adapters with a hardware address under the root's `/sys/class/net` (live: the
/// kernel's), sorted by name; `lo` and all-zero addresses are left out.
fn sys_adapters(root: &Root) -> (Vec<Adapter>, String) {
    const NET: &str = "/sys/class/net";
    let (dir, real) = match root.open_dir(NET) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), format!("no adapters: {}", e)),
    };
    let net_display = root.display(&real);
    let Ok(listing) = crate::sys::dir::Dir::from(dir).into_entries() else {
        return (Vec::new(), format!("{net_display}: cannot be listed"));
    };
    let mut names: Vec<String> = listing
        .into_iter()
        .filter(|n| !n.starts_with('.') && n != "lo")
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let logical = format!("{NET}/{name}/address");
        let Ok(Some((text, display))) = read_text(root, &logical) else {
            continue;
        };
        let mac = text.trim().to_ascii_uppercase();
        if !is_mac(&mac) || mac.bytes().all(|b| b == b'0' || b == b':') {
            continue;
        }
        // The kernel links software devices into /sys/devices/virtual/net.
        let is_virtual = root
            .try_resolve(&format!("{NET}/{name}"))
            .ok()
            .flatten()
            .is_some_and(|r| r.real.to_string_lossy().contains("/devices/virtual/"));
        out.push(Adapter {
            name,
            mac,
            is_virtual,
            source: display,
        });
    }
    (out, net_display)
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// CPU architecture: `uname` on the live system, else the ELF header of the root's shell.
fn arch(root: &Root) -> (Fact, Fact, Fact) {
    if root.is_host() {
        let u = crate::sys::proc::uname();
        return match u {
            Ok(u) => {
                let machine = u.machine.clone();
                let qpkg = match qpkg_arch(&machine) {
                    Some(q) => Fact::known(q, format!("QDK name for {machine}")),
                    None => Fact::unknown(format!("no QNAP package arch for {machine}")),
                };
                let kernel = Fact::known(format!("{} {}", u.release, u.version), "uname");
                (Fact::known(machine, "uname"), qpkg, kernel)
            }
            Err(e) => {
                let why = format!("uname: {e}");
                (
                    Fact::unknown(&why),
                    Fact::unknown(&why),
                    Fact::unknown(&why),
                )
            }
        };
    }
    let kernel = Fact::unknown("offline root: uname describes the running kernel, not the root");
    for shell in ["/bin/busybox", "/bin/sh"] {
        let Ok(Some(res)) = root.try_resolve(shell) else {
            continue;
        };
        if !res.is_file() {
            continue;
        }
        let display = root.display(&res.real);
        let mut header = [0u8; 20];
        let Ok(mut f) = res.open_read() else { continue };
        if f.read_exact(&mut header).is_err() {
            continue;
        }
        let source = format!("ELF header of {display}");
        return match elf_machine(&header) {
            Some(m) => {
                let qpkg = match qpkg_arch(&m) {
                    Some(q) => Fact::known(q, format!("QDK name for {m}")),
                    None => Fact::unknown(format!("{m}: package arch depends on the CPU")),
                };
                (Fact::known(m, source), qpkg, kernel)
            }
            None => (
                Fact::unknown(format!("{source}: machine not recognised")),
                Fact::unknown("architecture unknown"),
                kernel,
            ),
        };
    }
    let why = "offline root: no /bin/busybox or /bin/sh to read the architecture from";
    (Fact::unknown(why), Fact::unknown(why), kernel)
}

/// QuTS hero runs ZFS: tools tell it from QTS by `zfs` in the running kernel's
/// `/proc/filesystems`. Offline that file describes the host, so the answer is unknown
/// (no source confirms a version-string marker, so none is guessed).
fn firmware_name(root: &Root, qts: bool, os_release: Option<&(Ini, String)>) -> Fact {
    if qts {
        if !root.is_host() {
            return Fact::unknown(
                "offline root: QTS or QuTS hero (told by zfs in the running kernel's /proc/filesystems)",
            );
        }
        return match std::fs::read_to_string("/proc/filesystems") {
            Ok(t)
                if t.lines()
                    .any(|l| l.split_whitespace().last() == Some("zfs")) =>
            {
                Fact::known("QuTS hero", "/proc/filesystems lists zfs")
            }
            Ok(_) => Fact::known("QTS", "/proc/filesystems has no zfs"),
            Err(e) => Fact::unknown(format!("/proc/filesystems: {e}")),
        };
    }
    os_release
        .and_then(|(ini, d)| {
            ini.get_unquoted("", "NAME")
                .map(|n| Fact::known(n, format!("{d} NAME")))
        })
        .unwrap_or_else(|| Fact::unknown("not QTS, and no /etc/os-release"))
}

/// Gather everything `info` shows (read-only).
pub fn gather(root: &Root) -> Result<Info> {
    // A root without credential files (a boot-flash config partition…) still has the rest.
    let (stores, stores_note) = match Stores::discover(root) {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let qts = match &stores {
        Some(s) => s.qts,
        None => crate::paths::is_qts(root)?,
    };
    let conf: Vec<(Ini, String)> = [ULINUX_CONF, DEFAULT_ULINUX_CONF]
        .iter()
        .filter_map(|p| read_ini(root, p))
        .collect();
    let os_release =
        read_ini(root, "/etc/os-release").or_else(|| read_ini(root, "/usr/lib/os-release"));
    let unknown_in = |what: &str| {
        Fact::unknown(if conf.is_empty() {
            format!("no {ULINUX_CONF} or {DEFAULT_ULINUX_CONF}")
        } else {
            format!("{what} not in {ULINUX_CONF} or {DEFAULT_ULINUX_CONF}")
        })
    };
    let platform: Vec<(Ini, String)> = read_ini(root, PLATFORM_CONF).into_iter().collect();
    let model = ini_fact(&platform, "MISC", "DISPLAY_NAME").unwrap_or_else(|| {
        let hw = first_value(
            root,
            &[
                "/sys/class/dmi/id/product_name",
                "/proc/device-tree/model",
                "/sys/firmware/devicetree/base/model",
            ],
        );
        if hw.value.is_some() {
            hw
        } else {
            Fact::unknown(format!(
                "no {PLATFORM_CONF} [MISC] DISPLAY_NAME, no DMI or device-tree model"
            ))
        }
    });
    let internal_model = ini_fact(&conf, "System", "Model")
        .or_else(|| ini_fact(&conf, "System", "Internal Model"))
        .unwrap_or_else(|| unknown_in("[System] Model"));
    // Version, Number and Build Number from one file (the persistent one first; the
    // firmware image's copy is QNAP's own fallback): QNAP writes 4.4.2.1320 build 20200529.
    let (version, build) = match conf
        .iter()
        .find(|(ini, _)| ini.get_unquoted("System", "Version").is_some())
    {
        Some((ini, display)) => {
            let v = ini.get_unquoted("System", "Version").expect("found");
            let version = match ini.get_unquoted("System", "Number") {
                Some(n) => Fact::known(
                    format!("{v}.{n}"),
                    format!("{display} [System] Version, Number"),
                ),
                None => Fact::known(v, format!("{display} [System] Version (no Number)")),
            };
            let build = ini
                .get_unquoted("System", "Build Number")
                .map(|b| Fact::known(b, format!("{display} [System] Build Number")))
                .unwrap_or_else(|| Fact::unknown(format!("no [System] Build Number in {display}")));
            (version, build)
        }
        None => (
            os_release
                .as_ref()
                .and_then(|(ini, d)| {
                    ini.get_unquoted("", "VERSION_ID")
                        .map(|v| Fact::known(v, format!("{d} VERSION_ID")))
                })
                .unwrap_or_else(|| unknown_in("[System] Version")),
            unknown_in("[System] Build Number"),
        ),
    };
    let server_name = ini_fact(&conf, "System", "Server Name").unwrap_or_else(|| {
        match read_text(root, "/etc/hostname") {
            Ok(Some((t, d))) if !t.trim().is_empty() => Fact::known(t.trim(), d),
            _ => unknown_in("[System] Server Name"),
        }
    });
    let name = firmware_name(root, qts, os_release.as_ref());
    let (arch, qpkg_arch, kernel) = arch(root);
    let (adapters, adapters_source) = adapters(root);
    let serial = first_value(
        root,
        &[
            "/sys/class/dmi/id/product_serial",
            "/proc/device-tree/serial-number",
            "/sys/firmware/devicetree/base/serial-number",
        ],
    );
    let store_list = stores
        .iter()
        .flat_map(|stores| stores.files.iter().map(move |f| (stores, f)))
        .map(|(stores, f)| StoreInfo {
            kind: f.kind,
            path: f.display.clone(),
            names: f.names.clone(),
            copy: if f.persistent {
                "persistent"
            } else {
                "runtime"
            },
            layout: if f.names.len() > 1 {
                "symlinked"
            } else if stores.of(f.kind).count() > 1 {
                "copied"
            } else {
                "single"
            },
        })
        .collect();
    Ok(Info {
        root: root.path().display().to_string(),
        qts,
        model,
        internal_model,
        server_name,
        firmware: Firmware {
            name,
            version,
            build,
        },
        arch,
        qpkg_arch,
        kernel,
        adapters,
        adapters_source,
        serial,
        stores: store_list,
        samba: stores.map_or(Samba::None, |s| s.samba),
        stores_note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert!(is_mac("00:08:9B:F1:23:34"));
        assert!(!is_mac("00:08:9B:F1:23"));
        assert!(!is_mac("00-08-9B-F1-23-34"));
    }
}
