//! Lossless readers and editors for the colon-separated credential files (passwd, shadow,
//! group, smbpasswd), a reader for smb.conf, and a read-only INI reader (uLinux.conf).
//!
//! A file is kept as its original bytes; lines are located, never re-serialised. Changing an
//! entry rewrites exactly that line's bytes and copies every other byte through unchanged:
//! comments, blank lines, malformed lines, odd field counts, CRs and a missing final
//! newline all come back as they were.

pub mod colon;
pub mod group;
pub(crate) mod ini;
pub mod passwd;
pub(crate) mod secret;
pub mod shadow;
pub mod smbconf;
pub mod smbpasswd;
