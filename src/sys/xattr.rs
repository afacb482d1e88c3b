//! Extended attributes of a credential file, POSIX ACLs included.
//!
//! A replacement must grant exactly the access the original granted: every attribute is
//! copied onto the staged file before it is renamed, and an access ACL the staged file
//! inherited from its directory's default ACL is removed when the original had none (it
//! could let a named user read the new hashes). `audit` reads the ACL to report one that lets
//! someone else read a store; the `system.posix_acl_access` value is parsed here (version 2
//! header, then 8-byte entries: tag, permissions, id, little-endian).

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::libc;

/// The access ACL of a file.
pub const ACL_ACCESS: &CStr = c"system.posix_acl_access";

/// Ask a size-returning xattr call for its value, growing the buffer if it changed meanwhile.
fn sized(mut call: impl FnMut(*mut libc::c_void, usize) -> isize) -> nix::Result<Vec<u8>> {
    loop {
        let need = Errno::result(call(std::ptr::null_mut(), 0))?;
        let mut buf = vec![0u8; usize::try_from(need).unwrap_or(0)];
        if buf.is_empty() {
            return Ok(buf);
        }
        match Errno::result(call(buf.as_mut_ptr().cast(), buf.len())) {
            Ok(n) => {
                buf.truncate(usize::try_from(n).unwrap_or(0));
                return Ok(buf);
            }
            Err(Errno::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One attribute's value (`None`: not set, or the filesystem has no attributes).
pub fn get(fd: BorrowedFd<'_>, name: &CStr) -> nix::Result<Option<Vec<u8>>> {
    let raw = fd.as_raw_fd();
    // SAFETY: `name` is NUL-terminated; `buf` is null with size 0 or valid for `size` bytes.
    match sized(|buf, size| unsafe { libc::fgetxattr(raw, name.as_ptr(), buf, size) }) {
        Ok(v) => Ok(Some(v)),
        Err(Errno::ENODATA | Errno::ENOTSUP) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every attribute of a file with its value (empty when the filesystem has none).
pub fn list(fd: BorrowedFd<'_>) -> nix::Result<Vec<(CString, Vec<u8>)>> {
    let raw = fd.as_raw_fd();
    // SAFETY: `buf` is null with size 0 or valid for `size` bytes.
    let names = match sized(|buf, size| unsafe { libc::flistxattr(raw, buf.cast(), size) }) {
        Ok(n) => n,
        Err(Errno::ENOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = CString::new(name).expect("split at NUL");
        if let Some(value) = get(fd, &name)? {
            out.push((name, value));
        }
    }
    Ok(out)
}

/// Set one attribute.
pub fn set(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> nix::Result<()> {
    // SAFETY: `name` is NUL-terminated and `value` valid for its length.
    Errno::result(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}

/// Remove one attribute (not an error when it is not there).
pub fn remove(fd: BorrowedFd<'_>, name: &CStr) -> nix::Result<()> {
    // SAFETY: `name` is NUL-terminated.
    match Errno::result(unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) }) {
        Ok(_) | Err(Errno::ENODATA | Errno::ENOTSUP) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Give `to` exactly the attributes of `from`: each of `from`'s is set on `to`, and an access
/// ACL `to` has that `from` lacks (inherited from a directory default) is removed. Names the
/// attribute that could not be kept.
pub fn copy(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), (String, Errno)> {
    let attrs = list(from).map_err(|e| ("extended attributes".to_string(), e))?;
    for (name, value) in &attrs {
        set(to, name, value).map_err(|e| (name.to_string_lossy().into_owned(), e))?;
    }
    if !attrs.iter().any(|(n, _)| n.as_c_str() == ACL_ACCESS) {
        remove(to, ACL_ACCESS).map_err(|e| (ACL_ACCESS.to_string_lossy().into_owned(), e))?;
    }
    Ok(())
}

const ACL_VERSION: u32 = 2;
const ACL_USER: u16 = 0x02;
const ACL_GROUP: u16 = 0x08;
const ACL_MASK: u16 = 0x10;
const ACL_READ: u16 = 0x04;

/// One entry of a POSIX ACL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclEntry {
    pub tag: u16,
    pub perm: u16,
    pub id: u32,
}

/// Parse a `system.posix_acl_access` value; `None` if it is not the version-2 format.
pub fn parse_acl(bytes: &[u8]) -> Option<Vec<AclEntry>> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*head) != ACL_VERSION || rest.len() % 8 != 0 {
        return None;
    }
    Some(
        rest.chunks_exact(8)
            .map(|e| AclEntry {
                tag: u16::from_le_bytes([e[0], e[1]]),
                perm: u16::from_le_bytes([e[2], e[3]]),
                id: u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
            })
            .collect(),
    )
}

/// Named users and groups an ACL lets read the file (the mask applied), as `user 1000` /
/// `group 100`. The owner, owning group and others are in the mode bits, checked elsewhere.
pub fn acl_readers(entries: &[AclEntry]) -> Vec<String> {
    let mask = entries
        .iter()
        .find(|e| e.tag == ACL_MASK)
        .map_or(0x07, |e| e.perm);
    entries
        .iter()
        .filter(|e| e.perm & mask & ACL_READ != 0)
        .filter_map(|e| match e.tag {
            ACL_USER => Some(format!("user {}", e.id)),
            ACL_GROUP => Some(format!("group {}", e.id)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut v = ACL_VERSION.to_le_bytes().to_vec();
        for (t, p, id) in entries {
            v.extend(t.to_le_bytes());
            v.extend(p.to_le_bytes());
            v.extend(id.to_le_bytes());
        }
        v
    }

    #[test]
    fn named_reader_counts_only_through_the_mask() {
        let open = acl(&[
            (0x01, 6, u32::MAX),
            (ACL_USER, 4, 1000),
            (0x04, 0, u32::MAX),
            (ACL_MASK, 4, u32::MAX),
            (0x20, 0, u32::MAX),
        ]);
        assert_eq!(acl_readers(&parse_acl(&open).unwrap()), ["user 1000"]);
        let masked = acl(&[
            (0x01, 6, u32::MAX),
            (ACL_GROUP, 4, 100),
            (0x04, 0, u32::MAX),
            (ACL_MASK, 0, u32::MAX),
            (0x20, 0, u32::MAX),
        ]);
        assert!(acl_readers(&parse_acl(&masked).unwrap()).is_empty());
        let group = acl(&[
            (0x01, 6, u32::MAX),
            (ACL_GROUP, 4, 100),
            (ACL_USER, 2, 1001),
            (0x04, 0, u32::MAX),
            (ACL_MASK, 6, u32::MAX),
            (0x20, 0, u32::MAX),
        ]);
        assert_eq!(acl_readers(&parse_acl(&group).unwrap()), ["group 100"]);
        assert!(parse_acl(&[1, 0, 0, 0]).is_none());
        assert!(parse_acl(&[2, 0, 0, 0, 1]).is_none());
    }
}
