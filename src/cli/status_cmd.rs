//! `qrescue status [USER]`: the account in every store, whether the copies agree, and any
//! leftovers of an interrupted change (explained, and cleaned when provably stale).

use std::time::Duration;

use serde::Serialize;

use super::DEFAULT_USER;
use super::common::{check_user, open_stores};
use crate::account;
use crate::context::Context;
use crate::error::Result;
use crate::leftovers;
use crate::snapshot::Snapshot;
use crate::stores::Kind;
use crate::sys::root::Root;
use crate::txn;

use super::output::{Outcome, Report, Text, table};
use super::vocab::{SambaDoc, day_ms, in_root, time_ms};

pub fn run(ctx: &Context, user: Option<&str>) -> Result<Outcome> {
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
        Err(e) => notes.push(format!("not checking for leftovers: {}", e)),
    }
    let snapshot = Snapshot::read(&stores)?;
    account::require_user(&snapshot, user)?;
    let state = account::state(&snapshot, user);
    Ok(Outcome::ok(StatusReport {
        root: ctx.root.path().display().to_string(),
        qts: stores.qts,
        account: AccountDoc::new(&ctx.root, state),
        samba: SambaDoc::new(&ctx.root, &stores.samba, None),
        samba_basis: stores.samba_basis.clone(),
        recovered,
        leftovers: found
            .into_iter()
            .map(|l| LeftoverDoc {
                in_root: in_root(&ctx.root, &l.path),
                path: l.path,
                what: l.what,
                removed: l.removed,
            })
            .collect(),
        notes,
        invocation: ctx.invocation().to_string(),
    }))
}

/// `status`'s document.
#[derive(Serialize)]
pub struct StatusReport {
    root: String,
    qts: bool,
    account: AccountDoc,
    samba: SambaDoc,
    samba_basis: Option<String>,
    recovered: Vec<String>,
    leftovers: Vec<LeftoverDoc>,
    notes: Vec<String>,
    #[serde(skip)]
    invocation: String,
}

#[derive(Serialize)]
struct AccountDoc {
    user: String,
    exists: bool,
    uid: Option<u32>,
    groups: Vec<String>,
    administrator: bool,
    stores: Vec<StoreDoc>,
    agree: bool,
}

/// One store's view of the account (`account::StoreState` in the vocabulary).
#[derive(Serialize)]
struct StoreDoc {
    path: String,
    in_root: String,
    kind: Kind,
    names: Vec<String>,
    persistent: bool,
    present: bool,
    scheme: Option<String>,
    /// The day of the last password change (shadow field 3), at midnight UTC.
    last_change: Option<String>,
    last_change_unix_ms: Option<u64>,
    locked: bool,
    disabled: bool,
    no_password: bool,
    problem: Option<String>,
}

#[derive(Serialize)]
struct LeftoverDoc {
    path: String,
    in_root: String,
    what: String,
    removed: bool,
}

impl AccountDoc {
    fn new(root: &Root, state: account::AccountState) -> AccountDoc {
        let stores = state
            .stores
            .into_iter()
            .map(|s| {
                let ms = s.last_change.as_deref().and_then(day_ms);
                StoreDoc {
                    in_root: in_root(root, &s.path),
                    path: s.path,
                    kind: s.kind,
                    names: s.names,
                    persistent: s.persistent,
                    present: s.present,
                    scheme: s.scheme,
                    last_change: ms.map(time_ms),
                    last_change_unix_ms: ms,
                    locked: s.locked,
                    disabled: s.disabled,
                    no_password: s.no_password,
                    problem: s.problem,
                }
            })
            .collect();
        AccountDoc {
            user: state.user,
            exists: state.exists,
            uid: state.uid,
            groups: state.groups,
            administrator: state.administrator,
            stores,
            agree: state.agree,
        }
    }
}

impl Report for StatusReport {
    fn render_text(&self, out: &mut Text) {
        let state = &self.account;
        for r in &self.recovered {
            let _ = writeln!(out, "note: {r}");
        }
        let groups = if state.groups.is_empty() {
            "none".to_string()
        } else {
            state.groups.join(", ")
        };
        let _ = writeln!(
            out,
            "{} (uid {}, groups: {groups}){}",
            state.user,
            state.uid.map_or("?".into(), |u| u.to_string()),
            if state.administrator {
                ", administrator"
            } else {
                ""
            }
        );
        let mut rows = vec![
            ["store", "kind", "copy", "scheme", "last change", "state"]
                .map(String::from)
                .to_vec(),
        ];
        let mut problems = vec![None];
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
            rows.push(vec![
                s.path.clone(),
                s.kind.name().to_string(),
                copy.to_string(),
                s.scheme.clone().unwrap_or_else(|| "-".into()),
                s.last_change
                    .as_deref()
                    .map_or("-".to_string(), |t| t[..10].to_string()),
                flags.join(", "),
            ]);
            problems.push(s.problem.as_deref());
        }
        for (line, problem) in table("  ", &[], &rows).iter().zip(&problems) {
            let _ = writeln!(out, "{line}");
            if let Some(p) = problem {
                let _ = writeln!(out, "    problem: {p}");
            }
        }
        let _ = writeln!(
            out,
            "  copies agree: {}",
            if state.agree { "yes" } else { "NO" }
        );
        if state.stores.iter().any(|s| s.locked || s.disabled) {
            let _ = writeln!(
                out,
                "  locked or disabled: passwd keeps that; to enable the account with a new password: {} passwd {} --unlock",
                self.invocation,
                crate::context::shell_quote(&state.user)
            );
        }
        let samba = &self.samba;
        // Named inside the root, as smb.conf names them.
        let config = samba.config_in_root.as_deref().unwrap_or("");
        let _ = match samba.kind {
            "smbpasswd" => writeln!(
                out,
                "  samba: smbpasswd file {} (from {config})",
                samba.in_root.as_deref().unwrap_or("")
            ),
            "other" => writeln!(
                out,
                "  samba: passdb backend {} (from {config}): not written by qrescue, use the box's smbpasswd",
                samba.backend.as_deref().unwrap_or("")
            ),
            _ => writeln!(out, "  samba: no smb.conf found"),
        };
        if let Some(basis) = &self.samba_basis {
            let _ = writeln!(out, "  samba basis: {basis}");
        }
        for l in &self.leftovers {
            let _ = writeln!(
                out,
                "  leftover: {} — {}{}",
                l.path,
                l.what,
                if l.removed { " (removed)" } else { "" }
            );
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
    }
}
