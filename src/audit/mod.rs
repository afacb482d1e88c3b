//! `qrescue audit`: read-only findings about the credentials of the administrators.
//!
//! Each check lives in its own module and adds [`Finding`]s: factory-default passwords
//! (`defaults`), the accounts across stores (`accounts`), reset-button holds since the last
//! change (`resets`), permissions and leftovers (`files`). Nothing here writes, locks or
//! cleans: the state directory is never created. Messages never contain a password, a
//! candidate or a hash. The rules and their sources: docs/audit.md.

mod accounts;
pub(crate) mod defaults;
mod exposure;
mod files;
mod resets;

use serde::Serialize;

use crate::account::{self, AccountState};
use crate::error::Result;
use crate::formats::{group, passwd};
use crate::stores::{Kind, Stores};
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

/// One finding: a stable `id`, who or what it concerns, and a one-line fix.
#[derive(Debug, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub id: &'static str,
    pub user: Option<String>,
    pub path: Option<String>,
    pub message: String,
    pub fix: String,
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
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// `admin (/etc/config/shadow)`, `admin`, or the path.
    pub fn subject(&self) -> String {
        match (&self.user, &self.path) {
            (Some(u), Some(p)) => format!("{u} ({p})"),
            (Some(u), None) => u.clone(),
            (None, Some(p)) => p.clone(),
            (None, None) => "system".to_string(),
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

/// Default accounts: `admin` plus every member of the administrators group (gid 0, or named
/// `administrators`), listed or by primary group, in passwd order.
pub fn default_users(stores: &Stores, contents: &[Vec<u8>]) -> Vec<String> {
    let mut admin_gids = Vec::new();
    let mut members: Vec<String> = Vec::new();
    for (file, bytes) in stores.files.iter().zip(contents) {
        if file.kind != Kind::Group {
            continue;
        }
        for g in group::all(bytes) {
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
    for (file, bytes) in stores.files.iter().zip(contents) {
        if file.kind != Kind::Passwd {
            continue;
        }
        let entries: Vec<_> = crate::formats::colon::lines(bytes)
            .filter(|l| l.is_entry())
            .filter_map(|l| passwd::parse(&l).ok())
            .collect();
        if entries.iter().any(|e| e.name == crate::cli::DEFAULT_USER) {
            push(crate::cli::DEFAULT_USER);
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

/// Run every check for `users` (which must exist). `cloud_key`: the label's key, already
/// normalised (upper case, letters and digits only).
pub fn run(
    root: &Root,
    stores: &Stores,
    contents: &[Vec<u8>],
    users: &[String],
    cloud_key: Option<&[u8]>,
) -> Result<Report> {
    let audited: Vec<Audited> = users
        .iter()
        .map(|u| Audited {
            state: account::state(stores, contents, u),
        })
        .collect();
    let mut findings = Vec::new();
    let (adapters, _) = crate::info::adapters(root);
    for a in &audited {
        defaults::check(a, &adapters, cloud_key, &mut findings);
    }
    accounts::check(&audited, &mut findings);
    resets::check(root, &audited, &mut findings);
    files::check(root, stores, &mut findings);
    exposure::check(stores, contents, &mut findings);
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
            "the root has no /sys/class/net addresses: the MAC-address default (QTS 4.4.2 to 5.1) was not tested",
            "run audit on the NAS itself to test it",
        ));
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
