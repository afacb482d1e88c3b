//! `qrescue restore ID`: put a backup set back, in one transaction (which backs up the
//! current state first, so a restore can itself be undone).

use super::common::open_stores;
use crate::backup;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::txn;

pub fn run(ctx: &Context, id: &str, dry_run: bool) -> Result<i32> {
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
    if dry_run {
        let mut differ = Vec::new();
        for (idx, bytes) in &targets {
            let f = &stores.files[*idx];
            if f.read()?.0 != **bytes {
                differ.push(f.display.clone());
            }
        }
        if ctx.json {
            super::print_json(
                &serde_json::json!({"dry_run": true, "id": id, "would_change": differ}),
            )?;
        } else {
            crate::say!(
                "Dry run: restoring {id} would change {} file(s):",
                differ.len()
            );
            for d in &differ {
                crate::say!("  {d}");
            }
            crate::say!("Nothing was changed.");
        }
        return Ok(0);
    }
    let outcome = txn::run(
        &ctx.root,
        &stores,
        &format!("before restore {id}"),
        |files, _current| {
            let mut plan = vec![None; files.len()];
            for (idx, bytes) in &targets {
                plan[*idx] = Some((*bytes).clone());
            }
            Ok(plan)
        },
        |_, _| Ok(()),
    )?;
    log::info!(
        "backup {id} restored by {} into {} (previous state in backup {})",
        backup::operator(&ctx.root),
        outcome.changed.join(", "),
        outcome.backup_id.as_deref().unwrap_or("none")
    );
    if ctx.json {
        super::print_json(
            &serde_json::json!({"id": id, "changed": outcome.changed, "backup": outcome.backup_id, "recovered": outcome.recovered}),
        )?;
    } else {
        for r in &outcome.recovered {
            crate::say!("note: {r}");
        }
        if outcome.changed.is_empty() {
            crate::say!("Nothing to restore: every file already matches backup {id}.");
        } else {
            crate::say!("Restored backup {id} into:");
            for c in &outcome.changed {
                crate::say!("  {c}");
            }
            let b = outcome.backup_id.as_deref().unwrap_or("none");
            crate::say!("The state before the restore is in backup {b}.");
        }
    }
    Ok(0)
}
