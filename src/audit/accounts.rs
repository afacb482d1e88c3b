//! The accounts across their stores: copies that disagree, Samba out of step with the
//! shadow file, weak hash schemes, empty passwords, a locked `admin`.

use zeroize::Zeroizing;

use super::{Audited, Finding, Remedy, Severity};
use crate::account::StoreState;
use crate::hash::{self, Scheme, Verdict};
use crate::stores::Kind;

/// A store holding the account's crypt hash (shadow, or passwd on a shadow-less root).
fn crypt_stores(a: &Audited) -> impl Iterator<Item = &StoreState> {
    a.state
        .stores
        .iter()
        .filter(|s| s.kind == Kind::Shadow || (s.kind == Kind::Passwd && s.fingerprint.is_some()))
}

fn smb_stores(a: &Audited) -> impl Iterator<Item = &StoreState> {
    a.state.stores.iter().filter(|s| s.kind == Kind::Smbpasswd)
}

/// The account can log in with a password somewhere (present, hashed, not locked).
fn usable(a: &Audited) -> bool {
    crypt_stores(a).any(|s| {
        s.present
            && !s.locked
            && !s.disabled
            && s.fingerprint.as_deref().is_some_and(|f| !f.is_empty())
    })
}

/// The account cannot log in with a password anywhere: every entry is locked (`!`/`*`
/// hash) or disabled, as for QTS's system accounts (`httpdusr`, `[sshd]`).
pub fn cannot_log_in(a: &Audited) -> bool {
    let present: Vec<&StoreState> = a
        .state
        .stores
        .iter()
        .filter(|s| s.present && s.kind != Kind::Group)
        .filter(|s| s.kind != Kind::Passwd || s.fingerprint.is_some())
        .collect();
    !present.is_empty()
        && present.iter().all(|s| {
            s.locked
                || s.disabled
                || (s.kind != Kind::Smbpasswd
                    && s.fingerprint.as_deref().is_some_and(|f| f.starts_with('*')))
        })
}

fn is_admin(a: &Audited) -> bool {
    a.state.administrator || a.state.user == crate::account::DEFAULT_USER
}

pub fn check(audited: &[Audited], findings: &mut Vec<Finding>) {
    for a in audited {
        disagree(a, findings);
        samba_vs_shadow(a, findings);
        weak_scheme(a, findings);
        empty_password(a, findings);
    }
    locked_admin(audited, findings);
}

fn disagree(a: &Audited, findings: &mut Vec<Finding>) {
    let user = a.state.user.as_str();
    for kind in [Kind::Shadow, Kind::Passwd, Kind::Smbpasswd] {
        let copies: Vec<&StoreState> = a
            .state
            .stores
            .iter()
            .filter(|s| s.kind == kind && (kind != Kind::Passwd || s.fingerprint.is_some()))
            .collect();
        let differs = copies
            .windows(2)
            .any(|w| (w[0].present, &w[0].fingerprint) != (w[1].present, &w[1].fingerprint));
        if differs {
            let paths: Vec<&str> = copies.iter().map(|s| s.path.as_str()).collect();
            findings.push(Finding::new(
                Severity::High,
                "stores-disagree",
                Some(user),
                Some(paths[0]),
                format!(
                    "the {} copies hold different entries: {} (the password depends on which copy is read, and may change at reboot)",
                    kind.name(),
                    paths.join(", ")
                ),
                format!("set one password in every copy: qrescue passwd {user}"),
            )
                .remedy(Remedy::SetPassword));
        }
    }
}

