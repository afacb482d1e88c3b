//! What is wrong with a backup set as found on disk.
//!
//! `backups` lists these as text and `restore` joins them into its refusal; the code that
//! acts on them (a missing id is a usage error, a set without a manifest is the remains of a
//! crash and removed) matches the variant, so rewording a message changes no decision.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::error::Error;

#[derive(Debug)]
pub enum Problem {
    /// No directory of that id.
    Missing,
    /// The set's directory could not be opened safely.
    Unsafe(Error),
    /// No `manifest.json`: the set was never completed (it is written last).
    NoManifest,
    /// `manifest.json` is there but is not a manifest.
    ManifestUnreadable(String),
    /// The manifest names another id.
    WrongId(String),
    /// A file's stored name would leave the set's directory.
    BadStoredName { path: String },
    /// A file's size or sha256 is not the recorded one.
    ChecksumDiffers { stored_as: String },
    /// A file could not be read.
    Unreadable {
        stored_as: String,
        err: std::io::Error,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("missing"),
            Problem::Unsafe(e) => write!(f, "{e}"),
            Problem::NoManifest => f.write_str("no manifest.json: incomplete set"),
            Problem::ManifestUnreadable(e) => write!(f, "manifest.json unreadable: {e}"),
            Problem::WrongId(id) => write!(f, "manifest names id {id}"),
            Problem::BadStoredName { path } => write!(f, "{path}: bad stored name"),
            Problem::ChecksumDiffers { stored_as } => {
                write!(f, "{stored_as}: content differs from its checksum")
            }
            Problem::Unreadable { stored_as, err } => write!(f, "{stored_as}: {err}"),
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
