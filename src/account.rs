//! One account across every store: what `status` shows, what `passwd` writes, what
//! `verify` checks.

use serde::Serialize;

use crate::clock;
use crate::error::{Error, Result};
use crate::formats::colon;
use crate::formats::secret::{self, NewSecret, SecretFormat, SecretKind};
use crate::formats::{group, passwd, shadow, smbpasswd};
use crate::hash::{self, Verdict};
use crate::snapshot::{Edit, Snapshot};
use crate::stores::{Kind, StoreFile};

/// Default account when none is named: the administrator QTS creates.
pub const DEFAULT_USER: &str = "admin";

/// Where the account's crypt hash lives.
fn hash_kind(snapshot: &Snapshot<'_>) -> Kind {
    if snapshot.of(Kind::Shadow).next().is_some() {
        Kind::Shadow
    } else {
        Kind::Passwd
    }
}

/// The rules for the secret a store of `kind` holds (`None`: a group file holds none).
pub fn secret_format(kind: Kind) -> Option<&'static dyn SecretFormat> {
    match kind {
        Kind::Shadow => Some(&secret::SHADOW),
        Kind::Passwd => Some(&secret::PASSWD),
        Kind::Smbpasswd => Some(&secret::Smbpasswd),
        Kind::Group => None,
    }
}

/// The account's entry in `file`, by its format's rules.
fn find_line<'a>(file: &StoreFile, bytes: &'a [u8], user: &str) -> Result<Option<colon::Line<'a>>> {
    match secret_format(file.kind) {
        Some(format) => format.find(bytes, user),
        None => secret::find_exact(bytes, user),
    }
    .map_err(|m| Error::data(format!("{}: {m}", file.display)))
}

