//! `qrescue info`: model, firmware, architecture, kernel, adapters, serial number and the
//! credential stores, each value with its source. Read-only; needs no privileges.

use crate::context::Context;
use crate::error::Result;
use crate::info::{self, Fact, Info};
use crate::stores::Samba;

/// `key:` padded so the values line up.
fn key(k: &str) -> String {
    format!("{:<15}", format!("{k}:"))
}

fn fact(k: &str, fact: &Fact) -> String {
    format!("{} {}  ({})", key(k), fact.shown(), fact.source)
}

/// `4.4.2.1320 build 20200529`, as QNAP writes it.
fn version_line(info: &Info) -> String {
    let v = &info.firmware.version;
    match (&v.value, &info.firmware.build.value) {
        (Some(version), Some(build)) => {
            format!("{} {version} build {build}  ({})", key("version"), v.source)
        }
        _ => fact("version", v),
    }
}

/// The aligned `key: value  (source)` lines.
pub fn human(info: &Info) -> Vec<String> {
    let mut out = vec![
        format!("{} {}", key("root"), info.root),
        fact("model", &info.model),
        fact("internal model", &info.internal_model),
        fact("server name", &info.server_name),
        fact("firmware", &info.firmware.name),
        version_line(info),
        fact("build", &info.firmware.build),
        fact("architecture", &info.arch),
        fact("package arch", &info.qpkg_arch),
        fact("kernel", &info.kernel),
        fact("serial number", &info.serial),
    ];
    if info.adapters.is_empty() {
        out.push(format!(
            "{} unknown  ({})",
            key("adapters"),
            info.adapters_source
        ));
    }
    for a in &info.adapters {
        out.push(format!(
            "{} {} {}{}  ({})",
            key("adapter"),
            a.name,
            a.mac,
            if a.is_virtual { " (virtual)" } else { "" },
            a.source
        ));
    }
    for s in &info.stores {
        let names = if s.names.len() > 1 {
            format!(", names: {}", s.names.join(", "))
        } else {
            String::new()
        };
        out.push(format!(
            "{} {} {} ({}, {}{names})",
            key("store"),
            s.kind.name(),
            s.path,
            s.copy,
            s.layout
        ));
    }
    if let Some(note) = &info.stores_note {
        out.push(format!("{} unknown  ({note})", key("stores")));
    }
    let samba = match &info.samba {
        Samba::None => "none (no smb.conf found)".to_string(),
        Samba::Smbpasswd { config, path } => format!("smbpasswd file {path} (from {config})"),
        Samba::Other { config, backend } => format!("passdb backend {backend} (from {config})"),
    };
    out.push(format!("{} {samba}", key("samba")));
    out
}

pub fn run(ctx: &Context) -> Result<i32> {
    let info = info::gather(&ctx.root)?;
    if ctx.json {
        super::print_json(&info)?;
    } else {
        let lines: Vec<String> = human(&info)
            .iter()
            .map(|l| crate::escape::line(l).into_owned())
            .collect();
        super::print_text(&(lines.join("\n") + "\n"))?;
    }
    Ok(0)
}
