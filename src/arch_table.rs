//! The CPU architectures qrescue knows, read from the one table of them,
//! `cross/targets.tsv`, compiled into the binary (`include_str!`, parsed when asked: a few
//! rows, so no build step and no second copy of the facts). The build scripts, the QPKG
//! tools and the package installer read the same file; its header describes the columns.
//! Here only what `info` needs: how `uname -m` and an ELF header name a machine, and which
//! QNAP package arch that is.

/// The table, as in the source tree.
const TABLE: &str = include_str!("../cross/targets.tsv");

/// One row of the table: a QNAP package arch and how its machines are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arch {
    /// QDK's name for the package arch (`arm-x41`).
    pub qnap_arch: &'static str,
    /// What `uname -m` says on these NAS (`armv7l`).
    pub uname_m: &'static str,
    /// Other names of the same machine, comma-separated (`armv7`), or `-`.
    uname_alias: &'static str,
    /// ELF class of its binaries in bits: 32 or 64.
    pub elf_bits: u8,
    /// ELF `e_machine`.
    pub e_machine: u16,
    /// readelf's name for the machine (`ARM`).
    pub elf_name: &'static str,
    /// What tells it apart from an arch with the same `uname -m` (`AL-314/AL-214`), or `-`.
    pub soc: &'static str,
}

impl Arch {
    /// Whether `machine` (a `uname -m` value) names this arch's machine.
    pub fn has_machine(&self, machine: &str) -> bool {
        machine != "-"
            && (self.uname_m == machine || self.uname_alias.split(',').any(|a| a == machine))
    }
}

/// Every row of the table, in its order.
pub fn arches() -> impl Iterator<Item = Arch> {
    let mut lines = TABLE.lines();
    let columns: Vec<&str> = lines
        .by_ref()
        .find_map(|l| l.strip_prefix("#qnap_arch\t").map(|_| &l[1..]))
        .map(|h| h.split('\t').collect())
        .unwrap_or_default();
    lines
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(move |l| parse(&columns, l))
}

/// One data line by the header's column names; `None` when a field is missing or malformed
/// (the tests below hold every line of the table to parse).
fn parse(columns: &[&str], line: &'static str) -> Option<Arch> {
    let fields: Vec<&'static str> = line.split('\t').collect();
    if fields.len() != columns.len() {
        return None;
    }
    let get = |name: &str| columns.iter().position(|c| *c == name).map(|i| fields[i]);
    Some(Arch {
        qnap_arch: get("qnap_arch")?,
        uname_m: get("uname_m")?,
        uname_alias: get("uname_alias")?,
        elf_bits: get("elf_class")?.parse().ok()?,
        e_machine: get("e_machine")?.parse().ok()?,
        elf_name: get("elf_name")?,
        soc: get("soc")?,
    })
}

/// The QNAP package arch for a `uname -m` machine name: one arch, or the arches that share
/// the machine and what tells them apart (`arm-x41 or arm-x31 (by CPU: … vs …)`).
pub fn qpkg_arch(machine: &str) -> Option<String> {
    let found: Vec<Arch> = arches().filter(|a| a.has_machine(machine)).collect();
    match found.as_slice() {
        [] => None,
        [one] => Some(one.qnap_arch.to_string()),
        several => Some(format!(
            "{} (by CPU: {})",
            join(several.iter().map(|a| a.qnap_arch), " or "),
            join(several.iter().map(|a| a.soc), " vs ")
        )),
    }
}

