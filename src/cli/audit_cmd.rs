//! `qrescue audit [USER…] [--cloud-key]`: read-only findings with a severity and a fix.
//! Exit 1 when any finding is high-severity.

use std::io::IsTerminal;

use zeroize::Zeroizing;

use super::common::{check_user, open_stores};
use super::password_input;
use crate::account;
use crate::audit;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::snapshot::Snapshot;

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
            crate::escape::line(&format!(
                "{:<7} {}  {}: {} — fix: {}",
                f.severity.name(),
                f.id,
                f.subject(),
                f.message,
                f.fix
            ))
            .into_owned()
        })
        .collect();
    let users = if report.users.is_empty() {
        "none found".to_string()
    } else {
        report.users.join(", ")
    };
    out.push(
        crate::escape::line(&format!(
            "{} finding{}: {} high, {} medium, {} low, {} info (accounts checked: {users})",
            report.findings.len(),
            if report.findings.len() == 1 { "" } else { "s" },
            report.high,
            report.medium,
            report.low,
            report.info
        ))
        .into_owned(),
    );
    out
}

pub fn run(ctx: &Context, users: &[String], cloud_key: bool) -> Result<i32> {
    for u in users {
        check_user(u)?;
    }
    let mut stores = open_stores(ctx)?;
    // Every smbpasswd a Samba here could read, not only the one smb.conf names.
    stores.add_every_smbpasswd(&ctx.root);
    let snapshot = Snapshot::read(&stores)?;
    let users = if users.is_empty() {
        audit::default_users(&snapshot)
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
    if ctx.json {
        super::print_json(&report)?;
    } else {
        super::print_text(&(human(&report).join("\n") + "\n"))?;
    }
    Ok(if report.high > 0 { 1 } else { 0 })
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
