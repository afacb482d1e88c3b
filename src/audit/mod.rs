//! `qrescue audit`: read-only findings about the credentials of the administrators.
//!
//! Each check lives in its own module and adds [`Finding`]s: factory-default passwords
//! (`defaults`), the accounts across stores (`accounts`), reset-button holds since the last
//! change (`resets`), permissions and leftovers (`files`). Nothing here writes, locks or
//! cleans: the state directory is never created. Messages never contain a password, a
//! candidate or a hash. The rules and their sources: docs/audit.md.

mod accounts;
mod defaults;
mod exposure;
mod files;
mod resets;

use serde::Serialize;

use crate::account::{self, AccountState};
use crate::error::Result;
use crate::snapshot::Snapshot;
use crate::sys::root::Root;

/// How bad a finding is. `high` makes `audit` exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Info => "INFO",
        }
    }
}

/// What a finding's fix does, so later passes find the fixes that set a password by their
/// kind, not by the words of the fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remedy {
    /// `qrescue passwd USER`: set a new password. Wrong for an account that cannot log in
    /// (a password would let it), so `run` replaces such fixes for those accounts.
    SetPassword,
    /// `qrescue passwd admin` to give the last administrator, locked, a usable password: kept
    /// for an account that cannot log in, since that is exactly who must get one.
    UnlockLastAdmin,
    /// Anything else (permissions, settings, by hand).
    Other,
}

/// One finding: a stable `id`, who or what it concerns, and a one-line fix.
#[derive(Debug, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub id: &'static str,
    pub user: Option<String>,
    /// The first store concerned (see `stores` for all of them).
    pub path: Option<String>,
    /// Every store with this same problem for this account (one finding, not one per store).
    pub stores: Vec<String>,
    pub message: String,
    pub fix: String,
    /// What `fix` does (not printed: the text says it).
    #[serde(skip)]
    pub remedy: Remedy,
}

impl Finding {
    pub fn new(
        severity: Severity,
        id: &'static str,
        user: Option<&str>,
        path: Option<&str>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            severity,
            id,
            user: user.map(str::to_string),
            path: path.map(str::to_string),
            stores: path.map(str::to_string).into_iter().collect(),
            message: message.into(),
            fix: fix.into(),
            remedy: Remedy::Other,
        }
    }

    /// The same finding, its fix being `remedy`.
    pub fn remedy(self, remedy: Remedy) -> Finding {
        Finding { remedy, ..self }
    }

    /// `admin (/etc/config/shadow, /etc/config/smbpasswd)`, `admin`, or the paths.
    pub fn subject(&self) -> String {
        let paths = self.stores.join(", ");
        match (&self.user, self.stores.is_empty()) {
            (Some(u), false) => format!("{u} ({paths})"),
            (Some(u), true) => u.clone(),
            (None, false) => paths,
            (None, true) => "system".to_string(),
        }
    }
}