/// The machine an ELF header names (`e_ident` class and data, `e_machine`): its `uname -m`
/// name, or, when arches of different machines share the ELF machine (32-bit ARM: ARMv5
/// and ARMv7), a description naming them.
pub fn elf_machine(header: &[u8]) -> Option<String> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return None;
    }
    let machine = match header[5] {
        1 => u16::from_le_bytes([header[18], header[19]]),
        2 => u16::from_be_bytes([header[18], header[19]]),
        _ => return None,
    };
    let bits = match header[4] {
        1 => 32,
        2 => 64,
        _ => return None,
    };
    let mut names: Vec<&str> = Vec::new();
    let mut elf_name = "";
    for a in arches().filter(|a| a.elf_bits == bits && a.e_machine == machine) {
        elf_name = a.elf_name;
        if !names.contains(&a.uname_m) {
            names.push(a.uname_m);
        }
    }
    match names.as_slice() {
        [] => None,
        [one] => Some((*one).to_string()),
        several => Some(format!(
            "{elf_name} ({bits}-bit; {} not told apart by the ELF header)",
            join(several.iter().copied(), " or ")
        )),
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>, sep: &str) -> String {
    parts.collect::<Vec<_>>().join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every data line of the table parses, with every column the header names.
    #[test]
    fn every_row_parses() {
        let lines = TABLE
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        assert!(lines >= 5);
        assert_eq!(arches().count(), lines);
    }

    /// `info`'s mapping, row by row from the table: each machine name of a row maps to its
    /// package arch (alone, or among those sharing the machine), and its ELF machine back
    /// to its `uname -m` (or to a description naming it).
    #[test]
    fn the_mapping_follows_the_table() {
        for a in arches() {
            let sharing = arches().filter(|b| b.uname_m == a.uname_m).count();
            let mut names = vec![a.uname_m];
            names.extend(a.uname_alias.split(',').filter(|n| *n != "-"));
            for name in names {
                let q = qpkg_arch(name).unwrap_or_else(|| panic!("{name}: no package arch"));
                if sharing == 1 {
                    assert_eq!(q, a.qnap_arch, "{name}");
                } else {
                    assert!(q.contains(a.qnap_arch) && q.contains(a.soc), "{name}: {q}");
                }
            }
            let mut h = [0u8; 20];
            h[..4].copy_from_slice(b"\x7fELF");
            h[4] = if a.elf_bits == 64 { 2 } else { 1 };
            h[5] = 1;
            h[18..20].copy_from_slice(&a.e_machine.to_le_bytes());
            let m = elf_machine(&h).unwrap_or_else(|| panic!("{}: ELF", a.qnap_arch));
            let same_elf = arches()
                .filter(|b| b.elf_bits == a.elf_bits && b.e_machine == a.e_machine)
                .any(|b| b.uname_m != a.uname_m);
            if same_elf {
                assert!(m.contains(a.uname_m) && m.contains(a.elf_name), "{m}");
            } else {
                assert_eq!(m, a.uname_m);
            }
        }
    }

    /// The facts themselves, as QTS and the ELF headers of its binaries give them.
    #[test]
    fn qpkg_names() {
        assert_eq!(qpkg_arch("x86_64").as_deref(), Some("x86_64"));
        assert_eq!(qpkg_arch("amd64").as_deref(), Some("x86_64"));
        assert_eq!(qpkg_arch("aarch64").as_deref(), Some("arm_64"));
        assert_eq!(
            qpkg_arch("armv7l").as_deref(),
            Some("arm-x41 or arm-x31 (by CPU: AL-314/AL-214 vs AL-212/Armada)")
        );
        assert_eq!(qpkg_arch("armv5tel").as_deref(), Some("arm-x19"));
        assert_eq!(qpkg_arch("armv5tejl").as_deref(), Some("arm-x19"));
        assert_eq!(qpkg_arch("i686").as_deref(), Some("x86"));
        assert_eq!(qpkg_arch("riscv64"), None);
        assert_eq!(qpkg_arch("-"), None);
    }

    #[test]
    fn elf_headers() {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[18] = 183;
        assert_eq!(elf_machine(&h).as_deref(), Some("aarch64"));
        h[18] = 62;
        assert_eq!(elf_machine(&h).as_deref(), Some("x86_64"));
        h[4] = 1;
        h[18] = 3;
        assert_eq!(elf_machine(&h).as_deref(), Some("i686"));
        h[18] = 40;
        assert_eq!(
            elf_machine(&h).as_deref(),
            Some("ARM (32-bit; armv7l or armv5tel not told apart by the ELF header)")
        );
        h[5] = 2;
        h[18] = 0;
        h[19] = 40;
        assert!(elf_machine(&h).unwrap().starts_with("ARM"));
        assert_eq!(elf_machine(b"#!/bin/sh\n"), None);
    }
}
