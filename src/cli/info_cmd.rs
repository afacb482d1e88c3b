//! `qrescue info`: model, firmware, architecture, kernel, adapters, serial number and the
//! credential stores, each value with its source. Read-only; needs no privileges.

use serde::Serialize;

use super::output::{Outcome, Report, Text};
use super::vocab::{SambaDoc, in_root};
use crate::context::Context;
use crate::error::Result;
use crate::info::{self, Fact, Info};
use crate::stores::Samba;
use crate::sys::root::Root;

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

/// `info`'s document: `info::Info` in the vocabulary (`in_root` beside each store's
/// `path`, `samba` as [`SambaDoc`]).
pub struct InfoReport {
    info: Info,
    stores: Vec<StoreDoc>,
    samba: SambaDoc,
}

#[derive(Serialize)]
struct StoreDoc {
    kind: crate::stores::Kind,
    path: String,
    in_root: String,
    names: Vec<String>,
    copy: &'static str,
    layout: &'static str,
}

/// The document's keys, in order.
#[derive(Serialize)]
struct InfoView<'a> {
    root: &'a str,
    qts: bool,
    model: &'a Fact,
    internal_model: &'a Fact,
    server_name: &'a Fact,
    firmware: &'a info::Firmware,
    arch: &'a Fact,
    qpkg_arch: &'a Fact,
    kernel: &'a Fact,
    adapters: &'a [info::Adapter],
    adapters_source: &'a str,
    serial: &'a Fact,
    stores: &'a [StoreDoc],
    samba: &'a SambaDoc,
    stores_note: Option<&'a str>,
}

impl Serialize for InfoReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let i = &self.info;
        InfoView {
            root: &i.root,
            qts: i.qts,
            model: &i.model,
            internal_model: &i.internal_model,
            server_name: &i.server_name,
            firmware: &i.firmware,
            arch: &i.arch,
            qpkg_arch: &i.qpkg_arch,
            kernel: &i.kernel,
            adapters: &i.adapters,
            adapters_source: &i.adapters_source,
            serial: &i.serial,
            stores: &self.stores,
            samba: &self.samba,
            stores_note: i.stores_note.as_deref(),
        }
        .serialize(s)
    }
}

impl InfoReport {
    fn new(root: &Root, info: Info) -> InfoReport {
        let stores = info
            .stores
            .iter()
            .map(|s| StoreDoc {
                kind: s.kind,
                path: s.path.clone(),
                in_root: in_root(root, &s.path),
                names: s.names.clone(),
                copy: s.copy,
                layout: s.layout,
            })
            .collect();
        let samba = SambaDoc::new(root, &info.samba, None);
        InfoReport {
            info,
            stores,
            samba,
        }
    }
}

impl Report for InfoReport {
    fn render_text(&self, out: &mut Text) {
        for line in human(&self.info) {
            out.line(line);
        }
    }
}

pub fn run(ctx: &Context) -> Result<Outcome> {
    let info = info::gather(&ctx.root)?;
    Ok(Outcome::ok(InfoReport::new(&ctx.root, info)))
}
