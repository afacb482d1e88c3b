//! Signatures read from a block device, read-only, without the kernel's help: an md RAID
//! superblock (metadata 1.0 — 4 KiB-aligned, 8 KiB from the end — and 0.90 — the last
//! 64 KiB-aligned 64 KiB block), the ext2/3/4 superblock (1 KiB in, magic 0xEF53) and a ZFS
//! label (QuTS hero). QNAP's system partition is an md RAID-1 with its superblock at the
//! end, so the filesystem starts at offset 0 of every member and can be checked directly.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// md's superblock magic (both formats).
const MD_MAGIC: u32 = 0xa92b_4efc;
/// ext2/3/4 magic, at byte 56 of the superblock.
const EXT_MAGIC: u16 = 0xef53;
/// ZFS uberblock magic (native-endian in the label's uberblock array).
const ZFS_UB_MAGIC: u64 = 0x00ba_b10c;

/// What an md superblock says about this member and its array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdMember {
    /// "1.0" or "0.90".
    pub metadata: &'static str,
    /// The array UUID as mdadm prints it (`xxxxxxxx:xxxxxxxx:xxxxxxxx:xxxxxxxx`).
    pub uuid: String,
    /// RAID level (1 for QNAP's system RAID).
    pub level: i32,
    /// Slots in the array (QNAP makes many more than disks: `[24/4]`).
    pub raid_disks: u32,
    /// Members this superblock counts as active.
    pub active: u32,
    /// Event counter: the member with the highest one is the freshest copy.
    pub events: u64,
    /// The array name (1.x only; QNAP's md9 is named after its number).
    pub name: String,
    /// Offset of the data (the filesystem) in the member, in bytes.
    pub data_offset: u64,
    /// Whether the array was shut down cleanly (no resync pending).
    pub clean: bool,
}

/// The filesystem found at a member's data offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtFs {
    /// "ext2", "ext3" or "ext4".
    pub kind: &'static str,
    /// Errors were recorded (or an ext2 was not cleanly unmounted): e2fsck first, no writes.
    pub needs_fsck: bool,
    /// An ext3/ext4 interrupted while mounted: a read-write mount replays its journal.
    pub journal_to_replay: bool,
    pub label: String,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

