//! What the credential-store watch remembers between runs, and its journal.
//!
//! To notice a change made while the watcher was not running (a reset before the service
//! started at boot, a change while it was stopped), the last state seen is kept — but never
//! a password hash: each administrator entry is kept as HMAC-SHA256 under a random key, and
//! the key and the state are 0600 files in the state directory (`store-watch.key`,
//! `store-watch.state`). Without the key, the state tells nothing about the hashes.
//!
//! Exactly once across a kill: a new state is first written as `store-watch.next` with the
//! next sequence number, then the records carrying that number are appended (one write,
//! one fdatasync) to `credentials.jsonl`, then `next` is renamed over `state`. At start, a
//! `next` left by a kill is committed if the journal holds its number, else dropped (the
//! difference is then found again and recorded once).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::paths::StateDir;
use crate::sys::Errno;
use crate::sys::dir::{Dir, errno_of};
use crate::sys::fs;
use crate::sys::root::Root;
use crate::watch::term::{Term, words};

pub const KEY: &str = "store-watch.key";
pub const STATE: &str = "store-watch.state";
pub const NEXT: &str = "store-watch.next";
pub const JOURNAL: &str = "credentials.jsonl";

/// HMAC-SHA256 (RFC 2104) over sha2.
fn hmac(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// HMAC-SHA256 of length-prefixed parts (so ("ab","c") and ("a","bc") differ), as hex.
pub fn hmac_hex(key: &[u8; 32], parts: &[&[u8]]) -> String {
    let mut msg = Vec::new();
    for p in parts {
        msg.extend((p.len() as u64).to_le_bytes());
        msg.extend_from_slice(p);
    }
    hmac(key, &msg).iter().map(|b| format!("{b:02x}")).collect()
}

/// One administrator as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedUser {
    /// Store name → HMAC of the user's password field there (lock marks removed).
    pub stores: BTreeMap<String, String>,
    pub locked: bool,
    /// Whether the stores were last known to hold the same password.
    #[serde(default = "yes")]
    pub agree: bool,
}

fn yes() -> bool {
    true
}

impl Default for SavedUser {
    fn default() -> SavedUser {
        SavedUser {
            stores: BTreeMap::new(),
            locked: false,
            agree: true,
        }
    }
}

/// The last state seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// Sequence number of the last records written for this state.
    pub seq: u64,
    /// When it was seen (Unix seconds).
    pub seen_unix: u64,
    pub users: BTreeMap<String, SavedUser>,
    /// Real path of each store file → HMAC of its whole content (to recognise qrescue's own
    /// backups of it).
    pub files: BTreeMap<String, String>,
    /// qrescue backups that existed then: a change is qrescue's only through a newer one.
    #[serde(default)]
    pub backups: Vec<String>,
}

impl Saved {
    /// The same administrators and entries (what records are about).
    pub fn same_entries(&self, other: &Saved) -> bool {
        self.users == other.users
    }
}

/// What a credential record says happened to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredEvent {
    CredentialChange,
    AdministratorAdded,
    AdministratorRemoved,
    AccountLocked,
    AccountUnlocked,
}
words!(CredEvent {
    CredentialChange => "credential-change",
    AdministratorAdded => "administrator-added",
    AdministratorRemoved => "administrator-removed",
    AccountLocked => "account-locked",
    AccountUnlocked => "account-unlocked",
});

/// Who made a credential change, as far as can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredClass {
    /// qrescue (a backup it took before the change holds the previous entry).
    Qrescue,
    /// The entry is now a factory default (a reset).
    FactoryDefault,
    Other,
}
words!(CredClass {
    Qrescue => "qrescue",
    FactoryDefault => "factory-default",
    Other => "other",
});

/// When the watch saw a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// As it happened.
    Live,
    /// When the watcher started (changed while it was not running).
    AtStart,
}
words!(Seen {
    Live => "live",
    AtStart => "at-start",
});

/// One credential record (a journal line, a syslog line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredRecord {
    pub event: Term<CredEvent>,
    pub user: String,
    /// The stores whose entry changed (logical names).
    #[serde(default)]
    pub stores: Vec<String>,
    /// For `credential-change`: `qrescue`, `factory-default` or `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Term<CredClass>>,
    /// For class `qrescue`: the backup taken before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// Every store now holds the same password for the user (as far as can be told).
    pub agree: bool,
    /// `live`, or `at-start` (changed while the watcher was not running).
    pub seen: Term<Seen>,
    pub time: String,
    pub unix_ms: u64,
    /// Sequence number of the state this record belongs to.
    pub seq: u64,
}

