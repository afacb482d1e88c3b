//! The credential-store watch: the effect of a reset, seen on every model.
//!
//! Stock QTS exposes no input device for the reset button on most models (the firmware
//! reads it), but what a reset does is visible everywhere: the administrator's entries in
//! the credential stores change. This watch sleeps on inotify watches of the directories
//! holding the stores (the `/etc/config` target and separate runtime copies; rebuilt after
//! every change, so rename-replacement, re-creation and a swapped directory symlink are all
//! followed) and, for every change of an administrator's entry, writes one record to
//! `credentials.jsonl` (fdatasync) and one syslog line. No timers while idle: a short
//! settling pause only after a change (to see a multi-file change as one).
//!
//! Records never hold a password, a hash, or anything derived from one; the last state
//! is kept as HMACs under a private key (see `state.rs`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::sys::event::{PollFd, PollFlags, PollTimeout, poll};

use super::state::{self, CredClass, CredEvent, CredRecord, Saved, SavedUser, Seen, Store};
use crate::account;
use crate::backup;
use crate::error::Result;
use crate::factory::is_factory_default;
use crate::info::Adapter;
use crate::snapshot::Snapshot;
use crate::stores::{Kind, Stores};
use crate::sys::dirwatch::DirWatch;
use crate::sys::root::Root;

/// Quiet time that ends a burst of changes (a transaction replaces several files).
const SETTLE: Duration = Duration::from_millis(300);
/// A burst longer than this is recorded anyway.
const SETTLE_MAX: Duration = Duration::from_secs(3);
/// How long a qrescue transaction under way (its intent record present) is waited for.
const TXN_WAIT: Duration = Duration::from_secs(10);

/// One administrator's entry in one store, now.
struct Entry {
    /// Logical name (`/etc/config/shadow`).
    name: String,
    kind: Kind,
    /// Real path inside the root (as backups name it).
    real: String,
    /// The password field (kept in memory only).
    field: Option<String>,
}

struct UserNow {
    entries: Vec<Entry>,
    agree: bool,
    locked: bool,
}

/// What one look at the stores found.
struct Scan {
    saved: Saved,
    users: BTreeMap<String, UserNow>,
    /// Directories to watch (host paths) and the entry names that matter in them.
    dirs: Vec<PathBuf>,
    names: Vec<OsString>,
    /// `/etc/config` (and `/etc` when it holds separate copies).
    summary: String,
}

fn basename(p: &str) -> OsString {
    Path::new(p).file_name().unwrap_or_default().to_os_string()
}

/// The name a store is shown by: its `/etc/config` name when it has one.
fn shown(names: &[String]) -> String {
    names
        .iter()
        .find(|n| n.starts_with(&format!("{}/", crate::paths::QTS_CONFIG)))
        .unwrap_or(&names[0])
        .clone()
}