fn samba_vs_shadow(a: &Audited, findings: &mut Vec<Finding>) {
    let user = a.state.user.as_str();
    let crypt_usable = usable(a);
    let crypt_off = crypt_stores(a).any(|s| s.present && (s.locked || s.disabled));
    for s in smb_stores(a).filter(|s| s.present) {
        if crypt_usable && s.fingerprint.is_none() && !s.disabled {
            findings.push(Finding::new(
                Severity::Medium,
                "stores-disagree",
                Some(user),
                Some(&s.path),
                "Samba has no NT hash (or needs no password) while the shadow file has a password: SMB logins do not use the account's password",
                format!("set the password in every store: qrescue passwd {user}"),
            )
                .remedy(Remedy::SetPassword));
        }
        if s.disabled != crypt_off {
            let (off, on) = if s.disabled {
                ("Samba", "the shadow file")
            } else {
                ("the shadow file", "Samba")
            };
            findings.push(Finding::new(
                Severity::Medium,
                "stores-disagree",
                Some(user),
                Some(&s.path),
                format!("the account is disabled or locked in {off} but not in {on}"),
                "enable or disable the account in QTS's user settings (it updates both)",
            ));
        }
    }
}

fn weak_scheme(a: &Audited, findings: &mut Vec<Finding>) {
    let user = a.state.user.as_str();
    for s in crypt_stores(a).filter(|s| s.present) {
        let Some(field) = s.fingerprint.as_deref() else {
            continue;
        };
        let info = hash::inspect(field);
        let what = match info.scheme {
            Some(Scheme::Md5) if info.empty_salt => {
                "MD5-crypt with an empty salt (identical passwords give identical hashes; fast to guess)"
            }
            Some(Scheme::Md5) => "MD5-crypt (fast to guess)",
            Some(Scheme::Des) => "DES crypt (8 characters at most; fast to guess)",
            _ => continue,
        };
        findings.push(Finding::new(
            Severity::Medium,
            "weak-scheme",
            Some(user),
            Some(&s.path),
            format!("the password hash uses {what}"),
            format!(
                "qrescue passwd {user} --scheme sha512 — QTS firmware that wrote this scheme may depend on it: test the web and SSH login afterwards, and keep the backup to restore"
            ),
        )
            .remedy(Remedy::SetPassword));
    }
}

fn empty_password(a: &Audited, findings: &mut Vec<Finding>) {
    let user = a.state.user.as_str();
    let severity = if is_admin(a) {
        Severity::High
    } else {
        Severity::Medium
    };
    let empty_nt = Zeroizing::new(hash::nt_hash_hex(b""));
    for s in a.state.stores.iter().filter(|s| s.present) {
        let Some(field) = s.fingerprint.as_deref() else {
            continue;
        };
        let empty = match s.kind {
            Kind::Smbpasswd => field.eq_ignore_ascii_case(&empty_nt),
            Kind::Shadow | Kind::Passwd => {
                field.is_empty() || hash::verify(b"", field) == Verdict::Match
            }
            Kind::Group => false,
        };
        if empty && !s.disabled {
            findings.push(
                Finding::new(
                    severity,
                    "empty-password",
                    Some(user),
                    Some(&s.path),
                    "the account has an empty password: anyone can log in as it",
                    format!("set a password: qrescue passwd {user}"),
                )
                .remedy(Remedy::SetPassword),
            );
        }
    }
}

fn locked_admin(audited: &[Audited], findings: &mut Vec<Finding>) {
    let Some(admin) = audited
        .iter()
        .find(|a| a.state.user == crate::account::DEFAULT_USER && a.state.exists)
    else {
        return;
    };
    let Some(s) = crypt_stores(admin).find(|s| s.present && (s.locked || s.disabled)) else {
        return;
    };
    let others: Vec<&str> = audited
        .iter()
        .filter(|a| a.state.user != crate::account::DEFAULT_USER && is_admin(a) && usable(a))
        .map(|a| a.state.user.as_str())
        .collect();
    if others.is_empty() {
        findings.push(Finding::new(
            Severity::High,
            "locked-admin",
            Some("admin"),
            Some(&s.path),
            "admin is locked or disabled and no other administrator can log in with a password",
            "qrescue passwd admin sets a usable password (then enable admin in QTS, or create another administrator)",
        )
            .remedy(Remedy::UnlockLastAdmin));
    } else {
        findings.push(Finding::new(
            Severity::Info,
            "locked-admin",
            Some("admin"),
            Some(&s.path),
            format!(
                "admin is locked or disabled (as QNAP recommends); other administrators: {}",
                others.join(", ")
            ),
            "nothing to do; a basic reset (3 s) re-enables admin with the factory default",
        ));
    }
}