/// Everything `audit` reports.
#[derive(Debug, Serialize)]
pub struct Report {
    pub root: String,
    /// The accounts checked.
    pub users: Vec<String>,
    /// Whether a Cloud Key was given to test.
    pub cloud_key_checked: bool,
    pub findings: Vec<Finding>,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

/// One audited account: its state in every store and whether it is an administrator.
pub struct Audited {
    pub state: AccountState,
}

/// More backup sets than this get an info finding pointing to `backups --prune`.
const MANY_BACKUPS: usize = 50;

fn many_backups(root: &Root, findings: &mut Vec<Finding>) {
    let Ok(sets) = crate::backup::list(root) else {
        return;
    };
    if sets.len() > MANY_BACKUPS {
        findings.push(Finding::new(
            Severity::Info,
            "many-backups",
            None,
            None,
            format!(
                "{} backup sets are kept (each holds copies of the credential files)",
                sets.len()
            ),
            "keep the newest 20: qrescue backups --prune --keep 20",
        ));
    }
}

/// One finding per account and problem: findings that differ only in the store are merged,
/// listing every store, in the order found.
fn merge(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for f in findings {
        if let Some(same) = out.iter_mut().find(|o| {
            (o.severity, o.id, &o.user, &o.message, &o.fix, o.remedy)
                == (f.severity, f.id, &f.user, &f.message, &f.fix, f.remedy)
        }) {
            for p in f.stores {
                if !same.stores.contains(&p) {
                    same.stores.push(p);
                }
            }
            continue;
        }
        out.push(f);
    }
    out
}

/// An account that cannot log in (`cannot`) is not told to set a password: it would enable
/// it. Its fixes that set one are replaced; a locked last administrator keeps its own.
fn no_password_for(findings: &mut [Finding], cannot: &[&str]) {
    for f in findings
        .iter_mut()
        .filter(|f| f.remedy == Remedy::SetPassword)
    {
        if let Some(user) = f.user.as_deref().filter(|u| cannot.contains(u)) {
            f.fix = format!(
                "none needed: {user} cannot log in with a password (locked or disabled in every store); \
                 setting one would let it"
            );
        }
    }
}

/// qrescue's own commands, as the checks write them in a fix.
const OWN_COMMANDS: &[&str] = &["passwd", "status", "backups", "restore", "verify", "audit"];

/// A fix as printed must act where the audit looked: every `qrescue CMD` in it becomes the
/// invocation that reached this root (`qrescue --root DIR CMD`), and a user name that a
/// shell would split is quoted.
fn pasteable(fix: &str, invocation: &str, user: Option<&str>) -> String {
    let mut out = String::with_capacity(fix.len() + invocation.len());
    let mut rest = fix;
    while let Some(i) = rest.find("qrescue ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "qrescue ".len()..];
        let word = after.split([' ', ',', ';', ')']).next().unwrap_or("");
        if OWN_COMMANDS.contains(&word) {
            out.push_str(invocation);
            out.push(' ');
            out.push_str(word);
            rest = &after[word.len()..];
            if word == "passwd"
                && let Some(u) = user
                && let Some(tail) = rest.strip_prefix(&format!(" {u}"))
                && (tail.is_empty() || tail.starts_with([' ', ',', ';', ')']))
            {
                out.push(' ');
                out.push_str(&crate::context::shell_quote(u));
                rest = tail;
            }
        } else {
            out.push_str("qrescue ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Run every check for `users` (which must exist). `cloud_key`: the label's key, already
/// normalised (upper case, letters and digits only). `invocation`: the command prefix that
/// reached this root (`Context::invocation`), put into every fix.
pub fn run(
    root: &Root,
    snapshot: &Snapshot<'_>,
    users: &[String],
    cloud_key: Option<&[u8]>,
    invocation: &str,
) -> Result<Report> {
    let audited: Vec<Audited> = users
        .iter()
        .map(|u| Audited {
            state: account::state(snapshot, u),
        })
        .collect();
    let mut findings = Vec::new();
    let (adapters, _) = crate::info::adapters(root);
    for a in &audited {
        defaults::check(a, &adapters, cloud_key, &mut findings);
    }
    accounts::check(&audited, &mut findings);
    resets::check(root, &audited, &mut findings);
    files::check(root, snapshot.stores, &mut findings);
    exposure::check(snapshot, &mut findings);
    if adapters.is_empty() && root.is_host() {
        findings.push(Finding::new(
            Severity::Info,
            "no-mac-address",
            None,
            None,
            "no network adapter address found: the MAC-address default (QTS 4.4.2 to 5.1) was not tested",
            "run on the NAS itself (not on a mounted copy) to test it",
        ));
    } else if adapters.is_empty() {
        findings.push(Finding::new(
            Severity::Info,
            "no-mac-address",
            None,
            None,
            "the root has no /sys/class/net addresses and no uLinux.conf [NetDevMonitor] ethN_mac: the MAC-address default (QTS 4.4.2 to 5.1) was not tested",
            "run audit on the NAS itself to test it",
        ));
    }
    many_backups(root, &mut findings);
    let mut findings = merge(findings);
    let cannot: Vec<&str> = audited
        .iter()
        .filter(|a| accounts::cannot_log_in(a))
        .map(|a| a.state.user.as_str())
        .collect();
    no_password_for(&mut findings, &cannot);
    for f in &mut findings {
        f.fix = pasteable(&f.fix, invocation, f.user.as_deref());
    }
    // Highest severity first; the order within one severity is the checks' order.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    Ok(Report {
        root: root.path().display().to_string(),
        users: users.to_vec(),
        cloud_key_checked: cloud_key.is_some(),
        high: count(Severity::High),
        medium: count(Severity::Medium),
        low: count(Severity::Low),
        info: count(Severity::Info),
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixes replaced for an account that cannot log in are chosen by their kind: a
    /// reworded fix that sets a password is still replaced, a fix that only names
    /// `qrescue passwd` in passing is not, and the last locked administrator keeps its own.
    #[test]
    fn cannot_log_in_replaces_the_fixes_that_set_a_password() {
        let f = |user, fix: &str, remedy| {
            Finding::new(Severity::High, "x", Some(user), None, "m", fix).remedy(remedy)
        };
        let mut findings = vec![
            f("bob", "choose a new secret for bob", Remedy::SetPassword),
            f("bob", "see qrescue passwd --help", Remedy::Other),
            f("admin", "qrescue passwd admin", Remedy::UnlockLastAdmin),
            f("carol", "qrescue passwd carol", Remedy::SetPassword),
        ];
        no_password_for(&mut findings, &["bob", "admin"]);
        let fixes: Vec<&str> = findings.iter().map(|f| f.fix.as_str()).collect();
        assert_eq!(
            fixes,
            [
                "none needed: bob cannot log in with a password (locked or disabled in every store); setting one would let it",
                "see qrescue passwd --help",
                "qrescue passwd admin",
                "qrescue passwd carol",
            ]
        );
    }

    #[test]
    fn fixes_name_the_root_and_the_user() {
        let inv = "qrescue --root '/tmp/a b'";
        assert_eq!(
            pasteable("set a password: qrescue passwd admin", inv, Some("admin")),
            "set a password: qrescue --root '/tmp/a b' passwd admin"
        );
        assert_eq!(
            pasteable("qrescue passwd o'hara --scheme sha512", inv, Some("o'hara")),
            "qrescue --root '/tmp/a b' passwd 'o'\\''hara' --scheme sha512"
        );
        assert_eq!(
            pasteable("qrescue status (it rolls back)", inv, None),
            "qrescue --root '/tmp/a b' status (it rolls back)"
        );
        assert_eq!(
            pasteable("remove it; qrescue recreates it", inv, None),
            "remove it; qrescue recreates it"
        );
    }
}
