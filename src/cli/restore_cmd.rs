//! `qrescue restore ID [--user NAME]`: put a backup set back, in one transaction (which backs
//! up the current state first, so a restore can itself be undone). Whole files by default,
//! which also reverts every other account's later changes (said before and after); with
//! `--user`, only that account's entries, edited into today's files.

use std::collections::BTreeSet;

use super::common::{check_user, open_stores};
use crate::backup;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::restore_user;
use crate::snapshot::Edit;
use crate::txn;

pub fn run(ctx: &Context, id: &str, user: Option<&str>, dry_run: bool) -> Result<i32> {
    if let Some(u) = user {
        check_user(u)?;
    }
    crate::logging::init(crate::logging::SyslogFacility::LOG_AUTH, false);
    let stores = open_stores(ctx)?;
    let (manifest, contents) = backup::load(&ctx.root, id)?;
    // Map each backed-up file to a current store by its real path.
    let mut targets = Vec::new();
    for (bf, bytes) in manifest.files.iter().zip(&contents) {
        let idx = stores
            .files
            .iter()
            .position(|f| f.real.to_string_lossy() == bf.path)
            .ok_or_else(|| {
                Error::data(format!(
                    "backup {id} holds {}, which is not a credential store of this root now",
                    bf.path
                ))
            })?;
        targets.push((idx, bytes));
    }
    if let Some(u) = user
        && !targets.iter().any(|(idx, bytes)| {
            stores.files[*idx].kind != crate::stores::Kind::Group
                && !matches!(
                    crate::formats::colon::find(bytes, u),
                    crate::formats::colon::Lookup::Missing
                )
        })
    {
        return Err(Error::no_user(format!(
            "backup {id} holds no entry for {u}: nothing to restore"
        )));
    }
    // What the restore would write, from today's files (re-planned under the locks).
    let planned = |current: &dyn Fn(usize) -> Result<Vec<u8>>| -> Result<Vec<(usize, Vec<u8>)>> {
        let mut out = Vec::new();
        for (idx, bytes) in &targets {
            let f = &stores.files[*idx];
            let now = current(*idx)?;
            let new = match user {
                None => (now != **bytes).then(|| (*bytes).clone()),
                Some(u) => restore_user::merge(f.kind, &now, bytes, u, &f.display)?,
            };
            if let Some(new) = new {
                out.push((*idx, new));
            }
        }
        Ok(out)
    };
    // Accounts whose entries the restore changes, and in which files.
    let read_now = |idx: usize| stores.files[idx].read().map(|(b, _)| b);
    let plan_now = planned(&read_now)?;
    let mut accounts = BTreeSet::new();
    for (idx, new) in &plan_now {
        let f = &stores.files[*idx];
        accounts.extend(restore_user::accounts_differing(
            f.kind,
            &read_now(*idx)?,
            new,
        ));
    }
    // Accounts other than the one the backup was taken for (`before passwd USER`); when it
    // names none, every account the whole-file restore changes.
    let intended = manifest.reason.strip_prefix("before passwd ");
    let others: Vec<&String> = match user {
        Some(_) => Vec::new(),
        None => accounts
            .iter()
            .filter(|a| !a.starts_with("group ") && Some(a.as_str()) != intended)
            .collect(),
    };
    let accounts_list = accounts.iter().cloned().collect::<Vec<_>>().join(", ");
    let others_list = others
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if dry_run {
        let files: Vec<&str> = plan_now
            .iter()
            .map(|(i, _)| stores.files[*i].display.as_str())
            .collect();
        if ctx.json {
            super::print_json(&serde_json::json!({
                "dry_run": true, "id": id, "user": user,
                "would_change": files, "accounts": accounts,
            }))?;
        } else {
            let mut text = format!(
                "Dry run: restoring {id}{} would change {} file(s):\n",
                user.map(|u| format!(" for {u}")).unwrap_or_default(),
                files.len()
            );
            for d in &files {
                text.push_str(&format!("  {d}\n"));
            }
            if !accounts.is_empty() {
                text.push_str(&format!("Entries that would change: {accounts_list}\n"));
            }
            if !others.is_empty() {
                text.push_str(&format!(
                    "warning: whole files also revert later changes of {others_list}; \
                     --user NAME restores one account only\n"
                ));
            }
            text.push_str("Nothing was changed.\n");
            super::print_text(&text)?;
        }
        return Ok(0);
    }
    if !others.is_empty() && !ctx.json {
        eprintln!(
            "{}",
            crate::escape::line(&format!(
                "qrescue: warning: restoring whole files also reverts later changes of {others_list} \
                 (--user NAME restores one account only)"
            ))
        );
    }
    let reason = match user {
        None => format!("before restore {id}"),
        Some(u) => format!("before restore {id} --user {u}"),
    };
    let mut announced = false;
    let outcome = txn::run(
        &ctx.root,
        &stores,
        &reason,
        |snapshot| {
            let edits = planned(&|i| Ok(snapshot.files[i].bytes.clone()))?;
            Ok(edits
                .into_iter()
                .map(|(idx, new)| Edit {
                    file: snapshot.files[idx].file,
                    new,
                })
                .collect())
        },
        |_, _| Ok(()),
        // The backup of the state before the restore (to undo it) is shown before the
        // restore is committed: if it cannot be written, nothing changes.
        |preview| {
            announced = true;
            if ctx.json {
                return super::print_json(
                    &serde_json::json!({"id": id, "user": user, "changed": preview.changing, "accounts": accounts, "backup": preview.backup_id, "recovered": preview.recovered}),
                );
            }
            let mut text = String::new();
            for r in preview.recovered {
                text.push_str(&format!("note: {r}\n"));
            }
            text.push_str(&format!(
                "The state before the restore is in backup {} (undo with: {} restore {}).\n",
                preview.backup_id,
                ctx.invocation(),
                preview.backup_id
            ));
            super::print_text(&text)
        },
    )?;
    log::info!(
        "backup {id} restored{} by {} into {} (previous state in backup {})",
        user.map(|u| format!(" for {u}")).unwrap_or_default(),
        backup::operator(&ctx.root),
        outcome.changed.join(", "),
        outcome.backup_id.as_deref().unwrap_or("none")
    );
    let printed = if ctx.json && announced {
        Ok(())
    } else if ctx.json {
        super::print_json(&serde_json::json!({
            "id": id, "user": user, "changed": outcome.changed, "accounts": accounts,
            "backup": outcome.backup_id, "recovered": outcome.recovered,
        }))
    } else {
        let mut text = String::new();
        if !announced {
            for r in &outcome.recovered {
                text.push_str(&format!("note: {r}\n"));
            }
        }
        if outcome.changed.is_empty() {
            text.push_str(&format!(
                "Nothing to restore: {} already matches backup {id}.\n",
                user.map_or("every file".to_string(), |u| format!("{u}'s entries"))
            ));
        } else {
            text.push_str(&format!(
                "Restored backup {id}{} into:\n",
                user.map(|u| format!(" for {u}")).unwrap_or_default()
            ));
            for c in &outcome.changed {
                text.push_str(&format!("  {c}\n"));
            }
        }
        super::print_text(&text)
    };
    printed.map_err(|e| {
        e.context(format!(
            "backup {id} was restored (the state before it is in backup {}), but the summary could not be printed",
            outcome.backup_id.as_deref().unwrap_or("none")
        ))
    })?;
    Ok(0)
}
