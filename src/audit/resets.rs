//! Reset-button holds since the last password change, from the watcher's journal.
//!
//! A basic reset (≥ 3 s) puts the admin password back to the factory default; an advanced
//! reset (≥ 10 s) restores every setting and deletes users and groups. The last change of
//! an account is the newest of: the shadow file's last-change day, Samba's LCT (seconds),
//! and the time of a qrescue backup taken for `passwd USER` or a `restore`. When only the
//! day is known, a hold on that same day counts as before the change (the usual order is
//! reset, then a new password).
//!
//! The strongest signal comes from the credential-store watch: a `factory-default` change
//! of the account after the last change qrescue made (a reset left the factory password
//! behind, whatever pressed it). It is reported as such, in place of the button's.

use super::{Audited, Finding, Remedy, Severity};
use crate::backup;
use crate::clock;
use crate::stores::Kind;
use crate::sys::root::Root;
use crate::watch::classify::Class;
use crate::watch::journal;
use crate::watch::source::SourceKind;
use crate::watch::state::{CredClass, CredEvent, Seen};

const DAY_MS: u64 = 86_400_000;

/// The last change of the account in Unix milliseconds, if any store or backup tells.
fn last_change_ms(a: &Audited, backups: &[(backup::Reason, u64)]) -> Option<u64> {
    let user = &a.state.user;
    let mut day_start = None;
    let mut precise: Option<u64> = None;
    for s in a.state.stores.iter().filter(|s| s.present) {
        let Some(t) = s.last_change.as_deref().and_then(clock::parse_time) else {
            continue;
        };
        match s.kind {
            Kind::Shadow => day_start = day_start.max(Some(t * 1000)),
            Kind::Smbpasswd => precise = precise.max(Some(t * 1000)),
            _ => {}
        }
    }
    for (reason, unix) in backups {
        if reason.changed_account(user) {
            precise = precise.max(Some(unix * 1000));
        }
    }
    match (day_start, precise) {
        (Some(d), Some(p)) if p >= d => Some(p),
        (Some(d), _) => Some(d + DAY_MS - 1),
        (None, p) => p,
    }
}

/// A `factory-default` credential change of each account after qrescue's last change of it
/// (its backups and `qrescue`-class records): one finding per account, returned by user.
fn factory_resets(root: &Root, audited: &[Audited], findings: &mut Vec<Finding>) -> Vec<String> {
    let Ok((creds, _)) = crate::watch::state::read_records(root) else {
        return Vec::new();
    };
    let backups: Vec<(backup::Reason, u64)> = backup::list(root)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| l.manifest.map(|m| (m.reason, m.created_unix)))
        .collect();
    let mut users = Vec::new();
    for a in audited.iter().filter(|a| a.state.exists) {
        let user = a.state.user.as_str();
        let mine = || {
            creds
                .iter()
                .filter(move |r| r.user == user && r.event == CredEvent::CredentialChange)
        };
        let last_qrescue =
            mine()
                .filter(|r| r.class == Some(CredClass::Qrescue.into()))
                .map(|r| r.unix_ms)
                .chain(backups.iter().filter_map(|(reason, unix)| {
                    reason.changed_account(user).then_some(unix * 1000)
                }))
                .max()
                .unwrap_or(0);
        let Some(r) = mine()
            .filter(|r| {
                r.class == Some(CredClass::FactoryDefault.into()) && r.unix_ms > last_qrescue
            })
            .max_by_key(|r| r.unix_ms)
        else {
            continue;
        };
        let when = if r.seen == Seen::AtStart {
            format!("found when the watcher started at {}", r.time)
        } else {
            format!("at {}", r.time)
        };
        findings.push(Finding::new(
            Severity::High,
            "reset-since-change",
            Some(user),
            None,
            format!(
                "the password was reset to a factory default ({when}, in {}) after the last change qrescue made: the strongest sign of a reset (button or \"restore factory defaults\")",
                r.stores.join(", ")
            ),
            format!("set a new password now: qrescue passwd {user}"),
        )
            .remedy(Remedy::SetPassword));
        users.push(user.to_string());
    }
    users
}

pub fn check(root: &Root, audited: &[Audited], findings: &mut Vec<Finding>) {
    let reset_users = factory_resets(root, audited, findings);
    let records = match journal::read_all(root) {
        Ok((c, _)) => c.records,
        // An unsafe state directory is refused (and reported by the permission checks).
        Err(e) => {
            findings.push(Finding::new(
                Severity::Info,
                "journal-unreadable",
                None,
                None,
                format!(
                    "the reset-button journal was not read ({}): resets since the last change were not checked",
                    e
                ),
                "fix the state directory's permissions (see unsafe-permissions), then audit again",
            ));
            return;
        }
    };
    let resets: Vec<&journal::Record> = records
        .iter()
        // A replayed capture is a test, not a press on this box, wherever it was written.
        .filter(|r| r.source != SourceKind::Replay)
        .filter(|r| r.class == Class::BasicReset || r.class == Class::AdvancedReset)
        .filter(|r| {
            matches!(
                r.event.known(),
                Some(journal::Event::Hold | journal::Event::Unfinished | journal::Event::Threshold)
            )
        })
        .collect();
    if resets.is_empty() {
        return;
    }
    let backups: Vec<(backup::Reason, u64)> = backup::list(root)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| l.manifest.map(|m| (m.reason, m.created_unix)))
        .collect();
    for a in audited.iter().filter(|a| a.state.exists) {
        let user = a.state.user.as_str();
        if reset_users.iter().any(|u| u == user) {
            continue;
        }
        let since = last_change_ms(a, &backups).unwrap_or(0);
        let newer: Vec<&&journal::Record> = resets.iter().filter(|r| r.unix_ms > since).collect();
        // Advanced resets touch every account; basic ones only admin's password.
        let pick = newer
            .iter()
            .filter(|r| r.class == Class::AdvancedReset)
            .max_by_key(|r| r.unix_ms)
            .or_else(|| {
                (user == crate::account::DEFAULT_USER)
                    .then(|| newer.iter().max_by_key(|r| r.unix_ms))
                    .flatten()
            });
        let Some(r) = pick else { continue };
        let advanced = r.class == Class::AdvancedReset;
        let when = if since == 0 {
            "and no password change is recorded".to_string()
        } else {
            format!(
                "after the last password change ({})",
                journal::rfc3339_ms(since)
            )
        };
        findings.push(
            Finding::new(
                if advanced {
                    Severity::High
                } else {
                    Severity::Medium
                },
                "reset-since-change",
                Some(user),
                None,
                format!(
                    "the reset button was held {:.1} s ({}) at {} {when}: {}",
                    r.held_ms as f64 / 1000.0,
                    r.class,
                    journal::rfc3339_ms(r.unix_ms),
                    if advanced {
                        "settings are back to factory defaults and users may be gone"
                    } else {
                        "the admin password may be the factory default again"
                    }
                ),
                format!("check the box's settings and set a new password: qrescue passwd {user}"),
            )
            .remedy(Remedy::SetPassword),
        );
    }
}
