//! The credential files as read: each store file together with its bytes and its owner and
//! mode, so what was read can never be paired with another file by position.
//!
//! A transaction takes its snapshot under the locks ([`crate::txn::Locked::snapshot`]);
//! read-only views (`status`, `verify`, `audit`) read one without them.

use crate::error::Result;
use crate::stores::{Kind, StoreFile, Stores};
use crate::sys::atomic::Meta;

/// One store file as read.
#[derive(Debug)]
pub struct Loaded<'a> {
    pub file: &'a StoreFile,
    pub bytes: Vec<u8>,
    pub meta: Meta,
}

/// Every store file as read, in discovery order.
#[derive(Debug)]
pub struct Snapshot<'a> {
    pub stores: &'a Stores,
    pub files: Vec<Loaded<'a>>,
}

/// New bytes a plan writes to one file.
#[derive(Debug)]
pub struct Edit<'a> {
    pub file: &'a StoreFile,
    pub new: Vec<u8>,
}

impl<'a> Snapshot<'a> {
    /// Read every store file (the caller decides whether under the locks).
    pub fn read(stores: &'a Stores) -> Result<Snapshot<'a>> {
        let mut files = Vec::with_capacity(stores.files.len());
        for file in &stores.files {
            let (bytes, meta) = file.read()?;
            files.push(Loaded { file, bytes, meta });
        }
        Ok(Snapshot { stores, files })
    }

    /// The files of one kind.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &Loaded<'a>> {
        self.files.iter().filter(move |l| l.file.kind == kind)
    }
}
