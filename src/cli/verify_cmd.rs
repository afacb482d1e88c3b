//! `qrescue verify`: exit 0 if the password matches every store, 1 if not.

use super::common::{check_user, open_stores};
use super::{DEFAULT_USER, password_input};
use crate::account;
use crate::context::Context;
use crate::error::Result;
use crate::snapshot::Snapshot;

pub fn run(ctx: &Context, user: Option<&str>, password_stdin: bool) -> Result<i32> {
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
    if ctx.json {
        super::print_json(&serde_json::json!({"user": user, "match": ok, "stores": results}))?;
    } else {
        for r in &results {
            crate::say!("{:<40} {:<10} {}", r.path, r.kind.name(), r.result);
        }
        crate::say!(
            "{}",
            if ok {
                "OK: the password matches every store"
            } else {
                "MISMATCH: the password does not match every store"
            }
        );
        if !ok {
            let unlock = if results.iter().any(|r| r.result.contains("locked")) {
                " --unlock"
            } else {
                ""
            };
            crate::say!(
                "To set a new password in every store: {} passwd {}{unlock}",
                ctx.invocation(),
                crate::context::shell_quote(user)
            );
        }
    }
    Ok(if ok { 0 } else { 1 })
}