fn scan(root: &Root, key: &[u8; 32]) -> Result<Scan> {
    let stores = Stores::discover(root)?;
    let snapshot = Snapshot::read(&stores)?;
    let mut files = BTreeMap::new();
    for l in &snapshot.files {
        let real = l.file.real.to_string_lossy().into_owned();
        files.insert(real, state::hmac_hex(key, &[b"file", &l.bytes]));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut names: Vec<OsString> = Vec::new();
    let mut shown_dirs: Vec<String> = Vec::new();
    let host = |real: &Path| root.path().join(real.strip_prefix("/").unwrap_or(real));
    let add_dir = |d: PathBuf, dirs: &mut Vec<PathBuf>| {
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    };
    for f in &stores.files {
        if let Some(p) = f.real.parent() {
            add_dir(host(p), &mut dirs);
        }
        names.push(basename(&f.real.to_string_lossy()));
        let s = shown(&f.names);
        let parent = s.rsplit_once('/').map_or("/", |(p, _)| p).to_string();
        if !shown_dirs.contains(&parent) && f.kind != Kind::Group {
            shown_dirs.push(parent);
        }
        for n in &f.names {
            names.push(basename(n));
            // The directory of each name, and the one above it (where a directory symlink
            // such as /etc/config itself lives).
            let mut logical = Path::new(n);
            for _ in 0..2 {
                let Some(parent) = logical.parent().filter(|p| *p != Path::new("/")) else {
                    break;
                };
                if let Some(r) = root
                    .try_resolve(&parent.to_string_lossy())
                    .ok()
                    .flatten()
                    .filter(|r| r.is_dir())
                {
                    add_dir(host(&r.real), &mut dirs);
                }
                if let Some(b) = parent.file_name() {
                    names.push(b.to_os_string());
                }
                logical = parent;
            }
        }
    }
    names.sort();
    names.dedup();
    let mut users = BTreeMap::new();
    let mut saved_users = BTreeMap::new();
    for user in crate::account::default_users(&snapshot) {
        let st = account::state(&snapshot, &user);
        let mut entries = Vec::new();
        let mut saved = SavedUser::default();
        // (account::state lists no group files: pair by path, not by position.)
        for s in &st.stores {
            let Some(f) = stores.files.iter().find(|f| f.display == s.path) else {
                continue;
            };
            let counts = match f.kind {
                Kind::Shadow | Kind::Smbpasswd => true,
                Kind::Passwd => s.fingerprint.is_some(),
                Kind::Group => false,
            };
            if !counts {
                continue;
            }
            let name = shown(&f.names);
            let field = s.fingerprint.clone().filter(|_| s.present);
            // A lock mark is not a password change: it is recorded as a lock.
            let norm = field
                .as_deref()
                .map(|v| v.trim_start_matches('!').to_string());
            let mac = state::hmac_hex(
                key,
                &[
                    b"entry",
                    user.as_bytes(),
                    norm.as_deref()
                        .map_or(b"\0absent".as_slice(), str::as_bytes),
                ],
            );
            saved.stores.insert(name.clone(), mac);
            saved.locked |= s.present && (s.locked || s.disabled);
            entries.push(Entry {
                name,
                kind: f.kind,
                real: f.real.to_string_lossy().into_owned(),
                field,
            });
        }
        saved.agree = st.agree;
        users.insert(
            user.clone(),
            UserNow {
                entries,
                agree: st.agree,
                locked: saved.locked,
            },
        );
        saved_users.insert(user, saved);
    }
    let backups = backup::list(root)
        .unwrap_or_default()
        .into_iter()
        .map(|l| l.id)
        .collect();
    Ok(Scan {
        saved: Saved {
            backups,
            seq: 0,
            seen_unix: crate::clock::now_unix(),
            users: saved_users,
            files,
        },
        users,
        dirs,
        names,
        summary: shown_dirs.join(", "),
    })
}

/// The backup qrescue took just before this change: one taken since the last look whose
/// copy of a changed file is exactly what was last seen there.
fn qrescue_backup(root: &Root, key: &[u8; 32], prev: &Saved, changed: &[&Entry]) -> Option<String> {
    let list = backup::list(root).ok()?;
    let newer = list.iter().rev().filter(|l| !prev.backups.contains(&l.id));
    for l in newer.take(8) {
        if !l.intact || l.manifest.is_none() {
            continue;
        }
        let Ok((manifest, contents)) = backup::load(root, &l.id) else {
            continue;
        };
        let hit = manifest.files.iter().zip(&contents).any(|(bf, bytes)| {
            changed.iter().any(|e| e.real == bf.path)
                && prev.files.get(&bf.path) == Some(&state::hmac_hex(key, &[b"file", bytes]))
        });
        if hit {
            return Some(manifest.id);
        }
    }
    None
}

fn record(
    event: CredEvent,
    user: &str,
    stores: Vec<String>,
    agree: bool,
    seen: Seen,
) -> CredRecord {
    let unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    CredRecord {
        event: event.into(),
        user: user.into(),
        stores,
        class: None,
        backup: None,
        agree,
        seen: seen.into(),
        time: super::journal::rfc3339_ms(unix_ms),
        unix_ms,
        seq: 0,
    }
}

/// Whether the stores agree after a change: copies of one kind hold the same hash, a change
/// reached every kind of store (crypt and NT hashes cannot be compared without the
/// password, so a change of one kind alone leaves them different), and a factory default
/// found in one kind is found in every kind.
fn agree_after(u: &UserNow, changed: &[&Entry], adapters: &[Adapter]) -> bool {
    let kinds = |es: &mut dyn Iterator<Item = &Entry>| {
        let mut k: Vec<Kind> = es.filter(|e| e.field.is_some()).map(|e| e.kind).collect();
        k.sort_by_key(|k| k.name());
        k.dedup();
        k
    };
    let present = kinds(&mut u.entries.iter());
    let touched = kinds(&mut changed.iter().copied());
    let defaults: Vec<bool> = u
        .entries
        .iter()
        .filter_map(|e| {
            e.field
                .as_deref()
                .map(|f| is_factory_default(e.kind, f, adapters))
        })
        .collect();
    u.agree
        && present.iter().all(|k| touched.contains(k))
        && (defaults.iter().all(|d| *d) || defaults.iter().all(|d| !*d))
}

/// The records for the difference between the last state and this scan.
fn diff(
    root: &Root,
    key: &[u8; 32],
    prev: &Saved,
    now: &mut Scan,
    seen: Seen,
    adapters: &[Adapter],
) -> Vec<CredRecord> {
    let mut out = Vec::new();
    for (user, u) in &now.users {
        let cur = now.saved.users.get_mut(user).expect("scanned");
        let names: Vec<String> = u.entries.iter().map(|e| e.name.clone()).collect();
        let Some(p) = prev.users.get(user) else {
            out.push(record(
                CredEvent::AdministratorAdded,
                user,
                names,
                u.agree,
                seen,
            ));
            continue;
        };
        cur.agree = p.agree;
        let changed: Vec<&Entry> = u
            .entries
            .iter()
            .filter(|e| {
                let now = cur.stores.get(&e.name);
                match p.stores.get(&e.name) {
                    Some(before) => Some(before) != now,
                    // A new copy (a runtime file replacing a symlink) is a change only if
                    // it holds what no store held before.
                    None => !p.stores.values().any(|v| Some(v) == now),
                }
            })
            .collect();
        let mut gone: Vec<String> = p
            .stores
            .iter()
            .filter(|(n, v)| !cur.stores.contains_key(*n) && !cur.stores.values().any(|c| c == *v))
            .map(|(n, _)| n)
            .cloned()
            .collect();
        if !changed.is_empty() || !gone.is_empty() {
            let mut stores: Vec<String> = changed.iter().map(|e| e.name.clone()).collect();
            stores.append(&mut gone);
            cur.agree = agree_after(u, &changed, adapters);
            let mut r = record(CredEvent::CredentialChange, user, stores, cur.agree, seen);
            if let Some(id) = qrescue_backup(root, key, prev, &changed) {
                r.class = Some(CredClass::Qrescue.into());
                r.backup = Some(id);
            } else if changed.iter().any(|e| {
                e.field
                    .as_deref()
                    .is_some_and(|f| is_factory_default(e.kind, f, adapters))
            }) {
                r.class = Some(CredClass::FactoryDefault.into());
            } else {
                r.class = Some(CredClass::Other.into());
            }
            out.push(r);
        }
        if p.locked != u.locked {
            let ev = if u.locked {
                CredEvent::AccountLocked
            } else {
                CredEvent::AccountUnlocked
            };
            out.push(record(ev, user, names, cur.agree, seen));
        }
    }
    for user in prev.users.keys().filter(|u| !now.users.contains_key(*u)) {
        out.push(record(
            CredEvent::AdministratorRemoved,
            user,
            Vec::new(),
            true,
            seen,
        ));
    }
    out
}

/// The watch: the store, the last state, and where records also go.
pub struct StoreWatch {
    root: Root,
    store: Store,
    prev: Option<Saved>,
    stdout: bool,
    adapters: Vec<Adapter>,
    last: Option<Scan>,
}

impl StoreWatch {
    /// Open the state, look at the stores once and record what changed while no watcher
    /// ran (`"seen":"at-start"`). Returns what is watched, for the start-up line.
    pub fn start(root_path: &Path, stdout: bool) -> Result<(StoreWatch, String)> {
        let root = Root::open(root_path)?;
        let (store, prev) = Store::open(&root)?;
        let (adapters, _) = crate::info::adapters(&root);
        let mut w = StoreWatch {
            root,
            store,
            prev,
            stdout,
            adapters,
            last: None,
        };
        w.look(Seen::AtStart)?;
        let summary = w
            .last
            .as_ref()
            .map(|s| s.summary.clone())
            .unwrap_or_default();
        Ok((w, summary))
    }

    /// Scan, record the differences, remember the new state.
    fn look(&mut self, seen: Seen) -> Result<()> {
        let mut now = scan(&self.root, &self.store.key)?;
        match &self.prev {
            // First run: the baseline.
            None => {
                self.store.save(&now.saved)?;
            }
            Some(prev) => {
                now.saved.seq = prev.seq;
                if prev == &now.saved {
                    // Nothing at all changed.
                } else if prev.same_entries(&now.saved) {
                    // A file changed, no administrator entry did: keep its fingerprint
                    // (for recognising the next qrescue change), record nothing.
                    now.saved.seen_unix = now.saved.seen_unix.max(prev.seen_unix);
                    self.store.save(&now.saved)?;
                } else {
                    let mut recs = diff(
                        &self.root,
                        &self.store.key,
                        prev,
                        &mut now,
                        seen,
                        &self.adapters,
                    );
                    now.saved.seq = prev.seq + 1;
                    for r in &mut recs {
                        r.seq = now.saved.seq;
                    }
                    if recs.is_empty() {
                        self.store.save(&now.saved)?;
                    } else {
                        self.store.commit(&now.saved, &recs)?;
                        for r in &recs {
                            let line = serde_json::to_string(r).expect("record serialises");
                            log::warn!("{line}");
                            if self.stdout {
                                super::daemon::print_json_line(r);
                            }
                        }
                    }
                }
            }
        }
        self.prev = Some(now.saved.clone());
        self.last = Some(now);
        Ok(())
    }

    /// Watch until the process ends (run on its own thread).
    pub fn run(mut self) {
        let mut said_ready = false;
        loop {
            let dw = match DirWatch::new() {
                Ok(d) => d,
                Err(e) => {
                    log::error!("store watch stopped: {}", e);
                    return;
                }
            };
            if let Some(s) = &self.last {
                for d in &s.dirs {
                    if let Err(e) = dw.add(d) {
                        log::warn!("store watch: {}: {e}", d.display());
                    }
                }
            }
            // Look again now that the watches are in place: nothing between is missed.
            if let Err(e) = self.look(Seen::Live) {
                log::warn!("store watch: {}", e);
            }
            if !said_ready {
                log::info!(
                    "watching the credential stores in {}",
                    self.last.as_ref().map_or("", |s| s.summary.as_str())
                );
                said_ready = true;
            }
            let names = self
                .last
                .as_ref()
                .map(|s| s.names.clone())
                .unwrap_or_default();
            self.wait(&dw, &names);
        }
    }

    fn wait(&self, dw: &DirWatch, names: &[OsString]) {
        let poll_once = |ms: Option<u16>| {
            let mut fds = [PollFd::new(dw.fd(), PollFlags::POLLIN)];
            let t = ms.map_or(PollTimeout::NONE, PollTimeout::from);
            matches!(poll(&mut fds, t), Ok(n) if n > 0)
        };
        loop {
            poll_once(None);
            let b = dw.drain();
            if b.lost || b.names.iter().any(|n| names.contains(n)) {
                break;
            }
        }
        let start = Instant::now();
        while start.elapsed() < SETTLE_MAX && poll_once(Some(SETTLE.as_millis() as u16)) {
            dw.drain();
        }
        let start = Instant::now();
        while self.store.has(crate::txn::INTENT) && start.elapsed() < TXN_WAIT {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
