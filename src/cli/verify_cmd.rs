//! `qrescue verify`: exit 0 if the password matches every store, 1 if not.

use serde::Serialize;

use super::common::{check_user, open_stores};
use super::output::{Outcome, Report, Text, table};
use super::vocab::in_root;
use super::{DEFAULT_USER, password_input};
use crate::account;
use crate::context::Context;
use crate::error::Result;
use crate::snapshot::Snapshot;
use crate::stores::Kind;

/// `verify`'s document.
#[derive(Serialize)]
pub struct VerifyReport {
    user: String,
    #[serde(rename = "match")]
    matches: bool,
    stores: Vec<VerifyDoc>,
    #[serde(skip)]
    invocation: String,
}

/// One store's verdict (`account::VerifyResult` in the vocabulary).
#[derive(Serialize)]
struct VerifyDoc {
    path: String,
    in_root: String,
    kind: Kind,
    result: String,
    ok: bool,
    /// The entry is locked (the hint then names `--unlock`); not in the document.
    #[serde(skip)]
    locked: bool,
}

pub fn run(ctx: &Context, user: Option<&str>, password_stdin: bool) -> Result<Outcome> {
    let user = user.unwrap_or(DEFAULT_USER);
    check_user(user)?;
    let stores = open_stores(ctx)?;
    let snapshot = Snapshot::read(&stores)?;
    account::require_user(&snapshot, user)?;
    let password = if password_stdin {
        password_input::from_stdin()?
    } else {
        password_input::ask_existing(user)?
    };
    let results = account::verify_all(&snapshot, user, password.bytes())?;
    let ok = !results.is_empty() && results.iter().all(|r| r.ok);
    let report = VerifyReport {
        user: user.to_string(),
        matches: ok,
        stores: results
            .into_iter()
            .map(|r| VerifyDoc {
                in_root: in_root(&ctx.root, &r.path),
                path: r.path,
                kind: r.kind,
                result: r.result,
                ok: r.ok,
                locked: r.locked,
            })
            .collect(),
        invocation: ctx.invocation().to_string(),
    };
    Ok(Outcome::code(report, if ok { 0 } else { 1 }))
}

impl Report for VerifyReport {
    fn render_text(&self, out: &mut Text) {
        let rows: Vec<Vec<String>> = self
            .stores
            .iter()
            .map(|r| vec![r.path.clone(), r.kind.name().to_string(), r.result.clone()])
            .collect();
        for line in table("", &[], &rows) {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(
            out,
            "{}",
            if self.matches {
                "OK: the password matches every store"
            } else {
                "MISMATCH: the password does not match every store"
            }
        );
        if !self.matches {
            let unlock = if self.stores.iter().any(|r| r.locked) {
                " --unlock"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "To set a new password in every store: {} passwd {}{unlock}",
                self.invocation,
                crate::context::shell_quote(&self.user)
            );
        }
    }
}
