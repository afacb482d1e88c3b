//! `qrescue audit [USER…] [--cloud-key]`: read-only findings with a severity and a fix.
//! Exit 1 when any finding is high-severity.

use std::io::IsTerminal;

use serde::Serialize;
use zeroize::Zeroizing;

use super::common::{check_user, open_stores};
use super::output::{Outcome, Report, Text};
use super::password_input;
use super::vocab::in_root;
use crate::account;
use crate::audit;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::snapshot::Snapshot;
use crate::sys::root::Root;

/// The Cloud Key as QTS takes it for a password: upper case, letters and digits only
/// (`Q1234-5678` → `Q12345678`).
fn normalise_cloud_key(raw: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let key: Zeroizing<Vec<u8>> = Zeroizing::new(
        raw.iter()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(u8::to_ascii_uppercase)
            .collect(),
    );
    if key.is_empty() {
        return Err(Error::usage(
            "--cloud-key: the key has no letters or digits",
        ));
    }
    Ok(key)
}

/// From the terminal without echo, or one line of standard input when it is not a terminal.
/// `stdin_taken`: standard input holds something else (a password): ask on the terminal.
pub(crate) fn read_cloud_key(stdin_taken: bool) -> Result<Zeroizing<Vec<u8>>> {
    let pw = if stdin_taken || std::io::stdin().is_terminal() {
        password_input::ask_hidden("Cloud Key (from the label): ")?
    } else {
        password_input::from_stdin()?
    };
    normalise_cloud_key(pw.bytes())
}

/// One line per finding, then the summary.
fn human(report: &audit::Report) -> Vec<String> {
    let mut out: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{:<7} {}  {}: {} — fix: {}",
                f.severity.name(),
                f.id,
                f.subject(),
                f.message,
                f.fix
            )
        })
        .collect();
    let users = if report.users.is_empty() {
        "none found".to_string()
    } else {
        report.users.join(", ")
    };
    out.push(format!(
        "{} finding{}: {} high, {} medium, {} low, {} info (accounts checked: {users})",
        report.findings.len(),
        if report.findings.len() == 1 { "" } else { "s" },
        report.high,
        report.medium,
        report.low,
        report.info
    ));
    out
}

pub fn run(ctx: &Context, users: &[String], cloud_key: bool) -> Result<Outcome> {
    for u in users {
        check_user(u)?;
    }
    let mut stores = open_stores(ctx)?;
    // Every smbpasswd a Samba here could read, not only the one smb.conf names.
    stores.add_every_smbpasswd(&ctx.root);
    let snapshot = Snapshot::read(&stores)?;
    let users = if users.is_empty() {
        crate::account::default_users(&snapshot)
    } else {
        for u in users {
            account::require_user(&snapshot, u)?;
        }
        users.to_vec()
    };
    let key = if cloud_key {
        Some(read_cloud_key(false)?)
    } else {
        None
    };
    let report = audit::run(
        &ctx.root,
        &snapshot,
        &users,
        key.as_deref().map(|k| &k[..]),
        ctx.invocation(),
    )?;
    drop(key);
    let code = if report.high > 0 { 1 } else { 0 };
    Ok(Outcome::code(AuditReport::new(&ctx.root, report), code))
}

/// `audit`'s document: `audit::Report` in the vocabulary (`in_root` beside each finding's
/// `path`, `stores_in_root` beside its `stores`).
pub struct AuditReport {
    report: audit::Report,
    findings: Vec<FindingDoc>,
}

#[derive(Serialize)]
struct FindingDoc {
    severity: audit::Severity,
    id: &'static str,
    user: Option<String>,
    path: Option<String>,
    in_root: Option<String>,
    stores: Vec<String>,
    stores_in_root: Vec<String>,
    message: String,
    fix: String,
}

#[derive(Serialize)]
struct AuditView<'a> {
    root: &'a str,
    users: &'a [String],
    cloud_key_checked: bool,
    findings: &'a [FindingDoc],
    high: usize,
    medium: usize,
    low: usize,
    info: usize,
}

impl AuditReport {
    fn new(root: &Root, report: audit::Report) -> AuditReport {
        let findings = report
            .findings
            .iter()
            .map(|f| FindingDoc {
                severity: f.severity,
                id: f.id,
                user: f.user.clone(),
                path: f.path.clone(),
                in_root: f.path.as_deref().map(|p| in_root(root, p)),
                stores: f.stores.clone(),
                stores_in_root: f.stores.iter().map(|p| in_root(root, p)).collect(),
                message: f.message.clone(),
                fix: f.fix.clone(),
            })
            .collect();
        AuditReport { report, findings }
    }
}

impl Serialize for AuditReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let r = &self.report;
        AuditView {
            root: &r.root,
            users: &r.users,
            cloud_key_checked: r.cloud_key_checked,
            findings: &self.findings,
            high: r.high,
            medium: r.medium,
            low: r.low,
            info: r.info,
        }
        .serialize(s)
    }
}

impl Report for AuditReport {
    fn render_text(&self, out: &mut Text) {
        for line in human(&self.report) {
            out.line(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_key_form() {
        assert_eq!(
            &normalise_cloud_key(b"q1234-5678").unwrap()[..],
            b"Q12345678"
        );
        assert_eq!(
            &normalise_cloud_key(b" Q1234 5678 ").unwrap()[..],
            b"Q12345678"
        );
        assert!(normalise_cloud_key(b"--").is_err());
    }
}
