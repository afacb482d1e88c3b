//! `qrescue status [USER]`: the account in every store, whether the copies agree, and any
//! leftovers of an interrupted change (explained, and cleaned when provably stale).

use std::time::Duration;

use super::DEFAULT_USER;
use super::common::{check_user, open_stores};
use crate::account;
use crate::context::Context;
use crate::error::Result;
use crate::leftovers;
use crate::snapshot::Snapshot;
use crate::stores::Samba;
use crate::txn;

pub fn run(ctx: &Context, user: Option<&str>) -> Result<i32> {
    let user = user.unwrap_or(DEFAULT_USER);
    check_user(user)?;
    let stores = open_stores(ctx)?;
    let mut notes = Vec::new();
    let mut recovered = Vec::new();
    let mut found = Vec::new();
    match txn::Locks::take_within(&ctx.root, &stores, Duration::from_secs(2)) {
        Ok(locks) => {
            let locked = locks.recover()?;
            recovered = locked.recovered().to_vec();
            found = leftovers::sweep(&ctx.root, &stores, true);
        }
        Err(e) => notes.push(format!("not checking for leftovers: {}", e.message)),
    }
    let snapshot = Snapshot::read(&stores)?;
    account::require_user(&snapshot, user)?;
    let state = account::state(&snapshot, user);
    if ctx.json {
        super::print_json(&serde_json::json!({
            "root": ctx.root.path(),
            "qts": stores.qts,
            "account": state,
            "samba": stores.samba,
            "samba_basis": stores.samba_basis,
            "recovered": recovered,
            "leftovers": found,
            "notes": notes,
        }))?;
        return Ok(0);
    }
    for r in &recovered {
        crate::say!("note: {r}");
    }
    let groups = if state.groups.is_empty() {
        "none".to_string()
    } else {
        state.groups.join(", ")
    };
    crate::say!(
        "{} (uid {}, groups: {groups}){}",
        state.user,
        state.uid.map_or("?".into(), |u| u.to_string()),
        if state.administrator {
            ", administrator"
        } else {
            ""
        }
    );
    crate::say!(
        "  {:<36} {:<9} {:<10} {:<18} {:<20} state",
        "store",
        "kind",
        "copy",
        "scheme",
        "last change"
    );
    for s in &state.stores {
        let copy = if s.persistent {
            "persistent"
        } else {
            "runtime"
        };
        let mut flags = Vec::new();
        if !s.present {
            flags.push("absent");
        }
        if s.locked {
            flags.push("locked");
        }
        if s.disabled {
            flags.push("disabled");
        }
        if s.no_password {
            flags.push("no password");
        }
        if flags.is_empty() {
            flags.push("ok");
        }
        crate::say!(
            "  {:<36} {:<9} {:<10} {:<18} {:<20} {}",
            s.path,
            s.kind.name(),
            copy,
            s.scheme.as_deref().unwrap_or("-"),
            s.last_change.as_deref().unwrap_or("-"),
            flags.join(", ")
        );
        if let Some(p) = &s.problem {
            crate::say!("    problem: {p}");
        }
    }
    crate::say!("  copies agree: {}", if state.agree { "yes" } else { "NO" });
    if state.stores.iter().any(|s| s.locked || s.disabled) {
        crate::say!(
            "  locked or disabled: passwd keeps that; to enable the account with a new password: {} passwd {} --unlock",
            ctx.invocation(),
            crate::context::shell_quote(&state.user)
        );
    }
    match &stores.samba {
        Samba::None => crate::say!("  samba: no smb.conf found"),
        Samba::Smbpasswd { config, path } => {
            crate::say!("  samba: smbpasswd file {path} (from {config})")
        }
        Samba::Other { config, backend } => {
            crate::say!(
                "  samba: passdb backend {backend} (from {config}): not written by qrescue, use the box's smbpasswd"
            )
        }
    }
    if let Some(basis) = &stores.samba_basis {
        crate::say!("  samba basis: {basis}");
    }
    for l in &found {
        crate::say!(
            "  leftover: {} — {}{}",
            l.path,
            l.what,
            if l.removed { " (removed)" } else { "" }
        );
    }
    for n in &notes {
        crate::say!("  note: {n}");
    }
    Ok(0)
}