/// One store's view of the account.
#[derive(Debug, Serialize)]
pub struct StoreState {
    pub path: String,
    pub kind: Kind,
    pub names: Vec<String>,
    pub persistent: bool,
    pub present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_change: Option<String>,
    pub locked: bool,
    pub disabled: bool,
    pub no_password: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Opaque fingerprint to compare copies (never shown): the hash field itself.
    #[serde(skip)]
    pub fingerprint: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AccountState {
    pub user: String,
    pub exists: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    pub groups: Vec<String>,
    pub administrator: bool,
    pub stores: Vec<StoreState>,
    /// Copies of the same kind hold the same hash.
    pub agree: bool,
}

/// Describe `user` in every store (read-only).
pub fn state(snapshot: &Snapshot<'_>, user: &str) -> AccountState {
    let hk = hash_kind(snapshot);
    let mut out = AccountState {
        user: user.to_string(),
        exists: false,
        uid: None,
        groups: Vec::new(),
        administrator: false,
        stores: Vec::new(),
        agree: true,
    };
    let mut gid = None;
    for loaded in &snapshot.files {
        let (file, bytes) = (loaded.file, &loaded.bytes[..]);
        let mut st = StoreState {
            path: file.display.clone(),
            kind: file.kind,
            names: file.names.clone(),
            persistent: file.persistent,
            present: false,
            scheme: None,
            last_change: None,
            locked: false,
            disabled: false,
            no_password: false,
            problem: None,
            fingerprint: None,
        };
        let line = match find_line(file, bytes, user) {
            Ok(l) => l,
            Err(e) => {
                st.problem = Some(e.to_string());
                out.stores.push(st);
                continue;
            }
        };
        match (file.kind, line) {
            (Kind::Group, _) => {
                for g in group::all(bytes) {
                    if g.members.iter().any(|m| m.eq_ignore_ascii_case(user)) || Some(g.gid) == gid
                    {
                        if !out.groups.contains(&g.name) {
                            out.groups.push(g.name.clone());
                        }
                        if g.gid == 0 || g.name == "administrators" {
                            out.administrator = true;
                        }
                    }
                }
                continue;
            }
            (_, None) => {}
            (Kind::Passwd, Some(l)) => match passwd::parse(&l) {
                Ok(e) => {
                    st.present = true;
                    out.exists = true;
                    out.uid = Some(e.uid);
                    gid = Some(e.gid);
                    if e.uid == 0 {
                        out.administrator = true;
                    }
                    if hk == Kind::Passwd {
                        describe_hash(&mut st, &e.password);
                    }
                }
                Err(m) => st.problem = Some(m.to_string()),
            },
            (Kind::Shadow, Some(l)) => match shadow::parse(&l) {
                Ok(e) => {
                    st.present = true;
                    describe_hash(&mut st, &e.hash);
                    st.last_change = e.last_change.map(clock::date_of_day);
                    if let Some(exp) = e.expire {
                        st.disabled = exp <= clock::today();
                    }
                }
                Err(m) => st.problem = Some(m.to_string()),
            },
            (Kind::Smbpasswd, Some(l)) => match smbpasswd::parse(&l) {
                Ok(e) => {
                    st.present = true;
                    st.scheme = Some("nt".into());
                    st.disabled = e.disabled();
                    st.no_password = e.no_password() || e.nt_hash.is_none();
                    st.last_change = e.last_change.map(clock::rfc3339);
                    st.fingerprint = e.nt_hash;
                }
                Err(m) => st.problem = Some(m.to_string()),
            },
        }
        out.stores.push(st);
    }
    // Group file(s) are read for membership only; do not list them as account stores.
    for kind in [Kind::Shadow, Kind::Passwd, Kind::Smbpasswd] {
        let prints: Vec<_> = out
            .stores
            .iter()
            .filter(|s| s.kind == kind && (kind != Kind::Passwd || hk == Kind::Passwd))
            .map(|s| (s.present, s.fingerprint.clone()))
            .collect();
        if prints.windows(2).any(|w| w[0] != w[1]) {
            out.agree = false;
        }
    }
    out
}

fn describe_hash(st: &mut StoreState, field: &str) {
    let info = hash::inspect(field);
    st.locked = info.locked;
    st.no_password = info.empty;
    st.scheme = info.scheme.map(|s| {
        if info.empty_salt {
            format!("{}-empty-salt", s.name())
        } else {
            s.name().to_string()
        }
    });
    st.fingerprint = Some(field.to_string());
}

/// The scheme the account uses now (first store that has a hash), to keep its family.
pub fn current_hash_info(snapshot: &Snapshot<'_>, user: &str) -> Option<hash::HashInfo> {
    let hk = hash_kind(snapshot);
    for loaded in &snapshot.files {
        let (file, bytes) = (loaded.file, &loaded.bytes[..]);
        if file.kind != hk {
            continue;
        }
        if let Ok(Some(l)) = find_line(file, bytes, user) {
            let format = secret_format(file.kind)?;
            let field = format
                .secret(&l)
                .map(|f| String::from_utf8_lossy(f).into_owned())?;
            return Some(hash::inspect(&field));
        }
    }
    None
}

/// Require the account to exist in a passwd file.
pub fn require_user(snapshot: &Snapshot<'_>, user: &str) -> Result<()> {
    for loaded in snapshot.of(Kind::Passwd) {
        if find_line(loaded.file, &loaded.bytes, user)?.is_some() {
            return Ok(());
        }
    }
    Err(Error::NoSuchUser {
        user: user.to_string(),
        looked_in: snapshot
            .stores
            .of(Kind::Passwd)
            .map(|f| f.display.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// New contents for every file that holds the account's password.
pub fn plan_password<'a>(
    snapshot: &Snapshot<'a>,
    user: &str,
    crypt_hash: &str,
    nt_hex: &str,
    unlock: bool,
    skipped: &mut Vec<String>,
) -> Result<Vec<Edit<'a>>> {
    let has_shadow = snapshot.of(Kind::Shadow).next().is_some();
    let new_secret = NewSecret {
        crypt: crypt_hash,
        nt_hex,
    };
    let how = secret::Change {
        unlock,
        today: clock::today(),
        now: clock::now_unix(),
    };
    let mut out = Vec::with_capacity(snapshot.files.len());
    for loaded in &snapshot.files {
        let (file, bytes) = (loaded.file, &loaded.bytes[..]);
        let line = find_line(file, bytes, user)?;
        let malformed = |m: colon::Malformed| {
            Error::malformed(&file.display, m.line, m.problem).followed_by("nothing was changed")
        };
        let new_line = match (file.kind, line) {
            (Kind::Group, _) => None,
            (kind, Some(l)) => {
                let format = secret_format(kind).expect("group files are matched above");
                let new = format
                    .with_secret(&l, &new_secret, how)
                    .map_err(malformed)?;
                // passwd holds the hash only without shadow (its entry must be sound anyway).
                (kind != Kind::Passwd || !has_shadow).then(|| (l.span.clone(), new))
            }
            (Kind::Shadow, None) => {
                return Err(Error::data(format!(
                    "{}: no entry for {user}; nothing was changed",
                    file.display
                )));
            }
            (Kind::Passwd, None) => {
                if !has_shadow {
                    return Err(Error::data(format!(
                        "{}: no entry for {user}; nothing was changed",
                        file.display
                    )));
                }
                None
            }
            (Kind::Smbpasswd, None) => {
                skipped.push(format!(
                    "{}: {user} has no Samba entry (SMB login not set up); left as is",
                    file.display
                ));
                None
            }
        };
        if let Some((span, line)) = new_line {
            out.push(Edit {
                file,
                new: colon::replace_line(bytes, &span, &line),
            });
        }
    }
    Ok(out)
}

/// Default accounts: `admin` plus every member of the administrators group (gid 0, or named
/// `administrators`), listed or by primary group, in passwd order.
pub fn default_users(snapshot: &Snapshot<'_>) -> Vec<String> {
    let mut admin_gids = Vec::new();
    let mut members: Vec<String> = Vec::new();
    for loaded in snapshot.of(Kind::Group) {
        for g in group::all(&loaded.bytes) {
            if g.gid == 0 || g.name == "administrators" {
                admin_gids.push(g.gid);
                members.extend(g.members.iter().cloned());
            }
        }
    }
    if admin_gids.is_empty() {
        admin_gids.push(0);
    }
    let mut out: Vec<String> = Vec::new();
    let mut push = |name: &str| {
        if !out.iter().any(|u| u.eq_ignore_ascii_case(name)) {
            out.push(name.to_string());
        }
    };
    for loaded in snapshot.of(Kind::Passwd) {
        let entries: Vec<_> = colon::lines(&loaded.bytes)
            .filter(|l| l.is_entry())
            .filter_map(|l| passwd::parse(&l).ok())
            .collect();
        if entries.iter().any(|e| e.name == DEFAULT_USER) {
            push(DEFAULT_USER);
        }
        for e in &entries {
            if admin_gids.contains(&e.gid)
                || members.iter().any(|m| m.eq_ignore_ascii_case(&e.name))
            {
                push(&e.name);
            }
        }
    }
    out
}

pub use crate::formats::secret::is_lock;

/// After a change: the file must now accept `password` for `user`.
/// After a change: the account's hash fields as read back from disk are exactly the ones
/// generated for the new password (`crypt_hash`, `nt_hex`). Comparing the strings is the
/// proof: re-running crypt() here would only repeat the same computation (the generator is
/// checked against glibc, libxcrypt, OpenSSL and Samba by the oracle tests).
pub fn check_password(
    file: &StoreFile,
    bytes: &[u8],
    user: &str,
    crypt_hash: &str,
    nt_hex: &str,
) -> Result<()> {
    let fail = |what: &str| {
        Err(Error::failed(format!(
            "{}: {what} after the change",
            file.display
        )))
    };
    let Some(line) = find_line(file, bytes, user)? else {
        return fail("the entry is missing");
    };
    let Some(format) = secret_format(file.kind) else {
        return Ok(());
    };
    let new = NewSecret {
        crypt: crypt_hash,
        nt_hex,
    };
    if !format.holds(&line, &new) {
        return fail(match format.kind() {
            SecretKind::Crypt => "the new hash is not in place",
            SecretKind::Nt => "the NT hash does not match",
        });
    }
    Ok(())
}

/// `verify`: does `password` match every store that holds a hash for `user`?
#[derive(Debug, Serialize)]
pub struct VerifyResult {
    pub path: String,
    pub kind: Kind,
    /// "match", "mismatch", "unsupported: SCHEME", "no password", "locked", "absent"
    pub result: String,
    pub ok: bool,
    /// The entry is locked (`passwd --unlock` would be needed to log in with it).
    #[serde(skip)]
    pub locked: bool,
}

pub fn verify_all(
    snapshot: &Snapshot<'_>,
    user: &str,
    password: &[u8],
) -> Result<Vec<VerifyResult>> {
    let hk = hash_kind(snapshot);
    let mut out = Vec::new();
    for loaded in &snapshot.files {
        let (file, bytes) = (loaded.file, &loaded.bytes[..]);
        let Some(format) = secret_format(file.kind) else {
            continue;
        };
        if file.kind == Kind::Passwd && hk != Kind::Passwd {
            continue;
        }
        let line = find_line(file, bytes, user)?;
        let mut locked = false;
        let (result, ok) = match (format.kind(), line) {
            (kind, None) => ("absent".to_string(), kind == SecretKind::Nt),
            (SecretKind::Nt, Some(l)) => {
                let e = smbpasswd::parse(&l)
                    .map_err(|m| Error::malformed(&file.display, m.line, m.problem))?;
                match e.nt_hash {
                    None => ("no password".to_string(), false),
                    Some(h) if h == hash::nt_hash_hex(password) => ("match".to_string(), true),
                    Some(_) => ("mismatch".to_string(), false),
                }
            }
            (SecretKind::Crypt, Some(l)) => {
                let field =
                    String::from_utf8_lossy(format.secret(&l).unwrap_or_default()).into_owned();
                let info = hash::inspect(&field);
                let verdict = hash::verify(password, &field);
                locked = matches!(verdict, Verdict::NoHash if !info.empty)
                    || matches!(verdict, Verdict::Match if info.locked);
                match verdict {
                    Verdict::Match if info.locked => ("match (account locked)".to_string(), true),
                    Verdict::Match => ("match".to_string(), true),
                    Verdict::Mismatch => ("mismatch".to_string(), false),
                    Verdict::Unsupported(s) => (format!("unsupported scheme {}", s.name()), false),
                    Verdict::NoHash if info.empty => ("no password set".to_string(), false),
                    Verdict::NoHash => ("locked (no hash)".to_string(), false),
                    Verdict::TooCostly(r) => (
                        format!(
                            "not checked: rounds={r} is above the ceiling of {} (set a new password)",
                            hash::VERIFY_ROUNDS_MAX
                        ),
                        false,
                    ),
                }
            }
        };
        out.push(VerifyResult {
            path: file.display.clone(),
            kind: file.kind,
            result,
            ok,
            locked,
        });
    }
    Ok(out)
}