/// The state directory's files, opened.
pub struct Store {
    state: StateDir,
    pub key: [u8; 32],
}

fn io(display: &str, e: std::io::Error) -> Error {
    Error::io(display, errno_of(&e))
}

/// Read a private regular file of the state directory; `None` when missing.
fn read_private(dir: &Dir, name: &str, display: &str) -> Result<Option<Vec<u8>>> {
    let fd = match dir.open_read_nonblock(name) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(Error::io(display, e)),
    };
    let st = fs::fstat(&fd).map_err(|e| Error::io(display, e))?;
    if !fs::is_regular(&st) {
        return Err(Error::perm(format!("{display} is not a regular file")));
    }
    let mut buf = Vec::new();
    File::from(fd)
        .read_to_end(&mut buf)
        .map_err(|e| io(display, e))?;
    Ok(Some(buf))
}

/// Write a 0600 file of the state directory atomically (temp, fsync, rename, dir fsync).
fn write_private(dir: &Dir, name: &str, bytes: &[u8], display: &str) -> Result<()> {
    let tmp = format!("{name}.tmp");
    let fd = dir
        .create_truncate(tmp.as_str(), 0o600)
        .map_err(|e| Error::io(display, e))?;
    fs::fchmod(&fd, 0o600).map_err(|e| Error::io(display, e))?;
    let mut f = File::from(fd);
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| io(display, e))?;
    dir.rename(tmp.as_str(), name)
        .map_err(|e| Error::io(display, e))?;
    dir.sync().map_err(|e| Error::io(display, e))
}

impl Store {
    /// Open the state directory (created 0700) and the key (created at first use).
    /// Returns the store and the last state seen, if any.
    pub fn open(root: &Root) -> Result<(Store, Option<Saved>)> {
        let state = StateDir::open(root, true)?.expect("created");
        let kd = format!("{}/{KEY}", state.display);
        let key = match read_private(&state.fd, KEY, &kd)? {
            Some(k) if k.len() == 32 => Some(k.try_into().expect("32 bytes")),
            _ => None,
        };
        let (key, fresh) = match key {
            Some(k) => (k, false),
            None => {
                let mut k = [0u8; 32];
                getrandom::fill(&mut k)
                    .map_err(|e| Error::io(&kd, Errno::from_raw(e.raw_os_error().unwrap_or(0))))?;
                write_private(&state.fd, KEY, &k, &kd)?;
                (k, true)
            }
        };
        let store = Store { state, key };
        let saved = if fresh {
            // A state under another key compares with nothing: start over.
            None
        } else {
            store.recover()?;
            store.load(STATE)?
        };
        Ok((store, saved))
    }

    /// Whether the state directory holds `name` (a qrescue transaction's intent record).
    pub fn has(&self, name: &str) -> bool {
        self.state.fd.has(name)
    }

    pub fn display(&self, name: &str) -> String {
        format!("{}/{name}", self.state.display)
    }