fn read_at(dev: &File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    dev.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// Parse a metadata 1.x superblock (`struct mdp_superblock_1`, little-endian).
pub fn parse_md1(b: &[u8]) -> Option<MdMember> {
    if b.len() < 256 || u32_at(b, 0) != MD_MAGIC || u32_at(b, 4) != 1 {
        return None;
    }
    let uuid = &b[16..32];
    let name_raw = &b[32..64];
    let name_end = name_raw.iter().position(|&c| c == 0).unwrap_or(32);
    let max_dev = u32_at(b, 220) as usize;
    let active = (0..max_dev)
        .filter_map(|i| b.get(256 + 2 * i..256 + 2 * i + 2))
        .filter(|r| u16_at(r, 0) < 0xfffe)
        .count() as u32;
    Some(MdMember {
        metadata: "1.0",
        uuid: format!(
            "{}:{}:{}:{}",
            hex(&uuid[0..4]),
            hex(&uuid[4..8]),
            hex(&uuid[8..12]),
            hex(&uuid[12..16])
        ),
        level: u32_at(b, 72) as i32,
        raid_disks: u32_at(b, 92),
        active,
        events: u64_at(b, 200),
        name: String::from_utf8_lossy(&name_raw[..name_end]).into_owned(),
        data_offset: u64_at(b, 128) * 512,
        clean: u64_at(b, 208) == u64::MAX,
    })
}

/// Parse a metadata 0.90 superblock (`mdp_super_t`, the host's byte order: little-endian on
/// every machine qrescue targets).
pub fn parse_md090(b: &[u8]) -> Option<MdMember> {
    if b.len() < 4096 || u32_at(b, 0) != MD_MAGIC || u32_at(b, 4) != 0 || u32_at(b, 8) != 90 {
        return None;
    }
    let w = |i: usize| u32_at(b, 4 * i);
    let words = [w(5), w(13), w(14), w(15)];
    Some(MdMember {
        metadata: "0.90",
        uuid: words
            .iter()
            .map(|x| format!("{x:08x}"))
            .collect::<Vec<_>>()
            .join(":"),
        level: w(7) as i32,
        raid_disks: w(10),
        active: w(34),
        // events_lo, events_hi (words 39, 40 on a little-endian host).
        events: (u64::from(w(40)) << 32) | u64::from(w(39)),
        name: String::new(),
        data_offset: 0,
        // state bit 0: MD_SB_CLEAN.
        clean: w(33) & 1 == 1,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The md superblock of `dev` (`size` bytes) if it carries one at the end (1.0 or 0.90).
pub fn read_md(dev: &File, size: u64) -> std::io::Result<Option<MdMember>> {
    if size >= 12 * 1024 {
        let off = (size - 8 * 1024) & !4095;
        let b = read_at(dev, off, 4096)?;
        // 1.1 and 1.2 sit at the start; a 1.x superblock here that says so is 1.0.
        if let Some(m) = parse_md1(&b).filter(|_| u64_at(&b, 144) * 512 == off) {
            return Ok(Some(m));
        }
    }
    if size >= 128 * 1024 {
        let off = (size & !65535) - 65536;
        if let Some(m) = parse_md090(&read_at(dev, off, 4096)?) {
            return Ok(Some(m));
        }
    }
    Ok(None)
}

/// Parse an ext2/3/4 superblock (the 1024 bytes at offset 1024 of the filesystem).
pub fn parse_ext(sb: &[u8]) -> Option<ExtFs> {
    if sb.len() < 1024 || u16_at(sb, 56) != EXT_MAGIC {
        return None;
    }
    let state = u16_at(sb, 58);
    let compat = u32_at(sb, 92);
    let incompat = u32_at(sb, 96);
    const HAS_JOURNAL: u32 = 0x4;
    const RECOVER: u32 = 0x4;
    // extents, 64bit, flex_bg, mmp, inline data…: anything ext3 does not have.
    const EXT4_ONLY: u32 = 0x40 | 0x80 | 0x200 | 0x100 | 0x8000;
    let kind = if incompat & EXT4_ONLY != 0 {
        "ext4"
    } else if compat & HAS_JOURNAL != 0 {
        "ext3"
    } else {
        "ext2"
    };
    let label_raw = &sb[120..136];
    let end = label_raw.iter().position(|&c| c == 0).unwrap_or(16);
    Some(ExtFs {
        kind,
        // state bit 2 = errors recorded: e2fsck must run first. Bit 1 (cleanly unmounted)
        // matters only without a journal: the kernel keeps it set on a mounted ext3/ext4 and
        // marks an interrupted one with RECOVER instead, whose journal a read-write mount
        // replays (the normal way back after a crash or a killed run, not a check).
        needs_fsck: state & 2 != 0 || (compat & HAS_JOURNAL == 0 && state & 1 == 0),
        journal_to_replay: incompat & RECOVER != 0,
        label: String::from_utf8_lossy(&label_raw[..end]).into_owned(),
    })
}

/// The ext filesystem starting at `offset` of `dev`, if any.
pub fn read_ext(dev: &File, offset: u64) -> std::io::Result<Option<ExtFs>> {
    Ok(parse_ext(&read_at(dev, offset + 1024, 1024)?))
}

/// Whether a ZFS label starts at `offset` (its uberblock array, 128 KiB into the label,
/// holds the uberblock magic in either byte order).
pub fn is_zfs(dev: &File, offset: u64, size: u64) -> std::io::Result<bool> {
    if size < offset + 256 * 1024 {
        return Ok(false);
    }
    let ring = read_at(dev, offset + 128 * 1024, 128 * 1024)?;
    Ok(ring.chunks(1024).any(|ub| {
        let m = u64_at(ub, 0);
        m == ZFS_UB_MAGIC || m == ZFS_UB_MAGIC.swap_bytes()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_kinds_and_fsck_state() {
        let mut sb = vec![0u8; 1024];
        sb[56..58].copy_from_slice(&EXT_MAGIC.to_le_bytes());
        sb[58..60].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(parse_ext(&sb).unwrap().kind, "ext2");
        sb[92] = 0x4;
        let fs = parse_ext(&sb).unwrap();
        assert_eq!((fs.kind, fs.needs_fsck), ("ext3", false));
        sb[96] = 0x4; // journal to replay: a read-write mount does that, no check needed
        let fs = parse_ext(&sb).unwrap();
        assert!(fs.journal_to_replay && !fs.needs_fsck);
        sb[58..60].copy_from_slice(&3u16.to_le_bytes()); // errors recorded
        assert!(parse_ext(&sb).unwrap().needs_fsck);
        sb[58..60].copy_from_slice(&0u16.to_le_bytes()); // ext3 mounted: still no check
        assert!(!parse_ext(&sb).unwrap().needs_fsck);
        sb[92] = 0; // ext2 not cleanly unmounted: check
        sb[96] = 0;
        assert!(parse_ext(&sb).unwrap().needs_fsck);
        sb[58..60].copy_from_slice(&1u16.to_le_bytes());
        sb[92] = 0x4;
        sb[96] = 0x40;
        assert_eq!(parse_ext(&sb).unwrap().kind, "ext4");
        sb[56] = 0;
        assert!(parse_ext(&sb).is_none());
    }
}
