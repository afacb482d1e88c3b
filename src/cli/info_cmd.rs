//! `qrescue info`: model, firmware, architecture, kernel, adapters, serial number and the
//! credential stores, each value with its source. Read-only; needs no privileges.

use crate::context::Context;
use crate::error::Result;
use crate::info::{self, Fact};
use crate::stores::Samba;

fn line(key: &str, fact: &Fact) {
    println!(
        "{:<15} {}  ({})",
        format!("{key}:"),
        fact.shown(),
        fact.source
    );
}

pub fn run(ctx: &Context) -> Result<i32> {
    let info = info::gather(&ctx.root)?;
    if ctx.json {
        super::print_json(&info)?;
        return Ok(0);
    }
    println!("{:<15} {}", "root:", info.root);
    line("model", &info.model);
    line("server name", &info.server_name);
    line("firmware", &info.firmware.name);
    line("version", &info.firmware.version);
    line("build", &info.firmware.build);
    line("architecture", &info.arch);
    line("package arch", &info.qpkg_arch);
    line("kernel", &info.kernel);
    line("serial number", &info.serial);
    if info.adapters.is_empty() {
        println!("{:<15} unknown  ({})", "adapters:", info.adapters_source);
    }
    for a in &info.adapters {
        println!(
            "{:<15} {} {}{}  ({})",
            "adapter:",
            a.name,
            a.mac,
            if a.is_virtual { " (virtual)" } else { "" },
            a.source
        );
    }
    for s in &info.stores {
        let names = if s.names.len() > 1 {
            format!(", names: {}", s.names.join(", "))
        } else {
            String::new()
        };
        println!(
            "{:<15} {} {} ({}, {}{names})",
            "store:",
            s.kind.name(),
            s.path,
            s.copy,
            s.layout
        );
    }
    if let Some(note) = &info.stores_note {
        println!("{:<15} unknown  ({note})", "stores:");
    }
    let samba = match &info.samba {
        Samba::None => "none (no smb.conf found)".to_string(),
        Samba::Smbpasswd { config, path } => format!("smbpasswd file {path} (from {config})"),
        Samba::Other { config, backend } => format!("passdb backend {backend} (from {config})"),
    };
    println!("{:<15} {samba}", "samba:");
    Ok(0)
}