    fn load(&self, name: &str) -> Result<Option<Saved>> {
        let d = self.display(name);
        Ok(read_private(&self.state.fd, name, &d)?.and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// Commit or drop a `next` state a kill left behind.
    fn recover(&self) -> Result<()> {
        let Some(next) = self.load(NEXT)? else {
            let _ = self.state.fd.unlink(NEXT);
            return Ok(());
        };
        let written = self.records()?.iter().any(|r| r.seq == next.seq);
        let d = self.display(NEXT);
        if written {
            self.state
                .fd
                .rename(NEXT, STATE)
                .map_err(|e| Error::io(&d, e))?;
        } else {
            self.state.fd.unlink(NEXT).map_err(|e| Error::io(&d, e))?;
        }
        self.state.fd.sync().map_err(|e| Error::io(&d, e))
    }

    /// Save a state that has no records (nothing an owner needs to know changed).
    pub fn save(&self, s: &Saved) -> Result<()> {
        let b = serde_json::to_vec(s).expect("state serialises");
        write_private(&self.state.fd, STATE, &b, &self.display(STATE))
    }

    /// Save a state with its records, exactly once across a kill (see the module doc).
    pub fn commit(&self, s: &Saved, records: &[CredRecord]) -> Result<()> {
        let b = serde_json::to_vec(s).expect("state serialises");
        write_private(&self.state.fd, NEXT, &b, &self.display(NEXT))?;
        self.append(records)?;
        let d = self.display(STATE);
        self.state
            .fd
            .rename(NEXT, STATE)
            .map_err(|e| Error::io(&d, e))?;
        self.state.fd.sync().map_err(|e| Error::io(&d, e))
    }

    fn append(&self, records: &[CredRecord]) -> Result<()> {
        let d = self.display(JOURNAL);
        let fd = self
            .state
            .fd
            .open_append_rw(JOURNAL, 0o600)
            .map_err(|e| Error::io(&d, e))?;
        let st = fs::fstat(&fd).map_err(|e| Error::io(&d, e))?;
        if !fs::is_regular(&st) {
            return Err(Error::perm(format!("{d} is not a regular file")));
        }
        let mut text = Vec::new();
        // A torn last line (power cut) is closed first.
        if st.st_size > 0 {
            let mut b = [0u8; 1];
            fs::pread(&fd, &mut b, st.st_size - 1).map_err(|e| Error::io(&d, e))?;
            if b[0] != b'\n' {
                text.push(b'\n');
            }
        }
        for r in records {
            text.extend(serde_json::to_vec(r).expect("record serialises"));
            text.push(b'\n');
        }
        let mut f = File::from(fd);
        f.write_all(&text)
            .and_then(|_| f.sync_data())
            .map_err(|e| io(&d, e))
    }

    /// Every record in the journal (unparseable lines skipped).
    pub fn records(&self) -> Result<Vec<CredRecord>> {
        let d = self.display(JOURNAL);
        Ok(parse(
            &read_private(&self.state.fd, JOURNAL, &d)?.unwrap_or_default(),
        ))
    }
}

fn parse(text: &[u8]) -> Vec<CredRecord> {
    text.split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

/// What the watcher watches, one line, for the service's `status` (`watch.status`).
pub const STATUS: &str = "watch.status";

pub fn write_status(root: &Root, line: &str) -> Result<()> {
    let state = StateDir::open(root, true)?.expect("created");
    let d = format!("{}/{STATUS}", state.display);
    write_private(&state.fd, STATUS, format!("{line}\n").as_bytes(), &d)
}

/// The credential journal of a root, for `events` and `audit` (empty when missing).
pub fn read_records(root: &Root) -> Result<(Vec<CredRecord>, Option<String>)> {
    let Some(state) = StateDir::open(root, false)? else {
        return Ok((Vec::new(), None));
    };
    let d = format!("{}/{JOURNAL}", state.display);
    let text = read_private(&state.fd, JOURNAL, &d)?;
    Ok((parse(&text.unwrap_or_default()), Some(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_python() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(bytes([7]*32), b"abc",
        //   hashlib.sha256).hexdigest())'
        let h: String = hmac(&[7u8; 32], b"abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            h,
            "127da4ced6a839b8f6118bc244684d2663e70cb5ff0adeefca89d7e74d5a0525"
        );
        let k1 = [7u8; 32];
        let k2 = [8u8; 32];
        let a = hmac_hex(&k1, &[b"admin", b"$1$$x"]);
        assert_eq!(a.len(), 64);
        assert_ne!(a, hmac_hex(&k2, &[b"admin", b"$1$$x"]));
        assert_ne!(a, hmac_hex(&k1, &[b"admin$", b"1$$x"]));
        assert_eq!(a, hmac_hex(&k1, &[b"admin", b"$1$$x"]));
    }

    #[test]
    fn next_is_committed_only_when_its_records_are_in() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let (st, saved) = Store::open(&root).unwrap();
        assert!(saved.is_none());
        let s1 = Saved {
            seq: 1,
            ..Saved::default()
        };
        st.save(&s1).unwrap();
        // A kill after `next` was written but before its records: dropped.
        let s2 = Saved {
            seq: 2,
            ..Saved::default()
        };
        let b = serde_json::to_vec(&s2).unwrap();
        write_private(&st.state.fd, NEXT, &b, "next").unwrap();
        let (st, saved) = Store::open(&root).unwrap();
        assert_eq!(saved.unwrap().seq, 1);
        // A kill after the records: committed.
        write_private(&st.state.fd, NEXT, &b, "next").unwrap();
        st.append(&[CredRecord {
            event: CredEvent::CredentialChange.into(),
            user: "admin".into(),
            stores: vec![],
            class: None,
            backup: None,
            agree: true,
            seen: Seen::Live.into(),
            time: String::new(),
            unix_ms: 0,
            seq: 2,
        }])
        .unwrap();
        let (st, saved) = Store::open(&root).unwrap();
        assert_eq!(saved.unwrap().seq, 2);
        assert_eq!(st.records().unwrap().len(), 1);
        use std::os::unix::fs::PermissionsExt;
        for f in [KEY, STATE, JOURNAL] {
            let m = std::fs::metadata(dir.path().join("var/lib/qrescue").join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(m & 0o777, 0o600, "{f}");
        }
    }
}
